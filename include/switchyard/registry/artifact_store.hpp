// SPDX-License-Identifier: Apache-2.0
// ArtifactStore: a content-addressed directory of model artifacts, written crash-safely.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/registry/model_version.hpp>
#include <vector>

namespace switchyard {

/// Model artifacts as files named by the SHA-256 of their content:
/// `<root>/sha256/<first 2 hex>/<64 hex>`. The name is the only identity, so a file is never
/// modified in place, equal content is stored once, and a reader can prove what it read.
///
/// put() is crash-safe: it writes a uniquely named temporary file in the final directory,
/// writes everything, fsyncs the file, closes it, renames it over the final name and fsyncs the
/// directory (and the parents of any directory it had to create). A crash at any instant leaves
/// either no file or the complete file under the final name; at worst an orphaned temporary
/// file, which remove_unreferenced() clears once it is older than Options::stale_temp_age.
///
/// Every file-system call goes through a FileOps (the POSIX one by default), so tests can make
/// any step fail. Errors from the operating system throw StorageError naming the file and the
/// errno text.
///
/// Thread-safe: any member may be called concurrently, and several stores, in this or other
/// processes, may share a root; concurrent puts of the same content all succeed and leave one
/// intact file. remove_unreferenced() deletes whatever is not in `keep`, including an artifact
/// another thread put a moment ago and has not yet recorded: serialise it with the writers of
/// references (ModelRegistry runs it under its write lock). POSIX only.
///
/// @code
/// switchyard::ArtifactStore store("/var/lib/svc/artifacts");
/// switchyard::ArtifactRef ref = store.put(model.to_artifact(), "switchyard.linear");
/// std::string bytes = store.read(ref);  // verified against ref.sha256
/// @endcode
class SWITCHYARD_API ArtifactStore {
 public:
  /// The file-system calls the store makes, POSIX-shaped. Each returns 0 on success or an errno
  /// value on failure (never -1), and must be safe to call from several threads at once.
  /// Override PosixFileOps to inject failures.
  class SWITCHYARD_API FileOps {
   public:
    virtual ~FileOps() = default;
    /// Creates a new file for writing, failing with EEXIST when the name exists (O_EXCL).
    virtual int create_new(const std::string& path, int& fd) = 0;
    virtual int open_read(const std::string& path, int& fd) = 0;
    /// Opens a directory so it can be fsync'ed.
    virtual int open_directory(const std::string& path, int& fd) = 0;
    /// Writes up to `size` bytes; `written` receives how many were written.
    virtual int write(int fd, const char* data, std::size_t size, std::size_t& written) = 0;
    /// Reads up to `size` bytes; `got` receives how many were read (0 at end of file).
    virtual int read(int fd, char* data, std::size_t size, std::size_t& got) = 0;
    virtual int fsync(int fd) = 0;
    virtual int close(int fd) = 0;
    /// Atomically replaces `to` with `from` (rename(2)).
    virtual int rename(const std::string& from, const std::string& to) = 0;
    virtual int unlink(const std::string& path) = 0;
    /// Creates one directory (mode 0755 before umask); EEXIST when it exists.
    virtual int make_directory(const std::string& path) = 0;
  };

  /// FileOps on the POSIX calls, retrying EINTR. Stateless; thread-safe.
  class SWITCHYARD_API PosixFileOps : public FileOps {
   public:
    int create_new(const std::string& path, int& fd) override;
    int open_read(const std::string& path, int& fd) override;
    int open_directory(const std::string& path, int& fd) override;
    int write(int fd, const char* data, std::size_t size, std::size_t& written) override;
    int read(int fd, char* data, std::size_t size, std::size_t& got) override;
    int fsync(int fd) override;
    int close(int fd) override;
    int rename(const std::string& from, const std::string& to) override;
    int unlink(const std::string& path) override;
    int make_directory(const std::string& path) override;
  };

  struct Options {
    /// Where every file-system call goes. Default (null): a PosixFileOps.
    std::shared_ptr<FileOps> file_ops;
    /// remove_unreferenced() deletes temporary files left by crashed writers once they are
    /// older than this; younger ones may belong to a put in progress. Default: one hour.
    std::chrono::seconds stale_temp_age{std::chrono::hours(1)};
  };

  /// A store rooted at `root`, which is created on the first put(). Throws InvalidArgument when
  /// `root` is empty.
  explicit ArtifactStore(std::filesystem::path root);
  ArtifactStore(std::filesystem::path root, Options options);
  ArtifactStore(const ArtifactStore&) = delete;
  ArtifactStore& operator=(const ArtifactStore&) = delete;

  /// Stores `bytes` under their SHA-256 and returns the reference to record. Idempotent: when
  /// the file exists its content is read and hashed; an intact copy is kept untouched, a
  /// damaged one is replaced atomically. Throws InvalidArgument for an empty `format`, and
  /// StorageError (naming the file and the errno text) when a step fails: then no file exists
  /// under the final name unless one did before, and the temporary file is removed. If only
  /// the final directory fsync fails, the complete file is in place but may not survive a power
  /// loss; the error says so.
  ArtifactRef put(std::string_view bytes, std::string format);

  /// The bytes of `ref`, verified. Throws InvalidArgument when ref.sha256 is not 64 lowercase
  /// hex characters or ref.uri is neither empty nor "sha256/<2 hex>/<sha256>"; NotFound naming
  /// the file when it is missing; IntegrityError naming the file when its size or SHA-256
  /// differs from the reference; StorageError when reading fails. Never reads more than
  /// ref.size + 1 bytes.
  std::string read(const ArtifactRef& ref) const;

  /// True when a file named `sha256` exists (its content is checked by read(), not here).
  /// Throws InvalidArgument for a malformed name, StorageError when the directory is unreadable.
  bool contains(std::string_view sha256) const;

  /// The SHA-256 of every stored artifact, sorted. Temporary and foreign files are ignored.
  /// Throws StorageError when a directory cannot be listed.
  std::vector<std::string> list() const;

  /// Garbage collection: deletes every artifact whose SHA-256 is not in `keep`, and temporary
  /// files older than Options::stale_temp_age, then fsyncs the directories it changed. Returns
  /// the removed SHA-256s, sorted. Throws StorageError on the first failure; what was removed
  /// by then stays removed, and a later call finishes the job.
  std::vector<std::string> remove_unreferenced(const std::set<std::string>& keep);

  const std::filesystem::path& root() const noexcept { return root_; }
  /// The location of an artifact relative to the root: "sha256/<first 2 hex>/<sha256>".
  /// Throws InvalidArgument when `sha256` is not 64 lowercase hex characters.
  static std::string uri_of(std::string_view sha256);
  /// The absolute-or-relative path of an artifact's file (root / uri_of(sha256)).
  std::filesystem::path path_of(std::string_view sha256) const;

 private:
  std::string checked_path(const ArtifactRef& ref) const;
  bool read_up_to(const std::string& path, std::uint64_t limit, std::string& out) const;
  void ensure_directory(const std::filesystem::path& dir) const;
  void fsync_directory(const std::filesystem::path& dir, const std::string& context) const;
  void write_atomically(const std::filesystem::path& dir, const std::string& final_path,
                        std::string_view bytes) const;

  std::filesystem::path root_;
  std::shared_ptr<FileOps> ops_;
  std::chrono::seconds stale_temp_age_;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/registry/artifact_store-inl.hpp>
#endif
