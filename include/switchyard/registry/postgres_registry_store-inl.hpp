// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of postgres_registry_store.hpp: opening and migrating, the writer transaction,
// the reads and the change notifications. (Its parts: detail/postgres_schema.hpp,
// detail/postgres_schema-inl.hpp, detail/postgres_connection.hpp, detail/postgres_rows.hpp; the
// checks of values before they are written are the SQLite store's, detail/sqlite_rows.hpp.)
#pragma once

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/detail/postgres_connection.hpp>
#include <switchyard/registry/detail/postgres_rows.hpp>
#include <switchyard/registry/detail/postgres_schema-inl.hpp>
#include <switchyard/registry/detail/postgres_schema.hpp>
#include <switchyard/registry/detail/sqlite_rows.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard {

// ---------------------------------------------------------------------------------------------

/// Exclusive use of the store's writer connection for one transaction.
class PostgresRegistryStore::Lease {
 public:
  explicit Lease(PostgresRegistryStore& store) : store_(&store) {
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

  PostgresRegistryStore& store() const noexcept { return *store_; }

 private:
  PostgresRegistryStore* store_;
};

/// A READ COMMITTED transaction holding the advisory writer lock until commit or destruction.
/// After a StorageError or CorruptStore it refuses further use; destruction rolls back.
class PostgresRegistryStore::Transaction final : public RegistryTransaction {
 public:
  explicit Transaction(Lease lease) : lease_(std::move(lease)), c_(*lease_.store().writer_) {
    if (c_.ensure()) lease_.store().writer_pid_.store(PQbackendPID(c_.get()));
    try {
      // One round trip: begin, bound the wait (lock_timeout 0 would mean "wait forever"), take
      // the writer lock. A connection the server dropped (a restart) is found dead only now;
      // nothing was sent yet, so one reconnect and retry is safe.
      const auto ms = std::max<std::int64_t>(1, lease_.store().options_.busy_timeout.count());
      const std::string begin =
          "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = " + std::to_string(ms) +
          "; SELECT pg_advisory_xact_lock(" + std::to_string(kPostgresWriterLockKey) + ")";
      if (!detail::postgres::begin_or_reconnect(c_, begin.c_str(),
                                                "beginning a write transaction (waiting up to " +
                                                    std::to_string(ms) +
                                                    " ms for the writer lock)")) {
        lease_.store().writer_pid_.store(PQbackendPID(c_.get()));
      }
    } catch (...) {
      c_.rollback();
      throw;
    }
    active_ = true;
  }
  ~Transaction() override {
    if (active_) c_.rollback();
  }

  std::int64_t max_version(std::string_view model) override {
    return guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(model, "a model name");
      pg::ResultPtr r = c_.run(pg::kSelectMaxVersion, p, "reading a model's last version");
      if (PQntuples(r.get()) == 0) return std::int64_t{0};
      return pg::RowReader(r.get(), 0, c_.where(), &pg::model_label).positive(1, "max_version");
    });
  }

  std::optional<ModelVersion> find_version(std::string_view model, std::int64_t version) override {
    return guarded([&]() -> std::optional<ModelVersion> {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(model, "a model name").integer(version);
      pg::ResultPtr r = c_.run(pg::kFindVersion, p, "reading a version");
      if (PQntuples(r.get()) == 0) return std::nullopt;
      return pg::read_version(r.get(), 0, c_.where());
    });
  }

  std::optional<std::int64_t> find_semver(std::string_view model,
                                          std::string_view semver) override {
    return guarded([&]() -> std::optional<std::int64_t> {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(model, "a model name").text(semver, "a semver");
      pg::ResultPtr r = c_.run(pg::kFindSemver, p, "finding a semver");
      if (PQntuples(r.get()) == 0) return std::nullopt;
      return pg::RowReader(r.get(), 0, c_.where(), &pg::version_label).positive(1, "version");
    });
  }

  std::vector<std::int64_t> versions_in_stage(std::string_view model, Stage stage) override {
    return guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(model, "a model name").integer(static_cast<std::int64_t>(stage));
      pg::ResultPtr r = c_.run(pg::kVersionsInStage, p, "reading the versions in a stage");
      std::vector<std::int64_t> out;
      for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back(
            pg::RowReader(r.get(), i, c_.where(), &pg::version_label).positive(1, "version"));
      }
      return out;
    });
  }

  std::optional<std::int64_t> find_alias(std::string_view model, std::string_view alias) override {
    return guarded([&]() -> std::optional<std::int64_t> {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(model, "a model name").text(alias, "an alias");
      pg::ResultPtr r = c_.run(pg::kFindAlias, p, "reading an alias");
      if (PQntuples(r.get()) == 0) return std::nullopt;
      return pg::RowReader(r.get(), 0, c_.where(), &pg::alias_label).positive(2, "version");
    });
  }

  std::vector<AuditRecord> history(std::string_view model) override {
    return guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(model, "a model name");
      std::vector<AuditRecord> out;
      pg::ResultPtr rows = c_.run(pg::kHistory, p, "reading a model's history");
      for (int i = 0; i < PQntuples(rows.get()); ++i) {
        out.push_back(pg::read_audit(rows.get(), i, c_.where()));
      }
      pg::ResultPtr evidence = c_.run(pg::kHistoryEvidence, p, "reading a model's evidence");
      pg::read_evidence_into(evidence.get(), c_.where(), out);
      return out;
    });
  }

  void insert_version(const ModelVersion& v) override {
    const std::string metadata = detail::sqlite::checked_metadata(v);
    const std::string key = detail::sqlite::version_key(v.name, v.version);
    guarded([&] {
      namespace pg = detail::postgres;
      {
        pg::Params p;
        p.text(v.name, "a model name").integer(v.version);
        c_.run(pg::kUpsertModel, p, "recording model '" + v.name + "'");
      }
      pg::Params p;
      p.text(v.name, "a model name").integer(v.version);
      bind_version_columns(p, v, metadata);
      pg::ResultPtr r = c_.run(pg::kInsertVersion, p, "inserting model " + key);
      if (std::string_view(PQcmdTuples(r.get())) == "0") {
        throw AlreadyExists(c_.where() + ": model " + key + " already exists");
      }
      wrote_ = true;
    });
  }

  void update_version(const ModelVersion& v) override {
    const std::string metadata = detail::sqlite::checked_metadata(v);
    const std::string key = detail::sqlite::version_key(v.name, v.version);
    guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      bind_version_columns(p, v, metadata);
      p.text(v.name, "a model name").integer(v.version);
      pg::ResultPtr r = c_.run(pg::kUpdateVersion, p, "updating model " + key);
      if (std::string_view(PQcmdTuples(r.get())) == "0") {
        throw NotFound(c_.where() + ": model " + key + " does not exist");
      }
      wrote_ = true;
    });
  }

  void set_alias(const AliasRecord& a) override {
    detail::sqlite::check_text("alias model name", a.model);
    detail::sqlite::check_text("alias name", a.alias);
    guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(a.model, "alias model name").text(a.alias, "alias name").integer(a.version);
      {
        // Checked first (the writer lock keeps it true until commit): a foreign-key violation
        // would abort the whole transaction, and the contract keeps it usable.
        pg::Params q;
        q.text(a.model, "alias model name").integer(a.version);
        pg::ResultPtr r = c_.run(pg::kVersionExists, q, "checking the version of an alias");
        if (PQntuples(r.get()) == 0) {
          throw NotFound(c_.where() + ": alias '" + a.alias + "' names model " +
                         detail::sqlite::version_key(a.model, a.version) +
                         ", which does not exist");
        }
      }
      c_.run(pg::kUpsertAlias, p, "setting alias '" + a.alias + "' of '" + a.model + "'");
      wrote_ = true;
    });
  }

  void remove_alias(std::string_view model, std::string_view alias) override {
    guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(model, "a model name").text(alias, "an alias");
      c_.run(pg::kDeleteAlias, p, "removing an alias");
      wrote_ = true;
    });
  }

  std::int64_t append_audit(const AuditRecord& r) override {
    detail::sqlite::check_text("audit actor", r.actor);
    detail::sqlite::check_text("audit model", r.model);
    detail::sqlite::check_text("audit action", r.action);
    detail::sqlite::check_text("audit alias", r.alias);
    detail::sqlite::check_text("audit reason", r.reason, kSqliteMaxMetadataBytes);
    validate_promotion_evidence(r.evidence, "audit ");
    namespace pg = detail::postgres;
    // Built before anything is sent, so a refused value (a NUL) leaves the transaction usable.
    pg::Params row;
    row.integer(0).integer(to_unix_nanos(r.at)).text(r.actor, "audit actor");
    row.text(r.model, "audit model").integer(r.version).text(r.action, "audit action");
    row.stage(r.from_stage).stage(r.to_stage).text(r.alias, "audit alias");
    row.text(r.reason, "audit reason");
    std::vector<pg::Params> evidence(r.evidence.size());
    for (std::size_t i = 0; i < r.evidence.size(); ++i) {
      const PromotionEvidence& e = r.evidence[i];
      evidence[i].integer(0).integer(static_cast<std::int64_t>(i)).text(e.kind, "evidence kind");
      evidence[i].integer(e.passed ? 1 : 0).text(e.summary, "evidence summary");
      evidence[i].text(e.detail_json, "evidence detail").text(e.actor, "evidence actor");
    }
    return guarded([&] {
      if (!next_sequence_) next_sequence_ = pg::max_sequence(c_) + 1;
      const std::int64_t seq = *next_sequence_;
      pg::Params p;
      p.integer(seq);
      p.append_from(row, 1);
      c_.run(pg::kInsertAudit, p, "appending an audit row");
      for (std::size_t i = 0; i < evidence.size(); ++i) {
        pg::Params q;
        q.integer(seq);
        q.append_from(evidence[i], 1);
        pg::ResultPtr done = c_.run(pg::kInsertEvidence, q, "appending evidence");
        if (std::string_view(PQcmdTuples(done.get())) == "0") {
          throw CorruptStore(c_.where() + ": audit_evidence already holds a row (sequence " +
                             std::to_string(seq) + ", position " + std::to_string(i) +
                             ") for the audit row being appended");
        }
      }
      *next_sequence_ += 1;
      wrote_ = true;
      return seq;
    });
  }

  void put_artifact(std::string_view sha256, std::string_view bytes) override {
    detail::check_store_artifact(c_.where(), sha256, bytes.size());
    guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(sha256).bytes(bytes);
      c_.run(pg::kUpsertArtifact, p, "storing artifact " + std::string(sha256));
      wrote_ = true;
    });
  }

  std::optional<RolloutRecord> find_rollout(std::string_view deployment) override {
    return guarded([&]() -> std::optional<RolloutRecord> {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(deployment, "a deployment");
      pg::ResultPtr r = c_.run(pg::kFindRollout, p, "reading a rollout");
      if (PQntuples(r.get()) == 0) return std::nullopt;
      return pg::read_rollout(r.get(), 0, c_.where());
    });
  }

  void put_rollout(const RolloutRecord& r) override {
    if (r.deployment.empty()) throw InvalidArgument("rollout record has an empty deployment");
    if (r.model.empty()) {
      throw InvalidArgument("rollout of '" + r.deployment + "' has an empty model name");
    }
    detail::sqlite::check_text("rollout deployment", r.deployment);
    detail::sqlite::check_text("rollout model", r.model);
    const std::string record = to_json(r, JsonStyle::kCompact);
    detail::sqlite::check_text("rollout record of '" + r.deployment + "'", record,
                               kSqliteMaxMetadataBytes);
    namespace pg = detail::postgres;
    pg::Params p;
    p.text(r.deployment, "rollout deployment").text(r.model, "rollout model");
    p.text(to_string(r.status)).integer(r.step).integer(r.revision);
    p.integer(to_unix_nanos(r.updated_at)).text(record, "rollout record");
    guarded([&] {
      c_.run(pg::kUpsertRollout, p, "writing the rollout of '" + r.deployment + "'");
      wrote_ = true;
    });
  }

  std::optional<RolloutLease> find_lease(std::string_view deployment) override {
    return guarded([&]() -> std::optional<RolloutLease> {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(deployment, "a deployment");
      pg::ResultPtr r = c_.run(pg::kFindLease, p, "reading a lease");
      if (PQntuples(r.get()) == 0) return std::nullopt;
      return pg::read_lease(r.get(), 0, c_.where());
    });
  }

  void put_lease(const RolloutLease& l) override {
    if (l.deployment.empty()) throw InvalidArgument("rollout lease has an empty deployment");
    if (l.owner.empty()) {
      throw InvalidArgument("rollout lease of '" + l.deployment + "' has an empty owner");
    }
    if (l.token < 1) {
      throw InvalidArgument("rollout lease of '" + l.deployment + "': token must be >= 1");
    }
    detail::sqlite::check_text("lease deployment", l.deployment);
    detail::sqlite::check_text("lease owner", l.owner);
    namespace pg = detail::postgres;
    pg::Params p;
    p.text(l.deployment, "lease deployment").text(l.owner, "lease owner");
    p.integer(to_unix_nanos(l.expires_at)).integer(l.token);
    guarded([&] {
      c_.run(pg::kUpsertLease, p, "writing the lease of '" + l.deployment + "'");
      wrote_ = true;
    });
  }

  void remove_lease(std::string_view deployment) override {
    guarded([&] {
      namespace pg = detail::postgres;
      pg::Params p;
      p.text(deployment, "a deployment");
      c_.run(pg::kDeleteLease, p, "removing a lease");
      wrote_ = true;
    });
  }

  // Figures are not registry changes: they do not set wrote_, so no replica is notified.
  void put_window_figures(const WindowFigures& f) override {
    detail::check_window_figures(c_.where(), f);
    namespace pg = detail::postgres;
    pg::Params p;
    p.text(f.rollout, "window figures rollout").integer(f.window);
    p.text(f.replica, "window figures replica").integer(to_unix_nanos(f.written_at));
    p.bytes(f.figures);
    guarded([&] {
      c_.run(pg::kUpsertWindowFigures, p, "writing window figures of '" + f.rollout + "'");
    });
  }

  std::size_t prune_window_figures(std::string_view rollout, std::int64_t before_window) override {
    namespace pg = detail::postgres;
    pg::Params p;
    p.text(rollout, "a rollout").integer(before_window);
    return guarded([&] {
      pg::ResultPtr r = c_.run(pg::kPruneWindowFigures, p, "pruning window figures");
      return static_cast<std::size_t>(std::strtoull(PQcmdTuples(r.get()), nullptr, 10));
    });
  }

  void commit() override {
    guarded([&] {
      namespace pg = detail::postgres;
      // The notification (delivered to the listeners only if the transaction commits) and the
      // commit in one round trip; a failing NOTIFY skips the COMMIT and is reported.
      std::string sql;
      if (wrote_) {
        sql = "SELECT pg_notify('" + std::string(kPostgresNotifyChannel) + "', '" +
              std::to_string(next_sequence_ ? *next_sequence_ - 1 : 0) + "'); ";
      }
      sql += "COMMIT";
      pg::ResultPtr r(PQexec(c_.get(), sql.c_str()));
      const ExecStatusType s = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
      if (s != PGRES_COMMAND_OK) {
        if (!c_.ok()) {
          throw StorageError(c_.where() +
                             ": lost the connection to the server while committing; the "
                             "transaction may or may not have been applied (see the audit trail)");
        }
        c_.raise(r.get(), "committing");
      }
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
    c_.rollback();
  }

  static void bind_version_columns(detail::postgres::Params& p, const ModelVersion& v,
                                   const std::string& metadata) {
    p.integer(static_cast<std::int64_t>(v.stage)).text(v.semver, "semver");
    p.integer(to_unix_nanos(v.created_at)).integer(to_unix_nanos(v.stage_changed_at));
    p.text(v.artifact.format, "artifact format").text(v.artifact.sha256, "artifact sha256");
    p.integer(static_cast<std::int64_t>(v.artifact.size)).text(v.artifact.uri, "artifact uri");
    p.text(metadata, "metadata");
  }

  Lease lease_;
  detail::postgres::Connection& c_;
  bool active_ = false;
  bool failed_ = false;
  bool wrote_ = false;
  std::optional<std::int64_t> next_sequence_;
};

// ---------------------------------------------------------------------------------------------

SWITCHYARD_INLINE PostgresRegistryStore::PostgresRegistryStore(Options options)
    : options_(std::move(options)) {
  if (options_.conninfo.empty()) {
    if (const char* env = std::getenv("SWITCHYARD_PG_URL")) options_.conninfo = env;
  }
  if (options_.conninfo.empty()) {
    throw InvalidArgument(
        "PostgresRegistryStore: no connection string (Options::conninfo and SWITCHYARD_PG_URL "
        "are both empty)");
  }
  where_ = detail::postgres::describe_conninfo(options_.conninfo);
  if (options_.busy_timeout.count() < 0) {
    throw InvalidArgument(where_ + ": Options::busy_timeout is negative");
  }
  if (options_.connect_timeout.count() < 0) {
    throw InvalidArgument(where_ + ": Options::connect_timeout is negative");
  }
  auto open = [&] {
    return std::make_unique<Connection>(options_.conninfo, options_.connect_timeout, where_);
  };
  writer_ = open();
  detail::postgres::open_schema(*writer_);
  writer_pid_.store(PQbackendPID(writer_->get()));
  auto reader = open();
  auto listener = open();
  listener->exec("LISTEN switchyard_registry", "listening for changes");
  {
    detail::MutexLock lk(reader_mu_);
    reader_ = std::move(reader);
  }
  detail::MutexLock lk(listener_mu_);
  listener_ = std::move(listener);
}

SWITCHYARD_INLINE PostgresRegistryStore::~PostgresRegistryStore() = default;

SWITCHYARD_INLINE std::unique_ptr<RegistryTransaction> PostgresRegistryStore::begin() {
  return std::make_unique<Transaction>(Lease(*this));
}

SWITCHYARD_INLINE StoreState PostgresRegistryStore::load() {
  namespace pg = detail::postgres;
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  pg::ReadSnapshot snapshot(c);
  StoreState state;
  {
    pg::ResultPtr r = c.run(pg::kLoadVersions, "loading versions");
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      state.versions.push_back(pg::read_version(r.get(), i, where_));
    }
  }
  {
    pg::ResultPtr r = c.run(pg::kLoadAliases, "loading aliases");
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      state.aliases.push_back(pg::read_alias(r.get(), i, where_));
    }
  }
  state.last_sequence = pg::max_sequence(c);
  snapshot.commit();
  detail::sqlite::check_aliases(state, where_);
  return state;
}

SWITCHYARD_INLINE StoreState
PostgresRegistryStore::load_models(const std::vector<std::string>& models) {
  namespace pg = detail::postgres;
  const std::set<std::string> names(models.begin(), models.end());
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  pg::ReadSnapshot snapshot(c);
  StoreState state = pg::load_models_in(c, names);
  snapshot.commit();
  detail::sqlite::check_aliases(state, where_);
  return state;
}

SWITCHYARD_INLINE std::pair<std::vector<std::string>, std::int64_t>
PostgresRegistryStore::changes_since(std::int64_t sequence) {
  namespace pg = detail::postgres;
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  pg::ReadSnapshot snapshot(c);
  std::vector<std::string> changed = pg::changed_models_in(c, sequence);
  const std::int64_t last = pg::max_sequence(c);
  snapshot.commit();
  return {std::move(changed), last};
}

SWITCHYARD_INLINE std::pair<std::vector<std::string>, StoreState>
PostgresRegistryStore::load_changes_since(std::int64_t sequence) {
  namespace pg = detail::postgres;
  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  pg::ReadSnapshot snapshot(c);
  std::vector<std::string> changed = pg::changed_models_in(c, sequence);
  StoreState state = pg::load_models_in(c, {changed.begin(), changed.end()});
  snapshot.commit();
  detail::sqlite::check_aliases(state, where_);
  return {std::move(changed), std::move(state)};
}

SWITCHYARD_INLINE bool PostgresRegistryStore::relisten() {
  if (listener_->ok()) return false;
  listener_->ensure();
  listener_->exec("LISTEN switchyard_registry", "listening for changes");
  return true;
}

SWITCHYARD_INLINE bool PostgresRegistryStore::drain_notifications() {
  PGconn* conn = listener_->get();
  if (PQconsumeInput(conn) == 0) return false;  // the caller sees the lost connection
  bool theirs = false;
  const int own = writer_pid_.load();
  while (PGnotify* n = PQnotifies(conn)) {
    if (n->be_pid != own) theirs = true;
    PQfreemem(n);
  }
  return theirs;
}

SWITCHYARD_INLINE bool PostgresRegistryStore::may_have_changed() {
  detail::MutexLock lk(listener_mu_);
  try {
    if (relisten()) {
      pending_change_ = false;
      return true;
    }
    bool changed = std::exchange(pending_change_, false);
    changed = drain_notifications() || changed;
    if (!changed && listener_->ok()) {
      // The round trip: the server sends every notification it was signalled before answering,
      // so a commit acknowledged before this call is seen now.
      listener_->exec("", "checking for notifications");
      changed = drain_notifications();
    }
    if (!listener_->ok()) {
      relisten();  // notifications may have been lost with the connection
      return true;
    }
    return changed;
  } catch (const StorageError&) {
    // Down or unreachable: "maybe"; the read that follows reports the error.
    return true;
  }
}

SWITCHYARD_INLINE bool PostgresRegistryStore::wait_for_change(std::chrono::milliseconds timeout) {
  int fd = -1;
  {
    detail::MutexLock lk(listener_mu_);
    try {
      if (relisten()) {
        pending_change_ = true;
        return true;
      }
    } catch (const StorageError&) {
      return true;  // down: let the caller's refresh() report it
    }
    if (pending_change_ || drain_notifications()) {
      pending_change_ = true;
      return true;
    }
    if (!listener_->ok()) return true;
    fd = PQsocket(listener_->get());
  }
  if (fd < 0) return true;
  pollfd p{fd, POLLIN, 0};
  const int ready = ::poll(
      &p, 1,
      static_cast<int>(std::min<std::int64_t>(timeout.count(), std::numeric_limits<int>::max())));
  if (ready <= 0) return false;
  detail::MutexLock lk(listener_mu_);
  if (drain_notifications() || !listener_->ok()) {
    pending_change_ = true;
    return true;
  }
  return pending_change_;
}

SWITCHYARD_INLINE std::vector<AuditRecord> PostgresRegistryStore::audit(const AuditQuery& query) {
  namespace pg = detail::postgres;
  // The audit rows matching the query and their evidence, read in one snapshot.
  pg::Params p;
  int n = 0;
  auto next = [&] { return " $" + std::to_string(++n); };
  std::string filter = " WHERE sequence >" + next();
  p.integer(query.after_sequence);
  if (!query.model.empty()) {
    filter += " AND model =" + next();
    p.text(query.model, "audit query model");
  }
  if (query.version) {
    filter += " AND version =" + next();
    p.integer(*query.version);
  }
  if (query.from) {
    filter += " AND at_ns >=" + next();
    p.integer(to_unix_nanos(*query.from));
  }
  if (query.until) {
    filter += " AND at_ns <=" + next();
    p.integer(to_unix_nanos(*query.until));
  }
  filter += " ORDER BY sequence";
  if (query.limit > 0) {
    filter += " LIMIT" + next();
    p.integer(static_cast<std::int64_t>(
        std::min<std::size_t>(query.limit, std::numeric_limits<std::int64_t>::max())));
  }
  const std::string rows_sql = pg::kSelectAudit + filter;
  const std::string evidence_sql = std::string(pg::kSelectEvidence) +
                                   " WHERE sequence IN (SELECT sequence FROM audit" + filter +
                                   ") ORDER BY sequence, position";

  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  pg::ReadSnapshot snapshot(c);
  std::vector<AuditRecord> out;
  {
    pg::ResultPtr r = c.run(rows_sql.c_str(), p, "reading the audit trail");
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(pg::read_audit(r.get(), i, where_));
  }
  if (!out.empty()) {
    pg::ResultPtr r = c.run(evidence_sql.c_str(), p, "reading the audit trail's evidence");
    pg::read_evidence_into(r.get(), where_, out);
  }
  snapshot.commit();
  return out;
}

SWITCHYARD_INLINE std::optional<std::string> PostgresRegistryStore::read_artifact(
    std::string_view sha256) {
  namespace pg = detail::postgres;
  detail::require_sha256_hex(sha256, where_ + ": ");
  pg::Params p;
  p.text(sha256);
  detail::MutexLock lk(reader_mu_);
  pg::ResultPtr r = pg::run_read(*reader_, pg::kReadArtifact, p, "reading an artifact",
                                 /*binary=*/true);
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return pg::RowReader(r.get(), 0, where_, &pg::artifact_label)
      .blob(1, "bytes", kMaxStoreArtifactBytes);
}

SWITCHYARD_INLINE std::optional<RolloutRecord> PostgresRegistryStore::load_rollout(
    std::string_view deployment) {
  namespace pg = detail::postgres;
  pg::Params p;
  p.text(deployment, "a deployment");
  detail::MutexLock lk(reader_mu_);
  pg::ResultPtr r = pg::run_read(*reader_, pg::kFindRollout, p, "reading a rollout");
  if (PQntuples(r.get()) == 0) return std::nullopt;
  return pg::read_rollout(r.get(), 0, where_);
}

SWITCHYARD_INLINE std::vector<WindowFigures> PostgresRegistryStore::load_window_figures(
    std::string_view rollout, std::int64_t first_window, std::int64_t last_window) {
  namespace pg = detail::postgres;
  pg::Params p;
  p.text(rollout, "a rollout").integer(first_window).integer(last_window);
  detail::MutexLock lk(reader_mu_);
  pg::ResultPtr r = pg::run_read(*reader_, pg::kLoadWindowFigures, p, "reading window figures",
                                 /*binary=*/true);
  std::vector<WindowFigures> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back(pg::read_window_figures(r.get(), i, where_));
  }
  return out;
}

SWITCHYARD_INLINE std::string PostgresRegistryStore::describe() const { return where_; }

}  // namespace switchyard
