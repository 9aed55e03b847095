// SPDX-License-Identifier: Apache-2.0
// An SQLite VFS that wraps the default one and fails the Nth xWrite or xSync on demand (or runs a
// hook between two statements): the fault-injection seam behind SqliteRegistryStore's vfs_name.
#pragma once

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <utility>

namespace switchyard::testing {

/// Registers (once) and controls the VFS "switchyard-faulty". Every call goes to the default VFS;
/// while armed, the Nth xWrite (or xSync) from arming fails with SQLITE_IOERR_WRITE
/// (SQLITE_IOERR_FSYNC), and with `sticky` every later one fails too (a disk that died).
/// Counters are process-wide; tests arm, act and disarm on one thread.
class FaultyVfs {
 public:
  static constexpr const char* kName = "switchyard-faulty";

  /// Registers the VFS (idempotent) and returns the controller.
  static FaultyVfs& instance() {
    static FaultyVfs vfs;
    return vfs;
  }

  /// Fails the `nth` write from now (1 = the next one); 0 disarms writes.
  void fail_write(int nth, bool sticky = false) {
    write_countdown_.store(nth);
    sticky_.store(sticky);
  }
  /// Fails the `nth` sync from now (1 = the next one); 0 disarms syncs.
  void fail_sync(int nth, bool sticky = false) {
    sync_countdown_.store(nth);
    sticky_.store(sticky);
  }
  void disarm() {
    write_countdown_.store(0);
    sync_countdown_.store(0);
    sticky_.store(false);
    failing_.store(false);
  }
  /// Ends the process with _exit(kExited) at the `nth` change to a file from now (xWrite,
  /// xTruncate, xSync or xDelete), before it happens: a crash at a chosen point, for a forked
  /// child. 0 disarms.
  void exit_at_change(int nth) { exit_countdown_.store(nth); }
  static constexpr int kExited = 77;

  /// How many faults were injected since construction.
  int injected() const { return injected_.load(); }

  /// Runs `hook` once, right after the `nth` release of all locks (xUnlock to NONE) on a file
  /// opened through this VFS: a deterministic point between two statements of a connection, where
  /// another connection can commit. Single-threaded use only.
  void on_unlock(int nth, std::function<void()> hook) {
    unlock_countdown_ = nth;
    unlock_hook_ = std::move(hook);
  }

 private:
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
  };

  // Declared before kMethods, whose initializer refers to them.
  sqlite3_vfs* root_ = nullptr;
  sqlite3_vfs vfs_{};
  std::atomic<int> write_countdown_{0};
  std::atomic<int> sync_countdown_{0};
  std::atomic<bool> sticky_{false};
  std::atomic<bool> failing_{false};
  std::atomic<int> injected_{0};
  std::atomic<int> exit_countdown_{0};
  int unlock_countdown_ = 0;
  std::function<void()> unlock_hook_;

  FaultyVfs() {
    root_ = sqlite3_vfs_find(nullptr);
    vfs_.iVersion = root_->iVersion < 3 ? root_->iVersion : 3;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + root_->szOsFile;
    vfs_.mxPathname = root_->mxPathname;
    vfs_.zName = kName;
    vfs_.pAppData = this;
    vfs_.xOpen = &open;
    vfs_.xDelete = [](sqlite3_vfs*, const char* name, int sync) {
      exit_if_due();
      return root()->xDelete(root(), name, sync);
    };
    vfs_.xAccess = [](sqlite3_vfs*, const char* name, int flags, int* out) {
      return root()->xAccess(root(), name, flags, out);
    };
    vfs_.xFullPathname = [](sqlite3_vfs*, const char* name, int n, char* out) {
      return root()->xFullPathname(root(), name, n, out);
    };
    vfs_.xDlOpen = [](sqlite3_vfs*, const char* name) { return root()->xDlOpen(root(), name); };
    vfs_.xDlError = [](sqlite3_vfs*, int n, char* out) { root()->xDlError(root(), n, out); };
    vfs_.xDlSym = [](sqlite3_vfs*, void* h, const char* sym) {
      return root()->xDlSym(root(), h, sym);
    };
    vfs_.xDlClose = [](sqlite3_vfs*, void* h) { root()->xDlClose(root(), h); };
    vfs_.xRandomness = [](sqlite3_vfs*, int n, char* out) {
      return root()->xRandomness(root(), n, out);
    };
    vfs_.xSleep = [](sqlite3_vfs*, int us) { return root()->xSleep(root(), us); };
    vfs_.xCurrentTime = [](sqlite3_vfs*, double* t) { return root()->xCurrentTime(root(), t); };
    vfs_.xGetLastError = [](sqlite3_vfs*, int n, char* out) {
      return root()->xGetLastError(root(), n, out);
    };
    vfs_.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* t) {
      return root()->xCurrentTimeInt64(root(), t);
    };
    vfs_.xSetSystemCall = [](sqlite3_vfs*, const char* name, sqlite3_syscall_ptr p) {
      return root()->xSetSystemCall(root(), name, p);
    };
    vfs_.xGetSystemCall = [](sqlite3_vfs*, const char* name) {
      return root()->xGetSystemCall(root(), name);
    };
    vfs_.xNextSystemCall = [](sqlite3_vfs*, const char* name) {
      return root()->xNextSystemCall(root(), name);
    };
    sqlite3_vfs_register(&vfs_, 0);
  }

  static sqlite3_vfs* root() { return instance().root_; }
  static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static void exit_if_due() {
    auto& countdown = instance().exit_countdown_;
    if (countdown.load() > 0 && countdown.fetch_sub(1) == 1) _exit(kExited);
  }

  // True when this call is the one to fail (and, when sticky, every call after it).
  static bool trip(std::atomic<int>& countdown) {
    FaultyVfs& v = instance();
    if (v.failing_.load()) {
      v.injected_.fetch_add(1);
      return true;
    }
    if (countdown.load() <= 0) return false;
    if (countdown.fetch_sub(1) != 1) return false;
    v.injected_.fetch_add(1);
    if (v.sticky_.load()) v.failing_.store(true);
    return true;
  }

  static int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags,
                  int* out_flags) {
    File* f = reinterpret_cast<File*>(file);
    f->real = reinterpret_cast<sqlite3_file*>(f + 1);
    std::memset(f->real, 0, static_cast<std::size_t>(root()->szOsFile));
    const int rc = root()->xOpen(root(), name, f->real, flags, out_flags);
    f->base.pMethods = f->real->pMethods != nullptr ? &methods() : nullptr;
    return rc;
  }

  static void after_unlock(int level) {
    if (level != SQLITE_LOCK_NONE) return;
    FaultyVfs& v = instance();
    if (v.unlock_hook_ && v.unlock_countdown_ > 0 && --v.unlock_countdown_ == 0) {
      auto hook = std::move(v.unlock_hook_);
      v.unlock_hook_ = nullptr;
      hook();
    }
  }

  // A function, not a static data member: its lambdas need the complete class.
  static const sqlite3_io_methods& methods() {
    static const sqlite3_io_methods table = {
        3,
        [](sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); },
        [](sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
          return real(f)->pMethods->xRead(real(f), buf, n, off);
        },
        [](sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
          exit_if_due();
          if (trip(instance().write_countdown_)) return SQLITE_IOERR_WRITE;
          return real(f)->pMethods->xWrite(real(f), buf, n, off);
        },
        [](sqlite3_file* f, sqlite3_int64 size) {
          exit_if_due();
          return real(f)->pMethods->xTruncate(real(f), size);
        },
        [](sqlite3_file* f, int flags) {
          exit_if_due();
          if (trip(instance().sync_countdown_)) return SQLITE_IOERR_FSYNC;
          return real(f)->pMethods->xSync(real(f), flags);
        },
        [](sqlite3_file* f, sqlite3_int64* size) {
          return real(f)->pMethods->xFileSize(real(f), size);
        },
        [](sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); },
        [](sqlite3_file* f, int level) {
          const int rc = real(f)->pMethods->xUnlock(real(f), level);
          after_unlock(level);
          return rc;
        },
        [](sqlite3_file* f, int* out) {
          return real(f)->pMethods->xCheckReservedLock(real(f), out);
        },
        [](sqlite3_file* f, int op, void* arg) {
          return real(f)->pMethods->xFileControl(real(f), op, arg);
        },
        [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); },
        [](sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); },
        [](sqlite3_file* f, int region, int size, int extend, void volatile** out) {
          return real(f)->pMethods->xShmMap(real(f), region, size, extend, out);
        },
        [](sqlite3_file* f, int offset, int n, int flags) {
          return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
        },
        [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); },
        [](sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); },
        [](sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
          return real(f)->pMethods->xFetch(real(f), off, n, out);
        },
        [](sqlite3_file* f, sqlite3_int64 off, void* p) {
          return real(f)->pMethods->xUnfetch(real(f), off, p);
        },
    };
    return table;
  }
};

}  // namespace switchyard::testing
