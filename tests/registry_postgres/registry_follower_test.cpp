// SPDX-License-Identifier: Apache-2.0
// Serving pushed by PostgreSQL: two replicas (each its own store, registry, registry-bound
// Deployment and RegistryFollower) on one database. A rollback or promotion on replica A is served
// by replica B without B calling refresh(); with the server stopped B keeps serving and reports
// staleness, and after a restart it catches up. Synchronised on the follower's attempts, never on timed waits.
#include <switchyard/serving/registry_follower.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>

#include "registry_postgres/pg_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kPatience = milliseconds(60'000);  // only a broken follower waits this long
const double kRow[3] = {1.0, 2.0, 3.0};
const std::string kModel = "fraud-detection";

/// One replica: its own store (connections), registry, deployment bound to Production, and
/// optionally a follower pushed by the store's notifications.
struct Replica {
  std::unique_ptr<PostgresRegistryStore> store;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<Deployment> deployment;
  std::unique_ptr<RegistryBinding> binding;
  std::unique_ptr<RegistryFollower> follower;

  Replica(const std::string& conninfo, ArtifactStore& artifacts, const Clock& clock)
      : store(std::make_unique<PostgresRegistryStore>(PostgresRegistryStore::Options{
            .conninfo = conninfo, .busy_timeout = milliseconds(30'000)})),
        registry(std::make_unique<ModelRegistry>(ModelRegistry::Options{
            .store = store.get(), .artifacts = &artifacts, .clock = &clock})) {}
  ~Replica() {
    follower.reset();  // before what it drives
    binding.reset();
  }

  /// `push`: the follower waits on the store's notification; otherwise it polls.
  void serve(RegistryFollower::Options options = {}, bool push = true) {
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = registry.get()});
    binding = std::make_unique<RegistryBinding>(
        RegistryBinding::Options{.registry = registry.get(), .deployment = deployment.get()});
    options.registry = registry.get();
    PostgresRegistryStore* s = store.get();
    if (push) options.wait_for_change = [s](milliseconds t) { return s->wait_for_change(t); };
    follower = std::make_unique<RegistryFollower>(std::move(options));
  }
  /// The version a request is answered by; 0 when it failed.
  std::int64_t served() {
    auto r = deployment->predict({.key = "user-1", .input = TensorView(kRow, Shape{1, 3})});
    return r.ok() ? r->version : 0;
  }
  std::int64_t promote(double seed) {
    VersionMetadata m;
    m.metrics = {{"auc", 0.9}};
    m.owner = "test";
    const auto v =
        registry->register_version(kModel, testing::logistic_artifact(seed), m, {.actor = "ci"})
            ->version;
    registry->transition(kModel, v, Stage::kStaging, {.actor = "ci"});
    registry->transition(kModel, v, Stage::kProduction, {.actor = "ci"});
    return v;
  }
};

struct Fleet {
  pg_test::TempDatabase db;
  testing::TempDir dir;
  ManualClock clock;
  ArtifactStore artifacts{dir.path() / "artifacts"};

  Fleet() = default;
  explicit Fleet(const std::string& server_url) : db(server_url) {}
  std::unique_ptr<Replica> replica() {
    return std::make_unique<Replica>(db.conninfo(), artifacts, clock);
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(RegistryFollowerTest, backoff_doubles_from_its_first_wait_up_to_the_cap) {
  const milliseconds first(50), cap(1000);
  EXPECT_EQ(follower_backoff(0, first, cap), milliseconds(0));
  EXPECT_EQ(follower_backoff(1, first, cap), milliseconds(50));
  EXPECT_EQ(follower_backoff(2, first, cap), milliseconds(100));
  EXPECT_EQ(follower_backoff(5, first, cap), milliseconds(800));
  EXPECT_EQ(follower_backoff(6, first, cap), cap);
  EXPECT_EQ(follower_backoff(1'000'000, first, cap), cap);
}

TEST(RegistryFollowerTest, bad_options_are_refused) {
  EXPECT_THROW(RegistryFollower({}), InvalidArgument);
  Fleet fleet;
  auto a = fleet.replica();
  EXPECT_THROW(RegistryFollower({.registry = a->registry.get(), .wait_slice = milliseconds(0)}),
               InvalidArgument);
  EXPECT_THROW(RegistryFollower({.registry = a->registry.get(),
                                 .backoff_initial = milliseconds(100),
                                 .backoff_max = milliseconds(10)}),
               InvalidArgument);
}

TEST(RegistryFollowerTest, a_rollback_on_one_replica_is_served_by_the_other_without_it_refreshing) {
  Fleet fleet;
  auto a = fleet.replica();
  const auto v1 = a->promote(1.0);
  const auto v2 = a->promote(2.0);
  auto b = fleet.replica();
  b->serve();
  ASSERT_EQ(b->served(), v2);
  ASSERT_TRUE(
      b->follower->wait_until([](const FollowerStatus& s) { return s.attempts >= 1; }, kPatience));
  const auto before = b->follower->status().changes;

  a->registry->rollback(kModel, {.actor = "oncall", .reason = "p99 over SLA"});
  // B never calls refresh(): its follower wakes on A's commit and B's binding republishes.
  ASSERT_TRUE(b->follower->wait_until([&](const FollowerStatus& s) { return s.changes > before; },
                                      kPatience));
  EXPECT_EQ(b->served(), v1);
  EXPECT_EQ(b->binding->status().stable_version, v1);

  // A promotion of a new version: B loads it (from the database) before serving it.
  const auto v3 = a->promote(3.0);
  ASSERT_TRUE(b->follower->wait_until(
      [&](const FollowerStatus&) { return b->binding->status().stable_version == v3; }, kPatience));
  EXPECT_EQ(b->served(), v3);

  const FollowerStatus s = b->follower->status();
  EXPECT_TRUE(s.reachable);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.staleness_seconds, 0.0) << "the manual clock has not moved";
  const std::string metrics = b->follower->to_prometheus();
  EXPECT_TRUE(contains(metrics, "# TYPE switchyard_registry_staleness_seconds gauge")) << metrics;
  EXPECT_TRUE(contains(metrics,
                       "switchyard_registry_reachable{store=\"" + b->store->describe() + "\"} 1\n"))
      << metrics;
}

TEST(RegistryFollowerTest, without_push_it_polls_and_still_follows) {
  Fleet fleet;
  auto a = fleet.replica();
  const auto v1 = a->promote(1.0);
  const auto v2 = a->promote(2.0);
  auto b = fleet.replica();
  b->serve({.wait_slice = milliseconds(5)}, /*push=*/false);
  ASSERT_EQ(b->served(), v2);
  a->registry->rollback(kModel, {.actor = "oncall"});
  ASSERT_TRUE(b->follower->wait_until(
      [&](const FollowerStatus&) { return b->binding->status().stable_version == v1; }, kPatience));
  EXPECT_EQ(b->served(), v1);
  EXPECT_EQ(b->follower->status().failures, 0u);
}

TEST(RegistryFollowerTest,
     server_down_keeps_serving_reports_staleness_and_catches_up_after_restart) {
  pg_test::ThrowawayServer server;
  Fleet fleet(server.url());
  auto a = fleet.replica();
  const auto v1 = a->promote(1.0);
  const auto v2 = a->promote(2.0);
  auto b = fleet.replica();
  b->serve({.backoff_initial = milliseconds(10), .backoff_max = milliseconds(200)});
  ASSERT_EQ(b->served(), v2);

  server.stop();
  ASSERT_TRUE(b->follower->wait_until(
      [](const FollowerStatus& s) { return !s.reachable && s.consecutive_failures >= 2; },
      kPatience));
  fleet.clock.advance(seconds(30));
  FollowerStatus down = b->follower->status();
  EXPECT_FALSE(down.reachable);
  EXPECT_GE(down.staleness_seconds, 30.0);
  EXPECT_GT(down.retry_in, milliseconds(0));
  EXPECT_TRUE(contains(down.error, b->store->describe())) << down.error;
  EXPECT_TRUE(contains(b->follower->to_prometheus(), "} 0\n")) << "reachable 0";
  // Availability first: B keeps answering from its last snapshot.
  for (int i = 0; i < 100; ++i) ASSERT_EQ(b->served(), v2);

  server.start();
  a->registry->rollback(kModel, {.actor = "oncall", .reason = "rolled back during the outage"});
  b->follower->retry_now();
  ASSERT_TRUE(b->follower->wait_until(
      [&](const FollowerStatus& s) {
        return s.reachable && b->binding->status().stable_version == v1;
      },
      kPatience));
  EXPECT_EQ(b->served(), v1);
  const FollowerStatus up = b->follower->status();
  EXPECT_EQ(up.staleness_seconds, 0.0) << "refreshed at the clock's current time";
  EXPECT_EQ(up.consecutive_failures, 0u);
  EXPECT_GE(up.failures, 2u);
  EXPECT_TRUE(up.error.empty()) << up.error;
}

}  // namespace
}  // namespace switchyard
