// SPDX-License-Identifier: Apache-2.0
// Drift statistics as Evidently computes them: PSI, KL divergence, Jensen-Shannon distance and the
// Wasserstein distance normed by the reference standard deviation, with its default thresholds.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/drift_binning.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <vector>

namespace switchyard::stats {

/// A drift statistic, with Evidently's stattest name in to_string().
enum class DriftMethod : int {
  kPsi = 0,                ///< population stability index ("psi")
  kKlDivergence = 1,       ///< Kullback-Leibler divergence of reference from current ("kl_div")
  kJensenShannon = 2,      ///< Jensen-Shannon distance, natural log ("jensenshannon")
  kWassersteinNormed = 3,  ///< Wasserstein-1 distance / reference std ("wasserstein")
};

/// Evidently's stattest name of a method, e.g. "kl_div".
constexpr std::string_view to_string(DriftMethod m) noexcept {
  switch (m) {
    case DriftMethod::kPsi:
      return "psi";
    case DriftMethod::kKlDivergence:
      return "kl_div";
    case DriftMethod::kJensenShannon:
      return "jensenshannon";
    case DriftMethod::kWassersteinNormed:
      return "wasserstein";
  }
  return "unknown";
}

/// Evidently's default threshold of a method: 0.1 for all four (each StatTest's
/// default_threshold). Larger values mean more drift for every method: drift is value >= threshold.
constexpr double default_drift_threshold(DriftMethod) noexcept { return 0.1; }

/// The smallest reference standard deviation the Wasserstein distance is divided by (Evidently's
/// `max(np.std(reference), 0.001)`), so a constant reference gives a finite distance.
inline constexpr double kEvidentlyWassersteinMinNorm = 0.001;

/// The value of a drift statistic and the decision at its threshold.
///
/// When status is not kOk: value = 0, drift = false, and `reason` says why; a caller that needs
/// an answer must treat such a feature as "unknown", not as "no drift". Nothing is NaN.
/// Thread-safe: a value type.
struct DriftResult {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;  ///< empty when ok
  DriftMethod method = DriftMethod::kPsi;
  double value = 0.0;      ///< the statistic, >= 0
  double threshold = 0.1;  ///< the threshold `drift` was decided at
  /// value >= threshold (Evidently's rule); for categorical_drift also true whenever a category
  /// unseen in the reference appears in the current data.
  bool drift = false;
  /// Bins or categories holding current data but no reference data, counted before the empty-bin
  /// replacement.
  std::size_t unexpected_categories = 0;

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

namespace detail {

inline void require_drift_threshold(double threshold) {
  if (!(threshold >= 0.0 && std::isfinite(threshold))) {
    throw InvalidArgument("threshold must be finite and >= 0, got " + std::to_string(threshold));
  }
}

inline DriftResult drift_status(DriftMethod m, double threshold, StatStatus s, std::string why) {
  DriftResult r;
  r.method = m;
  r.threshold = threshold;
  r.status = s;
  r.reason = std::move(why);
  return r;
}

/// Checks two proportion vectors; fills r.status/reason when they cannot be used.
inline bool check_proportions(std::span<const double> ref, std::span<const double> cur,
                              DriftResult& r) {
  if (ref.size() != cur.size()) {
    throw InvalidArgument(std::string(to_string(r.method)) + ": current_proportions has " +
                          std::to_string(cur.size()) + " bins, reference_proportions " +
                          std::to_string(ref.size()));
  }
  double ref_mass = 0.0, cur_mass = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (!(ref[i] >= 0.0 && std::isfinite(ref[i]))) {
      r.status = StatStatus::kInvalidInput;
      r.reason = "reference_proportions holds a negative or non-finite value";
      return false;
    }
    if (!(cur[i] >= 0.0 && std::isfinite(cur[i]))) {
      r.status = StatStatus::kInvalidInput;
      r.reason = "current_proportions holds a negative or non-finite value";
      return false;
    }
    ref_mass += ref[i];
    cur_mass += cur[i];
    r.unexpected_categories += ref[i] == 0.0 && cur[i] > 0.0;
  }
  if (ref_mass == 0.0 || cur_mass == 0.0) {
    r.status = StatStatus::kNotEnoughData;
    r.reason = ref_mass == 0.0 ? "reference_proportions is empty or all zero"
                               : "current_proportions is empty or all zero";
    r.unexpected_categories = 0;
    return false;
  }
  return true;
}

/// The value Evidently's empty-bin replacement gives a 0 in `p` (see fill_empty_bins).
inline double empty_bin_fill(std::span<const double> p) noexcept {
  double smallest = kInf;
  for (double x : p) {
    if (x != 0.0 && x < smallest) smallest = x;
  }
  return smallest <= kEvidentlyEmptyBinProportion ? smallest / 1e6 : kEvidentlyEmptyBinProportion;
}

/// x * log(x / y) with scipy.special.rel_entr's convention for x = 0 (y > 0 here).
inline double rel_entr(double x, double y) noexcept { return x > 0.0 ? x * std::log(x / y) : 0.0; }

inline DriftResult finish_drift(DriftResult& r, double value) {
  r.status = StatStatus::kOk;
  r.value = value;
  r.drift = value >= r.threshold;
  return r;
}

}  // namespace detail

/// Population stability index, sum over bins of (r - c) * ln(r / c), after Evidently's empty-bin
/// replacement on each side (fill_empty_bins). Pass the proportions Evidently forms
/// (BinnedProportions, or counts / total); PSI is not scale-invariant.
/// Reference: Evidently's "psi" stattest (legacy stattests/psi.py); drift when value >= threshold
/// (default 0.1). No allocation.
/// Degenerate input: no bins or an all-zero side -> kNotEnoughData; a negative or non-finite
/// proportion -> kInvalidInput.
/// Throws InvalidArgument when the spans differ in length or threshold is negative or not finite.
inline DriftResult population_stability_index(std::span<const double> reference_proportions,
                                              std::span<const double> current_proportions,
                                              double threshold = 0.1) {
  detail::require_drift_threshold(threshold);
  DriftResult r = detail::drift_status(DriftMethod::kPsi, threshold, StatStatus::kOk, {});
  if (!detail::check_proportions(reference_proportions, current_proportions, r)) return r;
  const double ref_fill = detail::empty_bin_fill(reference_proportions);
  const double cur_fill = detail::empty_bin_fill(current_proportions);
  double psi = 0.0;
  for (std::size_t i = 0; i < reference_proportions.size(); ++i) {
    const double a = reference_proportions[i] == 0.0 ? ref_fill : reference_proportions[i];
    const double b = current_proportions[i] == 0.0 ? cur_fill : current_proportions[i];
    psi += (a - b) * std::log(a / b);
  }
  return detail::finish_drift(r, psi);
}

/// Kullback-Leibler divergence KL(reference || current) in nats: Evidently's empty-bin replacement
/// on each side, then scipy.stats.entropy(reference, current), which renormalises both to sum 1.
/// Reference: Evidently's "kl_div" stattest (legacy stattests/kl_div.py), scipy 1.10 entropy;
/// drift when value >= threshold (default 0.1). No allocation.
/// Degenerate input and throws: as population_stability_index.
inline DriftResult kl_divergence(std::span<const double> reference_proportions,
                                 std::span<const double> current_proportions,
                                 double threshold = 0.1) {
  detail::require_drift_threshold(threshold);
  DriftResult r = detail::drift_status(DriftMethod::kKlDivergence, threshold, StatStatus::kOk, {});
  if (!detail::check_proportions(reference_proportions, current_proportions, r)) return r;
  const double ref_fill = detail::empty_bin_fill(reference_proportions);
  const double cur_fill = detail::empty_bin_fill(current_proportions);
  auto ref_at = [&](std::size_t i) {
    return reference_proportions[i] == 0.0 ? ref_fill : reference_proportions[i];
  };
  auto cur_at = [&](std::size_t i) {
    return current_proportions[i] == 0.0 ? cur_fill : current_proportions[i];
  };
  double ref_sum = 0.0, cur_sum = 0.0;
  for (std::size_t i = 0; i < reference_proportions.size(); ++i) {
    ref_sum += ref_at(i);
    cur_sum += cur_at(i);
  }
  double kl = 0.0;
  for (std::size_t i = 0; i < reference_proportions.size(); ++i) {
    kl += detail::rel_entr(ref_at(i) / ref_sum, cur_at(i) / cur_sum);
  }
  return detail::finish_drift(r, kl);
}

/// Jensen-Shannon distance (the square root of the divergence, natural log) of the two
/// proportion vectors, each renormalised to sum 1, *without* an empty-bin replacement (Evidently
/// bins with feel_zeroes=False for it). Bounded by sqrt(ln 2) ~ 0.8326.
/// Reference: Evidently's "jensenshannon" stattest (legacy stattests/jensenshannon.py),
/// scipy.spatial.distance.jensenshannon (scipy 1.10, base e); drift when value >= threshold
/// (default 0.1). No allocation.
/// Degenerate input and throws: as population_stability_index.
inline DriftResult jensen_shannon_distance(std::span<const double> reference_proportions,
                                           std::span<const double> current_proportions,
                                           double threshold = 0.1) {
  detail::require_drift_threshold(threshold);
  DriftResult r = detail::drift_status(DriftMethod::kJensenShannon, threshold, StatStatus::kOk, {});
  if (!detail::check_proportions(reference_proportions, current_proportions, r)) return r;
  double ref_sum = 0.0, cur_sum = 0.0;
  for (std::size_t i = 0; i < reference_proportions.size(); ++i) {
    ref_sum += reference_proportions[i];
    cur_sum += current_proportions[i];
  }
  double left = 0.0, right = 0.0;
  for (std::size_t i = 0; i < reference_proportions.size(); ++i) {
    const double p = reference_proportions[i] / ref_sum;
    const double q = current_proportions[i] / cur_sum;
    const double m = (p + q) / 2.0;
    left += detail::rel_entr(p, m);
    right += detail::rel_entr(q, m);
  }
  // Rounding can leave the divergence a few ulp below 0 for identical inputs.
  const double js = std::max(0.0, left + right);
  return detail::finish_drift(r, std::sqrt(js / 2.0));
}

/// First Wasserstein distance between the raw reference and current samples, divided by
/// max(population standard deviation of the reference, kEvidentlyWassersteinMinNorm).
/// Reference: Evidently's "wasserstein" stattest (legacy stattests/wasserstein_distance_norm.py):
/// scipy.stats.wasserstein_distance (scipy 1.10) / max(np.std(reference), 0.001); drift when
/// value >= threshold (default 0.1). Non-finite values are dropped first, as Evidently's drift
/// calculation drops them. Sorts copies of both samples: O((n + m) log(n + m)).
/// Degenerate input: no finite value on a side -> kNotEnoughData. A constant reference is fine
/// (divided by 0.001).
/// Throws InvalidArgument when threshold is negative or not finite.
inline DriftResult wasserstein_distance_normed(std::span<const double> reference,
                                               std::span<const double> current,
                                               double threshold = 0.1) {
  detail::require_drift_threshold(threshold);
  DriftResult r =
      detail::drift_status(DriftMethod::kWassersteinNormed, threshold, StatStatus::kOk, {});
  std::size_t dropped = 0;
  std::vector<double> u = detail::finite_values(reference, dropped);
  std::vector<double> v = detail::finite_values(current, dropped);
  if (u.empty() || v.empty()) {
    r.status = StatStatus::kNotEnoughData;
    r.reason = u.empty() ? "reference has no finite value" : "current has no finite value";
    return r;
  }
  const double norm = std::max(std::sqrt(RunningMoments::of(u).population_variance()),
                               kEvidentlyWassersteinMinNorm);
  std::sort(u.begin(), u.end());
  std::sort(v.begin(), v.end());
  std::vector<double> all(u.size() + v.size());
  std::merge(u.begin(), u.end(), v.begin(), v.end(), all.begin());
  // scipy's _cdf_distance(p=1): sum |U(x_k) - V(x_k)| (x_{k+1} - x_k) with the empirical CDFs
  // taken right-continuous at each merged value.
  const double nu = static_cast<double>(u.size()), nv = static_cast<double>(v.size());
  std::size_t i = 0, j = 0;
  double distance = 0.0;
  for (std::size_t k = 0; k + 1 < all.size(); ++k) {
    while (i < u.size() && u[i] <= all[k]) ++i;
    while (j < v.size() && v[j] <= all[k]) ++j;
    distance += std::fabs(static_cast<double>(i) / nu - static_cast<double>(j) / nv) *
                (all[k + 1] - all[k]);
  }
  return detail::finish_drift(r, distance / norm);
}

/// Drift of a numeric feature by Evidently's whole procedure: non-finite values dropped, binned
/// by evidently_bin (PSI, KL, Jensen-Shannon) or taken raw (Wasserstein), then the statistic.
/// unexpected_categories counts values of a discrete feature the reference never had; for a
/// numeric feature they do not by themselves mean drift (Evidently's rule, value >= threshold).
/// Degenerate input: no finite value on a side -> kNotEnoughData.
/// Throws InvalidArgument when threshold is negative or not finite.
inline DriftResult numeric_drift(std::span<const double> reference,
                                 std::span<const double> current, DriftMethod method,
                                 double threshold) {
  detail::require_drift_threshold(threshold);
  if (method == DriftMethod::kWassersteinNormed) {
    return wasserstein_distance_normed(reference, current, threshold);
  }
  const BinnedProportions b = evidently_bin(reference, current);
  if (!b.ok()) return detail::drift_status(method, threshold, b.status, b.reason);
  switch (method) {
    case DriftMethod::kKlDivergence:
      return kl_divergence(b.reference, b.current, threshold);
    case DriftMethod::kJensenShannon:
      return jensen_shannon_distance(b.reference, b.current, threshold);
    default:
      return population_stability_index(b.reference, b.current, threshold);
  }
}

/// numeric_drift at the method's default threshold (default_drift_threshold).
inline DriftResult numeric_drift(std::span<const double> reference,
                                 std::span<const double> current, DriftMethod method) {
  return numeric_drift(reference, current, method, default_drift_threshold(method));
}

/// Drift of a categorical feature from category counts (index i is the same category on both
/// sides), as Evidently computes PSI, KL and Jensen-Shannon on its categories: categories seen in
/// neither sample are left out (Evidently's keys are the values present), proportions are counts /
/// total, then the statistic with its empty-bin convention.
///
/// A category the reference never had but the current data has is drift: `drift` is true and
/// unexpected_categories counts them, whatever the value (which stays Evidently's number, so it
/// can fall below the threshold when the new category is rare). This is where Switchyard departs
/// from Evidently's PSI/KL/JS decision, in line with chi_square_goodness_of_fit (p = 0).
/// Degenerate input: a zero total on a side -> kNotEnoughData.
/// Throws InvalidArgument when the spans differ in length, the method is kWassersteinNormed
/// (numeric only, as in Evidently), or threshold is negative or not finite.
inline DriftResult categorical_drift(std::span<const std::uint64_t> reference_counts,
                                     std::span<const std::uint64_t> current_counts,
                                     DriftMethod method, double threshold = 0.1) {
  detail::require_drift_threshold(threshold);
  if (method == DriftMethod::kWassersteinNormed) {
    throw InvalidArgument("categorical_drift: method wasserstein applies to numeric features only");
  }
  if (reference_counts.size() != current_counts.size()) {
    throw InvalidArgument("categorical_drift: current_counts has " +
                          std::to_string(current_counts.size()) + " categories, reference_counts " +
                          std::to_string(reference_counts.size()));
  }
  double ref_total = 0.0, cur_total = 0.0;
  for (std::size_t i = 0; i < reference_counts.size(); ++i) {
    ref_total += static_cast<double>(reference_counts[i]);
    cur_total += static_cast<double>(current_counts[i]);
  }
  if (ref_total == 0.0 || cur_total == 0.0) {
    return detail::drift_status(method, threshold, StatStatus::kNotEnoughData,
                                ref_total == 0.0 ? "reference_counts total 0"
                                                 : "current_counts total 0");
  }
  std::vector<double> ref, cur;
  ref.reserve(reference_counts.size());
  cur.reserve(current_counts.size());
  for (std::size_t i = 0; i < reference_counts.size(); ++i) {
    if (reference_counts[i] == 0 && current_counts[i] == 0) continue;
    ref.push_back(static_cast<double>(reference_counts[i]) / ref_total);
    cur.push_back(static_cast<double>(current_counts[i]) / cur_total);
  }
  DriftResult r = method == DriftMethod::kKlDivergence ? kl_divergence(ref, cur, threshold)
                  : method == DriftMethod::kJensenShannon
                      ? jensen_shannon_distance(ref, cur, threshold)
                      : population_stability_index(ref, cur, threshold);
  if (r.unexpected_categories > 0) r.drift = true;
  return r;
}

}  // namespace switchyard::stats
