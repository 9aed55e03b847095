// SPDX-License-Identifier: Apache-2.0
// CanaryJudge: Kayenta-style canary scoring, judged sequentially so that looking often is safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <utility>
#include <vector>

namespace switchyard {

/// How a canary metric's data arrive, and so which test judges it.
enum class JudgeMetricKind : std::uint8_t {
  /// Raw observations per side (latency in ms, a per-request score). Judged with the Mann-Whitney
  /// rank test of candidate against stable scaled by the tolerance; effect and interval are the
  /// Hodges-Lehmann ratio (relative tolerance) or shift (absolute tolerance).
  kSamples,
  /// Successes out of trials per side (errors out of requests). Judged with a two-proportion
  /// contrast; effect and interval are the rate ratio (Fieller) or the rate difference.
  kProportion,
  /// Count, mean and variance per side (a host metric that only exports moments). Judged like a
  /// proportion, from the moments.
  kMean,
};

/// Which way a metric moving is bad for the candidate (Kayenta's `direction`).
enum class BadDirection : std::uint8_t {
  kIncrease,  ///< latency, error rate: the candidate fails when it is higher
  kDecrease,  ///< accuracy, throughput: the candidate fails when it is lower
  kEither,    ///< any change beyond the tolerance fails (each side tested at alpha / 2)
};

/// The scale of a metric's effect tolerance.
enum class ToleranceScale : std::uint8_t {
  /// A fraction of stable's level: 0.1 allows the candidate to be 10 % worse (candidate <= 1.1 x
  /// stable for kIncrease, >= 0.9 x stable for kDecrease). Samples must be positive.
  kRelative,
  /// In the metric's unit: 0.002 allows an error rate 0.2 points higher, 5 a latency 5 ms higher.
  kAbsolute,
};

/// One metric's outcome in a judgement (Kayenta's classification labels, plus the sequential
/// "not yet").
enum class MetricClassification : std::uint8_t {
  kPass,          ///< judged, and not shown worse than the tolerance (see PassRule)
  kHigh,          ///< shown higher than stable by more than the tolerance (a failure)
  kLow,           ///< shown lower than stable by more than the tolerance (a failure)
  kNoData,        ///< a side has no observations at all
  kInconclusive,  ///< below the minimum sample count, or (PassRule::kWithinTolerance) undecided
};

/// The judgement of a canary look.
enum class JudgeVerdict : std::uint8_t {
  kPass,          ///< score >= pass_score and every metric decided
  kMarginal,      ///< marginal_score <= score < pass_score, every metric decided
  kFail,          ///< a critical metric failed, or the score is below marginal_score (or must end
                  ///< there whatever the undecided metrics do)
  kInconclusive,  ///< some metric is not decided yet, or none has data: hold the step and look
                  ///< again
};

/// When a judged metric that did not fail counts as passing.
enum class PassRule : std::uint8_t {
  /// Kayenta's rule: once the minimum sample count is reached, a metric that is not shown worse
  /// than the tolerance passes. Only failures are statistical decisions.
  kNotRejected,
  /// Stricter: a metric passes only when its always-valid bound shows the candidate within the
  /// tolerance; until then it is inconclusive and holds the step.
  kWithinTolerance,
};

/// The names, e.g. "samples", "increase", "relative", "high", "inconclusive", "within_tolerance".
SWITCHYARD_API std::string_view to_string(JudgeMetricKind k) noexcept;
SWITCHYARD_API std::string_view to_string(BadDirection d) noexcept;
SWITCHYARD_API std::string_view to_string(ToleranceScale s) noexcept;
SWITCHYARD_API std::string_view to_string(MetricClassification c) noexcept;
SWITCHYARD_API std::string_view to_string(JudgeVerdict v) noexcept;
SWITCHYARD_API std::string_view to_string(PassRule r) noexcept;

/// One metric the judge compares between the candidate and the stable version.
/// Thread-safe: a value type.
struct JudgeMetric {
  std::string name;  ///< unique within the config; names the metric in results and errors
  JudgeMetricKind kind = JudgeMetricKind::kSamples;
  BadDirection bad_direction = BadDirection::kIncrease;
  /// The effect the candidate may show in the bad direction before it fails (Kayenta's allowed
  /// effect size), >= 0, on `tolerance_scale`. Default 0.1 (10 % worse).
  double tolerance = 0.1;
  ToleranceScale tolerance_scale = ToleranceScale::kRelative;
  /// The metric group whose share of passing metrics makes up part of the score. Default "default".
  std::string group = "default";
  /// A critical metric that fails fails the whole judgement, whatever the score (Kayenta). Default
  /// false.
  bool critical = false;
  /// Observations needed on EACH side before the metric is judged (samples, trials, or moment
  /// count); until then it is inconclusive. >= 1. Default 100.
  std::uint64_t min_samples = 100;
  /// When false, a metric with no data on a side is left out of the score (Kayenta's NaN strategy
  /// "remove"); when true it holds the judgement like an inconclusive one. Default true.
  bool must_have_data = true;
};

/// A group's share of the score, in percent (Kayenta's group weights). Groups without a weight
/// share the rest of 100 equally.
/// Thread-safe: a value type.
struct GroupWeight {
  std::string group;
  double weight = 0.0;
};

/// The judge's configuration. Thread-safe: a value type.
///
/// Sequential method: every metric's test is an always-valid (anytime) test, GrowthBook's normal
/// mixture confidence sequence (stats/sequential_test.hpp) applied to the metric's standardised
/// statistic. Its false-failure bound holds however many times evaluate() is called on
/// cumulative data, with no planned number of looks; a controller that looks every few seconds,
/// or after every request, cannot know that number in advance, which rules out alpha spending.
struct JudgeConfig {
  std::vector<JudgeMetric> metrics;
  /// Group weights in percent, summing to at most 100. Groups not listed share what is left.
  std::vector<GroupWeight> group_weights;
  /// Score (0-100) at or above which the judgement passes. Kayenta's default 95.
  double pass_score = 95.0;
  /// Score at or above which a judgement that does not pass is marginal. Kayenta's default 75.
  double marginal_score = 75.0;
  /// Per metric: the probability that a candidate within the tolerance is ever classified high or
  /// low over all looks of one sequence (bounded asymptotically). In (0, 1). Default 0.05.
  double alpha = 0.05;
  /// The always-valid bound's tuning parameter: the total observations (both sides) at which it is
  /// tightest (GrowthBook's default 5000). > 0. Set it near the total a step expects: far below
  /// it the bound is wide (at 30 observations and 5000, a rejection needs z > 11.7), far above it
  /// somewhat wider than a fixed-horizon test's.
  double tuning_parameter = 5000.0;
  PassRule pass_rule = PassRule::kNotRejected;
  /// kSamples metrics: compute the Hodges-Lehmann estimate and always-valid interval (three root
  /// searches over the pooled samples, each a dozen or more merges). When false, effect is the
  /// mean ratio (Kayenta's "deviation") and the interval is left unbounded; the classification is
  /// the same, because it never needs the interval: "the lower bound lies beyond the tolerance"
  /// is decided by one rank statistic at the tolerance boundary. canary_judge_bench measured, for
  /// five metrics with 1,000 sorted latencies per side, about 15 us per evaluate() without the
  /// interval and about 150 us with it. Default true.
  bool sample_intervals = true;
  /// kProportion metrics: in the test at each tolerance boundary, the candidate's variance is the
  /// one of a rate on that boundary (stable's rate moved by the tolerance), a score-type statistic
  /// as in Farrington and Manning's non-inferiority test, instead of the candidate's observed rate
  /// (Wald). It is the variance the hypothesis implies, so the bound's false-failure rate holds at
  /// the boundary, and it is smaller when the candidate's rate is well above the boundary: an
  /// error rate of 1 % against stable's 0.1 % and a 0.5-point tolerance is shown beyond it with
  /// about half the data. Intervals and effects stay Wald. Default false (the CanaryController
  /// sets it for sequentially judged pause steps).
  bool proportion_boundary_variance = false;

  /// Throws InvalidArgument naming the field and metric (e.g. "JudgeConfig.metrics[2] 'latency':
  /// tolerance must be finite and >= 0, got -1") for: no metrics, an empty or repeated name, a
  /// NaN/negative/infinite tolerance, min_samples 0, a negative or non-finite weight, a weight for
  /// a group no metric uses, weights summing above 100, scores outside [0, 100] or marginal above
  /// pass, alpha outside (0, 1), a non-positive tuning parameter.
  SWITCHYARD_API void validate() const;
};

/// Successes out of trials on one side (errors out of requests).
/// Thread-safe: a value type.
struct JudgeCounts {
  std::uint64_t successes = 0;
  std::uint64_t trials = 0;
};

/// One metric's data over the same period for both sides, cumulative since the sequence began
/// (CanaryJudge::reset()). Fill the members of the metric's kind; the others are ignored.
/// The spans are read during evaluate() only; they are never stored.
/// Thread-safe: a value type (the spans point at the caller's data).
struct MetricObservation {
  std::span<const double> stable_samples;     ///< kSamples
  std::span<const double> candidate_samples;  ///< kSamples
  /// kSamples: both spans are already sorted ascending and hold no NaN (skips the copy, the sort
  /// and the scan for NaN, the bulk of an evaluation's cost; infinite values are still caught at
  /// the ends). Unsorted data with this flag give wrong results.
  bool samples_sorted = false;
  JudgeCounts stable_counts;               ///< kProportion
  JudgeCounts candidate_counts;            ///< kProportion
  stats::SampleSummary stable_moments;     ///< kMean
  stats::SampleSummary candidate_moments;  ///< kMean

  static MetricObservation samples(std::span<const double> stable,
                                   std::span<const double> candidate, bool sorted = false) {
    MetricObservation o;
    o.stable_samples = stable;
    o.candidate_samples = candidate;
    o.samples_sorted = sorted;
    return o;
  }
  static MetricObservation proportion(JudgeCounts stable, JudgeCounts candidate) {
    MetricObservation o;
    o.stable_counts = stable;
    o.candidate_counts = candidate;
    return o;
  }
  static MetricObservation moments(const stats::SampleSummary& stable,
                                   const stats::SampleSummary& candidate) {
    MetricObservation o;
    o.stable_moments = stable;
    o.candidate_moments = candidate;
    return o;
  }
};

/// What evaluate() judges: one observation per configured metric, in JudgeConfig::metrics order.
/// Thread-safe: a value type (the span points at the caller's data).
struct JudgeInput {
  std::span<const MetricObservation> metrics;
};

/// One metric's outcome. Effects speak of the candidate against stable on the metric's tolerance
/// scale: relative = candidate / stable - 1 (a ratio's excess), absolute = candidate - stable.
/// Thread-safe: a value type.
struct MetricResult {
  std::string name;
  std::string group;
  MetricClassification classification = MetricClassification::kInconclusive;
  bool critical = false;
  /// The always-valid one-sided p-value of "the candidate is no worse than stable by more than the
  /// tolerance" (the smaller of the two sides for kEither, doubled). 1 when not judged.
  double p_value = 1.0;
  /// Point estimate on the tolerance scale: Hodges-Lehmann (kSamples, or the mean ratio when
  /// sample_intervals is off), ratio or difference of rates/means (kProportion, kMean).
  double effect = 0.0;
  /// The always-valid two-sided interval for `effect` at 1 - alpha; unbounded sides when the data
  /// cannot bound it (e.g. a stable rate indistinguishable from 0 on the relative scale).
  stats::Interval interval;
  std::uint64_t stable_count = 0;     ///< samples, trials or moment count of the stable side
  std::uint64_t candidate_count = 0;  ///< same for the candidate
  /// Empty for a pass; otherwise why (e.g. "latency: candidate 1.31x stable [1.22x, 1.40x],
  /// tolerance 1.10x, p = 2.1e-05").
  std::string reason;
};

/// A group's score: the share of its judged metrics that passed, in percent (100 when none was
/// judged, as Kayenta counts a group without data).
/// Thread-safe: a value type.
struct GroupScore {
  std::string group;
  double weight = 0.0;  ///< effective weight in percent
  double score = 100.0;
  std::uint32_t passed = 0;
  std::uint32_t failed = 0;   ///< high or low
  std::uint32_t pending = 0;  ///< inconclusive, or no data on a must-have-data metric
};

/// The outcome of one look. Thread-safe: a value type.
struct Judgement {
  JudgeVerdict verdict = JudgeVerdict::kInconclusive;
  /// Weighted sum of group scores, 0-100, rounded to 2 decimals as Kayenta does; pending metrics
  /// are left out of their group's share; 0 when a critical metric failed.
  double score = 0.0;
  std::uint64_t look = 0;             ///< 1 for the first evaluate() since construction or reset()
  std::vector<MetricResult> metrics;  ///< in JudgeConfig::metrics order
  std::vector<GroupScore> groups;     ///< in order of first appearance among the metrics
  /// One line: the verdict, the score, and the failing or pending metrics.
  std::string summary;

  bool failed() const noexcept { return verdict == JudgeVerdict::kFail; }
  /// Hold the step: look again later.
  bool holding() const noexcept { return verdict == JudgeVerdict::kInconclusive; }
};

/// A canary judge in the manner of Spinnaker Kayenta's NetflixACAJudge, judged sequentially.
///
/// Per metric, the hypothesis tested is H0 "the candidate is no worse than stable by more than
/// the tolerance": for kIncrease and a relative tolerance t, candidate <= (1 + t) x stable (in
/// distribution for samples, in mean for rates and means); for an absolute tolerance,
/// candidate <= stable + t; mirrored for kDecrease; both for kEither. The metric is classified
/// high (low) only when an always-valid test rejects H0, so the chance that a candidate within
/// its tolerance is ever failed on a metric stays <= alpha however often evaluate() is called,
/// provided the data are cumulative (the same growing sample, not a sliding window). A metric is
/// inconclusive below min_samples per side. The score is Kayenta's: per group, passed / judged
/// metrics in percent; summed with the group weights; a failed critical metric fails the whole
/// judgement with score 0.
///
/// A decided failure is kept: once a metric is high or low it stays so until reset() (stopping on
/// a confidence sequence's rejection is valid at any time).
///
/// @code
///   switchyard::JudgeConfig config;
///   config.metrics = {{.name = "latency_ms", .kind = switchyard::JudgeMetricKind::kSamples,
///                      .tolerance = 0.10, .group = "latency", .min_samples = 200},
///                     {.name = "error_rate", .kind = switchyard::JudgeMetricKind::kProportion,
///                      .tolerance = 0.005, .tolerance_scale =
///                      switchyard::ToleranceScale::kAbsolute, .group = "errors", .critical = true,
///                      .min_samples = 500}};
///   config.group_weights = {{"latency", 50}, {"errors", 50}};
///   switchyard::CanaryJudge judge(config);
///   const switchyard::MetricObservation obs[] = {
///       switchyard::MetricObservation::samples(stable_ms, canary_ms),
///       switchyard::MetricObservation::proportion({stable_errors, stable_requests},
///                                                 {canary_errors, canary_requests})};
///   const switchyard::Judgement j = judge.evaluate({obs});
///   if (j.failed()) rollback(j.summary);
/// @endcode
///
/// Thread-safe: no; evaluate() and reset() change the sequence's state. One judge per rollout step
/// (or per rollout), driven by one controller thread. Neither copyable nor movable.
class CanaryJudge {
 public:
  /// Validates `config` (JudgeConfig::validate()); throws InvalidArgument.
  SWITCHYARD_API explicit CanaryJudge(JudgeConfig config);
  CanaryJudge(const CanaryJudge&) = delete;
  CanaryJudge& operator=(const CanaryJudge&) = delete;
  SWITCHYARD_API ~CanaryJudge();

  /// Judges one look. Throws InvalidArgument when input.metrics.size() differs from the config's
  /// metric count, when counts are impossible (successes > trials), or when a side's count went
  /// down since the previous look (the data must be cumulative; reset() starts a new sequence).
  /// Data problems (NaN samples, non-positive samples under a relative tolerance) make that
  /// metric inconclusive with a reason, never an exception.
  SWITCHYARD_API Judgement evaluate(const JudgeInput& input);

  /// As evaluate(input), reusing `out`'s storage (no allocation once warmed up, except reasons).
  SWITCHYARD_API void evaluate(const JudgeInput& input, Judgement& out);

  /// Starts a new sequence (a new step's data): forgets looks, decided failures and counts.
  SWITCHYARD_API void reset() noexcept;

  /// Looks since construction or reset().
  std::uint64_t looks() const noexcept { return looks_; }
  const JudgeConfig& config() const noexcept { return config_; }

 private:
  struct MetricState {
    std::uint64_t stable_count = 0;
    std::uint64_t candidate_count = 0;
    MetricClassification latched = MetricClassification::kInconclusive;  // kHigh/kLow once failed
  };

  JudgeConfig config_;
  std::vector<double> group_weight_;     // effective weight per group index
  std::vector<std::uint32_t> group_of_;  // group index per metric
  std::vector<std::string> group_names_;
  std::vector<MetricState> state_;
  std::vector<double> scratch_stable_, scratch_candidate_;
  std::uint64_t looks_ = 0;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/canary_judge-inl.hpp>
#endif
