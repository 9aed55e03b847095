// SPDX-License-Identifier: Apache-2.0
// A small dense index per live thread, recycled when the thread exits; it selects per-thread slots.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include <switchyard/core/config.hpp>

namespace switchyard::detail {

/// Threads with an index below this get private slots; any further threads share fallbacks.
inline constexpr std::size_t kMaxThreadSlots = 256;

/// Assigns this thread its index on first use (see thread_index). Thread-safe.
SWITCHYARD_API std::size_t assign_thread_index() noexcept;

namespace thread_slot_cache {
inline constexpr std::size_t kUnassigned = ~std::size_t{0};
/// This thread's index once assigned; kMaxThreadSlots again after the thread's slot was released
/// at exit. Constant-initialised, so reading it needs no TLS guard. Exported so a shared library
/// and its callers see one variable.
SWITCHYARD_API inline thread_local std::size_t index = kUnassigned;
}  // namespace thread_slot_cache

/// This thread's index in [0, kMaxThreadSlots), or kMaxThreadSlots when all are taken (or this
/// thread is exiting and its slot was released). Stable for the thread's life; reused by a later
/// thread after this one exits. Inline: a thread-local load and a compare once assigned.
/// Thread-safe.
inline std::size_t thread_index() noexcept {
  const std::size_t i = thread_slot_cache::index;
  return i != thread_slot_cache::kUnassigned ? i : assign_thread_index();
}

/// One past the highest index any thread has been given so far (never decreases), so a scan of
/// per-thread slots can stop there instead of at kMaxThreadSlots. A thread's index is counted
/// here (a sequentially consistent store) before thread_index() first returns it. Thread-safe.
SWITCHYARD_API std::size_t thread_index_bound() noexcept;

/// A callback run on a thread's exit with that thread's index. It runs under the hook registry's
/// lock, so it must only move out what the slot holds and return it: the returned object is
/// destroyed after the lock is released.
using ThreadExitHook = std::function<std::shared_ptr<const void>(std::size_t)>;

/// Registers a hook so per-thread slots drop what they hold when their thread exits. Returns an id
/// for remove_thread_exit_hook; after that returns, the hook is not running and never runs again.
/// Thread-safe.
SWITCHYARD_API std::size_t add_thread_exit_hook(ThreadExitHook hook);
SWITCHYARD_API void remove_thread_exit_hook(std::size_t id) noexcept;

}  // namespace switchyard::detail

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/detail/thread_slot-inl.hpp>
#endif
