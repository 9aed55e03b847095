// SPDX-License-Identifier: Apache-2.0
// PostgresRegistryStore: the registry's store in one PostgreSQL database, shared by many replicas.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
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

namespace detail::postgres {
class Connection;
}  // namespace detail::postgres

/// Schema version this build writes and understands (the `switchyard_schema` table). The
/// migrations mirror SqliteRegistryStore's one for one (kSqliteSchemaVersion), so both stores
/// hold the same tables and columns. Older databases are migrated on open; newer ones are refused
/// with SchemaTooNew.
inline constexpr std::int32_t kPostgresSchemaVersion = 5;
/// The LISTEN/NOTIFY channel every commit notifies, with the last audit sequence as payload.
inline constexpr const char* kPostgresNotifyChannel = "switchyard_registry";
/// The advisory lock key (`pg_advisory_xact_lock`) that makes writers exclusive across every
/// process connected to the database ("SWYD" and 1).
inline constexpr std::int64_t kPostgresWriterLockKey = 0x5357594400000001;

/// The registry's state in one PostgreSQL database: the store that lets N replicas of a service
/// act as one (each replica opens its own PostgresRegistryStore on the same database).
///
/// Exclusion and ordering: every begin() opens a READ COMMITTED transaction whose first statement
/// takes the transaction-scoped advisory lock kPostgresWriterLockKey, waiting up to
/// Options::busy_timeout (`lock_timeout`), then StorageError. Writers in every process are thus
/// serialised as SQLite's `BEGIN IMMEDIATE` serialises them: a version number read with
/// max_version() cannot be taken by anyone else before commit, and audit sequences (the highest
/// plus one, assigned under the lock) commit in order with no gaps, so a reader never sees
/// sequence N+1 without N. PostgreSQL releases the lock only after the commit is visible.
/// Reads run in REPEATABLE READ READ ONLY transactions: one consistent snapshot each.
///
/// Change notifications: a commit that wrote anything sends `NOTIFY switchyard_registry,
/// '<last sequence>'` inside its transaction (delivered only if it commits). may_have_changed()
/// reads them on a dedicated listening connection; wait_for_change() blocks for one.
///
/// Failures: a server that is down or unreachable makes every call throw StorageError whose
/// message starts with describe() (`postgresql://host:port/db`, never the password). Each call
/// first re-establishes a lost connection (one attempt, bounded by Options::connect_timeout). A
/// transaction cut off by a lost connection was rolled back by the server, except that a
/// connection lost during commit() leaves the outcome unknown (the message says so): read the
/// audit trail to find out. A schema newer than kPostgresSchemaVersion throws SchemaTooNew; a
/// database whose tables are not Switchyard's throws CorruptStore; rows no Switchyard wrote throw
/// CorruptStore naming the table and key when read.
///
/// Thread-safety: every member may be called from any thread. The store holds three connections
/// (libpq connections are not thread-safe, so each is used by one thread at a time): the writer,
/// lent to one transaction at a time from begin() until commit or destruction (a begin() from
/// another thread waits up to busy_timeout; a second begin() on the thread whose transaction is
/// open throws StorageError at once); the reader, used by one read at a time; the listener, used
/// by may_have_changed() and wait_for_change(). Transactions must not outlive their store.
///
/// @code
/// switchyard::PostgresRegistryStore store({.conninfo = "postgresql://db.internal/registry"});
/// switchyard::ModelRegistry registry({.store = &store, .artifacts = &artifacts});
/// // In a background thread of each replica: follow the other replicas' commits.
/// while (running) {
///   if (store.wait_for_change(std::chrono::seconds(1))) registry.refresh();
/// }
/// @endcode
class SWITCHYARD_API PostgresRegistryStore final : public RegistryStore {
 public:
  struct Options {
    /// A libpq connection string, as a URI (`postgresql://user@host:5432/registry`) or as
    /// keyword=value pairs. Empty: the environment variable SWITCHYARD_PG_URL; when both are
    /// empty the constructor throws InvalidArgument. (libpq's own PG* variables and ~/.pgpass
    /// apply as usual.)
    std::string conninfo;
    /// How long begin() waits for another writer (thread or process) before throwing
    /// StorageError. Default 5 s.
    std::chrono::milliseconds busy_timeout{5000};
    /// How long one attempt to connect (or reconnect) may take. Default 5 s.
    std::chrono::seconds connect_timeout{5};
  };

  /// Connects, then creates or migrates the schema (one transaction under the writer lock, so
  /// concurrent opens by many replicas are safe). Throws as described above; on a throw nothing
  /// was changed.
  explicit PostgresRegistryStore(Options options);
  ~PostgresRegistryStore() override;
  PostgresRegistryStore(const PostgresRegistryStore&) = delete;
  PostgresRegistryStore& operator=(const PostgresRegistryStore&) = delete;

  std::unique_ptr<RegistryTransaction> begin() override;
  StoreState load() override;
  StoreState load_models(const std::vector<std::string>& models) override;
  std::pair<std::vector<std::string>, std::int64_t> changes_since(std::int64_t sequence) override;
  std::pair<std::vector<std::string>, StoreState> load_changes_since(
      std::int64_t sequence) override;
  /// True when another connection committed since the previous call (or since the store was
  /// opened), as told by the notifications on the listening connection; this store's own commits
  /// do not count. Also true when the listening connection was lost and re-established (or cannot
  /// be re-established): notifications sent meanwhile are lost, and refresh() catches up from the
  /// audit sequence instead. Costs one round trip to the server (an empty query), which makes
  /// every commit acknowledged before the call visible to it.
  bool may_have_changed() override;
  /// Blocks until a notification from another connection arrives or `timeout` passes, and
  /// returns true when one did (the next may_have_changed() then returns true as well). Returns
  /// true at once when one is already pending or the listening connection had to be
  /// re-established. For a thread that pushes refreshes to serving; it does not block
  /// may_have_changed() while it waits.
  bool wait_for_change(std::chrono::milliseconds timeout);
  std::vector<AuditRecord> audit(const AuditQuery& query) override;
  std::optional<std::string> read_artifact(std::string_view sha256) override;
  std::optional<RolloutRecord> load_rollout(std::string_view deployment) override;
  std::vector<WindowFigures> load_window_figures(std::string_view rollout,
                                                 std::int64_t first_window,
                                                 std::int64_t last_window) override;
  /// `postgresql://host:port/dbname` (a Unix socket directory as host is percent-encoded), with
  /// neither user nor password.
  std::string describe() const override;

  const Options& options() const noexcept { return options_; }

 private:
  using Connection = detail::postgres::Connection;
  class Transaction;
  class Lease;

  // Consumes the listener's notifications; true when one came from another connection.
  bool drain_notifications() SWITCHYARD_REQUIRES(listener_mu_);
  // Re-establishes a lost listener; true when it was lost (and now listens again).
  bool relisten() SWITCHYARD_REQUIRES(listener_mu_);

  Options options_;
  std::string where_;
  detail::ExclusiveGate gate_;          // lends writer_ to one transaction at a time
  std::unique_ptr<Connection> writer_;  // used only by the gate's holder
  std::atomic<int> writer_pid_{0};      // its server process: its notifications are our own
  detail::Mutex reader_mu_;
  std::unique_ptr<Connection> reader_ SWITCHYARD_GUARDED_BY(reader_mu_);
  detail::Mutex listener_mu_;
  std::unique_ptr<Connection> listener_ SWITCHYARD_GUARDED_BY(listener_mu_);
  bool pending_change_ SWITCHYARD_GUARDED_BY(listener_mu_) = false;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/registry/postgres_registry_store-inl.hpp>
#endif
