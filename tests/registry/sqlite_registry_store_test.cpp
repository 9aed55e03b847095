// SPDX-License-Identifier: Apache-2.0
// SqliteRegistryStore on real files: durability across reopen, two processes, damaged, foreign
// and newer files, hostile rows written behind its back, disk full and lock timeouts.
// (The RegistryStore contract shared with the in-memory store is in
// in_memory_registry_store_test.cpp, where it runs against both.)
#include <switchyard/registry/sqlite_registry_store.hpp>

#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/raw_db.hpp"

namespace switchyard {
namespace {
namespace sqlite_registry_store_test {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::RawDb;

ModelVersion rich_version(const std::string& name, std::int64_t version) {
  ModelVersion v;
  v.name = name;
  v.version = version;
  v.semver = "2." + std::to_string(version) + ".0";
  v.stage = Stage::kStaging;
  v.run_id = "run-" + std::to_string(version);
  v.dataset_version = "transactions@2024-01";
  v.metrics = {{"auc", 0.1}, {"tiny", 1e-300}, {"zero", -0.0}, {"f1", 0.8125}};
  v.group_metrics = {{"age<30", {{"auc", 0.89}}}, {"age>=30", {{"auc", 0.93}}}};
  v.signature.inputs = {{"features", DType::kFloat32, {-1, 32}}};
  v.signature.outputs = {{"score", DType::kFloat64, {-1, 1}}};
  v.signature.class_names = {"legit", "fraud"};
  v.dependencies = {{"xgboost", "2.0.3"}, {"numpy", "1.26.4"}};
  v.owner = "risk-team";
  v.changelog = "Retrained on January data; \"quoted\"\nsecond line";
  v.description = "Gradient-boosted fraud classifier";
  v.tags = {{"team", "risk"}, {"region", "eu"}};
  v.created_at = from_unix_nanos((std::int64_t{1} << 60) + version);
  v.stage_changed_at = from_unix_nanos((std::int64_t{1} << 53) + 1);
  v.artifact = {"switchyard.linear", std::string(64, 'c'), (std::uint64_t{1} << 53) + 1,
                "sha256/cc/" + std::string(64, 'c')};
  return v;
}

AuditRecord audit_row(const std::string& model, std::int64_t version, const std::string& action) {
  AuditRecord r;
  r.at = from_unix_nanos(1'700'000'000'000'000'000 + version);
  r.actor = "ci";
  r.model = model;
  r.version = version;
  r.action = action;
  r.from_stage = Stage::kDevelopment;
  r.to_stage = Stage::kStaging;
  r.alias = action == "alias" ? "champion" : "";
  r.reason = "test";
  return r;
}

// stdio rather than iostreams: GCC 12's -Wnull-dereference misfires inside istreambuf_iterator.
std::string read_bytes(const fs::path& p) {
  std::string out;
  if (std::FILE* f = std::fopen(p.c_str(), "rb")) {
    char buf[65536];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  ASSERT_NE(f, nullptr) << p;
  EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  std::fclose(f);
}

class SqliteRegistryStoreTest : public ::testing::Test {
 protected:
  SqliteRegistryStoreTest() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() /
           ("switchyard-sqlite-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  ~SqliteRegistryStoreTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path path(const std::string& name = "registry.db") const { return dir_ / name; }

  std::unique_ptr<SqliteRegistryStore> open(SqliteRegistryStore::Options o = {}) const {
    if (o.path.empty()) o.path = path().string();
    return std::make_unique<SqliteRegistryStore>(std::move(o));
  }

  /// `count` rich versions of "fraud-detection", an alias and one audit row each; closed after.
  StoreState populate(int count, const fs::path& file) const {
    auto store = open({.path = file.string()});
    auto tx = store->begin();
    for (int i = 1; i <= count; ++i) {
      tx->insert_version(rich_version("fraud-detection", i));
      tx->append_audit(audit_row("fraud-detection", i, "register"));
    }
    tx->set_alias({"fraud-detection", "champion", 1});
    tx->append_audit(audit_row("fraud-detection", 1, "alias"));
    tx->commit();
    return store->load();
  }
  StoreState populate(int count) const { return populate(count, path()); }

  /// The CorruptStore message opening `file` and reading everything produces ("" if none).
  std::string corruption_of(const fs::path& file) const {
    try {
      auto store = open({.path = file.string()});
      (void)store->load();
      (void)store->audit({});
    } catch (const CorruptStore& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(SqliteRegistryStoreTest, creates_a_wal_store_marked_with_its_application_and_schema) {
  auto store = open();
  EXPECT_EQ(store->describe(), "sqlite:" + path().string());
  RawDb raw(path());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("PRAGMA application_id"), std::to_string(kSqliteApplicationId));
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE type = 'table'"), "9");
}

TEST_F(SqliteRegistryStoreTest, reopen_after_write_sees_every_field) {
  std::vector<AuditRecord> audit;
  {
    auto store = open();
    auto tx = store->begin();
    tx->insert_version(rich_version("fraud-detection", 1));
    ModelVersion second = rich_version("fraud-detection", 2);
    second.stage = Stage::kProduction;
    second.metrics.clear();
    second.signature = {};
    tx->insert_version(second);
    tx->insert_version(rich_version("churn-prediction", 1));
    tx->set_alias({"fraud-detection", "champion", 2});
    tx->append_audit(audit_row("fraud-detection", 1, "register"));
    AuditRecord bare;
    bare.model = "fraud-detection";
    bare.action = "alias_removed";
    tx->append_audit(bare);
    tx->commit();
    audit = store->audit({});
  }
  auto store = open();
  const StoreState s = store->load();
  ASSERT_EQ(s.versions.size(), 3u);
  EXPECT_EQ(s.versions[0], rich_version("churn-prediction", 1));
  EXPECT_EQ(s.versions[1], rich_version("fraud-detection", 1));
  EXPECT_EQ(s.versions[2].stage, Stage::kProduction);
  EXPECT_TRUE(s.versions[2].metrics.empty());
  EXPECT_EQ(s.aliases, (std::vector<AliasRecord>{{"fraud-detection", "champion", 2}}));
  EXPECT_EQ(s.last_sequence, 2);
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(store->audit({}), audit);
  EXPECT_EQ(audit[0].from_stage, Stage::kDevelopment);
  EXPECT_FALSE(audit[1].from_stage.has_value());
  auto tx = store->begin();
  EXPECT_EQ(tx->max_version("fraud-detection"), 2);
  EXPECT_EQ(tx->find_version("fraud-detection", 1), rich_version("fraud-detection", 1));
}

TEST_F(SqliteRegistryStoreTest, two_processes_never_assign_one_version_twice) {
  constexpr int kPerProcess = 200;
  { auto created = open(); }  // no connection is open across fork()
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t children[2];
  for (int c = 0; c < 2; ++c) {
    children[c] = fork();
    ASSERT_GE(children[c], 0);
    if (children[c] == 0) {
      int code = 0;
      try {
        char byte = 0;
        if (read(go[0], &byte, 1) != 1) _exit(3);
        SqliteRegistryStore store({.path = path().string(), .busy_timeout = milliseconds(60'000)});
        for (int i = 0; i < kPerProcess; ++i) {
          auto tx = store.begin();
          ModelVersion v = rich_version("shared-model", tx->max_version("shared-model") + 1);
          v.owner = "process-" + std::to_string(c);
          tx->insert_version(v);
          tx->append_audit(audit_row(v.name, v.version, "register"));
          tx->commit();
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", c, e.what());
        code = 1;
      }
      _exit(code);
    }
  }
  close(go[0]);
  ASSERT_EQ(write(go[1], "gg", 2), 2);  // both start together
  close(go[1]);
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  auto store = open();
  const StoreState s = store->load();
  ASSERT_EQ(s.versions.size(), 2u * kPerProcess);
  std::set<std::int64_t> numbers;
  int by_process[2] = {0, 0};
  for (const auto& v : s.versions) {
    numbers.insert(v.version);
    by_process[v.owner == "process-1"] += 1;
  }
  EXPECT_EQ(numbers.size(), 2u * kPerProcess);
  EXPECT_EQ(*numbers.begin(), 1);
  EXPECT_EQ(*numbers.rbegin(), 2 * kPerProcess);
  EXPECT_EQ(by_process[0], kPerProcess);
  EXPECT_EQ(by_process[1], kPerProcess);
  const auto audit = store->audit({});
  ASSERT_EQ(audit.size(), 2u * kPerProcess);
  for (std::size_t i = 0; i < audit.size(); ++i) {
    EXPECT_EQ(audit[i].sequence, static_cast<std::int64_t>(i + 1));
  }
}

TEST_F(SqliteRegistryStoreTest, zero_length_file_is_initialised_as_a_new_store) {
  // SQLite treats a zero-length file as an empty database; so does the store (a crash between
  // creating the file and its first commit leaves exactly that).
  write_bytes(path(), "");
  {
    auto store = open();
    EXPECT_TRUE(store->load().versions.empty());
    auto tx = store->begin();
    tx->insert_version(rich_version("m", 1));
    tx->commit();
  }
  EXPECT_EQ(open()->load().versions.size(), 1u);
  RawDb raw(path());
  EXPECT_EQ(raw.text("PRAGMA application_id"), std::to_string(kSqliteApplicationId));
}

TEST_F(SqliteRegistryStoreTest, missing_file_without_create_is_not_found_and_not_created) {
  try {
    (void)open({.path = path("absent.db").string(), .create_if_missing = false});
    FAIL() << "opened a missing file";
  } catch (const NotFound& e) {
    EXPECT_NE(std::string(e.what()).find(path("absent.db").string()), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(path("absent.db")));
}

TEST_F(SqliteRegistryStoreTest, read_only_store_reads_and_refuses_writes) {
  const StoreState written = populate(3);
  auto store = open({.read_only = true});
  EXPECT_EQ(store->load().versions, written.versions);
  EXPECT_FALSE(store->may_have_changed());
  EXPECT_THROW((void)store->begin(), StorageError);

  write_bytes(path("empty.db"), "");
  EXPECT_THROW((void)open({.path = path("empty.db").string(), .read_only = true}), NotFound);
}

TEST_F(SqliteRegistryStoreTest, random_bytes_are_a_corrupt_store_naming_the_file) {
  std::mt19937 rng(7);
  std::string noise(64 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  write_bytes(path(), noise);
  const std::string message = corruption_of(path());
  EXPECT_NE(message.find(path().string()), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path()), noise) << "the file was left as it was";
}

TEST_F(SqliteRegistryStoreTest, truncated_store_is_refused_or_complete_never_partial) {
  const StoreState full = populate(120);
  const std::string bytes = read_bytes(path());
  ASSERT_GT(bytes.size(), 64u * 1024) << "several pages, so cuts land in table and index pages";
  const std::size_t cuts[] = {1,
                              50,
                              100,
                              1024,
                              4096,
                              4096 + 100,
                              8192,
                              20000,
                              bytes.size() / 2,
                              bytes.size() - 4096,
                              bytes.size() - 1};
  int refused = 0;
  for (std::size_t cut : cuts) {
    const fs::path file = path("cut-" + std::to_string(cut) + ".db");
    write_bytes(file, bytes.substr(0, cut));
    std::string message;
    try {
      auto store = open({.path = file.string()});
      const StoreState s = store->load();
      // Whatever is read must be all of it: a cut may only remove pages nothing uses.
      EXPECT_EQ(s.versions, full.versions) << "cut at " << cut;
      EXPECT_EQ(s.aliases, full.aliases) << "cut at " << cut;
      EXPECT_EQ(store->audit({}).size(), 121u) << "cut at " << cut;
    } catch (const CorruptStore& e) {
      message = e.what();
      ++refused;
      EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    }
  }
  EXPECT_GE(refused, 9) << "nearly every cut damages the store";
}

TEST_F(SqliteRegistryStoreTest, verify_on_open_finds_damage_that_load_never_reads) {
  const StoreState full = populate(60);
  const std::string bytes = read_bytes(path());
  const std::size_t page = std::stoul(RawDb(path()).text("PRAGMA page_size"));
  // Zero one page at a time until one is found that load() does not read (an index or audit
  // page): without verification the store opens and loads; with it, opening fails.
  bool found = false;
  for (std::size_t p = 1; p < bytes.size() / page && !found; ++p) {
    std::string damaged = bytes;
    std::fill_n(damaged.begin() + static_cast<std::ptrdiff_t>(p * page), page, '\0');
    const fs::path file = path("damaged.db");
    write_bytes(file, damaged);
    try {
      if (open({.path = file.string()})->load().versions != full.versions) continue;
    } catch (const CorruptStore&) {
      continue;  // load() reads this page and noticed; try another
    }
    found = true;
    try {
      (void)open({.path = file.string(), .verify_on_open = true});
      ADD_FAILURE() << "quick_check missed page " << p;
    } catch (const CorruptStore& e) {
      EXPECT_NE(std::string(e.what()).find("quick_check found damage"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_TRUE(found) << "every page is read by load()";
  EXPECT_NO_THROW((void)open({.verify_on_open = true})) << "an intact store passes";
}

TEST_F(SqliteRegistryStoreTest, another_applications_database_is_refused_untouched) {
  {
    RawDb raw(path("other.db"));
    raw.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)");
    raw.exec("INSERT INTO invoices VALUES (1, 9.5)");
  }
  {
    RawDb raw(path("tagged.db"));
    raw.exec("PRAGMA application_id = 42");
    raw.exec("CREATE TABLE model_versions (x)");
  }
  for (const char* name : {"other.db", "tagged.db"}) {
    const std::string before = read_bytes(path(name));
    const std::string message = corruption_of(path(name));
    EXPECT_NE(message.find(path(name).string()), std::string::npos) << message;
    EXPECT_NE(message.find("another application"), std::string::npos) << message;
    EXPECT_EQ(read_bytes(path(name)), before) << name << " was modified";
  }
  EXPECT_NE(corruption_of(path("tagged.db")).find("application_id 42"), std::string::npos);
}

TEST_F(SqliteRegistryStoreTest, a_store_from_a_newer_schema_is_schema_too_new) {
  populate(1);
  RawDb(path()).exec("PRAGMA user_version = " + std::to_string(kSqliteSchemaVersion + 1));
  for (bool read_only : {false, true}) {
    try {
      (void)open({.read_only = read_only});
      FAIL() << "opened a newer store";
    } catch (const SchemaTooNew& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path().string()), std::string::npos) << message;
      EXPECT_NE(message.find("schema version " + std::to_string(kSqliteSchemaVersion + 1)),
                std::string::npos)
          << message;
    }
  }
}

TEST_F(SqliteRegistryStoreTest, an_older_schema_is_migrated_on_open) {
  {
    RawDb raw(path());
    raw.exec("PRAGMA application_id = " + std::to_string(kSqliteApplicationId));
  }
  EXPECT_THROW((void)open({.read_only = true}), StorageError) << "read-only cannot migrate";
  auto store = open();
  RawDb raw(path());
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(kSqliteSchemaVersion));
  auto tx = store->begin();
  tx->insert_version(rich_version("m", 1));
  tx->commit();
  EXPECT_EQ(store->load().versions.size(), 1u);
}

TEST_F(SqliteRegistryStoreTest, a_version_1_store_gains_the_newer_tables_and_keeps_its_rows) {
  const StoreState before = populate(3);
  {
    RawDb raw(path());  // what schema version 1 looked like
    testing::downgrade_schema(raw, 1);
  }
  try {
    (void)open({.read_only = true});
    FAIL() << "a read-only store was opened without its migration";
  } catch (const StorageError& e) {
    EXPECT_NE(
        std::string(e.what()).find("must be migrated to " + std::to_string(kSqliteSchemaVersion)),
        std::string::npos)
        << e.what();
  }
  auto store = open();
  EXPECT_EQ(RawDb(path()).text("PRAGMA user_version"), std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(store->load().versions, before.versions);
  EXPECT_EQ(store->audit({}).size(), 4u);
  auto tx = store->begin();
  tx->put_artifact(std::string(64, 'c'), "bytes");
  tx->commit();
  EXPECT_EQ(store->read_artifact(std::string(64, 'c')), "bytes");
  EXPECT_EQ(RawDb(path()).text("SELECT count(*) FROM audit_evidence"), "0");
}

// Version 0 with tables was found by the sqlite_store fuzz target (corpus
// regression-unversioned-store-with-tables): its failed migration was refused after the switch to
// WAL had already rewritten the header.
TEST_F(SqliteRegistryStoreTest, an_older_store_that_already_has_newer_tables_is_refused_untouched) {
  for (int claimed : {0, 1, 2, 3}) {
    SCOPED_TRACE("user_version " + std::to_string(claimed));
    const fs::path file = path("claims-" + std::to_string(claimed) + ".db");
    populate(2, file);
    {
      RawDb raw(file);
      raw.exec("PRAGMA journal_mode = DELETE");  // one file holds everything
      raw.exec("PRAGMA user_version = " + std::to_string(claimed));  // but the tables are there
    }
    const std::string before = read_bytes(file);
    const std::string message = corruption_of(file);
    EXPECT_NE(message.find("does not match a Switchyard store of version " +
                           std::to_string(claimed)),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("already exists"), std::string::npos) << message;
    EXPECT_EQ(read_bytes(file), before) << "the refused store was modified";
  }
}

// Found by the sqlite_store fuzz target (corpus regression-older-store-missing-a-table): the
// migration itself succeeded, the schema check after it refused the store, but the migration had
// already been committed and the header switched to WAL.
TEST_F(SqliteRegistryStoreTest, an_older_store_missing_a_table_is_refused_untouched) {
  populate(2);
  {
    RawDb raw(path());
    raw.exec("PRAGMA journal_mode = DELETE");
    testing::downgrade_schema(raw, 1);  // schema version 1 ...
    raw.exec("DROP TABLE aliases");     // ... damaged
  }
  const std::string before = read_bytes(path());
  const std::string message = corruption_of(path());
  EXPECT_NE(message.find("does not match a Switchyard store"), std::string::npos) << message;
  EXPECT_NE(message.find("aliases"), std::string::npos) << message;
  EXPECT_EQ(read_bytes(path()), before) << "the refused store was modified";
}

TEST_F(SqliteRegistryStoreTest, hostile_artifact_rows_are_corrupt_store_naming_the_row) {
  populate(1);
  const std::string sha(64, 'd');
  const std::pair<std::string, std::string> rows[] = {
      {"'some text'", "column 'bytes' holds text, not a blob"},
      {"NULL", "column 'bytes' holds NULL, not a blob"},
      {"42", "column 'bytes' holds an integer, not a blob"},
      {"zeroblob(" + std::to_string(kMaxStoreArtifactBytes + 1) + ")",
       "over the limit of " + std::to_string(kMaxStoreArtifactBytes)},
  };
  for (const auto& [value, expected] : rows) {
    SCOPED_TRACE(value);
    {
      RawDb raw(path());
      raw.exec("PRAGMA ignore_check_constraints = ON");
      raw.exec("DROP TABLE artifacts");  // NOT NULL off, as a hand-edited file might have it
      raw.exec("CREATE TABLE artifacts (sha256 TEXT PRIMARY KEY, bytes BLOB)");
      raw.exec("INSERT INTO artifacts VALUES ('" + sha + "', " + value + ")");
    }
    auto store = open();
    try {
      (void)store->read_artifact(sha);
      ADD_FAILURE() << "read a hostile row";
    } catch (const CorruptStore& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("artifacts row (sha256 '" + sha.substr(0, 60)), std::string::npos)
          << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
      EXPECT_NE(message.find(path().string()), std::string::npos) << message;
    }
  }
}

TEST_F(SqliteRegistryStoreTest, a_damaged_schema_is_a_corrupt_store) {
  populate(1);
  RawDb(path()).exec("DROP TABLE aliases");
  const std::string message = corruption_of(path());
  EXPECT_NE(message.find("does not match a Switchyard store"), std::string::npos) << message;
}

struct HostileRow {
  const char* what;
  std::string sql;       // run on a raw connection (foreign keys off)
  std::string expected;  // part of the CorruptStore message
};

TEST_F(SqliteRegistryStoreTest, hostile_rows_are_corrupt_store_naming_the_row) {
  const std::string insert =
      "INSERT INTO model_versions (name, version, stage, semver, created_at_ns, "
      "stage_changed_at_ns, artifact_format, artifact_sha256, artifact_size, artifact_uri, "
      "metadata) VALUES ";
  const std::string good_metadata = "(SELECT metadata FROM model_versions LIMIT 1)";
  const HostileRow rows[] = {
      {"stage out of range", "UPDATE model_versions SET stage = 99 WHERE version = 2",
       "model_versions row (name 'fraud-detection', version 2): column 'stage' holds 99"},
      {"version as text",
       insert + "('m', 'seven', 0, '', 0, 0, '', '', 0, '', " + good_metadata + ")",
       "model_versions row (name 'm', version 'seven'): column 'version' holds text"},
      {"version zero", insert + "('m', 0, 0, '', 0, 0, '', '', 0, '', " + good_metadata + ")",
       "column 'version' holds 0, not a version number"},
      {"blob name", insert + "(x'00ff', 3, 0, '', 0, 0, '', '', 0, '', " + good_metadata + ")",
       "(name a blob of 2 bytes, version 3): column 'name' holds a blob"},
      {"malformed metadata",
       "UPDATE model_versions SET metadata = '{\"run_id\": ' WHERE version = 1",
       "version 1): column 'metadata' is not valid: ModelVersion metadata JSON is malformed"},
      {"metadata of the wrong shape",
       "UPDATE model_versions SET metadata = '{\"run_id\": 5}' WHERE version = 1",
       "column 'metadata' is not valid: ModelVersion metadata JSON: field 'run_id' must be a "
       "string"},
      {"hostile nesting",
       "UPDATE model_versions SET metadata = printf('%.*c', 1000000, '[') WHERE version = 1",
       "column 'metadata' is not valid"},
      {"huge metadata",
       "UPDATE model_versions SET metadata = printf('%.*c', 5000000, 'x') WHERE version = 1",
       "column 'metadata' holds 5000000 bytes, over the limit"},
      {"metadata as a blob", "UPDATE model_versions SET metadata = x'7b7d' WHERE version = 1",
       "column 'metadata' holds a blob, not text"},
      {"negative artifact size", "UPDATE model_versions SET artifact_size = -5 WHERE version = 2",
       "column 'artifact_size' holds -5"},
      {"time as real", "UPDATE model_versions SET created_at_ns = 1.5 WHERE version = 2",
       "column 'created_at_ns' holds a real number"},
      {"dangling alias", "INSERT INTO aliases VALUES ('fraud-detection', 'ghost', 999)",
       "aliases row (model 'fraud-detection', alias 'ghost'): names version 999"},
      {"alias version as text", "UPDATE aliases SET version = 'one'",
       "aliases row (model 'fraud-detection', alias 'champion'): column 'version' holds text"},
  };
  for (const auto& row : rows) {
    const fs::path file = path(std::string(row.what) + ".db");
    populate(2, file);
    RawDb(file).exec(row.sql);
    const std::string message = corruption_of(file);
    EXPECT_NE(message.find(row.expected), std::string::npos)
        << row.what << "\n  got: " << (message.empty() ? "no CorruptStore" : message);
    EXPECT_NE(message.find(file.string()), std::string::npos) << row.what;
  }
}

TEST_F(SqliteRegistryStoreTest, null_in_a_not_null_column_is_a_corrupt_store) {
  populate(1);
  {
    // SQLite enforces NOT NULL, so a tool that writes NULL names must first rewrite the schema.
    RawDb raw(path());
    raw.exec("PRAGMA writable_schema = ON");
    raw.exec(
        "UPDATE sqlite_schema SET sql = replace(sql, 'name TEXT NOT NULL,', 'name TEXT,') "
        "WHERE name = 'model_versions'");
  }
  RawDb(path()).exec(
      "INSERT INTO model_versions SELECT NULL, 5, stage, semver, created_at_ns, "
      "stage_changed_at_ns, artifact_format, artifact_sha256, artifact_size, artifact_uri, "
      "metadata FROM model_versions");
  const std::string message = corruption_of(path());
  EXPECT_NE(message.find("model_versions row (name NULL, version 5): column 'name' holds NULL"),
            std::string::npos)
      << message;
}

TEST_F(SqliteRegistryStoreTest, hostile_audit_rows_and_rows_read_in_a_transaction) {
  populate(1);
  RawDb(path()).exec(
      "INSERT INTO audit VALUES (77, 0, 'x', 'fraud-detection', 1, 'transition', 9, NULL, '', '')");
  RawDb(path()).exec("UPDATE model_versions SET stage = -1");
  auto store = open();
  try {
    (void)store->audit({.model = "fraud-detection"});
    FAIL() << "hostile audit row read";
  } catch (const CorruptStore& e) {
    EXPECT_NE(std::string(e.what()).find("audit row (sequence 77): column 'from_stage' holds 9"),
              std::string::npos)
        << e.what();
  }
  auto tx = store->begin();
  EXPECT_THROW((void)tx->find_version("fraud-detection", 1), CorruptStore);
  EXPECT_THROW((void)tx->max_version("fraud-detection"), StorageError) << "transaction aborted";
}

TEST_F(SqliteRegistryStoreTest, disk_full_is_a_storage_error_and_keeps_the_previous_state) {
  const StoreState before = populate(5);
  const std::string pages = RawDb(path()).text("PRAGMA page_count");
  auto store = open({.max_page_count = std::stoll(pages) + 4});
  auto tx = store->begin();
  ModelVersion big = rich_version("fraud-detection", 6);
  big.description = std::string(512 * 1024, 'd');  // ~128 pages of 4 KiB
  try {
    tx->insert_version(big);
    tx->append_audit(audit_row("fraud-detection", 6, "register"));
    tx->commit();
    FAIL() << "a store capped at " << pages << " + 4 pages took 512 KiB";
  } catch (const StorageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path().string()), std::string::npos) << message;
    EXPECT_NE(message.find("full"), std::string::npos) << message;
  }
  EXPECT_THROW(tx->commit(), StorageError) << "the failed transaction stays failed";
  tx.reset();
  const StoreState after = store->load();
  EXPECT_EQ(after.versions, before.versions);
  EXPECT_EQ(after.last_sequence, before.last_sequence);

  // The store still works, and a reopen (without the cap) sees the same state.
  {
    auto small = store->begin();
    small->append_audit(audit_row("fraud-detection", 1, "note"));
    small->commit();
  }
  store.reset();
  EXPECT_EQ(open()->load().versions, before.versions);
  EXPECT_EQ(open()->load().last_sequence, before.last_sequence + 1);
}

TEST_F(SqliteRegistryStoreTest, a_writer_held_elsewhere_times_out_with_a_storage_error) {
  populate(1);
  RawDb other(path());
  other.exec("BEGIN IMMEDIATE");
  auto store = open({.busy_timeout = milliseconds(50)});
  try {
    (void)store->begin();
    FAIL() << "began while another connection held the write lock";
  } catch (const StorageError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path().string()), std::string::npos) << message;
    EXPECT_NE(message.find("locked"), std::string::npos) << message;
  }
  EXPECT_EQ(store->load().versions.size(), 1u) << "readers are not blocked by the writer";
  other.exec("COMMIT");
  EXPECT_NO_THROW((void)store->begin());
}

TEST_F(SqliteRegistryStoreTest, may_have_changed_sees_commits_by_any_other_connection) {
  populate(1);
  auto store = open();
  EXPECT_FALSE(store->may_have_changed());
  RawDb(path()).exec(
      "INSERT INTO audit VALUES (50, 0, 'ops', 'fraud-detection', 1, 'note', NULL, NULL, '', '')");
  EXPECT_TRUE(store->may_have_changed());
  EXPECT_FALSE(store->may_have_changed());
  // While one of its own transactions is open it answers "maybe" rather than wait.
  auto tx = store->begin();
  EXPECT_TRUE(store->may_have_changed());
  tx.reset();
  EXPECT_EQ(store->changes_since(2),
            (std::pair<std::vector<std::string>, std::int64_t>{{"fraud-detection"}, 50}));
}

TEST_F(SqliteRegistryStoreTest, options_are_checked) {
  EXPECT_THROW(SqliteRegistryStore(SqliteRegistryStore::Options{}), InvalidArgument);
  EXPECT_THROW(SqliteRegistryStore({.path = ":memory:"}), InvalidArgument);
  EXPECT_THROW(SqliteRegistryStore({.path = path().string(), .max_page_count = -1}),
               InvalidArgument);
  try {
    (void)open({.vfs_name = "no-such-vfs"});
    FAIL() << "opened through a VFS that does not exist";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("no such vfs: no-such-vfs"), std::string::npos)
        << e.what();
  }
  SqliteRegistryStore by_path(path("by-path.db"));
  EXPECT_EQ(by_path.describe(), "sqlite:" + path("by-path.db").string());
}

}  // namespace sqlite_registry_store_test
}  // namespace
}  // namespace switchyard
