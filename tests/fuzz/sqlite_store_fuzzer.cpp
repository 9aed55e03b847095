// SPDX-License-Identifier: Apache-2.0
// Fuzz target: registry database files. Either the input is the file itself (corrupted pages,
// truncations, foreign headers), or it is an edit script applied with raw SQL to a valid store
// (hostile row values, damaged schema, odd pragmas). Then a SqliteRegistryStore opens the file and
// a ModelRegistry reads and writes through it. Only the documented errors may come out, a refused
// file is left as it was, and whatever opens must answer every read.
//
// Input: one mode byte.
//   even: the rest is the database file (bit 1: open read-only, bit 2: max_page_count 64);
//   odd:  the rest is an edit script (see apply_edits) for the template store.
#include <sqlite3.h>

#include <Eigen/Core>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <vector>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write " + p.string());
}

void remove_database(const fs::path& p) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(p.string() + suffix, ec);
}

Artifact artifact(double seed) {
  Eigen::MatrixXd w(2, 1);
  w << seed, 1.0;
  return {std::string(kLinearFormat), LinearModel(w, Eigen::VectorXd::Zero(1)).to_artifact()};
}

ArtifactStore& artifacts() {
  static ArtifactStore store(ScratchDir::path() / "artifacts");
  return store;
}

// A small valid store: two models, four versions across stages, aliases and their audit rows;
// rollback-journal mode so the one file holds everything.
const std::string& template_store() {
  static const std::string bytes = [] {
    const fs::path path = ScratchDir::path() / "template.db";
    {
      SqliteRegistryStore store({.path = path.string()});
      ManualClock clock;
      ModelRegistry r({.store = &store, .artifacts = &artifacts(), .clock = &clock});
      VersionMetadata m;
      m.semver = "1.0.0";
      m.metrics = {{"auc", 0.91}};
      m.group_metrics = {{"de", {{"auc", 0.9}}}};
      m.tags = {{"team", "risk"}};
      r.register_version("fraud-detection", artifact(1), m, {.actor = "ci"});
      r.register_version("fraud-detection", artifact(2), {}, {.actor = "ci"});
      r.register_version("churn-model", artifact(3), {}, {.actor = "ci"});
      r.transition("fraud-detection", 1, Stage::kStaging);
      r.transition("fraud-detection", 1, Stage::kProduction);
      r.transition("fraud-detection", 2, Stage::kStaging);
      r.transition("fraud-detection", 2, Stage::kProduction);
      r.set_alias("fraud-detection", "champion", 2);
      r.set_alias("churn-model", "candidate", 1);
    }
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    std::string out = read_file(path);
    remove_database(path);
    return out;
  }();
  return bytes;
}

// ---- edit scripts ----------------------------------------------------------------------------

struct Table {
  const char* name;
  std::vector<const char*> columns;
};

const std::vector<Table>& tables() {
  static const std::vector<Table> t = {
      {"models", {"name", "max_version"}},
      {"model_versions",
       {"name", "version", "stage", "semver", "created_at_ns", "stage_changed_at_ns",
        "artifact_format", "artifact_sha256", "artifact_size", "artifact_uri", "metadata"}},
      {"aliases", {"model", "alias", "version"}},
      {"artifacts", {"sha256", "bytes"}},
      {"audit",
       {"sequence", "at_ns", "actor", "model", "version", "action", "from_stage", "to_stage",
        "alias", "reason"}},
  };
  return t;
}

// Statements that damage the schema the way another tool or an old script might.
constexpr const char* kSchemaEdits[] = {
    "DROP TABLE aliases",
    "DROP INDEX model_versions_by_stage",
    "ALTER TABLE audit RENAME COLUMN reason TO why",
    "ALTER TABLE model_versions ADD COLUMN extra TEXT",
    "CREATE TABLE extra (x)",
    "DELETE FROM models",
    "DELETE FROM audit",
    "UPDATE models SET max_version = 0",
    "CREATE TRIGGER refuse AFTER INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no'); END",
    "CREATE VIEW v AS SELECT * FROM audit",
    "PRAGMA foreign_keys=OFF",
    "DROP TABLE model_versions",
    "DROP TABLE artifacts",
    "UPDATE artifacts SET bytes = substr(bytes, 2)",
};

void bind_value(sqlite3_stmt* s, int index, FuzzInput& in) {
  static constexpr std::int64_t kIntegers[] = {
      0, 1, 2, 3, 4, 5, -1, 7, 1'700'000'000'000'000'000, INT64_MAX, INT64_MIN};
  switch (in.byte() % 6) {
    case 0:
      sqlite3_bind_null(s, index);
      break;
    case 1:
      sqlite3_bind_int64(s, index, kIntegers[in.byte() % 11]);
      break;
    case 2:
      sqlite3_bind_int64(s, index, in.integral<std::int64_t>());
      break;
    case 3:
      sqlite3_bind_double(s, index, in.number());
      break;
    case 4: {
      const std::string text = in.string(512);
      sqlite3_bind_text64(s, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    }
    default: {
      const std::string blob = in.string(64);
      sqlite3_bind_blob64(s, index, blob.data(), blob.size(), SQLITE_TRANSIENT);
      break;
    }
  }
}

void run(sqlite3* db, const std::string& sql, FuzzInput& in, int values) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return;
  for (int i = 1; i <= values; ++i) bind_value(s, i, in);
  sqlite3_step(s);  // constraint failures are part of the game
  sqlite3_finalize(s);
}

void apply_edits(const fs::path& path, FuzzInput& in) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) fail("cannot open the template copy");
  // No file but this one may be touched, whatever the script says.
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  for (int edits = 0; edits < 8 && !in.empty(); ++edits) {
    const Table& t = tables()[in.byte() % tables().size()];
    switch (in.byte() % 6) {
      case 0:
      case 1: {  // one cell of one row
        const char* column = t.columns[in.byte() % t.columns.size()];
        run(db,
            std::string("UPDATE ") + t.name + " SET " + column +
                " = ? WHERE rowid = " + std::to_string(in.in_range(1, 8)),
            in, 1);
        break;
      }
      case 2: {  // a whole new row
        std::string sql = std::string("INSERT INTO ") + t.name + " VALUES (";
        for (std::size_t i = 0; i < t.columns.size(); ++i) sql += i ? ", ?" : "?";
        run(db, sql + ")", in, static_cast<int>(t.columns.size()));
        break;
      }
      case 3:
        run(db,
            std::string("DELETE FROM ") + t.name +
                " WHERE rowid = " + std::to_string(in.in_range(1, 8)),
            in, 0);
        break;
      case 4: {
        const char* pragma = in.boolean() ? "user_version" : "application_id";
        const auto value = in.boolean() ? in.in_range(-1, 3) : in.integral<std::int32_t>();
        run(db, std::string("PRAGMA ") + pragma + " = " + std::to_string(value), in, 0);
        break;
      }
      default:
        run(db, kSchemaEdits[in.byte() % (sizeof kSchemaEdits / sizeof kSchemaEdits[0])], in, 0);
        break;
    }
  }
  sqlite3_close(db);
}

// ---- exercising a store ----------------------------------------------------------------------

void read_registry(ModelRegistry& r) {
  for (const std::string& name : r.models()) {
    auto all = r.versions(name);
    SWITCHYARD_FUZZ_CHECK(!all.empty(), "model " + name + " is listed with no versions");
    SWITCHYARD_FUZZ_CHECK(r.latest(name) == all.back(), "latest() is not the highest version");
    for (const auto& v : all) {
      SWITCHYARD_FUZZ_CHECK(v->version >= 1, "a version number below 1 was read");
      SWITCHYARD_FUZZ_CHECK(r.get(name, v->version) == v, "get() disagrees with versions()");
      // Wherever the bytes are kept, they come back verified or with a documented error.
      try {
        const std::string bytes = r.read_artifact(name, v->version);
        SWITCHYARD_FUZZ_CHECK(bytes.size() == v->artifact.size &&
                                  detail::sha256_hex(bytes) == v->artifact.sha256,
                              "read_artifact returned bytes that do not match the version");
      } catch (const Error& e) {
        expect_error<NotFound, IntegrityError, CorruptStore, StorageError, InvalidArgument>(
            e, "read_artifact");
      }
    }
    for (const auto& [alias, version] : r.aliases(name)) {
      SWITCHYARD_FUZZ_CHECK(r.by_alias(name, alias)->version == version, "alias lost");
    }
  }
}

void exercise(const fs::path& path, const SqliteRegistryStore::Options& options) {
  const std::string before = read_file(path);
  std::unique_ptr<SqliteRegistryStore> store;
  try {
    store = std::make_unique<SqliteRegistryStore>(options);
  } catch (const Error& e) {
    expect_error<CorruptStore, StorageError, SchemaTooNew, NotFound>(e, "opening the store");
    // The documentation promises that a refused file is not changed.
    if (dynamic_cast<const CorruptStore*>(&e) || dynamic_cast<const SchemaTooNew*>(&e)) {
      SWITCHYARD_FUZZ_CHECK(
          read_file(path) == before,
          std::string("a refused store file was modified: ") + e.what());
    }
    return;
  }
  try {
    const StoreState state = store->load();
    std::vector<std::string> names;
    for (const auto& v : state.versions) {
      SWITCHYARD_FUZZ_CHECK(v.version >= 1, "load() returned a version below 1");
      names.push_back(v.name);
    }
    (void)store->load_models(names);
    (void)store->changes_since(0);
    (void)store->audit({});
  } catch (const Error& e) {
    expect_error<CorruptStore, StorageError>(e, "reading the store");
  }
  ManualClock clock;
  std::unique_ptr<ModelRegistry> registry;
  try {
    registry = std::make_unique<ModelRegistry>(
        ModelRegistry::Options{.store = store.get(), .artifacts = &artifacts(), .clock = &clock});
  } catch (const Error& e) {
    expect_error<CorruptStore, StorageError>(e, "ModelRegistry over the store");
    return;
  }
  read_registry(*registry);
  if (options.read_only) return;
  try {
    auto v = registry->register_version("fraud-detection", artifact(9), {}, {.actor = "fuzz"});
    registry->set_alias("fraud-detection", "fuzzed", v->version);
    read_registry(*registry);
    SWITCHYARD_FUZZ_CHECK(registry->by_alias("fraud-detection", "fuzzed") == v,
                          "a committed alias is not visible");
  } catch (const Error& e) {
    expect_error<CorruptStore, StorageError, AlreadyExists, NotFound>(e, "writing to the store");
  }
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  using namespace switchyard::fuzz;
  FuzzInput in(data, size);
  const std::uint8_t mode = in.byte();
  const fs::path path = ScratchDir::path() / "registry.db";
  remove_database(path);
  SqliteRegistryStore::Options options{.path = path.string(), .busy_timeout = {}};
  if ((mode & 1) == 0) {
    write_file(path, in.rest());
    options.read_only = (mode & 2) != 0;
    if (mode & 4) options.max_page_count = 64;
  } else {
    write_file(path, template_store());
    apply_edits(path, in);
  }
  exercise(path, options);
  remove_database(path);
  return 0;
}
