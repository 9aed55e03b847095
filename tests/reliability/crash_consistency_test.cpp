// SPDX-License-Identifier: Apache-2.0
// Crash consistency: a forked child runs registry operations in a loop (register with artifact,
// transition, alias, rollback) and acknowledges each one through a pipe; the parent kills it with
// SIGKILL at a random moment and checks the reopened store against a reference registry that
// applied exactly the acknowledged operations: the store must equal that reference, or the
// reference plus the one operation in flight; every referenced artifact verifies, every file
// under an artifact name holds exactly its content, and the next child's writes succeed.
//
// SWITCHYARD_CRASH_KILLS sets the number of kills (default 200; scripts/crash-test.sh runs
// 1,000 or more); SWITCHYARD_SEED replays a run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <vector>

#include "reliability/faulty_vfs.hpp"
#include "reliability/reliability_support.hpp"
#include "support/raw_db.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace crash_consistency_test {

namespace fs = std::filesystem;
using testing::env_count;
using testing::WorkerMessage;

constexpr const char* kModels[] = {"fraud-detection", "churn-model"};
// The first model's versions have 2 KiB of weights, kept in the store; the second's 8 KiB, written
// as files (artifact writes take a while to land in), so a kill can hit either path.
constexpr std::size_t kStoreLimit = 4096;
int features_for(const std::string& model) { return model == kModels[0] ? 256 : 1024; }

// A logistic model whose every weight depends on `op`, so each registration writes a new artifact.
Artifact artifact_for(const std::string& model, std::int64_t op) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(op) * 0x9E3779B97F4A7C15ull);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const int features = features_for(model);
  Eigen::MatrixXd w(features, 1);
  for (int i = 0; i < features; ++i) w(i, 0) = u(rng);
  return {std::string(kLinearFormat),
          LogisticModel(w, Eigen::VectorXd::Constant(1, u(rng)), {"legit", "fraud"}).to_artifact()};
}

/// Operation `op` of a run: what it does depends only on (seed, op) and the registry's state, so
/// the child and the parent's reference, holding equal states, do the same thing.
void apply_op(ModelRegistry& r, ManualClock& clock, std::uint64_t seed, std::int64_t op) {
  clock.set(from_unix_nanos(1'700'000'000'000'000'000 + op * 1'000'000));
  std::mt19937_64 rng(seed ^ (static_cast<std::uint64_t>(op) * 0xD1B54A32D192ED03ull));
  const std::string model = kModels[rng() % 2];
  const ChangeContext ctx{.actor = "crash-test", .reason = "op " + std::to_string(op)};
  const auto models = r.models();
  const bool exists = std::find(models.begin(), models.end(), model) != models.end();
  auto register_one = [&] {
    VersionMetadata m;
    m.metrics = {{"auc", 0.5 + static_cast<double>(op % 1000) / 2000.0}};
    m.tags = {{"op", std::to_string(op)}};
    r.register_version(model, artifact_for(model, op), m, ctx);
  };
  const auto kind = rng() % 10;
  if (!exists || kind < 4) return register_one();
  const auto all = r.versions(model);
  const auto pick = [&] { return all[rng() % all.size()]->version; };
  switch (kind) {
    case 4:
    case 5: {  // move something along the lifecycle
      auto dev = r.versions(model, Stage::kDevelopment);
      auto staging = r.versions(model, Stage::kStaging);
      if (!staging.empty()) {
        r.transition(model, staging.front()->version, Stage::kProduction,
                     {.actor = ctx.actor, .reason = ctx.reason});
      } else if (!dev.empty()) {
        r.transition(model, dev.back()->version, Stage::kStaging, {.actor = ctx.actor});
      } else {
        register_one();
      }
      return;
    }
    case 6:
    case 7:
      r.set_alias(model, rng() % 2 ? "champion" : "challenger", pick(), ctx);
      return;
    case 8:
      try {
        r.rollback(model, ctx);
      } catch (const InvalidTransition&) {
        // Nothing to roll back to: refused identically by the child and the reference.
      }
      return;
    default: {
      auto aliases = r.aliases(model);
      if (aliases.empty()) return register_one();
      r.remove_alias(model, aliases.begin()->first, ctx);
      return;
    }
  }
}

/// The child: opens the store and applies operations from `first_op` on, acknowledging each, until
/// it is killed. Never returns.
[[noreturn]] void child_main(const fs::path& dir, std::uint64_t seed, std::int64_t first_op,
                             int ack_fd) {
  std::int64_t op = first_op;
  try {
    SqliteRegistryStore store({.path = (dir / "registry.db").string()});
    ArtifactStore artifacts(dir / "artifacts");
    ManualClock clock;
    ModelRegistry registry({.store = &store,
                            .artifacts = &artifacts,
                            .clock = &clock,
                            .max_store_artifact_bytes = kStoreLimit});
    for (;; ++op) {
      apply_op(registry, clock, seed, op);
      WorkerMessage ack;
      ack.op = op;
      ack.value = store.changes_since(0).second;
      if (!testing::write_all(ack_fd, &ack, sizeof ack)) ::_exit(4);
    }
  } catch (const std::exception& e) {
    const WorkerMessage m = WorkerMessage::failure(op, e.what());
    testing::write_all(ack_fd, &m, sizeof m);
  }
  ::_exit(3);
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// The model every acknowledged operation is applied to, in memory.
struct Reference {
  explicit Reference(const fs::path& dir)
      : artifacts(dir,
                  ArtifactStore::Options{.file_ops = std::make_shared<testing::NoSyncFileOps>()}) {}
  ManualClock clock;
  InMemoryRegistryStore store;
  ArtifactStore artifacts;
  ModelRegistry registry{{.store = &store,
                          .artifacts = &artifacts,
                          .clock = &clock,
                          .max_store_artifact_bytes = kStoreLimit}};
};

struct Tally {
  std::int64_t kills = 0, acknowledged = 0, in_flight_committed = 0;
  std::int64_t checked_in_store = 0, checked_as_files = 0;  // artifact reads verified
  std::set<std::string> orphan_temporaries;  // temporary artifact files left by killed writers
};

/// Checks the artifacts: every version's reads back verified, wherever it is kept, and every
/// file under an artifact name hashes to that name. Counts temporary files left by killed writers.
void check_artifacts(const fs::path& root, const ModelRegistry& registry, Tally& tally) {
  ArtifactStore artifacts(root);
  for (const auto& name : registry.models()) {
    for (const auto& v : registry.versions(name)) {
      EXPECT_NO_THROW((void)registry.read_artifact(name, v->version))
          << "model '" << name << "' version " << v->version << " has a broken artifact";
      ++(v->artifact.in_store() ? tally.checked_in_store : tally.checked_as_files);
    }
  }
  for (const auto& sha : artifacts.list()) {
    EXPECT_EQ(detail::sha256_hex(read_bytes(artifacts.path_of(sha))), sha)
        << "a half-written file sits under the final name " << artifacts.path_of(sha);
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root / "sha256", ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().string();
    if (name.find(".tmp.") != std::string::npos) tally.orphan_temporaries.insert(name);
  }
}

TEST(CrashConsistencyTest, sigkill_at_random_moments_keeps_a_prefix_of_acknowledged_operations) {
  const std::int64_t kills = env_count("SWITCHYARD_CRASH_KILLS", 200);
  const std::int64_t kills_per_store = 25;  // a fresh store now and then keeps checks fast
  const std::uint64_t seed = testing::test_seed();
  std::cout << "[ crash    ] " << kills << " kills, SWITCHYARD_SEED=" << seed << std::endl;
  std::mt19937_64 rng(seed);
  Tally tally;
  std::chrono::nanoseconds mean_op{std::chrono::milliseconds(2)};

  while (tally.kills < kills) {
    testing::TempDir dir;
    const fs::path store_dir = dir.path() / "store";
    fs::create_directories(store_dir);
    Reference ref(dir.path() / "reference-artifacts");
    std::int64_t next_op = 1;
    for (std::int64_t k = 0; k < kills_per_store && tally.kills < kills; ++k) {
      testing::Pipe pipe;
      const pid_t pid = ::fork();
      ASSERT_GE(pid, 0) << "fork failed";
      if (pid == 0) {
        pipe.close_read();
        child_main(store_dir, seed, next_op, pipe.write_end());
      }
      pipe.close_write();

      // The kill moment: after a random number of acknowledgements, then a random spin of up to
      // two operations' time, so it lands between operations as often as inside one.
      const std::int64_t wait_acks = static_cast<std::int64_t>(rng() % 6);
      std::vector<WorkerMessage> acks;
      WorkerMessage m;
      auto last = std::chrono::steady_clock::now();
      bool child_failed = false;
      while (static_cast<std::int64_t>(acks.size()) < wait_acks) {
        if (!testing::read_all(pipe.read_end(), &m, sizeof m)) break;
        if (m.failed) {
          child_failed = true;
          break;
        }
        const auto now = std::chrono::steady_clock::now();
        mean_op = (mean_op * 7 + (now - last)) / 8;
        last = now;
        acks.push_back(m);
      }
      const auto spin = std::chrono::nanoseconds(
          static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(2 * mean_op.count() + 1)));
      const auto until = std::chrono::steady_clock::now() + spin;
      while (std::chrono::steady_clock::now() < until) {
      }
      ::kill(pid, SIGKILL);
      const std::string how = testing::wait_for(pid);
      // Acknowledgements the child wrote before it died count too.
      while (!child_failed && testing::read_all(pipe.read_end(), &m, sizeof m)) {
        if (m.failed) {
          child_failed = true;
          break;
        }
        acks.push_back(m);
      }
      ASSERT_FALSE(child_failed) << "operation " << m.op << " failed in the child: " << m.text;
      ASSERT_EQ(how, "signal 9") << "the child ended on its own";
      ++tally.kills;

      for (const auto& ack : acks) {
        ASSERT_EQ(ack.op, next_op) << "acknowledgements out of order";
        apply_op(ref.registry, ref.clock, seed, next_op++);
        ++tally.acknowledged;
      }

      // Reopen and compare: the acknowledged prefix, or that plus the operation in flight.
      SqliteRegistryStore store({.path = (store_dir / "registry.db").string()});
      ArtifactStore artifacts(store_dir / "artifacts");
      ModelRegistry reopened({.store = &store, .artifacts = &artifacts});
      const std::string actual = reopened.export_json();
      if (actual != ref.registry.export_json()) {
        apply_op(ref.registry, ref.clock, seed, next_op++);
        ++tally.in_flight_committed;
        ASSERT_EQ(actual, ref.registry.export_json())
            << "after kill " << tally.kills << " (operation " << next_op - 1
            << " in flight) the store is neither the acknowledged prefix nor one operation more";
      }
      ASSERT_EQ(reopened.models(), ref.registry.models());
      check_artifacts(store_dir / "artifacts", reopened, tally);
      if (::testing::Test::HasFailure()) return;
    }
    // A final write on the survivor of the last kill, through a fresh registry.
    SqliteRegistryStore store({.path = (store_dir / "registry.db").string()});
    ArtifactStore artifacts(store_dir / "artifacts");
    ManualClock clock;
    ModelRegistry survivor({.store = &store,
                            .artifacts = &artifacts,
                            .clock = &clock,
                            .max_store_artifact_bytes = kStoreLimit});
    apply_op(survivor, clock, seed, next_op);
    apply_op(ref.registry, ref.clock, seed, next_op);
    EXPECT_EQ(survivor.export_json(), ref.registry.export_json());
  }
  std::cout << "[ crash    ] kills survived: " << tally.kills
            << ", acknowledged operations: " << tally.acknowledged
            << ", kills with the operation in flight committed: " << tally.in_flight_committed
            << ", orphaned temporary artifact files seen: " << tally.orphan_temporaries.size()
            << ", artifact reads verified: " << tally.checked_in_store << " in the store and "
            << tally.checked_as_files << " as files" << std::endl;
  ::testing::Test::RecordProperty("kills", static_cast<int>(tally.kills));
  ::testing::Test::RecordProperty("acknowledged", static_cast<int>(tally.acknowledged));
  EXPECT_EQ(tally.kills, kills);
  EXPECT_GT(tally.acknowledged, 0);
  EXPECT_GT(tally.checked_in_store, 0);
  EXPECT_GT(tally.checked_as_files, 0);
}

// Found by the random-kill test above in CI: a process killed while creating the store leaves a
// hot rollback journal beside a non-empty file. The next open measured the file's size before
// SQLite rolled that journal back (emptying the file) and refused the store as truncated. Here the
// creating process dies before each of its writes, truncations, syncs and deletions in turn, and
// every crash point must leave a file that opens as an empty store.
TEST(CrashConsistencyTest, killed_at_any_point_while_creating_the_store_leaves_an_empty_store) {
  int crash_points = 0;
  for (int nth = 1; nth < 1000; ++nth) {
    SCOPED_TRACE("killed at file change " + std::to_string(nth));
    testing::TempDir dir;
    const std::string path = (dir.path() / "registry.db").string();
    testing::FaultyVfs::instance();  // registered before the fork, so the child need not
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      testing::FaultyVfs::instance().exit_at_change(nth);
      try {
        SqliteRegistryStore store({.path = path, .vfs_name = testing::FaultyVfs::kName});
      } catch (...) {
        _exit(2);
      }
      _exit(0);
    }
    const std::string how = testing::wait_for(pid);
    ASSERT_NE(how, "exit 2") << "creating the store failed in the child";
    try {
      SqliteRegistryStore reopened({.path = path});
      EXPECT_TRUE(reopened.load().versions.empty());
    } catch (const Error& e) {
      ADD_FAILURE() << "the store a crashed creator left is refused: " << e.what();
    }
    if (how == "exit 0") break;  // the creator finished before its nth change: all points tried
    ASSERT_EQ(how, "exit " + std::to_string(testing::FaultyVfs::kExited));
    ++crash_points;
  }
  std::cout << "[ crash    ] crash points while creating a store: " << crash_points << std::endl;
  EXPECT_GE(crash_points, 3);
}

// Schema version 3 added the audit_evidence table. A process opening a version 2 store migrates
// it; killed before each of its file changes in turn, it must leave a store the next open
// migrates (or finds migrated) with every row the version 2 store had.
TEST(CrashConsistencyTest, killed_at_any_point_while_migrating_a_version_2_store_loses_no_row) {
  testing::TempDir dir;
  const fs::path v2 = dir.path() / "version-2.db";
  const fs::path artifacts = dir.path() / "artifacts";
  auto exported = [&](const fs::path& db) {
    SqliteRegistryStore store({.path = db.string()});
    ArtifactStore a(artifacts);
    ManualClock clock;
    ModelRegistry r({.store = &store, .artifacts = &a, .clock = &clock});
    return r.export_json();
  };
  std::string expected;
  {
    SqliteRegistryStore store({.path = v2.string()});
    ArtifactStore a(artifacts);
    ManualClock clock;
    ModelRegistry r({.store = &store, .artifacts = &a, .clock = &clock});
    for (std::int64_t op = 1; op <= 3; ++op) {
      const auto v = r.register_version(kModels[0], artifact_for(kModels[0], op), {})->version;
      r.transition(kModels[0], v, Stage::kStaging);
      r.transition(kModels[0], v, Stage::kProduction);
    }
    r.set_alias(kModels[0], "champion", 3);
    expected = r.export_json();
  }
  {
    testing::RawDb raw(v2);  // what schema version 2 looked like
    testing::downgrade_schema(raw, 2);
  }
  int crash_points = 0;
  for (int nth = 1; nth < 1000; ++nth) {
    SCOPED_TRACE("killed at file change " + std::to_string(nth));
    const fs::path path = dir.path() / "registry.db";
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      fs::remove(path.string() + suffix);
    }
    fs::copy_file(v2, path);
    testing::FaultyVfs::instance();  // registered before the fork, so the child need not
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      testing::FaultyVfs::instance().exit_at_change(nth);
      try {
        SqliteRegistryStore store({.path = path.string(), .vfs_name = testing::FaultyVfs::kName});
      } catch (...) {
        _exit(2);
      }
      _exit(0);
    }
    const std::string how = testing::wait_for(pid);
    ASSERT_NE(how, "exit 2") << "migrating the store failed in the child";
    try {
      EXPECT_EQ(exported(path), expected);
      EXPECT_EQ(testing::RawDb(path).text("PRAGMA user_version"),
                std::to_string(kSqliteSchemaVersion));
    } catch (const Error& e) {
      ADD_FAILURE() << "the store a crashed migration left is refused: " << e.what();
    }
    if (how == "exit 0") break;  // the child finished before its nth change: all points tried
    ASSERT_EQ(how, "exit " + std::to_string(testing::FaultyVfs::kExited));
    ++crash_points;
  }
  std::cout << "[ crash    ] crash points while migrating a store: " << crash_points << std::endl;
  EXPECT_GE(crash_points, 2);
}

}  // namespace crash_consistency_test
}  // namespace
}  // namespace switchyard
