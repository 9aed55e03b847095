// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of artifact_store.hpp.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <limits>
#include <random>
#include <switchyard/core/error.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <system_error>
#include <utility>

namespace switchyard {

namespace detail::artifact_files {

inline constexpr std::string_view kTempMarker = ".tmp.";
inline constexpr std::size_t kReadChunk = std::size_t{1} << 20;

inline std::string errno_text(int err) {
  return std::generic_category().message(err) + " (errno " + std::to_string(err) + ")";
}

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// A name for a temporary file unique across threads, processes and containers sharing the
// directory: pid, a per-process counter and a random tag chosen once per process.
SWITCHYARD_INLINE std::string temporary_name(std::string_view sha256) {
  static const std::uint64_t tag = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<std::uint64_t> counter{0};
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), "%ld.%llu.%016llx", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(counter.fetch_add(1, std::memory_order_relaxed)),
                static_cast<unsigned long long>(tag));
  return std::string(sha256) + std::string(kTempMarker) + suffix;
}

// True for "<64 hex>.tmp.<anything>": a temporary file of put().
inline bool is_temporary_name(std::string_view name) {
  return name.size() > kSha256HexLength + kTempMarker.size() &&
         is_sha256_hex(name.substr(0, kSha256HexLength)) &&
         name.substr(kSha256HexLength, kTempMarker.size()) == kTempMarker;
}

// True for the two lowercase hex characters that name a shard directory.
inline bool is_shard_name(std::string_view name) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  return name.size() == 2 && hex(name[0]) && hex(name[1]);
}

// The temporary file of one put(): closed and unlinked on every exit that did not rename it.
class TemporaryFile {
 public:
  TemporaryFile(ArtifactStore::FileOps& ops, std::string path, int fd) noexcept
      : ops_(ops), path_(std::move(path)), fd_(fd) {}
  ~TemporaryFile() {
    try {
      if (fd_ >= 0) ops_.close(fd_);
      if (!renamed_) ops_.unlink(path_);
    } catch (...) {  // a throwing FileOps must not turn cleanup into std::terminate
    }
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }
  int close() noexcept {
    const int err = ops_.close(fd_);
    fd_ = -1;  // a failed close(2) still releases the descriptor
    return err;
  }
  void mark_renamed() noexcept { renamed_ = true; }

 private:
  ArtifactStore::FileOps& ops_;
  std::string path_;
  int fd_;
  bool renamed_ = false;
};

}  // namespace detail::artifact_files

// ---------------------------------------------------------------------------------------------
// PosixFileOps

namespace detail::artifact_files {
template <class Call>
int retry_eintr(Call call) {
  for (;;) {
    if (call() >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}
}  // namespace detail::artifact_files

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::create_new(const std::string& path, int& fd) {
  return detail::artifact_files::retry_eintr(
      [&] { return fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644); });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::open_read(const std::string& path, int& fd) {
  return detail::artifact_files::retry_eintr(
      [&] { return fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::open_directory(const std::string& path,
                                                                  int& fd) {
  return detail::artifact_files::retry_eintr(
      [&] { return fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::write(int fd, const char* data, std::size_t size,
                                                         std::size_t& written) {
  written = 0;
  return detail::artifact_files::retry_eintr([&] {
    const ssize_t n = ::write(fd, data, size);
    if (n >= 0) written = static_cast<std::size_t>(n);
    return n;
  });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::read(int fd, char* data, std::size_t size,
                                                        std::size_t& got) {
  got = 0;
  return detail::artifact_files::retry_eintr([&] {
    const ssize_t n = ::read(fd, data, size);
    if (n >= 0) got = static_cast<std::size_t>(n);
    return n;
  });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::fsync(int fd) {
  return detail::artifact_files::retry_eintr([&] { return ::fsync(fd); });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::close(int fd) {
  // Linux releases the descriptor even when close(2) fails with EINTR: never retry it.
  return ::close(fd) == 0 ? 0 : errno;
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::rename(const std::string& from,
                                                          const std::string& to) {
  return detail::artifact_files::retry_eintr([&] { return ::rename(from.c_str(), to.c_str()); });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::unlink(const std::string& path) {
  return detail::artifact_files::retry_eintr([&] { return ::unlink(path.c_str()); });
}

SWITCHYARD_INLINE int ArtifactStore::PosixFileOps::make_directory(const std::string& path) {
  return detail::artifact_files::retry_eintr([&] { return ::mkdir(path.c_str(), 0755); });
}

// ---------------------------------------------------------------------------------------------
// ArtifactStore

SWITCHYARD_INLINE ArtifactStore::ArtifactStore(std::filesystem::path root)
    : ArtifactStore(std::move(root), Options{}) {}

SWITCHYARD_INLINE ArtifactStore::ArtifactStore(std::filesystem::path root, Options options)
    : root_(std::move(root)),
      ops_(options.file_ops ? std::move(options.file_ops) : std::make_shared<PosixFileOps>()),
      stale_temp_age_(options.stale_temp_age) {
  if (root_.empty()) throw InvalidArgument("artifact store root is empty");
}

SWITCHYARD_INLINE std::string ArtifactStore::uri_of(std::string_view sha256) {
  detail::require_sha256_hex(sha256);
  std::string uri = "sha256/";
  uri.append(sha256.substr(0, 2)).append("/").append(sha256);
  return uri;
}

SWITCHYARD_INLINE std::filesystem::path ArtifactStore::path_of(std::string_view sha256) const {
  return root_ / uri_of(sha256);
}

SWITCHYARD_INLINE std::string ArtifactStore::checked_path(const ArtifactRef& ref) const {
  const std::string uri = uri_of(ref.sha256);
  if (!ref.uri.empty() && ref.uri != uri) {
    throw InvalidArgument("artifact uri '" + ref.uri.substr(0, 200) +
                          "' does not match its sha256 (expected '" + uri + "')");
  }
  return (root_ / uri).string();
}

SWITCHYARD_INLINE bool ArtifactStore::read_up_to(const std::string& path, std::uint64_t limit,
                                                 std::string& out) const {
  using detail::artifact_files::errno_text;
  int fd = -1;
  if (int err = ops_->open_read(path, fd); err != 0) {
    if (err == ENOENT) return false;
    throw StorageError("cannot open artifact file '" + path + "': " + errno_text(err));
  }
  struct Closer {
    FileOps& ops;
    int fd;
    ~Closer() {
      try {
        ops.close(fd);
      } catch (...) {
      }
    }
  } closer{*ops_, fd};
  out.clear();
  // Grow with what is actually read, so a hostile `limit` never allocates more than the file.
  while (out.size() < limit) {
    const std::size_t want = static_cast<std::size_t>(
        std::min<std::uint64_t>(limit - out.size(), detail::artifact_files::kReadChunk));
    const std::size_t old = out.size();
    out.resize(old + want);
    std::size_t got = 0;
    if (int err = ops_->read(fd, out.data() + old, want, got); err != 0) {
      throw StorageError("cannot read artifact file '" + path + "': " + errno_text(err));
    }
    out.resize(old + got);
    if (got == 0) break;
  }
  return true;
}

SWITCHYARD_INLINE std::string ArtifactStore::read(const ArtifactRef& ref) const {
  const std::string path = checked_path(ref);
  const std::uint64_t limit =
      ref.size == std::numeric_limits<std::uint64_t>::max() ? ref.size : ref.size + 1;
  std::string bytes;
  if (!read_up_to(path, limit, bytes)) {
    throw NotFound("artifact file '" + path + "' does not exist");
  }
  if (bytes.size() != ref.size) {
    throw IntegrityError("artifact file '" + path + "' holds " +
                         (bytes.size() > ref.size ? "more than " + std::to_string(ref.size)
                                                  : std::to_string(bytes.size())) +
                         " bytes, expected " + std::to_string(ref.size));
  }
  if (const std::string actual = detail::sha256_hex(bytes); actual != ref.sha256) {
    throw IntegrityError("artifact file '" + path + "' has SHA-256 " + actual + ", expected " +
                         ref.sha256);
  }
  return bytes;
}

SWITCHYARD_INLINE void ArtifactStore::fsync_directory(const std::filesystem::path& dir,
                                                      const std::string& context) const {
  using detail::artifact_files::errno_text;
  int fd = -1;
  if (int err = ops_->open_directory(dir.string(), fd); err != 0) {
    throw StorageError(context + "cannot open directory '" + dir.string() +
                       "' to flush it: " + errno_text(err));
  }
  const int err = ops_->fsync(fd);
  ops_->close(fd);
  if (err != 0) {
    throw StorageError(context + "cannot fsync directory '" + dir.string() +
                       "': " + errno_text(err));
  }
}

SWITCHYARD_INLINE void ArtifactStore::ensure_directory(const std::filesystem::path& dir) const {
  int err = ops_->make_directory(dir.string());
  if (err == ENOENT && dir.has_relative_path() && dir.has_parent_path() &&
      dir.parent_path() != dir) {
    ensure_directory(dir.parent_path());
    err = ops_->make_directory(dir.string());
  }
  if (err == EEXIST) return;
  if (err != 0) {
    throw StorageError("cannot create artifact directory '" + dir.string() +
                       "': " + detail::artifact_files::errno_text(err));
  }
  // A new directory entry is durable only once its parent is flushed.
  std::filesystem::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  fsync_directory(parent, "created '" + dir.string() + "' but ");
}

SWITCHYARD_INLINE void ArtifactStore::write_atomically(const std::filesystem::path& dir,
                                                       const std::string& final_path,
                                                       std::string_view bytes) const {
  using detail::artifact_files::errno_text;
  const std::string sha = std::filesystem::path(final_path).filename().string();
  std::string temp_path;
  int fd = -1;
  int err = EEXIST;
  // O_EXCL on a fresh name: a name left by a crashed process with a recycled pid is skipped.
  for (int attempt = 0; attempt < 16 && err == EEXIST; ++attempt) {
    temp_path = (dir / detail::artifact_files::temporary_name(sha)).string();
    err = ops_->create_new(temp_path, fd);
  }
  if (err != 0) {
    throw StorageError("cannot create temporary artifact file '" + temp_path +
                       "': " + errno_text(err));
  }
  detail::artifact_files::TemporaryFile temp(*ops_, temp_path, fd);
  for (std::size_t done = 0; done < bytes.size();) {
    std::size_t written = 0;
    err = ops_->write(temp.fd(), bytes.data() + done, bytes.size() - done, written);
    if (err == 0 && written == 0) err = EIO;  // no progress and no error: do not spin
    if (err != 0) {
      throw StorageError("cannot write temporary artifact file '" + temp_path +
                         "': " + errno_text(err));
    }
    done += written;
  }
  if ((err = ops_->fsync(temp.fd())) != 0) {
    throw StorageError("cannot fsync temporary artifact file '" + temp_path +
                       "': " + errno_text(err));
  }
  if ((err = temp.close()) != 0) {
    throw StorageError("cannot close temporary artifact file '" + temp_path +
                       "': " + errno_text(err));
  }
  if ((err = ops_->rename(temp_path, final_path)) != 0) {
    throw StorageError("cannot rename temporary artifact file '" + temp_path + "' to '" +
                       final_path + "': " + errno_text(err));
  }
  temp.mark_renamed();
  fsync_directory(
      dir, "artifact file '" + final_path + "' is complete but may not survive a power loss: ");
}

SWITCHYARD_INLINE ArtifactRef ArtifactStore::put(std::string_view bytes, std::string format) {
  if (format.empty()) throw InvalidArgument("artifact format is empty");
  ArtifactRef ref;
  ref.format = std::move(format);
  ref.sha256 = detail::sha256_hex(bytes);
  ref.size = bytes.size();
  ref.uri = uri_of(ref.sha256);
  const std::filesystem::path final_path = root_ / ref.uri;
  {
    // Idempotent: trust an existing file only after hashing it; a damaged one is replaced.
    std::string existing;
    if (read_up_to(final_path.string(), ref.size + 1, existing) && existing.size() == ref.size &&
        detail::sha256_hex(existing) == ref.sha256) {
      return ref;
    }
  }
  ensure_directory(final_path.parent_path());
  write_atomically(final_path.parent_path(), final_path.string(), bytes);
  return ref;
}

SWITCHYARD_INLINE bool ArtifactStore::contains(std::string_view sha256) const {
  const std::filesystem::path path = path_of(sha256);
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) return false;
  if (ec) {
    throw StorageError("cannot inspect artifact file " + detail::artifact_files::quoted(path) +
                       ": " + ec.message());
  }
  return std::filesystem::is_regular_file(status);
}

namespace detail::artifact_files {
// Entry names of one directory; a missing directory has none.
inline std::vector<std::string> directory_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return names;
    throw StorageError("cannot list artifact directory " + quoted(dir) + ": " + ec.message());
  }
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  if (ec) {
    throw StorageError("cannot list artifact directory " + quoted(dir) + ": " + ec.message());
  }
  std::sort(names.begin(), names.end());
  return names;
}
}  // namespace detail::artifact_files

SWITCHYARD_INLINE std::vector<std::string> ArtifactStore::list() const {
  using namespace detail::artifact_files;
  std::vector<std::string> shas;
  const std::filesystem::path base = root_ / "sha256";
  for (const auto& shard : directory_names(base)) {
    if (!is_shard_name(shard)) continue;
    for (const auto& name : directory_names(base / shard)) {
      if (detail::is_sha256_hex(name) && name.compare(0, 2, shard) == 0) shas.push_back(name);
    }
  }
  return shas;  // sorted: shards and names within a shard are visited in order
}

SWITCHYARD_INLINE std::vector<std::string> ArtifactStore::remove_unreferenced(
    const std::set<std::string>& keep) {
  using namespace detail::artifact_files;
  std::vector<std::string> removed;
  const std::filesystem::path base = root_ / "sha256";
  const auto now = std::filesystem::file_time_type::clock::now();
  for (const auto& shard : directory_names(base)) {
    if (!is_shard_name(shard)) continue;
    const std::filesystem::path dir = base / shard;
    bool changed = false;
    for (const auto& name : directory_names(dir)) {
      const std::filesystem::path path = dir / name;
      bool remove = false;
      if (detail::is_sha256_hex(name) && name.compare(0, 2, shard) == 0) {
        remove = keep.count(name) == 0;
      } else if (is_temporary_name(name)) {
        std::error_code ec;
        const auto written = std::filesystem::last_write_time(path, ec);
        remove = !ec && now - written > stale_temp_age_;
      }
      if (!remove) continue;
      if (int err = ops_->unlink(path.string()); err != 0 && err != ENOENT) {
        throw StorageError("cannot remove artifact file " + quoted(path) + ": " + errno_text(err));
      }
      changed = true;
      if (detail::is_sha256_hex(name)) removed.push_back(name);
    }
    if (changed) fsync_directory(dir, "removed unreferenced artifacts but ");
  }
  return removed;
}

}  // namespace switchyard
