// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of sqlite_registry_store.hpp: the connection, schema, migrations and queries.
// (Its parts: detail/sqlite_schema.hpp, detail/sqlite_handle.hpp, detail/sqlite_schema-inl.hpp,
// detail/sqlite_rows.hpp.)
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
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
#include <switchyard/registry/detail/sqlite_handle.hpp>
#include <switchyard/registry/detail/sqlite_rows.hpp>
#include <switchyard/registry/detail/sqlite_schema-inl.hpp>
#include <switchyard/registry/detail/sqlite_schema.hpp>
#include <switchyard/registry/serialization.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace switchyard {


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
      detail::sqlite::Query q(c_, detail::sqlite::kSelectMaxVersion);
      q.bind(model);
      if (!q.step()) return std::int64_t{0};
      return q.row(&detail::sqlite::model_label).positive(1, "max_version");
    });
  }

  std::optional<ModelVersion> find_version(std::string_view model, std::int64_t version) override {
    return guarded([&]() -> std::optional<ModelVersion> {
      detail::sqlite::Query q(c_, detail::sqlite::kFindVersion);
      q.bind(model).bind(version);
      if (!q.step()) return std::nullopt;
      return detail::sqlite::read_version(q.get(), c_.where());
    });
  }

  std::optional<std::int64_t> find_semver(std::string_view model,
                                          std::string_view semver) override {
    return guarded([&]() -> std::optional<std::int64_t> {
      detail::sqlite::Query q(c_, detail::sqlite::kFindSemver);
      q.bind(model).bind(semver);
      if (!q.step()) return std::nullopt;
      return q.row(&detail::sqlite::version_label).positive(1, "version");
    });
  }

  std::vector<std::int64_t> versions_in_stage(std::string_view model, Stage stage) override {
    return guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kVersionsInStage);
      q.bind(model).bind(static_cast<std::int64_t>(stage));
      std::vector<std::int64_t> out;
      while (q.step()) {
        out.push_back(q.row(&detail::sqlite::version_label).positive(1, "version"));
      }
      return out;
    });
  }

  std::optional<std::int64_t> find_alias(std::string_view model, std::string_view alias) override {
    return guarded([&]() -> std::optional<std::int64_t> {
      detail::sqlite::Query q(c_, detail::sqlite::kFindAlias);
      q.bind(model).bind(alias);
      if (!q.step()) return std::nullopt;
      return q.row(&detail::sqlite::alias_label).positive(2, "version");
    });
  }

  std::vector<AuditRecord> history(std::string_view model) override {
    return guarded([&] {
      std::vector<AuditRecord> out;
      {
        detail::sqlite::Query q(c_, detail::sqlite::kHistory);
        q.bind(model);
        while (q.step()) out.push_back(detail::sqlite::read_audit(q.get(), c_.where()));
      }
      detail::sqlite::Query q(c_, detail::sqlite::kHistoryEvidence);
      q.bind(model);
      detail::sqlite::read_evidence_into(q, out);
      return out;
    });
  }

  void insert_version(const ModelVersion& v) override {
    const std::string metadata = detail::sqlite::checked_metadata(v);
    guarded([&] {
      {
        detail::sqlite::Query q(c_, detail::sqlite::kUpsertModel);
        q.bind(v.name).bind(v.version);
        q.step();
      }
      detail::sqlite::Query q(c_, detail::sqlite::kInsertVersion);
      bind_version_columns(q.bind(v.name).bind(v.version), v, metadata);
      const int rc = q.execute();
      if (rc != SQLITE_OK) {
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
          throw AlreadyExists(c_.where() + ": model " +
                              detail::sqlite::version_key(v.name, v.version) +
                              " already exists");
        }
        c_.raise(rc, "inserting model " + detail::sqlite::version_key(v.name, v.version));
      }
    });
  }

  void update_version(const ModelVersion& v) override {
    const std::string metadata = detail::sqlite::checked_metadata(v);
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kUpdateVersion);
      bind_version_columns(q, v, metadata).bind(v.name).bind(v.version);
      const int rc = q.execute();
      if (rc != SQLITE_OK) {
        c_.raise(rc, "updating model " + detail::sqlite::version_key(v.name, v.version));
      }
      if (sqlite3_changes(c_.db()) == 0) {
        throw NotFound(c_.where() + ": model " +
                       detail::sqlite::version_key(v.name, v.version) + " does not exist");
      }
    });
  }

  void set_alias(const AliasRecord& a) override {
    detail::sqlite::check_text("alias model name", a.model);
    detail::sqlite::check_text("alias name", a.alias);
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kUpsertAlias);
      q.bind(a.model).bind(a.alias).bind(a.version);
      const int rc = q.execute();
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        throw NotFound(c_.where() + ": alias '" + a.alias + "' names model " +
                       detail::sqlite::version_key(a.model, a.version) +
                       ", which does not exist");
      }
      if (rc != SQLITE_OK) c_.raise(rc, "setting alias '" + a.alias + "' of '" + a.model + "'");
    });
  }

  void remove_alias(std::string_view model, std::string_view alias) override {
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kDeleteAlias);
      q.bind(model).bind(alias);
      q.step();
    });
  }

  std::int64_t append_audit(const AuditRecord& r) override {
    detail::sqlite::check_text("audit actor", r.actor);
    detail::sqlite::check_text("audit model", r.model);
    detail::sqlite::check_text("audit action", r.action);
    detail::sqlite::check_text("audit alias", r.alias);
    detail::sqlite::check_text("audit reason", r.reason, kSqliteMaxMetadataBytes);
    validate_promotion_evidence(r.evidence, "audit ");
    return guarded([&] {
      if (!next_sequence_) next_sequence_ = detail::sqlite::max_sequence(c_) + 1;
      const std::int64_t seq = *next_sequence_;
      detail::sqlite::Query q(c_, detail::sqlite::kInsertAudit);
      q.bind(seq).bind(to_unix_nanos(r.at)).bind(r.actor).bind(r.model).bind(r.version);
      q.bind(r.action).bind(r.from_stage).bind(r.to_stage).bind(r.alias).bind(r.reason);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "appending an audit row");
      append_evidence(seq, r.evidence);
      *next_sequence_ += 1;
      return seq;
    });
  }

  void put_artifact(std::string_view sha256, std::string_view bytes) override {
    detail::check_store_artifact(c_.where(), sha256, bytes.size());
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kUpsertArtifact);
      q.bind(sha256).bind_blob(bytes);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "storing artifact " + std::string(sha256));
    });
  }

  std::optional<RolloutRecord> find_rollout(std::string_view deployment) override {
    return guarded([&]() -> std::optional<RolloutRecord> {
      detail::sqlite::Query q(c_, detail::sqlite::kFindRollout);
      q.bind(deployment);
      if (!q.step()) return std::nullopt;
      return detail::sqlite::read_rollout(q.get(), c_.where());
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
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kUpsertRollout);
      q.bind(r.deployment).bind(r.model).bind(std::string(to_string(r.status))).bind(r.step);
      q.bind(r.revision).bind(to_unix_nanos(r.updated_at)).bind(record);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "writing the rollout of '" + r.deployment + "'");
    });
  }

  std::optional<RolloutLease> find_lease(std::string_view deployment) override {
    return guarded([&]() -> std::optional<RolloutLease> {
      detail::sqlite::Query q(c_, detail::sqlite::kFindLease);
      q.bind(deployment);
      if (!q.step()) return std::nullopt;
      return detail::sqlite::read_lease(q.get(), c_.where());
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
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kUpsertLease);
      q.bind(l.deployment).bind(l.owner).bind(to_unix_nanos(l.expires_at)).bind(l.token);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "writing the lease of '" + l.deployment + "'");
    });
  }

  void remove_lease(std::string_view deployment) override {
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kDeleteLease);
      q.bind(deployment);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "removing a lease");
    });
  }

  void put_window_figures(const WindowFigures& f) override {
    detail::check_window_figures(c_.where(), f);
    guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kUpsertWindowFigures);
      q.bind(f.rollout).bind(f.window).bind(f.replica).bind(to_unix_nanos(f.written_at));
      q.bind_blob(f.figures);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "writing window figures of '" + f.rollout + "'");
    });
  }

  std::size_t prune_window_figures(std::string_view rollout, std::int64_t before_window) override {
    return guarded([&] {
      detail::sqlite::Query q(c_, detail::sqlite::kPruneWindowFigures);
      q.bind(rollout).bind(before_window);
      const int rc = q.execute();
      if (rc != SQLITE_OK) c_.raise(rc, "pruning window figures");
      return static_cast<std::size_t>(sqlite3_changes(c_.db()));
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

  // The evidence rows of audit row `seq`, in the order given.
  void append_evidence(std::int64_t seq, const std::vector<PromotionEvidence>& evidence) {
    for (std::size_t i = 0; i < evidence.size(); ++i) {
      const PromotionEvidence& e = evidence[i];
      detail::sqlite::Query q(c_, detail::sqlite::kInsertEvidence);
      q.bind(seq).bind(static_cast<std::int64_t>(i)).bind(e.kind);
      q.bind(std::int64_t{e.passed ? 1 : 0}).bind(e.summary).bind(e.detail_json).bind(e.actor);
      const int rc = q.execute();
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        // Only rows written behind the store's back (foreign keys off) can be in the way.
        throw CorruptStore(c_.where() + ": audit_evidence already holds a row (sequence " +
                           std::to_string(seq) + ", position " + std::to_string(i) +
                           ") for the audit row being appended");
      }
      if (rc != SQLITE_OK) c_.raise(rc, "appending the evidence of an audit row");
    }
  }

  static detail::sqlite::Query& bind_version_columns(detail::sqlite::Query& q,
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
  namespace s = detail::sqlite;
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

SWITCHYARD_INLINE StoreState
SqliteRegistryStore::load_models(const std::vector<std::string>& models) {
  namespace s = detail::sqlite;
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
  namespace s = detail::sqlite;
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
  namespace s = detail::sqlite;
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
  namespace s = detail::sqlite;
  // The audit rows matching the query, and their evidence: the rows of audit_evidence whose
  // sequence the same filter selects, read in the same read transaction.
  std::string filter = " WHERE sequence > ?";
  if (!query.model.empty()) filter += " AND model = ?";
  if (query.version) filter += " AND version = ?";
  if (query.from) filter += " AND at_ns >= ?";
  if (query.until) filter += " AND at_ns <= ?";
  filter += " ORDER BY sequence";
  if (query.limit > 0) filter += " LIMIT ?";
  const std::string rows_sql = s::kSelectAudit + filter;
  const std::string evidence_sql = std::string(s::kSelectEvidence) +
                                   " WHERE sequence IN (SELECT sequence FROM audit" + filter +
                                   ") ORDER BY sequence, position";
  auto bind_filter = [&](s::Query& q) {
    q.bind(query.after_sequence);
    if (!query.model.empty()) q.bind(query.model);
    if (query.version) q.bind(*query.version);
    if (query.from) q.bind(to_unix_nanos(*query.from));
    if (query.until) q.bind(to_unix_nanos(*query.until));
    if (query.limit > 0) {
      q.bind(static_cast<std::int64_t>(
          std::min<std::size_t>(query.limit, std::numeric_limits<std::int64_t>::max())));
    }
  };

  detail::MutexLock lk(reader_mu_);
  Connection& c = *reader_;
  s::ReadSnapshot snapshot(c);
  std::vector<AuditRecord> out;
  {
    s::Query q(c, rows_sql);
    bind_filter(q);
    while (q.step()) out.push_back(s::read_audit(q.get(), where_));
  }
  if (!out.empty()) {
    s::Query q(c, evidence_sql);
    bind_filter(q);
    s::read_evidence_into(q, out);
  }
  c.exec("COMMIT", "ending a read transaction");
  return out;
}

SWITCHYARD_INLINE std::optional<std::string> SqliteRegistryStore::read_artifact(
    std::string_view sha256) {
  namespace s = detail::sqlite;
  detail::require_sha256_hex(sha256, where_ + ": ");
  detail::MutexLock lk(reader_mu_);
  s::Query q(*reader_, s::kReadArtifact);
  q.bind(sha256);
  if (!q.step()) return std::nullopt;
  return q.row(&s::artifact_label).blob(1, "bytes", kMaxStoreArtifactBytes);
}

SWITCHYARD_INLINE std::optional<RolloutRecord> SqliteRegistryStore::load_rollout(
    std::string_view deployment) {
  namespace s = detail::sqlite;
  detail::MutexLock lk(reader_mu_);
  s::Query q(*reader_, s::kFindRollout);
  q.bind(deployment);
  if (!q.step()) return std::nullopt;
  return s::read_rollout(q.get(), where_);
}

SWITCHYARD_INLINE std::vector<WindowFigures> SqliteRegistryStore::load_window_figures(
    std::string_view rollout, std::int64_t first_window, std::int64_t last_window) {
  namespace s = detail::sqlite;
  detail::MutexLock lk(reader_mu_);
  s::Query q(*reader_, s::kLoadWindowFigures);
  q.bind(rollout).bind(first_window).bind(last_window);
  std::vector<WindowFigures> out;
  while (q.step()) out.push_back(s::read_window_figures(q.get(), where_));
  return out;
}

SWITCHYARD_INLINE std::string SqliteRegistryStore::describe() const { return where_; }

}  // namespace switchyard
