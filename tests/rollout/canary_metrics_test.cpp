// SPDX-License-Identifier: Apache-2.0
// CanaryMetrics: figures per version from a real Deployment (errors, fallbacks), windows that add
// up to the cumulative figures, p99 within the histogram's bound, uniform latency samples (merged
// across threads), labels joined by request id, host metrics, bulk records, option checks, and two
// request threads with a window roller (exact totals after join; run it under TSan too).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/core/model_source.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/serving/deployment.hpp>

#include "support/fake_models.hpp"

namespace switchyard {
namespace {
namespace canary_metrics_test {

CanaryMetrics::Options two_versions() {
  CanaryMetrics::Options o;
  o.versions = {1, 2};
  return o;
}

double mean(const std::vector<double>& xs) {
  return std::accumulate(xs.begin(), xs.end(), 0.0) / static_cast<double>(xs.size());
}

TEST(CanaryMetricsTest, counts_requests_errors_and_fallbacks_seen_by_a_deployment) {
  StaticModelSource source;
  auto stable = std::make_shared<testing::ConstantModel>(1);
  auto canary = std::make_shared<testing::ConstantModel>(1);
  canary->set_failing(true);
  source.add("m", 1, stable);
  source.add("m", 2, canary);
  Deployment d({.model = "m", .source = &source});
  RoutingPolicy p;
  p.variants = {{"stable", 1, 50}, {"canary", 2, 50}};
  p.fallback_variant = "stable";
  d.router().set_policy(p);
  auto metrics = std::make_shared<CanaryMetrics>(two_versions());
  d.add_observer(metrics);

  std::vector<double> x = {1.0};
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "user-" + std::to_string(i);
    ASSERT_TRUE(d.predict({.key = key, .input = TensorView(x), .request_id = key}).ok());
  }
  // A request rejected before any model ran (unknown pinned version) is not a version's request.
  EXPECT_FALSE(d.predict({.key = "k", .input = TensorView(x), .version = 9}).ok());

  const CanaryWindow w = metrics->snapshot();
  const auto* s = w.find(1);
  const auto* c = w.find(2);
  ASSERT_NE(s, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->requests, canary->calls());
  EXPECT_EQ(c->errors, c->requests);  // every canary call failed ...
  EXPECT_EQ(s->fallbacks, c->errors);  // ... and the stable arm answered it
  EXPECT_EQ(s->requests + c->requests, 2000u);
  EXPECT_EQ(s->errors, 0u);
  EXPECT_DOUBLE_EQ(c->error_rate(), 1.0);
  EXPECT_EQ(s->latency.count(), s->requests);  // fallback answers are not stable's latencies
  EXPECT_EQ(w.ignored_requests, 1u);
  EXPECT_GT(c->requests, 800u);  // about half of 2000 (sd 22)
  EXPECT_LT(c->requests, 1200u);

  // A fallback answer's label judges the version that gave it.
  ASSERT_EQ(metrics->record_label("user-0", true), JoinResult::kJoined);
  ASSERT_EQ(metrics->record_label("user-1", false), JoinResult::kJoined);
  const CanaryWindow after = metrics->snapshot();
  EXPECT_EQ(after.find(1)->labelled, 2u);
  EXPECT_EQ(after.find(2)->labelled, 0u);
}

TEST(CanaryMetricsTest, windows_add_up_to_the_cumulative_figures) {
  CanaryMetrics m({.versions = {7}, .metrics = {"revenue"}});
  std::uint64_t total = 0;
  std::vector<CanaryWindow> windows;
  for (int w = 0; w < 5; ++w) {
    for (int i = 0; i < 100 * (w + 1); ++i) {
      m.record_request(7, i % 10 != 0, 1000 + static_cast<std::uint64_t>(i));
      m.record(7, "revenue", 2.0);
      ++total;
    }
    windows.push_back(m.roll_window());
  }
  std::uint64_t requests = 0, errors = 0, latencies = 0, revenue = 0;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    EXPECT_EQ(windows[i].index, i + 1);
    EXPECT_EQ(windows[i].window[0].requests, 100 * (i + 1));
    requests += windows[i].window[0].requests;
    errors += windows[i].window[0].errors;
    latencies += windows[i].window[0].latency.count();
    revenue += windows[i].window[0].metric("revenue")->count;
  }
  const CanaryWindow last = m.snapshot();
  EXPECT_EQ(last.window[0].requests, 0u);
  EXPECT_TRUE(last.window[0].latency_sample_ns.empty());
  EXPECT_EQ(requests, total);
  EXPECT_EQ(last.cumulative[0].requests, total);
  EXPECT_EQ(last.cumulative[0].errors, errors);
  EXPECT_EQ(errors, total / 10);
  EXPECT_EQ(last.cumulative[0].latency.count(), latencies);
  EXPECT_EQ(last.cumulative[0].metric("revenue")->count, revenue);
}

TEST(CanaryMetricsTest, p99_is_within_the_histograms_bound_and_the_sample_is_uniform) {
  CanaryMetrics m({.versions = {1}, .latency_sample = 2000});
  for (std::uint64_t ns = 1; ns <= 100000; ++ns) m.record_request(1, true, ns);
  const CanaryWindow w = m.roll_window();
  const auto& f = w.window[0];
  // Exact sample p99 of 1..100000 is 99000; log-linear buckets promise 0.8%.
  EXPECT_NEAR(f.p99_ns(), 99000.0, 99000.0 * 0.008);
  ASSERT_EQ(f.latency_sample_ns.size(), 2000u);
  // A uniform sample of 1..100000: mean 50000.5, sd of the mean 28868 / sqrt(2000) = 645.5;
  // the bound is 5 sd.
  EXPECT_NEAR(mean(f.latency_sample_ns), 50000.5, 5 * 645.5);
  // The next window's sample holds only its own values.
  for (int i = 0; i < 10; ++i) m.record_request(1, true, 5'000'000);
  const CanaryWindow next = m.roll_window();
  ASSERT_EQ(next.window[0].latency_sample_ns.size(), 10u);
  for (double v : next.window[0].latency_sample_ns) EXPECT_EQ(v, 5'000'000.0);
}

TEST(CanaryMetricsTest, samples_from_two_threads_merge_in_proportion_to_their_requests) {
  CanaryMetrics m({.versions = {1}, .latency_sample = 2000});
  std::thread a([&] {
    for (int i = 0; i < 30000; ++i) m.record_request(1, true, 1000);
  });
  std::thread b([&] {
    for (int i = 0; i < 10000; ++i) m.record_request(1, true, 2000);
  });
  a.join();
  b.join();
  const CanaryWindow w = m.snapshot();
  const auto& sample = w.window[0].latency_sample_ns;
  ASSERT_EQ(sample.size(), 2000u);
  const double from_b =
      static_cast<double>(std::count(sample.begin(), sample.end(), 2000.0)) / 2000.0;
  // 10000 of 40000 requests came from b: 0.25, sd sqrt(0.25 * 0.75 / 2000) = 0.0097; 5 sd.
  EXPECT_NEAR(from_b, 0.25, 0.05);
  EXPECT_EQ(w.window[0].requests, 40000u);
}

TEST(CanaryMetricsTest, labels_join_by_request_id_once) {
  CanaryMetrics m(two_versions());
  for (int i = 0; i < 100; ++i) {
    m.record_request(i < 50 ? 1 : 2, true, 1000, "req-" + std::to_string(i));
  }
  for (int i = 0; i < 100; ++i) {
    // Version 1 is right 40 of 50 times, version 2 30 of 50.
    const bool correct = i < 50 ? i < 40 : i < 80;
    ASSERT_EQ(m.record_label("req-" + std::to_string(i), correct), JoinResult::kJoined) << i;
  }
  EXPECT_EQ(m.record_label("req-3", true), JoinResult::kDuplicate);
  EXPECT_EQ(m.record_label("never-seen", true), JoinResult::kUnknownRequest);
  EXPECT_EQ(m.record_label("", true), JoinResult::kUnknownRequest);
  const CanaryWindow w = m.roll_window();
  EXPECT_EQ(w.find(1)->labelled, 50u);
  EXPECT_DOUBLE_EQ(w.find(1)->accuracy(), 0.8);
  EXPECT_EQ(w.find(2)->labelled, 50u);
  EXPECT_DOUBLE_EQ(w.find(2)->accuracy(), 0.6);
  EXPECT_EQ(w.labels_duplicate, 1u);
  EXPECT_EQ(w.labels_unmatched, 2u);
  // Labels count in the window in which they arrive.
  m.record_request(1, true, 1000, "late");
  m.roll_window();
  ASSERT_EQ(m.record_label("late", false), JoinResult::kJoined);
  EXPECT_EQ(m.snapshot().find(1)->labelled, 1u);
  EXPECT_EQ(m.snapshot().find_cumulative(1)->labelled, 51u);
}

TEST(CanaryMetricsTest, a_full_label_set_forgets_its_oldest_request) {
  // Capacity 8 is one set of 8: the ninth request takes the oldest one's slot.
  CanaryMetrics m({.versions = {1}, .label_capacity = 8});
  for (int i = 0; i < 9; ++i) m.record_request(1, true, 10, "r" + std::to_string(i));
  EXPECT_EQ(m.record_label("r0", true), JoinResult::kUnknownRequest);
  EXPECT_EQ(m.record_label("r8", true), JoinResult::kJoined);
  EXPECT_EQ(m.record_label("r1", true), JoinResult::kJoined);
  // A labelled slot is reused before any unlabelled one.
  m.record_request(1, true, 10, "r9");
  EXPECT_EQ(m.record_label("r2", true), JoinResult::kJoined);
  EXPECT_EQ(m.record_label("r9", true), JoinResult::kJoined);
  CanaryMetrics off({.versions = {1}, .label_capacity = 0});
  off.record_request(1, true, 10, "x");
  EXPECT_EQ(off.record_label("x", true), JoinResult::kUnknownRequest);
  EXPECT_TRUE(off.record_labels(1, 10, 9));
  EXPECT_DOUBLE_EQ(off.snapshot().find(1)->accuracy(), 0.9);
}

TEST(CanaryMetricsTest, host_metrics_keep_moments_per_window) {
  CanaryMetrics m({.versions = {1, 2}, .metrics = {"revenue", "clicks"}});
  for (double v : {1.0, 2.0, 3.0, 4.0}) EXPECT_TRUE(m.record(1, "revenue", v));
  EXPECT_FALSE(m.record(1, "unknown", 1.0));
  EXPECT_FALSE(m.record(3, "revenue", 1.0));
  EXPECT_FALSE(m.record(1, "revenue", std::nan("")));
  const CanaryWindow w = m.roll_window();
  const MetricMoments* r = w.find(1)->metric("revenue");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->count, 4u);
  EXPECT_DOUBLE_EQ(r->mean(), 2.5);
  EXPECT_DOUBLE_EQ(r->variance(), 5.0 / 3.0);  // numpy.var([1, 2, 3, 4], ddof=1)
  EXPECT_EQ(w.find(2)->metric("clicks")->count, 0u);
  m.record(1, "revenue", 10.0);
  const CanaryWindow next = m.snapshot();
  EXPECT_EQ(next.find(1)->metric("revenue")->count, 1u);
  EXPECT_DOUBLE_EQ(next.find(1)->metric("revenue")->mean(), 10.0);
  EXPECT_EQ(next.find_cumulative(1)->metric("revenue")->count, 5u);
}

TEST(CanaryMetricsTest, batches_count_like_requests_and_join_the_sample) {
  CanaryMetrics m({.versions = {1}, .latency_sample = 100});
  for (int i = 0; i < 100; ++i) m.record_request(1, true, 1000);
  LatencyHistogram h;
  for (int i = 0; i < 900; ++i) h.record(5000);
  const std::vector<std::uint64_t> draws(100, 5000);
  EXPECT_TRUE(m.record_batch(1, {.requests = 1000, .errors = 100, .latency = &h,
                                  .latency_sample = draws}));
  EXPECT_FALSE(m.record_batch(1, {.requests = 10, .errors = 11}));
  EXPECT_FALSE(m.record_batch(1, {.requests = 10, .errors = 5, .latency = &h}));
  EXPECT_FALSE(m.record_batch(2, {.requests = 1}));
  const CanaryWindow w = m.snapshot();
  const auto& f = w.window[0];
  EXPECT_EQ(f.requests, 1100u);
  EXPECT_EQ(f.errors, 100u);
  EXPECT_EQ(f.latency.count(), 1000u);
  ASSERT_EQ(f.latency_sample_ns.size(), 100u);
  // 900 of the 1000 answers were the batch's: hypergeometric mean 90, sd 2.85; 5 sd.
  const auto from_batch = std::count(f.latency_sample_ns.begin(), f.latency_sample_ns.end(), 5000.0);
  EXPECT_NEAR(static_cast<double>(from_batch), 90.0, 15.0);
}

TEST(CanaryMetricsTest, requests_of_unwatched_versions_are_ignored) {
  CanaryMetrics m(two_versions());
  EXPECT_FALSE(m.record_request(3, true, 10));
  EXPECT_TRUE(m.record_request(2, false, 0));
  const CanaryWindow w = m.snapshot();
  EXPECT_EQ(w.ignored_requests, 1u);
  EXPECT_EQ(w.find(2)->errors, 1u);
  EXPECT_EQ(w.find(3), nullptr);
  EXPECT_FALSE(m.record_labels(1, 1, 2));
}

TEST(CanaryMetricsTest, options_are_checked_by_name) {
  auto fails_with = [](CanaryMetrics::Options o, const std::string& text) {
    try {
      CanaryMetrics m(std::move(o));
      ADD_FAILURE() << "accepted; expected: " << text;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  fails_with({}, "versions is empty");
  fails_with({.versions = {0}}, "version 0 is not > 0");
  fails_with({.versions = {1, 1}}, "version 1 is repeated");
  fails_with({.versions = {1}, .metrics = {""}}, "metric name is empty");
  fails_with({.versions = {1}, .metrics = {"a", "a"}}, "metric 'a' is repeated");
  fails_with({.versions = {1}, .latency_sample = 2'000'000}, "latency_sample");
  fails_with({.versions = {1}, .label_capacity = std::size_t{1} << 30}, "label_capacity");
}

TEST(CanaryMetricsTest, two_request_threads_and_a_window_roller_lose_nothing) {
  CanaryMetrics m({.versions = {1, 2}, .metrics = {"score"}, .latency_sample = 500});
  constexpr int kPerThread = 100000;
  std::atomic<int> running{2};
  auto request_thread = [&](std::int64_t version, int salt) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = std::to_string(salt) + "-" + std::to_string(i);
      m.record_request(version, i % 100 != 0, 1000 + static_cast<std::uint64_t>(i % 5000), id);
      m.record(version, "score", 1.0);
      // Failed requests are not remembered for labels; label every 4th answered one.
      if (i % 4 == 0 && i % 100 != 0) m.record_label(id, i % 8 == 0);
    }
    running.fetch_sub(1);
  };
  std::vector<CanaryWindow> rolled;
  std::thread roller([&] {
    while (running.load() > 0) rolled.push_back(m.roll_window());
  });
  std::thread a(request_thread, 1, 1);
  std::thread b(request_thread, 2, 2);
  a.join();
  b.join();
  roller.join();
  rolled.push_back(m.roll_window());

  for (std::size_t vi = 0; vi < 2; ++vi) {
    std::uint64_t requests = 0, errors = 0, labelled = 0, correct = 0, scores = 0, latencies = 0;
    for (const auto& w : rolled) {
      const auto& f = w.window[vi];
      requests += f.requests;
      errors += f.errors;
      labelled += f.labelled;
      correct += f.correct;
      scores += f.metrics[0].count;
      latencies += f.latency.count();
      EXPECT_LE(f.latency_sample_ns.size(), 500u);
    }
    EXPECT_EQ(requests, static_cast<std::uint64_t>(kPerThread));
    EXPECT_EQ(errors, static_cast<std::uint64_t>(kPerThread / 100));
    EXPECT_EQ(latencies, requests - errors);
    // Multiples of 4 (25000) less those of 100 (1000); of 8 (12500) less those of 200 (500).
    EXPECT_EQ(labelled, 24000u);
    EXPECT_EQ(correct, 12000u);
    EXPECT_EQ(scores, static_cast<std::uint64_t>(kPerThread));
    EXPECT_EQ(rolled.back().cumulative[vi].requests, static_cast<std::uint64_t>(kPerThread));
  }
  EXPECT_EQ(rolled.back().labels_unmatched, 0u);
  for (std::size_t i = 1; i < rolled.size(); ++i) {
    EXPECT_EQ(rolled[i].index, rolled[i - 1].index + 1);
  }
}

}  // namespace canary_metrics_test
}  // namespace
}  // namespace switchyard
