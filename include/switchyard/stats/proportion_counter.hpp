// SPDX-License-Identifier: Apache-2.0
// ProportionCounter: successes out of trials, a streaming and exactly mergeable conversion count.
#pragma once

#include <cstdint>
#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/stats/running_moments.hpp>

namespace switchyard::stats {

/// Successes out of trials for one arm (conversions, errors, correct predictions).
///
/// Integer counts: merging is exact and order-independent. summary() presents the arm as a sample
/// of 0/1 values with variance p(1 - p), the convention GrowthBook's engine uses for proportion
/// metrics, so the relative-lift, sequential and Bayesian functions reproduce its numbers.
///
/// @code
///   ProportionCounter control, treatment;
///   control.add(converted);                       // per request
///   auto z = two_proportion_z_test(treatment, control);
/// @endcode
///
/// Thread-safe: no; one writer at a time. Distinct objects may be used from different threads.
class ProportionCounter {
 public:
  constexpr ProportionCounter() noexcept = default;
  /// Throws InvalidArgument when successes > trials.
  ProportionCounter(std::uint64_t successes, std::uint64_t trials)
      : successes_(successes), trials_(trials) {
    if (successes > trials) {
      throw InvalidArgument("ProportionCounter: successes (" + std::to_string(successes) +
                            ") exceed trials (" + std::to_string(trials) + ")");
    }
  }

  void add(bool success) noexcept {
    ++trials_;
    successes_ += success ? 1u : 0u;
  }
  /// Adds a batch: `successes` of `trials` new trials. Throws InvalidArgument when successes >
  /// trials.
  void add(std::uint64_t successes, std::uint64_t trials) {
    if (successes > trials) {
      throw InvalidArgument("ProportionCounter::add: successes (" + std::to_string(successes) +
                            ") exceed trials (" + std::to_string(trials) + ")");
    }
    successes_ += successes;
    trials_ += trials;
  }
  void merge(const ProportionCounter& other) noexcept {
    successes_ += other.successes_;
    trials_ += other.trials_;
  }

  std::uint64_t successes() const noexcept { return successes_; }
  std::uint64_t trials() const noexcept { return trials_; }
  std::uint64_t failures() const noexcept { return trials_ - successes_; }
  /// successes / trials; 0 when there are no trials.
  double rate() const noexcept {
    return trials_ ? static_cast<double>(successes_) / static_cast<double>(trials_) : 0.0;
  }
  /// count = trials, mean = rate, variance = rate (1 - rate) (GrowthBook's ProportionStatistic).
  SampleSummary summary() const noexcept {
    const double p = rate();
    return SampleSummary{trials_, p, p * (1.0 - p), 0};
  }

 private:
  std::uint64_t successes_ = 0;
  std::uint64_t trials_ = 0;
};

}  // namespace switchyard::stats
