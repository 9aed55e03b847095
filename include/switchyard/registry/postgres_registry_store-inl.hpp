// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of postgres_registry_store.hpp: opening and migrating, the writer transaction,
// the reads and the change notifications. (Its parts: detail/postgres_schema.hpp,
// detail/postgres_connection.hpp; the checks of values before they are written are the SQLite
// store's, detail/sqlite_rows.hpp.)
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
#include <switchyard/registry/detail/postgres_schema.hpp>
#include <switchyard/registry/detail/sqlite_rows.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard {

namespace detail::postgres {

// ---- rows ---------------------------------------------------------------------------------------

inline ModelVersion read_version(const PGresult* r, int i, const std::string& where) {
  RowReader row(r, i, where, &version_label);
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

inline AliasRecord read_alias(const PGresult* r, int i, const std::string& where) {
  RowReader row(r, i, where, &alias_label);
  return {row.text(0, "model"), row.text(1, "alias"), row.positive(2, "version")};
}

inline AuditRecord read_audit(const PGresult* r, int i, const std::string& where) {
  RowReader row(r, i, where, &audit_label);
  AuditRecord a;
  a.sequence = row.integer(0, "sequence");
  a.at = from_unix_nanos(row.integer(1, "at_ns"));
  a.actor = row.text(2, "actor");
  a.model = row.text(3, "model");
  a.version = row.integer(4, "version");
  a.action = row.text(5, "action");
  a.from_stage = row.optional_stage(6, "from_stage");
  a.to_stage = row.optional_stage(7, "to_stage");
  a.alias = row.text(8, "alias");
  a.reason = row.text(9, "reason", kSqliteMaxMetadataBytes);
  return a;
}

/// The rows of an evidence query (ordered by sequence and position) into `records` (ordered by
/// sequence, read in the same snapshot), with the SQLite store's rules: each row continues its
/// record's evidence and follows PromotionEvidence's rules, or it is CorruptStore.
inline void read_evidence_into(const PGresult* r, const std::string& where,
                               std::vector<AuditRecord>& records) {
  std::size_t at = 0;
  for (int i = 0; i < PQntuples(r); ++i) {
    RowReader row(r, i, where, &evidence_label);
    const std::int64_t sequence = row.integer(0, "sequence");
    while (at < records.size() && records[at].sequence < sequence) ++at;
    if (at == records.size() || records[at].sequence != sequence) {
      row.corrupt("sequence", "names no audit row");
    }
    AuditRecord& record = records[at];
    const std::int64_t position = row.integer(1, "position");
    if (position != static_cast<std::int64_t>(record.evidence.size())) {
      row.corrupt("position", "holds " + std::to_string(position) + ", expected " +
                                  std::to_string(record.evidence.size()) +
                                  " (the audit row's evidence is out of order or incomplete)");
    }
    if (record.evidence.size() >= kMaxEvidencePerTransition) {
      row.corrupt("position", "holds " + std::to_string(position) + ", over the limit of " +
                                  std::to_string(kMaxEvidencePerTransition) + " per audit row");
    }
    PromotionEvidence e;
    e.kind = row.text(2, "kind");
    const std::int64_t passed = row.integer(3, "passed");
    if (passed != 0 && passed != 1) {
      row.corrupt("passed", "holds " + std::to_string(passed) + ", not 0 or 1");
    }
    e.passed = passed == 1;
    e.summary = row.text(4, "summary", kMaxEvidenceSummaryBytes);
    e.detail_json = row.text(5, "detail_json", kMaxEvidenceDetailBytes);
    e.actor = row.text(6, "actor", kMaxEvidenceSummaryBytes);
    auto check = [&](const char* column, auto rule, const std::string& value) {
      try {
        rule(value, column);
      } catch (const InvalidArgument& error) {
        row.corrupt(column, std::string("is not valid: ") + error.what());
      }
    };
    check("kind", &detail::registry::check_evidence_kind, e.kind);
    check("summary", &detail::registry::check_evidence_summary, e.summary);
    check("detail_json", &detail::registry::check_evidence_detail, e.detail_json);
    check("actor", &detail::registry::check_evidence_summary, e.actor);
    record.evidence.push_back(std::move(e));
  }
}

inline RolloutRecord read_rollout(const PGresult* r, int i, const std::string& where) {
  RowReader row(r, i, where, &rollout_label);
  const std::string deployment = row.text(0, "deployment");
  const std::string_view text = row.text_view(1, "record", kSqliteMaxMetadataBytes);
  RolloutRecord record;
  try {
    record = from_json<RolloutRecord>(text);
  } catch (const InvalidArgument& e) {
    row.corrupt("record", std::string("is not valid: ") + e.what());
  }
  if (record.deployment != deployment) {
    row.corrupt("record", "names deployment '" + detail::printable(record.deployment) + "'");
  }
  return record;
}

inline RolloutLease read_lease(const PGresult* r, int i, const std::string& where) {
  RowReader row(r, i, where, &lease_label);
  RolloutLease l;
  l.deployment = row.text(0, "deployment");
  l.owner = row.text(1, "owner");
  l.expires_at = from_unix_nanos(row.integer(2, "expires_at_ns"));
  l.token = row.positive(3, "token");
  return l;
}

/// The highest audit sequence; one without a successor is damage (see the SQLite store).
inline std::int64_t max_sequence(Connection& c) {
  ResultPtr r = c.run(kMaxSequence, "reading the last audit sequence");
  const std::int64_t last =
      PQntuples(r.get()) == 1 ? RowReader(r.get(), 0, c.where(), &audit_label).integer(0, "sequence")
                              : 0;
  if (last < 0 || last == std::numeric_limits<std::int64_t>::max()) {
    throw CorruptStore(c.where() + ": audit table: sequence " + std::to_string(last) +
                       " is out of range (0 to 2^63-2)");
  }
  return last;
}

// Reads inside an open read-only transaction.

inline StoreState load_models_in(Connection& c, const std::set<std::string>& names) {
  StoreState state;
  const std::vector<std::string> list(names.begin(), names.end());
  if (!list.empty()) {
    Params p;
    p.text_array(list);
    ResultPtr v = c.run(kLoadVersionsOf, p, "loading versions");
    for (int i = 0; i < PQntuples(v.get()); ++i) {
      state.versions.push_back(read_version(v.get(), i, c.where()));
    }
    ResultPtr a = c.run(kLoadAliasesOf, p, "loading aliases");
    for (int i = 0; i < PQntuples(a.get()); ++i) {
      state.aliases.push_back(read_alias(a.get(), i, c.where()));
    }
  }
  state.last_sequence = max_sequence(c);
  return state;
}

inline std::vector<std::string> changed_models_in(Connection& c, std::int64_t sequence) {
  Params p;
  p.integer(sequence);
  ResultPtr r = c.run(kChangedModels, p, "reading the models changed since a sequence");
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    out.push_back(RowReader(r.get(), i, c.where(), &audit_model_label).text(0, "model"));
  }
  return out;
}

/// Starts a transaction with `sql` on `c`, re-establishing the connection once when it turns out
/// to be lost (a server restart is noticed only by the next statement; nothing was sent yet, so
/// the retry is safe). Returns true when the first attempt worked.
inline bool begin_or_reconnect(Connection& c, const char* sql, std::string_view doing) {
  if (!c.ensure()) {
    try {
      c.exec(sql, doing);
      return true;
    } catch (const StorageError&) {
      if (c.ok()) throw;  // the server answered: not a lost connection
    }
    c.ensure();
  }
  c.exec(sql, doing);
  return false;
}

/// One read statement outside a transaction, retried once on a re-established connection when
/// the first attempt found it lost (a read changes nothing, so the retry is safe).
inline ResultPtr run_read(Connection& c, const char* sql, const Params& params,
                          std::string_view doing, bool binary = false) {
  if (!c.ensure()) {
    try {
      return c.run(sql, params, doing, binary);
    } catch (const StorageError&) {
      if (c.ok()) throw;
    }
    c.ensure();
  }
  return c.run(sql, params, doing, binary);
}

/// One REPEATABLE READ READ ONLY transaction on a connection: several SELECTs see one snapshot.
/// Reconnects a lost connection first. Not thread-safe: it belongs to the thread using `c`.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(Connection& c) : c_(c) {
    begin_or_reconnect(c_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "starting a read transaction");
  }
  ~ReadSnapshot() { c_.rollback(); }
  void commit() { c_.exec("COMMIT", "ending a read transaction"); }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  Connection& c_;
};

/// `postgresql://host:port/dbname` from a conninfo, without user or password (libpq's defaults
/// fill what it leaves out). A Unix socket directory as host is percent-encoded.
inline std::string describe_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
  if (!parsed) {
    std::string message = error ? error : "out of memory";
    PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw InvalidArgument("PostgresRegistryStore: the connection string is not valid: " + message);
  }
  PQconninfoOption* defaults = PQconndefaults();
  auto value = [&](const char* keyword) -> std::string {
    for (PQconninfoOption* o = parsed; o->keyword; ++o) {
      if (std::string_view(o->keyword) == keyword && o->val && *o->val) return o->val;
    }
    for (PQconninfoOption* o = defaults; o && o->keyword; ++o) {
      if (std::string_view(o->keyword) == keyword && o->val && *o->val) return o->val;
    }
    return "";
  };
  std::string host = value("host");
  if (host.empty()) host = value("hostaddr");
  std::string port = value("port");
  std::string db = value("dbname");
  if (db.empty()) db = value("user");
  PQconninfoFree(parsed);
  if (defaults) PQconninfoFree(defaults);
  if (host.empty()) host = "localhost";
  if (port.empty()) port = "5432";
  std::string encoded;
  for (char ch : host) {
    if (ch == '/') {
      encoded += "%2F";
    } else {
      encoded += ch;
    }
  }
  return "postgresql://" + encoded + ":" + port + "/" + db;
}

}  // namespace detail::postgres

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
      // A connection the server dropped (a restart) is found dead only now; nothing was sent
      // yet, so one reconnect and retry is safe.
      if (!detail::postgres::begin_or_reconnect(c_, "BEGIN ISOLATION LEVEL READ COMMITTED",
                                                "beginning a write transaction")) {
        lease_.store().writer_pid_.store(PQbackendPID(c_.get()));
      }
      // lock_timeout 0 would mean "wait forever".
      const auto ms = std::max<std::int64_t>(1, lease_.store().options_.busy_timeout.count());
      const std::string timeout = "SET LOCAL lock_timeout = " + std::to_string(ms);
      c_.exec(timeout.c_str(), "setting the writer lock's timeout");
      detail::postgres::Params p;
      p.integer(kPostgresWriterLockKey);
      c_.run(detail::postgres::kLockWriters, p,
             "waiting " + std::to_string(ms) + " ms for the writer lock");
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

  void commit() override {
    guarded([&] {
      namespace pg = detail::postgres;
      if (wrote_) {
        // Delivered to the listeners only if the transaction commits.
        pg::Params p;
        p.text(std::to_string(next_sequence_ ? *next_sequence_ - 1 : 0));
        c_.run(pg::kNotify, p, "notifying the other replicas");
      }
      pg::ResultPtr r(PQexec(c_.get(), "COMMIT"));
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

namespace detail::postgres {

/// Creates or migrates the schema of the database `c` is connected to, under the writer lock, in
/// one transaction; checks every table the store reads. Throws SchemaTooNew for a newer schema
/// and CorruptStore for tables that are not Switchyard's.
inline void open_schema(Connection& c) {
  c.exec("BEGIN ISOLATION LEVEL READ COMMITTED", "beginning the schema check");
  try {
    Params lock;
    lock.integer(kPostgresWriterLockKey);
    c.run(kLockWriters, lock, "waiting for the writer lock to check the schema");
    ResultPtr exists = c.run(kSchemaTableExists, "looking for the schema table");
    const bool has_schema = std::string_view(PQgetvalue(exists.get(), 0, 0)) == "t";
    const bool has_tables = std::string_view(PQgetvalue(exists.get(), 0, 1)) == "t";
    std::int64_t from = 0;
    if (has_schema) {
      ResultPtr r = c.run(kReadSchema, "reading the schema version");
      if (PQntuples(r.get()) != 1) {
        throw CorruptStore(c.where() + ": switchyard_schema holds " +
                           std::to_string(PQntuples(r.get())) + " rows, expected 1");
      }
      RowReader row(r.get(), 0, c.where(),
                    [](const PGresult*, int) { return std::string("switchyard_schema row"); });
      if (row.text(0, "application") != "switchyard") {
        row.corrupt("application", "does not name Switchyard");
      }
      from = row.integer(1, "version");
      if (from > kPostgresSchemaVersion) {
        throw SchemaTooNew(c.where() + ": the store has schema version " + std::to_string(from) +
                           " but this Switchyard understands versions up to " +
                           std::to_string(kPostgresSchemaVersion) +
                           "; upgrade Switchyard to open it");
      }
      if (from < 0) row.corrupt("version", "holds " + std::to_string(from));
    } else if (has_tables) {
      throw CorruptStore(c.where() +
                         ": not a Switchyard registry store: the database has a model_versions "
                         "table but no switchyard_schema table");
    } else {
      c.exec(kCreateSchemaTable, "creating the schema table");
      Params p;
      p.integer(0);
      c.run(kInsertSchema, p, "recording schema version 0");
    }
    for (const auto& m : kMigrations) {
      if (m.version <= from) continue;
      c.exec(m.sql, "migrating the schema to version " + std::to_string(m.version));
      Params p;
      p.integer(m.version);
      c.run(kUpdateSchema, p, "recording schema version " + std::to_string(m.version));
    }
    for (const char* sql : kCheckSchema) c.exec(sql, "checking the schema");
    c.exec("COMMIT", "committing the schema");
  } catch (...) {
    c.rollback();
    throw;
  }
}

}  // namespace detail::postgres

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
  const int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(
                                      timeout.count(), std::numeric_limits<int>::max())));
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

SWITCHYARD_INLINE std::string PostgresRegistryStore::describe() const { return where_; }

}  // namespace switchyard
