// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the benchmark programs.
#pragma once

#include <sqlite3.h>

#include <string>

namespace switchyard::bench {

/// SQLite alone, as the baseline for durable commits: one table in a database with the WAL journal
/// and synchronous=FULL (the settings SqliteRegistryStore uses). Single-threaded.
class RawSqliteRows {
 public:
  explicit RawSqliteRows(const std::string& path) {
    sqlite3_open(path.c_str(), &db_);
    sqlite3_exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr,
                 nullptr);
    sqlite3_exec(db_,
                 "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL, b BLOB)",
                 nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(db_, "INSERT INTO t (v, b) VALUES (?, ?)", -1, &insert_, nullptr);
  }
  ~RawSqliteRows() {
    sqlite3_finalize(insert_);
    sqlite3_close(db_);
  }
  RawSqliteRows(const RawSqliteRows&) = delete;
  RawSqliteRows& operator=(const RawSqliteRows&) = delete;

  /// Commits one row (text and an optional blob) durably in its own BEGIN IMMEDIATE
  /// transaction; false when it failed.
  bool commit_row(const std::string& text, const std::string& blob = {}) {
    sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_bind_text(insert_, 1, text.c_str(), static_cast<int>(text.size()), SQLITE_STATIC);
    sqlite3_bind_blob(insert_, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    sqlite3_step(insert_);
    sqlite3_reset(insert_);
    return sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

}  // namespace switchyard::bench
