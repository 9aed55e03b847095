// SPDX-License-Identifier: Apache-2.0
// CanaryJudge: Kayenta's scoring by hand, each test's statistic against scipy, the always-valid
// boundary against GrowthBook's closed form, and A/A simulations of the false-failure rate over
// many looks beside a naive fixed-horizon test looked at just as often.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/rollout/canary_judge.hpp>
#include <switchyard/rollout/detail/canary_judge_statistics.hpp>
#include <switchyard/stats/mann_whitney.hpp>
#include <vector>

namespace switchyard {
namespace {
namespace canary_judge_test {

namespace dj = detail::canary_judge;

JudgeMetric proportion_metric(std::string name, std::string group, bool critical = false) {
  JudgeMetric m;
  m.name = std::move(name);
  m.kind = JudgeMetricKind::kProportion;
  m.tolerance = 0.0;
  m.tolerance_scale = ToleranceScale::kAbsolute;
  m.group = std::move(group);
  m.critical = critical;
  m.min_samples = 100;
  return m;
}

// Clearly within tolerance (identical) and clearly beyond it (10x the errors on 5,000 requests:
// z ~ 17, far past the always-valid boundary of about 3).
const MetricObservation kSame = MetricObservation::proportion({50, 5000}, {50, 5000});
const MetricObservation kWorse = MetricObservation::proportion({50, 5000}, {500, 5000});
const MetricObservation kBetter = MetricObservation::proportion({500, 5000}, {50, 5000});

// ---------------------------------------------------------------------------------------------
// Kayenta's score arithmetic (WeightedSumScorer, ThresholdScoreClassifier), by hand.

// Two groups weighted 50/50, two metrics each; one latency-group metric fails: the latency group
// scores 1/2 = 50, the error group 100; 0.5 * 50 + 0.5 * 100 = 75 -> marginal (75 <= 75 < 95).
TEST(CanaryJudgeTest, three_of_four_passing_in_two_equal_groups_scores_75_marginal) {
  JudgeConfig c;
  c.metrics = {proportion_metric("p50", "latency"), proportion_metric("p99", "latency"),
               proportion_metric("errors", "errors"), proportion_metric("timeouts", "errors")};
  c.group_weights = {{"latency", 50}, {"errors", 50}};
  CanaryJudge judge(c);
  const MetricObservation obs[] = {kSame, kWorse, kSame, kSame};
  const Judgement j = judge.evaluate({obs});
  EXPECT_EQ(j.verdict, JudgeVerdict::kMarginal);
  EXPECT_DOUBLE_EQ(j.score, 75.0);
  ASSERT_EQ(j.groups.size(), 2u);
  EXPECT_EQ(j.groups[0].group, "latency");
  EXPECT_DOUBLE_EQ(j.groups[0].score, 50.0);
  EXPECT_EQ(j.groups[0].passed, 1u);
  EXPECT_EQ(j.groups[0].failed, 1u);
  EXPECT_DOUBLE_EQ(j.groups[1].score, 100.0);
  EXPECT_EQ(j.metrics[1].classification, MetricClassification::kHigh);
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kPass);
  EXPECT_EQ(j.look, 1u);
  EXPECT_NE(j.summary.find("p99 high"), std::string::npos) << j.summary;
}

// Three groups, one weighted 40: the other two share (100 - 40) / 2 = 30 each (Kayenta's
// calculatedWeight). Group a: 2/3 pass -> 66.67; b: 0/1 -> 0; c: 1/1 -> 100.
// 0.4 * 66.666... + 0.3 * 0 + 0.3 * 100 = 56.666... -> 56.67 (rounded to 2 decimals) -> fail.
TEST(CanaryJudgeTest, unweighted_groups_share_the_remaining_weight) {
  JudgeConfig c;
  c.metrics = {proportion_metric("a1", "a"), proportion_metric("a2", "a"),
               proportion_metric("a3", "a"), proportion_metric("b1", "b"),
               proportion_metric("c1", "c")};
  c.group_weights = {{"a", 40}};
  CanaryJudge judge(c);
  const MetricObservation obs[] = {kSame, kWorse, kSame, kWorse, kSame};
  const Judgement j = judge.evaluate({obs});
  EXPECT_DOUBLE_EQ(j.groups[1].weight, 30.0);
  EXPECT_DOUBLE_EQ(j.groups[2].weight, 30.0);
  EXPECT_DOUBLE_EQ(j.score, 56.67);
  EXPECT_EQ(j.verdict, JudgeVerdict::kFail);
}

// Every metric passing scores 100 -> pass; the pass threshold is inclusive (score >= 95).
TEST(CanaryJudgeTest, all_passing_scores_100_and_thresholds_are_inclusive) {
  JudgeConfig c;
  c.metrics = {proportion_metric("a", "g"), proportion_metric("b", "g"),
               proportion_metric("c", "g"), proportion_metric("d", "g")};
  c.pass_score = 75.0;  // 3 of 4 = 75 exactly passes at an inclusive 75
  c.marginal_score = 50.0;
  CanaryJudge judge(c);
  const MetricObservation all_same[] = {kSame, kSame, kSame, kSame};
  Judgement j = judge.evaluate({all_same});
  EXPECT_EQ(j.verdict, JudgeVerdict::kPass);
  EXPECT_DOUBLE_EQ(j.score, 100.0);
  judge.reset();
  const MetricObservation one_bad[] = {kSame, kSame, kWorse, kSame};
  j = judge.evaluate({one_bad});
  EXPECT_DOUBLE_EQ(j.score, 75.0);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPass);
}

// A failed critical metric fails the judgement with score 0 whatever the others do (Kayenta's
// criticalFailures), even while other metrics are still holding.
TEST(CanaryJudgeTest, a_failing_critical_metric_fails_everything) {
  JudgeConfig c;
  c.metrics = {proportion_metric("errors", "errors", /*critical=*/true),
               proportion_metric("latency", "latency"), proportion_metric("cpu", "host")};
  CanaryJudge judge(c);
  const MetricObservation held = MetricObservation::proportion({1, 10}, {1, 10});
  const MetricObservation obs[] = {kWorse, kSame, held};
  const Judgement j = judge.evaluate({obs});
  EXPECT_EQ(j.verdict, JudgeVerdict::kFail);
  EXPECT_DOUBLE_EQ(j.score, 0.0);
  EXPECT_TRUE(j.metrics[0].critical);
  EXPECT_EQ(j.metrics[2].classification, MetricClassification::kInconclusive);
  EXPECT_NE(j.summary.find("critical metric errors failed"), std::string::npos) << j.summary;
}

// Below min_samples on either side nothing is judged, however large the difference: the metric
// is inconclusive and the judgement holds.
TEST(CanaryJudgeTest, nothing_is_judged_before_the_minimum_sample_count) {
  JudgeConfig c;
  c.metrics = {proportion_metric("errors", "g")};
  c.metrics[0].min_samples = 1000;
  CanaryJudge judge(c);
  const MetricObservation early[] = {MetricObservation::proportion({0, 999}, {999, 999})};
  Judgement j = judge.evaluate({early});
  EXPECT_EQ(j.verdict, JudgeVerdict::kInconclusive);
  EXPECT_TRUE(j.holding());
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kInconclusive);
  EXPECT_EQ(j.metrics[0].p_value, 1.0);
  EXPECT_NE(j.metrics[0].reason.find("999 of 1000"), std::string::npos) << j.metrics[0].reason;
  const MetricObservation later[] = {MetricObservation::proportion({0, 1000}, {999, 1000})};
  j = judge.evaluate({later});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kHigh);
  EXPECT_EQ(j.verdict, JudgeVerdict::kFail);
  EXPECT_EQ(j.look, 2u);
}

// No data on a side: nodata. A must-have-data metric holds the judgement; an optional one is
// left out of the score (Kayenta's NaN strategy "remove").
TEST(CanaryJudgeTest, no_data_holds_or_is_left_out) {
  JudgeConfig c;
  c.metrics = {proportion_metric("errors", "g"), proportion_metric("accuracy", "g")};
  CanaryJudge judge(c);
  const MetricObservation obs[] = {kSame, MetricObservation::proportion({0, 0}, {0, 0})};
  Judgement j = judge.evaluate({obs});
  EXPECT_EQ(j.metrics[1].classification, MetricClassification::kNoData);
  EXPECT_EQ(j.verdict, JudgeVerdict::kInconclusive);
  EXPECT_EQ(j.metrics[1].reason, "stable has no data");

  c.metrics[1].must_have_data = false;
  CanaryJudge lenient(c);
  j = lenient.evaluate({obs});
  EXPECT_EQ(j.metrics[1].classification, MetricClassification::kNoData);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPass);
  EXPECT_DOUBLE_EQ(j.score, 100.0);
  EXPECT_EQ(j.groups[0].passed, 1u);
}

// While a metric holds, a score that cannot reach marginal_score even if every pending metric
// passed is already a failure: the step need not wait.
TEST(CanaryJudgeTest, a_settled_failure_does_not_wait_for_pending_metrics) {
  JudgeConfig c;
  c.metrics = {proportion_metric("a", "g"), proportion_metric("b", "g"),
               proportion_metric("c", "g"), proportion_metric("d", "g")};
  CanaryJudge judge(c);
  const MetricObservation held = MetricObservation::proportion({1, 10}, {1, 10});
  // 1 failed, 3 pending: best case 75 >= 75 -> still inconclusive.
  const MetricObservation one_fail[] = {kWorse, held, held, held};
  EXPECT_EQ(judge.evaluate({one_fail}).verdict, JudgeVerdict::kInconclusive);
  judge.reset();
  // 2 failed, 2 pending: best case 50 < 75 -> fail now.
  const MetricObservation two_fail[] = {kWorse, kWorse, held, held};
  EXPECT_EQ(judge.evaluate({two_fail}).verdict, JudgeVerdict::kFail);
}

// Direction: a decrease is not a failure for a kIncrease metric; kDecrease and kEither see it.
TEST(CanaryJudgeTest, direction_decides_which_change_fails) {
  JudgeConfig c;
  c.metrics = {proportion_metric("up", "g"), proportion_metric("down", "g"),
               proportion_metric("either", "g")};
  c.metrics[1].bad_direction = BadDirection::kDecrease;
  c.metrics[2].bad_direction = BadDirection::kEither;
  CanaryJudge judge(c);
  const MetricObservation obs[] = {kBetter, kBetter, kBetter};
  const Judgement j = judge.evaluate({obs});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kPass);
  EXPECT_EQ(j.metrics[1].classification, MetricClassification::kLow);
  EXPECT_EQ(j.metrics[2].classification, MetricClassification::kLow);
}

// A failure is decided once: a later look whose data no longer reject keeps it (a confidence
// sequence's rejection is a valid stopping time); reset() starts over.
TEST(CanaryJudgeTest, a_decided_failure_stays_until_reset) {
  JudgeConfig c;
  c.metrics = {proportion_metric("errors", "g")};
  CanaryJudge judge(c);
  const MetricObservation bad[] = {MetricObservation::proportion({5, 1000}, {60, 1000})};
  ASSERT_EQ(judge.evaluate({bad}).metrics[0].classification, MetricClassification::kHigh);
  const MetricObservation diluted[] = {MetricObservation::proportion({500, 100000}, {560, 100000})};
  Judgement j = judge.evaluate({diluted});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kHigh);
  EXPECT_NE(j.metrics[0].reason.find("earlier look"), std::string::npos) << j.metrics[0].reason;
  judge.reset();
  EXPECT_EQ(judge.looks(), 0u);
  j = judge.evaluate({diluted});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kPass);
}

// The stricter pass rule holds a metric until its always-valid bound shows it inside the
// tolerance.
TEST(CanaryJudgeTest, within_tolerance_rule_holds_until_shown_inside) {
  JudgeConfig c;
  c.metrics = {proportion_metric("errors", "g")};
  c.metrics[0].tolerance = 0.01;  // one point more errors allowed
  c.pass_rule = PassRule::kWithinTolerance;
  CanaryJudge judge(c);
  const MetricObservation small[] = {MetricObservation::proportion({10, 200}, {10, 200})};
  Judgement j = judge.evaluate({small});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kInconclusive);
  EXPECT_EQ(j.verdict, JudgeVerdict::kInconclusive);
  const MetricObservation large[] = {MetricObservation::proportion({500, 10000}, {500, 10000})};
  j = judge.evaluate({large});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kPass);
  EXPECT_EQ(j.verdict, JudgeVerdict::kPass);
}

// ---------------------------------------------------------------------------------------------
// The statistics, against references.

// The always-valid boundaries are GrowthBook's normal-mixture half-widths for a standard error of
// 1 (gbstats' SequentialOneSided / SequentialTwoSided with the closed forms in
// stats/sequential_test.hpp), evaluated with numpy 1.24 in Debian's python3:
//   rho(a) = sqrt((-2 ln a + ln(-2 ln a + 1)) / tuning); one-sided a = 2 alpha, q = N rho^2 + 1,
//   z1 = sqrt(2 q / (N rho^2) ln(1 + sqrt(q) / (2 alpha))); two-sided a = alpha,
//   z2 = sqrt(2 q / (N rho^2) ln(sqrt(q) / alpha)).  Tolerance 1e-12 relative.
TEST(CanaryJudgeStatsTest, always_valid_boundaries_match_the_closed_form) {
  struct Case {
    std::uint64_t n;
    double alpha, tuning, z1, z2;
  };
  const Case cases[] = {{29, 0.05, 5000, 11.677813147016387, 11.712358062789303},
                        {2000, 0.05, 5000, 2.8860139613428335, 3.1237790916747294},
                        {20000, 0.025, 5000, 3.129982522350533, 3.3663230637651353},
                        {1000, 0.01, 1000, 3.3551985926328585, 3.5716299708704495}};
  for (const Case& c : cases) {
    const dj::Boundaries b = dj::boundaries(c.n, c.alpha, c.tuning);
    EXPECT_NEAR(b.one_sided, c.z1, 1e-12 * c.z1) << c.n;
    EXPECT_NEAR(b.two_sided, c.z2, 1e-12 * c.z2) << c.n;
  }
  // The one-sided always-valid p-value of z = 2.0276... at N = 4100 (GrowthBook's touching alpha,
  // sqrt(q) / (2 expm1(z^2 N rho^2 / (2 q)))), numpy: 0.2701767581323559.
  EXPECT_NEAR(dj::one_sided_p(2.027621760051322, 4100, 0.05, 5000), 0.2701767581323559, 1e-12);
}

// The rank statistic of candidate against stable mapped by v -> a v + b is scipy's Mann-Whitney
// with continuity and tie correction (scipy 1.10.1, Debian python3):
//   scipy.stats.mannwhitneyu(x, a * y + b, use_continuity=True, alternative=..., method=
//   'asymptotic'); z = norm.isf(pvalue) for 'greater', -norm.isf(pvalue) for 'less'.
// Tolerance 1e-9 absolute.
TEST(CanaryJudgeStatsTest, rank_statistic_matches_scipy_mannwhitneyu) {
  const std::vector<double> y = {12.1, 13.4, 11.8, 15.2, 14.0, 12.9, 13.3,
                                 16.8, 12.2, 13.9, 14.4, 12.6, 13.3};
  const std::vector<double> x = {14.9, 15.8, 13.2, 17.5, 16.1, 14.8, 15.5, 19.2,
                                 14.1, 16.0, 15.3, 14.6, 18.0, 15.1, 16.4, 14.8};
  std::vector<double> xs = x, ys = y;
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  struct Case {
    double a, b, z;
  };
  const Case cases[] = {{1.0, 0.0, 3.355573521600961},    // U = 181, p = 3.96e-4
                        {1.1, 0.0, 1.601025275012223},    // U = 141 against 1.1 x stable
                        {1.0, 1.0, 2.1717887080780383},   // U = 154 against stable + 1
                        {1.2, 0.0, -0.8114785640472912},  // 'less', U = 85
                        {0.9, 0.0, 4.188983938730611}};
  for (const Case& c : cases) {
    double z = 0.0;
    ASSERT_TRUE(dj::rank_z(xs, ys, c.a, c.b, z));
    EXPECT_NEAR(z, c.z, 1e-9) << c.a << " " << c.b;
  }
}

// The contrast of means, candidate - (a stable + b) over sqrt(v_c / n_c + a^2 v_s / n_s), is
// Welch's statistic on the mapped summaries: scipy 1.10.1
//   ttest_ind_from_stats(m_c - b, s_c, n_c, a m_s, a s_s, n_s, equal_var=False).statistic
// and for rates the same with s = sqrt(p (1 - p)). Tolerance 1e-12 relative.
TEST(CanaryJudgeStatsTest, contrasts_match_scipy_welch_statistics) {
  dj::Contrast means;
  means.mean_c = 105.0;
  means.var_mean_c = 20.0 * 20.0 / 400.0;
  means.mean_s = 100.0;
  means.var_mean_s = 18.0 * 18.0 / 380.0;
  EXPECT_NEAR(means.z(1.0, 0.0), 3.6734613352828664, 1e-12 * 3.68);
  EXPECT_NEAR(means.z(1.1, 0.0), -3.507857168399327, 1e-12 * 3.51);
  EXPECT_NEAR(means.z(1.0, 2.0), 2.20407680116972, 1e-12 * 2.21);

  dj::Contrast rates;  // 31 of 2000 candidate errors, 18 of 2100 stable
  rates.mean_c = 31.0 / 2000.0;
  rates.var_mean_c = rates.mean_c * (1.0 - rates.mean_c) / 2000.0;
  rates.mean_s = 18.0 / 2100.0;
  rates.var_mean_s = rates.mean_s * (1.0 - rates.mean_s) / 2100.0;
  EXPECT_NEAR(rates.z(1.0, 0.0), 2.027621760051322, 1e-12 * 2.03);
  EXPECT_NEAR(rates.z(1.5, 0.0), 0.6460453715985625, 1e-12);
  EXPECT_NEAR(rates.z(1.0, 0.002), 1.4423288808612498, 1e-12 * 1.45);

  // Fieller's interval for the rate ratio at the two-sided always-valid z2 = 3.039382290507225
  // (N = 4100): the roots of (p_s^2 - z^2 v_s) r^2 - 2 p_c p_s r + (p_c^2 - z^2 v_c), numpy:
  // r - 1 in [-0.29325852783434925, 5.656398439646768]; at both roots the contrast's z is
  // exactly +-z2.
  const stats::Interval r = rates.ratio_interval(3.039382290507225);
  EXPECT_NEAR(r.lower - 1.0, -0.29325852783434925, 1e-10);
  EXPECT_NEAR(r.upper - 1.0, 5.656398439646768, 1e-9);
  EXPECT_NEAR(rates.z(r.lower, 0.0), 3.039382290507225, 1e-9);
  EXPECT_NEAR(rates.z(r.upper, 0.0), -3.039382290507225, 1e-9);
}

// A judged proportion metric reports the rate ratio's excess, Fieller's always-valid interval and
// the always-valid p-value (the numbers above, through evaluate()).
TEST(CanaryJudgeStatsTest, proportion_metric_reports_the_reference_numbers) {
  JudgeConfig c;
  JudgeMetric m = proportion_metric("errors", "g");
  m.tolerance = 0.0;
  m.tolerance_scale = ToleranceScale::kRelative;
  c.metrics = {m};
  CanaryJudge judge(c);
  const MetricObservation obs[] = {MetricObservation::proportion({18, 2100}, {31, 2000})};
  const Judgement j = judge.evaluate({obs});
  const MetricResult& r = j.metrics[0];
  EXPECT_EQ(r.classification, MetricClassification::kPass);  // z 2.03 < z1 2.93 (N = 4100)
  EXPECT_NEAR(r.effect, 0.8083333333333331, 1e-12);
  EXPECT_NEAR(r.interval.lower, -0.29325852783434925, 1e-10);
  EXPECT_NEAR(r.interval.upper, 5.656398439646768, 1e-9);
  EXPECT_NEAR(r.p_value, 0.2701767581323559, 1e-12);
  EXPECT_EQ(r.stable_count, 2100u);
  EXPECT_EQ(r.candidate_count, 2000u);
}

// Boundary variance (JudgeConfig::proportion_boundary_variance): stable 114 errors of 114,000
// (0.1 %), candidate 60 of 6,000 (1 %), absolute tolerance 0.5 points, alpha 1 %, N = 120,000.
// Wald: z = 0.004 / sqrt(0.01 * 0.99 / 6000 + 0.001 * 0.999 / 114000) = 3.1058 < 3.6561 (the
// one-sided boundary), p = 0.064229; at the boundary's rate 0.6 %: z = 0.004 / sqrt(0.006 * 0.994
// / 6000 + 0.001 * 0.999 / 114000) = 3.9945 > 3.6561, p = 0.0027527 (GrowthBook's one-sided
// closed form, as in always_valid_boundaries_match_the_closed_form; computed by hand in Python).
TEST(CanaryJudgeStatsTest, proportion_boundary_variance_is_the_score_statistic) {
  JudgeConfig c;
  JudgeMetric m = proportion_metric("errors", "g", true);
  m.tolerance = 0.005;
  c.metrics = {m};
  c.alpha = 0.01;
  const MetricObservation obs[] = {MetricObservation::proportion({114, 114000}, {60, 6000})};
  CanaryJudge wald(c);
  const MetricResult w = wald.evaluate({obs}).metrics[0];
  EXPECT_EQ(w.classification, MetricClassification::kPass);
  EXPECT_NEAR(w.p_value, 0.06422939446989435, 1e-9);
  c.proportion_boundary_variance = true;
  CanaryJudge score(c);
  const MetricResult b = score.evaluate({obs}).metrics[0];
  EXPECT_EQ(b.classification, MetricClassification::kHigh);
  EXPECT_NEAR(b.p_value, 0.0027526937602495916, 1e-9);
  EXPECT_DOUBLE_EQ(b.effect, w.effect) << "effects and intervals stay Wald";
  EXPECT_DOUBLE_EQ(b.interval.lower, w.interval.lower);
}

// A mean metric from moments: 5 % higher with a 10 % tolerance passes; 25 % higher fails.
TEST(CanaryJudgeStatsTest, mean_metric_judges_the_relative_tolerance) {
  JudgeConfig c;
  JudgeMetric m;
  m.name = "cpu";
  m.kind = JudgeMetricKind::kMean;
  m.tolerance = 0.10;
  c.metrics = {m};
  CanaryJudge judge(c);
  const auto stable = stats::SampleSummary::from_mean_std(100.0, 18.0, 3800);
  MetricObservation obs[] = {
      MetricObservation::moments(stable, stats::SampleSummary::from_mean_std(105.0, 20.0, 4000))};
  Judgement j = judge.evaluate({obs});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kPass);
  EXPECT_NEAR(j.metrics[0].effect, 0.05, 1e-12);
  EXPECT_LT(j.metrics[0].interval.lower, 0.05);
  EXPECT_GT(j.metrics[0].interval.upper, 0.05);
  judge.reset();
  obs[0] =
      MetricObservation::moments(stable, stats::SampleSummary::from_mean_std(125.0, 20.0, 4000));
  j = judge.evaluate({obs});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kHigh);
  EXPECT_GT(j.metrics[0].interval.lower, 0.10);  // the bound shows it beyond the tolerance
}

std::vector<double> lognormal(std::mt19937_64& rng, std::size_t n, double median, double sigma) {
  std::lognormal_distribution<double> d(std::log(median), sigma);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

JudgeMetric latency_metric(double tolerance) {
  JudgeMetric m;
  m.name = "latency_ms";
  m.kind = JudgeMetricKind::kSamples;
  m.tolerance = tolerance;
  m.group = "latency";
  m.min_samples = 200;
  return m;
}

// Latency judged with Mann-Whitney at 1.1 x stable: 30 % slower fails, 3 % slower passes. The
// Hodges-Lehmann ratio interval covers the true ratio and lies beyond the tolerance on failure.
TEST(CanaryJudgeStatsTest, latency_samples_fail_only_beyond_the_tolerance) {
  std::mt19937_64 rng(7);
  const auto stable = lognormal(rng, 2000, 20.0, 0.5);
  const auto slow = lognormal(rng, 2000, 26.0, 0.5);
  const auto close = lognormal(rng, 2000, 20.6, 0.5);
  JudgeConfig c;
  c.metrics = {latency_metric(0.10)};
  CanaryJudge judge(c);
  MetricObservation obs[] = {MetricObservation::samples(stable, slow)};
  Judgement j = judge.evaluate({obs});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kHigh) << j.metrics[0].reason;
  EXPECT_GT(j.metrics[0].interval.lower, 0.10);
  EXPECT_TRUE(j.metrics[0].interval.contains(0.30));
  EXPECT_NEAR(j.metrics[0].effect, 0.30, 0.06);
  EXPECT_NE(j.metrics[0].reason.find("tolerance 1.1x"), std::string::npos) << j.metrics[0].reason;
  judge.reset();
  obs[0] = MetricObservation::samples(stable, close);
  j = judge.evaluate({obs});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kPass) << j.metrics[0].reason;
  EXPECT_TRUE(j.metrics[0].interval.contains(0.03));
}

// The Hodges-Lehmann ratio is the Hodges-Lehmann shift of the logarithms: the judge's interval at
// the always-valid z2 equals stats::hodges_lehmann_shift on log samples (validated against R's
// wilcox.test) at confidence 1 - 2 sf(z2), to the root finders' tolerances (1e-5 in log units).
TEST(CanaryJudgeStatsTest, ratio_interval_is_the_shift_interval_of_logs) {
  std::mt19937_64 rng(11);
  auto ys = lognormal(rng, 300, 20.0, 0.4), xs = lognormal(rng, 300, 23.0, 0.4);
  std::sort(ys.begin(), ys.end());
  std::sort(xs.begin(), xs.end());
  const double z2 = dj::boundaries(600, 0.05, 5000).two_sided;
  JudgeMetric m = latency_metric(0.1);
  const dj::Evidence e = dj::sample_evidence(m, ys, xs, z2, true);
  ASSERT_TRUE(e.usable);
  std::vector<double> ly(ys.size()), lx(xs.size());
  std::transform(ys.begin(), ys.end(), ly.begin(), [](double v) { return std::log(v); });
  std::transform(xs.begin(), xs.end(), lx.begin(), [](double v) { return std::log(v); });
  stats::ShiftOptions opt;
  opt.confidence = 1.0 - 2.0 * stats::detail::normal_sf(z2);
  opt.tolerance = 1e-7;
  const stats::IntervalEstimate hl = stats::hodges_lehmann_shift(ly, lx, opt);
  ASSERT_TRUE(hl.ok());
  EXPECT_NEAR(std::log1p(e.effect), hl.estimate, 2e-5);
  EXPECT_NEAR(std::log1p(e.interval.lower), hl.interval.lower, 2e-5);
  EXPECT_NEAR(std::log1p(e.interval.upper), hl.interval.upper, 2e-5);
}

// Without intervals, samples report Kayenta's mean ratio and the same classification.
TEST(CanaryJudgeStatsTest, sample_intervals_off_reports_the_mean_ratio) {
  const std::vector<double> y = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  const std::vector<double> x = {20, 22, 24, 26, 28, 30, 32, 34, 36, 38};
  JudgeConfig c;
  c.metrics = {latency_metric(0.1)};
  c.metrics[0].min_samples = 10;
  c.sample_intervals = false;
  CanaryJudge judge(c);
  const MetricObservation obs[] = {MetricObservation::samples(y, x)};
  const Judgement j = judge.evaluate({obs});
  EXPECT_DOUBLE_EQ(j.metrics[0].effect, 29.0 / 14.5 - 1.0);
  EXPECT_TRUE(std::isinf(j.metrics[0].interval.lower));
}

// Data problems are results, not exceptions: NaN samples, and non-positive samples under a
// relative tolerance, leave the metric inconclusive with the reason.
TEST(CanaryJudgeTest, bad_samples_make_the_metric_inconclusive) {
  const std::vector<double> nan_sample = {1.0, std::nan(""), 2.0};
  const std::vector<double> ok = {1.0, 2.0, 3.0};
  const std::vector<double> zeros = {0.0, 1.0, 2.0};
  JudgeConfig c;
  c.metrics = {latency_metric(0.1)};
  c.metrics[0].min_samples = 3;
  CanaryJudge judge(c);
  MetricObservation obs[] = {MetricObservation::samples(ok, nan_sample)};
  Judgement j = judge.evaluate({obs});
  EXPECT_EQ(j.metrics[0].classification, MetricClassification::kInconclusive);
  EXPECT_NE(j.metrics[0].reason.find("NaN"), std::string::npos);
  obs[0] = MetricObservation::samples(zeros, ok);
  j = judge.evaluate({obs});
  EXPECT_NE(j.metrics[0].reason.find("positive samples"), std::string::npos) << j.metrics[0].reason;
}

// ---------------------------------------------------------------------------------------------
// Control-plane errors.

TEST(CanaryJudgeTest, invalid_configs_are_rejected_naming_the_field) {
  auto message = [](const JudgeConfig& c) {
    try {
      c.validate();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  JudgeConfig c;
  EXPECT_NE(message(c).find("metrics must not be empty"), std::string::npos);
  c.metrics = {proportion_metric("errors", "a"), proportion_metric("latency", "b")};
  EXPECT_EQ(message(c), "no error");
  JudgeConfig bad = c;
  bad.metrics[1].tolerance = -1.0;
  EXPECT_NE(message(bad).find("metrics[1] 'latency': tolerance must be finite and >= 0"),
            std::string::npos)
      << message(bad);
  bad = c;
  bad.metrics[1].name = "errors";
  EXPECT_NE(message(bad).find("name repeats"), std::string::npos);
  bad = c;
  bad.metrics[0].min_samples = 0;
  EXPECT_NE(message(bad).find("min_samples"), std::string::npos);
  bad = c;
  bad.group_weights = {{"a", 70}, {"b", 40}};
  EXPECT_NE(message(bad).find("sum to at most 100"), std::string::npos);
  bad.group_weights = {{"a", 70}, {"b", 20}};
  EXPECT_NE(message(bad).find("must then sum to 100"), std::string::npos);
  bad.group_weights = {{"c", 10}};
  EXPECT_NE(message(bad).find("no metric is in this group"), std::string::npos);
  bad = c;
  bad.marginal_score = 99.0;
  EXPECT_NE(message(bad).find("marginal_score"), std::string::npos);
  bad = c;
  bad.alpha = 1.0;
  EXPECT_NE(message(bad).find("alpha"), std::string::npos);
  bad.alpha = 0.05;
  bad.tuning_parameter = 0.0;
  EXPECT_NE(message(bad).find("tuning_parameter"), std::string::npos);
  EXPECT_THROW(CanaryJudge{bad}, InvalidArgument);
}

TEST(CanaryJudgeTest, evaluate_rejects_malformed_input_and_keeps_its_state) {
  JudgeConfig c;
  c.metrics = {proportion_metric("errors", "g")};
  CanaryJudge judge(c);
  const MetricObservation none[1] = {};
  EXPECT_THROW(judge.evaluate({std::span<const MetricObservation>(none, 0)}), InvalidArgument);
  const MetricObservation impossible[] = {MetricObservation::proportion({5, 4}, {0, 10})};
  EXPECT_THROW(judge.evaluate({impossible}), InvalidArgument);
  const MetricObservation first[] = {MetricObservation::proportion({5, 1000}, {5, 1000})};
  judge.evaluate({first});
  const MetricObservation shrunk[] = {MetricObservation::proportion({5, 900}, {5, 1000})};
  try {
    judge.evaluate({shrunk});
    FAIL() << "no error";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("stable count went down from 1000 to 900"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(judge.looks(), 1u);  // the rejected calls did not count
}

// ---------------------------------------------------------------------------------------------
// A/A: the candidate is stable. Over many looks at growing cumulative data, the sequential judge
// fails a metric in at most alpha of the runs; a fixed-horizon one-sided test at the same alpha,
// looked at just as often, fails far more (the inflation the sequential judge exists to prevent).
// The tolerance is 0 so the null sits exactly on the boundary, the hardest case for both.

// Error rate 2 %, 250 requests per side per look, 40 looks (10,000 per side), 600 runs, seed 20.
// Measured: sequential 1.5 % of runs falsely failed, naive 25.2 %.
TEST(CanaryJudgeSimulationTest, aa_error_rate_false_failures_stay_below_alpha) {
  constexpr int kRuns = 600, kLooks = 40, kPerLook = 250;
  constexpr double kAlpha = 0.05, kRate = 0.02;
  JudgeConfig c;
  c.metrics = {proportion_metric("errors", "g")};
  c.alpha = kAlpha;
  c.tuning_parameter = 2.0 * kLooks * kPerLook;
  std::mt19937_64 rng(20);
  std::binomial_distribution<std::uint64_t> errors(kPerLook, kRate);
  const double z_fixed = stats::detail::normal_isf(kAlpha);  // 1.6449
  int sequential_fails = 0, naive_fails = 0;
  for (int run = 0; run < kRuns; ++run) {
    CanaryJudge judge(c);
    JudgeCounts s, k;
    bool seq = false, naive = false;
    for (int look = 0; look < kLooks; ++look) {
      s.successes += errors(rng);
      k.successes += errors(rng);
      s.trials += kPerLook;
      k.trials += kPerLook;
      const MetricObservation obs[] = {MetricObservation::proportion(s, k)};
      if (judge.evaluate({obs}).failed()) seq = true;
      dj::Contrast ct;
      ct.mean_s = static_cast<double>(s.successes) / s.trials;
      ct.mean_c = static_cast<double>(k.successes) / k.trials;
      ct.var_mean_s = ct.mean_s * (1 - ct.mean_s) / s.trials;
      ct.var_mean_c = ct.mean_c * (1 - ct.mean_c) / k.trials;
      if (ct.z(1.0, 0.0) > z_fixed) naive = true;
    }
    sequential_fails += seq;
    naive_fails += naive;
  }
  const double seq_rate = static_cast<double>(sequential_fails) / kRuns;
  const double naive_rate = static_cast<double>(naive_fails) / kRuns;
  RecordProperty("sequential_false_fail_rate", std::to_string(seq_rate));
  RecordProperty("naive_false_fail_rate", std::to_string(naive_rate));
  EXPECT_LE(seq_rate, kAlpha) << "naive " << naive_rate;
  EXPECT_GT(naive_rate, 2.0 * kAlpha) << "sequential " << seq_rate;
}

// A candidate exactly on the tolerance boundary (1.5 % against 1 %, tolerance 0.5 points) with
// the boundary variance: 2,500 requests per side per look, 40 looks, 400 runs, seed 22. The
// false-failure rate stays below alpha over all looks.
TEST(CanaryJudgeSimulationTest, boundary_variance_false_failures_stay_below_alpha) {
  constexpr int kRuns = 400, kLooks = 40, kPerLook = 2500;
  constexpr double kAlpha = 0.05;
  JudgeConfig c;
  JudgeMetric m = proportion_metric("errors", "g");
  m.tolerance = 0.005;
  c.metrics = {m};
  c.alpha = kAlpha;
  c.proportion_boundary_variance = true;
  c.tuning_parameter = 2.0 * kLooks * kPerLook;
  std::mt19937_64 rng(22);
  std::binomial_distribution<std::uint64_t> stable_errors(kPerLook, 0.01);
  std::binomial_distribution<std::uint64_t> candidate_errors(kPerLook, 0.015);
  int fails = 0;
  for (int run = 0; run < kRuns; ++run) {
    CanaryJudge judge(c);
    JudgeCounts s, k;
    bool failed = false;
    for (int look = 0; look < kLooks && !failed; ++look) {
      s.successes += stable_errors(rng);
      k.successes += candidate_errors(rng);
      s.trials += kPerLook;
      k.trials += kPerLook;
      const MetricObservation obs[] = {MetricObservation::proportion(s, k)};
      failed = judge.evaluate({obs}).failed();
    }
    fails += failed;
  }
  const double rate = static_cast<double>(fails) / kRuns;
  RecordProperty("boundary_false_fail_rate", std::to_string(rate));
  EXPECT_LE(rate, kAlpha);
}

// Latency samples (lognormal, median 20 ms), 50 per side per look, 20 looks, 150 runs, seed 21.
TEST(CanaryJudgeSimulationTest, aa_latency_false_failures_stay_below_alpha) {
  constexpr int kRuns = 150, kLooks = 20, kPerLook = 50;
  constexpr double kAlpha = 0.05;
  JudgeConfig c;
  c.metrics = {latency_metric(0.0)};
  c.metrics[0].min_samples = kPerLook;
  c.alpha = kAlpha;
  c.tuning_parameter = 2.0 * kLooks * kPerLook;
  c.sample_intervals = false;
  std::mt19937_64 rng(21);
  const double z_fixed = stats::detail::normal_isf(kAlpha);
  int sequential_fails = 0, naive_fails = 0;
  for (int run = 0; run < kRuns; ++run) {
    CanaryJudge judge(c);
    std::vector<double> s, k;
    bool seq = false, naive = false;
    for (int look = 0; look < kLooks; ++look) {
      const auto more_s = lognormal(rng, kPerLook, 20.0, 0.5);
      const auto more_k = lognormal(rng, kPerLook, 20.0, 0.5);
      s.insert(s.end(), more_s.begin(), more_s.end());
      k.insert(k.end(), more_k.begin(), more_k.end());
      std::sort(s.begin(), s.end());
      std::sort(k.begin(), k.end());
      const MetricObservation obs[] = {MetricObservation::samples(s, k, /*sorted=*/true)};
      if (judge.evaluate({obs}).failed()) seq = true;
      double z = 0.0;
      dj::rank_z(k, s, 1.0, 0.0, z);
      if (z > z_fixed) naive = true;
    }
    sequential_fails += seq;
    naive_fails += naive;
  }
  const double seq_rate = static_cast<double>(sequential_fails) / kRuns;
  const double naive_rate = static_cast<double>(naive_fails) / kRuns;
  RecordProperty("sequential_false_fail_rate", std::to_string(seq_rate));
  RecordProperty("naive_false_fail_rate", std::to_string(naive_rate));
  EXPECT_LE(seq_rate, kAlpha) << "naive " << naive_rate;
  EXPECT_GT(naive_rate, 2.0 * kAlpha) << "sequential " << seq_rate;
}

}  // namespace canary_judge_test
}  // namespace
}  // namespace switchyard
