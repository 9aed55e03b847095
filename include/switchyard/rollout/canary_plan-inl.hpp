// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of CanaryPlan: validation, the YAML/JSON reader on yaml-cpp, the JSON writer.
#pragma once

#include <switchyard/rollout/canary_plan.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/core/units.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/detail/yaml_reader.hpp>

namespace switchyard {

namespace detail::canary_plan {

/// The longest duration accepted, so that now + duration never overflows the clock's int64 ns.
inline constexpr std::int64_t kMaxDurationDays = 3650;
inline constexpr Duration kMaxDuration = std::chrono::hours(24 * kMaxDurationDays);
/// The largest file load_canary_plan reads (a plan, not a data set).
inline constexpr std::size_t kMaxFileBytes = std::size_t{1} << 20;
/// Hook names per kind.
inline constexpr std::size_t kMaxHooks = 16;
/// Identifiers: deployment, model, hook and custom metric names.
inline constexpr std::size_t kMaxNameLength = 128;

inline constexpr std::array<std::pair<std::string_view, GuardrailMetric>, 4> kMetrics{{
    {"error_rate", GuardrailMetric::kErrorRate},
    {"latency_p99", GuardrailMetric::kLatencyP99},
    {"accuracy", GuardrailMetric::kAccuracy},
    {"prediction_drift", GuardrailMetric::kPredictionDrift},
}};

inline constexpr std::array<std::pair<std::string_view, GuardrailBound>, 4> kSuffixes{{
    {"_max", GuardrailBound::kAtMost},
    {"_min", GuardrailBound::kAtLeast},
    {"_increase", GuardrailBound::kIncreaseOverStable},
    {"_drop", GuardrailBound::kDropBelowStable},
}};

/// The bound a bare metric name means: its bad side.
inline GuardrailBound natural_bound(GuardrailMetric m) noexcept {
  return m == GuardrailMetric::kAccuracy ? GuardrailBound::kAtLeast : GuardrailBound::kAtMost;
}
inline bool is_rate(GuardrailMetric m) noexcept {
  return m == GuardrailMetric::kErrorRate || m == GuardrailMetric::kAccuracy;
}
inline bool is_relative_bound(GuardrailBound b) noexcept {
  return b == GuardrailBound::kIncreaseOverStable || b == GuardrailBound::kDropBelowStable;
}
inline bool is_builtin_metric(std::string_view name) noexcept {
  for (const auto& [text, m] : kMetrics) {
    if (text == name) return true;
  }
  return false;
}

/// Throws InvalidArgument "<path>: <message>".
[[noreturn]] inline void refuse(const std::string& path, const std::string& what) {
  throw InvalidArgument(path + ": " + what);
}

/// Letters, digits, '-', '_', '.', starting with a letter or digit, at most kMaxNameLength.
inline void check_name(const std::string& path, std::string_view what, std::string_view name) {
  try {
    check_identifier(what, name, kMaxNameLength);
  } catch (const InvalidArgument& e) {
    refuse(path, e.what());
  }
}

inline void check_duration(const std::string& path, Duration d) {
  if (d.count() <= 0) refuse(path, "must be positive, got " + format_duration(d));
  if (d > kMaxDuration) {
    refuse(path, "must be at most " + std::to_string(kMaxDurationDays) + "d, got " +
                     format_duration(d));
  }
}

inline void check_guardrail(const std::string& path, const Guardrail& g) {
  const auto metric_index = static_cast<unsigned>(g.metric);
  const auto bound_index = static_cast<unsigned>(g.bound);
  if (metric_index > static_cast<unsigned>(GuardrailMetric::kCustom)) {
    refuse(path, "metric outside its enumeration");
  }
  if (bound_index > static_cast<unsigned>(GuardrailBound::kDropBelowStable)) {
    refuse(path, "bound outside its enumeration");
  }
  if (g.metric == GuardrailMetric::kCustom) {
    check_name(path, "custom metric name", g.custom_metric);
    if (is_builtin_metric(g.custom_metric)) {
      refuse(path, "custom metric " + yaml::in_quotes(g.custom_metric) + " is a built-in name");
    }
  } else if (!g.custom_metric.empty()) {
    refuse(path, "custom_metric is set on the built-in metric " +
                     std::string(to_string(g.metric)));
  }
  if (!std::isfinite(g.threshold)) refuse(path, "threshold must be a finite number");
  if (g.relative && !is_relative_bound(g.bound)) {
    refuse(path, "a relative threshold needs an _increase or _drop bound");
  }
  const bool against_stable = is_relative_bound(g.bound);
  if ((against_stable || g.metric != GuardrailMetric::kCustom) && g.threshold < 0.0) {
    refuse(path, "threshold must not be negative, got " + json_number(g.threshold));
  }
  if (is_rate(g.metric) && !g.relative && g.threshold > 1.0) {
    refuse(path, "threshold must be a proportion in [0, 1] (0% to 100%), got " +
                     json_number(g.threshold));
  }
}

inline void check_guardrails(const std::string& path, const std::vector<Guardrail>& rules) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const std::string at = path + "." + rules[i].key();
    check_guardrail(at, rules[i]);
    for (std::size_t j = 0; j < i; ++j) {
      if (rules[j].key() == rules[i].key()) refuse(at, "guardrail appears twice");
    }
  }
}

inline void check_hooks(const std::string& path, std::string_view kind,
                        const std::vector<std::string>& names) {
  const std::string at = path + "." + std::string(kind);
  if (names.size() > kMaxHooks) {
    refuse(at, "at most " + std::to_string(kMaxHooks) + " hooks, got " +
                   std::to_string(names.size()));
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    check_name(at + "[" + std::to_string(i) + "]", "hook name", names[i]);
  }
}

inline void check_metric_spec(const std::string& path, const MetricSpec& m) {
  check_name(path + ".name", "metric name", m.name);
  if (static_cast<unsigned>(m.kind) > static_cast<unsigned>(MetricKind::kLogLoss)) {
    refuse(path + ".kind", "outside its enumeration");
  }
  if (static_cast<unsigned>(m.direction) > static_cast<unsigned>(MetricDirection::kLowerIsBetter)) {
    refuse(path + ".direction", "outside its enumeration");
  }
  if (!(std::isfinite(m.minimum_detectable_effect) && m.minimum_detectable_effect > 0.0)) {
    refuse(path + ".minimum_detectable_effect",
           "must be positive, got " + json_number(m.minimum_detectable_effect));
  }
  if (m.missing_value) {
    if (m.kind != MetricKind::kContinuous) {
      refuse(path + ".missing_value", "only a continuous metric has one");
    }
    if (!std::isfinite(*m.missing_value)) refuse(path + ".missing_value", "must be finite");
  }
}

inline void check_arm(const std::string& path, const ExperimentPlanArm& arm) {
  check_name(path + ".model", "model name", arm.model);
  if (arm.version < 0) refuse(path + ".version", "must be positive (or 0: not given)");
  if (!(arm.traffic > 0.0 && arm.traffic <= 1.0)) {
    refuse(path + ".traffic", "must be above 0% and at most 100%, got " + json_number(arm.traffic));
  }
}

inline void check_experiment(const CanaryPlan& plan) {
  const ExperimentPlan& e = *plan.experiment;
  check_arm("experiment.control", e.control);
  check_arm("experiment.treatment", e.treatment);
  if (e.control.model == e.treatment.model && e.control.version == e.treatment.version) {
    refuse("experiment.treatment", "is the same model and version as the control");
  }
  if (std::abs(e.control.traffic + e.treatment.traffic - 1.0) > 1e-9) {
    refuse("experiment", "control and treatment traffic must add up to 100%, got " +
                             json_number(e.control.traffic * 100.0 + e.treatment.traffic * 100.0) +
                             "%");
  }
  check_metric_spec("experiment.primary_metric", e.primary);
  if (e.guardrails.size() > 30) refuse("experiment.guardrail_metrics", "at most 30 metrics");
  for (std::size_t i = 0; i < e.guardrails.size(); ++i) {
    const std::string at = "experiment.guardrail_metrics[" + std::to_string(i) + "]";
    check_metric_spec(at, e.guardrails[i]);
    if (e.guardrails[i].name == e.primary.name) refuse(at, "repeats the primary metric");
    for (std::size_t j = 0; j < i; ++j) {
      if (e.guardrails[j].name == e.guardrails[i].name) refuse(at, "metric appears twice");
    }
  }
  if (e.duration) check_duration("experiment.duration", *e.duration);
  if (static_cast<unsigned>(e.mode) > static_cast<unsigned>(AnalysisMode::kSequential)) {
    refuse("experiment.mode", "outside its enumeration");
  }
  if (plan.candidate_version != e.treatment.version) {
    refuse("model_version", "must be the treatment's version " +
                                std::to_string(e.treatment.version) + ", got " +
                                std::to_string(plan.candidate_version));
  }
  const std::optional<std::int64_t> control =
      e.control.version > 0 ? std::optional<std::int64_t>(e.control.version) : std::nullopt;
  if (plan.stable_version != control) {
    refuse("stable_version", "must be the control's version (or absent when it names none)");
  }
}

inline void check_step(const std::string& path, const CanaryStep& s) {
  switch (s.kind) {
    case StepKind::kSetWeight:
      if (!(s.weight >= 0.0 && s.weight <= 100.0)) {
        refuse(path + ".set_weight", "must be between 0 and 100 (percent), got " +
                                         json_number(s.weight));
      }
      if (s.duration || !s.guardrails.empty() || s.min_samples != 0) {
        refuse(path, "a set_weight step has only a weight");
      }
      return;
    case StepKind::kPause:
      if (s.weight != 0.0 || s.min_samples != 0) {
        refuse(path, "a pause step has only a duration and guardrails");
      }
      if (s.duration) check_duration(path + ".pause.duration", *s.duration);
      check_guardrails(path + ".pause.rollback_if", s.guardrails);
      return;
    case StepKind::kAnalysis:
      if (s.weight != 0.0) refuse(path, "an analysis step has no weight");
      if (s.duration) check_duration(path + ".analysis.duration", *s.duration);
      if (s.guardrails.empty()) refuse(path + ".analysis.metrics", "must name at least one metric");
      check_guardrails(path + ".analysis.metrics", s.guardrails);
      return;
  }
  refuse(path, "step kind outside its enumeration");
}

}  // namespace detail::canary_plan

SWITCHYARD_INLINE const char* to_string(RuleJudgement judgement) noexcept {
  switch (judgement) {
    case RuleJudgement::kSequential:
      return "sequential";
    case RuleJudgement::kPerWindow:
      return "per_window";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(RolloutStrategy strategy) noexcept {
  switch (strategy) {
    case RolloutStrategy::kCanary:
      return "canary";
    case RolloutStrategy::kBlueGreen:
      return "blue_green";
    case RolloutStrategy::kExperiment:
      return "experiment";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(GuardrailMetric metric) noexcept {
  switch (metric) {
    case GuardrailMetric::kErrorRate:
      return "error_rate";
    case GuardrailMetric::kLatencyP99:
      return "latency_p99";
    case GuardrailMetric::kAccuracy:
      return "accuracy";
    case GuardrailMetric::kPredictionDrift:
      return "prediction_drift";
    case GuardrailMetric::kCustom:
      return "custom";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(StepKind kind) noexcept {
  switch (kind) {
    case StepKind::kSetWeight:
      return "set_weight";
    case StepKind::kPause:
      return "pause";
    case StepKind::kAnalysis:
      return "analysis";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string Guardrail::key() const {
  namespace cp = detail::canary_plan;
  std::string out = metric == GuardrailMetric::kCustom ? custom_metric : to_string(metric);
  if (bound == cp::natural_bound(metric)) return out;
  for (const auto& [suffix, b] : cp::kSuffixes) {
    if (b == bound) return out + std::string(suffix);
  }
  return out;
}

SWITCHYARD_INLINE void CanaryPlan::validate() const {
  namespace cp = detail::canary_plan;
  cp::check_name("name", "deployment name", name);
  cp::check_name("model", "model name", model);
  if (static_cast<unsigned>(strategy) > static_cast<unsigned>(RolloutStrategy::kExperiment)) {
    cp::refuse("strategy", "outside its enumeration");
  }
  const bool experiment_plan = strategy == RolloutStrategy::kExperiment;
  if (candidate_version < (experiment_plan ? 0 : 1)) {
    cp::refuse("model_version",
               "must be a positive version, got " + std::to_string(candidate_version));
  }
  if (stable_version) {
    if (*stable_version < 1) {
      cp::refuse("stable_version", "must be positive, got " + std::to_string(*stable_version));
    }
    if (*stable_version == candidate_version) {
      cp::refuse("stable_version", "is the candidate version " + std::to_string(candidate_version));
    }
  }
  if (steps.empty()) cp::refuse("steps", "a plan needs at least one step");
  if (steps.size() > kMaxCanarySteps) {
    cp::refuse("steps", "at most " + std::to_string(kMaxCanarySteps) + " steps, got " +
                            std::to_string(steps.size()));
  }
  std::optional<double> last_weight;
  std::size_t weights = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string at = "steps[" + std::to_string(i) + "]";
    cp::check_step(at, steps[i]);
    if (steps[i].kind != StepKind::kSetWeight) continue;
    ++weights;
    if (last_weight && !(steps[i].weight > *last_weight)) {
      cp::refuse(at + ".set_weight", "must be above the previous set_weight's " +
                                         detail::json_number(*last_weight) + ", got " +
                                         detail::json_number(steps[i].weight));
    }
    last_weight = steps[i].weight;
  }
  if (strategy == RolloutStrategy::kBlueGreen) {
    if (weights != 1 || *last_weight != 100.0) {
      cp::refuse("steps", "a blue/green plan has exactly one set_weight step, to 100");
    }
  } else if (weights == 0) {
    cp::refuse("steps", "a plan needs at least one set_weight step");
  }
  cp::check_duration("interval", interval);
  cp::check_guardrails("rollback_if", guardrails);
  if (static_cast<unsigned>(judgement) > static_cast<unsigned>(RuleJudgement::kPerWindow)) {
    cp::refuse("judgement", "outside its enumeration");
  }
  if (!(judgement_alpha > 0.0 && judgement_alpha <= 0.5)) {
    cp::refuse("judgement_alpha",
               "must lie in (0, 0.5], got " + detail::json_number(judgement_alpha));
  }
  cp::check_hooks("hooks", "pre_rollout", hooks.pre_rollout);
  cp::check_hooks("hooks", "confirm_promotion", hooks.confirm_promotion);
  cp::check_hooks("hooks", "post_rollout", hooks.post_rollout);
  cp::check_hooks("hooks", "on_rollback", hooks.on_rollback);
  if (keep_previous_for) cp::check_duration("keep_previous_for", *keep_previous_for);
  if (experiment_plan != experiment.has_value()) {
    cp::refuse("experiment", experiment_plan ? "an experiment plan needs an experiment section"
                                             : "only an experiment plan has an experiment section");
  }
  if (experiment) cp::check_experiment(*this);
}

SWITCHYARD_INLINE std::vector<CanaryStep> generate_weight_steps(double step_weight,
                                                                double max_weight,
                                                                Duration interval) {
  if (!(step_weight > 0.0 && step_weight <= max_weight && max_weight <= 100.0)) {
    throw InvalidArgument("step_weight " + detail::json_number(step_weight) + " and max_weight " +
                          detail::json_number(max_weight) +
                          ": need 0 < step_weight <= max_weight <= 100");
  }
  if (interval.count() <= 0) {
    throw InvalidArgument("interval: must be positive, got " + format_duration(interval));
  }
  // Two steps per weight; refuse before building rather than after.
  if (max_weight / step_weight > static_cast<double>(kMaxCanarySteps / 2)) {
    throw InvalidArgument("step_weight " + detail::json_number(step_weight) + " up to " +
                          detail::json_number(max_weight) + " makes more than " +
                          std::to_string(kMaxCanarySteps) + " steps");
  }
  std::vector<CanaryStep> out;
  for (int k = 1;; ++k) {
    const double w = step_weight * k;  // multiplied, not summed: no drift over many steps
    const bool last = w >= max_weight || max_weight - w < 1e-9;
    out.push_back(CanaryStep::set_weight(last ? max_weight : w));
    out.push_back(CanaryStep::pause(interval));
    if (last) break;
  }
  return out;
}

namespace detail::canary_plan {

namespace y = detail::yaml;

/// The reader of one document, with the parse options. Not thread-safe: one per
/// parse_canary_plan() call, on its thread.
class Reader {
 public:
  explicit Reader(const CanaryPlanParseOptions& options) : options_(options) {}

  CanaryPlan document(const YAML::Node& root) {
    if (root.IsNull()) {
      throw InvalidArgument(
          "canary plan: the document is empty; expected a map with the key 'deployment', "
          "'experiment' or 'rollout'");
    }
    const y::Fields top(root, "(document)", {"deployment", "experiment", "rollout"});
    if (top.entries().size() != 1) {
      y::fail("(document)", "must hold exactly one of deployment, experiment or rollout",
              top.mark());
    }
    const auto& [key, node] = top.entries().front();
    if (node.IsNull()) y::fail(key, "missing", top.mark());
    CanaryPlan plan;
    if (key == "deployment") plan = deployment(node);
    if (key == "experiment") plan = seed_experiment(node);
    if (key == "rollout") plan = canonical(node);
    try {
      plan.validate();
    } catch (const InvalidArgument& e) {
      y::fail(key, std::string("the plan is not whole: ") + e.what(), node.Mark());
    }
    return plan;
  }

 private:
  // --- scalars -----------------------------------------------------------------------------

  static std::string name(const YAML::Node& node, const std::string& path, std::string_view what) {
    const std::string& text = y::scalar(node, path);
    try {
      check_identifier(what, text, kMaxNameLength);
    } catch (const InvalidArgument& e) {
      y::fail(path, e.what(), node.Mark());
    }
    return text;
  }

  static std::int64_t version(const YAML::Node& node, const std::string& path) {
    return y::whole_number(node, path, 1, std::numeric_limits<std::int64_t>::max());
  }

  static Duration duration(const YAML::Node& node, const std::string& path) {
    const std::string& text = y::scalar(node, path);
    const std::optional<Duration> d = parse_duration(text);
    if (!d) {
      y::fail(path,
              "must be a whole number with a unit ms, s, m, h or d (such as 1h, 30m, 45s, 20ms, "
              "14d), got " +
                  y::in_quotes(text),
              node.Mark());
    }
    if (d->count() < 0) y::fail(path, "must not be negative, got " + y::in_quotes(text), node.Mark());
    if (d->count() == 0) y::fail(path, "must be positive, got " + y::in_quotes(text), node.Mark());
    if (*d > kMaxDuration) {
      y::fail(path,
              "must be at most " + std::to_string(kMaxDurationDays) + "d, got " +
                  y::in_quotes(text),
              node.Mark());
    }
    return *d;
  }

  /// A weight in percent: 25 or "25%", in [0, 100].
  static double weight(const YAML::Node& node, const std::string& path) {
    const std::string& text = y::scalar(node, path);
    std::optional<double> value = parse_number(text);
    if (!value) {
      if (const auto p = parse_percentage(text)) value = *p * 100.0;
    }
    if (!value) {
      y::fail(path, "must be a percentage such as 25 or 25%, got " + y::in_quotes(text),
              node.Mark());
    }
    if (!(*value >= 0.0 && *value <= 100.0)) {
      y::fail(path, "must be between 0 and 100 (percent), got " + y::in_quotes(text), node.Mark());
    }
    return *value + 0.0;
  }

  /// A share of traffic: "50%" or 0.5, in [0, 1].
  static double share(const YAML::Node& node, const std::string& path) {
    const std::string& text = y::scalar(node, path);
    std::optional<double> value = parse_percentage(text);
    if (!value) value = parse_number(text);
    if (!value) {
      y::fail(path, "must be a percentage such as 50% or a proportion such as 0.5, got " +
                        y::in_quotes(text),
              node.Mark());
    }
    if (!(*value >= 0.0 && *value <= 1.0)) {
      y::fail(path, "must be between 0% and 100%, got " + y::in_quotes(text), node.Mark());
    }
    return *value;
  }

  static std::uint64_t count(const YAML::Node& node, const std::string& path) {
    return static_cast<std::uint64_t>(
        y::whole_number(node, path, 0, std::numeric_limits<std::int64_t>::max()));
  }

  // --- guardrails ----------------------------------------------------------------------------

  /// `key` as a metric and a bound: the whole key a metric name (its natural bound), else a
  /// metric name and one of the suffixes.
  bool metric_of(std::string_view key, Guardrail& out) const {
    auto known = [&](std::string_view name) {
      for (const auto& [text, m] : kMetrics) {
        if (text == name) {
          out.metric = m;
          out.custom_metric.clear();
          return true;
        }
      }
      for (const std::string& custom : options_.custom_metrics) {
        if (custom == name) {
          out.metric = GuardrailMetric::kCustom;
          out.custom_metric = custom;
          return true;
        }
      }
      return false;
    };
    if (known(key)) {
      out.bound = natural_bound(out.metric);
      return true;
    }
    for (const auto& [suffix, bound] : kSuffixes) {
      if (key.size() > suffix.size() && key.substr(key.size() - suffix.size()) == suffix &&
          known(key.substr(0, key.size() - suffix.size()))) {
        out.bound = bound;
        return true;
      }
    }
    return false;
  }

  /// A threshold in the guardrail's unit (see Guardrail); sets `relative` for "50%" on latency.
  static void threshold(const YAML::Node& node, const std::string& path, Guardrail& g,
                        bool relative_given) {
    const std::string& text = y::scalar(node, path);
    const std::optional<double> percent = parse_percentage(text);
    const std::optional<double> plain = parse_number(text);
    std::optional<double> value;
    std::string expected;
    if (relative_given) {
      value = percent ? percent : plain;
      expected = "a proportion of stable's value such as 50% or 0.5";
    } else if (g.metric == GuardrailMetric::kLatencyP99) {
      const std::string_view t(text);
      if (t.size() > 2 && t.substr(t.size() - 2) == "ms") {
        value = parse_number(t.substr(0, t.size() - 2));
      } else if (t.size() > 1 && t.back() == 's') {
        if (const auto s = parse_number(t.substr(0, t.size() - 1))) value = *s * 1000.0;
      } else if (percent && is_relative_bound(g.bound)) {
        value = percent;
        g.relative = true;
      }
      expected = is_relative_bound(g.bound)
                     ? "milliseconds such as 20ms or 0.5s, or a share of stable's p99 such as 50%"
                     : "milliseconds such as 250ms or 1.5s";
    } else if (is_rate(g.metric)) {
      value = percent ? percent : plain;
      expected = "a percentage such as 1% or a proportion such as 0.01";
    } else {
      value = percent ? percent : plain;
      expected = "a number such as 0.2";
    }
    if (!value) y::fail(path, "must be " + expected + ", got " + y::in_quotes(text), node.Mark());
    g.threshold = *value + 0.0;
    if (g.threshold < 0.0 && (is_relative_bound(g.bound) || g.metric != GuardrailMetric::kCustom)) {
      y::fail(path, "must not be negative, got " + y::in_quotes(text), node.Mark());
    }
    if (is_rate(g.metric) && !g.relative && g.threshold > 1.0) {
      y::fail(path, "must be between 0% and 100%, got " + y::in_quotes(text), node.Mark());
    }
  }

  std::vector<Guardrail> guardrails(const YAML::Node& node, const std::string& path) const {
    if (!node.IsMap()) {
      y::fail(path, "must be a map such as {error_rate_increase: 0.5%}, got " + y::kind_of(node),
              node.Mark());
    }
    std::vector<Guardrail> out;
    std::vector<std::string> names;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      names.push_back(key.IsScalar() ? key.Scalar() : std::string());
    }
    // Fields checks types and repeats; the keys themselves are checked against the metrics below.
    const y::Fields f(node, path, std::vector<std::string_view>(names.begin(), names.end()));
    for (const auto& [key, value] : f.entries()) {
      const std::string at = f.child(key);
      Guardrail g;
      if (!metric_of(key, g)) {
        std::string custom;
        for (const auto& c : options_.custom_metrics) custom += ", " + c;
        y::fail(at,
                "unknown metric; expected error_rate, latency_p99, accuracy, prediction_drift" +
                    custom +
                    " (or a metric the host declares), each alone or with _max, _min, "
                    "_increase or _drop",
                f.mark());
      }
      if (value.IsNull()) y::fail(at, "missing threshold", f.mark());
      if (value.IsMap()) {
        const y::Fields v(value, at, {"threshold", "relative", "min_samples"});
        if (const YAML::Node* n = v.find("relative")) g.relative = y::boolean(*n, v.child("relative"));
        if (g.relative && !is_relative_bound(g.bound)) {
          y::fail(v.child("relative"), "only an _increase or _drop guardrail can be relative",
                  v.mark());
        }
        threshold(v.require("threshold"), v.child("threshold"), g, g.relative);
        if (const YAML::Node* n = v.find("min_samples")) {
          g.min_samples = count(*n, v.child("min_samples"));
        }
      } else {
        threshold(value, at, g, false);
      }
      for (const Guardrail& earlier : out) {
        if (earlier.key() == g.key()) y::fail(at, "the same guardrail as " + earlier.key(), f.mark());
      }
      out.push_back(std::move(g));
    }
    return out;
  }

  // --- steps -----------------------------------------------------------------------------------

  /// Checks that a set_weight rises above the last one.
  static void rising(std::optional<double>& last, double weight, const std::string& path,
                     const YAML::Mark& mark, std::string_view what) {
    if (last && !(weight > *last)) {
      y::fail(path,
              "must be above the previous " + std::string(what) + "'s " + json_number(*last) +
                  ", got " + json_number(weight),
              mark);
    }
    last = weight;
  }

  static void check_sequence(const YAML::Node& node, const std::string& path, std::size_t most,
                             std::string_view what) {
    if (!node.IsSequence()) {
      y::fail(path, "must be a sequence of " + std::string(what) + ", got " + y::kind_of(node),
              node.Mark());
    }
    if (node.size() == 0) y::fail(path, "must list at least one " + std::string(what), node.Mark());
    if (node.size() > most) {
      y::fail(path,
              "at most " + std::to_string(most) + " " + std::string(what) + ", got " +
                  std::to_string(node.size()),
              node.Mark());
    }
  }

  CanaryStep analysis(const YAML::Node& node, const std::string& path) const {
    const y::Fields f(node, path, {"metrics", "min_samples", "duration"});
    CanaryStep s = CanaryStep::analysis(guardrails(f.require("metrics"), f.child("metrics")));
    if (s.guardrails.empty()) y::fail(f.child("metrics"), "must name at least one metric", f.mark());
    if (const YAML::Node* n = f.find("min_samples")) s.min_samples = count(*n, f.child("min_samples"));
    if (const YAML::Node* n = f.find("duration")) s.duration = duration(*n, f.child("duration"));
    return s;
  }

  /// Argo-style steps: `- set_weight: 5`, `- pause: 1h` / `{duration, rollback_if}` / `{}`,
  /// `- analysis: {metrics, min_samples, duration}`.
  std::vector<CanaryStep> steps(const YAML::Node& node, const std::string& path) const {
    check_sequence(node, path, kMaxCanarySteps, "steps");
    std::vector<CanaryStep> out;
    std::optional<double> last;
    std::size_t i = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++i) {
      const std::string at = path + "[" + std::to_string(i) + "]";
      const YAML::Node item = *it;
      const y::Fields f(item, at, {"set_weight", "pause", "analysis"});
      if (f.entries().size() != 1) {
        y::fail(at, "a step is exactly one of set_weight, pause or analysis", f.mark());
      }
      const auto& [kind, value] = f.entries().front();
      const std::string value_path = f.child(kind);
      if (kind == "set_weight") {
        if (value.IsNull()) y::fail(value_path, "missing weight", f.mark());
        const double w = weight(value, value_path);
        rising(last, w, value_path, value.Mark(), "set_weight");
        out.push_back(CanaryStep::set_weight(w));
      } else if (kind == "pause") {
        if (value.IsNull() || value.IsScalar()) {
          // `pause:` alone holds until resumed; `pause: 1h` for a while.
          out.push_back(CanaryStep::pause(value.IsNull() ? std::nullopt
                                                         : std::optional(duration(value, value_path))));
        } else {
          const y::Fields p(value, value_path, {"duration", "rollback_if"});
          CanaryStep s = CanaryStep::pause(std::nullopt);
          if (const YAML::Node* n = p.find("duration")) s.duration = duration(*n, p.child("duration"));
          if (const YAML::Node* n = p.find("rollback_if")) {
            s.guardrails = guardrails(*n, p.child("rollback_if"));
          }
          out.push_back(std::move(s));
        }
      } else {
        if (value.IsNull()) y::fail(value_path, "missing", f.mark());
        out.push_back(analysis(value, value_path));
      }
    }
    return out;
  }

  /// Seed 003's stages: each `{traffic_percent, duration, rollback_if}` becomes set_weight and a
  /// pause for `duration` (until resumed when absent) with the stage's rules.
  std::vector<CanaryStep> stages(const YAML::Node& node, const std::string& path) const {
    check_sequence(node, path, kMaxCanarySteps / 2, "stages");
    std::vector<CanaryStep> out;
    std::optional<double> last;
    std::size_t i = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++i) {
      const std::string at = path + "[" + std::to_string(i) + "]";
      const YAML::Node item = *it;
      const y::Fields f(item, at, {"traffic_percent", "duration", "rollback_if"});
      const YAML::Node& w = f.require("traffic_percent");
      const double percent = weight(w, f.child("traffic_percent"));
      rising(last, percent, f.child("traffic_percent"), w.Mark(), "stage");
      out.push_back(CanaryStep::set_weight(percent));
      CanaryStep hold = CanaryStep::pause(std::nullopt);
      if (const YAML::Node* n = f.find("duration")) hold.duration = duration(*n, f.child("duration"));
      if (const YAML::Node* n = f.find("rollback_if")) {
        hold.guardrails = guardrails(*n, f.child("rollback_if"));
      }
      out.push_back(std::move(hold));
    }
    return out;
  }

  /// Flagger's explicit list: `step_weights: [1, 2, 10, 80]`, each held for the interval.
  static std::vector<CanaryStep> weight_list(const YAML::Node& node, const std::string& path,
                                             Duration interval) {
    check_sequence(node, path, kMaxCanarySteps / 2, "weights");
    std::vector<CanaryStep> out;
    std::optional<double> last;
    std::size_t i = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++i) {
      const std::string at = path + "[" + std::to_string(i) + "]";
      const YAML::Node item = *it;
      const double w = weight(item, at);
      rising(last, w, at, item.Mark(), "weight");
      out.push_back(CanaryStep::set_weight(w));
      out.push_back(CanaryStep::pause(interval));
    }
    return out;
  }

  // --- plan-level settings -----------------------------------------------------------------

  static std::vector<std::string> hook_names(const YAML::Node& node, const std::string& path) {
    std::vector<std::string> out;
    if (node.IsScalar()) {
      out.push_back(name(node, path, "hook name"));
      return out;
    }
    if (!node.IsSequence()) {
      y::fail(path, "must be a hook name or a sequence of them, got " + y::kind_of(node),
              node.Mark());
    }
    if (node.size() > kMaxHooks) {
      y::fail(path, "at most " + std::to_string(kMaxHooks) + " hooks, got " +
                        std::to_string(node.size()),
              node.Mark());
    }
    std::size_t i = 0;
    for (auto it = node.begin(); it != node.end(); ++it, ++i) {
      const YAML::Node item = *it;
      out.push_back(name(item, path + "[" + std::to_string(i) + "]", "hook name"));
    }
    return out;
  }

  static RolloutHooks hooks(const YAML::Node& node, const std::string& path) {
    const y::Fields f(node, path, {"pre_rollout", "confirm_promotion", "post_rollout", "on_rollback"});
    RolloutHooks out;
    auto read = [&](const char* key, std::vector<std::string>& into) {
      if (const YAML::Node* n = f.find(key)) into = hook_names(*n, f.child(key));
    };
    read("pre_rollout", out.pre_rollout);
    read("confirm_promotion", out.confirm_promotion);
    read("post_rollout", out.post_rollout);
    read("on_rollback", out.on_rollback);
    return out;
  }

  /// The keys every form shares.
  static constexpr std::array<std::string_view, 10> kSettings{
      "interval",    "failure_limit", "consecutive_failure_limit", "min_samples",
      "rollback_if", "judgement",     "judgement_alpha",           "hooks",
      "auto_promote", "keep_previous_for"};

  static std::vector<std::string_view> keys(std::initializer_list<std::string_view> own) {
    std::vector<std::string_view> out(own);
    out.insert(out.end(), kSettings.begin(), kSettings.end());
    return out;
  }

  void settings(const y::Fields& f, CanaryPlan& plan) const {
    constexpr std::int64_t kMaxLimit = std::numeric_limits<std::uint32_t>::max();
    if (const YAML::Node* n = f.find("interval")) plan.interval = duration(*n, f.child("interval"));
    if (const YAML::Node* n = f.find("failure_limit")) {
      plan.failure_limit =
          static_cast<std::uint32_t>(y::whole_number(*n, f.child("failure_limit"), 0, kMaxLimit));
    }
    if (const YAML::Node* n = f.find("consecutive_failure_limit")) {
      plan.consecutive_failure_limit = static_cast<std::uint32_t>(
          y::whole_number(*n, f.child("consecutive_failure_limit"), 0, kMaxLimit));
    }
    if (const YAML::Node* n = f.find("min_samples")) plan.min_samples = count(*n, f.child("min_samples"));
    if (const YAML::Node* n = f.find("rollback_if")) {
      plan.guardrails = guardrails(*n, f.child("rollback_if"));
    }
    if (const YAML::Node* n = f.find("judgement")) {
      const std::string& text = y::scalar(*n, f.child("judgement"));
      if (text == "sequential") {
        plan.judgement = RuleJudgement::kSequential;
      } else if (text == "per_window") {
        plan.judgement = RuleJudgement::kPerWindow;
      } else {
        y::fail(f.child("judgement"), "must be sequential or per_window, got " + y::in_quotes(text),
                n->Mark());
      }
    }
    if (const YAML::Node* n = f.find("judgement_alpha")) {
      const double a = share(*n, f.child("judgement_alpha"));
      if (!(a > 0.0 && a <= 0.5)) {
        y::fail(f.child("judgement_alpha"),
                "must be above 0% and at most 50%, got " + y::in_quotes(n->Scalar()), n->Mark());
      }
      plan.judgement_alpha = a;
    }
    if (const YAML::Node* n = f.find("hooks")) plan.hooks = hooks(*n, f.child("hooks"));
    if (const YAML::Node* n = f.find("auto_promote")) {
      plan.auto_promote = y::boolean(*n, f.child("auto_promote"));
    }
    if (const YAML::Node* n = f.find("keep_previous_for")) {
      plan.keep_previous_for = duration(*n, f.child("keep_previous_for"));
    }
  }

  // --- the three roots ---------------------------------------------------------------------

  /// `deployment: {name, model?, canary | blue_green}`.
  CanaryPlan deployment(const YAML::Node& node) const {
    const y::Fields d(node, "deployment", {"name", "model", "canary", "blue_green"});
    CanaryPlan plan;
    plan.name = name(d.require("name"), d.child("name"), "deployment name");
    plan.model = plan.name;
    if (const YAML::Node* n = d.find("model")) plan.model = name(*n, d.child("model"), "model name");
    const YAML::Node* canary = d.find("canary");
    const YAML::Node* blue_green = d.find("blue_green");
    if ((canary == nullptr) == (blue_green == nullptr)) {
      y::fail("deployment", "must hold exactly one of canary or blue_green", d.mark());
    }
    if (canary != nullptr) {
      canary_section(*canary, d.child("canary"), plan);
    } else {
      blue_green_section(*blue_green, d.child("blue_green"), plan);
    }
    return plan;
  }

  void canary_section(const YAML::Node& node, const std::string& path, CanaryPlan& plan) const {
    const y::Fields f(node, path,
                      keys({"model_version", "stable_version", "stages", "steps", "step_weight",
                            "max_weight", "step_weights"}));
    plan.strategy = RolloutStrategy::kCanary;
    plan.candidate_version = version(f.require("model_version"), f.child("model_version"));
    if (const YAML::Node* n = f.find("stable_version")) {
      plan.stable_version = version(*n, f.child("stable_version"));
    }
    settings(f, plan);
    std::vector<std::string_view> given;
    for (std::string_view k : {"stages", "steps", "step_weight", "step_weights"}) {
      if (f.find(k) != nullptr) given.push_back(k);
    }
    if (given.empty()) {
      y::fail(f.child("stages"), "missing (or steps, step_weight or step_weights)", f.mark());
    }
    if (given.size() > 1) {
      y::fail(path,
              "give one of stages, steps, step_weight or step_weights, not both " +
                  std::string(given[0]) + " and " + std::string(given[1]),
              f.mark());
    }
    if (f.find("max_weight") != nullptr && given[0] != "step_weight") {
      y::fail(f.child("max_weight"), "goes with step_weight", f.mark());
    }
    if (given[0] == "stages") plan.steps = stages(f.require("stages"), f.child("stages"));
    if (given[0] == "steps") plan.steps = steps(f.require("steps"), f.child("steps"));
    if (given[0] == "step_weights") {
      plan.steps = weight_list(f.require("step_weights"), f.child("step_weights"), plan.interval);
    }
    if (given[0] == "step_weight") {
      const YAML::Node& s = f.require("step_weight");
      const double step = weight(s, f.child("step_weight"));
      double most = 100.0;
      if (const YAML::Node* n = f.find("max_weight")) most = weight(*n, f.child("max_weight"));
      try {
        plan.steps = generate_weight_steps(step, most, plan.interval);
      } catch (const InvalidArgument& e) {
        y::fail(f.child("step_weight"), e.what(), s.Mark());
      }
    }
  }

  void blue_green_section(const YAML::Node& node, const std::string& path,
                          CanaryPlan& plan) const {
    const y::Fields f(node, path,
                      keys({"model_version", "stable_version", "pre_promotion_analysis",
                            "post_promotion_analysis"}));
    plan.strategy = RolloutStrategy::kBlueGreen;
    plan.candidate_version = version(f.require("model_version"), f.child("model_version"));
    if (const YAML::Node* n = f.find("stable_version")) {
      plan.stable_version = version(*n, f.child("stable_version"));
    }
    settings(f, plan);
    if (const YAML::Node* n = f.find("pre_promotion_analysis")) {
      plan.steps.push_back(analysis(*n, f.child("pre_promotion_analysis")));
    }
    plan.steps.push_back(CanaryStep::set_weight(100.0));
    if (const YAML::Node* n = f.find("post_promotion_analysis")) {
      plan.steps.push_back(analysis(*n, f.child("post_promotion_analysis")));
    }
  }

  /// A metric of an experiment: a name (built in or declared by the host) or a map.
  MetricSpec metric_spec(const YAML::Node& node, const std::string& path) const {
    MetricSpec out;
    auto by_name = [&](const std::string& metric, const std::string& at, const YAML::Mark& mark,
                       bool kind_given) {
      out.name = metric;
      if (metric == "conversion_rate") {
        out.kind = MetricKind::kBinary;
      } else if (metric == "error_rate") {
        out.kind = MetricKind::kBinary;
        out.direction = MetricDirection::kLowerIsBetter;
      } else if (metric == "accuracy") {
        out.kind = MetricKind::kAccuracy;
      } else if (metric == "latency" || metric == "latency_p99") {
        out.kind = MetricKind::kLatency;
      } else if (metric == "brier_score") {
        out.kind = MetricKind::kBrierScore;
      } else if (metric == "log_loss") {
        out.kind = MetricKind::kLogLoss;
      } else {
        bool custom = false;
        for (const auto& c : options_.custom_metrics) custom = custom || c == metric;
        if (!custom && !kind_given) {
          y::fail(at,
                  "unknown metric " + y::in_quotes(metric) +
                      "; expected conversion_rate, error_rate, accuracy, latency, latency_p99, "
                      "brier_score, log_loss, a metric the host declares, or a map with a kind",
                  mark);
        }
        out.kind = MetricKind::kContinuous;
      }
    };
    if (node.IsScalar()) {
      by_name(name(node, path, "metric name"), path, node.Mark(), false);
      return out;
    }
    const y::Fields f(node, path,
                      {"name", "kind", "direction", "minimum_detectable_effect", "missing_value"});
    const YAML::Node* kind = f.find("kind");
    by_name(name(f.require("name"), f.child("name"), "metric name"), f.child("name"), f.mark(),
            kind != nullptr);
    if (kind != nullptr) {
      const std::string& text = y::scalar(*kind, f.child("kind"));
      bool found = false;
      for (MetricKind k : {MetricKind::kBinary, MetricKind::kContinuous, MetricKind::kLatency,
                           MetricKind::kAccuracy, MetricKind::kBrierScore, MetricKind::kLogLoss}) {
        if (to_string(k) == text) {
          out.kind = k;
          found = true;
        }
      }
      if (!found) {
        y::fail(f.child("kind"),
                "must be binary, continuous, latency, accuracy, brier_score or log_loss, got " +
                    y::in_quotes(text),
                kind->Mark());
      }
    }
    if (const YAML::Node* n = f.find("direction")) {
      const std::string& text = y::scalar(*n, f.child("direction"));
      if (text == "auto") {
        out.direction = MetricDirection::kAuto;
      } else if (text == "higher_is_better") {
        out.direction = MetricDirection::kHigherIsBetter;
      } else if (text == "lower_is_better") {
        out.direction = MetricDirection::kLowerIsBetter;
      } else {
        y::fail(f.child("direction"),
                "must be auto, higher_is_better or lower_is_better, got " + y::in_quotes(text),
                n->Mark());
      }
    }
    if (const YAML::Node* n = f.find("minimum_detectable_effect")) {
      const std::string at = f.child("minimum_detectable_effect");
      const std::string& text = y::scalar(*n, at);
      std::optional<double> v = parse_percentage(text);
      if (!v) v = parse_number(text);
      if (!v || !(*v > 0.0)) {
        y::fail(at, "must be a positive share such as 5% or 0.05, got " + y::in_quotes(text),
                n->Mark());
      }
      out.minimum_detectable_effect = *v;
    }
    if (const YAML::Node* n = f.find("missing_value")) {
      const std::string at = f.child("missing_value");
      const std::string& text = y::scalar(*n, at);
      const std::optional<double> v = parse_number(text);
      if (!v) y::fail(at, "must be a number, got " + y::in_quotes(text), n->Mark());
      if (out.kind != MetricKind::kContinuous) {
        y::fail(at, "only a continuous metric has a missing_value", n->Mark());
      }
      out.missing_value = *v;
    }
    return out;
  }

  static ExperimentPlanArm arm(const YAML::Node& node, const std::string& path) {
    const y::Fields f(node, path, {"model", "version", "traffic"});
    ExperimentPlanArm out;
    out.model = name(f.require("model"), f.child("model"), "model name");
    if (const YAML::Node* n = f.find("version")) out.version = version(*n, f.child("version"));
    const YAML::Node& t = f.require("traffic");
    out.traffic = share(t, f.child("traffic"));
    if (out.traffic == 0.0) y::fail(f.child("traffic"), "must be above 0%", t.Mark());
    return out;
  }

  /// The experiment keys of seed 003 (and of the canonical form's `experiment:`).
  ExperimentPlan experiment_fields(const y::Fields& f) const {
    ExperimentPlan e;
    e.control = arm(f.require("control"), f.child("control"));
    e.treatment = arm(f.require("treatment"), f.child("treatment"));
    if (std::abs(e.control.traffic + e.treatment.traffic - 1.0) > 1e-9) {
      y::fail(f.path(),
              "control and treatment traffic must add up to 100%, got " +
                  json_number(e.control.traffic * 100.0 + e.treatment.traffic * 100.0) + "%",
              f.mark());
    }
    e.primary = metric_spec(f.require("primary_metric"), f.child("primary_metric"));
    if (const YAML::Node* n = f.find("guardrail_metrics")) {
      const std::string path = f.child("guardrail_metrics");
      if (!n->IsSequence()) {
        y::fail(path, "must be a sequence such as [latency_p99, error_rate], got " + y::kind_of(*n),
                n->Mark());
      }
      if (n->size() > 30) y::fail(path, "at most 30 metrics", n->Mark());
      std::size_t i = 0;
      for (auto it = n->begin(); it != n->end(); ++it, ++i) {
        const std::string at = path + "[" + std::to_string(i) + "]";
        const YAML::Node item = *it;
        MetricSpec m = metric_spec(item, at);
        if (m.name == e.primary.name) y::fail(at, "repeats the primary metric", item.Mark());
        for (const MetricSpec& earlier : e.guardrails) {
          if (earlier.name == m.name) y::fail(at, "metric appears twice", item.Mark());
        }
        e.guardrails.push_back(std::move(m));
      }
    }
    if (const YAML::Node* n = f.find("duration")) e.duration = duration(*n, f.child("duration"));
    if (const YAML::Node* n = f.find("min_sample_size")) {
      e.min_sample_size = count(*n, f.child("min_sample_size"));
    }
    if (const YAML::Node* n = f.find("mode")) {
      const std::string& text = y::scalar(*n, f.child("mode"));
      if (text == "fixed_horizon") {
        e.mode = AnalysisMode::kFixedHorizon;
      } else if (text == "sequential") {
        e.mode = AnalysisMode::kSequential;
      } else {
        y::fail(f.child("mode"), "must be fixed_horizon or sequential, got " + y::in_quotes(text),
                n->Mark());
      }
    }
    return e;
  }

  static constexpr std::array<std::string_view, 7> kExperimentKeys{
      "control", "treatment", "primary_metric", "guardrail_metrics", "duration",
      "min_sample_size", "mode"};

  /// Seed 003's `experiment:` as written: the treatment's share of traffic at once, held for the
  /// duration (or until decided); the decision is the experiment's.
  CanaryPlan seed_experiment(const YAML::Node& node) const {
    std::vector<std::string_view> known = keys({"name", "model"});
    known.insert(known.end(), kExperimentKeys.begin(), kExperimentKeys.end());
    const y::Fields f(node, "experiment", known);
    CanaryPlan plan;
    plan.strategy = RolloutStrategy::kExperiment;
    plan.auto_promote = false;
    plan.name = name(f.require("name"), f.child("name"), "experiment name");
    plan.experiment = experiment_fields(f);
    const ExperimentPlan& e = *plan.experiment;
    plan.model = e.treatment.model;
    if (const YAML::Node* n = f.find("model")) plan.model = name(*n, f.child("model"), "model name");
    plan.candidate_version = e.treatment.version;
    if (e.control.version > 0) plan.stable_version = e.control.version;
    settings(f, plan);
    plan.steps.push_back(CanaryStep::set_weight(e.treatment.traffic * 100.0));
    plan.steps.push_back(CanaryStep::pause(e.duration));
    return plan;
  }

  /// The canonical form: every field by its own name, steps explicit.
  CanaryPlan canonical(const YAML::Node& node) const {
    const y::Fields f(node, "rollout",
                      keys({"name", "model", "strategy", "model_version", "stable_version", "steps",
                            "experiment"}));
    CanaryPlan plan;
    plan.name = name(f.require("name"), f.child("name"), "deployment name");
    plan.model = name(f.require("model"), f.child("model"), "model name");
    const YAML::Node& s = f.require("strategy");
    const std::string& strategy = y::scalar(s, f.child("strategy"));
    if (strategy == "canary") {
      plan.strategy = RolloutStrategy::kCanary;
    } else if (strategy == "blue_green") {
      plan.strategy = RolloutStrategy::kBlueGreen;
    } else if (strategy == "experiment") {
      plan.strategy = RolloutStrategy::kExperiment;
      plan.auto_promote = false;
    } else {
      y::fail(f.child("strategy"),
              "must be canary, blue_green or experiment, got " + y::in_quotes(strategy), s.Mark());
    }
    if (plan.strategy == RolloutStrategy::kExperiment) {
      if (const YAML::Node* n = f.find("model_version")) {
        plan.candidate_version = version(*n, f.child("model_version"));
      }
    } else {
      plan.candidate_version = version(f.require("model_version"), f.child("model_version"));
    }
    if (const YAML::Node* n = f.find("stable_version")) {
      plan.stable_version = version(*n, f.child("stable_version"));
    }
    plan.steps = steps(f.require("steps"), f.child("steps"));
    settings(f, plan);
    if (const YAML::Node* n = f.find("experiment")) {
      const y::Fields e(*n, f.child("experiment"),
                        std::vector<std::string_view>(kExperimentKeys.begin(), kExperimentKeys.end()));
      plan.experiment = experiment_fields(e);
    }
    return plan;
  }

  const CanaryPlanParseOptions& options_;
};

// --- the JSON writer ---------------------------------------------------------------------------

inline std::string threshold_json(const Guardrail& g) {
  if (g.metric == GuardrailMetric::kLatencyP99 && !g.relative) {
    return json_quote(json_number(g.threshold) + "ms");
  }
  return json_number(g.threshold);
}

inline std::string guardrails_json(const std::vector<Guardrail>& rules) {
  std::string out = "{";
  for (const Guardrail& g : rules) {
    if (out.size() > 1) out += ",";
    out += json_quote(g.key()) + ":";
    if (!g.relative && g.min_samples == 0) {
      out += threshold_json(g);
      continue;
    }
    out += "{\"threshold\":" + threshold_json(g);
    if (g.relative) out += ",\"relative\":true";
    if (g.min_samples != 0) out += ",\"min_samples\":" + std::to_string(g.min_samples);
    out += "}";
  }
  return out + "}";
}

inline std::string step_json(const CanaryStep& s) {
  switch (s.kind) {
    case StepKind::kSetWeight:
      return "{\"set_weight\":" + json_number(s.weight) + "}";
    case StepKind::kPause: {
      std::string out = "{\"pause\":{";
      if (s.duration) out += "\"duration\":" + json_quote(format_duration(*s.duration));
      if (!s.guardrails.empty()) {
        out += std::string(s.duration ? "," : "") + "\"rollback_if\":" + guardrails_json(s.guardrails);
      }
      return out + "}}";
    }
    case StepKind::kAnalysis: {
      std::string out = "{\"analysis\":{\"metrics\":" + guardrails_json(s.guardrails);
      if (s.min_samples != 0) out += ",\"min_samples\":" + std::to_string(s.min_samples);
      if (s.duration) out += ",\"duration\":" + json_quote(format_duration(*s.duration));
      return out + "}}";
    }
  }
  return "{}";
}

inline std::string names_json(const std::vector<std::string>& names) {
  std::string out = "[";
  for (const auto& n : names) out += (out.size() > 1 ? "," : "") + json_quote(n);
  return out + "]";
}

inline std::string metric_json(const MetricSpec& m) {
  const char* direction = m.direction == MetricDirection::kAuto             ? "auto"
                          : m.direction == MetricDirection::kHigherIsBetter ? "higher_is_better"
                                                                            : "lower_is_better";
  std::string out = "{\"name\":" + json_quote(m.name) + ",\"kind\":" +
                    json_quote(to_string(m.kind)) + ",\"direction\":" + json_quote(direction) +
                    ",\"minimum_detectable_effect\":" + json_number(m.minimum_detectable_effect);
  if (m.missing_value) out += ",\"missing_value\":" + json_number(*m.missing_value);
  return out + "}";
}

inline std::string arm_json(const ExperimentPlanArm& a) {
  std::string out = "{\"model\":" + json_quote(a.model);
  if (a.version > 0) out += ",\"version\":" + std::to_string(a.version);
  return out + ",\"traffic\":" + json_number(a.traffic) + "}";
}

inline std::string experiment_json(const ExperimentPlan& e) {
  std::string out = "{\"control\":" + arm_json(e.control) + ",\"treatment\":" +
                    arm_json(e.treatment) + ",\"primary_metric\":" + metric_json(e.primary) +
                    ",\"guardrail_metrics\":[";
  for (std::size_t i = 0; i < e.guardrails.size(); ++i) {
    out += (i > 0 ? "," : "") + metric_json(e.guardrails[i]);
  }
  out += "]";
  if (e.duration) out += ",\"duration\":" + json_quote(format_duration(*e.duration));
  out += ",\"min_sample_size\":" + std::to_string(e.min_sample_size);
  out += std::string(",\"mode\":") +
         (e.mode == AnalysisMode::kSequential ? "\"sequential\"" : "\"fixed_horizon\"");
  return out + "}";
}

}  // namespace detail::canary_plan

SWITCHYARD_INLINE CanaryPlan parse_canary_plan(std::string_view text,
                                               const CanaryPlanParseOptions& options) {
  detail::canary_plan::Reader reader(options);
  return detail::yaml::read_document(text, "canary plan",
                                     [&](const YAML::Node& root) { return reader.document(root); });
}

SWITCHYARD_INLINE CanaryPlan load_canary_plan(const std::filesystem::path& path,
                                              const CanaryPlanParseOptions& options) {
  const std::string text = detail::yaml::read_config_file(
      path, "canary plan file '" + path.string() + "'", detail::canary_plan::kMaxFileBytes);
  try {
    return parse_canary_plan(text, options);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(path.string() + ": " + e.what());
  }
}

SWITCHYARD_INLINE std::string plan_to_json(const CanaryPlan& plan) {
  namespace cp = detail::canary_plan;
  using detail::json_quote;
  plan.validate();
  std::string out = "{\"rollout\":{\"name\":" + json_quote(plan.name) +
                    ",\"model\":" + json_quote(plan.model) +
                    ",\"strategy\":" + json_quote(to_string(plan.strategy));
  if (plan.candidate_version > 0) {
    out += ",\"model_version\":" + std::to_string(plan.candidate_version);
  }
  if (plan.stable_version) out += ",\"stable_version\":" + std::to_string(*plan.stable_version);
  out += ",\"steps\":[";
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    out += (i > 0 ? "," : "") + cp::step_json(plan.steps[i]);
  }
  out += "],\"interval\":" + json_quote(format_duration(plan.interval));
  out += ",\"failure_limit\":" + std::to_string(plan.failure_limit);
  if (plan.consecutive_failure_limit) {
    out += ",\"consecutive_failure_limit\":" + std::to_string(*plan.consecutive_failure_limit);
  }
  out += ",\"min_samples\":" + std::to_string(plan.min_samples);
  out += ",\"rollback_if\":" + cp::guardrails_json(plan.guardrails);
  out += ",\"judgement\":" + json_quote(to_string(plan.judgement));
  out += ",\"judgement_alpha\":" + detail::json_number(plan.judgement_alpha);
  out += ",\"hooks\":{\"pre_rollout\":" + cp::names_json(plan.hooks.pre_rollout) +
         ",\"confirm_promotion\":" + cp::names_json(plan.hooks.confirm_promotion) +
         ",\"post_rollout\":" + cp::names_json(plan.hooks.post_rollout) +
         ",\"on_rollback\":" + cp::names_json(plan.hooks.on_rollback) + "}";
  out += std::string(",\"auto_promote\":") + (plan.auto_promote ? "true" : "false");
  if (plan.keep_previous_for) {
    out += ",\"keep_previous_for\":" + json_quote(format_duration(*plan.keep_previous_for));
  }
  if (plan.experiment) out += ",\"experiment\":" + cp::experiment_json(*plan.experiment);
  return out + "}}";
}

}  // namespace switchyard
