// SPDX-License-Identifier: Apache-2.0
// A std::mutex with Clang thread-safety annotations, so SWITCHYARD_GUARDED_BY can be checked.
#pragma once

#include <mutex>

#include <switchyard/core/config.hpp>

namespace switchyard::detail {

/// An annotated mutex. Thread-safe: that is its purpose.
class SWITCHYARD_CAPABILITY("mutex") Mutex {
 public:
  void lock() SWITCHYARD_ACQUIRE() { mu_.lock(); }
  void unlock() SWITCHYARD_RELEASE() { mu_.unlock(); }
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

/// RAII lock over Mutex. Not movable; lives on one thread's stack.
class SWITCHYARD_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) SWITCHYARD_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() SWITCHYARD_RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace switchyard::detail
