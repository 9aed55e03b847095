// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of CanaryJudge: the per-metric sequential tests, Kayenta's scoring, validation.
#pragma once

#include <switchyard/rollout/canary_judge.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>

#include <switchyard/core/error.hpp>
#include <switchyard/rollout/detail/report_text.hpp>
#include <switchyard/stats/detail/root_finding.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/sequential_test.hpp>

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

namespace detail::judge {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

/// The always-valid boundaries in standard-normal units after `total` observations: a
/// standardised statistic beyond `one_sided` rejects its one-sided hypothesis at `alpha` (valid
/// over all looks); `two_sided` is the half-width of the two-sided interval at `alpha`. They are
/// GrowthBook's normal-mixture half-widths (stats::sequential_test) of an effect with standard
/// error 1, so the judge and the experiment analysis share one implementation.
struct Boundaries {
  double one_sided = kInf;
  double two_sided = kInf;
};

inline stats::EffectMoments unit_moments(double z, std::uint64_t total) {
  stats::EffectMoments m;
  m.status = stats::StatStatus::kOk;
  m.scale = stats::EffectScale::kAbsolute;
  m.estimate = z;
  m.std_error = 1.0;
  m.total_count = total;
  return m;
}

inline Boundaries boundaries(std::uint64_t total, double alpha, double tuning) {
  const stats::SequentialResult r =
      stats::sequential_test(unit_moments(0.0, total), {1.0 - alpha, tuning});
  return {-r.interval_greater.lower, -r.interval.lower};
}

/// The always-valid one-sided p-value of a standardised statistic `z` against its upper side
/// (GrowthBook's clamps [1e-5, 0.4999] kept).
inline double one_sided_p(double z, std::uint64_t total, double alpha, double tuning) {
  if (std::isinf(z)) return z > 0 ? 1e-5 : 0.4999;
  return stats::sequential_test(unit_moments(z, total), {1.0 - alpha, tuning}).p_value_greater;
}

/// The Mann-Whitney statistic of x against y mapped by v -> a v + b (a > 0), both sorted: the
/// continuity-corrected standardised rank sum of x, with the tie correction of the pooled
/// sample, as R's wilcox.test and Kayenta compute it. One merge pass. Returns false when every
/// pooled value is tied.
inline bool rank_z(std::span<const double> x, std::span<const double> y, double a, double b,
                   double& z) {
  const std::size_t nx = x.size(), ny = y.size();
  std::size_t i = 0, j = 0;
  double pos = 0.0, rank_sum_x = 0.0, tie_term = 0.0;
  while (i < nx || j < ny) {
    const double vy = j < ny ? a * y[j] + b : kInf;
    const double v = (i < nx && x[i] <= vy) ? x[i] : vy;
    std::size_t cx = 0, cy = 0;
    while (i < nx && x[i] == v) {
      ++i;
      ++cx;
    }
    while (j < ny && a * y[j] + b == v) {
      ++j;
      ++cy;
    }
    const double t = static_cast<double>(cx + cy);
    rank_sum_x += (pos + (t + 1.0) / 2.0) * static_cast<double>(cx);
    if (t > 1.0) tie_term += t * t * t - t;
    pos += t;
  }
  const double n1 = static_cast<double>(nx), n2 = static_cast<double>(ny), n = n1 + n2;
  const double dz = rank_sum_x - n1 * (n1 + 1.0) / 2.0 - n1 * n2 / 2.0;
  const double sigma = std::sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0))));
  if (!(sigma > 0.0)) return false;
  const double corr = dz > 0.0 ? 0.5 : (dz < 0.0 ? -0.5 : 0.0);
  z = (dz - corr) / sigma;
  return true;
}

/// The standardised contrast of two means, candidate - (a stable + b), with its delta-free
/// standard error sqrt(v_c / n_c + a^2 v_s / n_s): linear in the data, so it needs no division
/// by a noisy stable level and handles a stable rate of 0.
struct Contrast {
  double mean_c = 0.0, var_mean_c = 0.0;  // mean and variance of the mean
  double mean_s = 0.0, var_mean_s = 0.0;

  /// +/-inf when the standard error is 0 and the contrast is not; 0 when both are.
  double z(double a, double b) const {
    const double d = mean_c - (a * mean_s + b);
    const double se = std::sqrt(var_mean_c + a * a * var_mean_s);
    if (se > 0.0) return d / se;
    return d > 0.0 ? kInf : (d < 0.0 ? -kInf : 0.0);
  }

  /// The ratio candidate / stable: the set of r whose contrast candidate - r stable is not
  /// rejected at `zq` (Fieller's theorem). Unbounded where the stable mean is not distinguishable
  /// from 0.
  stats::Interval ratio_interval(double zq) const {
    const double qa = mean_s * mean_s - zq * zq * var_mean_s;
    const double qb = -2.0 * mean_c * mean_s;
    const double qc = mean_c * mean_c - zq * zq * var_mean_c;
    if (!(qa > 0.0)) return {-kInf, kInf};
    const double disc = qb * qb - 4.0 * qa * qc;
    const double mid = -qb / (2.0 * qa);
    if (disc <= 0.0) return {mid, mid};
    const double half = std::sqrt(disc) / (2.0 * qa);
    return {mid - half, mid + half};
  }
};

/// What a metric's test computed, before classification.
struct Evidence {
  bool usable = false;
  std::string why;          // when not usable
  double z_high = 0.0;      // statistic at the upper tolerance boundary (candidate high)
  double z_low = 0.0;       // statistic at the lower tolerance boundary (candidate low)
  bool has_high = false;    // the upper boundary exists (kIncrease, kEither)
  bool has_low = false;     // the lower boundary exists
  double effect = 0.0;
  stats::Interval interval;
};

/// Tolerance boundary as the map v -> a v + b applied to stable: candidate compared against it.
struct Boundary {
  double a = 1.0, b = 0.0;
  bool exists = true;
};

inline Boundary upper_boundary(const JudgeMetric& m) {
  if (m.tolerance_scale == ToleranceScale::kRelative) return {1.0 + m.tolerance, 0.0, true};
  return {1.0, m.tolerance, true};
}

inline Boundary lower_boundary(const JudgeMetric& m) {
  if (m.tolerance_scale == ToleranceScale::kRelative) {
    // A positive metric cannot fall by 100 % or more: no lower boundary to cross.
    return {1.0 - m.tolerance, 0.0, m.tolerance < 1.0};
  }
  return {1.0, -m.tolerance, true};
}

/// A number for people: four significant digits.
inline std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}


}  // namespace detail::judge

// ---------------------------------------------------------------------------------------------
// Validation

SWITCHYARD_INLINE void JudgeConfig::validate() const {
  auto fail = [](const std::string& what) { throw InvalidArgument("JudgeConfig." + what); };
  auto num = [](double v) { return detail::judge::number(v); };
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
    if (static_cast<unsigned>(m.bad_direction) > 2) fail(at + "bad_direction is not a BadDirection");
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

namespace detail::judge {

/// Sorted views of a sample metric's data: the caller's spans when sorted, else sorted copies.
inline std::span<const double> sorted_view(std::span<const double> in, bool sorted,
                                           std::vector<double>& scratch) {
  if (sorted) return in;
  scratch.assign(in.begin(), in.end());
  std::sort(scratch.begin(), scratch.end());
  return scratch;
}

/// kSamples: the rank test at each tolerance boundary and, when asked, the Hodges-Lehmann
/// estimate and always-valid interval (roots of the rank statistic in log ratio or shift).
inline Evidence sample_evidence(const JudgeMetric& m, std::span<const double> y,
                                std::span<const double> x, double z_interval,
                                bool with_interval) {
  Evidence e;
  // Sorted: NaN would sit anywhere, but +-inf at the ends; check every value only once.
  if (!stats::detail::all_finite(x.data(), x.size()) ||
      !stats::detail::all_finite(y.data(), y.size())) {
    e.why = "a sample is NaN or infinite";
    return e;
  }
  const bool relative = m.tolerance_scale == ToleranceScale::kRelative;
  if (relative && (x.front() <= 0.0 || y.front() <= 0.0)) {
    e.why = "a relative tolerance needs positive samples; use an absolute tolerance";
    return e;
  }
  auto z_at = [&](const Boundary& bd, double& z) { return rank_z(x, y, bd.a, bd.b, z); };
  const Boundary hi = upper_boundary(m), lo = lower_boundary(m);
  e.has_high = m.bad_direction != BadDirection::kDecrease;
  e.has_low = m.bad_direction != BadDirection::kIncrease && lo.exists;
  if (e.has_high && !z_at(hi, e.z_high)) {
    // Every pooled value tied at the boundary: candidate sits exactly on it, not beyond.
    e.z_high = 0.0;
  }
  if (e.has_low && !z_at(lo, e.z_low)) e.z_low = 0.0;
  e.usable = true;
  if (!with_interval) {
    double sx = 0.0, sy = 0.0;
    for (double v : x) sx += v;
    for (double v : y) sy += v;
    const double mx = sx / static_cast<double>(x.size()), my = sy / static_cast<double>(y.size());
    e.effect = relative ? (my != 0.0 ? mx / my - 1.0 : 0.0) : mx - my;
    e.interval = {-kInf, kInf};
    return e;
  }
  // Roots in u of rank_z(x, stable mapped by u) = zq: u = log ratio (relative) or shift.
  double lo_u, hi_u;
  if (relative) {
    lo_u = std::log(x.front() / y.back());
    hi_u = std::log(x.back() / y.front());
  } else {
    lo_u = x.front() - y.back();
    hi_u = x.back() - y.front();
  }
  const double tol = relative ? 1e-5 : 1e-6 * std::max(hi_u - lo_u, 1e-300);
  bool tied = false;
  auto root = [&](double zq) {
    auto f = [&](double u) {
      double z = 0.0;
      const bool ok = relative ? rank_z(x, y, std::exp(u), 0.0, z) : rank_z(x, y, 1.0, u, z);
      if (!ok) tied = true;
      return z - zq;
    };
    const double f_lo = f(lo_u);
    if (f_lo <= 0.0) return lo_u;
    const double f_hi = f(hi_u);
    if (f_hi >= 0.0) return hi_u;
    return stats::detail::zeroin(lo_u, hi_u, f_lo, f_hi, f, tol);
  };
  const double est = root(0.0), lower = root(z_interval), upper = root(-z_interval);
  if (tied) {
    e.effect = 0.0;
    e.interval = {0.0, 0.0};
    return e;
  }
  if (relative) {
    e.effect = std::expm1(est);
    e.interval = {std::expm1(lower), std::expm1(upper)};
  } else {
    e.effect = est;
    e.interval = {lower, upper};
  }
  return e;
}

/// kProportion and kMean: the contrast at each tolerance boundary, the ratio (Fieller) or
/// difference with its always-valid interval.
inline Evidence contrast_evidence(const JudgeMetric& m, const Contrast& c, double z_interval) {
  Evidence e;
  const bool relative = m.tolerance_scale == ToleranceScale::kRelative;
  const Boundary hi = upper_boundary(m), lo = lower_boundary(m);
  e.has_high = m.bad_direction != BadDirection::kDecrease;
  e.has_low = m.bad_direction != BadDirection::kIncrease && lo.exists;
  if (e.has_high) e.z_high = c.z(hi.a, hi.b);
  if (e.has_low) e.z_low = c.z(lo.a, lo.b);
  e.usable = true;
  if (relative) {
    e.effect = c.mean_s > 0.0 ? c.mean_c / c.mean_s - 1.0 : (c.mean_c > 0.0 ? kInf : 0.0);
    const stats::Interval r = c.ratio_interval(z_interval);
    e.interval = {r.lower - 1.0, r.upper - 1.0};
  } else {
    e.effect = c.mean_c - c.mean_s;
    const double hw = z_interval * std::sqrt(c.var_mean_c + c.var_mean_s);
    e.interval = {e.effect - hw, e.effect + hw};
  }
  return e;
}

/// "1.31x" for a ratio excess of 0.31, "+4.2" for a difference.
inline std::string effect_text(const JudgeMetric& m, double v) {
  if (m.tolerance_scale == ToleranceScale::kRelative) return number(1.0 + v) + "x";
  return (v >= 0 ? "+" : "") + number(v);
}

inline std::string tolerance_text(const JudgeMetric& m, bool high) {
  const double t = high ? m.tolerance : -m.tolerance;
  return effect_text(m, t);
}

}  // namespace detail::judge

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
  namespace dj = detail::judge;
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
          throw InvalidArgument("CanaryJudge::evaluate: metric '" + m.name + "': " +
                                (o.stable_counts.successes > o.stable_counts.trials
                                     ? "stable"
                                     : "candidate") +
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
      throw InvalidArgument("CanaryJudge::evaluate: metric '" + m.name + "': " +
                            (st ? "stable" : "candidate") + " count went down from " +
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
          const auto y = dj::sorted_view(o.stable_samples, o.samples_sorted, scratch_stable_);
          const auto x =
              dj::sorted_view(o.candidate_samples, o.samples_sorted, scratch_candidate_);
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
      if (e.has_high) p = std::min(p, dj::one_sided_p(e.z_high, total, side_alpha,
                                                      config_.tuning_parameter));
      if (e.has_low) p = std::min(p, dj::one_sided_p(-e.z_low, total, side_alpha,
                                                     config_.tuning_parameter));
      if (m.bad_direction == BadDirection::kEither) p = std::min(1.0, 2.0 * p);
      r.p_value = p;
      auto explain = [&](bool is_high) {
        return "candidate " + dj::effect_text(m, e.effect) + " [" +
               dj::effect_text(m, e.interval.lower) + ", " + dj::effect_text(m, e.interval.upper) +
               "] against stable, tolerance " + dj::tolerance_text(m, is_high) + ", p = " +
               dj::number(p);
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
  std::uint32_t pending = 0;
  for (GroupScore& gs : out.groups) {
    const std::uint32_t judged = gs.passed + gs.failed;
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
    if (f) failing += (failing.empty() ? "" : ", ") + r.name + " " +
                      std::string(to_string(r.classification));
    if (r.classification == MetricClassification::kInconclusive ||
        r.classification == MetricClassification::kNoData) {
      held += (held.empty() ? "" : ", ") + r.name;
    }
  }
  if (critical_failure) {
    out.verdict = JudgeVerdict::kFail;
    out.score = 0.0;
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
