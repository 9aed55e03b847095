// SPDX-License-Identifier: Apache-2.0
// PredictionLog: the ring, the writer thread and its SQLite statements.
#include "prediction_log.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <switchyard/core/error.hpp>

#include "api_support.hpp"

namespace switchyard::server {

namespace {

template <std::size_t N>
std::uint8_t copy_into(std::array<char, N>& out, std::string_view text) noexcept {
  const std::size_t n = std::min(text.size(), std::min<std::size_t>(N, 255));
  std::memcpy(out.data(), text.data(), n);
  return static_cast<std::uint8_t>(n);
}

template <std::size_t N>
std::string_view view_of(const std::array<char, N>& a, std::uint8_t n) noexcept {
  return {a.data(), n};
}

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS predictions ("
    " request_id TEXT PRIMARY KEY,"
    " at TEXT NOT NULL,"           // UTC, ISO 8601
    " model TEXT NOT NULL,"
    " model_id TEXT NOT NULL,"
    " model_version TEXT NOT NULL,"
    " registry_version INTEGER NOT NULL,"
    " prediction TEXT NOT NULL,"
    " confidence REAL,"
    " latency_ms REAL NOT NULL,"
    " label TEXT,"                 // the true label from POST /feedback, NULL until then
    " correct INTEGER);"           // 1 / 0, NULL until labelled
    "CREATE INDEX IF NOT EXISTS predictions_by_version ON predictions (model, model_version);";

// A prepared statement, finalised on scope exit.
struct Statement {
  sqlite3_stmt* s = nullptr;
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
      throw StorageError(std::string("prediction log: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(s); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void step(sqlite3* db) {
    if (sqlite3_step(s) != SQLITE_DONE) {
      throw StorageError(std::string("prediction log: ") + sqlite3_errmsg(db));
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    throw StorageError("prediction log: " + text);
  }
}

}  // namespace

void LoggedPrediction::set(std::string_view model_name, std::string_view semver,
                           std::string_view id) noexcept {
  model_size = copy_into(model, model_name);
  model_version_size = copy_into(model_version, semver);
  model_id_size = copy_into(model_id, id);
}

PredictionLog::PredictionLog(Options options)
    : options_(std::move(options)), ring_(options_.capacity) {
  if (sqlite3_open_v2(options_.path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StorageError("prediction log '" + options_.path.string() + "': " + message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    exec(db_, kSchema);
  } catch (const StorageError& e) {
    sqlite3_close(db_);
    throw StorageError("prediction log '" + options_.path.string() + "': " + e.what());
  }
  writer_ = std::thread([this] { run(); });
}

PredictionLog::~PredictionLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  writer_.join();
  sqlite3_close(db_);
}

void PredictionLog::record(const LoggedPrediction& row) noexcept {
  std::size_t position = 0;
  LoggedPrediction* slot = ring_.try_claim(position);
  if (slot == nullptr) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  *slot = row;
  ring_.publish(position);
}

void PredictionLog::label(std::uint64_t request_id, std::string text, bool correct) {
  std::lock_guard lock(mu_);
  labels_.push_back({request_id, std::move(text), correct});
}

void PredictionLog::flush() {
  std::unique_lock lock(mu_);
  // The pass running now may have taken its rows before the call: wait for the one after it.
  const std::uint64_t target = passes_ + 2;
  wake_.notify_all();
  done_.wait(lock, [&] { return passes_ >= target || stop_; });
}

PredictionLog::Stats PredictionLog::stats() const noexcept {
  return {written_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed),
          ring_.size_approx(), labels_written_.load(std::memory_order_relaxed),
          failed_.load(std::memory_order_relaxed)};
}

void PredictionLog::run() {
  std::vector<LoggedPrediction> rows;
  std::vector<Label> labels;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, options_.flush_every);
      stopping = stop_;
      labels.swap(labels_);
    }
    rows.clear();
    std::size_t position = 0;
    while (const LoggedPrediction* row = ring_.try_take(position)) {
      rows.push_back(*row);
      ring_.release(position);
    }
    if (!rows.empty() || !labels.empty()) {
      try {
        write_batch(rows, labels);
      } catch (const std::exception&) {
        failed_.fetch_add(1, std::memory_order_relaxed);  // the batch is lost, not the server
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      }
    }
    labels.clear();
    {
      std::lock_guard lock(mu_);
      ++passes_;
    }
    done_.notify_all();
    if (stopping) return;
  }
}

void PredictionLog::write_batch(const std::vector<LoggedPrediction>& rows,
                                const std::vector<Label>& labels) {
  exec(db_, "BEGIN");
  Statement insert(db_,
                   "INSERT OR IGNORE INTO predictions (request_id, at, model, model_id, "
                   "model_version, registry_version, prediction, confidence, latency_ms) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  for (const auto& r : rows) {
    insert.text(1, hex16(r.request_id));
    insert.text(2, format_time(from_unix_nanos(r.at_ns)));
    insert.text(3, view_of(r.model, r.model_size));
    insert.text(4, view_of(r.model_id, r.model_id_size));
    insert.text(5, view_of(r.model_version, r.model_version_size));
    sqlite3_bind_int64(insert.s, 6, r.version);
    insert.text(7, r.label == 1 ? "positive" : r.label == 0 ? "negative" : std::to_string(r.label));
    if (!std::isnan(r.confidence)) sqlite3_bind_double(insert.s, 8, r.confidence);
    sqlite3_bind_double(insert.s, 9, static_cast<double>(r.latency_ns) / 1e6);
    insert.step(db_);
  }
  Statement update(db_, "UPDATE predictions SET label = ?1, correct = ?2 WHERE request_id = ?3");
  for (const auto& l : labels) {
    update.text(1, l.label);
    sqlite3_bind_int(update.s, 2, l.correct ? 1 : 0);
    update.text(3, hex16(l.request_id));
    update.step(db_);
  }
  exec(db_, "COMMIT");
  written_.fetch_add(rows.size(), std::memory_order_relaxed);
  labels_written_.fetch_add(labels.size(), std::memory_order_relaxed);
}

}  // namespace switchyard::server
