// SPDX-License-Identifier: Apache-2.0
// Soak: two threads predict through a Deployment without pause while the control plane registers
// versions through a ModelRegistry, canaries each one with changing weights, and promotes and
// rolls back every tenth. No request may fail, every model the loader creates must be destroyed
// exactly once (and only after it left service), and resident memory is read from
// /proc/self/statm after warm-up and at the end.
//
// Sizes: SWITCHYARD_SOAK_REQUESTS (default 200,000) and SWITCHYARD_SOAK_VERSIONS (default 200);
// scripts/soak.sh runs 10,000,000 and 10,000 (1,000,000 and 1,000 when CI=true).
//
// Memory: the run fails if resident memory grew after warm-up by more than
// SWITCHYARD_SOAK_MAX_GROWTH_MB, or, when that is unset and CI=true, by more than
// kCiGrowthBudgetMb (sized for the default run). Elsewhere the growth is only reported, and so it
// is under a sanitizer, whose shadow memory and quarantine are no measure of the library's.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/models/model_loader.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>
#include <thread>
#include <vector>

#include "reliability/reliability_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace soak_test {

constexpr const char* kModel = "fraud-detection";
constexpr const char* kFormat = "soak.counted";

/// Counts the models a loader creates and how often each is destroyed.
class Ledger {
 public:
  std::size_t created() {
    std::lock_guard lk(mu_);
    destructions_.push_back(0);
    return destructions_.size() - 1;
  }
  void destroyed(std::size_t id) {
    std::lock_guard lk(mu_);
    ++destructions_[id];
  }
  std::size_t total() {
    std::lock_guard lk(mu_);
    return destructions_.size();
  }
  std::size_t live() {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (int d : destructions_) n += d == 0 ? 1 : 0;
    return n;
  }
  /// Models destroyed more than once (must be none).
  std::size_t destroyed_twice() {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    for (int d : destructions_) n += d > 1 ? 1 : 0;
    return n;
  }

 private:
  std::mutex mu_;
  std::vector<int> destructions_;
};

/// A host's model wrapper: serves through the built-in model and reports its own lifetime.
class CountedModel final : public Model {
 public:
  CountedModel(ModelPtr inner, Ledger& ledger, bool throws = false)
      : inner_(std::move(inner)), ledger_(ledger), id_(ledger.created()), throws_(throws) {}
  ~CountedModel() override { ledger_.destroyed(id_); }
  const Signature& signature() const noexcept override { return inner_->signature(); }
  std::string_view format() const noexcept override { return kFormat; }
  Prediction predict(const ModelInput& input) const override {
    if (throws_) throw std::runtime_error("soak: a shadow that always fails");
    return inner_->predict(input);
  }

 private:
  ModelPtr inner_;
  Ledger& ledger_;
  std::size_t id_;
  bool throws_;
};

Artifact counted_artifact(double seed) { return {kFormat, testing::logistic_artifact(seed).bytes}; }

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kUnderSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
constexpr bool kUnderSanitizer = true;
#else
constexpr bool kUnderSanitizer = false;
#endif
#else
constexpr bool kUnderSanitizer = false;
#endif

/// The budget CI holds the default run (200 versions, 200,000 requests) to. That run grows about
/// 0.8 MiB after warm-up; keeping the statistics of every retired version (the leak
/// TrafficRouter::Options::retired_stats fixed, 48 KiB per version) grows it 8.4 MiB.
constexpr std::int64_t kCiGrowthBudgetMb = 4;

/// How much resident memory may grow after warm-up, in MiB; 0: only report it.
std::int64_t growth_budget_mb() {
  if (const std::int64_t set = testing::env_count("SWITCHYARD_SOAK_MAX_GROWTH_MB", 0); set > 0) {
    return set;
  }
  const char* ci = std::getenv("CI");
  const bool in_ci = ci != nullptr && std::string_view(ci) == "true";
  return in_ci && !kUnderSanitizer ? kCiGrowthBudgetMb : 0;
}

/// Sets or unsets an environment variable for one scope, then puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SoakTest, memory_growth_is_checked_by_default_in_ci) {
  {
    ScopedEnv ci("CI", "true");
    ScopedEnv budget("SWITCHYARD_SOAK_MAX_GROWTH_MB", nullptr);
    EXPECT_EQ(growth_budget_mb(), kUnderSanitizer ? 0 : kCiGrowthBudgetMb);
  }
  {
    ScopedEnv ci("CI", nullptr);
    ScopedEnv budget("SWITCHYARD_SOAK_MAX_GROWTH_MB", nullptr);
    EXPECT_EQ(growth_budget_mb(), 0) << "outside CI the short run only reports its growth";
  }
  {
    ScopedEnv ci("CI", "true");
    ScopedEnv budget("SWITCHYARD_SOAK_MAX_GROWTH_MB", "64");
    EXPECT_EQ(growth_budget_mb(), 64) << "an explicit budget wins, sanitizer or not";
  }
}

TEST(SoakTest, predictions_never_fail_while_versions_come_and_go) {
  const std::int64_t target_requests = testing::env_count("SWITCHYARD_SOAK_REQUESTS", 200'000);
  const std::int64_t versions =
      std::max<std::int64_t>(testing::env_count("SWITCHYARD_SOAK_VERSIONS", 200), 20);
  const std::int64_t growth_budget = growth_budget_mb();

  Ledger ledger;
  testing::TempDir dir;
  ModelLoader loader;
  loader.register_format(kFormat, [&ledger](std::string_view bytes) -> ModelPtr {
    return std::make_shared<const CountedModel>(load_linear_artifact(bytes), ledger);
  });
  auto store = testing::open_store(dir.path() / "registry.db");
  auto artifacts = std::make_unique<ArtifactStore>(dir.path() / "artifacts");
  auto registry = std::make_unique<ModelRegistry>(ModelRegistry::Options{
      .store = store.get(), .artifacts = artifacts.get(), .loader = &loader});
  auto deployment =
      std::make_unique<Deployment>(Deployment::Options{.model = kModel, .source = registry.get()});
  TrafficRouter& router = deployment->router();

  auto promote = [&](std::int64_t v) {
    registry->transition(kModel, v, Stage::kStaging, {.actor = "soak"});
    registry->transition(kModel, v, Stage::kProduction, {.actor = "soak"});
    router.set_policy(RoutingPolicy::single(v, "stable"));
  };
  std::int64_t production = registry->register_version(kModel, counted_artifact(1), {})->version;
  promote(production);

  // ---- request path ----------------------------------------------------------------------------
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> served{0};
  std::int64_t requests[2] = {0, 0}, failures[2] = {0, 0};
  std::mutex failure_mu;
  std::string first_failure;
  std::vector<std::string> keys;
  for (int i = 0; i < 1024; ++i) keys.push_back("user-" + std::to_string(i * 7919));
  auto worker = [&](int t) {
    double row[3] = {0.25 * t, -0.5, 1.0};
    std::int64_t n = 0, failed = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto r = deployment->predict(
          {.key = keys[static_cast<std::size_t>(n) & 1023], .input = TensorView(row, Shape{1, 3})});
      if (!r.ok()) {
        if (failed++ == 0) {
          std::lock_guard lk(failure_mu);
          first_failure = r.status().message();
        }
      }
      if ((++n & 4095) == 0) served.fetch_add(4096, std::memory_order_relaxed);
    }
    requests[t] = n;
    failures[t] = failed;
  };
  std::thread threads[] = {std::thread(worker, 0), std::thread(worker, 1)};

  // ---- control plane
  // -----------------------------------------------------------------------------
  std::int64_t promotions = 1, rollbacks = 0, weight_changes = 0;
  std::uint64_t warm_rss = 0;
  const std::int64_t warm_up = versions / 10;
  for (std::int64_t i = 2; i <= versions; ++i) {
    const std::int64_t v =
        registry->register_version(kModel, counted_artifact(static_cast<double>(i)), {})->version;
    RoutingPolicy canary;
    canary.variants = {{"stable", production, 90}, {"canary", v, 10}};
    router.set_policy(canary);
    router.set_weights({{"canary", 30}});
    router.set_weights({{"canary", 50}, {"stable", 50}});
    weight_changes += 2;
    if (i % 10 == 0) {
      promote(v);
      ++promotions;
      const auto restored = registry->rollback(kModel, {.actor = "soak", .reason = "drill"});
      router.set_policy(RoutingPolicy::single(restored->version, "stable"));
      ++rollbacks;
      production = restored->version;
      if (rollbacks % 2 == 0) {  // every other time the candidate goes back in for good
        promote(v);
        ++promotions;
        production = v;
      }
    } else {
      router.set_policy(RoutingPolicy::single(production, "stable"));
    }
    if (i == warm_up) warm_rss = testing::resident_bytes();
  }
  while (served.load(std::memory_order_relaxed) < target_requests) std::this_thread::yield();
  const std::uint64_t end_rss = testing::resident_bytes();
  stop = true;
  for (auto& t : threads) t.join();

  // ---- verdict
  // -----------------------------------------------------------------------------------
  const std::int64_t total = requests[0] + requests[1];
  const double growth_mb =
      (static_cast<double>(end_rss) - static_cast<double>(warm_rss)) / (1024.0 * 1024.0);
  std::cout << "[ soak     ] requests " << total << " (" << requests[0] << " + " << requests[1]
            << "), failed " << failures[0] + failures[1] << "; versions " << versions
            << ", weight changes " << weight_changes << ", promotions " << promotions
            << ", rollbacks " << rollbacks << "; models created " << ledger.total() << "; resident "
            << warm_rss / 1048576 << " MiB after warm-up (version " << warm_up << "), "
            << end_rss / 1048576 << " MiB at the end, growth " << growth_mb << " MiB ("
            << growth_mb * 1024.0 / static_cast<double>(versions - warm_up) << " KiB per version)"
            << "; budget "
            << (growth_budget > 0 ? std::to_string(growth_budget) + " MiB" : "none (report only)")
            << std::endl;
  ::testing::Test::RecordProperty("requests", std::to_string(total));
  ::testing::Test::RecordProperty("rss_growth_kib",
                                  std::to_string(static_cast<std::int64_t>(growth_mb * 1024)));

  EXPECT_EQ(failures[0] + failures[1], 0) << "first failure: " << first_failure;
  EXPECT_GE(total, target_requests);
  EXPECT_GE(promotions, versions / 10);
  EXPECT_GE(rollbacks, versions / 10 - 1);
  // Retired models are gone once the request threads moved on (they have exited): only the
  // table's arms are alive, and nothing was destroyed twice.
  EXPECT_EQ(ledger.live(), router.table()->variants().size());
  EXPECT_EQ(ledger.destroyed_twice(), 0u);
  // Where the growth lives: the heap each owner gives back when it goes.
  const std::size_t stats_kept = router.versions_with_stats().size();
  const std::uint64_t heap_before = testing::heap_in_use();
  deployment.reset();
  const std::uint64_t heap_without_deployment = testing::heap_in_use();
  registry.reset();
  const std::uint64_t heap_without_registry = testing::heap_in_use();
  std::cout << "[ soak     ] versions whose statistics the router keeps: " << stats_kept
            << "; heap released by destroying the deployment: "
            << (heap_before - heap_without_deployment) / 1048576
            << " MiB, the registry: " << (heap_without_deployment - heap_without_registry) / 1048576
            << " MiB" << std::endl;
  EXPECT_EQ(ledger.live(), 0u) << "models outlived the registry and deployment";
  EXPECT_EQ(ledger.destroyed_twice(), 0u);
  if (growth_budget > 0) {
    EXPECT_LE(growth_mb, static_cast<double>(growth_budget))
        << "resident memory grew after warm-up by more than SWITCHYARD_SOAK_MAX_GROWTH_MB (or, "
           "in CI, the default run's budget)";
  }
}

// Shadow soak: two threads predict through a Deployment with a ShadowPredictor attached while the
// control plane adds and removes shadow versions (one in three always throws), takes reports and
// records labels. Fails on any failed primary request, any observer error, a report whose drop
// counts do not add up, or a shadow model not destroyed exactly once.
TEST(SoakTest, shadow_versions_come_and_go_while_requests_are_mirrored) {
  const std::int64_t target_requests = testing::env_count("SWITCHYARD_SOAK_REQUESTS", 200'000);
  Ledger ledger;
  StaticModelSource source;
  source.add(kModel, 1, std::make_shared<CountedModel>(load_linear_artifact(
                                                           testing::logistic_artifact(1).bytes),
                                                       ledger));
  auto deployment =
      std::make_unique<Deployment>(Deployment::Options{.model = kModel, .source = &source});
  deployment->router().set_policy(RoutingPolicy::single(1, "stable"));
  ShadowPredictor::Options o;
  o.queue_capacity = 256;
  o.byte_budget = std::size_t{1} << 20;
  o.label_join_capacity = 4096;
  auto shadow = std::make_shared<ShadowPredictor>(o);
  shadow->start();
  deployment->add_observer(shadow);

  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> served{0};
  std::int64_t failures[2] = {0, 0};
  auto worker = [&](int t) {
    double row[3] = {0.25 * t, -0.5, 1.0};
    std::int64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const std::string id = "r-" + std::to_string(t) + "-" + std::to_string(n);
      auto r = deployment->predict(
          {.key = id, .input = TensorView(row, Shape{1, 3}), .request_id = id});
      if (!r.ok()) ++failures[t];
      if ((++n & 1023) == 0) served.fetch_add(1024, std::memory_order_relaxed);
    }
  };
  std::thread threads[] = {std::thread(worker, 0), std::thread(worker, 1)};
  struct JoinOnExit {  // a failed ASSERT below still stops and joins the request threads
    std::atomic<bool>& stop;
    std::thread (&threads)[2];
    ~JoinOnExit() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_on_exit{stop, threads};

  std::int64_t next_version = 2, added = 0, removed = 0, reports = 0, labels_joined = 0;
  std::vector<std::int64_t> active;
  while (served.load(std::memory_order_relaxed) < target_requests) {
    const std::int64_t v = next_version++;
    auto model = std::make_shared<CountedModel>(
        load_linear_artifact(testing::logistic_artifact(static_cast<double>(v)).bytes), ledger,
        v % 3 == 0);
    shadow->add_shadow({.model = kModel, .version = v, .share = v % 2 == 0 ? 1.0 : 0.3,
                        .sampling = v % 4 == 0 ? ShadowSampling::kRandom : ShadowSampling::kSticky},
                       std::move(model));
    active.push_back(v);
    ++added;
    if (active.size() > 3) {
      ASSERT_TRUE(shadow->remove_shadow(kModel, active.front()));
      active.erase(active.begin());
      ++removed;
    }
    const std::int64_t until = served.load(std::memory_order_relaxed) + 2048;
    while (served.load(std::memory_order_relaxed) < until) std::this_thread::yield();
    const ShadowReport report = shadow->report();
    ++reports;
    for (const auto& ver : report.versions) {
      ASSERT_EQ(ver.sampled, ver.mirrored + ver.dropped_queue_full + ver.dropped_over_budget +
                                 ver.dropped_stopped);
      ASSERT_LE(ver.completed + ver.shadow_errors + ver.discarded, ver.mirrored);
      ASSERT_LE(report.bytes_queued, report.byte_budget);
    }
    labels_joined += static_cast<std::int64_t>(shadow->record_label("r-0-" + std::to_string(
                                                                        served.load() - 4096), 1.0));
  }
  stop = true;
  for (auto& t : threads) t.join();
  // Every job is done: now the counts add up exactly.
  ASSERT_TRUE(shadow->drain(std::chrono::seconds(60)));
  for (const auto& ver : shadow->report().versions) {
    EXPECT_EQ(ver.completed + ver.shadow_errors + ver.discarded, ver.mirrored);
  }
  for (std::int64_t v : active) ASSERT_TRUE(shadow->remove_shadow(kModel, v));
  std::cout << "[ soak     ] shadow: requests " << served.load() << ", versions added " << added
            << ", removed " << removed + static_cast<std::int64_t>(active.size()) << ", reports "
            << reports << ", labels joined " << labels_joined << std::endl;

  EXPECT_EQ(failures[0] + failures[1], 0);
  EXPECT_EQ(deployment->observer_errors(), 0u);
  deployment.reset();  // lets go of the observer
  shadow.reset();      // joins the worker; every retired version goes with it
  EXPECT_EQ(ledger.live(), 1u) << "only the primary (held by the source) is left";
  EXPECT_EQ(ledger.destroyed_twice(), 0u);
  EXPECT_EQ(ledger.total(), static_cast<std::size_t>(added + 1));
}

}  // namespace soak_test
}  // namespace
}  // namespace switchyard
