// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of detail/sqlite_handle.hpp: opening a connection. The writer identifies the
// file, creates or migrates its schema (kMigrations) and switches it to WAL; the reader opens what
// the writer checked. Included by sqlite_registry_store-inl.hpp only.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/registry/detail/sqlite_handle.hpp>
#include <switchyard/registry/detail/sqlite_schema.hpp>

namespace switchyard::detail::sqlite {

SWITCHYARD_INLINE void Connection::open(const Options& options, Role role) {
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
    for (const char* sql : {kLoadVersions, kLoadAliases, kMaxSequence, kHistory,
                            kHistoryEvidence, kReadArtifact, kFindRollout, kFindLease,
                            kLoadWindowFigures}) {
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

SWITCHYARD_INLINE std::int64_t Connection::check_identity(
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

SWITCHYARD_INLINE void Connection::migrate(std::int64_t from) {
  for (const auto& m : kMigrations) {
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

}  // namespace switchyard::detail::sqlite
