// SPDX-License-Identifier: Apache-2.0
// PredictionLog: switchyard-server's optional log of every prediction, written to SQLite in batches
// by a background thread. Internal to switchyard-server.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/shadow/detail/job_ring.hpp>
#include <thread>
#include <vector>

struct sqlite3;

namespace switchyard::server {

/// One prediction as the log keeps it: fixed-size, so the request path copies it into a slot of
/// the ring without allocating. Longer names are cut. Thread-safety: a value type.
struct LoggedPrediction {
  std::uint64_t request_id = 0;
  std::int64_t at_ns = 0;  ///< Unix nanoseconds
  std::int64_t version = 0;
  std::int32_t label = -1;
  double confidence = 0.0;
  std::int64_t latency_ns = 0;
  std::array<char, 128> model{};
  std::array<char, 64> model_version{};  ///< the semantic version (seed 002's model_version)
  std::array<char, 32> model_id{};
  std::uint8_t model_size = 0, model_version_size = 0, model_id_size = 0;

  void set(std::string_view model_name, std::string_view semver, std::string_view id) noexcept;
};

/// Seed 002's prediction log: request id, time, model, version, label, confidence and latency of
/// each prediction, and the true label once POST /feedback gives it, in the SQLite table
/// `predictions` of `path` (see docs/server.md for its columns and seed 002's queries on it).
///
/// The request path (record()) claims a slot of a bounded lock-free ring
/// (detail::shadow::JobRing), copies the fixed-size row into it and returns: it never blocks,
/// takes no lock and allocates nothing; when the ring is full the row is dropped and counted.
/// A background thread takes what is queued every `flush_every` (the request path never wakes it:
/// no system call) and writes it in one transaction, labels after the rows of the same batch, so a label
/// for a prediction still queued is not lost. Rows already written are never rewritten except
/// for their label columns.
///
/// Thread-safe: record() from any number of threads, label(), stats() and flush() from any.
/// Neither copyable nor movable.
class PredictionLog {
 public:
  struct Options {
    std::filesystem::path path;  ///< the SQLite file; created with its table when missing
    std::size_t capacity = std::size_t{1} << 16;  ///< rows queued at most (a power of two)
    std::chrono::milliseconds flush_every{200};   ///< longest a row waits in the ring
  };
  /// Opens (or creates) the database and starts the writer. Throws StorageError naming the
  /// file when SQLite cannot open it or create the table.
  explicit PredictionLog(Options options);
  /// Writes what is queued, then stops the writer.
  ~PredictionLog();
  PredictionLog(const PredictionLog&) = delete;
  PredictionLog& operator=(const PredictionLog&) = delete;

  /// The request path: queues `row`, or drops and counts it when the ring is full. Never blocks.
  void record(const LoggedPrediction& row) noexcept;
  /// The true label of a request (POST /feedback), written with the next batch.
  void label(std::uint64_t request_id, std::string label, bool correct);
  /// Waits until everything recorded or labelled before the call is written.
  void flush();

  /// Rows written, dropped (ring full), still queued; labels written; batches that failed.
  struct Stats {
    std::uint64_t written = 0, dropped = 0, queued = 0, labels = 0, failed_batches = 0;
  };
  Stats stats() const noexcept;
  const std::filesystem::path& path() const noexcept { return options_.path; }

 private:
  struct Label {
    std::uint64_t request_id;
    std::string label;
    bool correct;
  };
  void run();
  void write_batch(const std::vector<LoggedPrediction>& rows, const std::vector<Label>& labels);

  const Options options_;
  sqlite3* db_ = nullptr;
  detail::shadow::JobRing<LoggedPrediction> ring_;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> labels_written_{0};
  std::atomic<std::uint64_t> failed_{0};

  std::mutex mu_;
  std::condition_variable wake_;  // the writer waits here
  std::condition_variable done_;  // flush() waits here
  std::vector<Label> labels_;     // guarded by mu_
  std::uint64_t passes_ = 0;      // guarded by mu_: writer passes completed
  bool stop_ = false;             // guarded by mu_
  std::thread writer_;
};

}  // namespace switchyard::server
