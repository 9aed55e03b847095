// SPDX-License-Identifier: Apache-2.0
// Paired tests of two models scored on the same examples: the paired t-test and Wilcoxon's
// signed-rank test (scipy's ttest_rel and wilcoxon).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/core/error.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/t_test.hpp>
#include <vector>

namespace switchyard::stats {

// Argument order: a paired test compares model a with model b on the same examples, as
// delong_test and mcnemar_test do: a[i] and b[i] are the two models' scores (or losses) on
// example i, every result speaks of a - b, and p_value_greater is scipy's alternative='greater'
// for (a, b): a's values tend to exceed b's. For a shadow comparison pass (shadow, primary) to
// read the effect as shadow - primary.

/// The paired t-test: statistic = t, effect = mean(a - b), interval = the confidence interval
/// of that mean difference, df = pairs - 1, std_error = sd(a - b) / sqrt(pairs).
/// Thread-safe: a value type.
struct PairedTTestResult : TestResult {
  double df = 0.0;
  double std_error = 0.0;
  std::uint64_t pairs = 0;  ///< pairs used (every pair; the t-test keeps zero differences)
};

/// What Wilcoxon's signed-rank test does with pairs whose difference is zero (scipy's names).
enum class WilcoxonZeroMethod : int {
  kWilcox = 0,  ///< drop them before ranking (scipy's default)
  kPratt = 1,   ///< rank them with the others, then drop their ranks (Pratt; Cureton's variance)
  kZsplit = 2,  ///< rank them and split their rank sum evenly between r_plus and r_minus
};

/// How the p-values of Wilcoxon's signed-rank test are computed.
enum class WilcoxonMethod : int {
  /// Exact when at most 50 pairs and no zero differences and no ties in |a - b|; otherwise the
  /// normal approximation. scipy 1.10.1's 'auto' differs on ties: it keeps the exact distribution
  /// there (evaluated at the truncated rank sum, which its own Notes say is then not exact).
  kAuto = 0,
  /// The exact null distribution at any size (about n^3 / 4 steps in the worst case: 0.2 s at
  /// 1,000 pairs, optimised); falls back to the normal approximation when there are zeros (as
  /// scipy does) or ties (where the null distribution is not the tie-free one). `method_used`
  /// tells which was used.
  kExact = 1,
  /// The normal approximation with the tie (and, for kPratt, Cureton's zero) correction of the
  /// variance: scipy's method='approx'.
  kNormal = 2,
};

/// Options of wilcoxon_signed_rank_test; the defaults are scipy's.
struct WilcoxonOptions {
  WilcoxonZeroMethod zero_method = WilcoxonZeroMethod::kWilcox;
  WilcoxonMethod method = WilcoxonMethod::kAuto;
  /// Continuity correction of the normal approximation (0.5 towards the mean); scipy's
  /// `correction`, default false. The exact method ignores it.
  bool continuity_correction = false;
};

/// Wilcoxon's signed-rank test: statistic = min(r_plus, r_minus) (scipy's two-sided statistic;
/// scipy's one-sided statistic is r_plus, reported here too), effect = the matched-pairs
/// rank-biserial correlation (r_plus - r_minus) / (r_plus + r_minus) in [-1, 1] (Kerby 2014;
/// positive when a tends to exceed b). No interval: `interval` stays (-inf, +inf).
/// Thread-safe: a value type.
struct WilcoxonResult : TestResult {
  double r_plus = 0.0;   ///< sum of the ranks of |a - b| over pairs with a > b
  double r_minus = 0.0;  ///< sum of the ranks of |a - b| over pairs with a < b
  /// scipy's zstatistic of the two-sided test, (statistic - mean - correction) / sd, when the
  /// normal approximation was used; 0 with the exact distribution.
  double z = 0.0;
  std::uint64_t pairs = 0;  ///< pairs given
  std::uint64_t zeros = 0;  ///< pairs with a == b
  /// kExact or kNormal: what computed the p-values (never kAuto when status is kOk).
  WilcoxonMethod method_used = WilcoxonMethod::kAuto;
};

namespace detail {

/// Throws InvalidArgument unless the two samples of a paired test have the same length.
inline void require_paired(std::size_t a, std::size_t b, std::string_view test) {
  if (a != b) {
    throw InvalidArgument(std::string(test) + ": a has " + std::to_string(a) +
                          " values but b has " + std::to_string(b) +
                          "; paired samples must have the same length");
  }
}

/// The differences a[i] - b[i]; on a non-finite input or difference fills `why` and returns
/// false, naming the sample and the index.
inline bool paired_differences(std::span<const double> a, std::span<const double> b,
                               std::vector<double>& out, std::string& why) {
  out.resize(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
      why = std::string(std::isfinite(a[i]) ? "b" : "a") + "[" + std::to_string(i) +
            "] is NaN or infinite";
      return false;
    }
    out[i] = a[i] - b[i];
    if (!std::isfinite(out[i])) {
      why = "a[" + std::to_string(i) + "] - b[" + std::to_string(i) + "] overflows";
      return false;
    }
  }
  return true;
}

/// Ranks of |d| (mid-ranks for ties) summed by sign, as scipy.stats.wilcoxon ranks them.
struct SignedRankSums {
  double r_plus = 0.0;
  double r_minus = 0.0;
  double r_zero = 0.0;    ///< ranks of the zero differences (kPratt, kZsplit)
  double tie_term = 0.0;  ///< sum of t^3 - t over the groups of tied ranks scipy corrects for
  std::size_t count = 0;  ///< differences ranked
  std::size_t zeros = 0;  ///< zero differences among them
  bool ties = false;      ///< two non-zero |d| are equal
};

/// `d` is reordered. kWilcox ranks only the non-zero differences; the others rank all.
inline SignedRankSums signed_rank_sums(std::vector<double>& d, WilcoxonZeroMethod zero_method) {
  if (zero_method == WilcoxonZeroMethod::kWilcox) {
    d.erase(std::remove(d.begin(), d.end(), 0.0), d.end());
  }
  std::sort(d.begin(), d.end(), [](double x, double y) { return std::fabs(x) < std::fabs(y); });
  SignedRankSums s;
  s.count = d.size();
  std::size_t pos = 0;
  while (pos < d.size()) {
    const double magnitude = std::fabs(d[pos]);
    std::size_t end = pos + 1;
    while (end < d.size() && std::fabs(d[end]) == magnitude) ++end;
    const std::size_t t = end - pos;
    // Ranks pos+1 .. end share their average; half-integer sums are exact in double.
    const double rank = (static_cast<double>(pos + 1) + static_cast<double>(end)) / 2.0;
    for (std::size_t i = pos; i < end; ++i) {
      if (d[i] > 0.0) s.r_plus += rank;
      if (d[i] < 0.0) s.r_minus += rank;
    }
    if (magnitude == 0.0) {
      s.zeros = t;
      s.r_zero = rank * static_cast<double>(t);
    } else if (t > 1) {
      s.ties = true;
    }
    // scipy corrects for the zeros' tie only under zsplit (pratt drops their ranks first).
    if (t > 1 && (magnitude != 0.0 || zero_method == WilcoxonZeroMethod::kZsplit)) {
      const double td = static_cast<double>(t);
      s.tie_term += td * td * td - td;
    }
    pos = end;
  }
  if (zero_method == WilcoxonZeroMethod::kZsplit) {
    s.r_plus += s.r_zero / 2.0;
    s.r_minus += s.r_zero / 2.0;
  }
  return s;
}

/// The null distribution of R+ for n untied, non-zero differences (the sum of a random subset of
/// 1..n), by dynamic programming over rank sums: scipy's _get_wilcoxon_distr, the same halvings,
/// truncated at k. Returns P(R+ = 0 .. k). O(n k) time, O(k) memory.
inline std::vector<double> signed_rank_pmf(std::size_t n, std::size_t k) {
  std::vector<double> pmf(k + 1, 0.0);
  pmf[0] = 1.0;
  std::size_t top = 0;  // the largest rank sum reachable so far, capped at k
  for (std::size_t rank = 1; rank <= n; ++rank) {
    top = std::min(k, top + rank);
    // Descending, so pmf[r - rank] still holds the previous step's value.
    for (std::size_t r = top + 1; r-- > 0;) {
      pmf[r] = 0.5 * pmf[r] + (r >= rank ? 0.5 * pmf[r - rank] : 0.0);
    }
  }
  return pmf;
}

/// Fills the exact p-values; r_plus is an integer here (no ties, no zeros).
inline void signed_rank_exact(WilcoxonResult& r, std::size_t n) {
  const std::uint64_t m = static_cast<std::uint64_t>(n) * (n + 1) / 2;
  const auto plus = static_cast<std::uint64_t>(r.r_plus);
  // By symmetry P(R+ >= x) = P(R+ <= m - x): only the smaller tail is summed, the other one is
  // the complement of that tail without its end point.
  const std::uint64_t k = std::min(plus, m - plus);
  const std::vector<double> pmf = signed_rank_pmf(n, static_cast<std::size_t>(k));
  CompensatedSum below;  // P(R+ <= k - 1)
  for (std::size_t i = 0; i + 1 < pmf.size(); ++i) below.add(pmf[i]);
  const double small_tail = clamp_probability(below.total() + pmf.back());
  const double large_tail = clamp_probability(1.0 - below.total());
  const bool plus_small = plus <= m - plus;
  r.p_value_less = plus_small ? small_tail : large_tail;     // P(R+ <= r_plus)
  r.p_value_greater = plus_small ? large_tail : small_tail;  // P(R+ >= r_plus)
  r.p_value = std::min(1.0, 2.0 * small_tail);
  r.method_used = WilcoxonMethod::kExact;
}

/// Fills the normal-approximation p-values exactly as scipy 1.10.1 forms them.
inline bool signed_rank_normal(WilcoxonResult& r, const SignedRankSums& s,
                               const WilcoxonOptions& opt) {
  const double n = static_cast<double>(s.count);
  double mean = n * (n + 1.0) * 0.25;
  double var = n * (n + 1.0) * (2.0 * n + 1.0);
  if (opt.zero_method == WilcoxonZeroMethod::kPratt) {
    const double z0 = static_cast<double>(s.zeros);
    mean -= z0 * (z0 + 1.0) * 0.25;
    var -= z0 * (z0 + 1.0) * (2.0 * z0 + 1.0);
  }
  var -= 0.5 * s.tie_term;
  const double sd = std::sqrt(var / 24.0);
  if (!(sd > 0.0)) return false;
  const double c = opt.continuity_correction ? 0.5 : 0.0;
  const double t = r.statistic;
  const double two_sided_c = t > mean ? c : (t < mean ? -c : 0.0);
  r.z = (t - mean - two_sided_c) / sd;
  r.p_value = clamp_probability(2.0 * normal_sf(std::fabs(r.z)));
  r.p_value_greater = normal_sf((r.r_plus - mean - c) / sd);
  r.p_value_less = normal_cdf((r.r_plus - mean + c) / sd);
  r.method_used = WilcoxonMethod::kNormal;
  return true;
}

inline void validate_wilcoxon_options(const WilcoxonOptions& opt) {
  const int zm = static_cast<int>(opt.zero_method);
  if (zm < 0 || zm > 2) {
    throw InvalidArgument("wilcoxon_signed_rank_test: zero method " + std::to_string(zm) +
                          " is not a WilcoxonZeroMethod");
  }
  const int m = static_cast<int>(opt.method);
  if (m < 0 || m > 2) {
    throw InvalidArgument("wilcoxon_signed_rank_test: method " + std::to_string(m) +
                          " is not a WilcoxonMethod");
  }
}

}  // namespace detail

/// The paired t-test from the accumulated differences a[i] - b[i], so a caller joining late
/// labels can add each pair's difference as it arrives and keep no samples.
///
/// Reference and degenerate input: as the span overload; NaN or infinite differences (counted in
/// differences.rejected()) -> kInvalidInput.
/// Throws InvalidArgument unless 0 < confidence < 1.
/// @code
///   RunningMoments diff;
///   diff.add(shadow_loss - primary_loss);   // per joined request
///   PairedTTestResult r = paired_t_test(diff);
///   if (r.ok() && r.interval.upper < 0.0) { /* the shadow's loss is lower */ }
/// @endcode
inline PairedTTestResult paired_t_test(const RunningMoments& differences,
                                       double confidence = 0.95) {
  detail::require_open_unit(confidence, "confidence");
  PairedTTestResult r;
  r.confidence = confidence;
  if (differences.rejected() > 0) {
    return detail::set_status(r, StatStatus::kInvalidInput,
                              "the differences contain " + std::to_string(differences.rejected()) +
                                  " NaN or infinite values");
  }
  const std::uint64_t n = differences.count();
  if (n < 2) {
    return detail::set_status(r, StatStatus::kNotEnoughData,
                              std::to_string(n) + " pairs; at least 2 are needed");
  }
  const double nd = static_cast<double>(n);
  const double se = std::sqrt(differences.variance() / nd);
  const double mean = differences.mean();
  if (!(se > 0.0)) {
    return detail::set_status(
        r, StatStatus::kZeroVariance,
        mean == 0.0 ? "every difference is zero: a and b are equal pair by pair"
                    : "every difference equals " + switchyard::detail::json_number(mean) +
                          "; the t statistic is undefined");
  }
  detail::finish_t(r, mean / se, nd - 1.0, mean, se);
  r.df = nd - 1.0;
  r.std_error = se;
  r.pairs = n;
  return r;
}

/// The paired t-test of a against b: the one-sample t-test of the differences a[i] - b[i].
///
/// Reference: scipy.stats.ttest_rel(a, b, alternative=...) (scipy 1.10.1): t and the three
/// p-values to 1e-12 relative; the interval is mean(d) -+ t.isf((1 - confidence) / 2, n - 1) * se
/// (scipy 1.11's confidence_interval), to 1e-12 of its half-width against that formula with an
/// mpmath quantile (scipy 1.10.1's own t.isf is 1.3e-9 off at 49 df).
/// Degenerate input: fewer than 2 pairs -> kNotEnoughData; NaN or infinite values (or a
/// difference that overflows) -> kInvalidInput naming the sample and index; every difference equal
/// (all zero, or all the same) -> kZeroVariance (scipy returns NaN or +-inf there).
/// Throws InvalidArgument when a and b differ in length or confidence is not in (0, 1).
inline PairedTTestResult paired_t_test(std::span<const double> a, std::span<const double> b,
                                       double confidence = 0.95) {
  detail::require_paired(a.size(), b.size(), "paired_t_test");
  detail::require_open_unit(confidence, "confidence");
  std::vector<double> d;
  std::string why;
  if (!detail::paired_differences(a, b, d, why)) {
    PairedTTestResult r;
    r.confidence = confidence;
    return detail::set_status(r, StatStatus::kInvalidInput, std::move(why));
  }
  return paired_t_test(RunningMoments::of(d), confidence);
}

/// Wilcoxon's signed-rank test of a against b: are the differences a[i] - b[i] symmetric about 0?
/// Rank-based, so one example with a huge loss does not dominate it as it does the t-test.
///
/// Reference: scipy.stats.wilcoxon(a, b, zero_method, correction, alternative, method) (scipy
/// 1.10.1): statistic and rank sums exactly; the three p-values (exact and normal) and z to 1e-12
/// relative. kAuto is scipy's 'auto' except with ties in |a - b| and at most 50 pairs, where this
/// uses the normal approximation (scipy's method='approx') and scipy 1.10.1 a tie-free exact
/// distribution at a truncated rank sum.
/// Degenerate input: no pairs -> kNotEnoughData; NaN or infinite values (or a difference that
/// overflows) -> kInvalidInput naming the sample and index; every difference zero ->
/// kZeroVariance (scipy raises for kWilcox and kPratt and returns p = 1 for kZsplit).
/// Throws InvalidArgument when a and b differ in length or an option is outside its enumeration.
inline WilcoxonResult wilcoxon_signed_rank_test(std::span<const double> a,
                                                std::span<const double> b,
                                                const WilcoxonOptions& options = {}) {
  detail::require_paired(a.size(), b.size(), "wilcoxon_signed_rank_test");
  detail::validate_wilcoxon_options(options);
  WilcoxonResult r;
  r.pairs = a.size();
  std::vector<double> d;
  std::string why;
  if (!detail::paired_differences(a, b, d, why)) {
    detail::set_status(r, StatStatus::kInvalidInput, std::move(why));
    r.pairs = a.size();
    return r;
  }
  if (d.empty()) return detail::set_status(r, StatStatus::kNotEnoughData, "no pairs");
  const auto zeros = static_cast<std::uint64_t>(std::count(d.begin(), d.end(), 0.0));
  if (zeros == d.size()) {
    detail::set_status(r, StatStatus::kZeroVariance,
                       "every difference is zero: a and b are equal pair by pair");
    r.pairs = a.size();
    r.zeros = zeros;
    return r;
  }
  const detail::SignedRankSums s = detail::signed_rank_sums(d, options.zero_method);
  r.status = StatStatus::kOk;
  r.zeros = zeros;
  r.r_plus = s.r_plus;
  r.r_minus = s.r_minus;
  r.statistic = std::min(s.r_plus, s.r_minus);
  r.effect = (s.r_plus - s.r_minus) / (s.r_plus + s.r_minus);
  // scipy's rule counts every pair, zeros included; zeros rule the exact distribution out.
  const bool exact_valid = zeros == 0 && !s.ties;
  const bool exact = exact_valid && (options.method == WilcoxonMethod::kExact ||
                                     (options.method == WilcoxonMethod::kAuto && a.size() <= 50));
  if (exact) {
    detail::signed_rank_exact(r, s.count);
  } else if (!detail::signed_rank_normal(r, s, options)) {
    detail::set_status(r, StatStatus::kZeroVariance, "the signed-rank statistic has zero variance");
    r.pairs = a.size();
    r.zeros = zeros;
  }
  return r;
}

}  // namespace switchyard::stats
