// SPDX-License-Identifier: Apache-2.0
// CoMoments: streaming, mergeable means, variances and covariance of paired samples (for CUPED).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/running_moments.hpp>

namespace switchyard::stats {

/// Means, variances and the covariance of a stream of (x, y) pairs, e.g. a unit's metric during an
/// experiment (y) and the same metric before it (x) for covariance-adjusted (CUPED) estimates.
///
/// The bivariate form of RunningMoments: Welford's update on shifted values and Chan's merge of
/// the co-moment. A pair with a NaN or infinite member is rejected and counted in rejected().
///
/// Thread-safe: no; one writer at a time. Distinct objects may be used from different threads.
class CoMoments {
 public:
  constexpr CoMoments() noexcept = default;

  void add(double x, double y) noexcept {
    if (!std::isfinite(x) || !std::isfinite(y)) [[unlikely]] {
      ++rejected_;
      return;
    }
    if (count_ == 0) [[unlikely]] {
      shift_x_ = x;
      shift_y_ = y;
    }
    const double dx0 = x - shift_x_;
    const double dy0 = y - shift_y_;
    ++count_;
    const double inv = 1.0 / static_cast<double>(count_);
    const double dx = dx0 - mean_x_;
    const double dy = dy0 - mean_y_;
    mean_x_ += dx * inv;
    mean_y_ += dy * inv;
    m2x_ += dx * (dx0 - mean_x_);
    m2y_ += dy * (dy0 - mean_y_);
    cxy_ += dx * (dy0 - mean_y_);
  }

  /// Adds pairs (xs[i], ys[i]). Throws InvalidArgument when the spans differ in length.
  void add(std::span<const double> xs, std::span<const double> ys) {
    if (xs.size() != ys.size()) {
      throw InvalidArgument("CoMoments::add: x has " + std::to_string(xs.size()) +
                            " values but y has " + std::to_string(ys.size()));
    }
    for (std::size_t i = 0; i < xs.size(); ++i) add(xs[i], ys[i]);
  }

  void merge(const CoMoments& o) noexcept {
    rejected_ += o.rejected_;
    if (o.count_ == 0) return;
    if (count_ == 0) {
      const std::uint64_t rejected = rejected_;
      *this = o;
      rejected_ = rejected;
      return;
    }
    const double na = static_cast<double>(count_);
    const double nb = static_cast<double>(o.count_);
    const double n = na + nb;
    const double dx = ((o.shift_x_ - shift_x_) + o.mean_x_) - mean_x_;
    const double dy = ((o.shift_y_ - shift_y_) + o.mean_y_) - mean_y_;
    const double w = na * nb / n;
    mean_x_ += dx * (nb / n);
    mean_y_ += dy * (nb / n);
    m2x_ += o.m2x_ + dx * dx * w;
    m2y_ += o.m2y_ + dy * dy * w;
    cxy_ += o.cxy_ + dx * dy * w;
    count_ += o.count_;
  }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t rejected() const noexcept { return rejected_; }
  double mean_x() const noexcept { return count_ ? shift_x_ + mean_x_ : 0.0; }
  double mean_y() const noexcept { return count_ ? shift_y_ + mean_y_ : 0.0; }
  /// Unbiased variances and covariance (divisor count - 1); 0 when count < 2.
  double variance_x() const noexcept { return count_ > 1 ? m2x_ / denom() : 0.0; }
  double variance_y() const noexcept { return count_ > 1 ? m2y_ / denom() : 0.0; }
  double covariance() const noexcept { return count_ > 1 ? cxy_ / denom() : 0.0; }
  /// Pearson correlation; 0 when either variance is 0.
  double correlation() const noexcept {
    const double d = std::sqrt(m2x_ * m2y_);
    return d > 0.0 ? cxy_ / d : 0.0;
  }
  SampleSummary summary_x() const noexcept {
    return SampleSummary{count_, mean_x(), variance_x(), rejected_};
  }
  SampleSummary summary_y() const noexcept {
    return SampleSummary{count_, mean_y(), variance_y(), rejected_};
  }

 private:
  double denom() const noexcept { return static_cast<double>(count_ - 1); }

  std::uint64_t count_ = 0;
  std::uint64_t rejected_ = 0;
  double shift_x_ = 0.0, shift_y_ = 0.0;
  double mean_x_ = 0.0, mean_y_ = 0.0;
  double m2x_ = 0.0, m2y_ = 0.0, cxy_ = 0.0;
};

}  // namespace switchyard::stats
