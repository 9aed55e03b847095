// SPDX-License-Identifier: Apache-2.0
// Writes the committed seed corpora of the fuzz targets: small, valid (or nearly valid) inputs in
// each target's encoding, so fuzzing starts from the interesting part of the input space.
// Usage: switchyard_fuzz_seeds <tests/fuzz/corpus>   (scripts/fuzz.sh --regenerate-seeds)
#include <sqlite3.h>

#include <Eigen/Core>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/serialization.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

#include "fuzz_support.hpp"

namespace fs = std::filesystem;
using namespace switchyard;
using switchyard::fuzz::FuzzOutput;

namespace {

fs::path g_root;

void seed(const char* target, const std::string& name, std::string_view bytes) {
  const fs::path dir = g_root / target;
  fs::create_directories(dir);
  std::ofstream out(dir / ("seed-" + name), std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string with_mode(std::uint8_t mode, std::string_view rest) {
  return FuzzOutput().byte(mode).raw(rest).bytes();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// ---- model_uri --------------------------------------------------------------------------------

void model_uri() {
  const char* uris[] = {"models:/fraud-detection/1",
                        "models:/fraud-detection@champion",
                        "models:/fraud-detection/Production",
                        "models:/ranking/latest",
                        "models:/../etc/1",
                        "models:/fraud-detection/0002"};
  int i = 0;
  for (const char* uri : uris)
    seed("model_uri", "resolve-" + std::to_string(i++), with_mode(0, uri));
  seed("model_uri", "find-alias",
       FuzzOutput().byte(1).string("fraud-detection").raw("@challenger").bytes());
  seed("model_uri", "find-semver",
       FuzzOutput().byte(1).string("fraud-detection").raw("1.1.0-rc.1+build.5").bytes());
  seed("model_uri", "find-stage",
       FuzzOutput().byte(1).string("ranking").raw("development").bytes());
  seed("model_uri", "name",
       FuzzOutput().byte(2).boolean(true).byte(128).string("fraud-detection.v2_a").bytes());
  seed("model_uri", "semver", with_mode(3, "1.0.0-alpha.1+exp.sha.5114f85"));
  seed("model_uri", "alias", with_mode(4, "champion"));
  seed("model_uri", "direct",
       FuzzOutput()
           .byte(5)
           .string("fraud-detection")
           .string("champion")
           .integral<std::int64_t>(2)
           .bytes());
}

// ---- artifact ---------------------------------------------------------------------------------

void artifact() {
  Eigen::MatrixXd w(2, 1);
  w << 2.0, -1.0;
  LinearModel linear(w, Eigen::VectorXd::Constant(1, 0.5));
  Eigen::MatrixXd w3(2, 3);
  w3 << 0.1, 0.2, 0.3, -0.4, 0.5, -0.6;
  LogisticModel logistic(w3, Eigen::VectorXd::Zero(3), {"a", "b", "c"});
  const std::string lin = linear.to_artifact(), log = logistic.to_artifact();
  seed("artifact", "linear", with_mode(0, lin));
  seed("artifact", "logistic", with_mode(0, log));
  seed("artifact", "logistic-body", with_mode(1, std::string_view(log).substr(0, log.size() - 32)));
  seed("artifact", "linear-body", with_mode(1, std::string_view(lin).substr(0, lin.size() - 32)));
  seed("artifact", "other-format", FuzzOutput().byte(2).string("acme.tree").raw(lin).bytes());
}

// ---- registry_json ----------------------------------------------------------------------------

void registry_json() {
  ManualClock clock;
  InMemoryRegistryStore store;
  const fs::path dir = fs::temp_directory_path() / "switchyard-seeds-artifacts";
  ArtifactStore artifacts(dir);
  ModelRegistry r({.store = &store, .artifacts = &artifacts, .clock = &clock});
  // The same two models the fuzz target stores, so the export's artifacts are present there.
  for (double s : {1.0, 2.0}) {
    Eigen::MatrixXd w(2, 1);
    w << s, -s;
    VersionMetadata m;
    m.semver = s == 1.0 ? "1.0.0" : "1.1.0";
    m.metrics = {{"auc", 0.9 + s / 100}};
    m.group_metrics = {{"de", {{"auc", 0.88}}}};
    m.tags = {{"team", "risk"}};
    r.register_version("fraud-detection",
                       {std::string(kLinearFormat),
                        LinearModel(w, Eigen::VectorXd::Constant(1, 0.5)).to_artifact()},
                       m, {.actor = "ci", .reason = "nightly"});
  }
  r.transition("fraud-detection", 1, Stage::kStaging);
  r.transition("fraud-detection", 1, Stage::kProduction, {.actor = "alice", .reason = "ship"});
  r.set_alias("fraud-detection", "champion", 1);
  const StoreState state = store.load();
  const ModelVersion& v = state.versions.at(0);
  seed("registry_json", "tensor-spec", with_mode(0, to_json(v.signature.inputs.at(0))));
  seed("registry_json", "signature", with_mode(1, to_json(v.signature, JsonStyle::kCompact)));
  seed("registry_json", "artifact-ref", with_mode(2, to_json(v.artifact)));
  seed("registry_json", "model-version", with_mode(3, to_json(v)));
  seed("registry_json", "audit-record", with_mode(4, to_json(store.audit({}).back())));
  seed("registry_json", "alias-record", with_mode(5, to_json(state.aliases.at(0))));
  seed("registry_json", "store-state", with_mode(6, to_json(state, JsonStyle::kCompact)));
  seed("registry_json", "metadata", with_mode(7, detail::version_metadata_to_json(v)));
  seed("registry_json", "export", with_mode(8, r.export_json()));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// ---- routing_policy ---------------------------------------------------------------------------
// Encodes what routing_policy_fuzzer.cpp decodes. Names: byte 0 "control", 1 "canary", 2 "blue",
// 3 "green", 4 "treatment" (pick % 6 below 200); references to arms: byte < 128 picks arm i.

struct PolicySeed {
  FuzzOutput out;
  PolicySeed& arm(std::uint8_t name, std::int64_t version, double weight) {
    out.byte(name).byte(static_cast<std::uint8_t>(version + 1)).number(weight);
    return *this;
  }
};

std::string tail(FuzzOutput& out) {
  // Four keys (no attributes, unpinned), a predict key, then no weight change.
  for (const char* key : {"user-1", "user-2", "user-42", "qa-7"}) {
    out.string(key).string("country").string("DE").boolean(false);
  }
  out.string("user-9").byte(0).boolean(false);
  return out.bytes();
}

void routing_policy() {
  {  // 70/30 percent, sticky, default hash
    PolicySeed p;
    p.out.byte(2);
    p.arm(0, 1, 70).arm(1, 2, 30);
    p.out.byte(0).byte(0).byte(1).boolean(false).string("").boolean(true);
    p.out.byte(0).byte(0).boolean(false).boolean(true).byte(0);
    seed("routing_policy", "percent-70-30", tail(p.out));
  }
  {  // GrowthBook v2, three arms, coverage 0.5, fallback canary, an override and a segment
    PolicySeed p;
    p.out.byte(3);
    p.arm(0, 1, 1).arm(1, 2, 1).arm(4, 3, 2);
    p.out.byte(0).byte(2).byte(0).boolean(false).string("exp-1").boolean(false).number(0.5);
    p.out.byte(1).string("qa-7").byte(2);
    p.out.byte(1).string("country").byte(2).string("DE").string("AT").byte(1);
    p.out.boolean(true).byte(1).boolean(true).byte(1).byte(5);
    seed("routing_policy", "growthbook-coverage", tail(p.out));
  }
  {  // Unleash, random mode, pinnable version
    PolicySeed p;
    p.out.byte(2);
    p.arm(0, 4, 0.25).arm(1, 5, 0.75);
    p.out.byte(1).byte(3).byte(0).boolean(false).string("group").boolean(true);
    p.out.byte(0).byte(0).boolean(false).boolean(false).byte(1).byte(7);
    seed("routing_policy", "unleash-random-pinnable", tail(p.out));
  }
  {  // blue/green with normalized percent weights that do not add up
    PolicySeed p;
    p.out.byte(2);
    p.arm(2, 1, 40).arm(3, 2, 40);
    p.out.byte(0).byte(0).byte(1).boolean(true).string("").boolean(true);
    p.out.byte(0).byte(0).boolean(true).byte(1).boolean(true).byte(0);
    seed("routing_policy", "blue-green-normalized", tail(p.out));
  }
  {  // refused: all weights zero, a version that does not exist
    PolicySeed p;
    p.out.byte(2);
    p.arm(0, 1, 0).arm(1, 7, 0);
    p.out.byte(0).byte(0).byte(0).boolean(false).string("").boolean(true);
    p.out.byte(0).byte(0).boolean(false).boolean(true).byte(0);
    seed("routing_policy", "refused-zero-weights", tail(p.out));
  }
}

// ---- sqlite_store -------------------------------------------------------------------------------

void sqlite_store() {
  const fs::path dir = fs::temp_directory_path() / "switchyard-seeds-sqlite";
  fs::create_directories(dir);
  const fs::path path = dir / "registry.db";
  {
    SqliteRegistryStore store({.path = path.string()});
    ArtifactStore artifacts(dir / "artifacts");
    ManualClock clock;
    ModelRegistry r({.store = &store, .artifacts = &artifacts, .clock = &clock});
    Eigen::MatrixXd w(2, 1);
    w << 1.0, 2.0;
    VersionMetadata m;
    m.semver = "1.0.0";
    m.metrics = {{"auc", 0.91}};
    r.register_version(
        "fraud-detection",
        {std::string(kLinearFormat), LinearModel(w, Eigen::VectorXd::Zero(1)).to_artifact()}, m,
        {.actor = "ci"});
    r.transition("fraud-detection", 1, Stage::kStaging);
    r.transition("fraud-detection", 1, Stage::kProduction);
    r.set_alias("fraud-detection", "champion", 1);
  }
  // The smallest page size keeps the seed small; rollback journal so one file holds it all.
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;", nullptr, nullptr,
               nullptr);
  sqlite3_close(db);
  const std::string file = read_file(path);
  seed("sqlite_store", "store", with_mode(0, file));
  seed("sqlite_store", "store-read-only", with_mode(2, file));
  seed("sqlite_store", "store-page-limit", with_mode(4, file));
  seed("sqlite_store", "empty-file", with_mode(0, ""));
  {
    const fs::path other = dir / "other.db";
    sqlite3* o = nullptr;
    sqlite3_open(other.c_str(), &o);
    sqlite3_exec(o,
                 "PRAGMA page_size=512; CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES "
                 "('hello');",
                 nullptr, nullptr, nullptr);
    sqlite3_close(o);
    seed("sqlite_store", "foreign-database", with_mode(0, read_file(other)));
  }
  // Edit scripts: table, operation, then its operands (see apply_edits).
  seed("sqlite_store", "edit-stage-out-of-range",
       FuzzOutput().byte(1).byte(1).byte(0).byte(2).byte(0).byte(1).byte(7).bytes());
  seed("sqlite_store", "edit-metadata-not-json",
       FuzzOutput().byte(1).byte(1).byte(0).byte(10).byte(0).byte(4).string("{\"x\":").bytes());
  seed("sqlite_store", "edit-alias-to-missing-version",
       FuzzOutput().byte(1).byte(2).byte(0).byte(2).byte(0).byte(1).byte(7).bytes());
  seed("sqlite_store", "edit-newer-schema",
       FuzzOutput().byte(1).byte(0).byte(4).boolean(true).boolean(true).byte(3).bytes());
  seed("sqlite_store", "edit-drop-aliases", FuzzOutput().byte(1).byte(0).byte(5).byte(0).bytes());
  seed("sqlite_store", "edit-audit-row",
       FuzzOutput()
           .byte(1)
           .byte(3)
           .byte(2)
           .byte(1)
           .byte(8)
           .byte(1)
           .byte(1)
           .byte(4)
           .string("x")
           .byte(4)
           .string("fraud-detection")
           .byte(1)
           .byte(1)
           .byte(4)
           .string("register")
           .byte(0)
           .byte(1)
           .byte(0)
           .byte(4)
           .string("")
           .byte(4)
           .string("")
           .bytes());
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// ---- shadow_config ------------------------------------------------------------------------------
// The input is the YAML text itself.

void shadow_config() {
  // Seed 003's shadow deployment configuration, exactly as the seed writes it.
  seed("shadow_config", "003",
       "# Shadow deployment configuration\n"
       "deployment:\n"
       "  name: churn-predictor\n"
       "  primary:\n"
       "    model: churn-predictor\n"
       "    version: 5\n"
       "    traffic: 100%    # serves all responses\n"
       "  shadow:\n"
       "    model: churn-predictor\n"
       "    version: 6\n"
       "    traffic: 100%    # receives all requests, responses logged but not served\n"
       "  comparison:\n"
       "    metrics: [accuracy, latency_p99, prediction_distribution]\n"
       "    duration: 7d\n"
       "    auto_promote: false\n");
  seed("shadow_config", "sequence",
       "deployment:\n"
       "  name: churn-predictor\n"
       "  primary: {model: churn-predictor, version: 5, traffic: 100%}\n"
       "  shadow:\n"
       "    - {model: churn-predictor, version: 6, traffic: 25%, sampling: random}\n"
       "    - model: churn-predictor-xgb\n"
       "      version: 1\n"
       "      traffic: 0.5\n"
       "      duration: 12h\n"
       "      salt: xgb\n"
       "  comparison:\n"
       "    metrics: [agreement, error_rate]\n"
       "    duration: 500ms\n"
       "    auto_promote: true\n");
  seed("shadow_config", "criteria",
       "deployment:\n"
       "  name: x\n"
       "  primary: {model: m, version: 1}\n"
       "  shadow: {model: m, version: 2, traffic: 10%}\n"
       "  criteria:\n"
       "    min_compared_rows: 10000\n"
       "    min_agreement: 99%\n"
       "    max_shadow_error_rate: 0.005\n"
       "    max_latency_p99_ratio: 1.2\n"
       "    min_labeled_rows: 500\n"
       "    require_not_worse: true\n"
       "    alpha: 0.05\n"
       "    max_divergence: 0.1\n");
  seed("shadow_config", "flow",
       "{deployment: {name: x, primary: {model: m, version: 1}, shadow: [{model: m, version: 2, "
       "duration: 30m}], comparison: {duration: 45s}}}\n");
  seed("shadow_config", "refused-traffic",
       "deployment:\n  name: x\n  primary: {model: m, version: 1}\n"
       "  shadow: {model: m, version: 2, traffic: 120%}\n");
  seed("shadow_config", "refused-anchors",
       "deployment: &d\n  name: x\n  primary: *d\n  shadow: [*d, *d]\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  model_uri();
  artifact();
  registry_json();
  routing_policy();
  sqlite_store();
  shadow_config();
  std::printf("seeds written under %s\n", g_root.c_str());
  return 0;
}
