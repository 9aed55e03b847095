// SPDX-License-Identifier: Apache-2.0
// RegistryBinding: serving follows the registry (transition, alias move, rollback, refresh from
// another registry on the same file) and a failed load keeps the old table serving.
#include <switchyard/serving/registry_binding.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/models/model_loader.hpp>

#include "support/fake_models.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace registry_binding_test {

using testing::logistic_artifact;
using testing::TempDir;

const double kRow[3] = {1.0, 2.0, 3.0};
TensorView row() { return TensorView(kRow, Shape{1, 3}); }

constexpr const char* kModel = "fraud-detection";

// A registry whose loader also knows "test.flaky": artifacts whose bytes are a label, loaded as a
// ConstantModel answering that label, unless the test makes loading fail.
struct Bound {
  TempDir dir;
  ManualClock clock;
  std::unique_ptr<SqliteRegistryStore> store = testing::open_store(dir.path() / "registry.db");
  ArtifactStore artifacts{dir.path() / "artifacts"};
  std::shared_ptr<std::atomic<bool>> loads_fail = std::make_shared<std::atomic<bool>>(false);
  ModelLoader loader;
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<Deployment> deployment;

  Bound() {
    loader.register_format("test.flaky", [fail = loads_fail](std::string_view bytes) -> ModelPtr {
      if (fail->load()) throw LoadError("test.flaky: loading is switched off");
      return std::make_shared<testing::ConstantModel>(std::stoi(std::string(bytes)), 0.9);
    });
    registry = std::make_unique<ModelRegistry>(ModelRegistry::Options{
        .store = store.get(), .artifacts = &artifacts, .loader = &loader, .clock = &clock});
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = registry.get()});
  }
  // Registers a version answering `label`; returns its number.
  std::int64_t add(int label) {
    return registry->register_version(kModel, {"test.flaky", std::to_string(label)}, {},
                                      {.actor = "ci"})->version;
  }
  std::int64_t add_production(int label) {
    const auto v = add(label);
    registry->transition(kModel, v, Stage::kStaging, {.actor = "ci"});
    registry->transition(kModel, v, Stage::kProduction, {.actor = "ci"});
    return v;
  }
  // The version that answers a request for `key` right now.
  std::int64_t served(std::string_view key = "user-1") {
    auto r = deployment->predict({.key = key, .input = row()});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->version : 0;
  }
};

TEST(RegistryBindingTest, stable_arm_follows_production_transitions) {
  Bound b;
  const auto v1 = b.add_production(1);
  RegistryBinding follow({.registry = b.registry.get(), .deployment = b.deployment.get()});
  EXPECT_EQ(b.served(), v1);
  const auto v2 = b.add_production(2);  // archives v1 in the same transaction
  EXPECT_EQ(b.served(), v2);
  EXPECT_EQ(follow.status().stable_version, v2);
  EXPECT_TRUE(follow.status().ok);
}

TEST(RegistryBindingTest, an_unbound_deployment_keeps_serving_what_it_was_told) {
  // The contrast that motivates the binding: without it, the registry and serving disagree.
  Bound b;
  const auto v1 = b.add_production(1);
  b.deployment->router().set_policy(RoutingPolicy::single(v1));
  b.add_production(2);
  EXPECT_EQ(b.served(), v1);
}

TEST(RegistryBindingTest, nothing_in_production_serves_nothing_until_a_version_arrives) {
  Bound b;
  RegistryBinding follow({.registry = b.registry.get(), .deployment = b.deployment.get()});
  EXPECT_EQ(b.deployment->predict({.key = "u", .input = row()}).status().code(),
            ErrorCode::kNoActiveModel);
  const auto v1 = b.add_production(1);
  EXPECT_EQ(b.served(), v1);
}

TEST(RegistryBindingTest, candidate_arm_follows_an_alias_and_takes_its_share) {
  Bound b;
  const auto v1 = b.add_production(1);
  const auto v2 = b.add(2);
  RegistryBinding follow({.registry = b.registry.get(),
                          .deployment = b.deployment.get(),
                          .candidate = "@challenger",
                          .candidate_percent = 100});
  EXPECT_EQ(b.served(), v1) << "no challenger yet: one arm";
  b.registry->set_alias(kModel, "challenger", v2, {.actor = "ci"});
  EXPECT_EQ(b.served(), v2) << "the alias move published a candidate arm with 100 %";
  EXPECT_EQ(follow.status().candidate_version, v2);
  follow.set_candidate_percent(0);
  EXPECT_EQ(b.served(), v1);
  const auto v3 = b.add(3);
  follow.set_candidate_percent(100);
  b.registry->set_alias(kModel, "challenger", v3, {.actor = "ci"});
  EXPECT_EQ(b.served(), v3);
  b.registry->remove_alias(kModel, "challenger", {.actor = "ci"});
  EXPECT_EQ(b.served(), v1);
  EXPECT_EQ(follow.status().candidate_version, 0);
}

TEST(RegistryBindingTest, stable_arm_may_follow_an_alias_instead_of_a_stage) {
  Bound b;
  const auto v1 = b.add(1);
  const auto v2 = b.add(2);
  b.registry->set_alias(kModel, "champion", v1, {.actor = "ci"});
  RegistryBinding follow(
      {.registry = b.registry.get(), .deployment = b.deployment.get(), .stable = "@champion"});
  EXPECT_EQ(b.served(), v1);
  b.registry->set_alias(kModel, "champion", v2, {.actor = "ci"});
  EXPECT_EQ(b.served(), v2);
}

TEST(RegistryBindingTest, rollback_is_one_call_that_also_switches_serving) {
  Bound b;
  const auto v1 = b.add_production(1);
  const auto v2 = b.add_production(2);
  RegistryBinding follow({.registry = b.registry.get(), .deployment = b.deployment.get()});
  EXPECT_EQ(b.served(), v2);
  std::vector<RegistryEvent> rolled;
  b.registry->events().rolled_back.connect([&](const RegistryEvent& e) { rolled.push_back(e); });
  b.registry->rollback(kModel, {.actor = "oncall", .reason = "error rate 4 %"});
  EXPECT_EQ(b.served(), v1);
  ASSERT_EQ(rolled.size(), 1u);
  EXPECT_EQ(rolled[0].version, v1);
  EXPECT_EQ(rolled[0].previous_version, v2);
  EXPECT_EQ(rolled[0].reason, "error rate 4 %");
}

TEST(RegistryBindingTest, rollback_needs_no_artifact_read_for_a_version_kept_loaded) {
  Bound b;
  b.add_production(1);
  RegistryBinding follow({.registry = b.registry.get(), .deployment = b.deployment.get()});
  b.add_production(2);
  // With loading switched off, only a kept model can serve the restored version.
  b.loads_fail->store(true);
  b.registry->rollback(kModel, {.actor = "oncall"});
  EXPECT_EQ(b.served(), 1);
  EXPECT_TRUE(follow.status().ok) << follow.status().error;
}

TEST(RegistryBindingTest, a_failed_load_keeps_the_old_table_and_says_why) {
  Bound b;
  const auto v1 = b.add_production(1);
  RegistryBinding follow({.registry = b.registry.get(), .deployment = b.deployment.get()});
  std::vector<BindingStatus> failures;
  follow.sync_failed.connect([&](const BindingEvent& e) { failures.push_back(e.status); });
  const auto v2 = b.add(2);
  b.registry->transition(kModel, v2, Stage::kStaging, {.actor = "ci"});
  b.loads_fail->store(true);
  b.registry->transition(kModel, v2, Stage::kProduction, {.actor = "ci"});
  // The registry says v2; serving cannot load it, so v1 keeps answering every request.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.served("user-" + std::to_string(i)), v1);
  const BindingStatus s = follow.status();
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.stable_version, v1);
  EXPECT_NE(s.error.find("loading is switched off"), std::string::npos) << s.error;
  EXPECT_NE(s.error.find("version 2"), std::string::npos) << s.error;
  // One transition is two registry events (v1 archived, v2 in Production); each retries.
  ASSERT_FALSE(failures.empty());
  EXPECT_EQ(failures.back().stable_version, v1);
  EXPECT_EQ(failures.back().failures, failures.size());
  // Once loading works again, the next sync catches up.
  b.loads_fail->store(false);
  EXPECT_TRUE(follow.sync().ok);
  EXPECT_EQ(b.served(), v2);
}

TEST(RegistryBindingTest, refresh_that_sees_another_registrys_commit_republishes) {
  Bound b;
  const auto v1 = b.add_production(1);
  RegistryBinding follow({.registry = b.registry.get(), .deployment = b.deployment.get()});
  // A second registry (another process, in production) on the same file promotes v2.
  auto other_store = testing::open_store(b.dir.path() / "registry.db");
  ModelRegistry other({.store = other_store.get(), .artifacts = &b.artifacts, .loader = &b.loader,
                       .clock = &b.clock});
  const auto v2 = other.register_version(kModel, {"test.flaky", "2"}, {}, {.actor = "ci"})->version;
  other.transition(kModel, v2, Stage::kStaging, {.actor = "ci"});
  other.transition(kModel, v2, Stage::kProduction, {.actor = "ci"});
  EXPECT_EQ(b.served(), v1) << "not yet seen by this process";
  EXPECT_TRUE(b.registry->refresh());
  EXPECT_EQ(b.served(), v2);
  EXPECT_FALSE(b.registry->refresh()) << "nothing new";
}

TEST(RegistryBindingTest, requests_never_fail_while_the_registry_moves) {
  // Two request threads predict while the control plane rolls back and forth, moves an alias and
  // syncs by hand: no request fails, and each answer comes from a version the registry named.
  Bound b;
  const auto v1 = b.add_production(1);
  const auto v2 = b.add_production(2);
  const auto v3 = b.add(3);
  RegistryBinding follow({.registry = b.registry.get(),
                          .deployment = b.deployment.get(),
                          .candidate = "@challenger",
                          .candidate_percent = 50});
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::atomic<std::uint64_t> failed{0}, answered{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      for (std::uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string key = "user-" + std::to_string(t) + "-" + std::to_string(i % 64);
        auto r = b.deployment->predict({.key = key, .input = row()});
        if (!r.ok()) {
          failed.fetch_add(1);
        } else {
          answered.fetch_add(1);
          if (r->version != v1 && r->version != v2 && r->version != v3) unexpected.fetch_add(1);
        }
      }
    });
  }
  while (ready.load() < 2) std::this_thread::yield();
  for (int round = 0; round < 20; ++round) {
    b.registry->rollback(kModel, {.actor = "test"}, round % 2 == 0 ? v1 : v2);
    b.registry->set_alias(kModel, "challenger", round % 3 == 0 ? v3 : v1, {.actor = "test"});
    (void)follow.sync();
  }
  // Let the request threads see the last table before stopping them.
  const std::uint64_t before = answered.load();
  while (answered.load() < before + 100) std::this_thread::yield();
  stop.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_EQ(unexpected.load(), 0u);
  EXPECT_TRUE(follow.status().ok) << follow.status().error;
  EXPECT_EQ(follow.status().stable_version, v2);  // round 19 restored v2
}

TEST(RegistryBindingTest, bad_options_are_named) {
  Bound b;
  b.add_production(1);
  auto make = [&](RegistryBinding::Options o) {
    try {
      RegistryBinding bad(std::move(o));
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(make({.registry = b.registry.get(), .deployment = b.deployment.get(),
                  .candidate_percent = 120})
                .find("candidate_percent"),
            std::string::npos);
  EXPECT_NE(make({.registry = nullptr, .deployment = b.deployment.get()}).find("registry"),
            std::string::npos);
  EXPECT_NE(make({.registry = b.registry.get(), .deployment = b.deployment.get(),
                  .stable_arm = "x", .candidate_arm = "x"})
                .find("both named 'x'"),
            std::string::npos);
}

TEST(RegistryBindingTest, a_destroyed_binding_no_longer_follows) {
  Bound b;
  const auto v1 = b.add_production(1);
  {
    RegistryBinding follow({.registry = b.registry.get(), .deployment = b.deployment.get()});
  }
  b.add_production(2);
  EXPECT_EQ(b.served(), v1);
}

}  // namespace registry_binding_test
}  // namespace
}  // namespace switchyard
