// SPDX-License-Identifier: Apache-2.0
// BoundedRing: Vyukov's bounded multi-producer multi-consumer queue, the shadow queue's core.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

namespace switchyard::detail::shadow {

/// A fixed-capacity lock-free MPMC queue of trivially copyable values (Dmitry Vyukov's bounded
/// queue): each slot carries a sequence number that says whether it is free for the producer of a
/// given position or full for its consumer, so producers and consumers claim positions with one
/// compare-and-swap each and never wait for one another. try_push() and try_pop() never block and
/// never allocate; the capacity is rounded up to a power of two at construction (the only
/// allocation). Throws std::bad_alloc from the constructor only.
///
/// Thread-safe: try_push(), try_pop() and size_approx() may be called concurrently from any
/// threads. Neither copyable nor movable.
template <class T>
class BoundedRing {
  static_assert(std::is_trivially_copyable_v<T>, "BoundedRing holds trivially copyable values");

 public:
  explicit BoundedRing(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1),
        slots_(new Slot[mask_ + 1]) {
    for (std::size_t i = 0; i <= mask_; ++i) slots_[i].sequence.store(i, std::memory_order_relaxed);
  }
  BoundedRing(const BoundedRing&) = delete;
  BoundedRing& operator=(const BoundedRing&) = delete;

  /// Slots in the ring (the requested capacity rounded up to a power of two, at least 2).
  std::size_t capacity() const noexcept { return mask_ + 1; }

  /// Appends `value`; false (and nothing changes) when the ring is full. On success `*position`
  /// (when given) receives the value's position: pushes are numbered 0, 1, 2, ... in ring order.
  bool try_push(T value, std::size_t* position = nullptr) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      const std::size_t seq = slot.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          slot.value = value;
          slot.sequence.store(pos + 1, std::memory_order_release);
          if (position != nullptr) *position = pos;
          return true;
        }
      } else if (diff < 0) {
        return false;  // the consumer of the previous lap has not freed this slot: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Removes the oldest value into `out`; false when the ring is empty.
  bool try_pop(T& out) noexcept {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      const std::size_t seq = slot.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = slot.value;
          slot.sequence.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // nothing published at this position yet: empty
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Positions claimed by pushes so far (the next push's position). Thread-safe.
  std::size_t tail_position() const noexcept { return tail_.load(std::memory_order_seq_cst); }
  /// Positions claimed by pops so far: every value at a lower position has been taken (or is
  /// being copied out by a pop that claimed it). Thread-safe.
  std::size_t head_position() const noexcept { return head_.load(std::memory_order_seq_cst); }

  /// Values in the ring at some recent instant; exact when no push or pop runs concurrently.
  std::size_t size_approx() const noexcept {
    const std::size_t head = head_.load(std::memory_order_acquire);
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    return tail > head ? tail - head : 0;
  }

 private:
  struct Slot {
    std::atomic<std::size_t> sequence{0};
    T value{};
  };

  const std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  // Producers and consumers each write only their own cache line.
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::atomic<std::size_t> head_{0};
};

}  // namespace switchyard::detail::shadow
