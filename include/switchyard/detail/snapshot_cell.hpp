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
/// consistent store, then a reload to confirm it is still the published one); with
/// Release::kByPublisher that is all it does: it takes no lock, touches no reference count and
/// frees nothing, and the publisher owns reclamation. It keeps each replaced snapshot in a retired list and releases a retired snapshot
/// once no thread's slot announces it, checking at every publish and whenever a reading thread
/// exits, so destructors (a routing table's, a model's) run on the publishing or exiting thread,
/// never inside read(). This is the hazard-pointer scheme with one hazard per thread and cell.
///
/// A snapshot therefore lives until every thread that read it has read again (or exited) and a
/// later publish or thread exit checked: in-flight work never sees its snapshot vanish, and an
/// idle thread may pin one old snapshot until its next read. The retired list holds at most one
/// snapshot per reading thread.
///
/// With Release::kAlsoByReaders (the default) a reader that moves to a new snapshot also frees the
/// replaced ones nobody reads any more, so they go as soon as their last reader moved on; with
/// Release::kByPublisher read() never locks or frees (see Release).
///
/// Thread-safe: publish(), read() and load() may be called concurrently from any threads. A
/// pointer from read() stays valid until the same thread next calls read() on the same cell.
template <class T>
class SnapshotCell {
 public:
  /// Who releases a snapshot once no thread reads it.
  enum class Release {
    /// Also the reader: a thread whose read() moves to a new snapshot frees the ones no thread
    /// announces any more (under the cell's mutex, after its announcement), so an owner sees a
    /// replaced snapshot go as soon as its last reader moved on. Costs that read a lock and the
    /// destructors; right for cells republished rarely.
    kAlsoByReaders,
    /// Only the publisher (at its next publish) and exiting threads: read() never locks or frees.
    /// For a cell republished on the request path's watch (a router's table).
    kByPublisher,
  };

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

  explicit SnapshotCell(std::shared_ptr<const T> initial = nullptr,
                        Release release = Release::kAlsoByReaders)
      : slots_(new Slot[kMaxThreadSlots]),
        readers_release_(release == Release::kAlsoByReaders),
        current_(std::move(initial)) {
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
      retired_count_.store(retired_.size(), std::memory_order_relaxed);
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
      if (now == p) break;
      p = now;
    }
    if (readers_release_ && retired_count_.load(std::memory_order_relaxed) != 0) {
      Retired freed;
      MutexLock lk(mu_);
      freed = reclaim_locked();
    }  // `freed` is destroyed after the lock is released
    return p;
  }

  // Moves out the retired snapshots no slot announces. The caller destroys them unlocked. Never
  // throws: without memory to scan, it keeps everything for a later call.
  Retired reclaim_locked() const noexcept SWITCHYARD_REQUIRES(mu_) {
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
    retired_count_.store(retired_.size(), std::memory_order_relaxed);
    return freed;
  }

  std::unique_ptr<Slot[]> slots_;
  // current_.get(), for readers; alone on its line, so taking mu_ does not evict it from them.
  alignas(64) std::atomic<const T*> published_{nullptr};
  const bool readers_release_;
  // retired_.size(), for readers in kAlsoByReaders mode to skip the lock when nothing waits.
  mutable std::atomic<std::size_t> retired_count_{0};
  alignas(64) mutable Mutex mu_;
  std::shared_ptr<const T> current_ SWITCHYARD_GUARDED_BY(mu_);
  mutable Retired retired_ SWITCHYARD_GUARDED_BY(mu_);  // replaced, maybe still announced by a slot
  std::size_t hook_ = 0;
};

}  // namespace switchyard::detail
