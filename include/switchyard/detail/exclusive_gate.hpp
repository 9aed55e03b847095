// SPDX-License-Identifier: Apache-2.0
// ExclusiveGate: one holder at a time, with a timeout and an immediate refusal of re-entry.
#pragma once

#include <chrono>
#include <condition_variable>
#include <thread>

#include <switchyard/core/config.hpp>
#include <switchyard/detail/mutex.hpp>

namespace switchyard::detail {

/// Grants exclusive use of a resource (a store's writer slot, a database connection) to one holder
/// at a time. Unlike a mutex it may be released by another thread than the one that acquired it
/// (a transaction object may be destroyed anywhere), and an acquire by the thread that already
/// holds it is refused at once instead of deadlocking until the timeout.
/// Thread-safe: any member may be called concurrently.
class ExclusiveGate {
 public:
  enum class Outcome { kAcquired, kTimedOut, kHeldByThisThread };

  /// Waits up to `timeout` for the gate to be free and takes it for the calling thread.
  Outcome acquire_for(std::chrono::nanoseconds timeout) SWITCHYARD_EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto me = std::this_thread::get_id();
    MutexLock lk(mu_);
    if (held_ && holder_ == me) return Outcome::kHeldByThisThread;
    while (held_) {
      if (cv_.wait_until(mu_, deadline) == std::cv_status::timeout && held_) {
        return Outcome::kTimedOut;
      }
    }
    held_ = true;
    holder_ = me;
    return Outcome::kAcquired;
  }

  /// Frees the gate; call once per successful acquire_for().
  void release() noexcept SWITCHYARD_EXCLUDES(mu_) {
    {
      MutexLock lk(mu_);
      held_ = false;
      holder_ = std::thread::id();
    }
    cv_.notify_one();
  }

 private:
  Mutex mu_;
  std::condition_variable_any cv_;
  bool held_ SWITCHYARD_GUARDED_BY(mu_) = false;
  std::thread::id holder_ SWITCHYARD_GUARDED_BY(mu_);
};

}  // namespace switchyard::detail
