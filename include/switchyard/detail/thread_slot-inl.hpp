// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of thread_slot.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include <switchyard/detail/thread_slot.hpp>

namespace switchyard::detail {

namespace thread_slot {
struct Registry {
  std::mutex mu;
  std::vector<std::size_t> free;  // recycled indices
  std::size_t next = 0;
  std::atomic<std::size_t> bound{0};  // `next`, readable without the lock
  std::size_t next_hook = 1;
  std::map<std::size_t, ThreadExitHook> hooks;
};
// Leaked on purpose: threads may exit during static destruction.
SWITCHYARD_INLINE Registry& registry() {
  static Registry* r = new Registry();
  return *r;
}

struct Owner {
  std::size_t index = kMaxThreadSlots;
  Owner() {
    auto& r = registry();
    std::lock_guard lk(r.mu);
    if (!r.free.empty()) {
      index = r.free.back();
      r.free.pop_back();
    } else if (r.next < kMaxThreadSlots) {
      index = r.next++;
      r.bound.store(r.next, std::memory_order_seq_cst);
    }
  }
  ~Owner() {
    thread_slot_cache::index = kMaxThreadSlots;  // later calls on this thread get no slot
    if (index == kMaxThreadSlots) return;
    auto& r = registry();
    std::vector<std::shared_ptr<const void>> released;
    {
      std::lock_guard lk(r.mu);
      for (auto& [id, h] : r.hooks) released.push_back(h(index));
      r.free.push_back(index);
    }
    // `released` dies here, outside the lock: destructors may register or remove hooks.
  }
};
}  // namespace thread_slot

SWITCHYARD_INLINE std::size_t assign_thread_index() noexcept {
  thread_local thread_slot::Owner owner;
  thread_slot_cache::index = owner.index;
  return owner.index;
}

SWITCHYARD_INLINE std::size_t thread_index_bound() noexcept {
  return thread_slot::registry().bound.load(std::memory_order_seq_cst);
}

SWITCHYARD_INLINE std::size_t add_thread_exit_hook(ThreadExitHook hook) {
  auto& r = thread_slot::registry();
  std::lock_guard lk(r.mu);
  std::size_t id = r.next_hook++;
  r.hooks.emplace(id, std::move(hook));
  return id;
}

SWITCHYARD_INLINE void remove_thread_exit_hook(std::size_t id) noexcept {
  auto& r = thread_slot::registry();
  std::lock_guard lk(r.mu);
  r.hooks.erase(id);
}

}  // namespace switchyard::detail
