// SPDX-License-Identifier: Apache-2.0
// A raw SQLite connection for tests: writes what a Switchyard store never would.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace switchyard::testing {

/// A raw SQLite connection, for writing what a Switchyard store never would.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 10'000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (err ? err : "?");
    }
    sqlite3_free(err);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    std::string out = "<error>";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      out = t ? t : "NULL";
    }
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

/// Turns a current store back into what schema version `version` (1 to 4) looked like: drops
/// the tables and columns later versions added, then sets user_version.
inline void downgrade_schema(RawDb& raw, int version) {
  raw.exec("DROP TABLE rollout_window_figures");
  if (version >= 4) {
    raw.exec("PRAGMA user_version = " + std::to_string(version));
    return;
  }
  raw.exec("DROP TABLE rollouts");
  raw.exec("DROP TABLE rollout_leases");
  raw.exec("ALTER TABLE audit_evidence DROP COLUMN actor");
  if (version < 3) raw.exec("DROP TABLE audit_evidence");
  if (version < 2) raw.exec("DROP TABLE artifacts");
  raw.exec("PRAGMA user_version = " + std::to_string(version));
}

}  // namespace switchyard::testing
