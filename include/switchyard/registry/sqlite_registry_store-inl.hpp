// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of sqlite_registry_store.hpp: the connection, schema, migrations and queries.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/serialization.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace switchyard {

namespace detail::sqlite_store {

// ---------------------------------------------------------------------------------------------
// Schema. Migration i brings a store from user_version i-1 to i; each runs inside the opening
// transaction together with the user_version bump.

struct Migration {
  std::int32_t version;
  const char* sql;
};

inline constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE models (
  name TEXT NOT NULL PRIMARY KEY,
  max_version INTEGER NOT NULL
);
CREATE TABLE model_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  stage INTEGER NOT NULL,
  semver TEXT NOT NULL,
  created_at_ns INTEGER NOT NULL,
  stage_changed_at_ns INTEGER NOT NULL,
  artifact_format TEXT NOT NULL,
  artifact_sha256 TEXT NOT NULL,
  artifact_size INTEGER NOT NULL,
  artifact_uri TEXT NOT NULL,
  metadata TEXT NOT NULL,
  PRIMARY KEY (name, version),
  FOREIGN KEY (name) REFERENCES models (name)
);
CREATE INDEX model_versions_by_stage ON model_versions (name, stage, version);
CREATE INDEX model_versions_by_semver ON model_versions (name, semver);
CREATE INDEX model_versions_by_created ON model_versions (created_at_ns);
CREATE INDEX model_versions_by_artifact ON model_versions (artifact_sha256);
CREATE TABLE aliases (
  model TEXT NOT NULL,
  alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES model_versions (name, version)
);
CREATE TABLE audit (
  sequence INTEGER PRIMARY KEY,
  at_ns INTEGER NOT NULL,
  actor TEXT NOT NULL,
  model TEXT NOT NULL,
  version INTEGER NOT NULL,
  action TEXT NOT NULL,
  from_stage INTEGER,
  to_stage INTEGER,
  alias TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX audit_by_model ON audit (model, sequence);
CREATE INDEX audit_by_time ON audit (at_ns);
)sql"},
    // v2: artifacts small enough to keep in the store, committed with the version that uses them.
    {2, R"sql(
CREATE TABLE artifacts (
  sha256 TEXT NOT NULL PRIMARY KEY,
  bytes BLOB NOT NULL
);
)sql"},
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSqliteSchemaVersion,
              "one migration per schema version");

// Portable SQL only (it runs unchanged on PostgreSQL apart from the placeholders).
#define SWITCHYARD_VERSION_COLUMNS                                                      \
  "name, version, stage, semver, created_at_ns, stage_changed_at_ns, artifact_format, " \
  "artifact_sha256, artifact_size, artifact_uri, metadata"
#define SWITCHYARD_AUDIT_COLUMNS \
  "sequence, at_ns, actor, model, version, action, from_stage, to_stage, alias, reason"

inline constexpr const char* kSelectMaxVersion =
    "SELECT name, max_version FROM models WHERE name = ?";
inline constexpr const char* kFindVersion =
    "SELECT " SWITCHYARD_VERSION_COLUMNS " FROM model_versions WHERE name = ? AND version = ?";
inline constexpr const char* kFindSemver =
    "SELECT name, version FROM model_versions WHERE name = ? AND semver = ? LIMIT 1";
inline constexpr const char* kVersionsInStage =
    "SELECT name, version FROM model_versions WHERE name = ? AND stage = ? ORDER BY version";
inline constexpr const char* kFindAlias =
    "SELECT model, alias, version FROM aliases WHERE model = ? AND alias = ?";
inline constexpr const char* kHistory =
    "SELECT " SWITCHYARD_AUDIT_COLUMNS " FROM audit WHERE model = ? ORDER BY sequence";
inline constexpr const char* kUpsertModel =
    "INSERT INTO models (name, max_version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
    "max_version = CASE WHEN excluded.max_version > models.max_version "
    "THEN excluded.max_version ELSE models.max_version END";
inline constexpr const char* kInsertVersion =
    "INSERT INTO model_versions (" SWITCHYARD_VERSION_COLUMNS
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr const char* kUpdateVersion =
    "UPDATE model_versions SET stage = ?, semver = ?, created_at_ns = ?, stage_changed_at_ns = ?, "
    "artifact_format = ?, artifact_sha256 = ?, artifact_size = ?, artifact_uri = ?, metadata = ? "
    "WHERE name = ? AND version = ?";
inline constexpr const char* kUpsertAlias =
    "INSERT INTO aliases (model, alias, version) VALUES (?, ?, ?) "
    "ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version";
inline constexpr const char* kDeleteAlias = "DELETE FROM aliases WHERE model = ? AND alias = ?";
inline constexpr const char* kMaxSequence = "SELECT COALESCE(MAX(sequence), 0) FROM audit";
inline constexpr const char* kInsertAudit =
    "INSERT INTO audit (" SWITCHYARD_AUDIT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
inline constexpr const char* kLoadVersions =
    "SELECT " SWITCHYARD_VERSION_COLUMNS " FROM model_versions ORDER BY name, version";
inline constexpr const char* kLoadVersionsOf =
    "SELECT " SWITCHYARD_VERSION_COLUMNS " FROM model_versions WHERE name = ? ORDER BY version";
inline constexpr const char* kLoadAliases =
    "SELECT model, alias, version FROM aliases ORDER BY model, alias";
inline constexpr const char* kLoadAliasesOf =
    "SELECT model, alias, version FROM aliases WHERE model = ? ORDER BY alias";
inline constexpr const char* kUpsertArtifact =
    "INSERT INTO artifacts (sha256, bytes) VALUES (?, ?) "
    "ON CONFLICT (sha256) DO UPDATE SET bytes = excluded.bytes";
inline constexpr const char* kReadArtifact = "SELECT sha256, bytes FROM artifacts WHERE sha256 = ?";
inline constexpr const char* kChangedModels =
    "SELECT DISTINCT model FROM audit WHERE sequence > ? ORDER BY model";

#undef SWITCHYARD_VERSION_COLUMNS
#undef SWITCHYARD_AUDIT_COLUMNS

// ---------------------------------------------------------------------------------------------
// RAII over the C API.

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
inline std::string audit_model_label(sqlite3_stmt* s) {
  return "audit rows of model " + describe_cell(s, 0);
}

// ---------------------------------------------------------------------------------------------

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
  detail::sqlite_store::DatabasePtr db_;
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

inline ModelVersion read_version(sqlite3_stmt* s, const std::string& where) {
  RowReader row(s, where, &version_label);
  ModelVersion v;
  v.name = row.text(0, "name");
  v.version = row.positive(1, "version");
  v.stage = row.stage(2, "stage");
  v.semver = row.text(3, "semver");
  v.created_at = from_unix_nanos(row.integer(4, "created_at_ns"));
  v.stage_changed_at = from_unix_nanos(row.integer(5, "stage_changed_at_ns"));
  v.artifact.format = row.text(6, "artifact_format");
  v.artifact.sha256 = row.text(7, "artifact_sha256");
  const std::int64_t size = row.integer(8, "artifact_size");
  if (size < 0) row.corrupt("artifact_size", "holds " + std::to_string(size) + ", a negative size");
  v.artifact.size = static_cast<std::uint64_t>(size);
  v.artifact.uri = row.text(9, "artifact_uri");
  const std::string_view metadata = row.text_view(10, "metadata", kSqliteMaxMetadataBytes);
  try {
    detail::version_metadata_from_json(metadata, v);
  } catch (const InvalidArgument& e) {
    row.corrupt("metadata", std::string("is not valid: ") + e.what());
  }
  return v;
}

inline AliasRecord read_alias(sqlite3_stmt* s, const std::string& where) {
  RowReader row(s, where, &alias_label);
  AliasRecord a;
  a.model = row.text(0, "model");
  a.alias = row.text(1, "alias");
  a.version = row.positive(2, "version");
  return a;
}

inline AuditRecord read_audit(sqlite3_stmt* s, const std::string& where) {
  RowReader row(s, where, &audit_label);
  AuditRecord r;
  r.sequence = row.integer(0, "sequence");
  r.at = from_unix_nanos(row.integer(1, "at_ns"));
  r.actor = row.text(2, "actor");
  r.model = row.text(3, "model");
  r.version = row.integer(4, "version");
  r.action = row.text(5, "action");
  r.from_stage = row.optional_stage(6, "from_stage");
  r.to_stage = row.optional_stage(7, "to_stage");
  r.alias = row.text(8, "alias");
  r.reason = row.text(9, "reason", kSqliteMaxMetadataBytes);
  return r;
}

/// Refuses values the store could not read back (so a write never creates a "corrupt" row).
inline void check_text(const std::string& what, std::string_view value,
                       std::size_t max_bytes = kSqliteMaxTextBytes) {
  if (value.size() > max_bytes) {
    throw InvalidArgument(what + " is " + std::to_string(value.size()) +
                          " bytes, over the store's limit of " + std::to_string(max_bytes));
  }
}

inline std::string version_key(std::string_view model, std::int64_t version) {
  return "'" + std::string(model) + "' version " + std::to_string(version);
}

inline void check_version(const ModelVersion& v) {
  if (v.name.empty()) throw InvalidArgument("model version has an empty name");
  const std::string key = version_key(v.name, v.version);
  if (v.version < 1) throw InvalidArgument(key + ": version must be >= 1");
  check_text(key + " name", v.name);
  check_text(key + " semver", v.semver);
  check_text(key + " artifact format", v.artifact.format);
  check_text(key + " artifact sha256", v.artifact.sha256);
  check_text(key + " artifact uri", v.artifact.uri);
  if (v.artifact.size > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw InvalidArgument(key + ": artifact size " + std::to_string(v.artifact.size) +
                          " does not fit a signed 64-bit column");
  }
}

/// The metadata JSON of a version the store can write and read back; throws InvalidArgument.
inline std::string checked_metadata(const ModelVersion& v) {
  check_version(v);
  std::string metadata = detail::version_metadata_to_json(v);
  check_text(version_key(v.name, v.version) + " metadata", metadata, kSqliteMaxMetadataBytes);
  return metadata;
}

/// A deferred read transaction, so the several SELECTs of load() see one snapshot.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Connection& c) : conn_(c) {
    conn_.exec("BEGIN", "starting a read transaction");
  }
  ~ReadSnapshot() {
    if (!sqlite3_get_autocommit(conn_.db())) {
      sqlite3_exec(conn_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  Connection& conn_;
};

/// Every alias must name a stored version; the foreign key guarantees it unless the file was
/// written by something else. `state.versions` is sorted by (name, version).
inline void check_aliases(const StoreState& state, const std::string& where) {
  for (const auto& a : state.aliases) {
    auto it = std::lower_bound(state.versions.begin(), state.versions.end(), a,
                               [](const ModelVersion& v, const AliasRecord& x) {
                                 return std::tie(v.name, v.version) < std::tie(x.model, x.version);
                               });
    if (it == state.versions.end() || it->name != a.model || it->version != a.version) {
      throw CorruptStore(where + ": aliases row (model '" + a.model + "', alias '" + a.alias +
                         "'): names version " + std::to_string(a.version) +
                         ", which is not in the store");
    }
  }
}

/// The highest audit sequence number: one that is negative or has no successor (2^63-1) is damage,
/// refused here so that no caller computes the next one by overflowing.
inline std::int64_t max_sequence(Connection& c) {
  Query q(c, kMaxSequence);
  const std::int64_t last = q.step() ? q.column_integer(0) : 0;
  if (last < 0 || last == std::numeric_limits<std::int64_t>::max()) {
    throw CorruptStore(c.where() + ": audit table: sequence " + std::to_string(last) +
                       " is out of range (0 to 2^63-2)");
  }
  return last;
}

}  // namespace detail::sqlite_store

// ---------------------------------------------------------------------------------------------
// Opening: identify the file, migrate, configure.

SWITCHYARD_INLINE void detail::sqlite_store::Connection::open(const Options& options, Role role) {
  const bool writer = role == Role::kWriter;
  int flags = SQLITE_OPEN_NOMUTEX;
#if defined(SQLITE_OPEN_EXRESCODE)
  flags |= SQLITE_OPEN_EXRESCODE;
#endif
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (writer && options.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(options.path.c_str(), &raw, flags,
                                 options.vfs_name.empty() ? nullptr : options.vfs_name.c_str());
  db_.reset(raw);
  if (rc != SQLITE_OK) {
    std::error_code ec;
    if ((rc & 0xff) == SQLITE_CANTOPEN && !std::filesystem::exists(options.path, ec)) {
      const auto parent = std::filesystem::path(options.path).parent_path();
      if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
        throw NotFound(where_ + ": the directory " + parent.string() + " does not exist");
      }
      throw NotFound(where_ + ": no registry store at this path (create_if_missing is off)");
    }
    if (raw == nullptr) throw StorageError(where_ + ": cannot open: " + sqlite3_errstr(rc));
    raise(rc, "opening");
  }
  sqlite3_extended_result_codes(db(), 1);
  sqlite3_busy_timeout(db(), static_cast<int>(std::min<std::int64_t>(
                                 options.busy_timeout.count(), std::numeric_limits<int>::max())));

  // Preparing the queries checks that every table and column is there. A current store is
  // checked before anything is written to it (the switch to WAL rewrites the header), so a
  // refused file is left as it was; a new or migrated one is checked once its schema is in place.
  auto check_schema = [&] {
    for (const char* sql : {detail::sqlite_store::kLoadVersions, detail::sqlite_store::kLoadAliases,
                            detail::sqlite_store::kMaxSequence, detail::sqlite_store::kHistory,
                            detail::sqlite_store::kReadArtifact}) {
      statement(sql);
    }
  };
  bool is_new = false;
  const bool needs_schema = check_identity(options, &is_new) >= 0;
  // A file that already holds a database of an older schema is migrated before the switch to
  // WAL rewrites its header, so a migration that fails leaves the file exactly as it was.
  const bool older = needs_schema && !is_new;
  if (!needs_schema) check_schema();
  auto use_wal = [&] {
    if (pragma_text("journal_mode") != "wal") {
      const std::string mode = pragma_text("journal_mode=WAL");
      if (mode != "wal") {
        throw StorageError(where_ +
                           ": cannot use the WAL journal (SQLite kept journal_mode=" + mode + ")");
      }
    }
  };
  if (writer) {
    // A current store needs no lock to open: another process may be in a long transaction.
    if (!older) use_wal();
    if (needs_schema) {
      // Checked again under the write lock: another process may have created or migrated it.
      exec("BEGIN IMMEDIATE", "locking the store to create or migrate its schema");
      try {
        if (const std::int64_t at = check_identity(options); at >= 0) migrate(at);
        // Checked before the commit: a migrated schema that is still not Switchyard's (an older
        // store missing a table, say) is refused with the file as it was.
        check_schema();
        exec("COMMIT", "committing the schema");
      } catch (...) {
        sqlite3_exec(db(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    }
    if (older) use_wal();
  }
  exec("PRAGMA synchronous=FULL", "setting PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=ON", "setting PRAGMA foreign_keys=ON");
  if (!writer) exec("PRAGMA query_only=ON", "setting PRAGMA query_only=ON");
  if (options.max_page_count > 0) {
    const std::string sql = "PRAGMA max_page_count=" + std::to_string(options.max_page_count);
    exec(sql.c_str(), "setting PRAGMA max_page_count");
  }
  if (!writer && options.verify_on_open) {
    const std::string verdict = pragma_text("quick_check");
    if (verdict != "ok")
      throw CorruptStore(where_ + ": PRAGMA quick_check found damage: " + verdict);
  }
  if (needs_schema && !writer) check_schema();
  last_data_version = data_version();
}

SWITCHYARD_INLINE std::int64_t detail::sqlite_store::Connection::check_identity(
    const Options& options, bool* is_new) {
  if (is_new) *is_new = false;
  // The header fields are read by one statement, so in one read transaction: a process creating or
  // migrating the store cannot commit between them. The file's size is taken while that
  // transaction still holds its read lock, after SQLite rolled back any hot journal left by a
  // process killed while creating the store (which empties the file again).
  std::int64_t app = 0, user = 0, schema = 0, pages = 0;
  std::error_code ec;
  std::uintmax_t bytes = 0;
  {
    const char* sql =
        "SELECT a.application_id, u.user_version, s.schema_version, p.page_count "
        "FROM pragma_application_id AS a, pragma_user_version AS u, "
        "pragma_schema_version AS s, pragma_page_count AS p";
    const std::string_view doing = "reading the file header";
    // Called again inside the schema's write transaction, which then holds the locks itself.
    const bool own_transaction = sqlite3_get_autocommit(db()) != 0;
    if (own_transaction) exec("BEGIN", doing);
    struct EndRead {
      sqlite3* db;
      bool active;
      ~EndRead() {
        if (active) sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      }
    } end_read{db(), own_transaction};
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db(), sql, -1, &raw, nullptr);
    StatementPtr stmt(raw);
    if (rc != SQLITE_OK) raise(rc, doing);
    rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) raise(rc, doing);
    app = sqlite3_column_int64(raw, 0);
    user = sqlite3_column_int64(raw, 1);
    schema = sqlite3_column_int64(raw, 2);
    pages = sqlite3_column_int64(raw, 3);
    bytes = std::filesystem::file_size(options.path, ec);
  }
  // A database file is whole pages of at least 512 bytes. SQLite reads a shorter file as an empty
  // database; only a zero-length file (created, never committed to) is taken as a new store.
  if (!ec && bytes > 0 && (bytes < 512 || (pages == 0 && app == 0 && user == 0 && schema == 0))) {
    throw CorruptStore(where_ + ": the file is " + std::to_string(bytes) +
                       " bytes, too short to be an SQLite database (truncated?)");
  }
  if (app == 0 && user == 0 && schema == 0) {
    if (is_new) *is_new = true;
    if (options.read_only) {
      throw NotFound(where_ +
                     ": the file holds no registry store yet (empty database opened "
                     "read-only)");
    }
    return 0;
  }
  if (app != kSqliteApplicationId) {
    throw CorruptStore(where_ + ": not a Switchyard registry store: it is an SQLite database of " +
                       (app == 0
                            ? std::string("another application (no application_id)")
                            : "another application (application_id " + std::to_string(app) + ")"));
  }
  if (user > kSqliteSchemaVersion) {
    throw SchemaTooNew(where_ + ": the store has schema version " + std::to_string(user) +
                       " but this Switchyard understands versions up to " +
                       std::to_string(kSqliteSchemaVersion) + "; upgrade Switchyard to open it");
  }
  if (user < kSqliteSchemaVersion) {
    if (options.read_only) {
      throw StorageError(where_ + ": the store has schema version " + std::to_string(user) +
                         " and must be migrated to " + std::to_string(kSqliteSchemaVersion) +
                         " by a writable open first");
    }
    return user;
  }
  return -1;
}

SWITCHYARD_INLINE void detail::sqlite_store::Connection::migrate(std::int64_t from) {
  for (const auto& m : detail::sqlite_store::kMigrations) {
    if (m.version <= from) continue;
    // Our own DDL fails only when the file's schema is not what its version number says.
    if (const int rc = sqlite3_exec(db(), m.sql, nullptr, nullptr, nullptr);
        (rc & 0xff) == SQLITE_ERROR) {
      throw CorruptStore(where_ + ": the schema does not match a Switchyard store of version " +
                         std::to_string(from) + " (migrating to version " +
                         std::to_string(m.version) + ": " + sqlite3_errmsg(db()) + ")");
    } else if (rc != SQLITE_OK) {
      raise(rc, "migrating the schema to version " + std::to_string(m.version));
    }
    const std::string bump = "PRAGMA user_version=" + std::to_string(m.version);
    exec(bump.c_str(), "recording schema version " + std::to_string(m.version));
  }
  const std::string app = "PRAGMA application_id=" + std::to_string(kSqliteApplicationId);
  exec(app.c_str(), "setting PRAGMA application_id");
}

// ---------------------------------------------------------------------------------------------

/// Exclusive use of the store's connection for one call or one transaction.
class SqliteRegistryStore::Lease {
 public:
  explicit Lease(SqliteRegistryStore& store) : store_(&store) {
    using Outcome = detail::ExclusiveGate::Outcome;
    switch (store.gate_.acquire_for(store.options_.busy_timeout)) {
      case Outcome::kAcquired:
        return;
      case Outcome::kHeldByThisThread:
        throw StorageError(store.where_ +
                           ": this thread still holds an open transaction on the store; commit "
                           "or destroy it first");
      case Outcome::kTimedOut:
        throw StorageError(store.where_ + ": timed out after " +
                           std::to_string(store.options_.busy_timeout.count()) +
                           " ms waiting for another thread's transaction on this store");
    }
  }
  ~Lease() {
    if (store_) store_->gate_.release();
  }
  Lease(Lease&& other) noexcept : store_(std::exchange(other.store_, nullptr)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease& operator=(Lease&&) = delete;

  Connection& connection() const noexcept { return *store_->writer_; }

 private:
  SqliteRegistryStore* store_;
};

/// A BEGIN IMMEDIATE transaction holding the connection until commit or destruction. After a
/// StorageError or CorruptStore it refuses further use; destruction rolls back.
class SqliteRegistryStore::Transaction final : public RegistryTransaction {
 public:
  explicit Transaction(Lease lease) : lease_(std::move(lease)), c_(lease_.connection()) {
    c_.exec("BEGIN IMMEDIATE", "beginning a write transaction");
    active_ = true;
  }
  ~Transaction() override {
    if (active_ && !sqlite3_get_autocommit(c_.db())) {
      sqlite3_exec(c_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  std::int64_t max_version(std::string_view model) override {
    return guarded([&] {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kSelectMaxVersion);
      q.bind(model);
      if (!q.step()) return std::int64_t{0};
      return q.row(&detail::sqlite_store::model_label).positive(1, "max_version");
    });
  }

  std::optional<ModelVersion> find_version(std::string_view model, std::int64_t version) override {
    return guarded([&]() -> std::optional<ModelVersion> {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kFindVersion);
      q.bind(model).bind(version);
      if (!q.step()) return std::nullopt;
      return detail::sqlite_store::read_version(q.get(), c_.where());
    });
  }

  std::optional<std::int64_t> find_semver(std::string_view model,
                                          std::string_view semver) override {
    return guarded([&]() -> std::optional<std::int64_t> {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kFindSemver);
      q.bind(model).bind(semver);
      if (!q.step()) return std::nullopt;
      return q.row(&detail::sqlite_store::version_label).positive(1, "version");
    });
  }

  std::vector<std::int64_t> versions_in_stage(std::string_view model, Stage stage) override {
    return guarded([&] {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kVersionsInStage);
      q.bind(model).bind(static_cast<std::int64_t>(stage));
      std::vector<std::int64_t> out;
      while (q.step()) {
        out.push_back(q.row(&detail::sqlite_store::version_label).positive(1, "version"));
      }
      return out;
    });
  }

  std::optional<std::int64_t> find_alias(std::string_view model, std::string_view alias) override {
    return guarded([&]() -> std::optional<std::int64_t> {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kFindAlias);
      q.bind(model).bind(alias);
      if (!q.step()) return std::nullopt;
      return q.row(&detail::sqlite_store::alias_label).positive(2, "version");
    });
  }

  std::vector<AuditRecord> history(std::string_view model) override {
    return guarded([&] {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kHistory);
      q.bind(model);
      std::vector<AuditRecord> out;
      while (q.step()) out.push_back(detail::sqlite_store::read_audit(q.get(), c_.where()));
      return out;
    });
  }

  void insert_version(const ModelVersion& v) override {
    const std::string metadata = detail::sqlite_store::checked_metadata(v);
    guarded([&] {
      {
        detail::sqlite_store::Query q(c_, detail::sqlite_store::kUpsertModel);
        q.bind(v.name).bind(v.version);
        q.step();
      }
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kInsertVersion);
      bind_version_columns(q.bind(v.name).bind(v.version), v, metadata);
      const int rc = q.execute();
      if (rc != SQLITE_OK) {
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
          throw AlreadyExists(c_.where() + ": model " +
                              detail::sqlite_store::version_key(v.name, v.version) +
                              " already exists");
        }
        c_.raise(rc, "inserting model " + detail::sqlite_store::version_key(v.name, v.version));
      }
    });
  }

  void update_version(const ModelVersion& v) override {
    const std::string metadata = detail::sqlite_store::checked_metadata(v);
    guarded([&] {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kUpdateVersion);
      bind_version_columns(q, v, metadata).bind(v.name).bind(v.version);
      const int rc = q.execute();
      if (rc != SQLITE_OK) {
        c_.raise(rc, "updating model " + detail::sqlite_store::version_key(v.name, v.version));
      }
      if (sqlite3_changes(c_.db()) == 0) {
        throw NotFound(c_.where() + ": model " +
                       detail::sqlite_store::version_key(v.name, v.version) + " does not exist");
      }
    });
  }

  void set_alias(const AliasRecord& a) override {
    detail::sqlite_store::check_text("alias model name", a.model);
    detail::sqlite_store::check_text("alias name", a.alias);
    guarded([&] {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kUpsertAlias);
      q.bind(a.model).bind(a.alias).bind(a.version);
      const int rc = q.execute();
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        throw NotFound(c_.where() + ": alias '" + a.alias + "' names model " +
                       detail::sqlite_store::version_key(a.model, a.version) +
                       ", which does not exist");
      }
      if (rc != SQLITE_OK) c_.raise(rc, "setting alias '" + a.alias + "' of '" + a.model + "'");
    });
  }

  void remove_alias(std::string_view model, std::string_view alias) override {
    guarded([&] {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kDeleteAlias);
      q.bind(model).bind(alias);
      q.step();
    });
  }

  std::int64_t append_audit(const AuditRecord& r) override {
    detail::sqlite_store::check_text("audit actor", r.actor);
    detail::sqlite_store::check_text("audit model", r.model);
    detail::sqlite_store::check_text("audit action", r.action);
    detail::sqlite_store::check_text("audit alias", r.alias);
    detail::sqlite_store::check_text("audit reason", r.reason, kSqliteMaxMetadataBytes);
    return guarded([&] {
      if (!next_sequence_) next_sequence_ = detail::sqlite_store::max_sequence(c_) + 1;
      const std::int64_t seq = *next_sequence_;
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kInsertAudit);
      q.bind(seq).bind(to_unix_nanos(r.at)).bind(r.actor).bind(r.model).bind(r.version);
      q.bind(r.action).bind(r.from_stage).bind(r.to_stage).bind(r.alias).bind(r.reason);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "appending an audit row");
      *next_sequence_ += 1;
      return seq;
    });
  }

  void put_artifact(std::string_view sha256, std::string_view bytes) override {
    detail::check_store_artifact(c_.where(), sha256, bytes.size());
    guarded([&] {
      detail::sqlite_store::Query q(c_, detail::sqlite_store::kUpsertArtifact);
      q.bind(sha256).bind_blob(bytes);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "storing artifact " + std::string(sha256));
    });
  }

  void commit() override {
    guarded([&] {
      const int rc = sqlite3_exec(c_.db(), "COMMIT", nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) c_.raise(rc, "committing");
      active_ = false;
    });
    // Another thread may use the connection from now on.
    Lease done(std::move(lease_));
  }

 private:
  template <class F>
  auto guarded(F&& body) -> decltype(body()) {
    if (!active_) {
      throw StorageError(c_.where() +
                         (failed_ ? ": the transaction was aborted by an earlier error; destroy it "
                                    "and begin a new one"
                                  : ": the transaction was already committed"));
    }
    try {
      return body();
    } catch (const StorageError&) {
      abort();
      throw;
    } catch (const CorruptStore&) {
      abort();
      throw;
    }
  }

  void abort() noexcept {
    failed_ = true;
    active_ = false;
    if (!sqlite3_get_autocommit(c_.db())) {
      sqlite3_exec(c_.db(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  static detail::sqlite_store::Query& bind_version_columns(detail::sqlite_store::Query& q,
                                                           const ModelVersion& v,
                                                           const std::string& metadata) {
    q.bind(static_cast<std::int64_t>(v.stage)).bind(v.semver);
    q.bind(to_unix_nanos(v.created_at)).bind(to_unix_nanos(v.stage_changed_at));
    q.bind(v.artifact.format).bind(v.artifact.sha256);
    q.bind(static_cast<std::int64_t>(v.artifact.size)).bind(v.artifact.uri).bind(metadata);
    return q;
  }

  Lease lease_;
  Connection& c_;
  bool active_ = false;
  bool failed_ = false;
  std::optional<std::int64_t> next_sequence_;
};

// ---------------------------------------------------------------------------------------------

SWITCHYARD_INLINE SqliteRegistryStore::SqliteRegistryStore(Options options)
    : options_(std::move(options)), where_("sqlite:" + options_.path) {
  if (options_.path.empty()) throw InvalidArgument("SqliteRegistryStore: Options::path is empty");
  if (options_.busy_timeout.count() < 0) {
    throw InvalidArgument(where_ + ": Options::busy_timeout is negative");
  }
  if (options_.max_page_count < 0) {
    throw InvalidArgument(where_ + ": Options::max_page_count is negative");
  }
  if (options_.path == ":memory:") {
    throw InvalidArgument(where_ + ": a store in memory is InMemoryRegistryStore's job");
  }
  if (!options_.read_only) {
    writer_ = std::make_unique<Connection>(options_, where_, Connection::Role::kWriter);
  }
  auto reader = std::make_unique<Connection>(options_, where_, Connection::Role::kReader);
  detail::MutexLock lk(reader_mu_);
  reader_ = std::move(reader);
}

SWITCHYARD_INLINE SqliteRegistryStore::~SqliteRegistryStore() = default;

SWITCHYARD_INLINE std::unique_ptr<RegistryTransaction> SqliteRegistryStore::begin() {
  if (options_.read_only) throw StorageError(where_ + ": the store was opened read-only");
  return std::make_unique<Transaction>(Lease(*this));
}

SWITCHYARD_INLINE StoreState SqliteRegistryStore::load() {
  namespace s = detail::sqlite_store;
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  s::ReadSnapshot snapshot(c);
  StoreState state;
  {
    s::Query q(c, s::kLoadVersions);
    while (q.step()) state.versions.push_back(s::read_version(q.get(), where_));
  }
  {
    s::Query q(c, s::kLoadAliases);
    while (q.step()) state.aliases.push_back(s::read_alias(q.get(), where_));
  }
  state.last_sequence = s::max_sequence(c);
  c.exec("COMMIT", "ending a read transaction");
  s::check_aliases(state, where_);
  return state;
}

namespace detail::sqlite_store {

// Reads inside an open ReadSnapshot.

inline StoreState load_models_in(Connection& c, const std::set<std::string>& names) {
  StoreState state;
  for (const auto& name : names) {
    {
      Query q(c, kLoadVersionsOf);
      q.bind(name);
      while (q.step()) state.versions.push_back(read_version(q.get(), c.where()));
    }
    Query q(c, kLoadAliasesOf);
    q.bind(name);
    while (q.step()) state.aliases.push_back(read_alias(q.get(), c.where()));
  }
  state.last_sequence = max_sequence(c);
  return state;
}

inline std::vector<std::string> changed_models_in(Connection& c, std::int64_t sequence) {
  std::vector<std::string> changed;
  Query q(c, kChangedModels);
  q.bind(sequence);
  while (q.step()) changed.push_back(q.row(&audit_model_label).text(0, "model"));
  return changed;
}

}  // namespace detail::sqlite_store

SWITCHYARD_INLINE StoreState
SqliteRegistryStore::load_models(const std::vector<std::string>& models) {
  namespace s = detail::sqlite_store;
  const std::set<std::string> names(models.begin(), models.end());
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  s::ReadSnapshot snapshot(c);
  StoreState state = s::load_models_in(c, names);
  c.exec("COMMIT", "ending a read transaction");
  s::check_aliases(state, where_);
  return state;
}

SWITCHYARD_INLINE std::pair<std::vector<std::string>, std::int64_t>
SqliteRegistryStore::changes_since(std::int64_t sequence) {
  namespace s = detail::sqlite_store;
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  s::ReadSnapshot snapshot(c);
  std::vector<std::string> changed = s::changed_models_in(c, sequence);
  const std::int64_t last = s::max_sequence(c);
  c.exec("COMMIT", "ending a read transaction");
  return {std::move(changed), last};
}

SWITCHYARD_INLINE std::pair<std::vector<std::string>, StoreState>
SqliteRegistryStore::load_changes_since(std::int64_t sequence) {
  namespace s = detail::sqlite_store;
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  s::ReadSnapshot snapshot(c);
  std::vector<std::string> changed = s::changed_models_in(c, sequence);
  StoreState state = s::load_models_in(c, {changed.begin(), changed.end()});
  c.exec("COMMIT", "ending a read transaction");
  s::check_aliases(state, where_);
  return {std::move(changed), std::move(state)};
}

SWITCHYARD_INLINE bool SqliteRegistryStore::may_have_changed() {
  auto check = [](Connection& c) {
    const std::int64_t now = c.data_version();
    const bool changed = now != c.last_data_version;
    c.last_data_version = now;
    return changed;
  };
  if (!writer_) {
    // Read-only: nothing commits through this store, so the reader's count is exact.
    detail::MutexLock lk(reader_mu_);
    return check(*reader_);
  }
  // Only the writer's count ignores this store's own commits. While a transaction holds the
  // writer, say "maybe" rather than wait: the contract allows a spurious true.
  if (gate_.acquire_for(std::chrono::nanoseconds(0)) != detail::ExclusiveGate::Outcome::kAcquired) {
    return true;
  }
  struct Release {
    detail::ExclusiveGate& gate;
    ~Release() { gate.release(); }
  } release{gate_};
  return check(*writer_);
}

SWITCHYARD_INLINE std::vector<AuditRecord> SqliteRegistryStore::audit(const AuditQuery& query) {
  namespace s = detail::sqlite_store;
  std::string sql =
      "SELECT sequence, at_ns, actor, model, version, action, from_stage, to_stage, alias, reason "
      "FROM audit WHERE sequence > ?";
  if (!query.model.empty()) sql += " AND model = ?";
  if (query.version) sql += " AND version = ?";
  if (query.from) sql += " AND at_ns >= ?";
  if (query.until) sql += " AND at_ns <= ?";
  sql += " ORDER BY sequence";
  if (query.limit > 0) sql += " LIMIT ?";

  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  s::Query q(c, sql);
  q.bind(query.after_sequence);
  if (!query.model.empty()) q.bind(query.model);
  if (query.version) q.bind(*query.version);
  if (query.from) q.bind(to_unix_nanos(*query.from));
  if (query.until) q.bind(to_unix_nanos(*query.until));
  if (query.limit > 0) {
    q.bind(static_cast<std::int64_t>(
        std::min<std::size_t>(query.limit, std::numeric_limits<std::int64_t>::max())));
  }
  std::vector<AuditRecord> out;
  while (q.step()) out.push_back(s::read_audit(q.get(), where_));
  return out;
}

SWITCHYARD_INLINE std::optional<std::string> SqliteRegistryStore::read_artifact(
    std::string_view sha256) {
  namespace s = detail::sqlite_store;
  detail::require_sha256_hex(sha256, where_ + ": ");
  detail::MutexLock lk(reader_mu_);
  s::Query q(*reader_, s::kReadArtifact);
  q.bind(sha256);
  if (!q.step()) return std::nullopt;
  return q.row(&s::artifact_label).blob(1, "bytes", kMaxStoreArtifactBytes);
}

SWITCHYARD_INLINE std::string SqliteRegistryStore::describe() const { return where_; }

}  // namespace switchyard
