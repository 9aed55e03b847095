// SPDX-License-Identifier: Apache-2.0
// PerformanceReport (seed 002's GET /models/performance): per-version figures, comparisons equal
// to the statistics functions on the same counts, recommendations, JSON, and a live Deployment.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <switchyard/rollout/performance_report.hpp>
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
#include <vector>

#include "support/json.hpp"

namespace switchyard {
namespace {
namespace performance_report_test {

using stats::ProportionCounter;

// A version's statistics as Deployment::stats() would report them.
VariantStats version(std::int64_t v, std::string variant, double share, std::uint64_t requests,
                     std::uint64_t errors = 0) {
  VariantStats s;
  s.version = v;
  s.variant = std::move(variant);
  s.share = share;
  s.stats.requests = requests;
  s.stats.errors = errors;
  for (std::uint64_t i = 0; i + errors < requests; ++i) {
    s.stats.latency.record(2'000'000 + 10'000 * (i % 50));  // 2.0 to 2.49 ms
  }
  return s;
}

void set_confidences(VariantStats& s, const std::vector<double>& c) {
  s.stats.confidence_count = c.size();
  s.stats.confidence_sum = 0.0;
  s.stats.confidence_sum_squares = 0.0;
  for (double x : c) {
    s.stats.confidence_sum += x;
    s.stats.confidence_sum_squares += x * x;
  }
}

void set_labels(VariantStats& s, std::uint64_t labeled, std::uint64_t correct) {
  s.stats.labeled = labeled;
  s.stats.correct = correct;
}

// Confidences with a given mean: a fixed zig-zag of +-spread around it.
std::vector<double> confidences(std::size_t n, double mean, double spread) {
  std::vector<double> c(n);
  for (std::size_t i = 0; i < n; ++i)
    c[i] = mean + spread * (static_cast<double>(i % 5) - 2.0) / 2.0;
  return c;
}

const VersionComparison& find(const PerformanceReport& r, std::int64_t v, PerformanceMetric m) {
  for (const auto& c : r.comparisons) {
    if (c.version == v && c.metric == m) return c;
  }
  throw std::runtime_error("no comparison");
}

// Oracle: two_proportion_z_test and lift_test on the same counts (each reference-tested against
// statsmodels and GrowthBook in the stats tests); the report must pass them the right numbers.
TEST(PerformanceReportTest, accuracy_comparison_equals_the_z_test_on_the_same_counts) {
  std::vector<VariantStats> v = {version(1, "stable", 0.8, 2000), version(2, "canary", 0.2, 1000)};
  set_labels(v[0], 1600, 1280);  // 80%
  set_labels(v[1], 800, 704);    // 88%
  const PerformanceReport r = performance_report("sentiment", v);
  ASSERT_EQ(r.baseline_version, std::optional<std::int64_t>(1));
  const VersionComparison& c = find(r, 2, PerformanceMetric::kAccuracy);
  const ProportionCounter base(1280, 1600), cand(704, 800);
  const auto z = stats::two_proportion_z_test(base, cand, 0.95);
  ASSERT_EQ(c.status, stats::StatStatus::kOk) << c.reason;
  EXPECT_EQ(c.p_value, z.p_value);
  EXPECT_EQ(c.absolute_interval.lower, z.interval.lower);
  const auto lift = stats::lift_test(
      stats::effect_moments(base.summary(), cand.summary(), stats::EffectScale::kRelative), 0.95);
  EXPECT_EQ(c.relative_effect, lift.effect);
  EXPECT_EQ(c.relative_interval.upper, lift.interval.upper);
  EXPECT_NEAR(c.relative_effect, 0.1, 1e-12);
  EXPECT_TRUE(c.improvement);
  EXPECT_EQ(r.best_version, std::optional<std::int64_t>(2));
  EXPECT_EQ(r.recommendation.rfind("version 2 shows +10.0% accuracy over version 1 (95% CI [", 0),
            0u)
      << r.recommendation;
  EXPECT_NE(r.recommendation.find("p < 0.001"), std::string::npos) << r.recommendation;
  // Per-version figures.
  ASSERT_EQ(r.versions.size(), 2u);
  EXPECT_EQ(r.versions[1].accuracy, std::optional<double>(0.88));
  const auto wilson = stats::wilson_interval(cand, 0.95);
  EXPECT_EQ(r.versions[1].accuracy_interval.interval.lower, wilson.interval.lower);
  EXPECT_EQ(r.versions[0].request_count, 2000u);
  EXPECT_NEAR(*r.versions[0].avg_latency_ms, 2.245, 1e-12);  // mean of 2.00..2.49 ms
  EXPECT_GE(*r.versions[0].p99_latency_ms, 2.45);
}

// Seed 002's example: 800 requests at 0.87 mean confidence against 200 at 0.93, no labels.
TEST(PerformanceReportTest, without_labels_mean_confidence_is_compared_with_welch_from_sums) {
  std::vector<VariantStats> v = {version(1, "v1", 0.8, 800), version(2, "v2", 0.2, 200)};
  set_confidences(v[0], confidences(800, 0.87, 0.08));
  set_confidences(v[1], confidences(200, 0.93, 0.06));
  const PerformanceReport r = performance_report("sentiment", v);
  const VersionComparison& c = find(r, 2, PerformanceMetric::kMeanConfidence);
  const auto t = stats::SampleSummary::from_sums(200, v[1].stats.confidence_sum,
                                                 v[1].stats.confidence_sum_squares);
  const auto b = stats::SampleSummary::from_sums(800, v[0].stats.confidence_sum,
                                                 v[0].stats.confidence_sum_squares);
  const auto w = stats::welch_t_test(b, t, 0.95);
  ASSERT_EQ(c.status, stats::StatStatus::kOk) << c.reason;
  EXPECT_EQ(c.p_value, w.p_value);
  EXPECT_EQ(c.absolute_interval.upper, w.interval.upper);
  EXPECT_TRUE(c.improvement);
  EXPECT_EQ(r.best_version, std::optional<std::int64_t>(2));
  EXPECT_EQ(r.recommendation.rfind("version 2 shows +6.9% mean confidence over version 1", 0), 0u)
      << r.recommendation;
  EXPECT_NEAR(*r.versions[1].avg_confidence, 0.93, 1e-12);
}

TEST(PerformanceReportTest, no_difference_yet_says_how_many_more_requests_are_needed) {
  std::vector<VariantStats> v = {version(1, "stable", 0.5, 400), version(2, "canary", 0.5, 400)};
  set_labels(v[0], 300, 240);
  set_labels(v[1], 300, 246);
  const PerformanceReport r = performance_report("sentiment", v);
  const VersionComparison& c = find(r, 2, PerformanceMetric::kAccuracy);
  EXPECT_FALSE(c.significant);
  stats::PowerOptions po;
  po.alpha = 1.0 - 0.95;
  const auto need =
      stats::remaining_sample_size(ProportionCounter(240, 300), ProportionCounter(246, 300), 0.05,
                                   stats::MdeKind::kRelative, po);
  ASSERT_TRUE(need.ok());
  ASSERT_TRUE(c.more_requests_needed.has_value());
  EXPECT_EQ(*c.more_requests_needed, need.remaining_per_arm);
  EXPECT_EQ(r.best_version, std::optional<std::int64_t>(1));  // equal shares: the lower version
  EXPECT_EQ(r.recommendation.rfind("no significant difference yet between version 2 and version 1 "
                                   "in accuracy (+2.5%, 95% CI [",
                                   0),
            0u)
      << r.recommendation;
  EXPECT_NE(r.recommendation.find("need about " + std::to_string(need.remaining_per_arm) +
                                  " more labeled requests per version"),
            std::string::npos)
      << r.recommendation;
}

TEST(PerformanceReportTest, a_significantly_higher_error_rate_keeps_the_baseline) {
  std::vector<VariantStats> v = {version(1, "stable", 0.9, 2000, 4),
                                 version(2, "canary", 0.1, 500, 25)};
  set_labels(v[0], 1000, 800);
  set_labels(v[1], 400, 360);  // better accuracy, but 5% errors against 0.2%
  const PerformanceReport r = performance_report("sentiment", v);
  const VersionComparison& e = find(r, 2, PerformanceMetric::kErrorRate);
  const auto z =
      stats::two_proportion_z_test(ProportionCounter(4, 2000), ProportionCounter(25, 500), 0.95);
  EXPECT_EQ(e.p_value, z.p_value);
  EXPECT_TRUE(e.regression);
  EXPECT_TRUE(find(r, 2, PerformanceMetric::kAccuracy).improvement);
  EXPECT_EQ(r.best_version, std::optional<std::int64_t>(1));
  EXPECT_NE(r.recommendation.find("error rate"), std::string::npos) << r.recommendation;
  EXPECT_NE(r.recommendation.find("keep version 1"), std::string::npos) << r.recommendation;
  EXPECT_DOUBLE_EQ(r.versions[1].error_rate, 0.05);
}

TEST(PerformanceReportTest, holm_adjusts_quality_across_versions) {
  std::vector<VariantStats> v = {version(1, "a", 0.5, 1000), version(2, "b", 0.25, 1000),
                                 version(3, "c", 0.25, 1000)};
  set_labels(v[0], 1000, 800);
  set_labels(v[1], 1000, 830);
  set_labels(v[2], 1000, 845);
  const PerformanceReport r = performance_report("m", v);
  const VersionComparison& b = find(r, 2, PerformanceMetric::kAccuracy);
  const VersionComparison& c = find(r, 3, PerformanceMetric::kAccuracy);
  const std::vector<double> raw = {b.p_value, c.p_value};
  const auto holm = stats::adjust_p_values(raw, stats::PValueAdjustment::kHolm, 0.05);
  EXPECT_EQ(b.adjusted_p_value, holm.p_values[0]);
  EXPECT_EQ(c.adjusted_p_value, holm.p_values[1]);
  EXPECT_EQ(r.best_version, std::optional<std::int64_t>(3));
}

TEST(PerformanceReportTest, json_parses_and_mirrors_the_seed_fields) {
  std::vector<VariantStats> v = {version(1, "stable", 0.8, 800, 2), version(2, "canary", 0.2, 200)};
  set_confidences(v[0], confidences(798, 0.87, 0.08));
  set_confidences(v[1], confidences(200, 0.93, 0.06));
  const PerformanceReport r = performance_report("sentiment \"model\"", v);
  const std::string text = r.to_json();
  testing::json::Document doc;
  doc.Parse(text.c_str());
  ASSERT_FALSE(doc.HasParseError())
      << testing::json::GetParseError_En(doc.GetParseError()) << ": " << text;
  EXPECT_EQ(std::string(doc["model"].GetString()), "sentiment \"model\"");
  ASSERT_EQ(doc["models"].Size(), 2u);
  const auto& m = doc["models"][0];
  EXPECT_EQ(m["version"].GetInt64(), 1);
  EXPECT_EQ(m["request_count"].GetUint64(), 800u);
  EXPECT_DOUBLE_EQ(m["avg_latency_ms"].GetDouble(), *r.versions[0].avg_latency_ms);
  EXPECT_DOUBLE_EQ(m["avg_confidence"].GetDouble(), *r.versions[0].avg_confidence);
  EXPECT_DOUBLE_EQ(m["error_rate"].GetDouble(), 0.0025);
  EXPECT_TRUE(m["accuracy"].IsNull());
  EXPECT_EQ(doc["best_version"].GetInt64(), 2);
  EXPECT_EQ(std::string(doc["recommendation"].GetString()), r.recommendation);
  EXPECT_EQ(std::string(doc["comparisons"][0]["metric"].GetString()), "mean confidence");
  const std::string table = r.to_string();
  for (const char* s : {"version", "requests", "avg conf", "Recommendation: version 2 shows"}) {
    EXPECT_NE(table.find(s), std::string::npos) << "missing '" << s << "' in\n" << table;
  }
}

TEST(PerformanceReportTest, options_and_degenerate_inputs) {
  std::vector<VariantStats> v = {version(1, "stable", 1.0, 10)};
  EXPECT_EQ(performance_report("m", v).recommendation,
            "only version 1 has statistics; nothing to compare");
  EXPECT_EQ(performance_report("m", std::span<const VariantStats>{}).recommendation,
            "no version has served a request yet");
  PerformanceReportOptions o;
  o.baseline_version = 7;
  EXPECT_THROW(performance_report("m", v, o), NotFound);
  o = {};
  o.confidence = 1.0;
  EXPECT_THROW(performance_report("m", v, o), InvalidArgument);
  o = {};
  o.minimum_detectable_effect = -0.1;
  EXPECT_THROW(performance_report("m", v, o), InvalidArgument);

  // Constant confidences and no errors: not computable, said in words, never a NaN.
  v.push_back(version(2, "canary", 0.0, 10));
  set_confidences(v[0], std::vector<double>(10, 0.8));
  set_confidences(v[1], std::vector<double>(10, 0.6));
  const PerformanceReport r = performance_report("m", v);
  EXPECT_EQ(find(r, 2, PerformanceMetric::kMeanConfidence).status,
            stats::StatStatus::kZeroVariance);
  EXPECT_EQ(find(r, 2, PerformanceMetric::kErrorRate).reason, "no errors in either version");
  EXPECT_NE(r.recommendation.find("cannot be compared"), std::string::npos) << r.recommendation;
  EXPECT_EQ(r.to_json().find("nan"), std::string::npos);
  // An explicit baseline turns the comparison around.
  o = {};
  o.baseline_version = 2;
  EXPECT_EQ(performance_report("m", v, o).comparisons.at(0).version, 1);
}

// A model whose confidence is its first feature, so a test controls the confidences served.
class FeatureConfidenceModel final : public Model {
 public:
  explicit FeatureConfidenceModel(std::int32_t label) : label_(label) {}
  const Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return "test.feature_confidence"; }
  Prediction predict(const ModelInput& input) const override {
    Prediction p;
    p.labels = {label_};
    p.confidence = {input.front().values<double>()[0]};
    return p;
  }

 private:
  Signature signature_;
  std::int32_t label_;
};

TEST(PerformanceReportTest, built_from_a_deployments_statistics) {
  StaticModelSource source;
  source.add("sentiment", 1, std::make_shared<FeatureConfidenceModel>(1));
  source.add("sentiment", 2, std::make_shared<FeatureConfidenceModel>(0));
  Deployment d({.model = "sentiment", .source = &source});
  RoutingPolicy p;
  p.variants = {{"v1", 1, 80}, {"v2", 2, 20}};
  p.weight_style = WeightStyle::kPercent;
  d.router().set_policy(p);
  std::vector<double> seen[3];
  for (int i = 0; i < 600; ++i) {
    const double row[2] = {0.5 + 0.4 * static_cast<double>(i % 7) / 6.0, 0.0};
    auto r = d.predict({.key = "user-" + std::to_string(i), .input = TensorView(row, Shape{1, 2})});
    ASSERT_TRUE(r.ok());
    seen[r->version].push_back(row[0]);
    d.record_outcome(r->version, r->version == 2 || i % 4 != 0);
  }
  const PerformanceReport r = performance_report(d);
  EXPECT_EQ(r.model, "sentiment");
  ASSERT_EQ(r.versions.size(), 2u);
  EXPECT_EQ(r.baseline_version, std::optional<std::int64_t>(1));  // 80% of the traffic
  for (int v = 1; v <= 2; ++v) {
    const VersionPerformance& vp = r.versions[static_cast<std::size_t>(v - 1)];
    EXPECT_EQ(vp.version, v);
    EXPECT_EQ(vp.variant, v == 1 ? "v1" : "v2");
    EXPECT_EQ(vp.request_count, seen[v].size());
    double mean = 0.0;
    for (double c : seen[v]) mean += c / static_cast<double>(seen[v].size());
    EXPECT_NEAR(*vp.avg_confidence, mean, 1e-12);
    EXPECT_EQ(vp.labeled, seen[v].size());
    ASSERT_TRUE(vp.avg_latency_ms.has_value());
    EXPECT_GT(*vp.avg_latency_ms, 0.0);
    EXPECT_GE(*vp.p99_latency_ms, 0.0);
  }
  // Both versions are labelled, so quality is accuracy: v2 is always right, v1 three times in four.
  const VersionComparison& c = find(r, 2, PerformanceMetric::kAccuracy);
  EXPECT_TRUE(c.improvement);
  EXPECT_EQ(r.best_version, std::optional<std::int64_t>(2));
}

}  // namespace performance_report_test
}  // namespace
}  // namespace switchyard
