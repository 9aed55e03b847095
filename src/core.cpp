// SPDX-License-Identifier: Apache-2.0
// Compiled part of core: the library version, per-thread slot indices and the latency clock.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/core.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/detail/thread_slot-inl.hpp>
#include <switchyard/detail/tick_clock-inl.hpp>
#include <switchyard/version-inl.hpp>
