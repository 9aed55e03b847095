// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the benchmark programs.
#pragma once

#include <sqlite3.h>

#include <cstddef>
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

/// The raw-scan baseline for loading a store: SQLite alone reads every row of model_versions (all
/// eleven columns, ordered by the primary key as SqliteRegistryStore::load() does) from a fresh
/// connection and copies each text column into a std::string, with no checks and no JSON decoding.
/// Returns the number of rows, or -1 on error.
inline long long raw_scan_versions(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT name, version, stage, semver, created_at_ns, stage_changed_at_ns, "
                     "artifact_format, artifact_sha256, artifact_size, artifact_uri, metadata "
                     "FROM model_versions ORDER BY name, version",
                     -1, &s, nullptr);
  long long rows = 0;
  std::string keep[7];
  long long numbers = 0;
  while (s != nullptr && sqlite3_step(s) == SQLITE_ROW) {
    int t = 0;
    for (int col : {0, 3, 6, 7, 9, 10}) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
      keep[t++].assign(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, col)));
    }
    for (int col : {1, 2, 4, 5, 8}) numbers += sqlite3_column_int64(s, col);
    ++rows;
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return numbers == 0 && rows > 0 ? -1 : rows;
}

}  // namespace switchyard::bench
