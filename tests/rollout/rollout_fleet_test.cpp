// SPDX-License-Identifier: Apache-2.0
// RolloutFollower and RolloutStandby on one SQLite store, time on the fixture's ManualClock:
// replicas serve the leader's table at every generation (same arms, weights, fallback, and the
// same variant for every key), final states end with the leader's table even where a
// RegistryBinding republishes, a superseded rollout leaves serving to the binding; one leader at a
// time, heartbeats that keep the revision, and a takeover at the persisted step whose decisions
// match an uninterrupted run's.
#include <switchyard/rollout/rollout_follower.hpp>
#include <switchyard/rollout/rollout_standby.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <switchyard/core/model_source.hpp>
#include <switchyard/serving/registry_binding.hpp>

#include "support/fake_models.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace rollout_fleet_test {

using namespace std::chrono_literals;
using testing::ConstantModel;

constexpr const char* kModel = "fraud-detection";

// One replica: its own Deployment (bound to the registry), CanaryMetrics and controller.
struct Replica {
  std::unique_ptr<Deployment> deployment;
  std::unique_ptr<RegistryBinding> binding;
  std::shared_ptr<CanaryMetrics> metrics;
  std::unique_ptr<CanaryController> controller;
  std::unique_ptr<RolloutFollower> follower;
  std::unique_ptr<RolloutStandby> standby;
};

struct Fleet {
  testing::RegistryFixture f;
  StaticModelSource source;
  std::int64_t stable = 0, candidate = 0;
  std::vector<std::unique_ptr<Replica>> replicas;

  explicit Fleet(int n) {
    stable = f.add_production(kModel, 0.9, 1);
    candidate = f.add(kModel, 0.91, 2);
    f.registry->transition(kModel, candidate, Stage::kStaging, {.actor = "ci"});
    source.add(kModel, stable, std::make_shared<ConstantModel>(0, 0.9));
    source.add(kModel, candidate, std::make_shared<ConstantModel>(1, 0.8));
    for (int i = 0; i < n; ++i) add_replica("replica-" + std::to_string(i));
  }
  Replica& add_replica(const std::string& owner) {
    auto r = std::make_unique<Replica>();
    r->deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = &source, .check_signatures = false});
    RoutingPolicy base;
    base.seed = "fleet-seed";
    r->binding = std::make_unique<RegistryBinding>(RegistryBinding::Options{
        .registry = f.registry.get(), .deployment = r->deployment.get(), .base = base});
    r->metrics = std::make_shared<CanaryMetrics>(
        CanaryMetrics::Options{.versions = {stable, candidate}, .clock = &f.clock});
    r->controller = std::make_unique<CanaryController>(
        CanaryController::Options{.deployment = r->deployment.get(),
                                  .registry = f.registry.get(),
                                  .metrics = r->metrics.get(),
                                  .clock = &f.clock,
                                  .owner = owner,
                                  .lease_ttl = 1s});
    r->follower = std::make_unique<RolloutFollower>(
        RolloutFollower::Options{.registry = f.registry.get(),
                                 .deployment = r->deployment.get(),
                                 .controller = r->controller.get(),
                                 .binding = r->binding.get(),
                                 .background = false});
    r->standby = std::make_unique<RolloutStandby>(
        RolloutStandby::Options{.controller = r->controller.get(),
                                .registry = f.registry.get(),
                                .follower = r->follower.get(),
                                .heartbeat = 250ms,
                                .retry_every = 250ms});
    replicas.push_back(std::move(r));
    return *replicas.back();
  }
  // Guardrail-free steps: each pause passes once its time is up.
  CanaryPlan plan() const {
    CanaryPlan p;
    p.name = kModel;
    p.model = kModel;
    p.candidate_version = candidate;
    p.steps = {CanaryStep::set_weight(10), CanaryStep::pause(2s), CanaryStep::set_weight(50),
               CanaryStep::pause(2s)};
    p.interval = 250ms;
    p.guardrails = {};
    return p;
  }
};

// The variant every one of `keys` keys gets on `d`.
std::vector<std::int64_t> assignment(const Deployment& d, int keys) {
  std::vector<std::int64_t> out;
  const auto table = d.router().table();
  for (int k = 0; k < keys; ++k) {
    RouteReason reason{};
    const RoutedVariant* v = table->split("user-" + std::to_string(k), reason);
    out.push_back(v ? v->version : -1);
  }
  return out;
}

void expect_same_table(const Deployment& leader, const Deployment& replica) {
  const RoutingPolicy a = leader.router().policy();
  const RoutingPolicy b = replica.router().policy();
  ASSERT_EQ(a.variants.size(), b.variants.size());
  for (std::size_t i = 0; i < a.variants.size(); ++i) {
    EXPECT_EQ(a.variants[i].name, b.variants[i].name);
    EXPECT_EQ(a.variants[i].version, b.variants[i].version);
    EXPECT_EQ(a.variants[i].weight, b.variants[i].weight);
  }
  EXPECT_EQ(a.fallback_variant, b.fallback_variant);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(assignment(leader, 2000), assignment(replica, 2000));
}

// The decisions as (action, step), without times and actors.
std::vector<std::pair<std::string, std::int64_t>> story(const RolloutRecord& r) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& d : r.decisions) out.emplace_back(d.action, d.step);
  return out;
}

TEST(RolloutFleetTest, a_replica_serves_the_leaders_table_at_every_generation) {
  Fleet fleet(2);
  Replica& leader = *fleet.replicas[0];
  Replica& replica = *fleet.replicas[1];
  ASSERT_EQ(leader.standby->start(fleet.plan()), RolloutAction::kAdvanced);
  std::int64_t last_generation = 0;
  int generations = 0;
  for (int i = 0; i < 40 && fleet.f.registry->get(kModel, fleet.candidate)->stage ==
                                Stage::kStaging;
       ++i) {
    fleet.f.clock.advance(250ms);
    leader.standby->tick();
    replica.standby->tick();
    const RolloutFollowerStatus s = replica.follower->sync();
    const RolloutRecord led = *leader.controller->record();
    EXPECT_FALSE(s.driven_here);
    EXPECT_EQ(s.applied_revision, led.revision);
    EXPECT_EQ(replica.follower->applied_revision(), led.revision);
    EXPECT_EQ(s.weights, led.weights);
    EXPECT_TRUE(leader.follower->sync().driven_here);
    EXPECT_EQ(leader.follower->applied_revision(), led.revision);
    expect_same_table(*leader.deployment, *replica.deployment);
    if (s.applied_revision != last_generation) ++generations;
    last_generation = s.applied_revision;
  }
  EXPECT_GE(generations, 3);  // 10 %, 50 %, promoted
  EXPECT_EQ(leader.controller->record()->status, RolloutStatus::kPromoted);
  // The replica's binding saw the promotion and republished; the follower restores the
  // leader's table (the promoted version with the previous one as fallback).
  (void)replica.binding->sync();
  replica.follower->sync();
  expect_same_table(*leader.deployment, *replica.deployment);
  EXPECT_EQ(replica.deployment->router().policy().fallback_variant, "previous");
}

TEST(RolloutFleetTest, two_independent_deployments_fed_the_same_record_route_every_key_alike) {
  Fleet fleet(1);
  Replica& leader = *fleet.replicas[0];
  leader.standby->start(fleet.plan());
  // Two deployments that never saw a controller, each with a follower, fed the same record.
  Replica& a = fleet.add_replica("replica-a");
  Replica& b = fleet.add_replica("replica-b");
  a.follower->sync();
  b.follower->sync();
  expect_same_table(*a.deployment, *b.deployment);
  expect_same_table(*leader.deployment, *a.deployment);
  const auto keys = assignment(*a.deployment, 5000);
  std::size_t on_candidate = 0;
  for (auto v : keys) on_candidate += v == fleet.candidate ? 1 : 0;
  // 10 % of 5,000 keys, give or take the hash's spread.
  EXPECT_GT(on_candidate, 350u);
  EXPECT_LT(on_candidate, 650u);
}

TEST(RolloutFleetTest, a_rolled_back_rollout_ends_with_the_leaders_table_everywhere) {
  Fleet fleet(2);
  Replica& leader = *fleet.replicas[0];
  Replica& replica = *fleet.replicas[1];
  leader.standby->start(fleet.plan());
  replica.follower->sync();
  leader.controller->rollback("oncall", "p99 over SLA");
  const RolloutFollowerStatus s = replica.follower->sync();
  EXPECT_EQ(s.status, RolloutStatus::kRolledBack);
  EXPECT_FALSE(s.superseded);
  (void)replica.binding->sync();
  replica.follower->sync();
  expect_same_table(*leader.deployment, *replica.deployment);
  for (const auto& v : replica.deployment->router().policy().variants) {
    if (v.version == fleet.candidate) {
      EXPECT_EQ(v.weight, 0.0);
    }
  }
}

TEST(RolloutFleetTest, a_superseded_rollout_leaves_serving_to_the_binding) {
  Fleet fleet(2);
  Replica& leader = *fleet.replicas[0];
  Replica& replica = *fleet.replicas[1];
  leader.standby->start(fleet.plan());
  ASSERT_EQ(leader.controller->promote_now("alice"), RolloutAction::kPromoted);
  replica.follower->sync();
  expect_same_table(*leader.deployment, *replica.deployment);
  // A manual rollback in the registry later: the promoted version leaves Production.
  fleet.f.registry->rollback(kModel, {.actor = "oncall", .reason = "bad day"});
  const RolloutFollowerStatus s = replica.follower->sync();
  EXPECT_TRUE(s.superseded);
  const RoutingPolicy p = replica.deployment->router().policy();
  ASSERT_EQ(p.variants.size(), 1u);
  EXPECT_EQ(p.variants[0].version, fleet.stable);
  EXPECT_EQ(replica.binding->status().stable_version, fleet.stable);
}

TEST(RolloutFleetTest, one_leader_at_a_time_and_heartbeats_keep_the_revision) {
  Fleet fleet(2);
  Replica& leader = *fleet.replicas[0];
  Replica& standby = *fleet.replicas[1];
  leader.standby->start(CanaryPlan([&] {
    CanaryPlan p = fleet.plan();
    p.steps = {CanaryStep::set_weight(10), CanaryStep::pause(std::nullopt)};  // waits for a resume()
    return p;
  }()));
  const std::int64_t revision = leader.controller->record()->revision;
  for (int i = 0; i < 40; ++i) {  // ten seconds, ten lease lifetimes
    fleet.f.clock.advance(250ms);
    EXPECT_EQ(leader.standby->tick(), StandbyAction::kLed);
    const StandbyAction a = standby.standby->tick();
    EXPECT_TRUE(a == StandbyAction::kWaiting || a == StandbyAction::kIdle) << to_string(a);
  }
  EXPECT_EQ(leader.controller->record()->revision, revision);
  EXPECT_GE(leader.standby->status().renewals, 39u);
  EXPECT_EQ(standby.standby->status().takeovers, 0u);
  EXPECT_FALSE(standby.standby->status().leading);
  EXPECT_EQ(standby.standby->status().holder, "replica-0");
  // One attempt per lease expiry it learnt of, not one per tick.
  EXPECT_LE(standby.standby->status().attempts, 12u);
}

TEST(RolloutFleetTest, a_standby_resumes_a_dead_leaders_rollout_at_its_step_with_no_replay) {
  // The reference: the same plan, uninterrupted.
  std::vector<std::pair<std::string, std::int64_t>> reference;
  {
    Fleet fleet(1);
    Replica& only = *fleet.replicas[0];
    only.standby->start(fleet.plan());
    for (int i = 0; i < 60 && !is_final(only.controller->record()->status); ++i) {
      fleet.f.clock.advance(250ms);
      only.standby->tick();
    }
    ASSERT_EQ(only.controller->record()->status, RolloutStatus::kPromoted);
    reference = story(*only.controller->record());
  }

  Fleet fleet(3);
  Replica& leader = *fleet.replicas[0];
  leader.standby->start(fleet.plan());
  // Run into the first pause, then the leader dies (it is never ticked again).
  for (int i = 0; i < 4; ++i) {
    fleet.f.clock.advance(250ms);
    for (auto& r : fleet.replicas) r->standby->tick();
  }
  const RolloutRecord at_death = *fleet.f.store->load_rollout(kModel);
  ASSERT_EQ(at_death.status, RolloutStatus::kRunning);
  const TimePoint died = fleet.f.clock.now();
  Replica* successor = nullptr;
  Duration waited{};
  while (!successor && waited < 5s) {
    fleet.f.clock.advance(50ms);
    waited += 50ms;
    for (std::size_t i = 1; i < fleet.replicas.size(); ++i) {
      if (fleet.replicas[i]->standby->tick() == StandbyAction::kTookOver) {
        ASSERT_EQ(successor, nullptr) << "two replicas took over";
        successor = fleet.replicas[i].get();
      }
    }
  }
  ASSERT_NE(successor, nullptr);
  // The lease (1 s) ran out at most 1 s after the last heartbeat: resumed within ttl + a tick.
  EXPECT_LE(fleet.f.clock.now() - died, 1050ms);
  EXPECT_EQ(successor->controller->record()->step, at_death.step);
  EXPECT_GT(successor->controller->lease()->token, 1);
  for (auto& r : fleet.replicas) {
    if (r.get() != successor && r.get() != &leader) {
      EXPECT_EQ(r->standby->tick(), StandbyAction::kWaiting);
    }
  }
  for (int i = 0; i < 60 && !is_final(successor->controller->record()->status); ++i) {
    fleet.f.clock.advance(250ms);
    for (std::size_t k = 1; k < fleet.replicas.size(); ++k) fleet.replicas[k]->standby->tick();
  }
  const RolloutRecord done = *successor->controller->record();
  EXPECT_EQ(done.status, RolloutStatus::kPromoted);
  EXPECT_EQ(story(done), reference);
  // The old leader, back from the dead, is fenced off: its next tick finds the lease taken.
  EXPECT_EQ(leader.standby->tick(), StandbyAction::kLostLease);
  EXPECT_FALSE(leader.controller->lease());
  EXPECT_EQ(fleet.f.store->load_rollout(kModel)->revision, done.revision);
  // ... and it follows: its deployment ends with the new leader's table.
  leader.follower->sync();
  expect_same_table(*successor->deployment, *leader.deployment);
}

TEST(RolloutFleetTest, background_threads_follow_each_generation_and_take_over_unasked) {
  Fleet fleet(1);
  Replica& leader = *fleet.replicas[0];
  // A replica whose follower and standby run their own threads (time still on the ManualClock).
  Replica& replica = fleet.add_replica("replica-threads");
  replica.standby.reset();
  replica.follower = std::make_unique<RolloutFollower>(
      RolloutFollower::Options{.registry = fleet.f.registry.get(),
                               .deployment = replica.deployment.get(),
                               .controller = replica.controller.get(),
                               .binding = replica.binding.get(),
                               .poll_interval = 5ms});
  replica.standby = std::make_unique<RolloutStandby>(
      RolloutStandby::Options{.controller = replica.controller.get(),
                              .registry = fleet.f.registry.get(),
                              .follower = replica.follower.get(),
                              .background = true,
                              .tick_interval = 5ms});
  leader.standby->start(fleet.plan());
  for (int i = 0; i < 12; ++i) {
    fleet.f.clock.advance(250ms);
    leader.standby->tick();
    const std::int64_t generation = leader.controller->record()->revision;
    ASSERT_TRUE(replica.follower->wait_until(
        [&](const RolloutFollowerStatus& s) { return s.applied_revision == generation; }, 60s));
    expect_same_table(*leader.deployment, *replica.deployment);
  }
  // The leader stops; once its lease has expired the replica's own thread takes over.
  const std::int64_t step = fleet.f.store->load_rollout(kModel)->step;
  fleet.f.clock.advance(1s);
  ASSERT_TRUE(replica.standby->wait_until(
      [](const RolloutStandbyStatus& s) { return s.takeovers == 1 && s.leading; }, 60s));
  EXPECT_EQ(replica.controller->record()->step, step);
  ASSERT_TRUE(replica.follower->wait_until(
      [](const RolloutFollowerStatus& s) { return s.driven_here; }, 60s));
  replica.standby.reset();  // its thread stops before the controller it drives goes
}

}  // namespace rollout_fleet_test
}  // namespace
}  // namespace switchyard
