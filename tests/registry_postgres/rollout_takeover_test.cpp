// SPDX-License-Identifier: Apache-2.0
// One controller per rollout on PostgreSQL. In process: two replicas (each its own store,
// registry, deployment, controller, RolloutFollower and RolloutStandby) on one database and one
// ManualClock: the standby waits while the leader's heartbeats keep its lease, takes over at the
// persisted step once they stop, and both deployments end with the same table. Across processes:
// three forked replicas on real time; the leader is SIGKILLed twice mid-rollout, another replica
// resumes within the bound each time, and the plan ends promoted with one advance per step.
#include <switchyard/rollout/rollout_follower.hpp>
#include <switchyard/rollout/rollout_standby.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>

#include "../../benchmarks/postgres/fleet_takeover.hpp"
#include "registry_postgres/pg_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace rollout_takeover_test {

using namespace std::chrono_literals;
constexpr const char* kModel = fleet_takeover::kModel;

struct Replica {
  std::unique_ptr<PostgresRegistryStore> store;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<Deployment> deployment;
  std::shared_ptr<CanaryMetrics> metrics;
  std::unique_ptr<CanaryController> controller;
  std::unique_ptr<RolloutFollower> follower;
  std::unique_ptr<RolloutStandby> standby;

  Replica(const std::string& conninfo, ArtifactStore& artifacts, const Clock& clock,
          std::int64_t stable, std::int64_t candidate, const std::string& owner)
      : store(fleet_takeover::open_store(conninfo)),
        registry(std::make_unique<ModelRegistry>(ModelRegistry::Options{
            .store = store.get(), .artifacts = &artifacts, .clock = &clock})),
        deployment(std::make_unique<Deployment>(
            Deployment::Options{.model = kModel, .source = registry.get()})),
        metrics(std::make_shared<CanaryMetrics>(
            CanaryMetrics::Options{.versions = {stable, candidate}, .clock = &clock})) {
    controller = std::make_unique<CanaryController>(
        CanaryController::Options{.deployment = deployment.get(),
                                  .registry = registry.get(),
                                  .metrics = metrics.get(),
                                  .clock = &clock,
                                  .owner = owner,
                                  .lease_ttl = 1s});
    follower = std::make_unique<RolloutFollower>(
        RolloutFollower::Options{.registry = registry.get(),
                                 .deployment = deployment.get(),
                                 .controller = controller.get(),
                                 .background = false});
    standby = std::make_unique<RolloutStandby>(RolloutStandby::Options{
        .controller = controller.get(), .registry = registry.get(), .follower = follower.get()});
  }
};

TEST(RolloutTakeoverTest, a_standby_takes_over_on_postgresql_at_the_persisted_step) {
  pg_test::TempDatabase db;
  testing::TempDir dir;
  const std::int64_t candidate = fleet_takeover::prepare(db.conninfo(), dir.path().string());
  ArtifactStore artifacts(dir.path());
  ManualClock clock;
  clock.set(TimePoint{} + std::chrono::hours(24 * 365 * 50));
  Replica a(db.conninfo(), artifacts, clock, candidate - 1, candidate, "replica-a");
  Replica b(db.conninfo(), artifacts, clock, candidate - 1, candidate, "replica-b");
  fleet_takeover::Config config;
  config.kills = 1;
  const CanaryPlan plan = fleet_takeover::plan(config, candidate);
  ASSERT_EQ(a.standby->start(plan), RolloutAction::kAdvanced);
  for (int i = 0; i < 30; ++i) {  // 1.5 s: into the second pair of steps
    clock.advance(50ms);
    EXPECT_EQ(a.standby->tick(), StandbyAction::kLed);
    const StandbyAction w = b.standby->tick();
    EXPECT_TRUE(w == StandbyAction::kWaiting || w == StandbyAction::kIdle) << to_string(w);
  }
  b.follower->sync();
  EXPECT_EQ(b.follower->applied_revision(), a.controller->record()->revision);
  ASSERT_EQ(b.deployment->router().policy().variants.size(), 2u);
  EXPECT_EQ(b.deployment->router().policy().variants.at(1).weight,
            a.deployment->router().policy().variants.at(1).weight);
  const RolloutRecord at_death = *b.store->load_rollout(kModel);
  // `a` dies: it is never ticked again.
  Duration waited{};
  while (b.standby->tick() != StandbyAction::kTookOver) {
    ASSERT_LT(waited, 2s);
    clock.advance(50ms);
    waited += 50ms;
  }
  EXPECT_LE(waited, 1050ms);
  EXPECT_EQ(b.controller->record()->step, at_death.step);
  for (int i = 0; i < 400 && !is_final(b.controller->record()->status); ++i) {
    clock.advance(50ms);
    b.standby->tick();
  }
  const RolloutRecord done = *b.store->load_rollout(kModel);
  EXPECT_EQ(done.status, RolloutStatus::kPromoted);
  std::vector<std::string> story;
  for (const auto& d : done.decisions) story.push_back(d.action + "@" + std::to_string(d.step));
  EXPECT_EQ(story, fleet_takeover::expected_story(static_cast<std::int64_t>(plan.steps.size())));
  // The old leader is fenced off, then follows.
  EXPECT_EQ(a.standby->tick(), StandbyAction::kLostLease);
  a.registry->refresh();
  a.follower->sync();
  EXPECT_EQ(a.follower->applied_revision(), done.revision);
  EXPECT_EQ(a.deployment->router().policy().variants.at(0).version, candidate);
  EXPECT_EQ(a.deployment->router().policy().fallback_variant, "previous");
}

TEST(RolloutTakeoverTest, sigkilled_leaders_are_replaced_within_the_bound_with_no_replayed_step) {
  pg_test::TempDatabase db;
  fleet_takeover::Config config;
  config.conninfo = db.conninfo();
  config.replicas = 3;
  config.kills = 2;
  const fleet_takeover::Result r = fleet_takeover::run(config);
  ASSERT_EQ(r.takeover_ms.size(), 2u);
  for (std::size_t k = 0; k < r.takeover_ms.size(); ++k) {
    // Lease 1 s, heartbeat 250 ms: about 1 s expected; 5 s leaves room for a loaded CI machine.
    EXPECT_LE(r.takeover_ms[k], 5000.0) << "kill " << k;
    std::printf("kill %zu: resumed at step %lld after %.1f ms\n", k + 1,
                static_cast<long long>(r.resumed_at_step[k]), r.takeover_ms[k]);
    EXPECT_EQ(r.resumed_at_step[k], r.step_at_kill[k]) << "kill " << k;
  }
  EXPECT_EQ(r.final_status, RolloutStatus::kPromoted);
  EXPECT_EQ(r.decisions, r.expected);
  // Every replica (the replacements included) serves the final generation.
  EXPECT_EQ(r.final_applied, std::vector<std::int64_t>(3, r.final_revision));
}

}  // namespace rollout_takeover_test
}  // namespace
}  // namespace switchyard
