// SPDX-License-Identifier: Apache-2.0
// Compiled part of the core: per-thread slot indices.
#include <switchyard/detail/thread_slot-inl.hpp>
#include <switchyard/detail/tick_clock-inl.hpp>
