// SPDX-License-Identifier: Apache-2.0
// PerThreadRefs: hands out shared_ptr copies whose reference count belongs to the calling thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include <switchyard/detail/thread_slot.hpp>

namespace switchyard::detail::registry {

/// Copies of a shared_ptr<const T> that do not share a reference count across threads.
///
/// Copying a shared_ptr writes its control block; two threads returning the same object (the
/// registry's lookups of one popular version) then bounce that cache line between their cores, and
/// a lookup costs several times its single-threaded price. share(p) instead returns a pointer to the
/// same object whose control block is this thread's own: one per thread and object, made on the
/// first share() and kept in a small per-thread table. That block holds one counted reference to
/// `p` itself, so the object lives while any copy from any thread does, and its address cannot be
/// reused while the table still names it (which is what makes the table's key sound).
///
/// The table has kWays entries per thread; a miss (or a collision) replaces an entry, so a thread
/// pins at most kWays objects past their removal from the snapshot, until it looks up others or
/// exits (the slot is emptied on thread exit). Threads beyond kMaxThreadSlots get plain copies.
///
/// Thread-safety: share() may be called concurrently from any threads; each thread touches only
/// its own slot. The returned pointers are ordinary shared_ptrs, free to cross threads.
template <class T>
class PerThreadRefs {
 public:
  static constexpr std::size_t kWays = 8;

  PerThreadRefs() : slots_(new Slot[kMaxThreadSlots]) {
    hook_ = add_thread_exit_hook([this](std::size_t i) -> std::shared_ptr<const void> {
      auto dropped = std::make_shared<Table>();
      std::swap(*dropped, slots_[i].table);
      return dropped;
    });
  }
  ~PerThreadRefs() { remove_thread_exit_hook(hook_); }
  PerThreadRefs(const PerThreadRefs&) = delete;
  PerThreadRefs& operator=(const PerThreadRefs&) = delete;

  /// `p` (non-null), as a copy counted in this thread's own control block.
  std::shared_ptr<const T> share(const std::shared_ptr<const T>& p) const {
    const std::size_t i = thread_index();
    if (i >= kMaxThreadSlots) return p;
    Entry& e = slots_[i].table[way(p.get())];
    if (e.key != p.get()) {
      // The deleter owns a reference to the shared object: freeing this thread's block releases it.
      e.ref = std::shared_ptr<const T>(p.get(), [owner = p](const T*) noexcept {});
      e.key = p.get();
    }
    return e.ref;
  }

 private:
  struct Entry {
    const T* key = nullptr;
    std::shared_ptr<const T> ref;
  };
  using Table = std::array<Entry, kWays>;
  struct alignas(64) Slot {
    Table table;
  };

  static std::size_t way(const T* p) noexcept {
    const auto bits = reinterpret_cast<std::uintptr_t>(p);
    return static_cast<std::size_t>((bits >> 4) ^ (bits >> 10)) % kWays;
  }

  std::unique_ptr<Slot[]> slots_;
  std::size_t hook_ = 0;
};

}  // namespace switchyard::detail::registry
