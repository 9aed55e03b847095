// SPDX-License-Identifier: Apache-2.0
// LatencyHistogram: a mergeable log-linear histogram of nanosecond durations with bounded error.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace switchyard {

/// Log-linear bucketing shared by the histogram and the per-thread recorders: values below 64 have
/// a bucket each; above, every power of two is split into 64 equal sub-buckets. A bucket's width is
/// at most 1/64 of its lower bound, so a quantile read at the bucket midpoint is within 0.8% of an
/// exact sample quantile. Covers 0 to 2^40 ns (about 18 minutes); larger values share the top bucket.
struct LatencyBuckets {
  static constexpr int kSubBits = 6;
  static constexpr std::uint64_t kSub = 1u << kSubBits;  // 64
  static constexpr int kMaxExponent = 39;                 // values < 2^40
  static constexpr std::size_t kCount = kSub + (kMaxExponent - kSubBits + 1) * kSub;  // 2240

  static constexpr std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    int e = 63 - std::countl_zero(v);
    if (e > kMaxExponent) return kCount - 1;
    std::uint64_t sub = (v >> (e - kSubBits)) - kSub;
    return static_cast<std::size_t>(kSub + static_cast<std::uint64_t>(e - kSubBits) * kSub + sub);
  }
  /// Smallest value in bucket i.
  static constexpr std::uint64_t lower(std::size_t i) noexcept {
    if (i < kSub) return i;
    std::size_t j = i - kSub;
    int e = static_cast<int>(j / kSub) + kSubBits;
    std::uint64_t sub = j % kSub;
    return (kSub + sub) << (e - kSubBits);
  }
  /// One past the largest value in bucket i.
  static constexpr std::uint64_t upper(std::size_t i) noexcept {
    if (i < kSub) return i + 1;
    std::size_t j = i - kSub;
    int e = static_cast<int>(j / kSub) + kSubBits;
    return lower(i) + (std::uint64_t{1} << (e - kSubBits));
  }
};

/// Counts of durations in log-linear buckets, with count, sum, min and max. A value type: merge()
/// adds another histogram (per-thread shards, windows), subtract() removes an earlier baseline.
/// Thread-safety: not synchronised; one writer or many readers. The concurrent recorder is
/// VersionStats.
class LatencyHistogram {
 public:
  void record(std::uint64_t ns) noexcept {
    ++counts_[LatencyBuckets::index(ns)];
    ++count_;
    sum_ += ns;
    min_ = std::min(min_, ns);
    max_ = std::max(max_, ns);
  }
  void add_bucket(std::size_t bucket, std::uint64_t n) noexcept { counts_[bucket] += n; }
  void set_totals(std::uint64_t count, std::uint64_t sum, std::uint64_t min, std::uint64_t max) {
    count_ = count;
    sum_ = sum;
    min_ = min;
    max_ = max;
  }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t sum() const noexcept { return sum_; }
  /// Smallest and largest value recorded; 0 when empty.
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  std::uint64_t bucket_count(std::size_t i) const noexcept { return counts_[i]; }

  /// The q-quantile (q in [0, 1]) as the midpoint of the bucket holding the ceil(q*count)-th
  /// smallest value, clamped to [min, max]: within 0.8% of the exact sample quantile. 0 when empty.
  double quantile(double q) const noexcept {
    if (count_ == 0) return 0.0;
    q = std::clamp(q, 0.0, 1.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        double lo = static_cast<double>(LatencyBuckets::lower(i));
        double hi = static_cast<double>(LatencyBuckets::upper(i)) - 1.0;
        double mid = i < LatencyBuckets::kSub ? lo : (lo + hi) / 2.0;
        return std::clamp(mid, static_cast<double>(min()), static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

  /// Number of recorded values <= `ns` counted by whole buckets (for Prometheus `le` buckets: exact
  /// when `ns` + 1 is a bucket boundary, otherwise the buckets wholly below it).
  std::uint64_t count_at_most(std::uint64_t ns) const noexcept {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < LatencyBuckets::kCount && LatencyBuckets::upper(i) <= ns + 1; ++i) {
      n += counts_[i];
    }
    return n;
  }

  void merge(const LatencyHistogram& o) noexcept {
    for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    min_ = std::min(min_, o.min_);
    max_ = std::max(max_, o.max_);
  }
  /// Removes a baseline taken earlier from the same stream. min and max keep the whole stream's.
  void subtract(const LatencyHistogram& base) noexcept {
    for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) counts_[i] -= base.counts_[i];
    count_ -= base.count_;
    sum_ -= base.sum_;
  }

 private:
  std::array<std::uint64_t, LatencyBuckets::kCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
};

}  // namespace switchyard
