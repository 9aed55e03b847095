// SPDX-License-Identifier: Apache-2.0
// Internal: mid-ranks of two pooled samples, their rank sums and the tie term, in O(n log n).
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <vector>

namespace switchyard::stats::detail {

/// What rank-based two-sample statistics need from the pooled sample. Thread-safe: a value type.
struct PooledRanks {
  double rank_sum_first = 0.0;  ///< sum of the first sample's mid-ranks (1-based, ties averaged)
  double tie_term = 0.0;        ///< sum over groups of tied values of t^3 - t
};

/// Mid-ranks of two already sorted samples, pooled: one merge pass. Rank sums of half-integers
/// are exact in double for any realistic sample size.
inline PooledRanks pooled_ranks_sorted(std::span<const double> a, std::span<const double> b) {
  PooledRanks r;
  std::size_t i = 0, j = 0, pos = 0;
  const std::size_t na = a.size(), nb = b.size();
  while (i < na || j < nb) {
    double v;
    if (j >= nb || (i < na && a[i] <= b[j])) {
      v = a[i];
    } else {
      v = b[j];
    }
    std::size_t ca = 0, cb = 0;
    while (i < na && a[i] == v) {
      ++i;
      ++ca;
    }
    while (j < nb && b[j] == v) {
      ++j;
      ++cb;
    }
    const std::size_t t = ca + cb;
    // Ranks pos+1 .. pos+t share their average.
    const double avg = (static_cast<double>(pos + 1) + static_cast<double>(pos + t)) / 2.0;
    r.rank_sum_first += avg * static_cast<double>(ca);
    if (t > 1) {
      const double td = static_cast<double>(t);
      r.tie_term += td * td * td - td;
    }
    pos += t;
  }
  return r;
}

/// As pooled_ranks_sorted, for unsorted samples (copies and sorts them).
inline PooledRanks pooled_ranks(std::span<const double> a, std::span<const double> b) {
  std::vector<double> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  return pooled_ranks_sorted(sa, sb);
}

}  // namespace switchyard::stats::detail
