// SPDX-License-Identifier: Apache-2.0
// SqliteRegistryStore: the registry's durable store, one SQLite file in WAL mode.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/detail/exclusive_gate.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/registry/registry_store.hpp>

namespace switchyard {

namespace detail::sqlite {
class Connection;
}  // namespace detail::sqlite

/// `PRAGMA application_id` of every Switchyard store ("SWYD"): tells a Switchyard file from
/// another application's SQLite database.
inline constexpr std::int32_t kSqliteApplicationId = 0x53575944;
/// `PRAGMA user_version` this build writes and understands. Older stores are migrated on open;
/// newer ones are refused with SchemaTooNew.
/// Version 2 added the `artifacts` table (artifacts kept in the store); version 3 the
/// `audit_evidence` table (the evidence transitions carry); version 4 the `rollouts` and
/// `rollout_leases` tables (rollout state and the controller's lease) and the `actor` column of
/// `audit_evidence`; version 5 the `rollout_window_figures` table (each replica's canary figures
/// per window, merged by the rollout's leader). An older store gains the missing tables, empty, when a writer opens it: one
/// transaction, so a crash leaves the old version or the new one, and an open that finds the
/// store already migrated does nothing.
inline constexpr std::int32_t kSqliteSchemaVersion = 5;
/// Largest `metadata` JSON of one version the store writes or reads; beyond it a write throws
/// InvalidArgument and a stored row is reported as CorruptStore.
inline constexpr std::size_t kSqliteMaxMetadataBytes = std::size_t{4} << 20;
/// Largest value of any other text column (names, semver, artifact fields, audit text).
inline constexpr std::size_t kSqliteMaxTextBytes = std::size_t{1} << 20;

/// The registry's state in one SQLite file: versions, aliases, the audit trail and the artifacts
/// small enough to keep with them.
///
/// Durability: WAL journal with `synchronous=FULL`, so commit() returns after the change reached
/// the disk; a crash at any instant leaves the last committed state. Every begin() is a
/// `BEGIN IMMEDIATE` transaction: writers in other threads or processes wait for each other (up
/// to Options::busy_timeout), so a version number read with max_version() inside a transaction
/// cannot be taken by anyone else before commit. (name, version) is the table's primary key.
///
/// Opening checks what the file is: an empty or zero-length file becomes a new store (SQLite
/// itself treats a zero-length file as an empty database, and a crash after creating the file but
/// before its first commit leaves exactly that); a Switchyard store of an older schema is migrated
/// and its schema checked in one transaction, before the switch to WAL; anything else throws
/// without changing the file:
///   - not an SQLite file, truncated or damaged: CorruptStore naming the path;
///   - a schema that is not Switchyard's, before or after migrating it: CorruptStore;
///   - another application's database (foreign application_id, or tables but no Switchyard
///     application_id): CorruptStore naming the path;
///   - a newer schema (`user_version` above kSqliteSchemaVersion): SchemaTooNew;
///   - missing file with create_if_missing off, or an empty file opened read-only: NotFound;
///   - I/O errors, locks held past the timeout: StorageError with SQLite's message.
/// Rows that no Switchyard wrote (a stage out of range, NULL or mistyped columns, malformed
/// metadata JSON, evidence that breaks PromotionEvidence's rules or is out of order, oversized
/// values) throw CorruptStore naming the table and the row's key when
/// read; no row is ever skipped. A failed write or commit throws StorageError (disk full, I/O) and
/// rolls the transaction back.
///
/// Thread-safety: every member may be called from any thread. The store holds two connections.
/// The writer belongs to one transaction at a time, from begin() until commit or destruction; a
/// begin() from another thread waits for it (up to busy_timeout, then StorageError), a second
/// begin() on the thread whose transaction is still open throws StorageError at once. Reads
/// (load, load_models, changes_since, audit) go through the reader connection, one at a time,
/// and see the last committed state even while a transaction is open (WAL snapshots).
/// Transactions must not outlive their store. Other processes, or other replicas in this one,
/// open their own SqliteRegistryStore on the same file.
///
/// @code
/// switchyard::SqliteRegistryStore store({.path = "/var/lib/scorer/registry.db"});
/// auto txn = store.begin();
/// switchyard::ModelVersion v = ...;
/// v.version = txn->max_version(v.name) + 1;
/// txn->insert_version(v);
/// txn->append_audit({.actor = "ci", .model = v.name, .version = v.version, .action = "register"});
/// txn->commit();  // durable when it returns
/// @endcode
class SWITCHYARD_API SqliteRegistryStore final : public RegistryStore {
 public:
  struct Options {
    /// The database file. (For a store in memory use InMemoryRegistryStore.)
    std::string path;
    /// How long begin() and reads wait for another writer (thread or process) before throwing
    /// StorageError. Default 5 s.
    std::chrono::milliseconds busy_timeout{5000};
    /// Create the file when it does not exist (default). Off: a missing file throws NotFound.
    bool create_if_missing = true;
    /// Open without write access: begin() throws StorageError; nothing is migrated or created.
    bool read_only = false;
    /// SQLite VFS to open the file through (empty: the default). The seam for fault injection.
    std::string vfs_name;
    /// When positive, `PRAGMA max_page_count`: the file may not grow beyond this many pages and a
    /// write that needs more throws StorageError (SQLITE_FULL). 0: no limit. For disk-full tests.
    std::int64_t max_page_count = 0;
    /// Run `PRAGMA quick_check` on open and throw CorruptStore when it finds damage: every
    /// b-tree page is read (about 25 ms for 10,000 versions), so damage in pages load() never
    /// reads (indexes, the audit trail) is found at startup rather than by a later write.
    /// Off by default; load() always validates what it reads.
    bool verify_on_open = false;
  };

  /// Opens (and if needed creates or migrates) the store at options.path. Throws as described
  /// above; on a throw nothing was changed.
  explicit SqliteRegistryStore(Options options);
  /// Opens the store at `path` with default options.
  explicit SqliteRegistryStore(const std::filesystem::path& path)
      : SqliteRegistryStore(options_for(path)) {}
  ~SqliteRegistryStore() override;
  SqliteRegistryStore(const SqliteRegistryStore&) = delete;
  SqliteRegistryStore& operator=(const SqliteRegistryStore&) = delete;

  std::unique_ptr<RegistryTransaction> begin() override;
  StoreState load() override;
  StoreState load_models(const std::vector<std::string>& models) override;
  std::pair<std::vector<std::string>, std::int64_t> changes_since(std::int64_t sequence) override;
  /// changes_since() and load_models() of its models in one snapshot: the models with audit rows
  /// after `sequence`, and their image with the last sequence of that same snapshot. (Two calls
  /// can straddle another process's commit and attribute it to the wrong image; proposed for
  /// RegistryStore.)
  std::pair<std::vector<std::string>, StoreState> load_changes_since(
      std::int64_t sequence) override;
  /// True when another connection or process committed since the previous call (or since the
  /// store was opened); this store's own commits do not count. One `PRAGMA data_version` on the
  /// writer connection; true without looking while a transaction of this store is open.
  bool may_have_changed() override;
  std::vector<AuditRecord> audit(const AuditQuery& query) override;
  std::optional<std::string> read_artifact(std::string_view sha256) override;
  std::optional<RolloutRecord> load_rollout(std::string_view deployment) override;
  std::vector<WindowFigures> load_window_figures(std::string_view rollout,
                                                 std::int64_t first_window,
                                                 std::int64_t last_window) override;
  /// "sqlite:" followed by the path.
  std::string describe() const override;

  const Options& options() const noexcept { return options_; }

 private:
  using Connection = detail::sqlite::Connection;
  class Transaction;
  class Lease;

  static Options options_for(const std::filesystem::path& path) {
    Options o;
    o.path = path.string();
    return o;
  }

  Options options_;
  std::string where_;
  detail::ExclusiveGate gate_;          // lends writer_ to one transaction at a time
  std::unique_ptr<Connection> writer_;  // used only by the gate's holder; null when read-only
  detail::Mutex reader_mu_;
  std::unique_ptr<Connection> reader_ SWITCHYARD_GUARDED_BY(reader_mu_);
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/registry/sqlite_registry_store-inl.hpp>
#endif
