// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of drift_evaluation.hpp: the statistics of one feature's window, the default
// test, the correction and the dataset verdict.
#pragma once

#include <switchyard/drift/drift_evaluation.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <switchyard/stats/chi_square.hpp>
#include <switchyard/stats/drift_binning.hpp>
#include <switchyard/stats/drift_statistics.hpp>
#include <switchyard/stats/ks_test.hpp>
#include <switchyard/stats/multiple_comparisons.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/running_moments.hpp>

namespace switchyard {

SWITCHYARD_INLINE const char* to_string(DriftCorrection c) noexcept {
  switch (c) {
    case DriftCorrection::kNone: return "none";
    case DriftCorrection::kBonferroni: return "bonferroni";
    case DriftCorrection::kFdr: return "fdr_bh";
  }
  return "unknown";
}

SWITCHYARD_INLINE CurrentWindow CurrentWindow::for_profile(const ReferenceProfile& profile) {
  CurrentWindow w;
  w.features.reserve(profile.features.size());
  for (const auto& f : profile.features) w.features.push_back(FeatureWindow::for_feature(f));
  if (profile.prediction) {
    w.has_prediction = true;
    w.prediction = FeatureWindow::for_feature(*profile.prediction);
  }
  return w;
}

SWITCHYARD_INLINE void CurrentWindow::add_row(const ReferenceProfile& profile,
                                              std::span<const double> row, double prediction_value) {
  if (row.size() != profile.features.size() || features.size() != profile.features.size()) {
    throw InvalidArgument("CurrentWindow::add_row: row has " + std::to_string(row.size()) +
                          " values, the profile " + std::to_string(profile.features.size()) +
                          " features and the window " + std::to_string(features.size()));
  }
  for (std::size_t i = 0; i < row.size(); ++i) features[i].add(profile.features[i], row[i]);
  if (has_prediction && profile.prediction) prediction.add(*profile.prediction, prediction_value);
  ++rows;
}

SWITCHYARD_INLINE DriftTest select_default_test(FeatureKind kind, std::uint64_t reference_count,
                                                std::uint64_t distinct_values) noexcept {
  const bool numeric = kind == FeatureKind::kNumeric;
  if (reference_count <= 1000) {
    if (numeric && distinct_values > 5) return DriftTest::kKolmogorovSmirnov;
    return distinct_values > 2 ? DriftTest::kChiSquare : DriftTest::kZTest;
  }
  if (numeric && distinct_values > 5) return DriftTest::kWassersteinNormed;
  return DriftTest::kJensenShannon;
}

namespace detail::drift_eval {

inline stats::DriftMethod method_of(DriftTest t) noexcept {
  switch (t) {
    case DriftTest::kKlDivergence: return stats::DriftMethod::kKlDivergence;
    case DriftTest::kJensenShannon: return stats::DriftMethod::kJensenShannon;
    case DriftTest::kWassersteinNormed: return stats::DriftMethod::kWassersteinNormed;
    default: return stats::DriftMethod::kPsi;
  }
}

inline DriftStatistic not_computed(DriftTest t, stats::StatStatus s, std::string why,
                                   DriftProcedure p) {
  DriftStatistic d;
  d.test = t;
  d.status = s;
  d.reason = std::move(why);
  d.procedure = p;
  return d;
}

inline DriftStatistic from_drift(DriftTest t, const stats::DriftResult& r, DriftProcedure p) {
  if (!r.ok()) return not_computed(t, r.status, r.reason, p);
  DriftStatistic d;
  d.test = t;
  d.status = stats::StatStatus::kOk;
  d.value = r.value;
  d.statistic = r.value;
  d.procedure = p;
  return d;
}

inline DriftStatistic from_test(DriftTest t, const stats::TestResult& r, DriftProcedure p) {
  if (!r.ok()) return not_computed(t, r.status, r.reason, p);
  DriftStatistic d;
  d.test = t;
  d.status = stats::StatStatus::kOk;
  d.value = r.p_value;
  d.statistic = r.statistic;
  d.procedure = p;
  return d;
}

/// Evidently's z-test on two samples of category keys already counted per key (keys ascending):
/// the first key present is "0", every other "1"; p = 1 when both sides hold that key alone.
inline DriftStatistic z_test(const std::vector<double>& ref, const std::vector<double>& cur,
                             DriftProcedure p) {
  double ref_n = 0, cur_n = 0;
  for (double c : ref) ref_n += c;
  for (double c : cur) cur_n += c;
  if (ref_n == 0 || cur_n == 0) {
    return not_computed(DriftTest::kZTest, stats::StatStatus::kNotEnoughData,
                        ref_n == 0 ? "reference has no finite value" : "window has no finite value",
                        p);
  }
  std::size_t first = 0;
  while (first < ref.size() && ref[first] == 0 && cur[first] == 0) ++first;
  const auto ref_other = static_cast<std::uint64_t>(ref_n - ref[first]);
  const auto cur_other = static_cast<std::uint64_t>(cur_n - cur[first]);
  if (ref_other == 0 && cur_other == 0) {
    DriftStatistic d;
    d.test = DriftTest::kZTest;
    d.status = stats::StatStatus::kOk;
    d.value = 1.0;
    d.procedure = p;
    return d;
  }
  const auto r = stats::two_proportion_z_test(
      stats::ProportionCounter(cur_other, static_cast<std::uint64_t>(cur_n)),
      stats::ProportionCounter(ref_other, static_cast<std::uint64_t>(ref_n)));
  return from_test(DriftTest::kZTest, r, p);
}

/// scipy.stats.ks_2samp(reference, current)'s two-sided p-value alone (method 'auto'), through the
/// statistics module's exact and asymptotic p-value: the one-sided p-values ks_two_sample_test
/// also computes cost most of its time and are not needed here.
inline DriftStatistic ks_two_sided(std::span<const double> reference,
                                   std::span<const double> current, DriftProcedure p) {
  if (reference.empty() || current.empty()) {
    return not_computed(DriftTest::kKolmogorovSmirnov, stats::StatStatus::kNotEnoughData,
                        reference.empty() ? "reference has no finite value"
                                          : "window has no finite value",
                        p);
  }
  std::vector<double> a(current.begin(), current.end()), b(reference.begin(), reference.end());
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double d = 0.0;
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const double v = (j >= b.size() || (i < a.size() && a[i] <= b[j])) ? a[i] : b[j];
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    d = std::max(d, std::fabs(static_cast<double>(i) / static_cast<double>(a.size()) -
                              static_cast<double>(j) / static_cast<double>(b.size())));
  }
  stats::KsMethod method = stats::KsMethod::kAuto;
  DriftStatistic r;
  r.test = DriftTest::kKolmogorovSmirnov;
  r.status = stats::StatStatus::kOk;
  r.value = std::clamp(stats::detail::ks2_p_value(static_cast<std::int64_t>(a.size()),
                                                  static_cast<std::int64_t>(b.size()), d, true,
                                                  method),
                       0.0, 1.0);
  r.statistic = d;
  r.procedure = p;
  return r;
}

inline DriftStatistic chi_square(const std::vector<double>& ref, const std::vector<double>& cur,
                                 DriftProcedure p) {
  // Evidently's keys are the values present in either sample.
  std::vector<double> obs, exp;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (ref[i] == 0 && cur[i] == 0) continue;
    obs.push_back(cur[i]);
    exp.push_back(ref[i]);
  }
  double ref_n = 0;
  for (double c : exp) ref_n += c;
  if (ref_n == 0) {
    return not_computed(DriftTest::kChiSquare, stats::StatStatus::kNotEnoughData,
                        "reference has no finite value", p);
  }
  if (obs.size() == 1) {
    // One category on both sides: scipy's chisquare gives statistic 0 and p = 1 (df 0 is NaN
    // there); the distributions agree.
    double cur_n = obs[0];
    if (cur_n == 0) {
      return not_computed(DriftTest::kChiSquare, stats::StatStatus::kNotEnoughData,
                          "window has no finite value", p);
    }
    DriftStatistic d;
    d.test = DriftTest::kChiSquare;
    d.status = stats::StatStatus::kOk;
    d.value = 1.0;
    d.procedure = p;
    return d;
  }
  return from_test(DriftTest::kChiSquare, stats::chi_square_goodness_of_fit(obs, exp), p);
}

/// The binned procedure's input: reference and window counts per kept slot, and for numeric
/// features the position of each slot boundary (for KS and Wasserstein from bins).
struct Binned {
  std::vector<double> ref;  // counts
  std::vector<double> cur;
  double ref_n = 0, cur_n = 0;
  std::size_t distinct = 0;  // slots with data on either side
};

/// Counts per slot that Evidently would keep: every histogram bin, the outer slots and the
/// value-layout slots only when either side has data there.
inline void binned_counts(const FeatureProfile& f, const FeatureWindow& w, Binned& b) {
  // Sums in locals and stores by index: the sums kept in `b` (thread-local) made every slot a
  // store to memory followed by a wider load of it, a store-forwarding stall per slot.
  const std::size_t n = f.slots();
  const bool histogram = f.histogram();
  b.ref.resize(n);
  b.cur.resize(n);
  // The totals in integers: a pair of double sums was vectorised into one stack slot, loaded and
  // stored back every slot (a store-forwarding chain, two fifths of this function).
  std::uint64_t ref_n = 0, cur_n = 0;
  std::size_t kept = 0, distinct = 0;
  for (std::size_t s = 0; s < n; ++s) {
    const std::uint64_t rc = f.counts[s];
    const std::uint64_t cc = w.counts[s];
    const bool inner = histogram && s > 0 && s + 1 < n;
    if (!inner && rc == 0 && cc == 0) continue;
    b.ref[kept] = static_cast<double>(rc);
    b.cur[kept] = static_cast<double>(cc);
    ++kept;
    ref_n += rc;
    cur_n += cc;
    distinct += rc > 0 || cc > 0;
  }
  b.ref.resize(kept);
  b.cur.resize(kept);
  b.ref_n = static_cast<double>(ref_n);
  b.cur_n = static_cast<double>(cur_n);
  b.distinct = distinct;
}

// Multiplies by the reciprocal (within an ulp of Evidently's division; a division per slot was
// a tenth of evaluating a feature).
inline void proportions(const std::vector<double>& counts, double total, std::vector<double>& p) {
  p.resize(counts.size());
  const double inv = 1.0 / total;
  for (std::size_t i = 0; i < counts.size(); ++i) p[i] = counts[i] * inv;
}

/// PSI straight from the kept counts, equal bit for bit to population_stability_index() on
/// proportions() of them: the smallest non-zero proportion is the smallest non-zero count times
/// the reciprocal (multiplying by a positive number keeps the order), and counts are valid by
/// construction, so one pass replaces building, checking and scanning two proportion vectors (a
/// fifth of evaluating a feature). Both totals must be positive.
inline DriftStatistic binned_psi(const Binned& b) {
  const double inv_ref = 1.0 / b.ref_n, inv_cur = 1.0 / b.cur_n;
  double min_ref = stats::detail::kInf, min_cur = stats::detail::kInf;
  for (std::size_t i = 0; i < b.ref.size(); ++i) {
    if (b.ref[i] != 0.0 && b.ref[i] < min_ref) min_ref = b.ref[i];
    if (b.cur[i] != 0.0 && b.cur[i] < min_cur) min_cur = b.cur[i];
  }
  auto fill = [](double smallest) {
    return smallest <= stats::kEvidentlyEmptyBinProportion ? smallest / 1e6
                                                           : stats::kEvidentlyEmptyBinProportion;
  };
  const double ref_fill = fill(min_ref * inv_ref), cur_fill = fill(min_cur * inv_cur);
  double psi = 0.0;
  for (std::size_t i = 0; i < b.ref.size(); ++i) {
    const double a = b.ref[i] == 0.0 ? ref_fill : b.ref[i] * inv_ref;
    const double c = b.cur[i] == 0.0 ? cur_fill : b.cur[i] * inv_cur;
    psi += (a - c) * std::log(a / c);
  }
  DriftStatistic d;
  d.test = DriftTest::kPsi;
  d.status = stats::StatStatus::kOk;
  d.value = psi;
  d.statistic = psi;
  d.procedure = DriftProcedure::kBinned;
  return d;
}

/// The CDFs of reference and window at each slot boundary of a numeric feature, with the slot
/// masses placed as documented (outer slots at the edge, uniform within a bin; value layout:
/// at each value, values never seen at the largest one).
struct BinnedCdf {
  std::vector<double> x;      // boundary positions, ascending
  std::vector<double> ref;    // F_ref at x (after the mass at x)
  std::vector<double> cur;
  bool linear = false;        // histogram: CDFs linear between boundaries
};

inline void binned_cdf(const FeatureProfile& f, const FeatureWindow& w, double ref_n,
                       double cur_n, BinnedCdf& c) {
  double fr = 0, fc = 0;
  const double inv_ref = 1.0 / ref_n, inv_cur = 1.0 / cur_n;
  if (f.histogram()) {
    c.linear = true;
    const std::size_t b = f.edges.size() - 1;
    c.x.resize(b + 1);
    c.ref.resize(b + 1);
    c.cur.resize(b + 1);
    for (std::size_t i = 0; i <= b; ++i) {
      fr += static_cast<double>(f.counts[i]) * inv_ref;
      fc += static_cast<double>(w.counts[i]) * inv_cur;
      c.x[i] = f.edges[i];
      c.ref[i] = fr;
      c.cur[i] = fc;
    }
    // The slot above the last edge sits at the edge: the CDFs reach 1 there.
    c.ref[b] += static_cast<double>(f.counts[b + 1]) * inv_ref;
    c.cur[b] += static_cast<double>(w.counts[b + 1]) * inv_cur;
    return;
  }
  c.linear = false;
  const std::size_t n = f.values.size();
  c.x.resize(n);
  c.ref.resize(n);
  c.cur.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    fr += static_cast<double>(f.counts[i]) * inv_ref;
    fc += static_cast<double>(w.counts[i]) * inv_cur;
    c.x[i] = f.values[i];
    c.ref[i] = fr;
    c.cur[i] = fc;
  }
  if (n > 0) {
    c.ref[n - 1] += static_cast<double>(f.counts.back()) * inv_ref;
    c.cur[n - 1] += static_cast<double>(w.counts.back()) * inv_cur;
  }
}

/// Buffers one thread reuses from feature to feature, so evaluating a window allocates little
/// beyond what the report keeps.
struct Scratch {
  Binned binned;
  std::vector<double> p, q;
  BinnedCdf cdf;
};

inline Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

inline DriftStatistic binned_wasserstein(const FeatureProfile& f, const FeatureWindow& w,
                                         const Binned& b) {
  if (b.ref_n == 0 || b.cur_n == 0) {
    return not_computed(DriftTest::kWassersteinNormed, stats::StatStatus::kNotEnoughData,
                        b.ref_n == 0 ? "reference has no finite value"
                                     : "window has no finite value",
                        DriftProcedure::kBinned);
  }
  auto normed = [&f](double dist) {
    DriftStatistic d;
    d.test = DriftTest::kWassersteinNormed;
    d.status = stats::StatStatus::kOk;
    d.value = dist / std::max(f.std_dev, stats::kEvidentlyWassersteinMinNorm);
    d.statistic = d.value;
    d.procedure = DriftProcedure::kBinned;
    return d;
  };
  if (f.histogram()) {
    // binned_cdf()'s CDFs (linear within a bin) formed as the walk reaches them, with the same
    // operations in the same order, so the same bits, without writing and reading back three
    // vectors.
    const double inv_ref = 1.0 / b.ref_n, inv_cur = 1.0 / b.cur_n;
    const std::size_t last = f.edges.size() - 1;
    double fr = 0.0, fc = 0.0;
    fr += static_cast<double>(f.counts[0]) * inv_ref;
    fc += static_cast<double>(w.counts[0]) * inv_cur;
    double d0 = fr - fc;
    double dist = 0.0;
    for (std::size_t k = 0; k < last; ++k) {
      fr += static_cast<double>(f.counts[k + 1]) * inv_ref;
      fc += static_cast<double>(w.counts[k + 1]) * inv_cur;
      double r1 = fr, c1 = fc;
      if (k + 1 == last) {  // the slot above the last edge sits at the edge
        r1 += static_cast<double>(f.counts[last + 1]) * inv_ref;
        c1 += static_cast<double>(w.counts[last + 1]) * inv_cur;
      }
      const double d1 = r1 - c1;
      const double width = f.edges[k + 1] - f.edges[k];
      // |d| integrated over a segment where d moves linearly from d0 to d1.
      if ((d0 >= 0) == (d1 >= 0)) {
        dist += width * (std::fabs(d0) + std::fabs(d1)) / 2.0;
      } else {
        dist += width * (d0 * d0 + d1 * d1) / (2.0 * (std::fabs(d0) + std::fabs(d1)));
      }
      d0 = d1;
    }
    return normed(dist);
  }
  // A value layout: the CDFs are steps between the values.
  BinnedCdf& c = scratch().cdf;
  binned_cdf(f, w, b.ref_n, b.cur_n, c);
  double dist = 0.0;
  for (std::size_t k = 0; k + 1 < c.x.size(); ++k) {
    dist += std::fabs(c.ref[k] - c.cur[k]) * (c.x[k + 1] - c.x[k]);
  }
  return normed(dist);
}

inline DriftStatistic binned_ks(const FeatureProfile& f, const FeatureWindow& w, const Binned& b) {
  if (b.ref_n == 0 || b.cur_n == 0) {
    return not_computed(DriftTest::kKolmogorovSmirnov, stats::StatStatus::kNotEnoughData,
                        b.ref_n == 0 ? "reference has no finite value"
                                     : "window has no finite value",
                        DriftProcedure::kBinned);
  }
  BinnedCdf& c = scratch().cdf;
  binned_cdf(f, w, b.ref_n, b.cur_n, c);
  double dmax = 0.0;
  for (std::size_t k = 0; k < c.x.size(); ++k) dmax = std::max(dmax, std::fabs(c.ref[k] - c.cur[k]));
  dmax = std::min(dmax, 1.0);
  const double n = b.ref_n, m = b.cur_n;
  const auto en = static_cast<std::int64_t>(std::nearbyint(n * m / (n + m)));
  DriftStatistic d;
  d.test = DriftTest::kKolmogorovSmirnov;
  d.status = stats::StatStatus::kOk;
  d.statistic = dmax;
  d.value = dmax == 0.0 ? 1.0 : std::clamp(stats::detail::kolmogorov_sf(std::max<std::int64_t>(en, 1), dmax), 0.0, 1.0);
  d.procedure = DriftProcedure::kBinned;
  return d;
}

/// Evidently's numbers for a categorical or binary feature when the window's values are all held
/// (no capped reference categories): keys are every value of either side, so two different new
/// categories are two keys, as in Evidently.
inline bool exact_categories(const FeatureProfile& f, const FeatureWindow& w, std::vector<double>& ref,
                             std::vector<double>& cur) {
  if (f.other != 0 || !w.sample_complete()) return false;
  std::vector<double> keys = f.values;
  std::vector<double> extra;
  for (double x : w.sample) {
    if (!std::binary_search(f.values.begin(), f.values.end(), x)) extra.push_back(x);
  }
  std::sort(extra.begin(), extra.end());
  extra.erase(std::unique(extra.begin(), extra.end()), extra.end());
  keys.insert(keys.end(), extra.begin(), extra.end());
  std::sort(keys.begin(), keys.end());
  ref.assign(keys.size(), 0.0);
  cur.assign(keys.size(), 0.0);
  for (std::size_t i = 0; i < f.values.size(); ++i) {
    ref[static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), f.values[i]) -
                                 keys.begin())] = static_cast<double>(f.counts[i]);
  }
  for (double x : w.sample) {
    cur[static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), x) - keys.begin())] +=
        1.0;
  }
  return true;
}

/// Distance statistics on counts per key, Evidently's way for categories (both-zero keys left out;
/// a key only the window has makes the result `drift`, which the caller reads from unseen).
inline DriftStatistic categorical_distance(DriftTest t, const std::vector<double>& ref,
                                           const std::vector<double>& cur, DriftProcedure p) {
  std::vector<std::uint64_t> rc(ref.size()), cc(cur.size());
  for (std::size_t i = 0; i < ref.size(); ++i) {
    rc[i] = static_cast<std::uint64_t>(ref[i]);
    cc[i] = static_cast<std::uint64_t>(cur[i]);
  }
  return from_drift(t, stats::categorical_drift(rc, cc, method_of(t), 0.1), p);
}

inline bool drifted(DriftTest t, double score, double threshold) noexcept {
  if (t == DriftTest::kKolmogorovSmirnov) return score <= threshold;
  if (is_p_value_test(t)) return score < threshold;
  return score >= threshold;
}

inline void require_threshold(const std::string& who, double threshold) {
  if (!(threshold >= 0.0 && std::isfinite(threshold))) {
    throw InvalidArgument(who + ": threshold must be finite and >= 0, got " +
                          std::to_string(threshold));
  }
}

/// Computes every statistic a feature needs, by one procedure.
class FeatureEvaluation {
 public:
  FeatureEvaluation(const FeatureProfile& f, const FeatureWindow& w, bool exact_when_complete)
      : f_(f), w_(w), binned_(scratch().binned) {
    numeric_ = f.kind == FeatureKind::kNumeric;
    binned_counts(f, w, binned_);
    if (numeric_) {
      exact_ = exact_when_complete && f.sample_is_complete() && w.sample_complete() &&
               f.count > 0 && !w.sample.empty();
      sampled_ = !exact_ && !f.sample.empty() && !w.sample.empty();
    } else {
      exact_ = exact_when_complete && exact_categories(f, w, cat_ref_, cat_cur_);
      if (!exact_) {
        cat_ref_ = binned_.ref;
        cat_cur_ = binned_.cur;
      }
    }
  }

  /// Distinct values of reference and window together, as Evidently counts them for its choice.
  std::uint64_t distinct_values() const {
    if (numeric_ && exact_) {
      std::vector<double> all = f_.sample;
      all.insert(all.end(), w_.sample.begin(), w_.sample.end());
      std::sort(all.begin(), all.end());
      return stats::detail::count_distinct_sorted(all);
    }
    if (!numeric_) {
      std::uint64_t n = 0;
      for (std::size_t i = 0; i < cat_ref_.size(); ++i) n += cat_ref_[i] > 0 || cat_cur_[i] > 0;
      return n;
    }
    if (f_.histogram()) return stats::kEvidentlyMaxDiscreteValues + 1;  // > 20 in the reference
    return binned_.distinct;
  }

  /// One statistic; a NaN (which a hostile or damaged profile can produce, e.g. from
  /// non-finite moments) becomes kInvalidInput with value 0, never a NaN passed on.
  DriftStatistic compute(DriftTest t) const {
    DriftStatistic s = compute_raw(t);
    if (std::isnan(s.value) || std::isnan(s.statistic)) {
      return not_computed(t, stats::StatStatus::kInvalidInput,
                          "the reference profile's figures give no number (NaN)", s.procedure);
    }
    return s;
  }

  DriftStatistic compute_raw(DriftTest t) const {
    const DriftProcedure exact_or_binned = exact_ ? DriftProcedure::kExact : DriftProcedure::kBinned;
    if (!numeric_) {
      switch (t) {
        case DriftTest::kChiSquare: return chi_square(cat_ref_, cat_cur_, exact_or_binned);
        case DriftTest::kZTest: return z_test(cat_ref_, cat_cur_, exact_or_binned);
        default: return categorical_distance(t, cat_ref_, cat_cur_, exact_or_binned);
      }
    }
    if (exact_) return exact_numeric(t);
    switch (t) {
      case DriftTest::kWassersteinNormed:
        return sampled_ ? sampled_wasserstein() : binned_wasserstein(f_, w_, binned_);
      case DriftTest::kKolmogorovSmirnov:
        return sampled_ ? ks_two_sided(f_.sample, w_.sample, DriftProcedure::kSampled)
                        : binned_ks(f_, w_, binned_);
      case DriftTest::kChiSquare: return chi_square(binned_.ref, binned_.cur, DriftProcedure::kBinned);
      case DriftTest::kZTest: return z_test(binned_.ref, binned_.cur, DriftProcedure::kBinned);
      default: break;
    }
    if (binned_.ref_n == 0 || binned_.cur_n == 0) {
      return not_computed(t, stats::StatStatus::kNotEnoughData,
                          binned_.ref_n == 0 ? "reference has no finite value"
                                             : "window has no finite value",
                          DriftProcedure::kBinned);
    }
    if (t == DriftTest::kPsi) return binned_psi(binned_);
    std::vector<double>& p = scratch().p;
    std::vector<double>& q = scratch().q;
    proportions(binned_.ref, binned_.ref_n, p);
    proportions(binned_.cur, binned_.cur_n, q);
    switch (t) {
      case DriftTest::kKlDivergence:
        return from_drift(t, stats::kl_divergence(p, q), DriftProcedure::kBinned);
      case DriftTest::kJensenShannon:
        return from_drift(t, stats::jensen_shannon_distance(p, q), DriftProcedure::kBinned);
      default:
        return from_drift(t, stats::population_stability_index(p, q), DriftProcedure::kBinned);
    }
  }

  std::uint64_t unseen() const noexcept {
    if (f_.histogram() || f_.other != 0) return 0;
    return w_.counts[f_.other_slot()];
  }

 private:
  DriftStatistic exact_numeric(DriftTest t) const {
    const auto p = DriftProcedure::kExact;
    switch (t) {
      case DriftTest::kKolmogorovSmirnov:
        return ks_two_sided(f_.sample, w_.sample, p);
      case DriftTest::kChiSquare:
      case DriftTest::kZTest: {
        std::vector<double> ref, cur;
        value_counts(ref, cur);
        return t == DriftTest::kChiSquare ? chi_square(ref, cur, p) : z_test(ref, cur, p);
      }
      default:
        return from_drift(t, stats::numeric_drift(f_.sample, w_.sample, method_of(t), 0.1), p);
    }
  }

  // Counts per distinct value of either complete sample.
  void value_counts(std::vector<double>& ref, std::vector<double>& cur) const {
    std::vector<double> keys = f_.sample;
    keys.insert(keys.end(), w_.sample.begin(), w_.sample.end());
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    ref.assign(keys.size(), 0.0);
    cur.assign(keys.size(), 0.0);
    auto at = [&](double x) {
      return static_cast<std::size_t>(std::lower_bound(keys.begin(), keys.end(), x) - keys.begin());
    };
    for (double x : f_.sample) ref[at(x)] += 1.0;
    for (double x : w_.sample) cur[at(x)] += 1.0;
  }

  DriftStatistic sampled_wasserstein() const {
    DriftStatistic d = from_drift(DriftTest::kWassersteinNormed,
                                  stats::wasserstein_distance_normed(f_.sample, w_.sample),
                                  DriftProcedure::kSampled);
    if (!d.ok()) return d;
    // The sample's own spread divided the distance; the whole reference's is the right norm.
    const double sample_norm =
        std::max(std::sqrt(stats::RunningMoments::of(f_.sample).population_variance()),
                 stats::kEvidentlyWassersteinMinNorm);
    d.value *= sample_norm / std::max(f_.std_dev, stats::kEvidentlyWassersteinMinNorm);
    d.statistic = d.value;
    return d;
  }

  const FeatureProfile& f_;
  const FeatureWindow& w_;
  bool numeric_ = true;
  bool exact_ = false;
  bool sampled_ = false;
  Binned& binned_;  // the thread's scratch: one FeatureEvaluation at a time per thread
  std::vector<double> cat_ref_, cat_cur_;
};

inline std::vector<DriftTest> applicable_tests(FeatureKind kind) {
  if (kind == FeatureKind::kNumeric) {
    return {DriftTest::kPsi,          DriftTest::kKlDivergence,     DriftTest::kJensenShannon,
            DriftTest::kWassersteinNormed, DriftTest::kKolmogorovSmirnov, DriftTest::kChiSquare,
            DriftTest::kZTest};
  }
  return {DriftTest::kPsi, DriftTest::kKlDivergence, DriftTest::kJensenShannon,
          DriftTest::kChiSquare, DriftTest::kZTest};
}

/// Decides from the deciding statistic (score possibly corrected) and the unseen-category rule.
inline void decide(FeatureDrift& fd) {
  fd.drift = fd.status == stats::StatStatus::kOk && drifted(fd.test, fd.score, fd.threshold);
  if (fd.kind != FeatureKind::kNumeric && fd.unseen > 0) fd.drift = true;
}

}  // namespace detail::drift_eval

SWITCHYARD_INLINE FeatureDrift evaluate_feature(const FeatureProfile& profile,
                                                const FeatureWindow& window,
                                                const FeatureDriftRule& rule,
                                                bool exact_when_complete, bool all_statistics) {
  namespace de = detail::drift_eval;
  // Built only for an error: this runs once per feature of every window.
  auto who = [&profile] { return "feature '" + profile.name + "'"; };
  if (window.counts.size() != profile.slots()) {
    throw InvalidArgument(who() + ": window has " + std::to_string(window.counts.size()) +
                          " slots, the profile " + std::to_string(profile.slots()));
  }
  if (profile.kind != FeatureKind::kNumeric &&
      (rule.test == DriftTest::kWassersteinNormed || rule.test == DriftTest::kKolmogorovSmirnov)) {
    throw InvalidArgument(who() + ": test " + std::string(to_string(rule.test)) +
                          " applies to numeric features only, this one is " +
                          to_string(profile.kind));
  }
  if (!std::isnan(rule.threshold) && !(std::isfinite(rule.threshold) && rule.threshold >= 0)) {
    de::require_threshold(who(), rule.threshold);
  }

  const de::FeatureEvaluation ev(profile, window, exact_when_complete);
  FeatureDrift fd;
  fd.name = profile.name;
  fd.kind = profile.kind;
  fd.reference_count = profile.count;
  fd.reference_missing = profile.missing;
  fd.current_count = window.count();
  fd.current_missing = window.missing;
  fd.unseen = ev.unseen();
  fd.test = rule.test == DriftTest::kAuto
                ? select_default_test(profile.kind, profile.count, ev.distinct_values())
                : rule.test;
  fd.threshold = std::isnan(rule.threshold) ? default_threshold(fd.test) : rule.threshold;

  fd.statistics.reserve(all_statistics ? 7 : 2);
  fd.statistics.push_back(ev.compute(DriftTest::kPsi));
  if (fd.test != DriftTest::kPsi) fd.statistics.push_back(ev.compute(fd.test));
  if (all_statistics) {
    for (DriftTest t : de::applicable_tests(profile.kind)) {
      if (!fd.find(t)) fd.statistics.push_back(ev.compute(t));
    }
  }
  const DriftStatistic& decider = *fd.find(fd.test);
  fd.status = decider.status;
  fd.reason = decider.reason;
  fd.score = decider.value;
  fd.raw_score = decider.value;
  de::decide(fd);
  if (fd.status != stats::StatStatus::kOk && window.count() == 0 && window.missing > 0) {
    fd.reason = "every value in the window is missing (" + std::to_string(window.missing) + ")";
  }
  return fd;
}

SWITCHYARD_INLINE DriftReport evaluate_drift(const ReferenceProfile& profile,
                                             const CurrentWindow& window,
                                             const DriftOptions& options) {
  namespace de = detail::drift_eval;
  if (!(options.drift_share > 0.0 && options.drift_share <= 1.0)) {
    throw InvalidArgument("drift_share must lie in (0, 1], got " +
                          std::to_string(options.drift_share));
  }
  if (window.features.size() != profile.features.size()) {
    throw InvalidArgument("window has " + std::to_string(window.features.size()) +
                          " features, the profile " + std::to_string(profile.features.size()));
  }
  for (const auto& [name, rule] : options.per_feature) (void)profile.index_of(name);
  DriftReport report;
  report.rows = window.rows;
  report.window_start = window.start;
  report.window_end = window.end;
  report.drift_share_threshold = options.drift_share;
  report.correction = to_string(options.correction);
  report.features.reserve(profile.features.size());
  for (std::size_t i = 0; i < profile.features.size(); ++i) {
    const auto it = options.per_feature.find(profile.features[i].name);
    const FeatureDriftRule& rule = it == options.per_feature.end() ? options.features : it->second;
    report.features.push_back(evaluate_feature(profile.features[i], window.features[i], rule,
                                               options.exact_when_complete,
                                               options.all_statistics));
  }
  if (options.correction != DriftCorrection::kNone) {
    std::vector<std::size_t> idx;
    std::vector<double> p;
    for (std::size_t i = 0; i < report.features.size(); ++i) {
      const auto& fd = report.features[i];
      if (fd.status == stats::StatStatus::kOk && is_p_value_test(fd.test)) {
        idx.push_back(i);
        p.push_back(std::clamp(fd.raw_score, 0.0, 1.0));
      }
    }
    if (!p.empty()) {
      const auto adj = stats::adjust_p_values(p,
                                              options.correction == DriftCorrection::kBonferroni
                                                  ? stats::PValueAdjustment::kBonferroni
                                                  : stats::PValueAdjustment::kBenjaminiHochberg);
      for (std::size_t k = 0; k < idx.size(); ++k) {
        auto& fd = report.features[idx[k]];
        fd.score = adj.p_values[k];
        de::decide(fd);
      }
    }
  }
  for (const auto& fd : report.features) {
    if (fd.status != stats::StatStatus::kOk && !fd.drift) ++report.features_unknown;
    if (fd.drift) ++report.features_drifted;
  }
  const std::size_t judged = report.features.size() - report.features_unknown;
  report.drift_share =
      judged ? static_cast<double>(report.features_drifted) / static_cast<double>(judged) : 0.0;
  report.dataset_drift = judged > 0 && report.drift_share >= options.drift_share;
  if (profile.prediction && window.has_prediction) {
    report.has_prediction = true;
    report.prediction = evaluate_feature(*profile.prediction, window.prediction, options.prediction,
                                         options.exact_when_complete, options.all_statistics);
  }
  return report;
}

}  // namespace switchyard
