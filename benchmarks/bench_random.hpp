// SPDX-License-Identifier: Apache-2.0
// The deterministic sample stream the statistics benchmarks share with their Python baselines.
#pragma once

#include <cstdint>

namespace switchyard::bench {

/// SplitMix64 (Steele, Lea & Flood 2014): cheap, and reproduced bit for bit by numpy in
/// scripts/stats_bench_python.py, so C++ and Python time the same data.
constexpr std::uint64_t kSeed = 20261123;
inline std::uint64_t splitmix64(std::uint64_t i) {
  std::uint64_t z = kSeed + (i + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
/// The i-th output's top 53 bits as a double in [0, 1).
inline double uniform(std::uint64_t i) {
  return static_cast<double>(splitmix64(i) >> 11) * 0x1.0p-53;
}

}  // namespace switchyard::bench
