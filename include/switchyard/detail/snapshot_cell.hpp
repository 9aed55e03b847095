// SPDX-License-Identifier: Apache-2.0
// SnapshotCell: publish an immutable object; readers get it with no lock and no shared write.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/thread_slot.hpp>

namespace switchyard::detail {

/// Holds the current immutable snapshot of a T. Writers publish() a new one; readers read() it.
///
/// read() costs a thread-local index lookup, one load of a shared generation counter (read-only,
/// so the cache line stays shared between cores) and one compare: no lock, no reference-count
/// traffic, no write to memory another thread touches. Each thread keeps its own counted
/// reference to the snapshot it last read, in a private cache-line-sized slot, and refreshes it
/// (under the writer mutex) only after a publish. A snapshot therefore lives until every thread
/// that read it has read again or exited: in-flight work never sees its snapshot vanish, and an
/// idle thread may pin an old one until its next read.
///
/// Thread-safe: publish(), read() and load() may be called concurrently from any threads. A
/// pointer from read() stays valid until the same thread next calls read() on the same cell.
template <class T>
class SnapshotCell {
 public:
  /// A borrowed snapshot: a raw pointer kept alive by the reading thread's slot, or (for threads
  /// beyond kMaxThreadSlots) by the counted reference it carries.
  class Ref {
   public:
    const T* get() const noexcept { return ptr_; }
    const T* operator->() const noexcept { return ptr_; }
    const T& operator*() const noexcept { return *ptr_; }
    explicit operator bool() const noexcept { return ptr_ != nullptr; }

   private:
    friend class SnapshotCell;
    explicit Ref(const T* p) noexcept : ptr_(p) {}
    explicit Ref(std::shared_ptr<const T> owner) noexcept
        : ptr_(owner.get()), owner_(std::move(owner)) {}
    const T* ptr_;
    std::shared_ptr<const T> owner_;
  };

  explicit SnapshotCell(std::shared_ptr<const T> initial = nullptr)
      : slots_(new Slot[kMaxThreadSlots]), current_(std::move(initial)) {
    hook_ = add_thread_exit_hook([this](std::size_t i) -> std::shared_ptr<const void> {
      slots_[i].generation = 0;
      return std::move(slots_[i].ptr);
    });
  }
  ~SnapshotCell() { remove_thread_exit_hook(hook_); }
  SnapshotCell(const SnapshotCell&) = delete;
  SnapshotCell& operator=(const SnapshotCell&) = delete;

  /// Makes `next` the snapshot every later read() returns. Returns the one it replaced.
  std::shared_ptr<const T> publish(std::shared_ptr<const T> next) {
    MutexLock lk(mu_);
    std::swap(current_, next);
    generation_.fetch_add(1, std::memory_order_release);
    return next;
  }

  /// The current snapshot without taking a reference. Hot path.
  Ref read() const noexcept {
    const std::size_t i = thread_index();
    if (i >= kMaxThreadSlots) return Ref(load());
    Slot& slot = slots_[i];
    const std::uint64_t g = generation_.load(std::memory_order_acquire);
    if (slot.generation != g) refresh(slot);
    return Ref(slot.ptr.get());
  }

  /// The current snapshot as a counted reference (control plane, or to keep it past a read()).
  std::shared_ptr<const T> load() const {
    MutexLock lk(mu_);
    return current_;
  }

 private:
  struct alignas(64) Slot {
    std::uint64_t generation = 0;  // 0: empty; the cell's generation starts at 1
    std::shared_ptr<const T> ptr;
  };

  void refresh(Slot& slot) const noexcept {
    std::shared_ptr<const T> old;
    {
      MutexLock lk(mu_);
      old = std::exchange(slot.ptr, current_);
      slot.generation = generation_.load(std::memory_order_relaxed);
    }
    // `old` is released here, outside the lock: its destructor may run a model's destructor.
  }

  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::uint64_t> generation_{1};
  mutable Mutex mu_;
  std::shared_ptr<const T> current_ SWITCHYARD_GUARDED_BY(mu_);
  std::size_t hook_ = 0;
};

}  // namespace switchyard::detail
