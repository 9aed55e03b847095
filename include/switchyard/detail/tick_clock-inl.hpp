// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of tick_clock.hpp.
#pragma once

#include <fstream>
#include <string>

#include <switchyard/detail/tick_clock.hpp>

namespace switchyard::detail {

namespace tick {
inline bool invariant_tsc() {
#if defined(SWITCHYARD_HAVE_TSC) && defined(__linux__)
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) {
      auto has = [&](const char* f) { return (" " + line + " ").find(std::string(" ") + f + " ") != std::string::npos; };
      return has("constant_tsc") && has("nonstop_tsc");
    }
  }
#endif
  return false;
}

inline TickCalibration calibrate() {
  TickCalibration c;
#if defined(SWITCHYARD_HAVE_TSC)
  if (!invariant_tsc()) return c;
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  std::uint64_t k0 = __rdtsc();
  clock::time_point t1;
  do {
    t1 = clock::now();
  } while (t1 - t0 < std::chrono::milliseconds(2));
  std::uint64_t k1 = __rdtsc();
  if (k1 <= k0) return c;
  c.ns_per_tick = std::chrono::duration<double, std::nano>(t1 - t0).count() /
                  static_cast<double>(k1 - k0);
  c.use_tsc = c.ns_per_tick > 0.0 && c.ns_per_tick < 10.0;  // 100 MHz .. any faster TSC
  if (!c.use_tsc) c.ns_per_tick = 1.0;
#endif
  return c;
}
}  // namespace tick

SWITCHYARD_INLINE const TickCalibration& tick_calibration() noexcept {
  static const TickCalibration c = tick::calibrate();
  return c;
}

}  // namespace switchyard::detail
