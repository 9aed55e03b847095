// SPDX-License-Identifier: Apache-2.0
// Helpers for the reliability tests: run-size knobs from the environment, pipes between a test
// and the processes it forks, resident-memory readings, and file operations without fsync for
// reference stores that need no durability.
#pragma once

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <switchyard/registry/artifact_store.hpp>
#include <utility>

namespace switchyard::testing {

/// A positive count from environment variable `name` (scripts raise the CI-sized defaults for
/// full runs), or `fallback`.
inline std::int64_t env_count(const char* name, std::int64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  return (end != nullptr && *end == '\0' && v > 0) ? static_cast<std::int64_t>(v) : fallback;
}

/// The seed of a randomised test: $SWITCHYARD_SEED when set (to replay a failure), otherwise
/// fresh. Tests print it so any failure can be reproduced.
inline std::uint64_t test_seed() {
  if (const char* text = std::getenv("SWITCHYARD_SEED"); text != nullptr && *text != '\0') {
    return std::strtoull(text, nullptr, 10);
  }
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

/// A pipe whose ends close on destruction.
class Pipe {
 public:
  Pipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) std::abort();
  }
  ~Pipe() {
    close_read();
    close_write();
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int read_end() const noexcept { return fds_[0]; }
  int write_end() const noexcept { return fds_[1]; }
  void close_read() noexcept { close_fd(fds_[0]); }
  void close_write() noexcept { close_fd(fds_[1]); }

 private:
  static void close_fd(int& fd) noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2] = {-1, -1};
};

/// Writes all of `size` bytes; false when the reader is gone.
inline bool write_all(int fd, const void* data, std::size_t size) noexcept {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// Reads exactly `size` bytes; false at end of file (the writer exited) before that.
inline bool read_all(int fd, void* data, std::size_t size) noexcept {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

/// One fixed-size message from a forked worker: an acknowledged operation, or its failure.
struct WorkerMessage {
  std::int64_t op = 0;      ///< operation index
  std::int64_t value = 0;   ///< what the operation produced (a version number, a sequence)
  std::int32_t failed = 0;  ///< 1: `text` holds the exception message and the worker stops
  char text[500] = {};

  static WorkerMessage failure(std::int64_t op, const char* what) {
    WorkerMessage m;
    m.op = op;
    m.failed = 1;
    std::snprintf(m.text, sizeof m.text, "%s", what);
    return m;
  }
};

/// Waits for `pid` and describes how it ended ("exit 0", "signal 9").
inline std::string wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

/// Resident set size of this process in bytes (/proc/self/statm, second field times page size).
inline std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

/// Bytes of heap in use (glibc's mallinfo2; 0 elsewhere), to see which owner holds memory.
inline std::uint64_t heap_in_use() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  return static_cast<std::uint64_t>(::mallinfo2().uordblks);
#else
  return 0;
#endif
}

/// POSIX file operations that skip fsync: for reference stores that model what a store should
/// contain and never need to survive anything.
class NoSyncFileOps final : public ArtifactStore::FileOps {
 public:
  int create_new(const std::string& path, int& fd) override { return posix_.create_new(path, fd); }
  int open_read(const std::string& path, int& fd) override { return posix_.open_read(path, fd); }
  int open_directory(const std::string& path, int& fd) override {
    return posix_.open_directory(path, fd);
  }
  int write(int fd, const char* data, std::size_t size, std::size_t& written) override {
    return posix_.write(fd, data, size, written);
  }
  int read(int fd, char* data, std::size_t size, std::size_t& got) override {
    return posix_.read(fd, data, size, got);
  }
  int fsync(int) override { return 0; }
  int close(int fd) override { return posix_.close(fd); }
  int rename(const std::string& from, const std::string& to) override {
    return posix_.rename(from, to);
  }
  int unlink(const std::string& path) override { return posix_.unlink(path); }
  int make_directory(const std::string& path) override { return posix_.make_directory(path); }

 private:
  ArtifactStore::PosixFileOps posix_;
};

}  // namespace switchyard::testing
