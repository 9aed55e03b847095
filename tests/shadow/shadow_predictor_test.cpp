// SPDX-License-Identifier: Apache-2.0
// ShadowPredictor: bounded queue with exact drop counts, isolation of the primary, comparisons on
// deterministic models, removal with queued work, lifecycle, and clean drain/stop under load.
#include <switchyard/shadow/shadow_predictor.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/serving/deployment.hpp>
#include <switchyard/stats/drift_statistics.hpp>
#include <switchyard/stats/mcnemar.hpp>
#include <switchyard/stats/paired_tests.hpp>

#include "support/fake_models.hpp"

namespace switchyard {
namespace {

using namespace std::chrono_literals;
using testing::ConstantModel;
using testing::GatedModel;

constexpr auto kLongWait = std::chrono::seconds(60);  // a bound for a hang, never reached

/// A model computed by a function of the first feature: row i answers f(x[i, 0]).
class FnModel final : public Model {
 public:
  enum class Kind { kLabel, kValue };
  FnModel(Kind kind, std::function<double(double)> f) : kind_(kind), f_(std::move(f)) {}
  const Signature& signature() const noexcept override { return sig_; }
  std::string_view format() const noexcept override { return "test.fn"; }
  Prediction predict(const ModelInput& in) const override {
    const auto x = in.front().values<double>();
    const std::size_t rows = in.front().batch(), cols = rows ? x.size() / rows : 0;
    Prediction p;
    if (kind_ == Kind::kLabel) {
      for (std::size_t r = 0; r < rows; ++r) {
        p.labels.push_back(static_cast<std::int32_t>(f_(x[r * cols])));
        p.confidence.push_back(0.5);
      }
    } else {
      p.values = xt::xtensor<double, 2>::from_shape({rows, 1});
      for (std::size_t r = 0; r < rows; ++r) p.values(r, 0) = f_(x[r * cols]);
    }
    return p;
  }

 private:
  Kind kind_;
  std::function<double(double)> f_;
  Signature sig_;
};

/// Builds the ObservedRequest a Deployment would hand over, with the primary's own answer.
struct Request {
  std::vector<double> features;
  std::string key;
  std::string id;
  Prediction primary;
  ModelInput input;
  ObservedRequest seen;

  Request(const Model& primary_model, std::vector<double> f, std::string k, std::string i = "")
      : features(std::move(f)), key(std::move(k)), id(std::move(i)) {
    input = ModelInput(TensorView(features.data(), Shape{1, static_cast<std::int64_t>(features.size())}));
    primary = primary_model.predict(input);
    seen.model = "m";
    seen.version = 1;
    seen.key = key;
    seen.request_id = id;
    seen.input = &input;
    seen.prediction = &primary;
    seen.latency_ns = 1000;
  }
};

ShadowPredictor::Options options(std::size_t capacity = 1024, std::size_t workers = 1) {
  ShadowPredictor::Options o;
  o.queue_capacity = capacity;
  o.workers = workers;
  return o;
}

ShadowVersionReport only(const ShadowPredictor& p) {
  auto r = p.report();
  EXPECT_EQ(r.versions.size(), 1u);
  return r.versions.at(0);
}

/// Sends requests 0..n-1 (feature i, key "k<i>", request id "id<i>") with the primary's answers
/// and waits until the shadows have answered them all.
void mirror(ShadowPredictor& p, const Model& primary, int n) {
  for (int i = 0; i < n; ++i) {
    Request r(primary, {static_cast<double>(i)}, "k" + std::to_string(i), "id" + std::to_string(i));
    p.on_request(r.seen);
  }
  ASSERT_TRUE(p.drain(kLongWait));
}

TEST(ShadowPredictorTest, drop_on_full_counts_exactly) {
  std::atomic<int> destroyed{0};
  auto gated = std::make_shared<GatedModel>(&destroyed);
  ConstantModel primary(1);
  ShadowPredictor p(options(4));
  p.add_shadow({.model = "m", .version = 2}, gated);
  p.start();
  Request first(primary, {1.0}, "k0");
  p.on_request(first.seen);
  gated->wait_entered();  // the worker holds the first job in its slot: three slots are free
  for (int i = 0; i < 3 + 10; ++i) {
    Request r(primary, {1.0}, "k" + std::to_string(i + 1));
    p.on_request(r.seen);
  }
  auto v = only(p);
  EXPECT_EQ(p.report().queue_capacity, 4u);
  EXPECT_EQ(v.sampled, 14u);
  EXPECT_EQ(v.mirrored, 4u);
  EXPECT_EQ(v.dropped_queue_full, 10u);
  EXPECT_EQ(v.dropped_over_budget, 0u);
  EXPECT_EQ(v.dropped_stopped, 0u);
  gated->open();
  ASSERT_TRUE(p.drain(kLongWait));
  v = only(p);
  EXPECT_EQ(v.completed, 4u);
  EXPECT_EQ(p.report().bytes_queued, 0u);
}

TEST(ShadowPredictorTest, over_the_byte_budget_drops_and_counts) {
  std::atomic<int> destroyed{0};
  auto gated = std::make_shared<GatedModel>(&destroyed);
  ConstantModel primary(1);
  auto o = options(1024);
  o.byte_budget = 20000;  // two requests of 8000 bytes of features (plus overhead) fit, not three
  ShadowPredictor p(o);
  p.add_shadow({.model = "m", .version = 2}, gated);
  p.start();
  Request big(primary, std::vector<double>(1000, 1.0), "k");
  p.on_request(big.seen);
  gated->wait_entered();
  for (int i = 0; i < 6; ++i) p.on_request(big.seen);
  auto v = only(p);
  EXPECT_EQ(v.mirrored, 2u);
  EXPECT_EQ(v.dropped_over_budget, 5u);
  EXPECT_EQ(v.dropped_queue_full, 0u);
  EXPECT_LE(p.report().bytes_queued, o.byte_budget);
  gated->open();
  ASSERT_TRUE(p.drain(kLongWait));
  EXPECT_EQ(only(p).completed, 2u);
}

TEST(ShadowPredictorTest, requests_before_start_and_after_stop_drop_as_stopped) {
  ConstantModel primary(1);
  ShadowPredictor p(options());
  p.add_shadow({.model = "m", .version = 2}, std::make_shared<ConstantModel>(1));
  Request r(primary, {1.0}, "k");
  p.on_request(r.seen);
  p.on_request(r.seen);
  p.start();
  p.stop();
  p.on_request(r.seen);
  EXPECT_EQ(p.state(), ShadowState::kStopped);
  EXPECT_EQ(only(p).dropped_stopped, 3u);
  EXPECT_EQ(only(p).mirrored, 0u);
  EXPECT_THROW(p.start(), InvalidArgument);
}

TEST(ShadowPredictorTest, a_shadow_held_on_a_latch_never_delays_the_primary) {
  std::atomic<int> destroyed{0};
  auto gated = std::make_shared<GatedModel>(&destroyed);
  StaticModelSource source;
  source.add("m", 1, std::make_shared<ConstantModel>(3));
  Deployment d{{.model = "m", .source = &source}};
  RoutingPolicy policy;
  policy.variants = {{"stable", 1, 1}};
  d.router().set_policy(policy);
  auto shadow = std::make_shared<ShadowPredictor>(options(8));
  shadow->add_shadow({.model = "m", .version = 2}, gated);
  shadow->start();
  d.add_observer(shadow);
  const double row[2] = {1.0, 2.0};
  // The shadow holds its first call until the end of the test; every primary call returns with
  // the primary's own answer meanwhile, including when the queue behind it is full.
  for (int i = 0; i < 100; ++i) {
    auto res = d.predict({.key = "user-" + std::to_string(i), .input = TensorView(row, Shape{1, 2})});
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->prediction.labels.at(0), 3);
    EXPECT_EQ(res->version, 1);
    if (i == 0) gated->wait_entered();
  }
  auto v = only(*shadow);
  EXPECT_EQ(v.sampled, 100u);
  EXPECT_EQ(v.mirrored, 8u);  // one held by the worker, seven queued
  EXPECT_EQ(v.dropped_queue_full, 92u);
  EXPECT_EQ(d.observer_errors(), 0u);
  gated->open();
  ASSERT_TRUE(shadow->drain(kLongWait));
  EXPECT_EQ(only(*shadow).completed, 8u);
}

TEST(ShadowPredictorTest, agreement_and_confusion_are_exact_on_deterministic_models) {
  FnModel primary(FnModel::Kind::kLabel, [](double x) { return static_cast<int>(x) % 3; });
  auto shadow = std::make_shared<FnModel>(FnModel::Kind::kLabel, [](double x) {
    const int i = static_cast<int>(x);
    return i % 5 == 0 ? (i + 1) % 3 : i % 3;  // disagrees on every multiple of 5
  });
  auto o = options();
  o.disagreements_kept = 3;
  ShadowPredictor p(o);
  p.add_shadow({.model = "m", .version = 2}, shadow);
  p.start();
  std::map<std::pair<int, int>, std::uint64_t> expected;
  for (int i = 0; i < 100; ++i) {
    Request r(primary, {static_cast<double>(i)}, "k" + std::to_string(i), "id" + std::to_string(i));
    p.on_request(r.seen);
    ++expected[{i % 3, i % 5 == 0 ? (i + 1) % 3 : i % 3}];
  }
  ASSERT_TRUE(p.drain(kLongWait));
  auto v = only(p);
  EXPECT_EQ(v.completed, 100u);
  EXPECT_EQ(v.compared_rows, 100u);
  EXPECT_EQ(v.agreed_rows, 80u);
  EXPECT_DOUBLE_EQ(v.agreement_rate, 0.8);
  ASSERT_EQ(v.confusion.size(), expected.size());
  for (const auto& c : v.confusion) EXPECT_EQ(c.count, (expected[{c.primary, c.shadow}])) << c.primary << "," << c.shadow;
  // The last three disagreements, oldest first: 85, 90, 95.
  ASSERT_EQ(v.disagreements.size(), 3u);
  EXPECT_EQ(v.disagreements[0].request_id, "id85");
  EXPECT_EQ(v.disagreements[1].key, "k90");
  EXPECT_EQ(v.disagreements[2].primary, 95 % 3);
  EXPECT_EQ(v.disagreements[2].shadow, 96 % 3);
  EXPECT_EQ(v.shadow_latency.count(), 100u);
  EXPECT_EQ(v.primary_latency.count(), 100u);
  EXPECT_EQ(v.primary_latency.max(), 1000u);
}

TEST(ShadowPredictorTest, absolute_and_relative_differences_are_exact) {
  FnModel primary(FnModel::Kind::kValue, [](double x) { return x; });
  auto shadow = std::make_shared<FnModel>(FnModel::Kind::kValue, [](double x) { return 1.1 * x; });
  auto o = options();
  o.value_tolerance = 0.35;
  ShadowPredictor p(o);
  p.add_shadow({.model = "m", .version = 2}, shadow);
  p.start();
  for (int x = 1; x <= 8; ++x) {
    Request r(primary, {static_cast<double>(x)}, "k" + std::to_string(x));
    p.on_request(r.seen);
  }
  ASSERT_TRUE(p.drain(kLongWait));
  auto v = only(p);
  // |diff| = 0.1 x for x = 1..8: numpy.mean/max/quantile (linear) of [0.1 .. 0.8].
  EXPECT_EQ(v.absolute_difference.count, 8u);
  EXPECT_NEAR(v.absolute_difference.mean, 0.45, 1e-12);
  EXPECT_NEAR(v.absolute_difference.max, 0.8, 1e-12);
  EXPECT_NEAR(v.absolute_difference.p50, 0.45, 1e-12);
  EXPECT_NEAR(v.absolute_difference.p90, 0.73, 1e-12);
  EXPECT_NEAR(v.absolute_difference.p99, 0.793, 1e-12);
  EXPECT_NEAR(v.relative_difference.mean, 0.1, 1e-12);
  EXPECT_NEAR(v.relative_difference.max, 0.1, 1e-12);
  EXPECT_EQ(v.compared_rows, 8u);
  EXPECT_EQ(v.agreed_rows, 3u);  // 0.1, 0.2, 0.3 are within 0.35
  ASSERT_EQ(v.disagreements.size(), 5u);
  EXPECT_EQ(v.disagreements.back().primary, 8.0);
  EXPECT_NEAR(v.disagreements.back().shadow, 8.8, 1e-12);
}

TEST(ShadowPredictorTest, a_throwing_shadow_is_counted_and_isolated) {
  StaticModelSource source;
  source.add("m", 1, std::make_shared<ConstantModel>(4));
  auto failing = std::make_shared<ConstantModel>(4);
  failing->set_failing(true);
  source.add("m", 2, failing);
  Deployment d{{.model = "m", .source = &source}};
  RoutingPolicy policy;
  policy.variants = {{"stable", 1, 1}};
  d.router().set_policy(policy);
  auto o = options();
  o.source = &source;
  auto shadow = std::make_shared<ShadowPredictor>(o);
  shadow->add_shadow({.model = "m", .version = 2});
  shadow->start();
  d.add_observer(shadow);
  const double row[1] = {1.0};
  for (int i = 0; i < 50; ++i) {
    auto res = d.predict({.key = "u" + std::to_string(i), .input = TensorView(row, Shape{1, 1})});
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->prediction.labels.at(0), 4);
    EXPECT_FALSE(res->fell_back);
  }
  ASSERT_TRUE(shadow->drain(kLongWait));
  auto v = only(*shadow);
  EXPECT_EQ(v.shadow_errors, 50u);
  EXPECT_EQ(v.completed, 0u);
  EXPECT_EQ(v.compared_rows, 0u);
  EXPECT_EQ(d.observer_errors(), 0u);
  EXPECT_EQ(shadow->state(), ShadowState::kRunning);
}

TEST(ShadowPredictorTest, removing_a_version_with_queued_work_keeps_its_model_alive) {
  std::atomic<int> destroyed{0};
  auto gated = std::make_shared<GatedModel>(&destroyed);
  GatedModel* raw = gated.get();
  ConstantModel primary(1);
  ShadowPredictor p(options(16));
  p.add_shadow({.model = "m", .version = 2}, std::move(gated));
  p.start();
  Request r(primary, {1.0}, "k");
  p.on_request(r.seen);
  raw->wait_entered();
  for (int i = 0; i < 3; ++i) p.on_request(r.seen);
  ASSERT_TRUE(p.remove_shadow("m", 2));
  EXPECT_FALSE(p.remove_shadow("m", 2));
  EXPECT_TRUE(p.report().versions.empty());
  p.on_request(r.seen);  // nothing is sampled now; this thread also lets go of the old list
  EXPECT_EQ(destroyed.load(), 0);  // the held call and three queued jobs still own the model
  raw->open();
  ASSERT_TRUE(p.drain(kLongWait));
  EXPECT_EQ(destroyed.load(), 1);  // the queued jobs were discarded, the model freed once
  EXPECT_EQ(p.report().bytes_queued, 0u);
}

TEST(ShadowPredictorTest, sticky_sampling_follows_the_bucketing_hash) {
  ConstantModel primary(1);
  ShadowPredictor p(options(1 << 14));
  p.add_shadow({.model = "m", .version = 2, .share = 0.3}, std::make_shared<ConstantModel>(1));
  p.add_shadow({.model = "m", .version = 3, .share = 0.5, .sampling = ShadowSampling::kRandom},
               std::make_shared<ConstantModel>(1));
  p.start();
  const bucketing::HashSalt salt("shadow/m/2");
  std::uint64_t expected = 0;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "user-" + std::to_string(i);
    if (bucketing::unit_interval(bucketing::hash64(salt, key)) < 0.3) expected += 2;
    Request r(primary, {1.0}, key);
    p.on_request(r.seen);
    p.on_request(r.seen);  // the same key twice: in both times or neither
  }
  ASSERT_TRUE(p.drain(kLongWait));
  auto rep = p.report();
  ASSERT_EQ(rep.versions.size(), 2u);
  EXPECT_EQ(rep.versions[0].sampled, expected);
  EXPECT_EQ(rep.versions[0].completed, expected);
  // Random: 4000 coins at 1/2; 6 standard deviations is about 190.
  EXPECT_NEAR(static_cast<double>(rep.versions[1].sampled), 2000.0, 190.0);
}

TEST(ShadowPredictorTest, pause_resume_and_duration_on_the_injected_clock) {
  ManualClock clock;
  ConstantModel primary(1);
  auto o = options();
  o.clock = &clock;
  ShadowPredictor p(o);
  p.add_shadow({.model = "m", .version = 2, .duration = 10s}, std::make_shared<ConstantModel>(1));
  p.start();
  Request r(primary, {1.0}, "k");
  p.on_request(r.seen);
  p.pause();
  EXPECT_EQ(p.state(), ShadowState::kPaused);
  p.on_request(r.seen);
  p.on_request(r.seen);
  p.resume();
  clock.advance(9s);
  p.on_request(r.seen);
  clock.advance(1s);
  p.on_request(r.seen);  // the duration has passed
  ASSERT_TRUE(p.drain(kLongWait));
  auto v = only(p);
  EXPECT_EQ(v.skipped_paused, 2u);
  EXPECT_EQ(v.sampled, 2u);
  EXPECT_EQ(v.completed, 2u);
  EXPECT_FALSE(v.active);
}

TEST(ShadowPredictorTest, invalid_shadows_are_rejected_naming_the_field) {
  ShadowPredictor p(options());
  auto m = std::make_shared<ConstantModel>(1);
  auto expect_field = [&](ShadowVersionOptions o, const std::string& field) {
    try {
      p.add_shadow(o, m);
      ADD_FAILURE() << "accepted " << field;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_field({.model = "m", .version = 2, .share = 1.5}, "share");
  expect_field({.model = "m", .version = 2, .share = -0.1}, "share");
  expect_field({.model = "m", .version = 2, .duration = -1s}, "duration");
  expect_field({.model = "", .version = 2}, "model");
  p.add_shadow({.model = "m", .version = 2}, m);
  expect_field({.model = "m", .version = 2}, "already");
  EXPECT_THROW(p.add_shadow({.model = "m", .version = 3}), InvalidArgument);  // no source
  StaticModelSource source;
  auto o = options();
  o.source = &source;
  ShadowPredictor q(o);
  EXPECT_THROW(q.add_shadow({.model = "m", .version = 9}), NotFound);
  EXPECT_TRUE(q.report().versions.empty());
  expect_field({.model = "m", .version = 4, .share = std::nan("")}, "share");
}

TEST(ShadowPredictorTest, invalid_options_are_rejected_naming_the_field) {
  auto expect_field = [](const std::function<void(ShadowPredictor::Options&)>& spoil,
                         const std::string& field) {
    auto o = options();
    spoil(o);
    try {
      ShadowPredictor p(o);
      ADD_FAILURE() << "accepted " << field;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + field + "'"), std::string::npos) << e.what();
    }
  };
  expect_field([](auto& o) { o.queue_capacity = 0; }, "queue_capacity");
  expect_field([](auto& o) { o.queue_capacity = std::size_t{1} << 25; }, "queue_capacity");
  expect_field([](auto& o) { o.byte_budget = 0; }, "byte_budget");
  expect_field([](auto& o) { o.workers = 0; }, "workers");
  expect_field([](auto& o) { o.clock = nullptr; }, "clock");
  expect_field([](auto& o) { o.value_tolerance = -1.0; }, "value_tolerance");
  expect_field([](auto& o) { o.value_tolerance = std::nan(""); }, "value_tolerance");
  expect_field([](auto& o) { o.idle_poll = std::chrono::nanoseconds(0); }, "idle_poll");
  expect_field([](auto& o) { o.label_ttl = -1s; }, "label_ttl");
  expect_field([](auto& o) { o.disagreement_signals_per_second = -1.0; },
               "disagreement_signals_per_second");
  expect_field([](auto& o) { o.disagreement_signals_per_second = HUGE_VAL; },
               "disagreement_signals_per_second");
  auto with_executor = options();
  with_executor.workers = 0;
  with_executor.executor = [](std::function<void()>) {};
  EXPECT_NO_THROW(ShadowPredictor{with_executor});  // workers may be 0 with an executor
}

TEST(ShadowPredictorTest, report_as_json_and_table) {
  FnModel primary(FnModel::Kind::kLabel, [](double) { return 1; });
  ShadowPredictor p(options());
  p.add_shadow({.model = "fraud \"x\"", .version = 2},
               std::make_shared<FnModel>(FnModel::Kind::kLabel, [](double) { return 0; }));
  p.start();
  Request r(primary, {1.0}, "k", "req-1");
  p.on_request(r.seen);
  ASSERT_TRUE(p.drain(kLongWait));
  const auto rep = p.report();
  const std::string j = rep.to_json();
  EXPECT_NE(j.find("\"model\":\"fraud \\\"x\\\"\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"agreement_rate\":0"), std::string::npos) << j;
  EXPECT_NE(j.find("\"confusion\":[{\"primary\":1,\"shadow\":0,\"count\":1}]"), std::string::npos) << j;
  EXPECT_NE(j.find("\"request_id\":\"req-1\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"dropped\":{\"queue_full\":0,\"over_budget\":0,\"stopped\":0}"), std::string::npos);
  const std::string t = rep.to_table();
  EXPECT_NE(t.find("fraud \"x\"/v2"), std::string::npos) << t;
  EXPECT_NE(t.find("running"), std::string::npos) << t;
}

// Two request threads through a Deployment; pause/resume meanwhile; then drain is clean and
// exact; then stop while both threads still send.
TEST(ShadowPredictorTest, drain_and_stop_are_clean_under_load) {
  StaticModelSource source;
  source.add("m", 1, std::make_shared<ConstantModel>(1));
  Deployment d{{.model = "m", .source = &source}};
  RoutingPolicy policy;
  policy.variants = {{"stable", 1, 1}};
  d.router().set_policy(policy);
  auto shadow = std::make_shared<ShadowPredictor>(options(64, 2));
  shadow->add_shadow({.model = "m", .version = 2}, std::make_shared<ConstantModel>(0));
  shadow->start();
  d.add_observer(shadow);
  constexpr int kPerThread = 3000;
  // Sends n requests; after the first half it counts `halfway` down and, when `resume_at` is
  // given, waits for it, so the test can act while both threads are mid-stream.
  auto send = [&](int t, int n, std::latch* halfway, std::latch* resume_at) {
    const double row[1] = {1.0};
    for (int i = 0; i < n; ++i) {
      auto res = d.predict({.key = std::to_string(t * n + i), .input = TensorView(row, Shape{1, 1})});
      ASSERT_TRUE(res.ok());
      if (i == n / 2) {
        halfway->count_down();
        if (resume_at != nullptr) resume_at->wait();
      }
    }
  };
  {
    std::latch halfway(2);
    std::thread a(send, 0, kPerThread, &halfway, nullptr), b(send, 1, kPerThread, &halfway, nullptr);
    halfway.wait();
    shadow->pause();
    shadow->resume();
    a.join();
    b.join();
  }
  ASSERT_TRUE(shadow->drain(kLongWait));
  auto v = only(*shadow);
  EXPECT_EQ(v.sampled + v.skipped_paused, 2u * kPerThread);
  EXPECT_EQ(v.sampled, v.mirrored + v.dropped_queue_full + v.dropped_over_budget);
  EXPECT_EQ(v.completed, v.mirrored);
  EXPECT_EQ(v.agreed_rows, 0u);
  EXPECT_EQ(shadow->report().bytes_queued, 0u);

  {
    // Both threads are held mid-stream while stop() runs, so every request of their second
    // halves arrives at a stopped predictor, whatever the scheduler does.
    std::latch halfway(2), stopped(1);
    std::thread a(send, 2, kPerThread, &halfway, &stopped),
        b(send, 3, kPerThread, &halfway, &stopped);
    halfway.wait();
    shadow->stop();
    stopped.count_down();
    a.join();
    b.join();
  }
  auto w = only(*shadow);
  EXPECT_EQ(w.sampled + w.skipped_paused, 4u * kPerThread);
  EXPECT_EQ(w.dropped_stopped, 2u * (kPerThread - kPerThread / 2 - 1));
  EXPECT_LE(w.completed + w.discarded, w.mirrored);
  EXPECT_EQ(shadow->state(), ShadowState::kStopped);
}

TEST(ShadowPredictorTest, late_labels_join_by_request_id_and_mcnemar_is_exact) {
  FnModel primary(FnModel::Kind::kLabel, [](double x) { return static_cast<int>(x) % 3; });
  auto shadow = std::make_shared<FnModel>(FnModel::Kind::kLabel, [](double x) {
    const int i = static_cast<int>(x);
    return i % 5 == 0 ? (i + 1) % 3 : i % 3;  // disagrees on every multiple of 5
  });
  ShadowPredictor p(options());
  p.add_shadow({.model = "m", .version = 2}, shadow);
  p.start();
  mirror(p, primary, 200);
  // The truth: the shadow's answer on multiples of 10, the primary's elsewhere, except that
  // multiples of 7 get a label neither gives.
  std::uint64_t primary_right = 0, shadow_right = 0, b = 0, c = 0;
  for (int i = 0; i < 150; ++i) {  // the last 50 requests never get a label
    const int pl = i % 3, sl = i % 5 == 0 ? (i + 1) % 3 : i % 3;
    const int truth = i % 7 == 0 ? 9 : (i % 10 == 0 ? sl : pl);
    EXPECT_EQ(p.record_label("id" + std::to_string(i), truth), 1u);
    primary_right += pl == truth;
    shadow_right += sl == truth;
    b += sl == truth && pl != truth;  // A = shadow right, B = primary wrong
    c += sl != truth && pl == truth;
  }
  EXPECT_EQ(p.record_label("id0", 0), 0u);         // already labeled
  EXPECT_EQ(p.record_label("never-seen", 1), 0u);  // unknown id
  auto r = p.report();
  EXPECT_EQ(r.labels_received, 152u);
  EXPECT_EQ(r.labels_unmatched, 2u);
  const auto& l = r.versions.at(0).labeled;
  EXPECT_EQ(l.labels_joined, 150u);
  EXPECT_EQ(l.rows, 150u);
  EXPECT_EQ(l.primary_correct, primary_right);
  EXPECT_EQ(l.shadow_correct, shadow_right);
  EXPECT_DOUBLE_EQ(l.primary_accuracy, static_cast<double>(primary_right) / 150.0);
  EXPECT_DOUBLE_EQ(l.shadow_accuracy, static_cast<double>(shadow_right) / 150.0);
  const auto expected = stats::mcnemar_test({.a_right_b_wrong = b, .a_wrong_b_right = c},
                                            stats::McNemarMethod::kExact, 150);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(l.mcnemar.discordant, b + c);
  EXPECT_DOUBLE_EQ(l.mcnemar.p_value, expected.p_value);
  EXPECT_DOUBLE_EQ(l.mcnemar.effect, expected.effect);
  EXPECT_FALSE(l.paired_t.ok());  // no regression labels
}

TEST(ShadowPredictorTest, regression_labels_feed_exact_errors_and_paired_tests) {
  FnModel primary(FnModel::Kind::kValue, [](double x) { return x; });
  auto shadow = std::make_shared<FnModel>(FnModel::Kind::kValue, [](double x) {
    return static_cast<int>(x) % 4 == 0 ? x + 0.5 : x + 0.15;
  });
  ShadowPredictor p(options());
  p.add_shadow({.model = "m", .version = 2}, shadow);
  p.start();
  mirror(p, primary, 60);
  std::vector<double> primary_err, shadow_err;
  for (int i = 0; i < 60; ++i) {
    const double x = i, truth = x + 0.2 + 0.01 * (i % 3);
    ASSERT_EQ(p.record_label("id" + std::to_string(i), truth), 1u);
    primary_err.push_back(std::fabs(x - truth));
    shadow_err.push_back(std::fabs((i % 4 == 0 ? x + 0.5 : x + 0.15) - truth));
  }
  EXPECT_THROW(p.record_label("id1", std::nan("")), InvalidArgument);
  const auto l = only(p).labeled;
  double pm = 0, sm = 0;
  for (std::size_t i = 0; i < primary_err.size(); ++i) pm += primary_err[i], sm += shadow_err[i];
  EXPECT_EQ(l.rows, 60u);
  EXPECT_NEAR(l.primary_mae, pm / 60.0, 1e-12);
  EXPECT_NEAR(l.shadow_mae, sm / 60.0, 1e-12);
  const auto t = stats::paired_t_test(shadow_err, primary_err);
  const auto w = stats::wilcoxon_signed_rank_test(shadow_err, primary_err);
  ASSERT_TRUE(l.paired_t.ok()) << l.paired_t.reason;
  EXPECT_DOUBLE_EQ(l.paired_t.statistic, t.statistic);
  EXPECT_DOUBLE_EQ(l.paired_t.p_value, t.p_value);
  EXPECT_LT(l.paired_t.effect, 0.0);  // the shadow errs less
  ASSERT_TRUE(l.wilcoxon.ok()) << l.wilcoxon.reason;
  EXPECT_DOUBLE_EQ(l.wilcoxon.p_value, w.p_value);
  EXPECT_EQ(l.wilcoxon.pairs, 60u);
}

TEST(ShadowPredictorTest, labels_age_out_and_the_oldest_are_forgotten_beyond_capacity) {
  ManualClock clock;
  ConstantModel primary(1);
  auto o = options();
  o.clock = &clock;
  o.label_ttl = 10s;
  o.label_join_capacity = 2;
  ShadowPredictor p(o);
  p.add_shadow({.model = "m", .version = 2}, std::make_shared<ConstantModel>(1));
  p.start();
  for (const char* id : {"a", "b", "c"}) {
    Request r(primary, {1.0}, "k", id);
    p.on_request(r.seen);
  }
  Request no_id(primary, {1.0}, "k");
  p.on_request(no_id.seen);  // without a request id nothing is kept for labels
  ASSERT_TRUE(p.drain(kLongWait));
  EXPECT_EQ(p.record_label("a", 1), 0u);  // forgotten: capacity 2
  EXPECT_EQ(p.record_label("b", 1), 1u);
  clock.advance(11s);
  EXPECT_EQ(p.record_label("c", 1), 0u);  // older than the TTL
  auto r = p.report();
  EXPECT_EQ(r.labels_unmatched, 2u);
  EXPECT_EQ(r.versions.at(0).labeled.labels_joined, 1u);
  EXPECT_EQ(r.versions.at(0).completed, 4u);
}

TEST(ShadowPredictorTest, prediction_distribution_counts_labels_and_measures_divergence) {
  FnModel primary(FnModel::Kind::kLabel, [](double x) { return static_cast<int>(x) % 2; });
  auto shadow = std::make_shared<FnModel>(FnModel::Kind::kLabel, [](double x) {
    return static_cast<int>(x) % 4 == 0 ? 2 : static_cast<int>(x) % 2;  // a label the primary never gives
  });
  ShadowPredictor p(options());
  p.add_shadow({.model = "m", .version = 2}, shadow);
  p.start();
  std::map<int, std::pair<std::uint64_t, std::uint64_t>> expected;
  for (int i = 0; i < 400; ++i) {
    Request r(primary, {static_cast<double>(i)}, "k" + std::to_string(i));
    p.on_request(r.seen);
    ++expected[i % 2].first;
    ++expected[i % 4 == 0 ? 2 : i % 2].second;
  }
  ASSERT_TRUE(p.drain(kLongWait));
  const auto d = only(p).distribution;
  ASSERT_EQ(d.labels.size(), expected.size());
  std::vector<std::uint64_t> ref, cur;
  for (const auto& lc : d.labels) {
    EXPECT_EQ(lc.primary, expected[lc.label].first) << lc.label;
    EXPECT_EQ(lc.shadow, expected[lc.label].second) << lc.label;
    ref.push_back(expected[lc.label].first);
    cur.push_back(expected[lc.label].second);
  }
  const auto js = stats::categorical_drift(ref, cur, stats::DriftMethod::kJensenShannon);
  ASSERT_TRUE(d.divergence.ok()) << d.divergence.reason;
  EXPECT_EQ(d.divergence.method, stats::DriftMethod::kJensenShannon);
  EXPECT_DOUBLE_EQ(d.divergence.value, js.value);
  EXPECT_TRUE(d.divergence.drift);  // label 2 is new
}

TEST(ShadowPredictorTest, the_disagreement_signal_is_opt_in_and_rate_limited) {
  ManualClock clock;
  FnModel primary(FnModel::Kind::kLabel, [](double) { return 0; });
  auto shadow = std::make_shared<FnModel>(FnModel::Kind::kLabel, [](double) { return 1; });
  auto o = options();
  o.clock = &clock;
  o.disagreement_signals_per_second = 2.0;
  ShadowPredictor p(o);
  std::vector<std::string> seen;  // written on the worker; read after drain()
  std::mutex mu;
  p.disagreement.connect([&](const ShadowDisagreementEvent& e) {
    std::lock_guard lk(mu);
    seen.push_back(e.disagreement.request_id);
    EXPECT_EQ(e.model, "m");
    EXPECT_EQ(e.version, 2);
  });
  p.add_shadow({.model = "m", .version = 2}, shadow);
  p.start();
  auto send = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      Request r(primary, {1.0}, "k", "id" + std::to_string(i));
      p.on_request(r.seen);
    }
    ASSERT_TRUE(p.drain(kLongWait));
  };
  send(0, 10);
  EXPECT_EQ(p.disagreements_suppressed(), 8u);  // a burst of two, then nothing at the same time
  clock.advance(500ms);                          // one more token
  send(10, 13);
  EXPECT_EQ(p.disagreements_suppressed(), 10u);
  std::lock_guard lk(mu);
  EXPECT_EQ(seen, (std::vector<std::string>{"id0", "id1", "id10"}));
}

TEST(ShadowPredictorTest, a_host_executor_runs_the_work_and_late_tasks_are_harmless) {
  std::mutex mu;
  std::vector<std::function<void()>> tasks;
  auto o = options();
  o.workers = 0;
  o.executor = [&](std::function<void()> task) {
    std::lock_guard lk(mu);
    tasks.push_back(std::move(task));
  };
  auto take = [&] {
    std::lock_guard lk(mu);
    auto out = std::move(tasks);
    tasks.clear();
    return out;
  };
  ConstantModel primary(1);
  auto p = std::make_unique<ShadowPredictor>(o);
  p->add_shadow({.model = "m", .version = 2}, std::make_shared<ConstantModel>(1));
  p->start();
  Request r(primary, {1.0}, "k");
  for (int i = 0; i < 50; ++i) p->on_request(r.seen);
  auto batch = take();
  ASSERT_EQ(batch.size(), 1u);  // one task for the whole backlog
  batch[0]();
  EXPECT_EQ(only(*p).completed, 50u);
  EXPECT_EQ(only(*p).agreed_rows, 50u);
  p->on_request(r.seen);  // schedules again
  batch = take();
  ASSERT_EQ(batch.size(), 1u);
  p->stop();  // the queued job is discarded; the task, run later, does nothing
  EXPECT_EQ(only(*p).discarded, 1u);
  p.reset();
  batch[0]();  // after the predictor is gone: no use-after-free (ASan checks this)
}

TEST(ShadowPredictorTest, a_removed_version_is_released_once_its_queued_work_is_done) {
  std::atomic<int> destroyed{0};
  auto gated = std::make_shared<GatedModel>(&destroyed);
  GatedModel* raw = gated.get();
  ConstantModel primary(1);
  ShadowPredictor p(options(16));
  p.add_shadow({.model = "m", .version = 2}, std::move(gated));
  p.add_shadow({.model = "m", .version = 3}, std::make_shared<ConstantModel>(1));
  p.start();
  Request r(primary, {1.0}, "k");
  p.on_request(r.seen);
  raw->wait_entered();
  for (int i = 0; i < 5; ++i) p.on_request(r.seen);
  ASSERT_TRUE(p.remove_shadow("m", 2));
  p.on_request(r.seen);  // this thread lets go of the old list: v2 waits for its jobs
  EXPECT_EQ(destroyed.load(), 0);
  raw->open();
  ASSERT_TRUE(p.drain(kLongWait));
  EXPECT_EQ(destroyed.load(), 1);
  auto v = only(p);  // v3 alone remains, and it saw every request
  EXPECT_EQ(v.version, 3);
  EXPECT_EQ(v.completed, 7u);
}

}  // namespace
}  // namespace switchyard
