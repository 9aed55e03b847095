// SPDX-License-Identifier: Apache-2.0
// RAII over SQLite's C API for the store: a connection with its statement cache, one use of a
// statement (Query), and a checked reader of one result row (RowReader).
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <switchyard/core/error.hpp>
#include <switchyard/registry/model_version.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace switchyard::detail::sqlite {

struct DatabaseCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using DatabasePtr = std::unique_ptr<sqlite3, DatabaseCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

/// A short, printable form of one cell, for error messages about hostile rows.
inline std::string describe_cell(sqlite3_stmt* s, int col) {
  switch (sqlite3_column_type(s, col)) {
    case SQLITE_NULL:
      return "NULL";
    case SQLITE_INTEGER:
      return std::to_string(sqlite3_column_int64(s, col));
    case SQLITE_FLOAT:
      return std::to_string(sqlite3_column_double(s, col));
    case SQLITE_BLOB:
      return "a blob of " + std::to_string(sqlite3_column_bytes(s, col)) + " bytes";
    default: {
      const int n = sqlite3_column_bytes(s, col);
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
      std::string text(p ? p : "", static_cast<std::size_t>(std::min(n, 64)));
      return "'" + text + (n > 64 ? "...'" : "'");
    }
  }
}

inline const char* type_name(int type) {
  switch (type) {
    case SQLITE_NULL:
      return "NULL";
    case SQLITE_INTEGER:
      return "an integer";
    case SQLITE_FLOAT:
      return "a real number";
    case SQLITE_BLOB:
      return "a blob";
    default:
      return "text";
  }
}

/// Reads one result row, refusing values a Switchyard store never holds. `label` names the row
/// (table and key) and is built only when a value is refused.
class RowReader {
 public:
  using Label = std::string (*)(sqlite3_stmt*);
  RowReader(sqlite3_stmt* s, const std::string& where, Label label) noexcept
      : s_(s), where_(where), label_(label) {}

  std::string text(int col, const char* column, std::size_t max_bytes = kSqliteMaxTextBytes) {
    return std::string(text_view(col, column, max_bytes));
  }
  /// The text in SQLite's buffer, valid until the statement steps or resets.
  std::string_view text_view(int col, const char* column,
                             std::size_t max_bytes = kSqliteMaxTextBytes) {
    const int type = sqlite3_column_type(s_, col);
    if (type != SQLITE_TEXT) {
      corrupt(column, std::string("holds ") + type_name(type) + ", not text");
    }
    const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, col));
    if (n > max_bytes) {
      corrupt(column, "holds " + std::to_string(n) + " bytes, over the limit of " +
                          std::to_string(max_bytes));
    }
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string_view(p, n) : std::string_view();
  }
  /// A blob column's bytes (a zero-length blob reads as empty).
  std::string blob(int col, const char* column, std::size_t max_bytes) {
    const int type = sqlite3_column_type(s_, col);
    if (type != SQLITE_BLOB) {
      corrupt(column, std::string("holds ") + type_name(type) + ", not a blob");
    }
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, col));
    const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s_, col));
    if (n > max_bytes) {
      corrupt(column, "holds " + std::to_string(n) + " bytes, over the limit of " +
                          std::to_string(max_bytes));
    }
    return p ? std::string(p, n) : std::string();
  }
  std::int64_t integer(int col, const char* column) {
    const int type = sqlite3_column_type(s_, col);
    if (type != SQLITE_INTEGER) {
      corrupt(column, std::string("holds ") + type_name(type) + ", not an integer");
    }
    return sqlite3_column_int64(s_, col);
  }
  std::int64_t positive(int col, const char* column) {
    const std::int64_t v = integer(col, column);
    if (v < 1) corrupt(column, "holds " + std::to_string(v) + ", not a version number (>= 1)");
    return v;
  }
  Stage stage(int col, const char* column) {
    const std::int64_t v = integer(col, column);
    auto s = stage_from_int(v);
    if (!s) corrupt(column, "holds " + std::to_string(v) + ", not a stage (0 to 4)");
    return *s;
  }
  std::optional<Stage> optional_stage(int col, const char* column) {
    if (sqlite3_column_type(s_, col) == SQLITE_NULL) return std::nullopt;
    return stage(col, column);
  }
  [[noreturn]] void corrupt(const char* column, const std::string& reason) const {
    throw CorruptStore(where_ + ": " + label_(s_) + ": column '" + column + "' " + reason);
  }

 private:
  sqlite3_stmt* s_;
  const std::string& where_;
  Label label_;
};

inline std::string version_label(sqlite3_stmt* s) {
  return "model_versions row (name " + describe_cell(s, 0) + ", version " + describe_cell(s, 1) +
         ")";
}
inline std::string alias_label(sqlite3_stmt* s) {
  return "aliases row (model " + describe_cell(s, 0) + ", alias " + describe_cell(s, 1) + ")";
}
inline std::string audit_label(sqlite3_stmt* s) {
  return "audit row (sequence " + describe_cell(s, 0) + ")";
}
inline std::string artifact_label(sqlite3_stmt* s) {
  return "artifacts row (sha256 " + describe_cell(s, 0) + ")";
}
inline std::string model_label(sqlite3_stmt* s) {
  return "models row (name " + describe_cell(s, 0) + ")";
}
inline std::string rollout_label(sqlite3_stmt* s) {
  return "rollouts row (deployment " + describe_cell(s, 0) + ")";
}
inline std::string lease_label(sqlite3_stmt* s) {
  return "rollout_leases row (deployment " + describe_cell(s, 0) + ")";
}
inline std::string window_figures_label(sqlite3_stmt* s) {
  return "rollout_window_figures row (rollout " + describe_cell(s, 0) + ", window " +
         describe_cell(s, 1) + ", replica " + describe_cell(s, 2) + ")";
}
inline std::string audit_model_label(sqlite3_stmt* s) {
  return "audit rows of model " + describe_cell(s, 0);
}

/// One of a store's two connections, with its statement cache. Used by one thread at a time
/// (the writer by the holder of the store's gate, the reader under the store's reader mutex), so
/// it needs no lock of its own.
class Connection {
 public:
  using Options = SqliteRegistryStore::Options;

  /// The writer identifies, creates or migrates the file; the reader opens what the writer
  /// checked (or, in a read-only store, checks it itself) and refuses to write.
  enum class Role { kWriter, kReader };

  Connection(const Options& options, const std::string& where, Role role) : where_(where) {
    open(options, role);
  }

  sqlite3* db() const noexcept { return db_.get(); }
  const std::string& where() const noexcept { return where_; }

  /// SQLite's complaint about `rc` as the matching Switchyard error.
  [[noreturn]] void raise(int rc, std::string_view doing) const {
    std::string msg = where_ + ": " + std::string(doing) + " failed: " + sqlite3_errmsg(db()) +
                      " (" + sqlite3_errstr(rc) + ")";
    const int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) throw CorruptStore(msg);
    throw StorageError(msg);
  }

  /// A statement from the per-connection cache, reset and with no bindings.
  sqlite3_stmt* statement(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db(), sql.c_str(), static_cast<int>(sql.size() + 1),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StatementPtr stmt(raw);
    if (rc != SQLITE_OK) {
      // A statement over our own schema fails to prepare only when that schema was tampered with.
      const int primary = rc & 0xff;
      if (primary == SQLITE_ERROR) {
        throw CorruptStore(
            where_ + ": the schema does not match a Switchyard store: " + sqlite3_errmsg(db()));
      }
      raise(rc, "preparing a statement");
    }
    return cache_.emplace(sql, std::move(stmt)).first->second.get();
  }

  /// Runs SQL without results (transaction control, DDL).
  void exec(const char* sql, std::string_view doing) {
    const int rc = sqlite3_exec(db(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) raise(rc, doing);
  }

  /// Reads one integer PRAGMA.
  std::int64_t pragma_integer(const char* name) {
    const std::string sql = std::string("PRAGMA ") + name;
    const std::string doing = "reading the file header (" + sql + ")";
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db(), sql.c_str(), -1, &raw, nullptr);
    StatementPtr stmt(raw);
    if (rc != SQLITE_OK) raise(rc, doing);
    rc = sqlite3_step(raw);
    if (rc == SQLITE_ROW) return sqlite3_column_int64(raw, 0);
    if (rc == SQLITE_DONE) return 0;
    raise(rc, doing);
  }

  /// Reads (or sets) a text PRAGMA such as journal_mode.
  std::string pragma_text(const char* name) {
    const std::string sql = std::string("PRAGMA ") + name;
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db(), sql.c_str(), -1, &raw, nullptr);
    StatementPtr stmt(raw);
    if (rc != SQLITE_OK) raise(rc, sql);
    rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) raise(rc, sql);
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
    return text ? text : "";
  }

  /// `PRAGMA data_version`, through a cached statement (called once per refresh poll).
  std::int64_t data_version() {
    sqlite3_stmt* s = statement("PRAGMA data_version");
    const int rc = sqlite3_step(s);
    const std::int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) raise(rc, "reading PRAGMA data_version");
    return v;
  }

  /// The data_version the previous may_have_changed() saw (the baseline is taken at open).
  std::int64_t last_data_version = 0;

 private:
  void open(const Options& options, Role role);
  /// Throws unless the file is a Switchyard store this build can use (or an empty database);
  /// returns the schema version to migrate from, or -1 when the schema is current.
  /// `is_new` (when given) is set to whether the file holds no database yet.
  std::int64_t check_identity(const Options& options, bool* is_new = nullptr);
  void migrate(std::int64_t from);

  std::string where_;
  DatabasePtr db_;
  std::unordered_map<std::string, StatementPtr> cache_;
};

/// One use of a cached statement: bind, step, read; resets the statement when it goes away.
class Query {
 public:
  Query(Connection& c, const std::string& sql) : conn_(c), s_(c.statement(sql)) {}
  ~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(std::string_view text) {
    check(
        sqlite3_bind_text64(s_, ++index_, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  Query& bind(std::int64_t v) {
    check(sqlite3_bind_int64(s_, ++index_, v));
    return *this;
  }
  Query& bind_blob(std::string_view bytes) {
    check(sqlite3_bind_blob64(s_, ++index_, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
    return *this;
  }
  Query& bind(const std::optional<Stage>& s) {
    if (!s) {
      check(sqlite3_bind_null(s_, ++index_));
      return *this;
    }
    return bind(static_cast<std::int64_t>(*s));
  }

  /// True with a row to read, false when done; throws on error (the caller maps constraints).
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    conn_.raise(rc, "running '" + std::string(sqlite3_sql(s_)) + "'");
  }
  /// Like step() for statements without results, but returns SQLite's code for constraint
  /// failures instead of throwing, so the caller can say which key collided.
  int execute() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return SQLITE_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return rc;
    conn_.raise(rc, "running '" + std::string(sqlite3_sql(s_)) + "'");
  }

  sqlite3_stmt* get() const noexcept { return s_; }
  std::int64_t column_integer(int col) const { return sqlite3_column_int64(s_, col); }
  /// A checked reader of the current row.
  RowReader row(RowReader::Label label) const { return RowReader(s_, conn_.where(), label); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) conn_.raise(rc, "binding a parameter");
  }

  Connection& conn_;
  sqlite3_stmt* s_;
  int index_ = 0;
};

}  // namespace switchyard::detail::sqlite
