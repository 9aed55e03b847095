// SPDX-License-Identifier: Apache-2.0
// Crash consistency of rollout state: a forked child runs rollouts against a SQLite store (a
// version registered and moved to Staging, its rollout recorded as running, then promoted or
// rolled back with the rollout row written in the transition's own transaction) and acknowledges
// each write with the rollout's revision; the parent kills it with SIGKILL at a random moment
// and checks the reopened store: the rollout row holds the last acknowledged revision or the one
// in flight, never less, and its status always agrees with its candidate's stage (running:
// Staging, promoted: Production, rolled back: Rejected), so no crash separates a registry change
// from the rollout state that caused it. The next child continues on the same file.
//
// SWITCHYARD_CRASH_KILLS sets the number of kills (default 30); SWITCHYARD_SEED replays a run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>

#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/rollout_lease.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

#include "reliability/reliability_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace rollout_crash_test {

namespace fs = std::filesystem;
using testing::env_count;
using testing::WorkerMessage;

constexpr const char* kModel = "fraud-detection";

/// The child: runs rollouts until killed, acknowledging the revision of every committed write.
[[noreturn]] void child_main(const fs::path& dir, std::uint64_t seed, int ack_fd) {
  std::int64_t op = 0;
  try {
    SqliteRegistryStore store({.path = (dir / "registry.db").string()});
    ArtifactStore artifacts(dir / "artifacts");
    ManualClock clock;
    ModelRegistry registry({.store = &store, .artifacts = &artifacts, .clock = &clock});
    std::mt19937_64 rng(seed);
    const RolloutLease lease =
        acquire_rollout_lease(store, kModel, "crash-test", clock.now(), std::chrono::hours(24));
    RolloutRecord r = store.load_rollout(kModel).value_or(RolloutRecord{});
    auto acknowledge = [&](std::int64_t revision) {
      WorkerMessage ack;
      ack.op = op++;
      ack.value = revision;
      if (!testing::write_all(ack_fd, &ack, sizeof ack)) ::_exit(4);
    };
    auto write_in = [&](RegistryTransaction& tx, RolloutRecord next) {
      require_rollout_lease(tx, lease, clock.now());
      tx.put_rollout(next);
    };
    for (;;) {
      const auto v = registry
                         .register_version(kModel, testing::logistic_artifact(1.0 + op),
                                           {.metrics = {{"auc", 0.9}}}, {.actor = "ci"})
                         ->version;
      registry.transition(kModel, v, Stage::kStaging, {.actor = "ci"});
      RolloutRecord next = r;
      next.deployment = kModel;
      next.model = kModel;
      next.candidate_version = v;
      next.status = RolloutStatus::kRunning;
      next.step = 0;
      next.revision += 1;
      next.decisions.push_back({clock.now(), 0, "start", "crash-test", "op " + std::to_string(op)});
      {
        auto tx = store.begin();
        write_in(*tx, next);
        tx->commit();
      }
      r = next;
      acknowledge(r.revision);
      const bool promote = rng() % 2 == 0;
      next.status = promote ? RolloutStatus::kPromoted : RolloutStatus::kRolledBack;
      next.revision += 1;
      next.decisions.push_back({clock.now(), 1, promote ? "promote" : "rollback", "crash-test",
                                "op " + std::to_string(op)});
      registry.transition(kModel, v, promote ? Stage::kProduction : Stage::kRejected,
                          {.actor = "crash-test",
                           .in_transaction = [&](RegistryTransaction& tx) { write_in(tx, next); }});
      r = next;
      acknowledge(r.revision);
    }
  } catch (const std::exception& e) {
    const WorkerMessage m = WorkerMessage::failure(op, e.what());
    testing::write_all(ack_fd, &m, sizeof m);
  }
  ::_exit(3);
}

TEST(RolloutCrashTest, sigkill_never_separates_rollout_state_from_the_stage_it_caused) {
  const std::int64_t kills = env_count("SWITCHYARD_CRASH_KILLS", 30);
  const std::uint64_t seed = testing::test_seed();
  std::cout << "[ crash    ] " << kills << " kills, SWITCHYARD_SEED=" << seed << std::endl;
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  std::int64_t acknowledged = 0, in_flight_committed = 0;
  for (std::int64_t kill = 0; kill < kills; ++kill) {
    SCOPED_TRACE("kill " + std::to_string(kill));
    testing::Pipe pipe;
    const std::uint64_t child_seed = rng();
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      pipe.close_read();
      child_main(dir.path(), child_seed, pipe.write_end());
    }
    pipe.close_write();
    // Let it acknowledge a few writes, then kill it wherever it is.
    const std::int64_t wait_for = 1 + static_cast<std::int64_t>(rng() % 6);
    std::int64_t last = -1;
    for (std::int64_t i = 0; i < wait_for; ++i) {
      WorkerMessage m;
      ASSERT_TRUE(testing::read_all(pipe.read_end(), &m, sizeof m)) << "the child died";
      ASSERT_EQ(m.failed, 0) << m.text;
      last = m.value;
    }
    ::kill(pid, SIGKILL);
    WorkerMessage m;
    while (testing::read_all(pipe.read_end(), &m, sizeof m)) {
      ASSERT_EQ(m.failed, 0) << m.text;
      last = m.value;
    }
    testing::wait_for(pid);
    acknowledged += 1;

    SqliteRegistryStore store({.path = (dir.path() / "registry.db").string()});
    const auto r = store.load_rollout(kModel);
    ASSERT_TRUE(r);
    EXPECT_GE(r->revision, last) << "an acknowledged rollout write was lost";
    EXPECT_LE(r->revision, last + 1) << "a write nobody made appeared";
    in_flight_committed += r->revision == last + 1;
    EXPECT_EQ(static_cast<std::int64_t>(r->decisions.size()), r->revision)
        << "one decision per write, none half-written";
    const StoreState state = store.load_models({kModel});
    Stage stage = Stage::kDevelopment;
    for (const auto& v : state.versions) {
      if (v.version == r->candidate_version) stage = v.stage;
    }
    const Stage expected = r->status == RolloutStatus::kRunning    ? Stage::kStaging
                           : r->status == RolloutStatus::kPromoted ? Stage::kProduction
                                                                   : Stage::kRejected;
    EXPECT_EQ(stage, expected) << "rollout " << to_string(r->status) << " of version "
                               << r->candidate_version << " but the version is "
                               << to_string(stage);
    if (::testing::Test::HasFailure()) break;
  }
  std::cout << "[ crash    ] " << acknowledged << " kills checked, " << in_flight_committed
            << " with the in-flight write committed" << std::endl;
}

}  // namespace rollout_crash_test
}  // namespace
}  // namespace switchyard
