// SPDX-License-Identifier: Apache-2.0
// Injected time: a Clock interface, the system clock, and a manual clock for tests and simulations.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace switchyard {

/// Wall-clock instants at nanosecond resolution (UTC, Unix epoch).
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;
using Duration = std::chrono::nanoseconds;

/// Nanoseconds since the Unix epoch, the form persisted by stores.
constexpr std::int64_t to_unix_nanos(TimePoint t) noexcept { return t.time_since_epoch().count(); }
constexpr TimePoint from_unix_nanos(std::int64_t ns) noexcept { return TimePoint(Duration(ns)); }

/// Source of the current time for every time-dependent part (audit stamps, windows, rollout plans).
/// Thread-safe: implementations must allow now() from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const noexcept = 0;
};

/// The real wall clock. Thread-safe. Use system_clock() for a shared instance.
class SystemClock final : public Clock {
 public:
  TimePoint now() const noexcept override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

/// The process-wide SystemClock.
inline Clock& system_clock() noexcept {
  static SystemClock clock;
  return clock;
}

/// A clock that moves only when told to, so a 24-hour plan runs in milliseconds and always the
/// same way. Thread-safe: now(), set() and advance() may be called concurrently.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = from_unix_nanos(1'700'000'000'000'000'000)) noexcept
      : ns_(to_unix_nanos(start)) {}
  TimePoint now() const noexcept override {
    return from_unix_nanos(ns_.load(std::memory_order_acquire));
  }
  void set(TimePoint t) noexcept { ns_.store(to_unix_nanos(t), std::memory_order_release); }
  void advance(Duration d) noexcept { ns_.fetch_add(d.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<std::int64_t> ns_;
};

}  // namespace switchyard
