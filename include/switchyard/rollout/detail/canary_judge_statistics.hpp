// SPDX-License-Identifier: Apache-2.0
// Internal: the canary judge's statistics (always-valid boundaries, the rank statistic at a
// tolerance boundary, contrasts with Fieller's interval), kept apart so tests can reach them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <switchyard/rollout/canary_judge.hpp>
#include <switchyard/stats/detail/root_finding.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/sequential_test.hpp>
#include <vector>

namespace switchyard::detail::canary_judge {

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

/// The standardised Mann-Whitney statistic from U (candidate values above mapped stable values,
/// ties half) and the pooled tie term: continuity-corrected towards 0 as R's wilcox.test and
/// Kayenta do. False when every pooled value is tied.
inline bool rank_z_from_u(double u, double tie_term, double n1, double n2, double& z) {
  const double n = n1 + n2;
  const double dz = u - n1 * n2 / 2.0;
  const double sigma = std::sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0))));
  if (!(sigma > 0.0)) return false;
  const double corr = dz > 0.0 ? 0.5 : (dz < 0.0 ? -0.5 : 0.0);
  z = (dz - corr) / sigma;
  return true;
}

/// The exact merge: U of x against y mapped by v -> a v + b (a > 0) and the pooled tie term,
/// tie groups spanning both samples included.
inline void rank_u_exact(std::span<const double> x, std::span<const double> y, double a, double b,
                         double& u, double& tie_term) {
  const std::size_t nx = x.size(), ny = y.size();
  std::size_t i = 0, j = 0;
  u = 0.0;
  tie_term = 0.0;
  while (i < nx || j < ny) {
    const double vy = j < ny ? a * y[j] + b : kInf;
    const double v = (i < nx && x[i] <= vy) ? x[i] : vy;
    std::size_t cx = 0, cy = 0;
    const std::size_t below = j;  // mapped stable values strictly below v
    while (i < nx && x[i] == v) {
      ++i;
      ++cx;
    }
    while (j < ny && a * y[j] + b == v) {
      ++j;
      ++cy;
    }
    u += static_cast<double>(cx) * (static_cast<double>(below) + 0.5 * static_cast<double>(cy));
    const double t = static_cast<double>(cx + cy);
    if (t > 1.0) tie_term += t * t * t - t;
  }
}

/// Sum of t^3 - t over the runs of equal values of a sorted sample.
inline double run_tie_term(std::span<const double> v) {
  double term = 0.0;
  std::size_t start = 0;
  for (std::size_t k = 1; k <= v.size(); ++k) {
    if (k == v.size() || v[k] != v[start]) {
      const double t = static_cast<double>(k - start);
      term += t * t * t - t;
      start = k;
    }
  }
  return term;
}

/// The rank statistic of a candidate sample against a stable one under many maps v -> a v + b,
/// as the judge needs it at the tolerance boundaries and in the Hodges-Lehmann root searches.
/// The ties inside each sample do not depend on the map and are counted once. U comes from four
/// branch-free merges run side by side (the candidate sample cut in quarters, each quarter's
/// stable start found by binary search), so the processor overlaps four dependency chains: the
/// merge is what an evaluation spends its time on. When a candidate value equals a mapped stable
/// value (a tie across the samples, common at a = 1 for quantised data) the exact merge
/// recounts. Thread-safe: no; a local helper over the caller's sorted spans.
class RankStatistic {
 public:
  RankStatistic(std::span<const double> x_sorted, std::span<const double> y_sorted)
      : x_(x_sorted),
        y_(y_sorted),
        within_ties_(run_tie_term(x_sorted) + run_tie_term(y_sorted)),
        mapped_(y_sorted.size() + 1) {}

  /// The continuity-corrected standardised statistic; false when every pooled value is tied.
  bool z(double a, double b, double& out) const {
    const std::size_t nx = x_.size(), ny = y_.size();
    for (std::size_t j = 0; j < ny; ++j) mapped_[j] = a * y_[j] + b;
    mapped_[ny] = kInf;  // sentinel: a finished quarter reads it and never takes it
    const double* x = x_.data();
    const double* m = mapped_.data();
    constexpr std::size_t kLanes = 4;
    std::size_t i[kLanes], j[kLanes], steps[kLanes];
    for (std::size_t k = 0; k < kLanes; ++k) {
      const std::size_t lo = k * nx / kLanes, hi = (k + 1) * nx / kLanes;
      i[k] = lo;
      // Stable values below the quarter's first candidate value, and below its last (or the next
      // quarter's first): the quarter merges exactly the values in between.
      j[k] = lo < hi ? static_cast<std::size_t>(std::lower_bound(m, m + ny, x[lo]) - m) : 0;
      const std::size_t j_end =
          lo < hi ? static_cast<std::size_t>(std::lower_bound(m, m + ny, x[hi - 1]) - m) : 0;
      steps[k] = lo < hi ? (hi - lo) + (j_end - j[k]) : 0;
    }
    std::uint64_t below[kLanes] = {0, 0, 0, 0};
    bool cross_tie = false;
    const std::size_t common = std::min(std::min(steps[0], steps[1]), std::min(steps[2], steps[3]));
    auto step = [&](std::size_t k) {
      const double xv = x[i[k]], yv = m[j[k]];
      cross_tie |= yv == xv;
      const bool take_y = yv < xv;
      below[k] += take_y ? 0 : j[k];
      i[k] += take_y ? 0 : 1;
      j[k] += take_y ? 1 : 0;
    };
    for (std::size_t t = 0; t < common; ++t) {
      step(0);
      step(1);
      step(2);
      step(3);
    }
    for (std::size_t k = 0; k < kLanes; ++k) {
      for (std::size_t t = common; t < steps[k]; ++t) step(k);
    }
    double u = static_cast<double>(below[0] + below[1] + below[2] + below[3]);
    double ties = within_ties_;
    if (cross_tie) rank_u_exact(x_, y_, a, b, u, ties);
    return rank_z_from_u(u, ties, static_cast<double>(nx), static_cast<double>(ny), out);
  }

 private:
  std::span<const double> x_, y_;
  double within_ties_;
  mutable std::vector<double> mapped_;
};

/// The Mann-Whitney statistic of x against y mapped by v -> a v + b (a > 0), both sorted: the
/// continuity-corrected standardised rank sum of x, with the tie correction of the pooled
/// sample, as R's wilcox.test and Kayenta compute it. Returns false when every pooled value is
/// tied.
inline bool rank_z(std::span<const double> x, std::span<const double> y, double a, double b,
                   double& z) {
  return RankStatistic(x, y).z(a, b, z);
}

/// The standardised contrast of two means, candidate - (a stable + b), with its delta-free
/// standard error sqrt(v_c / n_c + a^2 v_s / n_s): linear in the data, so it needs no division
/// by a noisy stable level and handles a stable rate of 0.
struct Contrast {
  double mean_c = 0.0, var_mean_c = 0.0;  // mean and variance of the mean
  double mean_s = 0.0, var_mean_s = 0.0;
  /// Proportions with JudgeConfig::proportion_boundary_variance: the candidate's trials; its
  /// variance in z() is then the one of a rate sitting on the boundary (0: the observed one).
  double boundary_trials_c = 0.0;

  /// +/-inf when the standard error is 0 and the contrast is not; 0 when both are.
  double z(double a, double b) const {
    const double d = mean_c - (a * mean_s + b);
    double var_c = var_mean_c;
    if (boundary_trials_c > 0.0) {
      const double p0 = std::clamp(a * mean_s + b, 0.0, 1.0);
      var_c = p0 * (1.0 - p0) / boundary_trials_c;
    }
    const double se = std::sqrt(var_c + a * a * var_mean_s);
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
  std::string why;        // when not usable
  double z_high = 0.0;    // statistic at the upper tolerance boundary (candidate high)
  double z_low = 0.0;     // statistic at the lower tolerance boundary (candidate low)
  bool has_high = false;  // the upper boundary exists (kIncrease, kEither)
  bool has_low = false;   // the lower boundary exists
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

/// Whether a sample metric's data may be judged: unsorted data are checked whole before sorting
/// (a NaN breaks the sort's ordering); sorted data are checked at their ends by sample_evidence.
inline bool finite_samples(std::span<const double> v, bool sorted) {
  return sorted || stats::detail::all_finite(v.data(), v.size());
}

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
                                std::span<const double> x, double z_interval, bool with_interval) {
  Evidence e;
  // Sorted input: an infinite value sits at an end (NaN was checked before sorting, see
  // finite_samples).
  if (!std::isfinite(x.front()) || !std::isfinite(x.back()) || !std::isfinite(y.front()) ||
      !std::isfinite(y.back())) {
    e.why = "a sample is NaN or infinite";
    return e;
  }
  const bool relative = m.tolerance_scale == ToleranceScale::kRelative;
  if (relative && (x.front() <= 0.0 || y.front() <= 0.0)) {
    e.why = "a relative tolerance needs positive samples; use an absolute tolerance";
    return e;
  }
  const RankStatistic rank(x, y);
  auto z_at = [&](const Boundary& bd, double& z) { return rank.z(bd.a, bd.b, z); };
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
      const bool ok = relative ? rank.z(std::exp(u), 0.0, z) : rank.z(1.0, u, z);
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

}  // namespace switchyard::detail::canary_judge
