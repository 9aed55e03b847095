// SPDX-License-Identifier: Apache-2.0
// Multiple-comparison adjustment of p-values: Bonferroni, Holm, Benjamini-Hochberg.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <span>
#include <string>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard::stats {

/// The adjustment method (statsmodels' multipletests `method`).
enum class PValueAdjustment : int {
  kBonferroni = 0,         ///< 'bonferroni': family-wise error rate, p * m
  kHolm = 1,               ///< 'holm': step-down family-wise error rate
  kBenjaminiHochberg = 2,  ///< 'fdr_bh': false discovery rate
};

/// Adjusted p-values, in the input order, and which hypotheses are rejected at alpha.
/// When status is not kOk both vectors are empty.
/// Thread-safe: a value type.
struct AdjustedPValues {
  StatStatus status = StatStatus::kNotEnoughData;
  std::string reason;
  std::vector<double> p_values;
  std::vector<bool> rejected;

  bool ok() const noexcept { return status == StatStatus::kOk; }
};

/// Adjusts p-values for multiple comparisons.
///
/// Reference: statsmodels.stats.multitest.multipletests(p, alpha, method) (statsmodels 0.13.5),
/// pvals_corrected and reject, exact to 1e-15 relative (the same arithmetic).
/// Degenerate input: no p-values -> kNotEnoughData; a NaN or a p-value outside [0, 1] ->
/// kInvalidInput. Throws InvalidArgument unless 0 < alpha < 1.
inline AdjustedPValues adjust_p_values(std::span<const double> p, PValueAdjustment method,
                                       double alpha = 0.05) {
  detail::require_open_unit(alpha, "alpha");
  AdjustedPValues r;
  if (p.empty()) {
    r.reason = "no p-values";
    return r;
  }
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!(p[i] >= 0.0 && p[i] <= 1.0)) {
      r.status = StatStatus::kInvalidInput;
      r.reason = "p-value " + std::to_string(i) + " is NaN or outside [0, 1]";
      return r;
    }
  }
  const std::size_t m = p.size();
  const double md = static_cast<double>(m);
  std::vector<double> adj(m);
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  switch (method) {
    case PValueAdjustment::kBonferroni:
      for (std::size_t i = 0; i < m; ++i) adj[i] = std::min(1.0, p[i] * md);
      break;
    case PValueAdjustment::kHolm: {
      double running = 0.0;
      for (std::size_t k = 0; k < m; ++k) {
        running = std::max(running, p[order[k]] * static_cast<double>(m - k));
        adj[order[k]] = std::min(1.0, running);
      }
      break;
    }
    case PValueAdjustment::kBenjaminiHochberg: {
      double running = 1.0;
      for (std::size_t k = m; k-- > 0;) {
        const double factor = static_cast<double>(k + 1) / md;
        running = std::min(running, p[order[k]] / factor);
        adj[order[k]] = std::min(1.0, running);
      }
      break;
    }
  }
  r.status = StatStatus::kOk;
  r.p_values = std::move(adj);
  r.rejected.resize(m);
  if (method == PValueAdjustment::kBenjaminiHochberg) {
    // statsmodels rejects the k smallest where k is the largest rank with p_(k) <= k alpha / m.
    std::size_t kmax = 0;
    for (std::size_t k = 0; k < m; ++k) {
      if (p[order[k]] <= static_cast<double>(k + 1) / md * alpha) kmax = k + 1;
    }
    for (std::size_t k = 0; k < m; ++k) r.rejected[order[k]] = k < kmax;
  } else if (method == PValueAdjustment::kHolm) {
    // Step-down: reject until the first p_(k) > alpha / (m - k).
    bool stop = false;
    for (std::size_t k = 0; k < m; ++k) {
      if (!stop && p[order[k]] > alpha / static_cast<double>(m - k)) stop = true;
      r.rejected[order[k]] = !stop;
    }
  } else {
    for (std::size_t i = 0; i < m; ++i) r.rejected[i] = p[i] <= alpha / md;
  }
  return r;
}

}  // namespace switchyard::stats
