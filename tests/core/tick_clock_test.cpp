// SPDX-License-Identifier: Apache-2.0
// TickClock agrees with steady_clock over a measured interval.
#include <switchyard/detail/tick_clock.hpp>

#include <gtest/gtest.h>

namespace switchyard {
namespace {

TEST(TickClockTest, ticks_convert_to_the_same_nanoseconds_as_steady_clock) {
  detail::TickClock clock;
  using steady = std::chrono::steady_clock;
  auto s0 = steady::now();
  std::uint64_t k0 = clock.now();
  // Spin (no sleep) until steady_clock says 20 ms have passed.
  steady::time_point s1;
  do {
    s1 = steady::now();
  } while (s1 - s0 < std::chrono::milliseconds(20));
  std::uint64_t k1 = clock.now();
  const double steady_ns = std::chrono::duration<double, std::nano>(s1 - s0).count();
  const double tick_ns = static_cast<double>(clock.to_ns(k1 - k0));
  EXPECT_NEAR(tick_ns / steady_ns, 1.0, 0.02)
      << "tsc=" << detail::tick_calibration().use_tsc
      << " ns_per_tick=" << detail::tick_calibration().ns_per_tick;
}

}  // namespace
}  // namespace switchyard
