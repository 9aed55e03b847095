// SPDX-License-Identifier: Apache-2.0
// Chi-square tests: goodness of fit (scipy chisquare) and independence (scipy chi2_contingency).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/result.hpp>
#include <vector>

namespace switchyard::stats {

/// A chi-square test. Non-directional: p_value_less and p_value_greater equal p_value, and
/// interval is (-inf, +inf) (no interval is defined). effect is Cohen's w = sqrt(chi2 / N) for
/// goodness of fit and Cramer's V for independence.
/// Thread-safe: a value type.
struct ChiSquareResult : TestResult {
  double df = 0.0;  ///< degrees of freedom
  /// Goodness of fit: categories observed where the expected count is 0 (a value the reference
  /// never had). Each makes the statistic +inf and the p-value 0, as in scipy and Evidently.
  std::size_t unexpected_categories = 0;
};

namespace detail {
inline void finish_chi_square(ChiSquareResult& r, double stat, double df, double effect) {
  r.status = StatStatus::kOk;
  r.statistic = stat;
  r.df = df;
  r.p_value = chi2_sf(stat, df);
  r.p_value_less = r.p_value;
  r.p_value_greater = r.p_value;
  r.effect = effect;
  r.interval = Interval{};
}
}  // namespace detail

/// Pearson's chi-square goodness-of-fit test of observed counts against expected ones.
///
/// `expected` may be counts or weights: it is scaled to the observed total (which leaves the
/// result unchanged when the totals already agree, the only case scipy accepts). `ddof` lowers the
/// degrees of freedom, k - 1 - ddof, as in scipy.
/// Reference: scipy.stats.chisquare(observed, expected, ddof) (scipy 1.10), 1e-12 relative.
///
/// A category observed where the expected count is 0 (in drift terms: a value present only in the
/// current data) is the strongest evidence of a mismatch there is, and is reported as such, as
/// scipy and Evidently's "chisquare" stattest (chisquare(current, reference scaled)) report it:
/// status kOk, statistic and effect +inf, every p-value 0, and unexpected_categories counts them.
/// A category with expected 0 and observed 0 carries no information and contributes nothing
/// (scipy yields NaN there); it still counts in df = k - 1 - ddof, as scipy counts it.
/// Degenerate input: fewer than 2 categories or a zero observed total -> kNotEnoughData; a
/// negative or non-finite observed count, a negative or non-finite expected value, or no expected
/// mass at all -> kInvalidInput.
/// Throws InvalidArgument when the spans differ in length or ddof leaves no degrees of freedom.
inline ChiSquareResult chi_square_goodness_of_fit(std::span<const double> observed,
                                                  std::span<const double> expected, int ddof = 0) {
  if (observed.size() != expected.size()) {
    throw InvalidArgument("chi_square_goodness_of_fit: " + std::to_string(observed.size()) +
                          " observed counts but " + std::to_string(expected.size()) +
                          " expected values");
  }
  ChiSquareResult r;
  const std::size_t k = observed.size();
  if (k < 2) return detail::set_status(r, StatStatus::kNotEnoughData, "fewer than 2 categories");
  if (ddof < 0 || static_cast<std::size_t>(ddof) + 1 >= k) {
    throw InvalidArgument("chi_square_goodness_of_fit: ddof " + std::to_string(ddof) +
                          " leaves no degrees of freedom for " + std::to_string(k) + " categories");
  }
  double obs_total = 0.0, exp_total = 0.0;
  for (std::size_t i = 0; i < k; ++i) {
    if (!std::isfinite(observed[i]) || observed[i] < 0.0) {
      return detail::set_status(
          r, StatStatus::kInvalidInput,
          "observed count " + std::to_string(i) + " is negative or not finite");
    }
    if (!std::isfinite(expected[i]) || expected[i] < 0.0) {
      return detail::set_status(
          r, StatStatus::kInvalidInput,
          "expected value " + std::to_string(i) + " is negative or not finite");
    }
    obs_total += observed[i];
    exp_total += expected[i];
  }
  if (!(obs_total > 0.0))
    return detail::set_status(r, StatStatus::kNotEnoughData, "no observations");
  if (!(exp_total > 0.0)) {
    return detail::set_status(r, StatStatus::kInvalidInput, "every expected value is 0");
  }
  const double df = static_cast<double>(k - 1 - static_cast<std::size_t>(ddof));
  const double scale = obs_total / exp_total;
  double stat = 0.0;
  std::size_t unexpected = 0;
  for (std::size_t i = 0; i < k; ++i) {
    if (expected[i] == 0.0) {
      if (observed[i] > 0.0) ++unexpected;
      continue;
    }
    const double e = scale == 1.0 ? expected[i] : expected[i] * scale;
    const double d = observed[i] - e;
    stat += d * d / e;
  }
  if (unexpected > 0) {
    detail::finish_chi_square(r, detail::kInf, df, detail::kInf);
    r.unexpected_categories = unexpected;
    return r;
  }
  detail::finish_chi_square(r, stat, df, std::sqrt(stat / obs_total));
  return r;
}

/// Pearson's chi-square test of independence on a rows x cols contingency table (row-major cells),
/// with Yates' continuity correction when the table has one degree of freedom (2x2) and
/// `yates_correction` is set, exactly as scipy applies it (each cell moves toward its expected
/// value by at most 0.5).
///
/// Reference: scipy.stats.contingency.chi2_contingency(table, correction) (scipy 1.10), 1e-12.
/// effect is Cramer's V from the uncorrected statistic (scipy.stats.contingency.association).
/// Degenerate input: a row or column summing to 0, or a single row or column -> kNotEnoughData
/// (scipy raises, or returns statistic 0 and p 1); a negative or non-finite cell -> kInvalidInput.
/// Throws InvalidArgument when cells.size() != rows * cols.
inline ChiSquareResult chi_square_independence(std::span<const double> cells, std::size_t rows,
                                               std::size_t cols, bool yates_correction = true) {
  if (cells.size() != rows * cols) {
    throw InvalidArgument("chi_square_independence: " + std::to_string(cells.size()) +
                          " cells do not form a " + std::to_string(rows) + "x" +
                          std::to_string(cols) + " table");
  }
  ChiSquareResult r;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!std::isfinite(cells[i]) || cells[i] < 0.0) {
      return detail::set_status(r, StatStatus::kInvalidInput,
                                "cell " + std::to_string(i) + " is negative or not finite");
    }
  }
  if (rows < 2 || cols < 2) {
    return detail::set_status(r, StatStatus::kNotEnoughData,
                              "a table needs at least 2 rows and 2 columns");
  }
  std::vector<double> row_sum(rows, 0.0), col_sum(cols, 0.0);
  double total = 0.0;
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      row_sum[i] += cells[i * cols + j];
      col_sum[j] += cells[i * cols + j];
    }
  }
  for (double s : row_sum) total += s;
  for (std::size_t i = 0; i < rows; ++i) {
    if (!(row_sum[i] > 0.0)) {
      return detail::set_status(r, StatStatus::kNotEnoughData,
                                "row " + std::to_string(i) + " is empty");
    }
  }
  for (std::size_t j = 0; j < cols; ++j) {
    if (!(col_sum[j] > 0.0)) {
      return detail::set_status(r, StatStatus::kNotEnoughData,
                                "column " + std::to_string(j) + " is empty");
    }
  }
  const std::size_t df = (rows - 1) * (cols - 1);
  const bool correct = yates_correction && df == 1;
  double stat = 0.0, uncorrected = 0.0;
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      const double e = row_sum[i] * col_sum[j] / total;
      const double o = cells[i * cols + j];
      const double d = o - e;
      uncorrected += d * d / e;
      if (correct) {
        const double move = std::min(0.5, std::fabs(d));
        const double oc = o + (d > 0.0 ? -move : (d < 0.0 ? move : 0.0));
        const double dc = oc - e;
        stat += dc * dc / e;
      }
    }
  }
  if (!correct) stat = uncorrected;
  const double min_dim = static_cast<double>(std::min(rows, cols) - 1);
  detail::finish_chi_square(r, stat, static_cast<double>(df),
                            std::sqrt(uncorrected / (total * min_dim)));
  return r;
}

}  // namespace switchyard::stats
