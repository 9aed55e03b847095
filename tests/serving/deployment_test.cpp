// SPDX-License-Identifier: Apache-2.0
// Deployment: the request path end to end, fallbacks, errors as values, hot swaps under load.
#include <switchyard/serving/deployment.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <tuple>
#include <vector>

#include "support/fake_models.hpp"

namespace switchyard {
namespace {
namespace deployment_test {

using testing::ConstantModel;

struct Fixture {
  std::atomic<int> destroyed{0};  // first: the models count into it when the source lets them go
  StaticModelSource source;
  std::shared_ptr<ConstantModel> v1 = std::make_shared<ConstantModel>(0, 0.8, &destroyed);
  std::shared_ptr<ConstantModel> v2 = std::make_shared<ConstantModel>(1, 0.6, &destroyed);
  Fixture() {
    source.add("fraud-detection", 1, v1);
    source.add("fraud-detection", 2, v2);
  }
};

const double kRow[3] = {1.0, 2.0, 3.0};
TensorView row() { return TensorView(kRow, Shape{1, 3}); }

RoutingPolicy canary(double canary_percent) {
  RoutingPolicy p;
  p.variants = {{"stable", 1, 100 - canary_percent}, {"canary", 2, canary_percent}};
  p.weight_style = WeightStyle::kPercent;
  return p;
}

TEST(DeploymentTest, reports_which_version_and_variant_served) {
  Fixture f;
  Deployment d({.model = "fraud-detection", .source = &f.source});
  d.router().set_policy(canary(0));
  auto r = d.predict({.key = "user-1", .input = row()});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->variant, "stable");
  EXPECT_EQ(r->model, "fraud-detection");
  EXPECT_FALSE(r->fell_back);
  EXPECT_EQ(r->prediction.labels.at(0), 0);

  auto pinned = d.predict({.key = "user-1", .input = row(), .version = 2});
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(pinned->version, 2);
  EXPECT_EQ(pinned->reason, RouteReason::kPinned);
}

TEST(DeploymentTest, errors_are_values_not_exceptions) {
  Fixture f;
  Deployment d({.model = "fraud-detection", .source = &f.source});
  auto none = d.predict({.key = "u", .input = row()});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), ErrorCode::kNoActiveModel);
  d.router().set_policy(canary(10));
  auto missing = d.predict({.key = "u", .input = row(), .version = 9});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find("version 9"), std::string::npos);
  EXPECT_THROW(missing.value(), NotFound);
  d.router().clear();
  EXPECT_EQ(d.predict({.key = "u", .input = row()}).code(), ErrorCode::kNoActiveModel);
}

TEST(DeploymentTest, failing_canary_is_answered_by_stable_and_counted) {
  Fixture f;
  f.v2->set_failing(true);
  Deployment d({.model = "fraud-detection", .source = &f.source});
  d.router().set_policy(canary(100));
  auto r = d.predict({.key = "u", .input = row()});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->fell_back);
  EXPECT_EQ(r->failed_version, 2);
  EXPECT_EQ(r->version, 1);
  auto stats = d.stats();
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[1].version, 2);
  EXPECT_EQ(stats[1].stats.errors, 1u);
  EXPECT_EQ(stats[0].stats.fallbacks, 1u);
  EXPECT_EQ(stats[0].stats.requests, 1u);

  RoutingPolicy no_fallback = canary(100);
  no_fallback.fallback_on_error = false;
  d.router().set_policy(no_fallback);
  auto failed = d.predict({.key = "u", .input = row()});
  EXPECT_EQ(failed.code(), ErrorCode::kModelFailed);
}

TEST(DeploymentTest, input_is_checked_against_the_signature) {
  Fixture f;
  f.v1->signature_.inputs = {{"features", DType::kFloat64, {-1, 3}}};
  Deployment d({.model = "fraud-detection", .source = &f.source});
  d.router().set_policy(canary(0));
  const double wide[4] = {1, 2, 3, 4};
  auto r = d.predict({.key = "u", .input = TensorView(wide, Shape{1, 4})});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("features"), std::string::npos) << r.status().message();
  const float narrow[3] = {1, 2, 3};  // float32 widens to float64 losslessly
  EXPECT_TRUE(d.predict({.key = "u", .input = TensorView(narrow, Shape{1, 3})}).ok());
  const std::int64_t ints[3] = {1, 2, 3};  // int64 -> float64 is lossy: refused
  EXPECT_EQ(d.predict({.key = "u", .input = TensorView(ints, Shape{1, 3})}).code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(f.v1->calls(), 1u);
}

TEST(DeploymentTest, statistics_count_requests_confidence_classes_and_windows) {
  Fixture f;
  Deployment d({.model = "fraud-detection", .source = &f.source});
  d.router().set_policy(canary(0));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(d.predict({.key = "u", .input = row()}).ok());
  d.record_outcome(1, true);
  d.record_outcome(1, false);
  auto s = d.stats().at(0);
  EXPECT_EQ(s.variant, "stable");
  EXPECT_EQ(s.stats.requests, 10u);
  EXPECT_EQ(s.stats.latency.count(), 10u);
  EXPECT_DOUBLE_EQ(s.stats.mean_confidence(), 0.8);
  EXPECT_EQ(s.stats.class_counts[0], 10u);
  EXPECT_DOUBLE_EQ(s.stats.accuracy(), 0.5);
  auto ended = d.reset_window();
  EXPECT_EQ(ended.at(0).stats.requests, 10u);
  EventHub hub;
  Deployment observed({.model = "fraud-detection", .source = &f.source, .events = &hub});
  observed.router().set_policy(canary(0));
  ASSERT_TRUE(observed.predict({.key = "u", .input = row()}).ok());
  std::vector<std::tuple<std::int64_t, std::string, std::uint64_t>> published;
  observed.metrics_published.connect([&](const MetricsEvent& e) {
    published.emplace_back(e.version, std::string(e.variant), e.window->requests);
  });
  observed.reset_window();
  // Every version in the table reports, including the canary that got no traffic at weight 0.
  EXPECT_EQ(published, (std::vector<std::tuple<std::int64_t, std::string, std::uint64_t>>{
                           {1, "stable", 1}, {2, "canary", 0}}));
  ASSERT_TRUE(d.predict({.key = "u", .input = row()}).ok());
  EXPECT_EQ(d.window().at(0).stats.requests, 1u);
  EXPECT_EQ(d.stats().at(0).stats.requests, 11u);
}

TEST(DeploymentTest, prediction_events_are_opt_in_and_a_throwing_slot_breaks_nothing) {
  Fixture f;
  EventHub hub;
  int reported = 0;
  hub.set_error_handler([&](std::string_view, const std::exception&) { ++reported; });
  Deployment d({.model = "fraud-detection", .source = &f.source, .events = &hub});
  d.router().set_policy(canary(0));
  int seen = 0;
  ASSERT_TRUE(d.predict({.key = "u", .input = row()}).ok());
  hub.connect_prediction([](const PredictionEvent&) { throw std::runtime_error("bad slot"); });
  hub.connect_prediction([&](const PredictionEvent& e) {
    ++seen;
    EXPECT_EQ(e.version, 1);
    EXPECT_EQ(e.request_id, "req-7");
  });
  auto r = d.predict({.key = "u", .input = row(), .request_id = "req-7"});
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(reported, 1);
}

TEST(DeploymentTest, in_flight_request_keeps_its_model_until_it_returns) {
  std::atomic<int> destroyed{0};  // declared first: the models count into it when they go
  StaticModelSource source;
  auto gated = std::make_shared<testing::GatedModel>(&destroyed);
  source.add("fraud-detection", 1, gated);
  source.add("fraud-detection", 2, std::make_shared<ConstantModel>(0, 0.5, &destroyed));
  Deployment d({.model = "fraud-detection", .source = &source});
  d.router().set_policy(RoutingPolicy::single(1));
  testing::GatedModel* raw = gated.get();
  gated.reset();
  source.add("fraud-detection", 1, nullptr);  // only the deployment holds version 1 now

  StatusOr<PredictResponse> result = Status(ErrorCode::kModelFailed, "not run");
  std::thread request([&] {
    result = d.predict({.key = "u", .input = row()});
    // Routing again on this thread moves it to the new table and lets version 1 go.
    EXPECT_EQ(d.predict({.key = "u", .input = row()})->version, 2);
  });
  raw->wait_entered();
  d.router().set_policy(RoutingPolicy::single(2));  // version 1 leaves the table mid-request
  EXPECT_EQ(destroyed.load(), 0) << "the in-flight request's model was destroyed";
  raw->open();
  request.join();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->version, 1);
  EXPECT_EQ(result->prediction.labels.at(0), 7);
  EXPECT_EQ(destroyed.load(), 1) << "version 1 must be released once its last request returned";
}

// Two threads predict while a third republishes weights many times: no request may fail, each
// served version must be one the table held, and every retired model is destroyed exactly once.
TEST(DeploymentTest, swaps_under_concurrent_load_fail_no_request) {
  std::atomic<int> destroyed{0};  // declared first: the models count into it when they go
  StaticModelSource source;
  constexpr int kVersions = 8;
  for (int v = 1; v <= kVersions; ++v) {
    source.add("fraud-detection", v, std::make_shared<ConstantModel>(v, 0.5, &destroyed));
  }
  {
    Deployment d({.model = "fraud-detection", .source = &source});
    d.router().set_policy(canary(50));
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> failures{0}, served{0};
    std::atomic<std::uint64_t> per_worker[2] = {0, 0};
    auto worker = [&](int id) {
      std::uint64_t i = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        auto key = "user-" + std::to_string(id * 1000000 + static_cast<int>(i++ % 5000));
        auto r = d.predict({.key = key, .input = row()});
        if (!r.ok() || r->prediction.labels.at(0) != r->version) failures.fetch_add(1);
        served.fetch_add(1, std::memory_order_relaxed);
        per_worker[id].fetch_add(1, std::memory_order_relaxed);
      }
    };
    std::thread a(worker, 0), b(worker, 1);
    // Swap only once both workers are serving, and stop them only after each served plenty, so
    // the swaps really happen under load on any scheduler (synchronised on counters, no sleeps).
    auto wait_until_each_served = [&](std::uint64_t n) {
      while (per_worker[0].load() < n || per_worker[1].load() < n) std::this_thread::yield();
    };
    wait_until_each_served(1);
    for (int i = 0; i < 2000; ++i) {
      RoutingPolicy p;
      std::int64_t stable = 1 + i % kVersions, cand = 1 + (i + 1) % kVersions;
      p.variants = {{"stable", stable, 100.0 - i % 100}, {"canary", cand, double(i % 100)}};
      p.weight_style = WeightStyle::kPercent;
      d.router().set_policy(p);
    }
    wait_until_each_served(20000);
    stop = true;
    a.join();
    b.join();
    EXPECT_EQ(failures.load(), 0u);
    EXPECT_GT(served.load(), 0u);
    std::uint64_t counted = 0;
    for (const auto& s : d.stats()) counted += s.stats.requests;
    EXPECT_EQ(counted, served.load()) << "every request must be counted exactly once";
  }
  EXPECT_EQ(destroyed.load(), 0) << "the source still holds every model";
}

// Rollback under load: two threads predict on a 50/50 canary; once set_weights puts the canary at
// 0 and returns, every request that any thread starts afterwards is served by the stable version.
// Each thread checks a flag the test raises after set_weights returned, then serves exactly
// kAfter more requests and counts those stable answers: both counts must be kAfter, with no failed
// request before or after. Synchronised on counters and the flag, no sleeps.
TEST(DeploymentTest, after_a_rollback_returns_every_later_request_is_served_by_stable) {
  Fixture f;
  Deployment d({.model = "fraud-detection", .source = &f.source});
  d.router().set_policy(canary(50));
  constexpr std::uint64_t kAfter = 20000;
  std::atomic<bool> rolled_back{false};
  std::atomic<std::uint64_t> before[2] = {0, 0};
  std::uint64_t canary_before[2] = {0, 0}, stable_after[2] = {0, 0}, failed[2] = {0, 0};
  auto worker = [&](int id) {
    std::uint64_t i = 0, after = 0;
    while (after < kAfter) {
      // Read before the request: a request started after the rollback returned must see it.
      const bool rolled = rolled_back.load(std::memory_order_acquire);
      auto key = "user-" + std::to_string(id * 1000000 + static_cast<int>(i++ % 5000));
      auto r = d.predict({.key = key, .input = row()});
      if (!r.ok()) {
        ++failed[id];
      } else if (rolled) {
        stable_after[id] += r->version == 1;
      } else {
        canary_before[id] += r->version == 2;
      }
      if (rolled) {
        ++after;
      } else {
        before[id].fetch_add(1, std::memory_order_relaxed);
      }
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  // Roll back only once both threads serve the canary's share, so the publish races real requests.
  while (before[0].load() < 5000 || before[1].load() < 5000) std::this_thread::yield();
  d.router().set_weights({{"stable", 100}, {"canary", 0}});
  rolled_back.store(true, std::memory_order_release);
  a.join();
  b.join();
  for (int id = 0; id < 2; ++id) {
    EXPECT_GT(canary_before[id], 0u) << "thread " << id << " never reached the canary before";
    EXPECT_EQ(stable_after[id], kAfter) << "thread " << id << " reached the canary after rollback";
    EXPECT_EQ(failed[id], 0u) << "thread " << id;
  }
  ASSERT_NE(d.router().table(), nullptr);
  EXPECT_EQ(d.router().table()->find_variant("canary")->share, 0.0);
}

}  // namespace deployment_test
}  // namespace
}  // namespace switchyard
