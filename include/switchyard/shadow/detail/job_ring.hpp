// SPDX-License-Identifier: Apache-2.0
// JobRing: the shadow queue. A bounded MPMC ring (Vyukov's) whose slots hold the jobs themselves.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace switchyard::detail::shadow {

/// A fixed-capacity lock-free multi-producer multi-consumer ring whose slots are the payloads
/// (Dmitry Vyukov's bounded queue, with the copy done in place): a producer claims the slot at
/// the tail with one compare-and-swap, fills it where it lies and publishes it; a consumer claims
/// the slot at the head, works on it in place and releases it. Nothing is allocated or copied
/// between producer and consumer, and a slot's memory is reused every lap, so a steady stream of
/// similar requests touches the same lines again and again.
///
/// Positions count claims: 0, 1, 2, ... A claimed slot must be published (producer) or released
/// (consumer) exactly once; a producer that cannot fill its slot publishes it empty. The ring is
/// full when the slot at the tail is still held from the previous lap (queued, or claimed by a
/// consumer that is working on it).
///
/// Thread-safe: every member may be called concurrently from any threads, within the claim /
/// publish / release protocol above. Neither copyable nor movable.
template <class T>
class JobRing {
 public:
  explicit JobRing(std::size_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1),
        slots_(new Slot[mask_ + 1]) {
    for (std::size_t i = 0; i <= mask_; ++i) slots_[i].sequence.store(i, std::memory_order_relaxed);
  }
  JobRing(const JobRing&) = delete;
  JobRing& operator=(const JobRing&) = delete;

  /// Slots in the ring (the requested capacity rounded up to a power of two, at least 2).
  std::size_t capacity() const noexcept { return mask_ + 1; }

  /// Claims the slot at the tail for filling; null (and nothing changes) when the ring is full.
  T* try_claim(std::size_t& position) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      const std::size_t seq = slot.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          position = pos;
          return &slot.value;
        }
      } else if (diff < 0) {
        return nullptr;
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }
  /// Hands a claimed, filled slot to the consumers.
  void publish(std::size_t position) noexcept {
    slots_[position & mask_].sequence.store(position + 1, std::memory_order_release);
  }

  /// Claims the oldest published slot; null when none is published at the head.
  T* try_take(std::size_t& position) noexcept {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      const std::size_t seq = slot.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
      if (diff == 0) {
        // seq_cst: a thread that sees this claim also sees what the consumer stored before it
        // (its position mark; see Core).
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
          position = pos;
          return &slot.value;
        }
      } else if (diff < 0) {
        return nullptr;
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }
  /// Gives a taken slot back to the producers of the next lap.
  void release(std::size_t position) noexcept {
    slots_[position & mask_].sequence.store(position + mask_ + 1, std::memory_order_release);
  }

  /// Whether the slot at the head is published (a try_take() would find it), reading only that
  /// slot's sequence: a consumer that polls this instead of size_approx() leaves the tail's line
  /// to the producers. Thread-safe.
  bool head_ready() const noexcept {
    const std::size_t pos = head_.load(std::memory_order_relaxed);
    return slots_[pos & mask_].sequence.load(std::memory_order_acquire) == pos + 1;
  }
  /// Positions claimed by producers so far. Thread-safe.
  std::size_t tail_position() const noexcept { return tail_.load(std::memory_order_seq_cst); }
  /// Positions claimed by consumers so far. Thread-safe.
  std::size_t head_position() const noexcept { return head_.load(std::memory_order_seq_cst); }
  /// Claimed but not yet taken, at some recent instant. Thread-safe.
  std::size_t size_approx() const noexcept {
    const std::size_t head = head_.load(std::memory_order_acquire);
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    return tail > head ? tail - head : 0;
  }
  /// The slot at `i` (0 <= i < capacity()), for whole-ring walks by a single owner.
  T& slot_at(std::size_t i) noexcept { return slots_[i].value; }

 private:
  // The sequence on a line of its own: a consumer polling head_ready() reads that line only, so
  // it never pulls the job's lines away from a producer filling them.
  struct Slot {
    alignas(64) std::atomic<std::size_t> sequence{0};
    alignas(64) T value{};
  };

  const std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::atomic<std::size_t> head_{0};
};

}  // namespace switchyard::detail::shadow
