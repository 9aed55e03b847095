// SPDX-License-Identifier: Apache-2.0
// Experiment: comparisons equal the statistics library's own (tested) results on the same data,
// sample ratio checks, late label joins on a manual clock, the pending bound, guardrails, Holm,
// exposures from a Deployment's EventHub, concurrency and the report's JSON and table.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/stats/bayesian_test.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/power.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <switchyard/stats/sequential_test.hpp>
#include <switchyard/stats/t_test.hpp>
#include <thread>
#include <vector>

#include "support/fake_models.hpp"
#include "support/json.hpp"

namespace switchyard {
namespace {
namespace experiment_test {

using namespace std::chrono_literals;
using stats::ProportionCounter;
using stats::RunningMoments;

std::string id(std::string_view arm, int i) { return std::string(arm) + "-" + std::to_string(i); }

Experiment::Options two_arms(MetricSpec primary, const ManualClock& clock) {
  Experiment::Options o;
  o.name = "exp";
  o.arms = {{"control", 1.0}, {"treatment", 1.0}};
  o.primary = std::move(primary);
  o.clock = &clock;
  return o;
}

// Exposes `n` predictions of `arm` and marks the first `successes` of them as converted.
void feed_binary(Experiment& e, std::string_view arm, int n, int successes,
                 std::string_view metric = "converted") {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(e.expose(id(arm, i), arm));
    if (i < successes) {
      ASSERT_EQ(e.record_outcome(id(arm, i), metric), JoinResult::kJoined);
    }
  }
}

const MetricComparison& only_comparison(const ExperimentReport& r, std::size_t metric = 0) {
  EXPECT_EQ(r.metrics.at(metric).comparisons.size(), 1u);
  return r.metrics.at(metric).comparisons.at(0);
}

// Oracle: the statistics library's functions on the same counts (each tested against statsmodels
// and GrowthBook in its own test); the experiment must hand them the right numbers, so equality is
// exact.
TEST(ExperimentTest, binary_comparison_equals_the_statistics_functions_on_the_same_counts) {
  ManualClock clock;
  Experiment e(two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock));
  feed_binary(e, "control", 1000, 100);
  feed_binary(e, "treatment", 1000, 130);
  const ExperimentReport r = e.analyze();

  const ProportionCounter c(100, 1000), t(130, 1000);
  const MetricReport& m = r.primary();
  ASSERT_EQ(m.variants.size(), 2u);
  EXPECT_EQ(m.variants[0].variant, "control");
  EXPECT_EQ(m.variants[0].n, 1000u);
  EXPECT_DOUBLE_EQ(m.variants[1].mean, 0.13);
  const auto wilson = stats::wilson_interval(t, 0.95);
  EXPECT_EQ(m.variants[1].interval.interval.lower, wilson.interval.lower);
  EXPECT_EQ(m.variants[1].interval.interval.upper, wilson.interval.upper);

  const MetricComparison& cmp = only_comparison(r);
  const auto z = stats::two_proportion_z_test(c, t, 0.95);
  ASSERT_EQ(cmp.status, stats::StatStatus::kOk) << cmp.reason;
  EXPECT_EQ(cmp.variant, "treatment");
  EXPECT_EQ(cmp.p_value, z.p_value);
  EXPECT_EQ(cmp.adjusted_p_value, z.p_value);  // one treatment: nothing to adjust
  EXPECT_EQ(cmp.absolute_effect, z.effect);
  EXPECT_EQ(cmp.absolute_interval.lower, z.interval.lower);
  EXPECT_EQ(cmp.absolute_interval.upper, z.interval.upper);
  const auto moments =
      stats::effect_moments(c.summary(), t.summary(), stats::EffectScale::kRelative);
  const auto lift = stats::lift_test(moments, 0.95);
  EXPECT_EQ(cmp.relative_effect, lift.effect);
  EXPECT_NEAR(cmp.relative_effect, 0.3, 1e-12);
  EXPECT_EQ(cmp.relative_interval.lower, lift.interval.lower);
  EXPECT_EQ(cmp.relative_interval.upper, lift.interval.upper);
  EXPECT_EQ(cmp.chance_to_beat_control, stats::bayesian_test(moments).chance_to_win);
  const auto always_valid = stats::sequential_test(
      stats::effect_moments(c.summary(), t.summary(), stats::EffectScale::kAbsolute));
  EXPECT_EQ(cmp.always_valid_p_value, always_valid.p_value);

  stats::PowerOptions po;  // the experiment's: alpha = 1 - confidence, power 0.8
  po.alpha = 1.0 - 0.95;
  ASSERT_EQ(cmp.power_status, stats::StatStatus::kOk);
  EXPECT_EQ(cmp.power,
            stats::achieved_power_proportions(1000, 0.1, 0.05, stats::MdeKind::kRelative, po));
  const auto remaining = stats::remaining_sample_size(c, t, 0.05, stats::MdeKind::kRelative, po);
  ASSERT_TRUE(cmp.more_samples_per_arm.has_value());
  EXPECT_EQ(*cmp.more_samples_per_arm, remaining.remaining_per_arm);
  EXPECT_GT(*cmp.more_samples_per_arm, 0u);
}

TEST(ExperimentTest, continuous_metric_equals_welch_with_missing_values_filled) {
  ManualClock clock;
  auto o =
      two_arms({.name = "revenue", .kind = MetricKind::kContinuous, .missing_value = 0.0}, clock);
  o.guardrails = {{.name = "basket", .kind = MetricKind::kContinuous}};  // no fill: buyers only
  Experiment e(o);
  std::vector<double> per_exposure[2], buyers[2];
  const char* arms[2] = {"control", "treatment"};
  for (int a = 0; a < 2; ++a) {
    for (int i = 0; i < 300; ++i) {
      e.expose(id(arms[a], i), arms[a]);
      double v = 0.0;
      if (i % 4 == 0) {
        v = 10.0 + (a == 1 ? 2.0 : 0.0) + static_cast<double>(i % 7);
        ASSERT_EQ(e.record_outcome(id(arms[a], i), "revenue", v), JoinResult::kJoined);
        ASSERT_EQ(e.record_outcome(id(arms[a], i), "basket", v), JoinResult::kJoined);
        buyers[a].push_back(v);
      }
      per_exposure[a].push_back(v);
    }
  }
  const ExperimentReport r = e.analyze();
  // Oracle: welch_t_test on the raw per-exposure values (scipy-exact in its own test). The
  // experiment merges the zeros in as one block, so agreement is to rounding, 1e-12 relative.
  const auto w = stats::welch_t_test(per_exposure[0], per_exposure[1]);
  const MetricComparison& cmp = only_comparison(r, 0);
  ASSERT_EQ(cmp.status, stats::StatStatus::kOk) << cmp.reason;
  EXPECT_EQ(r.metrics[0].variants[0].n, 300u);
  EXPECT_NEAR(cmp.p_value, w.p_value, 1e-12 * w.p_value);
  EXPECT_NEAR(cmp.absolute_effect, w.effect, 1e-12 * std::fabs(w.effect));
  EXPECT_NEAR(cmp.absolute_interval.lower, w.interval.lower, 1e-12 * std::fabs(w.interval.lower));
  EXPECT_NEAR(cmp.absolute_interval.upper, w.interval.upper, 1e-12 * std::fabs(w.interval.upper));

  const auto wb = stats::welch_t_test(buyers[0], buyers[1]);
  const MetricComparison& basket = only_comparison(r, 1);
  EXPECT_EQ(r.metrics[1].variants[1].n, buyers[1].size());
  EXPECT_NEAR(basket.p_value, wb.p_value, 1e-12 * wb.p_value);
  // Guardrails get no power unless asked for (Options::guardrail_power).
  EXPECT_FALSE(basket.more_samples_per_arm.has_value());
}

TEST(ExperimentTest, sequential_mode_uses_the_always_valid_test_with_tuning_5000) {
  ManualClock clock;
  auto o = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  o.mode = AnalysisMode::kSequential;
  Experiment e(o);
  feed_binary(e, "control", 800, 80);
  feed_binary(e, "treatment", 800, 112);
  const ExperimentReport r = e.analyze();
  const MetricComparison& cmp = only_comparison(r);
  const ProportionCounter c(80, 800), t(112, 800);
  const stats::SequentialOptions so{0.95, 5000.0};
  const auto abs = stats::sequential_test(
      stats::effect_moments(c.summary(), t.summary(), stats::EffectScale::kAbsolute), so);
  const auto rel = stats::sequential_test(
      stats::effect_moments(c.summary(), t.summary(), stats::EffectScale::kRelative), so);
  ASSERT_EQ(cmp.status, stats::StatStatus::kOk);
  EXPECT_EQ(cmp.p_value, abs.p_value);
  EXPECT_EQ(cmp.always_valid_p_value, abs.p_value);
  EXPECT_EQ(cmp.absolute_interval.lower, abs.interval.lower);
  EXPECT_EQ(cmp.relative_interval.upper, rel.interval.upper);
  // The always-valid p-value is larger than the fixed-horizon one on the same data.
  EXPECT_GT(cmp.p_value, stats::two_proportion_z_test(c, t).p_value);
}

// A switched-off arm (weight 0) that still gets a few exposures: gbstats' convention by default,
// GrowthBook's UI (the arm dropped) on request. Reference: gbstats 0.8.0 check_srm([500, 510, 4],
// [1, 1, 0]) and GrowthBook's checkSrm, reproduced by stats::sample_ratio_mismatch (whose own test
// holds it to scipy's chi2.sf at 1e-12).
TEST(ExperimentTest, zero_weight_arm_in_the_sample_ratio_check_follows_the_option) {
  ManualClock clock;
  auto options = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  options.arms.push_back({"switched_off", 0.0});
  const std::uint64_t observed[3] = {500, 510, 4};
  const double weights[3] = {1.0, 1.0, 0.0};
  for (const auto mode : {stats::ZeroWeightArms::kKeepInDf, stats::ZeroWeightArms::kDrop}) {
    options.srm_zero_weight_arms = mode;
    Experiment e(options);
    feed_binary(e, "control", 500, 50);
    feed_binary(e, "treatment", 510, 51);
    feed_binary(e, "switched_off", 4, 0);
    const ExperimentReport r = e.analyze();
    const auto srm = stats::sample_ratio_mismatch(observed, weights, 0.001, mode);
    ASSERT_TRUE(r.srm.ok()) << r.srm.reason;
    EXPECT_EQ(r.srm.p_value, srm.p_value);
    EXPECT_EQ(r.srm.df, mode == stats::ZeroWeightArms::kDrop ? 1.0 : 2.0);
  }
}

TEST(ExperimentTest, sample_ratio_mismatch_makes_the_experiment_invalid) {
  ManualClock clock;
  Experiment skewed(two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock));
  feed_binary(skewed, "control", 1100, 110);
  feed_binary(skewed, "treatment", 900, 200);  // a big "win" on broken assignment
  const ExperimentReport r = skewed.analyze();
  const std::uint64_t observed[2] = {1100, 900};
  const double weights[2] = {1.0, 1.0};
  const auto srm = stats::sample_ratio_mismatch(observed, weights, 0.001);
  EXPECT_EQ(r.srm.p_value, srm.p_value);
  EXPECT_LT(r.srm.p_value, 0.001);
  EXPECT_TRUE(r.srm.mismatch);
  EXPECT_EQ(r.decision.kind, DecisionKind::kInvalid);
  EXPECT_NE(r.decision.reason.find("sample ratio mismatch"), std::string::npos)
      << r.decision.reason;

  // 1010 / 990 on 50/50 weights is ordinary noise (p = 0.65).
  Experiment fair(two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock));
  feed_binary(fair, "control", 1010, 101);
  feed_binary(fair, "treatment", 990, 99);
  const ExperimentReport f = fair.analyze();
  EXPECT_FALSE(f.srm.mismatch);
  EXPECT_NE(f.decision.kind, DecisionKind::kInvalid);

  // Weights are relative: 80/20 traffic on 4:1 weights fits.
  auto o = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  o.arms = {{"control", 80.0}, {"treatment", 20.0}};
  Experiment unequal(o);
  feed_binary(unequal, "control", 800, 80);
  feed_binary(unequal, "treatment", 200, 20);
  const ExperimentReport u = unequal.analyze();
  EXPECT_FALSE(u.srm.mismatch);
  EXPECT_DOUBLE_EQ(u.arms[0].expected_share, 0.8);
  EXPECT_DOUBLE_EQ(u.arms[1].observed_share, 0.2);
}

TEST(ExperimentTest, late_labels_join_within_the_ttl_and_expire_after_it) {
  ManualClock clock;
  auto o = two_arms({.name = "accuracy", .kind = MetricKind::kAccuracy}, clock);
  o.guardrails = {{.name = "brier", .kind = MetricKind::kBrierScore}};
  o.pending_ttl = 6h;
  Experiment e(o);
  // t = 0: four predictions of class 1 with probability 0.8.
  for (int i = 0; i < 4; ++i) e.expose(id("control", i), "control", 1, 0.8);
  clock.advance(2h);
  EXPECT_EQ(e.record_label(id("control", 0), 1), JoinResult::kJoined);
  EXPECT_EQ(e.record_label(id("control", 1), 0), JoinResult::kJoined);
  // With only label metrics a labelled prediction has nothing left to wait for and leaves.
  EXPECT_EQ(e.record_label(id("control", 1), 0), JoinResult::kUnknownRequest);
  EXPECT_EQ(e.record_label("never-served", 1), JoinResult::kUnknownRequest);
  clock.advance(1h);  // t = 3h: one more prediction
  e.expose(id("control", 4), "control", 0, 0.3);
  clock.advance(4h);  // t = 7h: the first batch is past its 6 h TTL, the last one is 4 h old
  EXPECT_EQ(e.record_label(id("control", 2), 1), JoinResult::kExpired);
  EXPECT_EQ(e.record_label(id("control", 4), 0), JoinResult::kJoined);
  EXPECT_EQ(e.record_label(id("control", 2), 1), JoinResult::kUnknownRequest);  // dropped now

  const ExperimentReport r = e.analyze();  // sweeps control-3 too
  EXPECT_EQ(r.joins.labels_joined, 3u);
  EXPECT_EQ(r.joins.expired, 2u);
  EXPECT_EQ(r.joins.expired_unlabeled, 2u);
  // The repeated label, never-served, the expired join, and the join after the drop.
  EXPECT_EQ(r.joins.unmatched, 4u);
  EXPECT_EQ(r.joins.completed, 3u);
  EXPECT_EQ(r.joins.pending, 0u);  // labelled entries leave at once: nothing else is awaited
  const VariantMetric& acc = r.metric("accuracy").variants[0];
  EXPECT_EQ(acc.n, 3u);
  EXPECT_DOUBLE_EQ(acc.mean, 2.0 / 3.0);  // right, wrong, right
  // Brier: (1 - 0.8)^2, (0 - 0.8)^2, (0 - 0.3)^2 — the class-1 probability of each prediction.
  EXPECT_NEAR(r.metric("brier").variants[0].mean, (0.04 + 0.64 + 0.09) / 3.0, 1e-15);
  EXPECT_EQ(r.arms[0].exposures, 5u);
}

TEST(ExperimentTest, pending_predictions_stay_within_the_bound_evicting_the_oldest) {
  ManualClock clock;
  auto o = two_arms({.name = "accuracy", .kind = MetricKind::kAccuracy}, clock);
  o.max_pending = 3;
  o.join_stripes = 1;
  Experiment e(o);
  for (int i = 0; i < 5; ++i) e.expose(id("control", i), "control", 1);
  JoinCounters j = e.join_counters();
  EXPECT_EQ(j.pending, 3u);
  EXPECT_EQ(j.evicted, 2u);
  EXPECT_EQ(j.expired_unlabeled, 2u);
  EXPECT_EQ(e.record_label(id("control", 0), 1), JoinResult::kUnknownRequest);
  EXPECT_EQ(e.record_label(id("control", 1), 1), JoinResult::kUnknownRequest);
  EXPECT_EQ(e.record_label(id("control", 2), 1), JoinResult::kJoined);
  EXPECT_EQ(e.record_label(id("control", 4), 1), JoinResult::kJoined);

  // Striped: the bound is the sum of the stripes' shares, so it holds exactly.
  auto wide = o;
  wide.max_pending = 10;
  wide.join_stripes = 4;
  Experiment w(wide);
  for (int i = 0; i < 1000; ++i) w.expose(id("treatment", i), "treatment", 1);
  j = w.join_counters();
  EXPECT_EQ(j.pending, 10u);
  EXPECT_EQ(j.evicted, 990u);
  EXPECT_EQ(j.tracked, 1000u);
}

// Sequential mode so a large, clear effect may decide at once.
Experiment::Options with_latency_guardrail(const ManualClock& clock) {
  auto o = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  o.mode = AnalysisMode::kSequential;
  o.guardrails = {{.name = "latency_ms", .kind = MetricKind::kLatency}};
  return o;
}

void feed_with_latency(Experiment& e, std::string_view arm, int n, int successes, double base_ms) {
  for (int i = 0; i < n; ++i) {
    Exposure x;
    const std::string rid = id(arm, i);
    x.request_id = rid;
    x.variant = arm;
    x.latency_ms = base_ms + static_cast<double>(i % 10) * 0.1;
    ASSERT_TRUE(e.expose(x));
    if (i < successes) {
      ASSERT_EQ(e.record_outcome(rid, "converted"), JoinResult::kJoined);
    }
  }
}

TEST(ExperimentTest, ships_a_better_treatment_when_no_guardrail_is_worse) {
  ManualClock clock;
  Experiment e(with_latency_guardrail(clock));
  feed_with_latency(e, "control", 3000, 300, 5.0);
  feed_with_latency(e, "treatment", 3000, 420, 5.0);
  const ExperimentReport r = e.analyze();
  EXPECT_TRUE(only_comparison(r, 0).improvement);
  EXPECT_FALSE(only_comparison(r, 1).regression);
  EXPECT_EQ(r.decision.kind, DecisionKind::kShipTreatment) << r.decision.reason;
  EXPECT_EQ(r.decision.variant, "treatment");
}

TEST(ExperimentTest, a_significantly_worse_guardrail_blocks_ship) {
  ManualClock clock;
  Experiment e(with_latency_guardrail(clock));
  feed_with_latency(e, "control", 3000, 300, 5.0);
  feed_with_latency(e, "treatment", 3000, 420, 6.0);  // +20% latency
  const ExperimentReport r = e.analyze();
  EXPECT_TRUE(only_comparison(r, 0).improvement);
  const MetricComparison& latency = only_comparison(r, 1);
  EXPECT_TRUE(latency.regression);
  EXPECT_GT(latency.absolute_effect, 0.0);  // lower is better for latency
  EXPECT_LT(latency.chance_to_beat_control, 0.01);
  EXPECT_EQ(r.decision.kind, DecisionKind::kKeepControl);
  EXPECT_EQ(r.decision.variant, "control");
  EXPECT_NE(r.decision.reason.find("latency_ms"), std::string::npos) << r.decision.reason;
}

TEST(ExperimentTest, a_guardrail_without_data_holds_the_decision) {
  ManualClock clock;
  auto o = with_latency_guardrail(clock);
  o.guardrails.push_back({.name = "accuracy", .kind = MetricKind::kAccuracy});
  Experiment e(o);
  feed_with_latency(e, "control", 3000, 300, 5.0);
  feed_with_latency(e, "treatment", 3000, 420, 5.0);
  const ExperimentReport r = e.analyze();  // no labels arrived yet
  EXPECT_EQ(r.decision.kind, DecisionKind::kNeedMoreData);
  EXPECT_NE(r.decision.reason.find("accuracy"), std::string::npos) << r.decision.reason;
}

TEST(ExperimentTest, fixed_horizon_waits_for_the_planned_sample_size) {
  ManualClock clock;
  Experiment e(two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock));
  feed_binary(e, "control", 400, 40);
  feed_binary(e, "treatment", 400, 58);  // z-test p = 0.052: neither significant nor powered
  const ExperimentReport r = e.analyze();
  const MetricComparison& cmp = only_comparison(r);
  EXPECT_FALSE(cmp.significant);
  EXPECT_EQ(r.decision.kind, DecisionKind::kNeedMoreData);
  const auto plan = stats::sample_size_proportions(0.1, 0.05, stats::MdeKind::kRelative);
  EXPECT_EQ(r.decision.more_samples_per_arm, plan.per_arm - 400);
  EXPECT_NE(r.decision.reason.find(std::to_string(plan.per_arm - 400)), std::string::npos);
}

TEST(ExperimentTest, keeps_control_when_the_treatment_is_significantly_worse) {
  ManualClock clock;
  Experiment e(with_latency_guardrail(clock));  // sequential
  feed_with_latency(e, "control", 3000, 420, 5.0);
  feed_with_latency(e, "treatment", 3000, 300, 5.0);
  const ExperimentReport r = e.analyze();
  EXPECT_TRUE(only_comparison(r).regression);
  EXPECT_EQ(r.decision.kind, DecisionKind::kKeepControl) << r.decision.reason;
  EXPECT_NE(r.decision.reason.find("is worse"), std::string::npos) << r.decision.reason;
}

// Fixed horizon, far below the planned size for a 5% lift at a 10% rate (about 58,000 per arm):
// a +40% lift stops early because the always-valid test confirms it; a +15% lift with a
// significant z-test (p = 0.007) but no confirmation waits.
TEST(ExperimentTest, fixed_horizon_stops_early_only_when_the_always_valid_test_agrees) {
  ManualClock clock;
  Experiment big(two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock));
  feed_binary(big, "control", 3000, 300);
  feed_binary(big, "treatment", 3000, 420);
  const ExperimentReport b = big.analyze();
  EXPECT_GT(only_comparison(b).more_samples_per_arm.value_or(0), 0u);
  EXPECT_LT(only_comparison(b).always_valid_p_value, 0.05);
  EXPECT_EQ(b.decision.kind, DecisionKind::kShipTreatment) << b.decision.reason;

  Experiment small(two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock));
  feed_binary(small, "control", 3000, 300);
  feed_binary(small, "treatment", 3000, 365);
  const ExperimentReport s = small.analyze();
  const MetricComparison& c = only_comparison(s);
  EXPECT_LT(c.p_value, 0.05);
  EXPECT_GE(c.always_valid_p_value, 0.05);
  EXPECT_EQ(s.decision.kind, DecisionKind::kNeedMoreData) << s.decision.reason;
  EXPECT_EQ(s.decision.more_samples_per_arm, *c.more_samples_per_arm);
}

TEST(ExperimentTest, keeps_control_when_powered_and_not_significant) {
  ManualClock clock;
  auto o = two_arms({.name = "converted",
                     .kind = MetricKind::kBinary,
                     .minimum_detectable_effect = 0.5},  // a 50% lift needs about 700 per arm
                    clock);
  Experiment e(o);
  feed_binary(e, "control", 2000, 200);
  feed_binary(e, "treatment", 2000, 204);
  const ExperimentReport r = e.analyze();
  const MetricComparison& cmp = only_comparison(r);
  EXPECT_GE(cmp.power, 0.8);
  EXPECT_EQ(cmp.more_samples_per_arm, std::optional<std::uint64_t>(0));
  EXPECT_EQ(r.decision.kind, DecisionKind::kKeepControl) << r.decision.reason;
}

TEST(ExperimentTest, holm_adjusts_the_primary_across_treatments) {
  ManualClock clock;
  auto o = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  o.arms = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}};
  o.control = "b";
  o.guardrails = {{.name = "latency_ms", .kind = MetricKind::kLatency}};
  Experiment e(o);
  const int successes[4] = {120, 100, 135, 104};
  const char* arms[4] = {"a", "b", "c", "d"};
  for (int a = 0; a < 4; ++a) feed_with_latency(e, arms[a], 1000, successes[a], 5.0 + 0.01 * a);
  const ExperimentReport r = e.analyze();
  EXPECT_EQ(r.control, "b");
  const MetricReport& m = r.primary();
  ASSERT_EQ(m.comparisons.size(), 3u);
  std::vector<double> raw;
  for (const auto& c : m.comparisons) raw.push_back(c.p_value);
  EXPECT_EQ(m.comparisons[0].variant, "a");
  EXPECT_EQ(m.comparisons[1].variant, "c");
  EXPECT_EQ(raw[0],
            stats::two_proportion_z_test(ProportionCounter(100, 1000), ProportionCounter(120, 1000))
                .p_value);
  const auto holm = stats::adjust_p_values(raw, stats::PValueAdjustment::kHolm, 0.05);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    EXPECT_EQ(m.comparisons[i].adjusted_p_value, holm.p_values[i]);
    EXPECT_EQ(m.comparisons[i].significant, holm.p_values[i] < 0.05);
  }
  EXPECT_GT(m.comparisons[0].adjusted_p_value, m.comparisons[0].p_value);
  // Guardrails are not adjusted.
  for (const auto& c : r.metric("latency_ms").comparisons) {
    ASSERT_EQ(c.status, stats::StatStatus::kOk);
    EXPECT_EQ(c.adjusted_p_value, c.p_value);
  }
}

TEST(ExperimentTest, report_json_parses_and_agrees_with_the_struct) {
  ManualClock clock;
  auto o = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  o.name = "checkout \"v2\"";  // needs escaping
  o.guardrails = {{.name = "accuracy", .kind = MetricKind::kAccuracy}};
  Experiment e(o);
  feed_binary(e, "control", 500, 50);
  feed_binary(e, "treatment", 500, 65);
  const ExperimentReport r = e.analyze();
  const std::string text = r.to_json();
  testing::json::Document doc;
  doc.Parse(text.c_str());
  ASSERT_FALSE(doc.HasParseError()) << testing::json::GetParseError_En(doc.GetParseError())
                                    << " at " << doc.GetErrorOffset() << ": " << text;
  EXPECT_EQ(std::string(doc["name"].GetString()), o.name);
  EXPECT_EQ(std::string(doc["mode"].GetString()), "fixed_horizon");
  EXPECT_EQ(doc["arms"].Size(), 2u);
  EXPECT_EQ(doc["arms"][1]["exposures"].GetUint64(), 500u);
  const auto& primary = doc["metrics"][0];
  EXPECT_EQ(std::string(primary["role"].GetString()), "primary");
  const auto& cmp = primary["comparisons"][0];
  EXPECT_EQ(cmp["p_value"].GetDouble(), r.primary().comparisons[0].p_value);
  EXPECT_EQ(cmp["relative_interval"][0].GetDouble(),
            r.primary().comparisons[0].relative_interval.lower);
  // The accuracy guardrail has no labels: its comparison is not ok and its numbers are null.
  const auto& guard = doc["metrics"][1]["comparisons"][0];
  EXPECT_EQ(std::string(guard["status"].GetString()), "not_enough_data");
  EXPECT_TRUE(guard["absolute_effect"].IsNull());
  EXPECT_TRUE(doc["metrics"][1]["variants"][0]["interval"].IsNull());
  EXPECT_EQ(std::string(doc["decision"]["kind"].GetString()),
            std::string(to_string(r.decision.kind)));
  EXPECT_EQ(doc["joins"]["tracked"].GetUint64(), 1000u);
}

TEST(ExperimentTest, table_names_arms_metrics_comparisons_and_the_decision) {
  ManualClock clock;
  Experiment e(with_latency_guardrail(clock));
  feed_with_latency(e, "control", 3000, 300, 5.0);
  feed_with_latency(e, "treatment", 3000, 420, 5.0);
  const std::string t = e.analyze().to_string();
  for (const char* s :
       {"Experiment exp: sequential", "control", "treatment", "sample ratio", "Primary converted",
        "Guardrail latency_ms", "treatment vs control", "BETTER", "Decision: ship_treatment"}) {
    EXPECT_NE(t.find(s), std::string::npos) << "missing '" << s << "' in\n" << t;
  }
}

TEST(ExperimentTest, exposures_come_from_a_deployment_event_hub_and_stop_on_detach) {
  StaticModelSource source;
  source.add("scorer", 1, std::make_shared<testing::ConstantModel>(1, 0.9));
  source.add("scorer", 2, std::make_shared<testing::ConstantModel>(0, 0.7));
  EventHub hub;
  Deployment d({.model = "scorer", .source = &source, .events = &hub});
  RoutingPolicy p;
  p.variants = {{"stable", 1, 50}, {"candidate", 2, 50}};
  d.router().set_policy(p);

  ManualClock clock;
  Experiment::Options o;
  o.name = "scorer-v2";
  o.model = "scorer";
  o.arms = Experiment::arms_of(d.router().policy());
  o.primary = {.name = "accuracy", .kind = MetricKind::kAccuracy};
  o.guardrails = {{.name = "log_loss", .kind = MetricKind::kLogLoss}};
  o.clock = &clock;
  Experiment e(o);
  e.attach(hub);

  const double row[3] = {1.0, 2.0, 3.0};
  std::vector<std::pair<std::string, std::int64_t>> served;
  for (int i = 0; i < 400; ++i) {
    const std::string rid = "req-" + std::to_string(i);
    auto r = d.predict({.key = "user-" + std::to_string(i),
                        .input = TensorView(row, Shape{1, 3}),
                        .request_id = rid});
    ASSERT_TRUE(r.ok());
    served.emplace_back(rid, r->version);
  }
  clock.advance(3h);
  for (const auto& [rid, version] : served) {
    ASSERT_EQ(e.record_label(rid, 1), JoinResult::kJoined) << rid;
  }
  const ExperimentReport r = e.analyze();
  EXPECT_EQ(r.control, "stable");
  EXPECT_EQ(r.arms[0].exposures + r.arms[1].exposures, 400u);
  EXPECT_GT(r.arms[1].exposures, 100u);
  // Version 1 always answers class 1 with p = 0.9; version 2 class 0 with p(class 0) = 0.7.
  EXPECT_DOUBLE_EQ(r.primary().variants[0].mean, 1.0);
  EXPECT_DOUBLE_EQ(r.primary().variants[1].mean, 0.0);
  EXPECT_NEAR(r.metric("log_loss").variants[0].mean, -std::log(0.9), 1e-12);
  EXPECT_NEAR(r.metric("log_loss").variants[1].mean, -std::log(0.3), 1e-12);

  e.detach();
  ASSERT_TRUE(d.predict({.key = "late", .input = TensorView(row, Shape{1, 3})}).ok());
  EXPECT_EQ(e.join_counters().tracked, 400u);

  // An attached experiment may go away before the hub: later predictions are unaffected.
  {
    Experiment scoped(o);
    scoped.attach(hub);
  }
  EXPECT_TRUE(d.predict({.key = "after", .input = TensorView(row, Shape{1, 3})}).ok());
}

TEST(ExperimentTest, exposures_from_two_threads_are_all_counted) {
  ManualClock clock;
  auto o = two_arms({.name = "accuracy", .kind = MetricKind::kAccuracy}, clock);
  o.guardrails = {{.name = "latency_ms", .kind = MetricKind::kLatency}};
  o.join_stripes = 4;
  Experiment e(o);
  constexpr int kPerThread = 20000;
  std::atomic<int> ready{0};
  auto worker = [&](int t) {
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
    for (int i = 0; i < kPerThread; ++i) {
      const std::string rid = "t" + std::to_string(t) + "-" + std::to_string(i);
      Exposure x{rid, i % 2 ? "treatment" : "control", 1, 0.6, 2.0};
      e.expose(x);
      if (i % 3 == 0) e.record_label(rid, i % 6 == 0 ? 1 : 0);
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  // Analyses run while the writers write; they must see consistent, growing counts.
  std::uint64_t last = 0;
  for (int k = 0; k < 20; ++k) {
    const ExperimentReport r = e.analyze();
    const std::uint64_t seen = r.arms[0].exposures + r.arms[1].exposures;
    EXPECT_GE(seen, last);
    last = seen;
  }
  a.join();
  b.join();
  const ExperimentReport r = e.analyze();
  EXPECT_EQ(r.arms[0].exposures, static_cast<std::uint64_t>(kPerThread));
  EXPECT_EQ(r.arms[1].exposures, static_cast<std::uint64_t>(kPerThread));
  EXPECT_EQ(r.metric("latency_ms").variants[1].n, static_cast<std::uint64_t>(kPerThread));
  const std::uint64_t labelled = 2 * ((kPerThread + 2) / 3);
  EXPECT_EQ(r.joins.labels_joined, labelled);
  EXPECT_EQ(r.primary().variants[0].n + r.primary().variants[1].n, labelled);
  EXPECT_EQ(r.joins.pending, 2u * kPerThread - labelled);
}

TEST(ExperimentTest, outcomes_are_checked_and_counted) {
  ManualClock clock;
  auto o = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  o.guardrails = {{.name = "revenue", .kind = MetricKind::kContinuous},
                  {.name = "latency_ms", .kind = MetricKind::kLatency}};
  Experiment e(o);
  EXPECT_FALSE(e.expose("r1", "pinned"));
  EXPECT_TRUE(e.expose("r1", "control"));
  EXPECT_TRUE(e.expose("r1", "control"));  // a reused id: exposure counted, join kept once
  EXPECT_TRUE(e.expose("", "control"));    // no id: counted, never joined
  EXPECT_EQ(e.record_outcome("r1", "revenue", std::nan("")), JoinResult::kInvalidValue);
  EXPECT_EQ(e.record_outcome("r1", "revenue", 12.5), JoinResult::kJoined);
  EXPECT_EQ(e.record_outcome("r1", "revenue", 3.0), JoinResult::kDuplicate);
  EXPECT_EQ(e.record_label("r1", 1), JoinResult::kNotTracked);
  try {
    e.record_outcome("r1", "revenu");
    FAIL() << "unknown metric accepted";
  } catch (const NotFound& err) {
    EXPECT_NE(std::string(err.what()).find("'revenu'"), std::string::npos) << err.what();
  }
  EXPECT_THROW(e.record_outcome("r1", "latency_ms", 3.0), InvalidArgument);
  const JoinCounters j = e.join_counters();
  EXPECT_EQ(j.unknown_variants, 1u);
  EXPECT_EQ(j.duplicate_ids, 1u);
  EXPECT_EQ(j.invalid_values, 1u);
  EXPECT_EQ(j.duplicate_joins, 1u);
  EXPECT_EQ(j.outcomes_joined, 1u);
  EXPECT_EQ(j.missing_ids, 1u);
  EXPECT_EQ(e.analyze().arms[0].exposures, 3u);
}

TEST(ExperimentTest, invalid_options_throw_naming_the_field) {
  ManualClock clock;
  auto expect_throw = [&](Experiment::Options o, const char* needle) {
    try {
      Experiment e(std::move(o));
      ADD_FAILURE() << "accepted options; expected an error mentioning '" << needle << "'";
    } catch (const InvalidArgument& err) {
      EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
    }
  };
  const auto base = two_arms({.name = "converted", .kind = MetricKind::kBinary}, clock);
  auto o = base;
  o.arms.pop_back();
  expect_throw(o, "at least 2");
  o = base;
  o.arms[1].variant = "control";
  expect_throw(o, "appears twice");
  o = base;
  o.arms[0].weight = -1;
  // The routing policies' words (validate_weights), prefixed with the experiment.
  expect_throw(o, "experiment 'exp': variant 'control' weight -1.000000 is negative");
  o = base;
  o.arms[0].weight = o.arms[1].weight = 0;
  expect_throw(o, "weights add up to 0");
  o = base;
  o.control = "blue";
  expect_throw(o, "control 'blue'");
  o = base;
  o.guardrails = {{.name = "converted"}};
  expect_throw(o, "metric 'converted' appears twice");
  o = base;
  o.guardrails = {{.name = "lat", .kind = MetricKind::kLatency, .missing_value = 0.0}};
  expect_throw(o, "missing_value");
  o = base;
  o.primary.minimum_detectable_effect = 0;
  expect_throw(o, "minimum_detectable_effect");
  o = base;
  o.confidence = 1.0;
  expect_throw(o, "confidence");
  o = base;
  o.max_pending = 0;
  expect_throw(o, "max_pending");
  o = base;
  o.pending_ttl = Duration::zero();
  expect_throw(o, "pending_ttl");
  o = base;
  o.guardrails.assign(31, MetricSpec{});
  expect_throw(o, "at most 31 metrics");
}

}  // namespace experiment_test
}  // namespace
}  // namespace switchyard
