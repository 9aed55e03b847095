#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Refreshes the bucketing reference vectors under tests/data/growthbook and tests/data/unleash,
# and prints the XXH64 and XXH3 tables embedded in tests/serving/bucketing_test.cpp.
#
# Usage: scripts/update_hash_vectors.sh <growthbook checkout> <unleash client-specification checkout>
#        scripts/update_hash_vectors.sh --generated-only
#   --generated-only  skip step 1 (the published vectors copied from the two checkouts) and only
#                     regenerate what the npm packages and libxxhash compute.
# Needs: node and npm (for @growthbook/growthbook, murmurhash3js and unleash-client, installed into
# a temporary folder, never into the project), a C compiler and libxxhash-dev (Debian:
# libxxhash-dev). Record the two checkouts' commits in the READMEs of tests/data/growthbook and
# tests/data/unleash.
set -euo pipefail

if [[ $# -eq 1 && $1 == --generated-only ]]; then
  growthbook=""
  specification=""
elif [[ $# -eq 2 ]]; then
  growthbook=$1
  specification=$2
else
  echo "usage: $0 <growthbook checkout> <client-specification checkout> | --generated-only" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/tests/data
mkdir -p "$data/growthbook" "$data/unleash"

# 1. The published vectors, unchanged: the bucketing sections of GrowthBook's cases.json and the
#    Unleash specifications whose results depend on hashing.
if [[ -n $growthbook ]]; then
node -e '
  const fs = require("node:fs");
  const [from, to] = process.argv.slice(1);
  const cases = JSON.parse(fs.readFileSync(from, "utf8"));
  const keep = ["specVersion", "hash", "getBucketRange", "chooseVariation", "inNamespace",
                "getEqualWeights", "run"];
  const subset = {};
  for (const k of keep) subset[k] = cases[k];
  fs.writeFileSync(to, JSON.stringify(subset, null, 2) + "\n");
' "$growthbook/packages/sdk-js/test/cases.json" "$data/growthbook/cases.json"

for spec in 03-gradual-rollout-user-id-strategy 04-gradual-rollout-session-id-strategy \
            08-variants 10-flexible-rollout-strategy 12-custom-stickiness 16-strategy-variants; do
  cp "$specification/specifications/$spec.json" "$data/unleash/$spec.json"
done
fi

# 2. Extra vectors from the real JavaScript implementations.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null &&
 npm install --no-audit --no-fund --silent @growthbook/growthbook@1.8.0 murmurhash3js@3.0.1 \
   unleash-client@6.12.1)
node "$root/scripts/update_hash_vectors.cjs" "$work/node_modules" "$data"

# 3. XXH64 and XXH3-64 from libxxhash, the reference implementation, as C++ table rows.
cat >"$work/xxh_table.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

static const char kPattern[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_0123456789abcdefghijklmnop"
    "qrstuvwxyz";

int main(void) {
  const size_t lengths[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100};
  const unsigned long long seeds[] = {0ULL, 0x9E3779B97F4A7C15ULL};
  printf("// XXH64(input, seed), libxxhash %u\n", XXH_versionNumber());
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; ++i) {
    for (size_t j = 0; j < 2; ++j) {
      printf("    {%zu, 0x%016llXULL, 0x%016llXULL},\n", lengths[i], seeds[j],
             (unsigned long long)XXH64(kPattern, lengths[i], seeds[j]));
    }
  }
  const char* pairs[][2] = {{"", ""}, {"fraud-detection/canary-7", "user-42"},
                            {"exp", "0123456789abcdef"}, {"salt", "Hell\xc3\xb8 W\xc3\xb8rld"}};
  printf("// XXH64(key, XXH64(salt, 0)), libxxhash %u\n", XXH_versionNumber());
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; ++i) {
    const unsigned long long seed = XXH64(pairs[i][0], strlen(pairs[i][0]), 0);
    printf("    {\"%s\", \"%s\", 0x%016llXULL},\n", pairs[i][0], pairs[i][1],
           (unsigned long long)XXH64(pairs[i][1], strlen(pairs[i][1]), seed));
  }

  /* XXH3 takes a different path for 0, 1-3, 4-8, 9-16, 17-128, 129-240 and 241+ bytes; its input
     is kPattern repeated six times (kXxh3Input in the test). */
  char repeated[6 * (sizeof kPattern - 1)];
  for (size_t k = 0; k < 6; ++k) {
    memcpy(repeated + k * (sizeof kPattern - 1), kPattern, sizeof kPattern - 1);
  }
  const size_t xxh3_lengths[] = {0, 1, 3, 4, 8, 9, 16, 17, 100, 128, 129, 240, 241, 500};
  printf("// XXH3_64bits_withSeed(input, seed), libxxhash %u\n", XXH_versionNumber());
  for (size_t i = 0; i < sizeof xxh3_lengths / sizeof xxh3_lengths[0]; ++i) {
    for (size_t j = 0; j < 2; ++j) {
      printf("    {%zu, 0x%016llXULL, 0x%016llXULL},\n", xxh3_lengths[i], seeds[j],
             (unsigned long long)XXH3_64bits_withSeed(repeated, xxh3_lengths[i], seeds[j]));
    }
  }
  printf("// XXH3_64bits_withSeed(key, XXH3_64bits(salt)), libxxhash %u\n", XXH_versionNumber());
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; ++i) {
    const unsigned long long seed = XXH3_64bits(pairs[i][0], strlen(pairs[i][0]));
    printf("    {\"%s\", \"%s\", 0x%016llXULL},\n", pairs[i][0], pairs[i][1],
           (unsigned long long)XXH3_64bits_withSeed(pairs[i][1], strlen(pairs[i][1]), seed));
  }
  return 0;
}
EOF
cc -O1 -o "$work/xxh_table" "$work/xxh_table.c" -lxxhash
"$work/xxh_table"
