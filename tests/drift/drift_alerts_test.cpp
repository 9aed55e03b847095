// SPDX-License-Identifier: Apache-2.0
// Alerts: hysteresis (raised once, cleared once, no flapping), each of seed 003's thresholds firing
// and not firing through a DriftMonitor, and the four retraining triggers.
#include <switchyard/drift/drift_alerts.hpp>

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "drift/monitor_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace drift_alerts_test {

using testing::FakeRequest;
using testing::monitor_options;
using testing::normal_profile;
using std::chrono::milliseconds;
using std::chrono::seconds;

AlertMeasurement distance(double value, double threshold = 0.1) {
  AlertMeasurement m;
  m.condition = AlertCondition::kPredictionDrift;
  m.value = value;
  m.threshold = threshold;
  m.breached = value >= threshold;
  return m;
}

// ---- hysteresis -----------------------------------------------------------------------------

TEST(DriftAlertsTest, fires_once_and_clears_after_consecutive_clear_windows) {
  DriftAlerts alerts;  // margin 0.1, two clear windows
  const DriftAlerts::WindowInfo w{"m", 3};
  auto t = alerts.update(w, {distance(0.15)});
  ASSERT_EQ(t.raised.size(), 1u);
  EXPECT_EQ(t.raised[0].version, 3);
  EXPECT_EQ(t.raised[0].severity, AlertSeverity::kWarning);
  for (double v : {0.3, 0.12, 0.5}) {  // still breached: never raised again
    t = alerts.update(w, {distance(v)});
    EXPECT_TRUE(t.raised.empty());
    EXPECT_TRUE(t.cleared.empty());
  }
  t = alerts.update(w, {distance(0.05)});  // clear window 1
  EXPECT_TRUE(t.cleared.empty());
  t = alerts.update(w, {distance(0.04)});  // clear window 2: cleared
  ASSERT_EQ(t.cleared.size(), 1u);
  EXPECT_FALSE(t.cleared[0].active);
  EXPECT_TRUE(alerts.active().empty());
  t = alerts.update(w, {distance(0.2)});  // a new episode raises again
  EXPECT_EQ(t.raised.size(), 1u);
}

TEST(DriftAlertsTest, a_measurement_hovering_at_the_threshold_does_not_flap) {
  DriftAlerts alerts;
  const DriftAlerts::WindowInfo w{"m", 3};
  std::size_t raised = 0, cleared = 0;
  // Alternating just above and just below 0.1 (inside the 10 % band): one alert, never cleared.
  for (int i = 0; i < 50; ++i) {
    auto t = alerts.update(w, {distance(i % 2 ? 0.101 : 0.095)});
    raised += t.raised.size();
    cleared += t.cleared.size();
  }
  EXPECT_EQ(raised, 1u);
  EXPECT_EQ(cleared, 0u);
  // Clear, band, clear: the band restarts the count.
  EXPECT_TRUE(alerts.update(w, {distance(0.01)}).cleared.empty());
  EXPECT_TRUE(alerts.update(w, {distance(0.095)}).cleared.empty());
  EXPECT_TRUE(alerts.update(w, {distance(0.01)}).cleared.empty());
  EXPECT_EQ(alerts.update(w, {distance(0.01)}).cleared.size(), 1u);
  // A window that cannot measure leaves an alert alone.
  alerts.update(w, {distance(0.3)});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(alerts.update(w, {}).cleared.empty());
  EXPECT_EQ(alerts.active().size(), 1u);
}

TEST(DriftAlertsTest, p_value_alerts_clear_above_the_margin_and_severity_follows_the_factor) {
  DriftAlerts alerts;
  const DriftAlerts::WindowInfo w{"m", 1};
  AlertMeasurement p;
  p.condition = AlertCondition::kFeatureDrift;
  p.subject = "age";
  p.threshold = 0.05;
  p.lower_is_worse = true;
  p.value = 0.01;
  p.breached = true;
  auto t = alerts.update(w, {p});
  ASSERT_EQ(t.raised.size(), 1u);
  EXPECT_EQ(t.raised[0].severity, AlertSeverity::kCritical);  // 0.01 <= 0.05 / 2
  EXPECT_EQ(t.raised[0].subject, "age");
  p.breached = false;
  p.value = 0.052;  // above 0.05 but inside the band up to 0.055
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(alerts.update(w, {p}).cleared.empty());
  p.value = 0.3;
  alerts.update(w, {p});
  EXPECT_EQ(alerts.update(w, {p}).cleared.size(), 1u);
}

TEST(DriftAlertsTest, policy_fields_are_checked_by_name) {
  auto message = [](AlertPolicy p) {
    try {
      DriftAlerts a(p);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  AlertPolicy p;
  p.clear_margin = 1.0;
  EXPECT_NE(message(p).find("clear_margin"), std::string::npos);
  p = {};
  p.clear_windows = 0;
  EXPECT_NE(message(p).find("clear_windows"), std::string::npos);
  p = {};
  p.error_rate = -1;
  EXPECT_NE(message(p).find("error_rate"), std::string::npos);
  p = {};
  p.latency_sla = Duration(0);
  EXPECT_NE(message(p).find("latency_sla"), std::string::npos);
}

// ---- seed 003's thresholds through a monitor ------------------------------------------------

class Seed003Test : public ::testing::Test {
 protected:
  ManualClock clock;
  std::shared_ptr<const ReferenceProfile> profile = normal_profile(4, 2000);
  std::mt19937_64 rng{3};
  std::normal_distribution<double> z;

  DriftMonitor::Options options() {
    auto o = monitor_options(profile, clock, seconds(10));
    o.drift = DriftOptions::seed_003();
    o.alerts = AlertPolicy::seed_003(milliseconds(20));
    o.baseline_accuracy = 0.90;
    return o;
  }
  // One window of `rows` rows: feature 0 shifted by `feature_shift`, predictions by
  // `prediction_shift` sigma. Returns the window's evaluation.
  WindowEvaluation window(DriftMonitor& m, int rows, double feature_shift,
                          double prediction_shift) {
    std::vector<double> row(4);
    for (int i = 0; i < rows; ++i) {
      for (std::size_t f = 0; f < 4; ++f) row[f] = z(rng) + (f == 0 ? feature_shift : 0.0);
      m.observe(row, z(rng) + prediction_shift);
    }
    clock.advance(seconds(10));
    auto w = m.poll();
    EXPECT_EQ(w.size(), 1u);
    return w.empty() ? WindowEvaluation{} : w[0];
  }
  static const DriftAlert* find(const std::vector<DriftAlert>& alerts, AlertCondition c) {
    for (const auto& a : alerts) {
      if (a.condition == c) return &a;
    }
    return nullptr;
  }
  static bool has(const std::vector<DriftAlert>& alerts, AlertCondition c) {
    return find(alerts, c) != nullptr;
  }
};

TEST_F(Seed003Test, feature_psi_over_0_2) {
  DriftMonitor m(options());
  auto quiet = window(m, 1000, 0.0, 0.0);
  EXPECT_FALSE(has(quiet.raised, AlertCondition::kFeatureDrift));
  EXPECT_LT(quiet.drift.features[0].score, 0.2);
  auto shifted = window(m, 1000, 0.7, 0.0);  // PSI about 0.5
  const DriftAlert* a = find(shifted.raised, AlertCondition::kFeatureDrift);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->subject, "x0");
  EXPECT_EQ(shifted.drift.features[0].test, DriftTest::kPsi);
  EXPECT_GE(a->value, 0.2);
  EXPECT_EQ(a->threshold, 0.2);
  EXPECT_NE(a->evidence.find("psi"), std::string::npos);
}

TEST_F(Seed003Test, prediction_kl_over_0_1) {
  DriftMonitor m(options());
  std::vector<DriftAlert> signalled;
  m.drift_detected.connect([&](const DriftAlert& a) { signalled.push_back(a); });
  auto quiet = window(m, 1000, 0.0, 0.0);
  EXPECT_FALSE(has(quiet.raised, AlertCondition::kPredictionDrift));
  EXPECT_LT(quiet.drift.prediction.score, 0.1);
  auto shifted = window(m, 1000, 0.0, 0.8);  // KL about 0.3
  EXPECT_TRUE(has(shifted.raised, AlertCondition::kPredictionDrift));
  EXPECT_EQ(shifted.drift.prediction.test, DriftTest::kKlDivergence);
  ASSERT_EQ(signalled.size(), 1u);
  EXPECT_EQ(signalled[0].condition, AlertCondition::kPredictionDrift);
  window(m, 1000, 0.0, 0.8);  // still drifting: not signalled again
  EXPECT_EQ(signalled.size(), 1u);
}

TEST_F(Seed003Test, accuracy_drop_over_2_percent) {
  DriftMonitor m(options());
  std::vector<DriftAlert> degraded;
  m.quality_degraded.connect([&](const DriftAlert& a) { degraded.push_back(a); });
  auto labels = [&](int correct, int total) {
    for (int i = 0; i < total; ++i) m.record_label(1.0, i < correct ? 1.0 : 0.0);
  };
  labels(179, 200);  // 0.895: 0.5 points below 0.90
  auto fine = window(m, 100, 0.0, 0.0);
  ASSERT_TRUE(fine.quality.accuracy);
  EXPECT_DOUBLE_EQ(*fine.quality.accuracy, 0.895);
  EXPECT_FALSE(has(fine.raised, AlertCondition::kAccuracyDrop));
  labels(174, 200);  // 0.87: 3 points below
  auto bad = window(m, 100, 0.0, 0.0);
  EXPECT_TRUE(has(bad.raised, AlertCondition::kAccuracyDrop));
  ASSERT_EQ(degraded.size(), 1u);
  EXPECT_NEAR(degraded[0].value, 0.03, 1e-12);
  ASSERT_EQ(bad.retraining.size(), 1u);
  EXPECT_EQ(bad.retraining[0].trigger, RetrainingTrigger::kPerformance);
}

TEST_F(Seed003Test, p99_over_the_sla) {
  DriftMonitor m(options());  // SLA 20 ms
  auto requests = [&](std::int64_t latency_ms) {
    FakeRequest r({0.0, 0.1, 0.2, 0.3}, 0.0, latency_ms * 1'000'000);
    for (int i = 0; i < 500; ++i) m.on_request(r.observed);
    clock.advance(seconds(10));
    return m.poll().at(0);
  };
  auto fast = requests(10);
  EXPECT_FALSE(has(fast.raised, AlertCondition::kLatencyP99));
  auto slow = requests(50);
  const DriftAlert* a = find(slow.raised, AlertCondition::kLatencyP99);
  ASSERT_NE(a, nullptr);
  EXPECT_NEAR(*slow.quality.latency_p99_ns, 50e6, 50e6 * 0.01);
  EXPECT_EQ(a->severity, AlertSeverity::kCritical);  // 2.5 x the SLA
}

TEST_F(Seed003Test, error_rate_over_0_1_percent) {
  DriftMonitor m(options());
  auto requests = [&](int failed) {
    FakeRequest ok({0.0, 0.1, 0.2, 0.3}, 0.0);
    FakeRequest bad({0.0, 0.1, 0.2, 0.3}, 0.0, 1'000'000, false);
    for (int i = 0; i < 2000; ++i) m.on_request(i < failed ? bad.observed : ok.observed);
    clock.advance(seconds(10));
    return m.poll().at(0);
  };
  auto one = requests(1);  // 0.05 %
  EXPECT_EQ(one.quality.errors, 1u);
  EXPECT_FALSE(has(one.raised, AlertCondition::kErrorRate));
  auto three = requests(3);  // 0.15 %
  EXPECT_TRUE(has(three.raised, AlertCondition::kErrorRate));
}

TEST_F(Seed003Test, traffic_volume_beyond_3_sigma) {
  DriftMonitor m(options());
  std::vector<double> row(4);
  auto requests = [&](int n) {
    for (int i = 0; i < n; ++i) {
      for (double& x : row) x = z(rng);
      m.observe(row, z(rng));
    }
    clock.advance(seconds(10));
    return m.poll().at(0);
  };
  for (int n : {1000, 990, 1010, 1000, 1005}) {
    EXPECT_FALSE(has(requests(n).raised, AlertCondition::kTrafficVolume));
  }
  auto normal = requests(1050);  // sd is at least sqrt(1000) = 31.6: 1.6 sigma
  EXPECT_FALSE(has(normal.raised, AlertCondition::kTrafficVolume));
  ASSERT_TRUE(normal.quality.volume_mean);
  auto spike = requests(1400);  // about 12 sigma
  EXPECT_TRUE(has(spike.raised, AlertCondition::kTrafficVolume));
  auto drop = requests(0);  // still anomalous: the alert stays, raised once
  EXPECT_FALSE(has(drop.raised, AlertCondition::kTrafficVolume));
  EXPECT_TRUE(has(m.active_alerts(), AlertCondition::kTrafficVolume));
}

// ---- retraining triggers ----------------------------------------------------------------------

TEST(RetrainingTriggerTest, scheduled_on_the_clock) {
  ManualClock clock;
  auto o = monitor_options(normal_profile(2, 500), clock, seconds(10));
  o.retraining_period = std::chrono::hours(24 * 7);
  DriftMonitor m(o);
  std::vector<RetrainingRecommendation> got;
  m.retraining_recommended.connect([&](const RetrainingRecommendation& r) { got.push_back(r); });
  clock.advance(std::chrono::hours(24 * 7) - seconds(10));
  m.poll();
  EXPECT_TRUE(got.empty());
  clock.advance(seconds(10));
  m.poll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].trigger, RetrainingTrigger::kScheduled);
  m.poll();
  EXPECT_EQ(got.size(), 1u);  // once per period
}

TEST(RetrainingTriggerTest, a_version_with_a_new_dataset_version) {
  testing::RegistryFixture fx;
  VersionMetadata meta;
  meta.dataset_version = "2026-11";
  meta.metrics = {{"accuracy", 0.93}, {"auc", 0.91}};
  const auto v1 = fx.registry->register_version("fraud-detection", testing::logistic_artifact(1),
                                                meta)->version;
  ManualClock clock;
  auto o = monitor_options(normal_profile(2, 500), clock, seconds(10));
  o.version = v1;
  o.registry = fx.registry.get();
  DriftMonitor m(o);
  std::vector<RetrainingRecommendation> got;
  m.retraining_recommended.connect([&](const RetrainingRecommendation& r) { got.push_back(r); });
  m.poll();
  EXPECT_TRUE(got.empty());
  // A retrain on the same dataset is no news; one on a newer dataset is, once.
  fx.registry->register_version("fraud-detection", testing::logistic_artifact(2), meta);
  meta.dataset_version = "2026-12";
  const auto v3 = fx.registry->register_version("fraud-detection", testing::logistic_artifact(3),
                                                meta)->version;
  m.poll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].trigger, RetrainingTrigger::kNewDatasetVersion);
  EXPECT_EQ(got[0].dataset_version, "2026-12");
  EXPECT_EQ(got[0].dataset_model_version, v3);
  EXPECT_EQ(got[0].version, v1);
  m.poll();
  EXPECT_EQ(got.size(), 1u);
  // The registry's metrics are the baseline.
  clock.advance(seconds(10));
  auto w = m.poll();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].quality.baseline_accuracy, 0.93);
  EXPECT_EQ(w[0].quality.baseline_auc, 0.91);
}

TEST(DriftMonitorOptionsTest, bad_options_are_named) {
  ManualClock clock;
  auto message = [&](auto change) {
    auto o = monitor_options(normal_profile(2, 200), clock);
    change(o);
    try {
      DriftMonitor m(o);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message([](auto& o) { o.profile = nullptr; }).find("profile"), std::string::npos);
  EXPECT_NE(message([](auto& o) { o.sub_windows = 0; }).find("sub_windows"), std::string::npos);
  EXPECT_NE(message([](auto& o) { o.window = Duration(0); }).find("window"), std::string::npos);
  EXPECT_NE(message([](auto& o) { o.alerts.clear_windows = 0; }).find("clear_windows"),
            std::string::npos);
  EXPECT_NE(message([](auto& o) { o.drift.drift_share = 0.0; }).find("drift_share"),
            std::string::npos);
}

}  // namespace drift_alerts_test
}  // namespace
}  // namespace switchyard
