// SPDX-License-Identifier: Apache-2.0
// RAII over libpq for the PostgreSQL store: a connection that re-establishes itself once per call,
// the parameters of one statement, a result, and a checked reader of one result row. Included by
// postgres_registry_store-inl.hpp only.
#pragma once

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/registry/model_version.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace switchyard::detail::postgres {

struct ResultClearer {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
/// A PGresult that is cleared when it goes away.
using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

/// The parameters of one statement, sent in text form (bytes in binary form, as BYTEA).
/// Not thread-safe: a value used by one call.
class Params {
 public:
  /// Text; refuses NUL, which PostgreSQL's TEXT cannot hold (SQLite's can, so the contract
  /// allows it only where the other stores refuse it too).
  Params& text(std::string_view v, std::string_view what = "a text value") {
    if (v.find('\0') != std::string_view::npos) {
      throw InvalidArgument(std::string(what) +
                            " contains a NUL byte, which PostgreSQL cannot store");
    }
    return add(std::string(v), 0);
  }
  Params& integer(std::int64_t v) { return add(std::to_string(v), 0); }
  Params& stage(const std::optional<Stage>& s) {
    if (!s) {
      values_.emplace_back();
      nulls_.push_back(true);
      formats_.push_back(0);
      return *this;
    }
    return integer(static_cast<std::int64_t>(*s));
  }
  Params& bytes(std::string_view v) { return add(std::string(v), 1); }
  /// A text[] array literal of `items`.
  Params& text_array(const std::vector<std::string>& items) {
    std::string lit = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) lit += ',';
      lit += '"';
      for (char c : items[i]) {
        if (c == '"' || c == '\\') lit += '\\';
        lit += c;
      }
      lit += '"';
    }
    lit += '}';
    return text(lit, "a model name");
  }

  /// Appends the parameters of `other` from index `first` on.
  Params& append_from(const Params& other, std::size_t first) {
    for (std::size_t i = first; i < other.values_.size(); ++i) {
      values_.push_back(other.values_[i]);
      nulls_.push_back(other.nulls_[i]);
      formats_.push_back(other.formats_[i]);
    }
    return *this;
  }

  int size() const noexcept { return static_cast<int>(values_.size()); }
  /// Pointers into this object, valid while it lives and is not changed.
  void arrays(std::vector<const char*>& values, std::vector<int>& lengths,
              std::vector<int>& formats) const {
    values.clear();
    lengths.clear();
    for (std::size_t i = 0; i < values_.size(); ++i) {
      values.push_back(nulls_[i] ? nullptr : values_[i].data());
      lengths.push_back(static_cast<int>(values_[i].size()));
    }
    formats = formats_;
  }

 private:
  Params& add(std::string v, int format) {
    values_.push_back(std::move(v));
    nulls_.push_back(false);
    formats_.push_back(format);
    return *this;
  }
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> formats_;
};

/// One connection of a store, with its conninfo so that it can come back after the server went
/// away. Used by one thread at a time (the store's gate or mutexes), so it needs no lock.
class Connection {
 public:
  Connection(std::string conninfo, std::chrono::seconds connect_timeout, std::string where)
      : conninfo_(std::move(conninfo)),
        timeout_(std::to_string(std::max<std::int64_t>(1, connect_timeout.count()))),
        where_(std::move(where)) {
    connect();
  }
  ~Connection() {
    if (conn_) PQfinish(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* get() const noexcept { return conn_; }
  const std::string& where() const noexcept { return where_; }
  bool ok() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

  /// Makes sure the connection is up: a lost one is re-established once (StorageError when
  /// that fails). Returns true when it had to reconnect.
  bool ensure() {
    if (ok()) return false;
    connect();
    return true;
  }

  /// Runs `sql` with `params`; returns the result or throws (StorageError, CorruptStore for SQL
  /// that our own schema should accept). `binary` asks for results in binary form.
  ResultPtr run(const char* sql, const Params& params, std::string_view doing,
                bool binary = false) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    params.arrays(values, lengths, formats);
    ResultPtr r(PQexecParams(conn_, sql, params.size(), nullptr, values.data(), lengths.data(),
                             formats.data(), binary ? 1 : 0));
    check(r.get(), doing);
    return r;
  }
  ResultPtr run(const char* sql, std::string_view doing) { return run(sql, Params{}, doing); }
  /// Runs one or more statements without parameters (transaction control, DDL).
  void exec(const char* sql, std::string_view doing) {
    ResultPtr r(PQexec(conn_, sql));
    check(r.get(), doing);
  }
  /// Rolls back whatever is open; never throws (a lost connection has nothing to roll back).
  void rollback() noexcept {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return;
    if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return;
    PQclear(PQexec(conn_, "ROLLBACK"));
  }

  /// libpq's complaint as the matching Switchyard error.
  [[noreturn]] void raise(const PGresult* r, std::string_view doing) const {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string_view code = state ? state : "";
    std::string message = r ? PQresultErrorMessage(r) : "";
    if (message.empty() && conn_) message = PQerrorMessage(conn_);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      throw StorageError(where_ + ": lost the connection to the server while " +
                         std::string(doing) + ": " + message);
    }
    if (code == "55P03") {
      throw StorageError(where_ + ": timed out " + std::string(doing) +
                         " while another writer holds the store (" + message + ")");
    }
    // Undefined table, column or function in a statement over our own schema: not our schema.
    if (code == "42P01" || code == "42703" || code == "42883") {
      throw CorruptStore(where_ + ": the schema does not match a Switchyard store (" +
                         std::string(doing) + ": " + message + ")");
    }
    throw StorageError(where_ + ": " + std::string(doing) + " failed: " + message +
                       (code.empty() ? "" : " (SQLSTATE " + std::string(code) + ")"));
  }

 private:
  void connect() {
    if (conn_) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
    // Later keywords override what the expanded conninfo says.
    const char* keywords[] = {"dbname", "connect_timeout", "client_encoding", "application_name",
                              nullptr};
    const char* values[] = {conninfo_.c_str(), timeout_.c_str(), "UTF8", "switchyard", nullptr};
    conn_ = PQconnectdbParams(keywords, values, 1);
    if (!conn_) throw StorageError(where_ + ": cannot connect: out of memory");
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string message = PQerrorMessage(conn_);
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
        message.pop_back();
      }
      throw StorageError(where_ + ": cannot connect to the server: " + message);
    }
    // Notices (e.g. about an identifier) are not errors; keep them off stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }

  void check(const PGresult* r, std::string_view doing) const {
    const ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK || s == PGRES_EMPTY_QUERY) return;
    raise(r, doing);
  }

  std::string conninfo_;
  std::string timeout_;
  std::string where_;
  PGconn* conn_ = nullptr;
};

/// Reads one result row, refusing values a Switchyard store never holds; `label` names the row
/// (table and key) and is built only when a value is refused. Text-form results, except blob().
/// Not thread-safe: a view of one result used by one thread.
class RowReader {
 public:
  using Label = std::string (*)(const PGresult*, int row);
  RowReader(const PGresult* r, int row, const std::string& where, Label label) noexcept
      : r_(r), row_(row), where_(where), label_(label) {}

  bool is_null(int col) const { return PQgetisnull(r_, row_, col) != 0; }
  std::string text(int col, const char* column, std::size_t max_bytes = kSqliteMaxTextBytes) {
    return std::string(text_view(col, column, max_bytes));
  }
  std::string_view text_view(int col, const char* column,
                             std::size_t max_bytes = kSqliteMaxTextBytes) {
    if (is_null(col)) corrupt(column, "holds NULL, not text");
    const auto n = static_cast<std::size_t>(PQgetlength(r_, row_, col));
    if (n > max_bytes) {
      corrupt(column, "holds " + std::to_string(n) + " bytes, over the limit of " +
                          std::to_string(max_bytes));
    }
    return {PQgetvalue(r_, row_, col), n};
  }
  /// A BYTEA column of a binary-form result.
  std::string blob(int col, const char* column, std::size_t max_bytes) {
    if (is_null(col)) corrupt(column, "holds NULL, not bytes");
    const auto n = static_cast<std::size_t>(PQgetlength(r_, row_, col));
    if (n > max_bytes) {
      corrupt(column, "holds " + std::to_string(n) + " bytes, over the limit of " +
                          std::to_string(max_bytes));
    }
    return std::string(PQgetvalue(r_, row_, col), n);
  }
  std::int64_t integer(int col, const char* column) {
    const std::string_view s = text_view(col, column, 32);
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) {
      corrupt(column, "holds '" + std::string(s) + "', not an integer");
    }
    return v;
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
    if (is_null(col)) return std::nullopt;
    return stage(col, column);
  }
  [[noreturn]] void corrupt(const char* column, const std::string& reason) const {
    throw CorruptStore(where_ + ": " + label_(r_, row_) + ": column '" + column + "' " + reason);
  }

 private:
  const PGresult* r_;
  int row_;
  const std::string& where_;
  Label label_;
};

/// A short, printable form of one cell, for error messages about hostile rows.
inline std::string describe_cell(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return "NULL";
  const int n = PQgetlength(r, row, col);
  std::string text(PQgetvalue(r, row, col), static_cast<std::size_t>(std::min(n, 64)));
  return "'" + text + (n > 64 ? "...'" : "'");
}

inline std::string version_label(const PGresult* r, int row) {
  return "model_versions row (name " + describe_cell(r, row, 0) + ", version " +
         describe_cell(r, row, 1) + ")";
}
inline std::string alias_label(const PGresult* r, int row) {
  return "aliases row (model " + describe_cell(r, row, 0) + ", alias " + describe_cell(r, row, 1) +
         ")";
}
inline std::string audit_label(const PGresult* r, int row) {
  return "audit row (sequence " + describe_cell(r, row, 0) + ")";
}
inline std::string evidence_label(const PGresult* r, int row) {
  return "audit_evidence row (sequence " + describe_cell(r, row, 0) + ", position " +
         describe_cell(r, row, 1) + ")";
}
inline std::string artifact_label(const PGresult* r, int row) {
  return "artifacts row (sha256 " + describe_cell(r, row, 0) + ")";
}
inline std::string model_label(const PGresult* r, int row) {
  return "models row (name " + describe_cell(r, row, 0) + ")";
}
inline std::string rollout_label(const PGresult* r, int row) {
  return "rollouts row (deployment " + describe_cell(r, row, 0) + ")";
}
inline std::string lease_label(const PGresult* r, int row) {
  return "rollout_leases row (deployment " + describe_cell(r, row, 0) + ")";
}
inline std::string audit_model_label(const PGresult* r, int row) {
  return "audit rows of model " + describe_cell(r, row, 0);
}

}  // namespace switchyard::detail::postgres
