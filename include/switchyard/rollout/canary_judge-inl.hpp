// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of CanaryJudge: the per-metric sequential tests, Kayenta's scoring, validation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <switchyard/core/error.hpp>
#include <switchyard/rollout/canary_judge.hpp>
#include <switchyard/rollout/detail/canary_judge_statistics.hpp>
#include <switchyard/rollout/detail/report_text.hpp>

namespace switchyard {

SWITCHYARD_INLINE std::string_view to_string(JudgeMetricKind k) noexcept {
  switch (k) {
    case JudgeMetricKind::kSamples:
      return "samples";
    case JudgeMetricKind::kProportion:
      return "proportion";
    case JudgeMetricKind::kMean:
      return "mean";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string_view to_string(BadDirection d) noexcept {
  switch (d) {
    case BadDirection::kIncrease:
      return "increase";
    case BadDirection::kDecrease:
      return "decrease";
    case BadDirection::kEither:
      return "either";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string_view to_string(ToleranceScale s) noexcept {
  switch (s) {
    case ToleranceScale::kRelative:
      return "relative";
    case ToleranceScale::kAbsolute:
      return "absolute";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string_view to_string(MetricClassification c) noexcept {
  switch (c) {
    case MetricClassification::kPass:
      return "pass";
    case MetricClassification::kHigh:
      return "high";
    case MetricClassification::kLow:
      return "low";
    case MetricClassification::kNoData:
      return "nodata";
    case MetricClassification::kInconclusive:
      return "inconclusive";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string_view to_string(JudgeVerdict v) noexcept {
  switch (v) {
    case JudgeVerdict::kPass:
      return "pass";
    case JudgeVerdict::kMarginal:
      return "marginal";
    case JudgeVerdict::kFail:
      return "fail";
    case JudgeVerdict::kInconclusive:
      return "inconclusive";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string_view to_string(PassRule r) noexcept {
  switch (r) {
    case PassRule::kNotRejected:
      return "not_rejected";
    case PassRule::kWithinTolerance:
      return "within_tolerance";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Validation

SWITCHYARD_INLINE void JudgeConfig::validate() const {
  auto fail = [](const std::string& what) { throw InvalidArgument("JudgeConfig." + what); };
  auto num = [](double v) { return detail::canary_judge::number(v); };
  if (metrics.empty()) fail("metrics must not be empty");
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const JudgeMetric& m = metrics[i];
    const std::string at = "metrics[" + std::to_string(i) + "] '" + m.name + "': ";
    if (m.name.empty()) fail("metrics[" + std::to_string(i) + "]: name must not be empty");
    for (std::size_t k = 0; k < i; ++k) {
      if (metrics[k].name == m.name) fail(at + "name repeats metrics[" + std::to_string(k) + "]");
    }
    if (!(m.tolerance >= 0.0) || !std::isfinite(m.tolerance)) {
      fail(at + "tolerance must be finite and >= 0, got " + num(m.tolerance));
    }
    if (m.min_samples == 0) fail(at + "min_samples must be >= 1");
    if (m.kind == JudgeMetricKind::kMean && m.min_samples < 2) {
      fail(at + "min_samples must be >= 2 for a mean (a variance needs two observations)");
    }
    if (static_cast<unsigned>(m.kind) > 2) fail(at + "kind is not a JudgeMetricKind");
    if (static_cast<unsigned>(m.bad_direction) > 2)
      fail(at + "bad_direction is not a BadDirection");
    if (static_cast<unsigned>(m.tolerance_scale) > 1) {
      fail(at + "tolerance_scale is not a ToleranceScale");
    }
  }
  double sum = 0.0;
  for (std::size_t i = 0; i < group_weights.size(); ++i) {
    const GroupWeight& g = group_weights[i];
    const std::string at = "group_weights[" + std::to_string(i) + "] '" + g.group + "': ";
    if (!(g.weight >= 0.0) || !std::isfinite(g.weight)) {
      fail(at + "weight must be finite and >= 0, got " + num(g.weight));
    }
    if (std::none_of(metrics.begin(), metrics.end(),
                     [&](const JudgeMetric& m) { return m.group == g.group; })) {
      fail(at + "no metric is in this group");
    }
    for (std::size_t k = 0; k < i; ++k) {
      if (group_weights[k].group == g.group) fail(at + "group repeats");
    }
    sum += g.weight;
  }
  if (sum > 100.0 + 1e-9) fail("group_weights must sum to at most 100, got " + num(sum));
  for (const JudgeMetric& m : metrics) {
    const bool weighted = std::any_of(group_weights.begin(), group_weights.end(),
                                      [&](const GroupWeight& g) { return g.group == m.group; });
    if (!weighted) {
      sum = -1.0;  // some group shares the remainder
      break;
    }
  }
  if (sum >= 0.0 && std::fabs(sum - 100.0) > 1e-9) {
    fail("group_weights weigh every group and must then sum to 100, got " + num(sum));
  }
  if (!(pass_score >= 0.0 && pass_score <= 100.0)) {
    fail("pass_score must lie in [0, 100], got " + num(pass_score));
  }
  if (!(marginal_score >= 0.0 && marginal_score <= pass_score)) {
    fail("marginal_score must lie in [0, pass_score], got " + num(marginal_score));
  }
  if (!(alpha > 0.0 && alpha < 1.0)) {
    fail("alpha must lie strictly between 0 and 1, got " + num(alpha));
  }
  if (!(tuning_parameter > 0.0) || !std::isfinite(tuning_parameter)) {
    fail("tuning_parameter must be positive and finite, got " + num(tuning_parameter));
  }
  if (static_cast<unsigned>(pass_rule) > 1) fail("pass_rule is not a PassRule");
}

// ---------------------------------------------------------------------------------------------
// CanaryJudge

SWITCHYARD_INLINE CanaryJudge::CanaryJudge(JudgeConfig config) : config_(std::move(config)) {
  config_.validate();
  group_of_.reserve(config_.metrics.size());
  for (const JudgeMetric& m : config_.metrics) {
    const auto it = std::find(group_names_.begin(), group_names_.end(), m.group);
    group_of_.push_back(static_cast<std::uint32_t>(it - group_names_.begin()));
    if (it == group_names_.end()) group_names_.push_back(m.group);
  }
  double given = 0.0;
  std::size_t unweighted = 0;
  group_weight_.assign(group_names_.size(), -1.0);
  for (std::size_t g = 0; g < group_names_.size(); ++g) {
    for (const GroupWeight& w : config_.group_weights) {
      if (w.group == group_names_[g]) group_weight_[g] = w.weight;
    }
    if (group_weight_[g] < 0.0) {
      ++unweighted;
    } else {
      given += group_weight_[g];
    }
  }
  for (double& w : group_weight_) {
    if (w < 0.0) w = (100.0 - given) / static_cast<double>(unweighted);
  }
  state_.assign(config_.metrics.size(), MetricState{});
}

SWITCHYARD_INLINE CanaryJudge::~CanaryJudge() = default;

SWITCHYARD_INLINE void CanaryJudge::reset() noexcept {
  looks_ = 0;
  for (MetricState& s : state_) s = MetricState{};
}

SWITCHYARD_INLINE Judgement CanaryJudge::evaluate(const JudgeInput& input) {
  Judgement j;
  evaluate(input, j);
  return j;
}

SWITCHYARD_INLINE void CanaryJudge::evaluate(const JudgeInput& input, Judgement& out) {
  namespace dj = detail::canary_judge;
  const std::size_t n_metrics = config_.metrics.size();
  if (input.metrics.size() != n_metrics) {
    throw InvalidArgument("CanaryJudge::evaluate: " + std::to_string(input.metrics.size()) +
                          " observations for " + std::to_string(n_metrics) + " metrics");
  }
  // Check every observation before changing any state: a rejected call leaves the judge as it
  // was.
  std::uint64_t counts[2 * 64];
  std::vector<std::uint64_t> counts_heap;
  std::uint64_t* cnt = counts;
  if (n_metrics > 64) {
    counts_heap.resize(2 * n_metrics);
    cnt = counts_heap.data();
  }
  for (std::size_t i = 0; i < n_metrics; ++i) {
    const JudgeMetric& m = config_.metrics[i];
    const MetricObservation& o = input.metrics[i];
    std::uint64_t ns = 0, nc = 0;
    switch (m.kind) {
      case JudgeMetricKind::kSamples:
        ns = o.stable_samples.size();
        nc = o.candidate_samples.size();
        break;
      case JudgeMetricKind::kProportion:
        if (o.stable_counts.successes > o.stable_counts.trials ||
            o.candidate_counts.successes > o.candidate_counts.trials) {
          throw InvalidArgument(
              "CanaryJudge::evaluate: metric '" + m.name + "': " +
              (o.stable_counts.successes > o.stable_counts.trials ? "stable" : "candidate") +
              " successes exceed trials");
        }
        ns = o.stable_counts.trials;
        nc = o.candidate_counts.trials;
        break;
      case JudgeMetricKind::kMean:
        ns = o.stable_moments.count;
        nc = o.candidate_moments.count;
        break;
    }
    const MetricState& s = state_[i];
    if (ns < s.stable_count || nc < s.candidate_count) {
      const bool st = ns < s.stable_count;
      throw InvalidArgument("CanaryJudge::evaluate: metric '" + m.name +
                            "': " + (st ? "stable" : "candidate") + " count went down from " +
                            std::to_string(st ? s.stable_count : s.candidate_count) + " to " +
                            std::to_string(st ? ns : nc) +
                            "; the judge needs cumulative data (reset() starts a new sequence)");
    }
    cnt[2 * i] = ns;
    cnt[2 * i + 1] = nc;
  }

  ++looks_;
  out.look = looks_;
  out.metrics.resize(n_metrics);
  out.groups.resize(group_names_.size());
  for (std::size_t g = 0; g < group_names_.size(); ++g) {
    GroupScore& gs = out.groups[g];
    gs.group = group_names_[g];
    gs.weight = group_weight_[g];
    gs.score = 100.0;
    gs.passed = gs.failed = gs.pending = 0;
  }
  const double alpha = config_.alpha;
  bool critical_failure = false;
  std::string critical_name;

  for (std::size_t i = 0; i < n_metrics; ++i) {
    const JudgeMetric& m = config_.metrics[i];
    const MetricObservation& o = input.metrics[i];
    MetricState& s = state_[i];
    MetricResult& r = out.metrics[i];
    r.name = m.name;
    r.group = m.group;
    r.critical = m.critical;
    r.p_value = 1.0;
    r.effect = 0.0;
    r.interval = stats::Interval{};
    r.reason.clear();
    r.stable_count = s.stable_count = cnt[2 * i];
    r.candidate_count = s.candidate_count = cnt[2 * i + 1];
    const std::uint64_t total = r.stable_count + r.candidate_count;

    auto classify = [&]() -> MetricClassification {
      if (r.stable_count == 0 || r.candidate_count == 0) {
        r.reason = std::string(r.stable_count == 0 ? "stable" : "candidate") + " has no data";
        return MetricClassification::kNoData;
      }
      if (r.stable_count < m.min_samples || r.candidate_count < m.min_samples) {
        r.reason = "holding: " + std::to_string(std::min(r.stable_count, r.candidate_count)) +
                   " of " + std::to_string(m.min_samples) + " observations per side";
        return MetricClassification::kInconclusive;
      }
      // Each side of kEither is tested at alpha / 2.
      const double side_alpha = m.bad_direction == BadDirection::kEither ? alpha / 2.0 : alpha;
      const dj::Boundaries side = dj::boundaries(total, side_alpha, config_.tuning_parameter);
      const double z_interval =
          side_alpha == alpha ? side.two_sided
                              : dj::boundaries(total, alpha, config_.tuning_parameter).two_sided;
      dj::Evidence e;
      switch (m.kind) {
        case JudgeMetricKind::kSamples: {
          if (!dj::finite_samples(o.stable_samples, o.samples_sorted) ||
              !dj::finite_samples(o.candidate_samples, o.samples_sorted)) {
            r.reason = "inconclusive: a sample is NaN or infinite";
            return MetricClassification::kInconclusive;
          }
          const auto y = dj::sorted_view(o.stable_samples, o.samples_sorted, scratch_stable_);
          const auto x = dj::sorted_view(o.candidate_samples, o.samples_sorted, scratch_candidate_);
          e = dj::sample_evidence(m, y, x, z_interval, config_.sample_intervals);
          break;
        }
        case JudgeMetricKind::kProportion: {
          dj::Contrast c;
          const double ns = static_cast<double>(o.stable_counts.trials);
          const double nc = static_cast<double>(o.candidate_counts.trials);
          c.mean_s = static_cast<double>(o.stable_counts.successes) / ns;
          c.mean_c = static_cast<double>(o.candidate_counts.successes) / nc;
          c.var_mean_s = c.mean_s * (1.0 - c.mean_s) / ns;
          c.var_mean_c = c.mean_c * (1.0 - c.mean_c) / nc;
          if (config_.proportion_boundary_variance) c.boundary_trials_c = nc;
          e = dj::contrast_evidence(m, c, z_interval);
          break;
        }
        case JudgeMetricKind::kMean: {
          const stats::SampleSummary& ss = o.stable_moments;
          const stats::SampleSummary& sc = o.candidate_moments;
          if (ss.rejected || sc.rejected || !std::isfinite(ss.mean) || !std::isfinite(sc.mean) ||
              !(ss.variance >= 0.0) || !(sc.variance >= 0.0) || !std::isfinite(ss.variance) ||
              !std::isfinite(sc.variance)) {
            e.why = "moments hold NaN, infinite or rejected values";
          } else if (m.tolerance_scale == ToleranceScale::kRelative && !(ss.mean > 0.0)) {
            e.why = "a relative tolerance needs a positive stable mean; use an absolute tolerance";
          } else {
            dj::Contrast c;
            c.mean_s = ss.mean;
            c.mean_c = sc.mean;
            c.var_mean_s = ss.variance_of_mean();
            c.var_mean_c = sc.variance_of_mean();
            e = dj::contrast_evidence(m, c, z_interval);
          }
          break;
        }
      }
      if (!e.usable) {
        r.reason = "inconclusive: " + e.why;
        return MetricClassification::kInconclusive;
      }
      r.effect = e.effect;
      r.interval = e.interval;
      const bool high = e.has_high && e.z_high > side.one_sided;
      const bool low = e.has_low && -e.z_low > side.one_sided;
      // The p-value of the side nearer to rejection; Bonferroni-doubled for kEither.
      double p = 1.0;
      if (e.has_high)
        p = std::min(p, dj::one_sided_p(e.z_high, total, side_alpha, config_.tuning_parameter));
      if (e.has_low)
        p = std::min(p, dj::one_sided_p(-e.z_low, total, side_alpha, config_.tuning_parameter));
      if (m.bad_direction == BadDirection::kEither) p = std::min(1.0, 2.0 * p);
      r.p_value = p;
      auto explain = [&](bool is_high) {
        return "candidate " + dj::effect_text(m, e.effect) + " [" +
               dj::effect_text(m, e.interval.lower) + ", " + dj::effect_text(m, e.interval.upper) +
               "] against stable, tolerance " + dj::tolerance_text(m, is_high) +
               ", p = " + dj::number(p);
      };
      if (high || low) {
        r.reason = explain(high);
        return high ? MetricClassification::kHigh : MetricClassification::kLow;
      }
      if (config_.pass_rule == PassRule::kWithinTolerance) {
        // Within tolerance: every existing boundary rejected from the inside.
        const bool in_hi = !e.has_high || -e.z_high > side.one_sided;
        const bool in_lo = !e.has_low || e.z_low > side.one_sided;
        if (!(in_hi && in_lo)) {
          r.reason = "inconclusive: not yet shown within tolerance; " + explain(e.has_high);
          return MetricClassification::kInconclusive;
        }
      }
      return MetricClassification::kPass;
    };

    if (s.latched == MetricClassification::kHigh || s.latched == MetricClassification::kLow) {
      // A decided failure stands; recompute the numbers for the report.
      const MetricClassification now = classify();
      r.classification = s.latched;
      if (now != s.latched) r.reason = "failed at an earlier look; " + r.reason;
    } else {
      r.classification = classify();
      if (r.classification == MetricClassification::kHigh ||
          r.classification == MetricClassification::kLow) {
        s.latched = r.classification;
      }
    }

    GroupScore& gs = out.groups[group_of_[i]];
    switch (r.classification) {
      case MetricClassification::kPass:
        ++gs.passed;
        break;
      case MetricClassification::kHigh:
      case MetricClassification::kLow:
        ++gs.failed;
        if (m.critical && !critical_failure) {
          critical_failure = true;
          critical_name = m.name;
        }
        break;
      case MetricClassification::kNoData:
        if (m.must_have_data) ++gs.pending;
        break;
      case MetricClassification::kInconclusive:
        ++gs.pending;
        break;
    }
  }

  // Kayenta's weighted sum: a group scores its passed share of judged metrics (100 when none was
  // judged); the best case counts every pending metric as passing.
  double score = 0.0, best = 0.0;
  std::uint32_t pending = 0, judged_total = 0;
  for (GroupScore& gs : out.groups) {
    const std::uint32_t judged = gs.passed + gs.failed;
    judged_total += judged;
    gs.score = judged ? 100.0 * gs.passed / judged : 100.0;
    const std::uint32_t all = judged + gs.pending;
    const double best_group = all ? 100.0 * (gs.passed + gs.pending) / all : 100.0;
    score += gs.score * gs.weight / 100.0;
    best += best_group * gs.weight / 100.0;
    pending += gs.pending;
  }
  score = std::round(score * 100.0) / 100.0;
  best = std::round(best * 100.0) / 100.0;

  std::string failing, held;
  for (const MetricResult& r : out.metrics) {
    const bool f = r.classification == MetricClassification::kHigh ||
                   r.classification == MetricClassification::kLow;
    if (f)
      failing +=
          (failing.empty() ? "" : ", ") + r.name + " " + std::string(to_string(r.classification));
    if (r.classification == MetricClassification::kInconclusive ||
        r.classification == MetricClassification::kNoData) {
      held += (held.empty() ? "" : ", ") + r.name;
    }
  }
  if (critical_failure) {
    out.verdict = JudgeVerdict::kFail;
    out.score = 0.0;
  } else if (judged_total == 0) {
    // Nothing was judged (every metric without data and optional): no evidence either way.
    out.score = score;
    out.verdict = JudgeVerdict::kInconclusive;
  } else if (pending > 0) {
    out.score = score;
    out.verdict = best < config_.marginal_score ? JudgeVerdict::kFail : JudgeVerdict::kInconclusive;
  } else {
    out.score = score;
    out.verdict = score >= config_.pass_score       ? JudgeVerdict::kPass
                  : score >= config_.marginal_score ? JudgeVerdict::kMarginal
                                                    : JudgeVerdict::kFail;
  }
  out.summary = std::string(to_string(out.verdict)) + " at look " + std::to_string(looks_) +
                ", score " + detail::report_fixed(out.score, 2);
  if (critical_failure) out.summary += "; critical metric " + critical_name + " failed";
  if (!failing.empty()) out.summary += "; failing: " + failing;
  if (!held.empty()) out.summary += "; holding on: " + held;
}

}  // namespace switchyard
