// SPDX-License-Identifier: Apache-2.0
// CanaryPlan: a staged rollout (canary, blue/green or A/B experiment) as steps, loaded from YAML or JSON.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/rollout/metric_spec.hpp>

namespace switchyard {

/// How a plan moves traffic and who decides.
enum class RolloutStrategy : std::uint8_t {
  kCanary = 0,      ///< weights step up (set_weight, pause, analysis), promoted after the last step
  kBlueGreen = 1,   ///< the candidate takes 100% at once after analysis; instant switch-back
  kExperiment = 2,  ///< an A/B test: fixed shares, the decision comes from ExperimentReport
};

/// "canary" / "blue_green" / "experiment".
SWITCHYARD_API const char* to_string(RolloutStrategy strategy) noexcept;

/// What a guardrail measures, over one evaluation window, per version.
enum class GuardrailMetric : std::uint8_t {
  kErrorRate = 0,        ///< "error_rate": failed requests / requests, a proportion
  kLatencyP99 = 1,       ///< "latency_p99": 99th percentile request latency, milliseconds
  kAccuracy = 2,         ///< "accuracy": correct / labelled predictions, a proportion
  kPredictionDrift = 3,  ///< "prediction_drift": the DriftMonitor's statistic, its own unit
  kCustom = 4,           ///< a metric the host defines (Guardrail::custom_metric), its unit
};

/// "error_rate" / "latency_p99" / "accuracy" / "prediction_drift" / "custom".
SWITCHYARD_API const char* to_string(GuardrailMetric metric) noexcept;

/// Which side of the threshold fails.
enum class GuardrailBound : std::uint8_t {
  kAtMost = 0,              ///< candidate's value > threshold fails (key suffix "_max")
  kAtLeast = 1,             ///< candidate's value < threshold fails (key suffix "_min")
  kIncreaseOverStable = 2,  ///< candidate - stable > threshold fails ("_increase")
  kDropBelowStable = 3,     ///< stable - candidate > threshold fails ("_drop")
};

/// One rule that rolls a candidate back, in the manner of seed 003's `rollback_if`. Written in
/// YAML as `<metric>[_max|_min|_increase|_drop]: <threshold>`; a bare metric name bounds it on its
/// bad side (at most for error_rate, latency_p99, prediction_drift and custom metrics, at least
/// for accuracy). Seed 003's `error_rate_increase: 0.5%` is {kErrorRate, kIncreaseOverStable,
/// 0.005}; `latency_p99_increase: 20ms` is {kLatencyP99, kIncreaseOverStable, 20.0};
/// `accuracy_drop: 1%` is {kAccuracy, kDropBelowStable, 0.01}.
///
/// Units of `threshold`: a proportion for error_rate and accuracy ("0.5%" or 0.005, in [0, 1]);
/// milliseconds for latency_p99 ("20ms", "1.5s"); the statistic's own scale for prediction_drift
/// and custom metrics (a plain number). With `relative`, only for _increase and _drop, it is a
/// proportion of stable's value instead (latency_p99_increase: 50% means p99 up by half).
/// Thread-safe: a value type.
struct Guardrail {
  GuardrailMetric metric = GuardrailMetric::kErrorRate;
  std::string custom_metric{};  ///< kCustom only: the host's metric name (an identifier)
  GuardrailBound bound = GuardrailBound::kAtMost;
  double threshold = 0.0;  ///< in the metric's unit, see above; finite
  bool relative = false;   ///< threshold is a proportion of stable's value (increase/drop only)
  /// Samples each version needs before this rule is judged (in the window; since the step began
  /// for a rule judged sequentially); 0: the plan's or the step's min_samples.
  std::uint64_t min_samples = 0;

  /// The key this guardrail is written under: "error_rate_increase", "accuracy", "queue_depth_max".
  SWITCHYARD_API std::string key() const;

  bool operator==(const Guardrail&) const = default;
};

/// How a pause step's comparative rules (`_increase`, `_drop`) are judged.
enum class RuleJudgement : std::uint8_t {
  /// "sequential" (the default): each rule is judged on the data since the step began with the
  /// CanaryJudge's always-valid test, and fails only when the evidence shows the candidate worse
  /// than stable by more than the rule's threshold, at CanaryPlan::judgement_alpha for the step's
  /// rules together. Looking every interval for hours does not inflate false rollbacks.
  kSequential = 0,
  /// "per_window": each rule compares the candidate's figure with stable's over one evaluation
  /// window (the naive rule seed 003 sketches). Quick, but a good candidate checked every minute
  /// for hours is rolled back often; kept for comparison and for hosts that want it.
  kPerWindow = 1,
};

/// "sequential" / "per_window".
SWITCHYARD_API const char* to_string(RuleJudgement judgement) noexcept;

/// What a step does.
enum class StepKind : std::uint8_t {
  kSetWeight = 0,  ///< send `weight` percent of traffic to the candidate, then go on at once
  kPause = 1,      ///< hold for `duration` (none: until resumed), `guardrails` active meanwhile
  kAnalysis = 2,   ///< judge `guardrails` with `min_samples` each; pass goes on, fail rolls back
};

/// "set_weight" / "pause" / "analysis".
SWITCHYARD_API const char* to_string(StepKind kind) noexcept;

/// One step of a plan, in the manner of Argo Rollouts' canary steps. The fields a kind does not
/// use keep their defaults (validate() says so otherwise). Thread-safe: a value type.
///
/// Seed 003's stage `{traffic_percent: 5, duration: 1h, rollback_if: {...}}` becomes two steps:
/// set_weight(5) and pause(1h) with the stage's rollback_if as the pause's guardrails, so those
/// rules are checked (beside the plan's) on every evaluation while the stage holds its weight.
struct CanaryStep {
  StepKind kind = StepKind::kPause;
  /// kSetWeight: the candidate's share of traffic in percent, [0, 100].
  double weight = 0.0;
  /// kPause: how long to hold (none: until resumed). kAnalysis: the longest the analysis may
  /// take (none: no limit); what the controller does when it ends inconclusive is its policy.
  std::optional<Duration> duration{};
  /// kPause: rules checked while the pause holds. kAnalysis: the metrics judged (at least one).
  std::vector<Guardrail> guardrails{};
  /// kAnalysis: samples each version needs before anything is judged (0: the plan's).
  std::uint64_t min_samples = 0;

  static CanaryStep set_weight(double percent) {
    CanaryStep s;
    s.kind = StepKind::kSetWeight;
    s.weight = percent;
    return s;
  }
  static CanaryStep pause(std::optional<Duration> duration, std::vector<Guardrail> rules = {}) {
    CanaryStep s;
    s.kind = StepKind::kPause;
    s.duration = duration;
    s.guardrails = std::move(rules);
    return s;
  }
  static CanaryStep analysis(std::vector<Guardrail> metrics, std::uint64_t min_samples = 0,
                             std::optional<Duration> duration = std::nullopt) {
    CanaryStep s;
    s.kind = StepKind::kAnalysis;
    s.guardrails = std::move(metrics);
    s.min_samples = min_samples;
    s.duration = duration;
    return s;
  }

  bool operator==(const CanaryStep&) const = default;
};

/// One arm of an experiment plan, as seed 003 writes it: `{model: recommendation-v6, traffic: 50%}`.
/// Thread-safe: a value type.
struct ExperimentPlanArm {
  std::string model;          ///< a model name (or a variant name the host maps to a version)
  std::int64_t version = 0;   ///< 0: not given (the model name alone identifies the arm)
  double traffic = 0.0;       ///< share of traffic, a proportion in (0, 1]

  bool operator==(const ExperimentPlanArm&) const = default;
};

/// The A/B part of an experiment plan (seed 003's `experiment:` section); the controller builds an
/// Experiment from it and takes its ExperimentReport's decision. Thread-safe: a value type.
struct ExperimentPlan {
  ExperimentPlanArm control;
  ExperimentPlanArm treatment;
  MetricSpec primary;                  ///< `primary_metric`
  std::vector<MetricSpec> guardrails;  ///< `guardrail_metrics`
  /// How long the experiment runs at most (none: until decided).
  std::optional<Duration> duration{};
  /// Exposures each arm needs before any decision (`min_sample_size`).
  std::uint64_t min_sample_size = 0;
  AnalysisMode mode = AnalysisMode::kFixedHorizon;

  bool operator==(const ExperimentPlan& o) const {
    return control == o.control && treatment == o.treatment && same_metric(primary, o.primary) &&
           guardrails.size() == o.guardrails.size() &&
           std::equal(guardrails.begin(), guardrails.end(), o.guardrails.begin(), same_metric) &&
           duration == o.duration && min_sample_size == o.min_sample_size && mode == o.mode;
  }

 private:
  // MetricSpec has no operator== of its own.
  static bool same_metric(const MetricSpec& a, const MetricSpec& b) {
    return a.name == b.name && a.kind == b.kind && a.direction == b.direction &&
           a.missing_value == b.missing_value &&
           a.minimum_detectable_effect == b.minimum_detectable_effect;
  }
};

/// Host functions a plan asks the controller to call, by name, in the manner of Flagger's
/// webhooks; the controller maps each name to a function the host registered. Each list is in
/// the order the hooks run. Thread-safe: a value type.
struct RolloutHooks {
  std::vector<std::string> pre_rollout{};        ///< before the first step; false aborts
  std::vector<std::string> confirm_promotion{};  ///< before promoting; false holds
  std::vector<std::string> post_rollout{};       ///< after promotion or rollback
  std::vector<std::string> on_rollback{};        ///< when the candidate is rolled back

  bool operator==(const RolloutHooks&) const = default;
};

/// A rollout plan: which version, which steps, which rules, which hooks. Produced by
/// parse_canary_plan() / load_canary_plan() (which validate() it whole before returning) or built
/// in code and checked with validate(). Thread-safe: a value type.
///
/// Seed 003's canary YAML loads as written:
/// @code
///   deployment:
///     name: fraud-detector
///     canary:
///       model_version: 12
///       stages:
///         - traffic_percent: 5
///           duration: 1h
///           rollback_if: {error_rate_increase: 0.5%, latency_p99_increase: 20ms}
///         - {traffic_percent: 25, duration: 4h, rollback_if: {accuracy_drop: 1%}}
///         - {traffic_percent: 50, duration: 12h}
///         - {traffic_percent: 100, duration: 24h}
/// @endcode
/// giving steps set_weight(5), pause(1h, rules), set_weight(25), pause(4h, rule), set_weight(50),
/// pause(12h), set_weight(100), pause(24h); then promotion. The full grammar, including
/// Argo-style `steps`, Flagger-style `step_weight`/`max_weight`, `blue_green:` and seed 003's
/// `experiment:` section, is on parse_canary_plan().
struct CanaryPlan {
  std::string name;   ///< the deployment's name (seed 003's `deployment.name`)
  std::string model;  ///< the registered model; defaults to `name` when the YAML has no `model`
  /// The version being rolled out (seed 003's `model_version`); 0 only in an experiment plan
  /// whose treatment names no version.
  std::int64_t candidate_version = 0;
  /// The version the candidate is compared with and rolled back to; none: whatever serves in
  /// Production when the rollout starts.
  std::optional<std::int64_t> stable_version{};
  RolloutStrategy strategy = RolloutStrategy::kCanary;
  std::vector<CanaryStep> steps;

  /// How often guardrails are evaluated (Flagger's `interval`). Positive.
  Duration interval = std::chrono::minutes(1);
  /// Failed evaluations tolerated in the whole rollout; one more rolls back (Argo's
  /// failureLimit, Flagger's threshold). 0: the first failure rolls back.
  std::uint32_t failure_limit = 0;
  /// Failed evaluations in a row tolerated; one more rolls back. None: only failure_limit counts.
  std::optional<std::uint32_t> consecutive_failure_limit{};
  /// Samples each version needs in a window before any guardrail is judged.
  std::uint64_t min_samples = 0;
  /// Rules checked on every evaluation of every step (beside a step's own).
  std::vector<Guardrail> guardrails{};
  /// How pause steps judge their comparative rules and the plan's (`judgement:`). Absolute rules
  /// (`_max`, `_min`, bare names) and prediction_drift are per-window checks either way; analysis
  /// steps always use the CanaryJudge. Default: sequential.
  RuleJudgement judgement = RuleJudgement::kSequential;
  /// Sequential judgement: the chance that a candidate within every threshold is ever rolled back
  /// by a pause step's comparative rules, over all its looks (`judgement_alpha: 1%`), split
  /// equally among those rules (Bonferroni). In (0, 0.5]. Default 0.01.
  double judgement_alpha = 0.01;
  RolloutHooks hooks{};
  /// Promote after the last step without a manual promote (confirm_promotion hooks still run).
  /// Default: true for canary and blue/green (as Argo and Flagger), false for experiments.
  bool auto_promote = true;
  /// How long the previous version stays loaded after the switch, so that switching back is
  /// instant (Argo's scaleDownDelay). None: until the next rollout.
  std::optional<Duration> keep_previous_for{};
  /// kExperiment only: the A/B test whose decision promotes or rolls back.
  std::optional<ExperimentPlan> experiment{};

  /// Throws InvalidArgument naming the field ("steps[3].weight: ...") unless the plan is whole:
  /// a name and model that are valid identifiers, a positive candidate version (canary and
  /// blue/green), 1 to kMaxCanarySteps steps, set_weight weights in [0, 100] and strictly rising,
  /// durations positive and at most 3650 days, guardrail thresholds finite and in their unit's
  /// range, judgement_alpha in (0, 0.5], no guardrail key twice in one list, analysis steps with at least one metric,
  /// blue/green with exactly one set_weight and that to 100, an experiment section exactly when
  /// the strategy is kExperiment (shares in (0, 1] summing to 1, distinct arms), valid hook names.
  SWITCHYARD_API void validate() const;

  bool operator==(const CanaryPlan&) const = default;
};

/// Most steps a plan may have (a plan, not a data set).
inline constexpr std::size_t kMaxCanarySteps = 256;

/// Seed 003's staged canary (5 % for 1 h, 25 % for 4 h, 50 % for 12 h, 100 % for 24 h, with its
/// `rollback_if` rules), exactly as that document writes it: a starting point to copy and tune
/// with the `RolloutSimulator`, and the plan the examples and benchmarks run. Its
/// `model_version` is a placeholder the host overrides (`CanaryController` options).
inline constexpr std::string_view kSeed003CanaryPlanYaml = R"(# Canary rollout stages
deployment:
  name: fraud-detector
  canary:
    model_version: 12
    stages:
      - traffic_percent: 5
        duration: 1h
        rollback_if:
          error_rate_increase: 0.5%
          latency_p99_increase: 20ms
      - traffic_percent: 25
        duration: 4h
        rollback_if:
          accuracy_drop: 1%
      - traffic_percent: 50
        duration: 12h
      - traffic_percent: 100
        duration: 24h
        # Full rollout after 24h observation
)";

/// Seed 003's A/B test configuration, exactly as that document writes it: the arms name
/// `recommendation-v6` and `recommendation-v7`, which a CanaryController resolves as aliases of
/// the deployment's model (or give each arm a `version`).
inline constexpr std::string_view kSeed003ExperimentPlanYaml = R"(# A/B test configuration
experiment:
  name: recommendation-model-v7
  control:
    model: recommendation-v6
    traffic: 50%
  treatment:
    model: recommendation-v7
    traffic: 50%
  primary_metric: conversion_rate
  guardrail_metrics: [latency_p99, error_rate]
  duration: 14d
  min_sample_size: 10000
)";

/// What the parser accepts beyond the built-in names.
struct CanaryPlanParseOptions {
  /// Metric names the host defines (custom guardrails, experiment metrics). Any other name that
  /// is not built in is refused as an unknown metric.
  std::vector<std::string> custom_metrics{};
};

/// Parses a plan from YAML or JSON (JSON is read as YAML's flow subset).
/// @code
///   deployment:                       # seed 003's form
///     name: fraud-detector            # identifier
///     model: fraud-detection          # optional; default: name
///     canary:                         # or blue_green (below)
///       model_version: 12
///       stable_version: 11            # optional
///       # exactly one of:
///       stages: [{traffic_percent: 5, duration: 1h, rollback_if: {error_rate_increase: 0.5%}}]
///       steps:                        # Argo-style
///         - set_weight: 5             # percent: 5 or 5%
///         - pause: 1h                 # or {duration: 1h, rollback_if: {...}}; {} or empty: until resumed
///         - analysis: {metrics: {latency_p99_increase: 20ms}, min_samples: 500, duration: 30m}
///       step_weight: 10               # Flagger-style, with max_weight (default 100): see
///       max_weight: 50                #   generate_weight_steps(), each weight held `interval`
///       step_weights: [1, 2, 10, 80]  # Flagger-style list, each held `interval`
///       # settings, all optional (also under blue_green, experiment and rollout):
///       interval: 1m
///       failure_limit: 0
///       consecutive_failure_limit: 2
///       min_samples: 100
///       rollback_if: {error_rate: 1%, latency_p99: 250ms}     # checked on every evaluation
///       judgement: sequential         # or per_window (pause steps' comparative rules)
///       judgement_alpha: 1%           # sequential: family-wise per step, split among its rules
///       hooks: {pre_rollout: smoke, confirm_promotion: [sign-off], post_rollout: x, on_rollback: y}
///       auto_promote: true
///       keep_previous_for: 30m
///     blue_green:                     # instead of canary: [analysis], set_weight(100), [analysis]
///       model_version: 12
///       pre_promotion_analysis: {metrics: {error_rate: 1%}, min_samples: 1000}
///       post_promotion_analysis: {metrics: {error_rate_increase: 0.2%}, duration: 15m}
///   experiment:                       # seed 003's A/B form: set_weight(treatment), pause(duration)
///     name: recommendation-model-v7
///     control: {model: recommendation-v6, traffic: 50%}    # version: optional
///     treatment: {model: recommendation-v7, traffic: 50%}  # shares add up to 100%
///     primary_metric: conversion_rate # or {name, kind, direction, minimum_detectable_effect,
///     guardrail_metrics: [latency_p99, error_rate]       #     missing_value}
///     duration: 14d
///     min_sample_size: 10000
///     mode: fixed_horizon             # or sequential
///   rollout: {name, model, strategy, model_version, stable_version, steps, settings...,
///             experiment: {control, treatment, ...}}      # the canonical form plan_to_json writes
/// @endcode
/// Guardrail keys and units are on Guardrail; experiment metric names built in are
/// conversion_rate, error_rate (lower is better), accuracy, latency and latency_p99 (kLatency:
/// the experiment compares means), brier_score, log_loss; a host-declared name is continuous.
/// The root is one of
/// `deployment:` (seed 003's canary form, or `blue_green:`), `experiment:` (seed 003's A/B form)
/// or `rollout:` (the canonical form plan_to_json() writes). Throws InvalidArgument naming the
/// field path and, where known, the line and column ("deployment.canary.stages[1].rollback_if.
/// accuracy_drop: must be a percentage such as 1% or a proportion such as 0.01, got '1 %' (line 9,
/// column 26)") for: malformed YAML, more than one document, unknown or repeated keys anywhere,
/// missing required fields, wrong types, weights outside 0-100, set_weight steps that do not rise,
/// unknown metrics, negative, zero or malformed durations and thresholds, more than
/// kMaxCanarySteps steps, and anything CanaryPlan::validate() refuses. Never throws a YAML library
/// exception; pure (no I/O).
SWITCHYARD_API CanaryPlan parse_canary_plan(std::string_view text,
                                            const CanaryPlanParseOptions& options = {});

/// Reads `path` and parses it as parse_canary_plan() does (messages start with the path). Throws
/// NotFound when the file does not exist, StorageError when it cannot be read, InvalidArgument
/// when it is over 1 MiB, else what parse_canary_plan() throws.
SWITCHYARD_API CanaryPlan load_canary_plan(const std::filesystem::path& path,
                                           const CanaryPlanParseOptions& options = {});

/// The plan as canonical JSON under a `rollout:` root: every field, steps explicit, numbers in
/// shortest round-trip form, so parse_canary_plan(plan_to_json(p)) == p for every valid plan
/// (with the same custom metric names). Throws what validate() throws for an invalid plan.
SWITCHYARD_API std::string plan_to_json(const CanaryPlan& plan);

/// Flagger's step generation: set_weight(step_weight), pause(interval), set_weight(2 *
/// step_weight), pause(interval), ... up to and including max_weight (the last step is capped at
/// max_weight). Throws InvalidArgument unless 0 < step_weight <= max_weight <= 100 and the
/// interval is positive, or when it would make more than kMaxCanarySteps steps.
SWITCHYARD_API std::vector<CanaryStep> generate_weight_steps(double step_weight, double max_weight,
                                                             Duration interval);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/canary_plan-inl.hpp>
#endif
