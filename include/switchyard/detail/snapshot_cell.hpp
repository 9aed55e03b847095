// SPDX-License-Identifier: Apache-2.0
// SnapshotCell: publish an immutable object; readers get it with no lock and no shared write.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/thread_slot.hpp>

namespace switchyard::detail {

/// Holds the current immutable snapshot of a T. Writers publish() a new one; readers read() it.
///
/// read() costs a thread-local index lookup, one load of the published pointer (read-only, so its
/// cache line stays shared between cores) and one compare with the pointer this thread last
/// announced: no lock, no reference-count traffic, no write at all. After a publish, a thread's
/// next read() announces the new pointer in its own cache-line-sized slot (one sequentially
/// consistent store, then a reload to confirm it is still the published one) and that is all it
/// does: it takes no lock, touches no reference count and frees nothing. The publisher owns
/// reclamation. It keeps each replaced snapshot in a retired list and releases a retired snapshot
/// once no thread's slot announces it, checking at every publish and whenever a reading thread
/// exits, so destructors (a routing table's, a model's) run on the publishing or exiting thread,
/// never inside read(). This is the hazard-pointer scheme with one hazard per thread and cell.
///
/// A snapshot therefore lives until every thread that read it has read again (or exited) and a
/// later publish or thread exit checked: in-flight work never sees its snapshot vanish, and an
/// idle thread may pin one old snapshot until its next read. The retired list holds at most one
/// snapshot per reading thread.
///
/// Thread-safe: publish(), read() and load() may be called concurrently from any threads. A
/// pointer from read() stays valid until the same thread next calls read() on the same cell.
template <class T>
class SnapshotCell {
 public:
  /// A borrowed snapshot: a raw pointer kept alive by the reading thread's announcement, or (for
  /// threads beyond kMaxThreadSlots) by the counted reference it carries.
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
    published_.store(current_.get(), std::memory_order_seq_cst);
    hook_ = add_thread_exit_hook([this](std::size_t i) -> std::shared_ptr<const void> {
      slots_[i].announced.store(nullptr, std::memory_order_seq_cst);
      Retired freed;
      {
        MutexLock lk(mu_);
        freed = reclaim_locked();
      }
      if (freed.empty()) return nullptr;
      try {
        // Destroyed by the caller once its registry lock is released.
        return std::make_shared<Retired>(std::move(freed));
      } catch (...) {
        return nullptr;  // out of memory: `freed` goes here instead
      }
    });
  }
  ~SnapshotCell() { remove_thread_exit_hook(hook_); }
  SnapshotCell(const SnapshotCell&) = delete;
  SnapshotCell& operator=(const SnapshotCell&) = delete;

  /// Makes `next` the snapshot every later read() returns. Returns the one it replaced. Snapshots
  /// no thread still reads are released here, after the cell's lock is dropped.
  std::shared_ptr<const T> publish(std::shared_ptr<const T> next) {
    std::shared_ptr<const T> old;
    Retired freed;
    {
      MutexLock lk(mu_);
      retired_.reserve(retired_.size() + 1);  // may throw, before anything changed
      old = std::exchange(current_, std::move(next));
      published_.store(current_.get(), std::memory_order_seq_cst);
      if (old) retired_.push_back(old);
      freed = reclaim_locked();
    }
    return old;  // `freed` is destroyed after this, outside the lock
  }

  /// The current snapshot without taking a reference. Hot path.
  Ref read() const noexcept {
    const std::size_t i = thread_index();
    if (i >= kMaxThreadSlots) [[unlikely]] return Ref(load());
    Slot& slot = slots_[i];
    const T* p = published_.load(std::memory_order_acquire);
    if (slot.announced.load(std::memory_order_relaxed) != p) [[unlikely]] p = announce(slot, p);
    return Ref(p);
  }

  /// The current snapshot as a counted reference (control plane, or to keep it past a read()).
  std::shared_ptr<const T> load() const {
    MutexLock lk(mu_);
    return current_;
  }

 private:
  using Retired = std::vector<std::shared_ptr<const T>>;

  struct alignas(64) Slot {
    // The snapshot this thread reads; written only by its thread, read by the reclaimer.
    std::atomic<const T*> announced{nullptr};
  };

  // Announces `p` in this thread's slot and confirms it is still published (a publish in between
  // may already have scanned the slot and missed it): the store and the reload are sequentially
  // consistent, so either the reload sees the newer pointer and we announce that one instead, or
  // the publisher's scan, which follows its store of the newer pointer, sees our announcement.
  // The store is also a release, so this thread's reads of the previous snapshot happen before
  // the reclaimer that sees the new announcement frees it.
  const T* announce(Slot& slot, const T* p) const noexcept {
    for (;;) {
      slot.announced.store(p, std::memory_order_seq_cst);
      const T* now = published_.load(std::memory_order_seq_cst);
      if (now == p) return p;
      p = now;
    }
  }

  // Moves out the retired snapshots no slot announces. The caller destroys them unlocked. Never
  // throws: without memory to scan, it keeps everything for a later call.
  Retired reclaim_locked() noexcept SWITCHYARD_REQUIRES(mu_) {
    Retired freed;
    if (retired_.empty()) return freed;
    // Read after the published pointer's store: a thread given its index later reads the newer
    // snapshot (see announce()).
    const std::size_t n = std::min(thread_index_bound(), kMaxThreadSlots);
    std::vector<const T*> held;
    try {
      held.reserve(n);
      freed.reserve(retired_.size());
    } catch (...) {
      return freed;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (const T* p = slots_[i].announced.load(std::memory_order_seq_cst)) held.push_back(p);
    }
    std::sort(held.begin(), held.end());
    // A retired entry that is the current snapshot again (published twice) is only a second
    // reference: dropping it frees nothing.
    const T* current = current_.get();
    auto keep = std::partition(retired_.begin(), retired_.end(), [&](const auto& r) {
      return r.get() != current && std::binary_search(held.begin(), held.end(), r.get());
    });
    freed.assign(std::make_move_iterator(keep), std::make_move_iterator(retired_.end()));
    retired_.erase(keep, retired_.end());
    return freed;
  }

  std::unique_ptr<Slot[]> slots_;
  // current_.get(), for readers; alone on its line, so taking mu_ does not evict it from them.
  alignas(64) std::atomic<const T*> published_{nullptr};
  alignas(64) mutable Mutex mu_;
  std::shared_ptr<const T> current_ SWITCHYARD_GUARDED_BY(mu_);
  Retired retired_ SWITCHYARD_GUARDED_BY(mu_);  // replaced, maybe still announced by a slot
  std::size_t hook_ = 0;
};

}  // namespace switchyard::detail
