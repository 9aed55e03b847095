// SPDX-License-Identifier: Apache-2.0
// cpu_relax(): the processor's spin-wait hint, for loops that poll a line another core writes.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace switchyard::detail {

/// Tells the core it is spinning (x86 `pause`, ARM `yield`): the polling thread backs off the
/// line it reads and leaves execution resources to others, without a system call. Elsewhere a
/// compiler barrier only. Thread-safe: no state.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#else
  asm volatile("" ::: "memory");
#endif
}

}  // namespace switchyard::detail
