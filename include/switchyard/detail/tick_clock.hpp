// SPDX-License-Identifier: Apache-2.0
// TickClock: the cheapest monotonic clock for per-request latency (the TSC where it is invariant).
#pragma once

#include <chrono>
#include <cstdint>

#include <switchyard/core/config.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define SWITCHYARD_HAVE_TSC 1
#endif

namespace switchyard::detail {

/// How to turn ticks into nanoseconds on this machine: the time-stamp counter when the CPU reports
/// it constant and non-stop (calibrated once against steady_clock), else steady_clock itself.
struct TickCalibration {
  bool use_tsc = false;
  double ns_per_tick = 1.0;
};

/// Calibrates on first call (about 2 ms), then returns the same value. Thread-safe.
SWITCHYARD_API const TickCalibration& tick_calibration() noexcept;

/// Reads latency with the calibration a caller cached: rdtsc costs a few ns where
/// steady_clock::now() costs 20-40 ns under a paravirtual clock. Thread-safe: a value type.
class TickClock {
 public:
  TickClock() noexcept : cal_(tick_calibration()) {}
  std::uint64_t now() const noexcept {
#if defined(SWITCHYARD_HAVE_TSC)
    if (cal_.use_tsc) return __rdtsc();
#endif
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  std::uint64_t to_ns(std::uint64_t ticks) const noexcept {
    return cal_.use_tsc ? static_cast<std::uint64_t>(static_cast<double>(ticks) * cal_.ns_per_tick)
                        : ticks;
  }

 private:
  TickCalibration cal_;
};

}  // namespace switchyard::detail

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/detail/tick_clock-inl.hpp>
#endif
