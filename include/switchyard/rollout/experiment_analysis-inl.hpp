// SPDX-License-Identifier: Apache-2.0
// Experiment::analyze()'s steps: read the arms, check the split, compare each metric, decide.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <switchyard/core/clock.hpp>
#include <switchyard/rollout/comparison.hpp>
#include <switchyard/rollout/detail/arm_data.hpp>
#include <switchyard/rollout/detail/experiment_state.hpp>
#include <switchyard/rollout/detail/report_text.hpp>
#include <switchyard/rollout/experiment_report.hpp>
#include <switchyard/stats/bayesian_test.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/power.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <switchyard/stats/sequential_test.hpp>
#include <switchyard/stats/t_test.hpp>
#include <vector>

namespace switchyard::detail {

/// What analyze() reads from the shards, once: exposures per arm and each metric's data per arm.
struct ArmSnapshot {
  std::vector<std::uint64_t> exposures;      // [arm]
  std::vector<std::vector<ArmData>> metrics;  // [metric][arm]
};

/// Step 1: read every shard once (writers keep writing; each shard is read consistently).
SWITCHYARD_INLINE ArmSnapshot read_arms(const ExperimentState& s) {
  const std::size_t n_arms = s.options.arms.size();
  ArmSnapshot snap;
  snap.exposures.resize(n_arms);
  snap.metrics.assign(s.metrics.size(), std::vector<ArmData>(n_arms));
  for (std::size_t a = 0; a < n_arms; ++a) {
    const std::uint64_t exposures = s.arms[a]->exposures.snapshot().n;
    snap.exposures[a] = exposures;
    for (std::size_t m = 0; m < s.metrics.size(); ++m) {
      const MetricSpec& spec = s.metrics[m].spec;
      const stats::RunningMoments rm = s.arms[a]->metrics[m].snapshot();
      ArmData& d = snap.metrics[m][a];
      d.rate = metric_is_rate(spec.kind);
      if (spec.kind == MetricKind::kBinary) {
        // A success is recorded after its exposure; a snapshot taken between the two shards' reads
        // may see it first, hence the clamp.
        d.counter = stats::ProportionCounter(std::min(rm.count(), exposures), exposures);
      } else if (spec.kind == MetricKind::kAccuracy) {
        const auto correct = static_cast<std::uint64_t>(std::llround(rm.sum()));
        d.counter = stats::ProportionCounter(std::min(correct, rm.count()), rm.count());
      } else {
        d.moments = rm;
        if (spec.missing_value && exposures > rm.count()) {
          d.moments.merge(stats::RunningMoments::from_moments(exposures - rm.count(),
                                                              *spec.missing_value, 0.0));
        }
      }
    }
  }
  return snap;
}

/// Step 2: the report's heading: name, control, mode, level, time.
SWITCHYARD_INLINE ExperimentReport report_header(const Experiment::Options& o, TimePoint now) {
  ExperimentReport rep;
  rep.name = o.name;
  rep.control = o.control;
  rep.mode = o.mode;
  rep.confidence = o.confidence;
  rep.at = now;
  return rep;
}

/// Step 3: each arm's expected and observed share, and the sample-ratio check between them.
SWITCHYARD_INLINE void check_sample_ratio(ExperimentReport& rep, const Experiment::Options& o,
                                          const std::vector<std::uint64_t>& exposures) {
  double total_weight = 0.0;
  std::uint64_t total_exposures = 0;
  std::vector<double> weights(o.arms.size());
  for (std::size_t a = 0; a < o.arms.size(); ++a) {
    weights[a] = o.arms[a].weight;
    total_weight += weights[a];
    total_exposures += exposures[a];
  }
  for (std::size_t a = 0; a < o.arms.size(); ++a) {
    ArmReport ar;
    ar.variant = o.arms[a].variant;
    ar.weight = weights[a];
    ar.expected_share = weights[a] / total_weight;
    ar.exposures = exposures[a];
    ar.observed_share =
        total_exposures ? static_cast<double>(exposures[a]) / static_cast<double>(total_exposures)
                        : 0.0;
    rep.arms.push_back(std::move(ar));
  }
  rep.srm =
      stats::sample_ratio_mismatch(exposures, weights, o.srm_threshold, o.srm_zero_weight_arms);
}

/// One variant's value of a metric with its interval (Wilson for rates, Student t for means).
SWITCHYARD_INLINE VariantMetric describe_variant(const std::string& variant, const ArmData& d,
                                                 double confidence) {
  VariantMetric vm;
  vm.variant = variant;
  vm.n = d.n();
  vm.mean = d.mean();
  if (!d.rate) {
    vm.interval = mean_interval(d.moments, confidence);
  } else if (d.counter.trials() >= 2) {
    vm.interval = stats::wilson_interval(d.counter, confidence);
  } else {
    vm.interval.reason = "fewer than 2 observations";
    vm.interval.estimate = vm.mean;
    vm.interval.confidence = confidence;
  }
  return vm;
}

/// One treatment against the control on one metric: the test of the mode, the relative lift, the
/// chance to beat control and (primary, or every metric with guardrail_power) the power.
SWITCHYARD_INLINE MetricComparison compare_arms(const MetricSpec& spec, bool higher,
                                                const ArmData& control, const ArmData& treatment,
                                                const Experiment::Options& o, bool primary,
                                                std::optional<stats::SampleSizeResult>& rate_plan) {
  MetricComparison c;
  c.metric = spec.name;
  c.control_mean = control.mean();
  c.treatment_mean = treatment.mean();
  const stats::SampleSummary ks = control.summary(), ts = treatment.summary();
  const stats::EffectMoments rel_m = stats::effect_moments(ks, ts, stats::EffectScale::kRelative);
  const stats::EffectMoments abs_m = stats::effect_moments(ks, ts, stats::EffectScale::kAbsolute);
  const stats::SequentialOptions so{o.confidence, o.sequential_tuning};
  if (o.mode == AnalysisMode::kFixedHorizon) {
    const stats::TestResult r =
        treatment.rate ? stats::TestResult(stats::two_proportion_z_test(
                             control.counter, treatment.counter, o.confidence))
                       : stats::TestResult(stats::welch_t_test(control.moments, treatment.moments,
                                                               o.confidence));
    c.status = r.status;
    c.reason = r.reason;
    c.absolute_effect = r.effect;
    c.absolute_interval = r.interval;
    c.p_value = r.p_value;
    const stats::LiftResult lift = stats::lift_test(rel_m, o.confidence);
    c.relative_status = lift.status;
    c.relative_effect = lift.effect;
    c.relative_interval = lift.interval;
    c.always_valid_p_value = stats::sequential_test(abs_m, so).p_value;
  } else {
    const stats::SequentialResult a = stats::sequential_test(abs_m, so);
    c.status = a.status;
    c.reason = a.reason;
    c.absolute_effect = a.effect;
    c.absolute_interval = a.interval;
    c.p_value = a.p_value;
    c.always_valid_p_value = a.p_value;
    const stats::SequentialResult r = stats::sequential_test(rel_m, so);
    c.relative_status = r.status;
    c.relative_effect = r.effect;
    c.relative_interval = r.interval;
  }
  c.adjusted_p_value = c.p_value;
  stats::BayesianOptions bo;
  bo.credibility = o.confidence;
  bo.inverse = !higher;
  stats::BayesianResult b = stats::bayesian_test(rel_m, bo);
  if (!b.ok()) {
    bo.prior_scale = stats::EffectScale::kAbsolute;
    b = stats::bayesian_test(abs_m, bo);
  }
  c.chance_to_beat_control = b.ok() ? b.chance_to_win : 0.5;
  if (primary || o.guardrail_power) {
    stats::PowerOptions po;
    po.alpha = 1.0 - o.confidence;
    po.power = o.power;
    const PowerPlan plan = comparison_power(control, treatment, spec.minimum_detectable_effect,
                                            higher, po, primary, rate_plan);
    c.power_status = plan.status;
    c.power = plan.power;
    c.more_samples_per_arm = plan.more_per_arm;
  }
  return c;
}

/// Step 4, per metric: each variant, each treatment against the control, Holm across the
/// treatments on the primary metric (guardrails stay unadjusted: they err on the side of
/// blocking), and the verdicts.
SWITCHYARD_INLINE MetricReport analyze_metric(const ExperimentState& s, std::size_t m,
                                              const std::vector<ArmData>& data) {
  const Experiment::Options& o = s.options;
  const ExperimentState::ResolvedMetric& rm = s.metrics[m];
  MetricReport mr;
  mr.name = rm.spec.name;
  mr.kind = rm.spec.kind;
  mr.primary = m == 0;
  mr.higher_is_better = rm.higher_is_better;
  mr.minimum_detectable_effect = rm.spec.minimum_detectable_effect;
  for (std::size_t a = 0; a < o.arms.size(); ++a) {
    mr.variants.push_back(describe_variant(o.arms[a].variant, data[a], o.confidence));
  }
  std::optional<stats::SampleSizeResult> rate_plan;
  for (std::size_t a = 0; a < o.arms.size(); ++a) {
    if (a == s.control) continue;
    MetricComparison c = compare_arms(rm.spec, rm.higher_is_better, data[s.control], data[a], o,
                                      mr.primary, rate_plan);
    c.variant = o.arms[a].variant;
    mr.comparisons.push_back(std::move(c));
  }
  const double alpha = 1.0 - o.confidence;
  if (mr.primary) {
    std::vector<MetricComparison*> family;
    for (auto& c : mr.comparisons) family.push_back(&c);
    holm_adjust(family, alpha);
    holm_adjust(family, alpha, &MetricComparison::always_valid_p_value,
                &MetricComparison::always_valid_p_value);
  }
  for (auto& c : mr.comparisons) judge(c, rm.higher_is_better, alpha);
  return mr;
}

/// "accuracy +7.0% (95% CI [+1.2%, +12.8%], p = 0.003)": a comparison in a decision's reason.
SWITCHYARD_INLINE std::string describe_effect(const MetricComparison& c, double confidence) {
  const EffectWords w = effect_words(c, confidence, EffectWording{});
  return c.metric + " " + w.value + " (" + w.detail + ")";
}

/// The decision of an experiment whose split does not fit its weights: invalid, with the numbers.
SWITCHYARD_INLINE ExperimentDecision sample_ratio_decision(const ExperimentReport& rep) {
  ExperimentDecision dec;
  dec.kind = DecisionKind::kInvalid;
  dec.variant = rep.control;
  std::string observed, expected;
  for (std::size_t a = 0; a < rep.arms.size(); ++a) {
    observed += (a ? "/" : "") + std::to_string(rep.arms[a].exposures);
    expected += (a ? "/" : "") + report_fixed(rep.arms[a].expected_share * 100.0, 1) + "%";
  }
  dec.reason = "sample ratio mismatch: exposures " + observed + " do not fit the weights " +
               expected + " (chi-square " + report_fixed(rep.srm.statistic, 2) + ", " +
               report_p_value(rep.srm.p_value) +
               "); the assignment or the logging is broken, so no result can be trusted";
  return dec;
}

/// Step 5: the decision (see Experiment for the rules).
SWITCHYARD_INLINE ExperimentDecision decide(const ExperimentReport& rep,
                                            const Experiment::Options& o) {
  if (rep.srm.mismatch) return sample_ratio_decision(rep);
  ExperimentDecision dec;
  dec.variant = o.control;
  const double alpha = 1.0 - o.confidence;
  auto describe = [&](const MetricComparison& c) { return describe_effect(c, o.confidence); };
  const MetricReport& primary = rep.metrics.front();
  const bool sequential = o.mode == AnalysisMode::kSequential;
  const MetricComparison* best = nullptr;
  std::vector<std::string> against;  // why each decided treatment is not shipped
  std::vector<std::string> waiting;  // why each undecided treatment waits
  std::uint64_t more = 0;
  for (std::size_t t = 0; t < primary.comparisons.size(); ++t) {
    const MetricComparison& pc = primary.comparisons[t];
    const MetricComparison* worse_guard = nullptr;
    const MetricComparison* blind_guard = nullptr;
    for (std::size_t g = 1; g < rep.metrics.size(); ++g) {
      const MetricComparison& gc = rep.metrics[g].comparisons[t];
      if (gc.regression && !worse_guard) worse_guard = &gc;
      if (gc.status != stats::StatStatus::kOk && !blind_guard) blind_guard = &gc;
    }
    const bool powered = pc.power_status == stats::StatStatus::kOk && pc.power >= o.power;
    // Before the planned size a fixed-horizon result may stop only if the always-valid test agrees.
    const bool at_horizon = sequential || powered || pc.always_valid_p_value < alpha;
    if (worse_guard) {
      against.push_back(pc.variant + ": guardrail " + describe(*worse_guard) + " is worse");
      continue;
    }
    if (pc.status == stats::StatStatus::kOk && at_horizon && pc.improvement && !blind_guard) {
      if (best == nullptr ||
          (primary.higher_is_better ? pc.relative_effect > best->relative_effect
                                    : pc.relative_effect < best->relative_effect)) {
        best = &pc;
      }
      continue;
    }
    if (pc.status == stats::StatStatus::kOk && at_horizon && pc.regression) {
      against.push_back(pc.variant + ": " + describe(pc) + " is worse");
      continue;
    }
    if (pc.status == stats::StatStatus::kOk && powered && !pc.significant) {
      against.push_back(pc.variant + ": no significant effect on " + describe(pc) +
                        " at the planned power");
      continue;
    }
    // Undecided.
    const std::uint64_t need = pc.more_samples_per_arm.value_or(0);
    std::string why;
    if (pc.status != stats::StatStatus::kOk) {
      why = pc.variant + ": " + primary.name + " cannot be compared yet (" + pc.reason + ")";
    } else if (pc.improvement && blind_guard) {
      why = pc.variant + ": " + describe(pc) + " but guardrail " + blind_guard->metric +
            " has no comparison yet (" + blind_guard->reason + ")";
    } else if (pc.significant) {
      why = pc.variant + ": " + describe(pc) +
            " before the planned sample size, and the always-valid test does not confirm it yet "
            "(" +
            report_p_value(pc.always_valid_p_value) + ")";
    } else {
      why = pc.variant + ": " + describe(pc) + " is not significant yet";
    }
    more = std::max(more, need);
    waiting.push_back(std::move(why));
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "; " : "") + v[i];
    return out;
  };
  if (best != nullptr) {
    dec.kind = DecisionKind::kShipTreatment;
    dec.variant = best->variant;
    dec.reason = "ship " + best->variant + ": " + describe(*best) + " against " + o.control +
                 ", chance to beat control " +
                 report_fixed(best->chance_to_beat_control * 100.0, 1) +
                 "%, no guardrail worse";
  } else if (waiting.empty()) {
    dec.kind = DecisionKind::kKeepControl;
    dec.reason = "keep " + o.control + ": " + join(against);
  } else {
    dec.kind = DecisionKind::kNeedMoreData;
    dec.more_samples_per_arm = more;
    dec.reason = (more ? "need about " + std::to_string(more) + " more samples per arm: "
                       : std::string("need more data: ")) +
                 join(waiting);
  }
  return dec;
}

}  // namespace switchyard::detail
