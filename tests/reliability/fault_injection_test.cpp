// SPDX-License-Identifier: Apache-2.0
// Fault injection through the three seams the registry's storage offers: an SQLite VFS that fails
// the Nth write or fsync (Options::vfs_name), a page limit standing in for a full disk
// (Options::max_page_count), and ArtifactStore's FileOps. Each failed registry operation must
// throw an error naming the file, leave the committed state and the registry's snapshot exactly as
// they were (checked from another connection and again after a reopen), and the same registry
// must carry out the operation once the fault is gone.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <vector>

#include "reliability/faulty_vfs.hpp"
#include "support/raw_db.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace fault_injection_test {

namespace fs = std::filesystem;
using testing::FaultyVfs;

constexpr const char* kModel = "fraud-detection";

/// A registry whose store opens through the faulty VFS (or with a page limit, or over given file
/// operations), plus ways to look at what is committed from outside it.
struct Harness {
  testing::TempDir dir;
  ManualClock clock;
  std::unique_ptr<SqliteRegistryStore> store;
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<ModelRegistry> registry;
  std::int64_t seed = 0;

  fs::path db() const { return dir.path() / "registry.db"; }
  fs::path artifact_root() const { return dir.path() / "artifacts"; }

  void open(
      const std::string& vfs = FaultyVfs::kName, std::int64_t max_pages = 0,
      std::shared_ptr<ArtifactStore::FileOps> ops = nullptr,
      std::size_t max_store_artifact_bytes = ModelRegistry::Options{}.max_store_artifact_bytes) {
    close();
    if (vfs == FaultyVfs::kName) FaultyVfs::instance();  // registers the VFS on first use
    store = std::make_unique<SqliteRegistryStore>(SqliteRegistryStore::Options{
        .path = db().string(), .vfs_name = vfs, .max_page_count = max_pages});
    artifacts = std::make_unique<ArtifactStore>(artifact_root(),
                                                ArtifactStore::Options{.file_ops = std::move(ops)});
    registry = std::make_unique<ModelRegistry>(
        ModelRegistry::Options{.store = store.get(),
                               .artifacts = artifacts.get(),
                               .clock = &clock,
                               .max_store_artifact_bytes = max_store_artifact_bytes});
  }
  void close() {
    registry.reset();
    artifacts.reset();
    store.reset();
  }

  /// The committed registry as another process would export it (default VFS, read-only).
  std::string committed() const {
    SqliteRegistryStore s({.path = db().string(), .read_only = true});
    ArtifactStore a(artifact_root());
    ModelRegistry r({.store = &s, .artifacts = &a});
    return r.export_json();
  }

  /// What this registry's in-memory snapshot answers.
  std::string snapshot() const {
    std::string out;
    for (const auto& name : registry->models()) {
      for (const auto& v : registry->versions(name)) {
        out += name + " v" + std::to_string(v->version) + " " + std::string(to_string(v->stage)) +
               "\n";
      }
      for (const auto& [alias, version] : registry->aliases(name)) {
        out += name + "@" + alias + " -> " + std::to_string(version) + "\n";
      }
    }
    return out;
  }

  std::int64_t add() {
    VersionMetadata m;
    m.metrics = {{"auc", 0.8}};
    return registry
        ->register_version(kModel, testing::logistic_artifact(static_cast<double>(++seed)), m,
                           {.actor = "test"})
        ->version;
  }
  std::int64_t add_production() {
    const auto v = add();
    registry->transition(kModel, v, Stage::kStaging);
    registry->transition(kModel, v, Stage::kProduction);
    return v;
  }
};

/// A registry operation to break: `prepare` runs without faults and returns the state the
/// operation needs; `run` is the operation under fault.
struct Operation {
  const char* key;  ///< short name for the test report
  const char* name;
  std::function<void(Harness&)> prepare;
  std::function<void(Harness&)> run;
};

std::vector<Operation> operations() {
  auto dev = std::make_shared<std::int64_t>(0);
  return {
      {"register", "register", [](Harness&) {}, [](Harness& h) { h.add(); }},
      {"transition", "transition", [dev](Harness& h) { *dev = h.add(); },
       [dev](Harness& h) { h.registry->transition(kModel, *dev, Stage::kStaging); }},
      {"promotion", "promotion (archives the previous Production version; evidence rows)",
       [dev](Harness& h) {
         if (h.registry->versions(kModel, Stage::kProduction).empty()) h.add_production();
         *dev = h.add();
         h.registry->transition(kModel, *dev, Stage::kStaging);
       },
       [dev](Harness& h) {
         h.registry->transition(
             kModel, *dev, Stage::kProduction,
             {.evidence = {{.kind = "shadow", .passed = true, .detail_json = R"({"rows": 9})"},
                           {.kind = "sign_off", .passed = true, .summary = "owner"}}});
       }},
      {"alias", "alias", [dev](Harness& h) { *dev = h.add(); },
       [dev](Harness& h) { h.registry->set_alias(kModel, "champion", *dev); }},
      {"rollback", "rollback",
       [](Harness& h) {
         h.add_production();
         h.add_production();
       },
       [](Harness& h) { h.registry->rollback(kModel, {.actor = "oncall", .reason = "bad"}); }},
  };
}

/// For N = 1, 2, ...: fail the Nth write (or fsync) of the operation, check nothing changed and
/// the same registry recovers, until the operation no longer reaches an Nth call.
void inject_until_exhausted(bool sync) {
  for (const Operation& op : operations()) {
    SCOPED_TRACE(std::string(op.name) + (sync ? ": failing fsync" : ": failing write"));
    Harness h;
    h.open();
    h.add_production();
    int faults = 0;
    for (int n = 1; n < 500; ++n) {
      op.prepare(h);
      const std::string before = h.committed();
      const std::string snapshot = h.snapshot();
      FaultyVfs& vfs = FaultyVfs::instance();
      const int injected = vfs.injected();
      sync ? vfs.fail_sync(n) : vfs.fail_write(n);
      std::string error;
      try {
        op.run(h);
      } catch (const StorageError& e) {
        error = e.what();
      }
      vfs.disarm();
      if (error.empty()) {
        if (vfs.injected() == injected) break;  // the operation makes fewer than n calls
        ADD_FAILURE() << "call " << n << " failed but the operation reported success";
        return;
      }
      ++faults;
      EXPECT_NE(error.find(h.db().string()), std::string::npos)
          << "error does not name the file: " << error;
      ASSERT_EQ(h.committed(), before) << "call " << n << " failed but the store changed";
      ASSERT_EQ(h.snapshot(), snapshot) << "call " << n << " failed but the snapshot changed";
      // The same registry carries the operation out once the fault is gone.
      ASSERT_NO_THROW(op.run(h)) << "after a failure at call " << n;
      const std::string after = h.committed();
      EXPECT_NE(after, before);
      // A clean close and a reopen: the failed attempt never resurfaces.
      h.close();
      h.open("");
      ASSERT_EQ(h.registry->export_json(), after) << "after a failure at call " << n;
      h.open();
    }
    EXPECT_GT(faults, 0) << "no fault was ever reached";
    ::testing::Test::RecordProperty(
        std::string(op.key) + (sync ? "_failed_syncs" : "_failed_writes"), faults);
  }
}

TEST(FaultInjectionTest, every_failed_sqlite_write_leaves_the_previous_state) {
  inject_until_exhausted(false);
}

TEST(FaultInjectionTest, every_failed_sqlite_fsync_leaves_the_previous_state) {
  inject_until_exhausted(true);
}

TEST(FaultInjectionTest, a_dead_disk_fails_every_operation_and_the_store_recovers_with_it) {
  Harness h;
  h.open();
  h.add_production();
  const std::string before = h.committed();
  FaultyVfs::instance().fail_write(1, /*sticky=*/true);
  EXPECT_THROW(h.add(), StorageError);
  EXPECT_THROW(h.registry->set_alias(kModel, "champion", 1), StorageError);
  EXPECT_THROW(h.add(), StorageError);
  FaultyVfs::instance().disarm();
  EXPECT_EQ(h.committed(), before);
  EXPECT_EQ(h.add(), 2) << "the store works again once the disk does";
}

TEST(FaultInjectionTest, failures_while_creating_a_store_leave_a_file_that_opens_cleanly) {
  int faults = 0;
  for (bool sync : {false, true}) {
    for (int n = 1; n < 100; ++n) {
      Harness h;
      FaultyVfs& vfs = FaultyVfs::instance();
      sync ? vfs.fail_sync(n) : vfs.fail_write(n);
      std::string error;
      try {
        h.open();
      } catch (const StorageError& e) {
        error = e.what();
      }
      vfs.disarm();
      if (error.empty()) break;
      ++faults;
      EXPECT_NE(error.find(h.db().string()), std::string::npos) << error;
      ASSERT_NO_THROW(h.open("")) << "a store whose creation failed at call " << n
                                  << " does not open";
      EXPECT_TRUE(h.registry->models().empty());
      EXPECT_EQ(h.add(), 1);
    }
  }
  EXPECT_GT(faults, 0);
}

// Schema version 3 added the audit_evidence table: a writer opening a version 2 store migrates it in
// one transaction. Failing each write and each fsync of that open in turn must leave a store that
// the next open migrates, with every row it had.
TEST(FaultInjectionTest, failures_while_migrating_a_version_2_store_lose_no_row) {
  int faults = 0;
  for (bool sync : {false, true}) {
    for (int n = 1; n < 100; ++n) {
      SCOPED_TRACE(std::string(sync ? "fsync " : "write ") + std::to_string(n));
      Harness h;
      h.open("");
      h.add_production();
      h.add();
      const std::string before = h.committed();
      h.close();
      {
        testing::RawDb raw(h.db());  // what schema version 2 looked like
        testing::downgrade_schema(raw, 2);
      }
      FaultyVfs& vfs = FaultyVfs::instance();
      sync ? vfs.fail_sync(n) : vfs.fail_write(n);
      std::string error;
      try {
        h.open();
      } catch (const StorageError& e) {
        error = e.what();
      }
      vfs.disarm();
      if (error.empty()) {
        EXPECT_EQ(h.committed(), before);
        break;
      }
      ++faults;
      EXPECT_NE(error.find(h.db().string()), std::string::npos) << error;
      ASSERT_NO_THROW(h.open("")) << "a store whose migration failed does not open";
      EXPECT_EQ(testing::RawDb(h.db()).text("PRAGMA user_version"),
                std::to_string(kSqliteSchemaVersion));
      ASSERT_EQ(h.committed(), before) << "the migration lost or changed rows";
    }
  }
  EXPECT_GT(faults, 0) << "no fault was ever reached";
  ::testing::Test::RecordProperty("migration_faults", faults);
}

TEST(FaultInjectionTest, failures_while_closing_lose_nothing_committed) {
  int faults = 0;
  for (bool sync : {false, true}) {
    for (int n = 1; n < 100; ++n) {
      Harness h;
      h.open();
      h.add_production();
      h.add();
      h.registry->set_alias(kModel, "champion", 2);
      const std::string before = h.committed();
      FaultyVfs& vfs = FaultyVfs::instance();
      const int injected = vfs.injected();
      sync ? vfs.fail_sync(n) : vfs.fail_write(n);
      h.close();  // checkpoints the WAL into the database file
      vfs.disarm();
      if (vfs.injected() == injected) break;
      ++faults;
      h.open("");
      EXPECT_EQ(h.registry->export_json(), before) << "a failure at call " << n << " of closing";
    }
  }
  EXPECT_GT(faults, 0);
}

TEST(FaultInjectionTest, a_full_disk_refuses_the_write_and_keeps_the_previous_state) {
  Harness h;
  h.open("");
  h.add_production();
  h.close();
  const auto pages = static_cast<std::int64_t>(fs::file_size(h.db()) / 4096) + 4;
  h.open("", pages);
  std::string before, snapshot, error;
  for (int i = 0; i < 1000 && error.empty(); ++i) {
    before = h.committed();
    snapshot = h.snapshot();
    VersionMetadata m;
    m.description = std::string(16384, static_cast<char>('a' + i % 26));
    try {
      h.registry->register_version(kModel, testing::logistic_artifact(100 + i), m);
    } catch (const StorageError& e) {
      error = e.what();
    }
  }
  ASSERT_FALSE(error.empty()) << "the page limit was never reached";
  EXPECT_NE(error.find(h.db().string()), std::string::npos) << error;
  EXPECT_NE(error.find("full"), std::string::npos) << error;
  EXPECT_EQ(h.committed(), before);
  EXPECT_EQ(h.snapshot(), snapshot);
  h.open("");  // more room
  EXPECT_EQ(h.registry->export_json(), before);
  EXPECT_NO_THROW(h.add());
}

/// File operations that fail one chosen step of ArtifactStore::put.
class FailingFileOps final : public ArtifactStore::PosixFileOps {
 public:
  enum class Step { kNone, kCreate, kWrite, kFsync, kClose, kRename, kDirectoryFsync };
  Step fail = Step::kNone;

  int create_new(const std::string& path, int& fd) override {
    return fail == Step::kCreate ? EACCES : PosixFileOps::create_new(path, fd);
  }
  int write(int fd, const char* data, std::size_t size, std::size_t& written) override {
    if (fail == Step::kWrite) {
      // Half the bytes land, then the disk is full: the worst case for a torn file.
      PosixFileOps::write(fd, data, size / 2, written);
      return written == 0 ? ENOSPC : 0;
    }
    return PosixFileOps::write(fd, data, size, written);
  }
  int fsync(int fd) override {
    if (fail == Step::kFsync && !directory(fd)) return EIO;
    if (fail == Step::kDirectoryFsync && directory(fd)) return EIO;
    return PosixFileOps::fsync(fd);
  }
  int close(int fd) override {
    const int err = PosixFileOps::close(fd);
    return fail == Step::kClose ? EIO : err;
  }
  int rename(const std::string& from, const std::string& to) override {
    return fail == Step::kRename ? EXDEV : PosixFileOps::rename(from, to);
  }

 private:
  static bool directory(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  }
};

TEST(FaultInjectionTest, failed_artifact_writes_record_nothing_and_name_the_file) {
  using Step = FailingFileOps::Step;
  auto ops = std::make_shared<FailingFileOps>();
  Harness h;
  h.open("", 0, ops, 0);  // every artifact a file
  h.add_production();
  for (Step step : {Step::kCreate, Step::kWrite, Step::kFsync, Step::kClose, Step::kRename,
                    Step::kDirectoryFsync}) {
    SCOPED_TRACE("failing step " + std::to_string(static_cast<int>(step)));
    const std::string before = h.committed();
    const std::string snapshot = h.snapshot();
    const Artifact artifact = testing::logistic_artifact(1000 + static_cast<int>(step));
    const fs::path final_path = h.artifacts->path_of(detail::sha256_hex(artifact.bytes));
    ops->fail = step;
    std::string error;
    try {
      h.registry->register_version(kModel, artifact, {});
    } catch (const StorageError& e) {
      error = e.what();
    }
    ops->fail = Step::kNone;
    ASSERT_FALSE(error.empty());
    EXPECT_NE(error.find(final_path.parent_path().string()), std::string::npos)
        << "error does not name the file: " << error;
    EXPECT_EQ(h.committed(), before);
    EXPECT_EQ(h.snapshot(), snapshot);
    // No temporary file is left, and no torn file sits under the final name.
    for (const auto& entry : fs::directory_iterator(final_path.parent_path())) {
      EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos)
          << "left behind: " << entry.path();
    }
    if (step != Step::kDirectoryFsync) {
      EXPECT_FALSE(fs::exists(final_path)) << "a failed put left " << final_path;
    }
    EXPECT_NO_THROW(h.registry->register_version(kModel, artifact, {}));
    EXPECT_EQ(h.artifacts->read(h.registry->latest(kModel)->artifact), artifact.bytes);
  }
}

}  // namespace fault_injection_test
}  // namespace
}  // namespace switchyard
