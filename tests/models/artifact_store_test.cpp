// SPDX-License-Identifier: Apache-2.0
// Tests for ArtifactStore: content addressing, verification, crash safety and concurrency.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <latch>
#include <mutex>
#include <set>
#include <string>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using testing::error_message;
using testing::TempDir;

// SHA-256 of "hello" (as printed by `printf hello | sha256sum`, GNU coreutils 9.1).
constexpr const char* kHelloSha =
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

std::string slurp(const fs::path& p) {
  std::string content(static_cast<std::size_t>(fs::file_size(p)), '\0');
  std::ifstream in(p, std::ios::binary);
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  return content;
}

void overwrite(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
}

// Every file under `root` whose name marks a put() temporary.
std::vector<std::string> temporaries(const fs::path& root) {
  std::vector<std::string> found;
  if (!fs::exists(root)) return found;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename().string().find(".tmp.") != std::string::npos) {
      found.push_back(e.path().string());
    }
  }
  return found;
}

// PosixFileOps that fails one chosen step with a chosen errno, and counts calls. Tracks which
// descriptors are temporaries and which are directories, so "fsync" can target either.
class FaultyFileOps : public ArtifactStore::PosixFileOps {
 public:
  std::string fail_step;  // create_new, write, fsync_file, close_file, rename, fsync_dir,
                          // make_directory, read
  int fail_errno = ENOSPC;
  std::size_t max_write = 0;  // when non-zero, writes are cut to this many bytes
  bool stall_writes = false;  // writes report success with 0 bytes
  std::atomic<int> creates{0};

  int create_new(const std::string& path, int& fd) override {
    ++creates;
    if (fail_step == "create_new") return fail_errno;
    const int err = PosixFileOps::create_new(path, fd);
    if (err == 0) remember(temp_fds_, fd);
    return err;
  }
  int open_directory(const std::string& path, int& fd) override {
    const int err = PosixFileOps::open_directory(path, fd);
    if (err == 0) remember(dir_fds_, fd);
    return err;
  }
  int write(int fd, const char* data, std::size_t size, std::size_t& written) override {
    if (fail_step == "write") return fail_errno;
    if (stall_writes) {
      written = 0;
      return 0;
    }
    return PosixFileOps::write(fd, data, max_write ? std::min(size, max_write) : size, written);
  }
  int read(int fd, char* data, std::size_t size, std::size_t& got) override {
    if (fail_step == "read") return fail_errno;
    return PosixFileOps::read(fd, data, size, got);
  }
  int fsync(int fd) override {
    if (fail_step == "fsync_file" && is(temp_fds_, fd)) return fail_errno;
    if (fail_step == "fsync_dir" && is(dir_fds_, fd)) return fail_errno;
    return PosixFileOps::fsync(fd);
  }
  int close(int fd) override {
    const bool temp = is(temp_fds_, fd);
    forget(fd);
    const int err = PosixFileOps::close(fd);
    if (fail_step == "close_file" && temp) return fail_errno;
    return err;
  }
  int rename(const std::string& from, const std::string& to) override {
    if (fail_step == "rename") return fail_errno;
    return PosixFileOps::rename(from, to);
  }
  int make_directory(const std::string& path) override {
    if (fail_step == "make_directory") return fail_errno;
    return PosixFileOps::make_directory(path);
  }

 private:
  void remember(std::set<int>& s, int fd) {
    std::lock_guard lk(mu_);
    s.insert(fd);
  }
  bool is(const std::set<int>& s, int fd) {
    std::lock_guard lk(mu_);
    return s.count(fd) != 0;
  }
  void forget(int fd) {
    std::lock_guard lk(mu_);
    temp_fds_.erase(fd);
    dir_fds_.erase(fd);
  }
  std::mutex mu_;
  std::set<int> temp_fds_;
  std::set<int> dir_fds_;
};

TEST(ArtifactStoreTest, put_writes_a_content_addressed_file) {
  TempDir dir;
  ArtifactStore store(dir.path() / "artifacts");  // created on first put, parents included
  const ArtifactRef ref = store.put("hello", "switchyard.linear");
  EXPECT_EQ(ref.sha256, kHelloSha);
  EXPECT_EQ(ref.size, 5u);
  EXPECT_EQ(ref.format, "switchyard.linear");
  EXPECT_EQ(ref.uri, std::string("sha256/2c/") + kHelloSha);
  EXPECT_EQ(slurp(dir.path() / "artifacts" / ref.uri), "hello");
  EXPECT_EQ(store.path_of(kHelloSha), dir.path() / "artifacts" / ref.uri);
  EXPECT_EQ(store.read(ref), "hello");
  EXPECT_TRUE(temporaries(dir.path()).empty());
}

TEST(ArtifactStoreTest, stores_empty_and_binary_content) {
  TempDir dir;
  ArtifactStore store(dir.path());
  const std::string binary("\0\x01\xff\n\r", 5);
  EXPECT_EQ(store.read(store.put(binary, "f")), binary);
  const ArtifactRef empty = store.put("", "f");
  EXPECT_EQ(empty.sha256, detail::sha256_hex(""));
  EXPECT_EQ(store.read(empty), "");
}

TEST(ArtifactStoreTest, put_of_existing_intact_content_writes_nothing) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  ArtifactStore store(dir.path(), {ops, std::chrono::hours(1)});
  const ArtifactRef first = store.put("hello", "a");
  EXPECT_EQ(ops->creates.load(), 1);
  const ArtifactRef second = store.put("hello", "b");
  EXPECT_EQ(ops->creates.load(), 1) << "the intact file must be reused, not rewritten";
  EXPECT_EQ(second.sha256, first.sha256);
  EXPECT_EQ(second.uri, first.uri);
  EXPECT_EQ(second.format, "b");
}

TEST(ArtifactStoreTest, put_replaces_a_damaged_file_with_the_same_name) {
  TempDir dir;
  ArtifactStore store(dir.path());
  const ArtifactRef ref = store.put("hello", "f");
  overwrite(store.path_of(ref.sha256), "jello");
  EXPECT_THROW(store.read(ref), IntegrityError);
  EXPECT_EQ(store.put("hello", "f"), ref);
  EXPECT_EQ(store.read(ref), "hello");
}

TEST(ArtifactStoreTest, read_of_a_tampered_file_is_an_integrity_error_naming_it) {
  TempDir dir;
  ArtifactStore store(dir.path());
  const ArtifactRef ref = store.put("hello", "f");
  const std::string path = store.path_of(ref.sha256).string();

  overwrite(path, "hellO");  // same size, other content
  std::string message = error_message<IntegrityError>([&] { store.read(ref); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("expected " + ref.sha256), std::string::npos) << message;

  overwrite(path, "hell");
  message = error_message<IntegrityError>([&] { store.read(ref); });
  EXPECT_NE(message.find("holds 4 bytes, expected 5"), std::string::npos) << message;

  overwrite(path, "hello, and more");
  message = error_message<IntegrityError>([&] { store.read(ref); });
  EXPECT_NE(message.find("more than 5"), std::string::npos) << message;
}

TEST(ArtifactStoreTest, read_of_a_missing_file_is_not_found_naming_it) {
  TempDir dir;
  ArtifactStore store(dir.path());
  ArtifactRef ref{"f", kHelloSha, 5, ""};
  const std::string message = error_message<NotFound>([&] { store.read(ref); });
  EXPECT_NE(message.find(store.path_of(kHelloSha).string()), std::string::npos) << message;
}

TEST(ArtifactStoreTest, references_that_are_not_plain_hashes_are_rejected) {
  TempDir dir;
  ArtifactStore store(dir.path() / "store");
  overwrite(dir.path() / "secret", "do not read");
  for (const std::string& bad :
       {std::string("../secret"), std::string("../../../../../../../../../../../../etc/passwd"),
        std::string(kHelloSha).substr(0, 63), std::string(kHelloSha) + "0",
        std::string("2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"),
        std::string(62, 'a') + "/a", std::string(63, 'a') + std::string(1, '\0')}) {
    EXPECT_THROW(store.read(ArtifactRef{"f", bad, 11, ""}), InvalidArgument) << bad;
    EXPECT_THROW(store.contains(bad), InvalidArgument) << bad;
  }
  const std::string uri_trick = std::string("sha256/2c/../../../secret");
  EXPECT_NE(error_message<InvalidArgument>([&] {
              store.read(ArtifactRef{"f", kHelloSha, 11, uri_trick});
            }).find("does not match its sha256"),
            std::string::npos);
  EXPECT_THROW(store.read(ArtifactRef{"f", kHelloSha, 5, std::string("sha256/00/") + kHelloSha}),
               InvalidArgument);
  EXPECT_THROW(store.put("x", ""), InvalidArgument);
}

TEST(ArtifactStoreTest, contains_and_list_see_only_artifacts) {
  TempDir dir;
  ArtifactStore store(dir.path());
  EXPECT_TRUE(store.list().empty());
  std::set<std::string> expected;
  for (const char* content : {"a", "b", "c", "hello"}) {
    expected.insert(store.put(content, "f").sha256);
  }
  overwrite(dir.path() / "sha256" / "2c" / "README", "not an artifact");
  overwrite(dir.path() / "sha256" / "2c" / (std::string(kHelloSha) + ".tmp.1.2.3"), "partial");
  fs::create_directories(dir.path() / "sha256" / "zz");
  overwrite(dir.path() / "sha256" / "zz" / std::string(64, 'a'), "misplaced");
  const std::vector<std::string> listed = store.list();
  EXPECT_EQ(listed, std::vector<std::string>(expected.begin(), expected.end()));
  EXPECT_TRUE(store.contains(kHelloSha));
  EXPECT_FALSE(store.contains(detail::sha256_hex("absent")));
}

TEST(ArtifactStoreTest, remove_unreferenced_keeps_referenced_and_fresh_temporaries) {
  TempDir dir;
  ArtifactStore store(dir.path());
  const ArtifactRef a = store.put("a", "f");
  const ArtifactRef b = store.put("b", "f");
  const ArtifactRef c = store.put("c", "f");
  const fs::path shard = store.path_of(a.sha256).parent_path();
  const fs::path stale = shard / (a.sha256 + ".tmp.99.1.00");
  const fs::path fresh = shard / (a.sha256 + ".tmp.99.2.00");
  overwrite(stale, "left by a crash");
  overwrite(fresh, "a put in progress");
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(2));

  std::vector<std::string> removed = store.remove_unreferenced({a.sha256});
  std::vector<std::string> expected = {b.sha256, c.sha256};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  EXPECT_EQ(store.list(), std::vector<std::string>{a.sha256});
  EXPECT_EQ(store.read(a), "a");
  EXPECT_FALSE(store.contains(b.sha256));
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));
  EXPECT_TRUE(store.remove_unreferenced({a.sha256}).empty());
}

// The crash-safety contract, step by step: whichever step fails, the call throws StorageError
// naming the file and the errno text, no file appears under the final name, no temporary is
// left behind, and what was stored before is intact.
TEST(ArtifactStoreTest, a_failed_step_leaves_no_final_file_and_no_temporary) {
  for (const char* step : {"create_new", "write", "fsync_file", "close_file", "rename"}) {
    SCOPED_TRACE(step);
    TempDir dir;
    auto ops = std::make_shared<FaultyFileOps>();
    ArtifactStore store(dir.path(), {ops, std::chrono::hours(1)});
    const ArtifactRef before = store.put("previous content", "f");

    ops->fail_step = step;
    ops->fail_errno = ENOSPC;
    const std::string content = "new content that will not make it";
    const std::string sha = detail::sha256_hex(content);
    const std::string message = error_message<StorageError>([&] { store.put(content, "f"); });
    EXPECT_NE(message.find(store.path_of(sha).parent_path().string()), std::string::npos)
        << message;
    EXPECT_NE(message.find("No space left on device"), std::string::npos) << message;

    ops->fail_step.clear();
    EXPECT_FALSE(fs::exists(store.path_of(sha)));
    EXPECT_FALSE(store.contains(sha));
    EXPECT_TRUE(temporaries(dir.path()).empty());
    EXPECT_EQ(store.read(before), "previous content");
    EXPECT_EQ(store.list(), std::vector<std::string>{before.sha256});
    // The store still works after the failure.
    EXPECT_EQ(store.read(store.put(content, "f")), content);
  }
}

TEST(ArtifactStoreTest, a_failed_replacement_leaves_the_previous_file_as_it_was) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  ArtifactStore store(dir.path(), {ops, std::chrono::hours(1)});
  const ArtifactRef ref = store.put("hello", "f");
  overwrite(store.path_of(ref.sha256), "jello");  // damaged: put() will try to replace it
  for (const char* step : {"write", "fsync_file", "rename"}) {
    ops->fail_step = step;
    EXPECT_THROW(store.put("hello", "f"), StorageError) << step;
    EXPECT_EQ(slurp(store.path_of(ref.sha256)), "jello") << step;
    EXPECT_TRUE(temporaries(dir.path()).empty()) << step;
  }
}

TEST(ArtifactStoreTest, a_failed_directory_fsync_reports_but_keeps_the_complete_file) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  ArtifactStore store(dir.path(), {ops, std::chrono::hours(1)});
  fs::create_directories(store.path_of(kHelloSha).parent_path());  // only the last fsync is left
  ops->fail_step = "fsync_dir";
  ops->fail_errno = EIO;
  const std::string message = error_message<StorageError>([&] { store.put("hello", "f"); });
  EXPECT_NE(message.find("Input/output error"), std::string::npos) << message;
  EXPECT_NE(message.find("may not survive a power loss"), std::string::npos) << message;
  ops->fail_step.clear();
  EXPECT_TRUE(temporaries(dir.path()).empty());
  // The rename happened: the file under the final name is complete, and content addressing
  // makes it safe to keep (a concurrent put of the same bytes may rely on it).
  EXPECT_EQ(store.read(ArtifactRef{"f", kHelloSha, 5, ""}), "hello");
}

TEST(ArtifactStoreTest, a_failed_fsync_of_a_new_directory_names_it) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  ArtifactStore store(dir.path(), {ops, std::chrono::hours(1)});
  ops->fail_step = "fsync_dir";
  ops->fail_errno = EIO;
  const std::string message = error_message<StorageError>([&] { store.put("hello", "f"); });
  EXPECT_NE(message.find("created '" + (dir.path() / "sha256").string()), std::string::npos)
      << message;
  EXPECT_FALSE(fs::exists(store.path_of(kHelloSha)));
  EXPECT_TRUE(temporaries(dir.path()).empty());
}

TEST(ArtifactStoreTest, directory_creation_failure_names_the_directory) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  ArtifactStore store(dir.path() / "store", {ops, std::chrono::hours(1)});
  ops->fail_step = "make_directory";
  ops->fail_errno = EACCES;
  const std::string message = error_message<StorageError>([&] { store.put("hello", "f"); });
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
  EXPECT_NE(message.find((dir.path() / "store").string()), std::string::npos) << message;
}

TEST(ArtifactStoreTest, short_writes_are_completed_and_stalled_writes_fail) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  ArtifactStore store(dir.path(), {ops, std::chrono::hours(1)});
  ops->max_write = 3;
  const std::string content(1000, 'x');
  EXPECT_EQ(store.read(store.put(content, "f")), content);

  ops->max_write = 0;
  ops->stall_writes = true;
  EXPECT_THROW(store.put("stalls", "f"), StorageError);
  EXPECT_TRUE(temporaries(dir.path()).empty());
}

TEST(ArtifactStoreTest, read_errors_are_storage_errors) {
  TempDir dir;
  auto ops = std::make_shared<FaultyFileOps>();
  ArtifactStore store(dir.path(), {ops, std::chrono::hours(1)});
  const ArtifactRef ref = store.put("hello", "f");
  ops->fail_step = "read";
  ops->fail_errno = EIO;
  const std::string message = error_message<StorageError>([&] { store.read(ref); });
  EXPECT_NE(message.find(store.path_of(ref.sha256).string()), std::string::npos) << message;
  EXPECT_NE(message.find("Input/output error"), std::string::npos) << message;
}

TEST(ArtifactStoreTest, concurrent_puts_of_the_same_content_leave_one_intact_file) {
  TempDir dir;
  ArtifactStore shared(dir.path());
  const std::string content(256 * 1024, 'q');
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<ArtifactRef> refs(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half share one store, half open their own on the same root, as other processes would.
      ArtifactStore own(dir.path());
      ArtifactStore& store = t % 2 ? own : shared;
      start.arrive_and_wait();
      try {
        for (int i = 0; i < 10; ++i) refs[static_cast<std::size_t>(t)] = store.put(content, "f");
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[static_cast<std::size_t>(t)], "");
    EXPECT_EQ(refs[static_cast<std::size_t>(t)], refs[0]);
  }
  EXPECT_EQ(shared.list(), std::vector<std::string>{detail::sha256_hex(content)});
  EXPECT_EQ(shared.read(refs[0]), content);
  EXPECT_TRUE(temporaries(dir.path()).empty());
}

TEST(ArtifactStoreTest, concurrent_puts_from_several_processes_agree) {
  TempDir dir;
  const std::string content(64 * 1024, 'p');
  constexpr int kChildren = 3;
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        ArtifactStore store(dir.path());
        for (int i = 0; i < 20; ++i) store.put(content, "f");
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  ArtifactStore store(dir.path());
  for (int i = 0; i < 20; ++i) store.put(content, "f");
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(store.list(), std::vector<std::string>{detail::sha256_hex(content)});
  EXPECT_EQ(store.read(ArtifactRef{"f", detail::sha256_hex(content), content.size(), ""}), content);
  EXPECT_TRUE(temporaries(dir.path()).empty());
}

}  // namespace
}  // namespace switchyard
