// SPDX-License-Identifier: Apache-2.0
// Writes the reference vectors for tests/serving/bucketing_test.cpp from the real JavaScript SDKs:
// GrowthBook's hash/getBucketRanges/getEqualWeights/inNamespace (@growthbook/growthbook), the
// murmur3 x86 32-bit implementation the Unleash client specification uses (murmurhash3js), and
// unleash-client-node's own normalized values (unleash-client, lib/strategy/util.js).
//
// Usage (see update_hash_vectors.sh, which installs the packages into a temporary folder):
//   node update_hash_vectors.cjs <node_modules folder> <tests/data folder>
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const [modules, dataDir] = process.argv.slice(2);
process.env.NODE_ENV = "production";  // keeps getBucketRanges from logging the rejected inputs
if (!modules || !dataDir) {
  console.error("usage: node update_hash_vectors.cjs <node_modules> <tests/data>");
  process.exit(2);
}
const gbPackage = path.join(modules, "@growthbook", "growthbook");
const gb = require(path.join(gbPackage, "dist", "cjs", "util.js"));
const gbVersion = require(path.join(gbPackage, "package.json")).version;
const murmur = require(path.join(modules, "murmurhash3js"));
const murmurVersion = require(path.join(modules, "murmurhash3js", "package.json")).version;
const unleashNode = require(path.join(modules, "unleash-client", "lib", "strategy", "util.js"));
const unleashNodeVersion = require(path.join(modules, "unleash-client", "package.json")).version;

// A small deterministic generator (xorshift32) so that reruns produce the same files.
let state = 0x2545f491;
function next() {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
}
const utf8 = (s) => Buffer.from(s, "utf8").toString("hex");
// What a JavaScript host gets from these bytes: the WHATWG UTF-8 decoder, U+FFFD for bad input.
const decode = (hex) => new TextDecoder("utf-8").decode(Buffer.from(hex, "hex"));

// Bytes weighted towards the awkward parts of UTF-8: lead bytes, continuations, bounds.
const interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                     0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xee, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xff];
function randomBytesHex(maxLen) {
  const n = next() % (maxLen + 1);
  const bytes = [];
  for (let i = 0; i < n; i++) {
    bytes.push(next() % 3 === 0 ? next() % 256 : interesting[next() % interesting.length]);
  }
  return Buffer.from(bytes).toString("hex");
}

// ----------------------------------------------------------------------------------------------
// GrowthBook
const texts = ["", "a", "user-42", "Hellø Wørld", "ümlaut", "你好", "φriend", "😊", "a😊b",
               "🌍🌎🌏", "Feature.UTF-8.😊_φriend_你好_🌍", "\u{10FFFF}", "\u{FFFF}", "\u{E000}",
               "x".repeat(300)];
const invalid = ["ff", "80", "c3", "c328", "e282", "e228a1", "eda080", "edbfbf", "f09f98",
                 "f09f9828", "c0af", "e080af", "f08080af", "f4908080", "f5", "fe", "c2", "61ff62",
                 "e2828228", "f0288c28"];

const hashVectors = [];
function addHash(seedHex, valueHex) {
  for (const version of [1, 2]) {
    hashVectors.push({seed_utf8_hex: seedHex, value_utf8_hex: valueHex, version,
                      expected: gb.hash(decode(seedHex), decode(valueHex), version)});
  }
}
for (const t of texts) {
  addHash(utf8("exp-1"), utf8(t));
  addHash(utf8(t), utf8("user-7"));
}
for (const hex of invalid) {
  addHash(utf8("exp-1"), hex);
  addHash(hex, utf8("user-7"));
}
for (let i = 0; i < 300; i++) addHash(randomBytesHex(6), randomBytesHex(10));

const namespaceVectors = [];
for (const id of ["1", "user-42", "Hellø", "😊", "c328"]) {
  for (const ns of ["namespace1", "φ", "🌍"]) {
    for (const [start, end] of [[0, 0.4], [0.4, 1], [0.25, 0.75]]) {
      const idHex = id === "c328" ? id : utf8(id);
      namespaceVectors.push({value_utf8_hex: idHex, namespace_utf8_hex: utf8(ns), start, end,
                             expected: gb.inNamespace(decode(idHex), [ns, start, end])});
    }
  }
}

const rangeInputs = [
  [2, 1, null], [3, 0.2, [0.2, 0.3, 0.5]], [3, 0.3, [0.1, 0.2, 0.7]], [5, 0.7, null],
  [7, 0.33, null], [3, 1, [0.333, 0.333, 0.334]], [2, 0.9999, [0.005, 0.995]], [10, 0.1, null],
  [4, 0.57, [0.1, 0.2, 0.3, 0.4]], [2, 1, [-0.5, 1.5]], [3, 0.9, [0.3, 0.3, 0.409]],
  [3, 0.9, [0.3, 0.3, 0.389]], [2, 0.05, [0.95, 0.05]], [6, 0.123456789, null],
  [3, 0.77, [0.1, 0.1, 0.8]], [1, 0.5, null], [0, 1, null], [-3, 1, null], [2, -1, [0.5, 0.5]],
  [2, 7, [0.5, 0.5]], [3, 0.61, [0.7, 0.2, 0.1]], [12, 0.999, null],
];
const rangeVectors = rangeInputs.map(([n, coverage, weights]) => ({
  num_variations: n, coverage, weights,
  expected: gb.getBucketRanges(n, coverage, weights === null ? undefined : weights),
}));

const equalWeightVectors = [];
for (let n = -2; n <= 13; n++) equalWeightVectors.push({n, expected: gb.getEqualWeights(n)});

const growthbook = {
  source: `@growthbook/growthbook ${gbVersion} (npm), dist/cjs/util.js: hash, inNamespace, ` +
          `getBucketRanges, getEqualWeights; keys decoded from UTF-8 with TextDecoder ` +
          `(Node.js ${process.versions.node})`,
  hash: hashVectors,
  inNamespace: namespaceVectors,
  getBucketRanges: rangeVectors,
  getEqualWeights: equalWeightVectors,
};
fs.writeFileSync(path.join(dataDir, "growthbook", "sdk_js_vectors.json"),
                 JSON.stringify(growthbook, null, 1) + "\n");

// ----------------------------------------------------------------------------------------------
// Unleash. murmurhash3js hashes the low byte of each UTF-16 code unit, so it is given "binary"
// strings (one character per byte) holding the UTF-8 bytes: the result is murmur3 of those bytes.
const bytesOf = (hex) => Buffer.from(hex, "hex").toString("latin1");
const murmurVectors = [];
const seeds = [0, 86028157, 1, 0xffffffff, 42];
const murmurTexts = ["", "a", "ab", "abc", "abcd", "abcde", "test", "iceberg", "AB12A:122",
                     "Feature.B3:155", "Hellø Wørld", "你好", "😊", "0123456789abcdef",
                     "The quick brown fox jumps over the lazy dog"];
for (const t of murmurTexts) {
  for (const seed of seeds) {
    murmurVectors.push({data_utf8_hex: utf8(t), seed,
                        expected: murmur.x86.hash32(bytesOf(utf8(t)), seed)});
  }
}
for (let i = 0; i < 200; i++) {
  const hex = randomBytesHex(40);
  const seed = next();
  murmurVectors.push({data_utf8_hex: hex, seed, expected: murmur.x86.hash32(bytesOf(hex), seed)});
}

// normalizedValue exactly as unleash-client-node src/strategy/util.ts computes it.
const normalized = (id, group, normalizer, seed) =>
  (murmur.x86.hash32(`${group}:${id}`, seed) % normalizer) + 1;
const normalizedVectors = [];
for (const group of ["", "AB12A", "Feature.flexibleRollout.10", "groupA", "a"]) {
  for (let u = 0; u < 40; u += 3) {
    const id = `${u * 37}`;
    normalizedVectors.push({id, group, modulus: 100, seed: 0, expected: normalized(id, group, 100, 0)});
    normalizedVectors.push({id, group, modulus: 1000, seed: 86028157,
                            expected: normalized(id, group, 1000, 86028157)});
    normalizedVectors.push({id, group, modulus: 7, seed: 86028157,
                            expected: normalized(id, group, 7, 86028157)});
  }
}

const unleash = {
  source: `murmurhash3js ${murmurVersion} (npm; the implementation unleash-client-node and the ` +
          `client specification's generate-wanted-hash script use), x86.hash32 over the UTF-8 ` +
          `bytes; normalized values as unleash-client-node src/strategy/util.ts computes them ` +
          `(Node.js ${process.versions.node})`,
  murmur3_32: murmurVectors,
  normalizedValue: normalizedVectors,
};
fs.writeFileSync(path.join(dataDir, "unleash", "murmur3_vectors.json"),
                 JSON.stringify(unleash, null, 1) + "\n");

// ----------------------------------------------------------------------------------------------
// Unleash SDKs on keys that are not ASCII. unleash-client-node hands murmurhash3js the JavaScript
// string itself (the key decoded from UTF-8), so it hashes the low byte of each UTF-16 code unit;
// Unleash's Rust core (Yggdrasil) hashes the UTF-8 bytes, i.e. murmur3 of the "binary" string.
const sdkTexts = ["", "a", "user-42", "Hellø Wørld", "ø", "ümlaut", "你好", "φriend", "😊",
                  "a😊b", "🌍🌎🌏", "Ω≈ç√", "\u{10FFFF}", "\u{FFFF}", "\u{E000}", "\u0100",
                  "Feature.UTF-8.😊_φriend_你好_🌍"];
const jsMurmurVectors = [];
for (const t of sdkTexts) {
  for (const seed of [0, 86028157]) {
    jsMurmurVectors.push({data_utf8_hex: utf8(t), seed, expected: murmur.x86.hash32(t, seed)});
  }
}
for (const hex of invalid) {
  jsMurmurVectors.push({data_utf8_hex: hex, seed: 0, expected: murmur.x86.hash32(decode(hex), 0)});
}
for (let i = 0; i < 200; i++) {
  const hex = randomBytesHex(24);
  const seed = next();
  jsMurmurVectors.push({data_utf8_hex: hex, seed, expected: murmur.x86.hash32(decode(hex), seed)});
}

// Both SDKs' normalized values for the same ids and groups: strategy (modulus 100, seed 0) and
// variant (seed 86028157, moduli 1000 and 7) values, Node's from unleash-client's own functions.
const coreNormalized = (idHex, groupHex, modulus, seed) =>
  (murmur.x86.hash32(bytesOf(groupHex + utf8(":") + idHex), seed) % modulus) + 1;
const sdkNormalizedVectors = [];
const sdkGroups = ["AB12A", "Feature.flexibleRollout.10", "fraud-model-flag", "Frühjahr",
                   "功能", "🚀-launch"];
const sdkIds = sdkTexts.concat(["123", "user-ø-7", "ß", "ÿ", "Ā", "😊😊😊😊"]);
for (const group of sdkGroups) {
  for (const id of sdkIds) {
    const idHex = utf8(id);
    const groupHex = utf8(group);
    sdkNormalizedVectors.push({id_utf8_hex: idHex, group_utf8_hex: groupHex, modulus: 100, seed: 0,
                               expected_core: coreNormalized(idHex, groupHex, 100, 0),
                               expected_node: unleashNode.normalizedStrategyValue(id, group)});
    for (const modulus of [1000, 7]) {
      sdkNormalizedVectors.push({
        id_utf8_hex: idHex, group_utf8_hex: groupHex, modulus, seed: 86028157,
        expected_core: coreNormalized(idHex, groupHex, modulus, 86028157),
        expected_node: unleashNode.normalizedVariantValue(id, group, modulus)});
    }
  }
}
const differing = sdkNormalizedVectors.filter((v) => v.expected_core !== v.expected_node).length;

const unleashSdks = {
  source: `unleash-client ${unleashNodeVersion} (npm; unleash-client-node), ` +
          `lib/strategy/util.js normalizedStrategyValue and normalizedVariantValue, given the ` +
          `keys as JavaScript strings; murmurhash3js ${murmurVersion} x86.hash32 over those ` +
          `strings (murmur3_32_js) and over the UTF-8 bytes (expected_core, as Unleash's Rust ` +
          `core hashes) (Node.js ${process.versions.node})`,
  murmur3_32_js: jsMurmurVectors,
  normalizedValue: sdkNormalizedVectors,
};
fs.writeFileSync(path.join(dataDir, "unleash", "sdk_vectors.json"),
                 JSON.stringify(unleashSdks, null, 1) + "\n");

console.log(`growthbook: ${hashVectors.length} hash, ${namespaceVectors.length} inNamespace, ` +
            `${rangeVectors.length} getBucketRanges, ${equalWeightVectors.length} getEqualWeights`);
console.log(`unleash: ${murmurVectors.length} murmur3_32, ${normalizedVectors.length} normalizedValue`);
console.log(`unleash SDKs: ${jsMurmurVectors.length} murmur3_32_js, ` +
            `${sdkNormalizedVectors.length} normalizedValue ` +
            `(${differing} where Node and the Rust core disagree)`);
