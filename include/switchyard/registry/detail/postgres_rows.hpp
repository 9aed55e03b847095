// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL store's rows and reads: a result row into a version, alias, audit record, rollout
// or lease (refusing what a Switchyard store never holds, with the SQLite store's rules), the
// reads that run inside one snapshot, and the one retry after a connection found lost. Included by
// postgres_registry_store-inl.hpp only.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/registry/detail/postgres_connection.hpp>
#include <switchyard/registry/detail/postgres_schema.hpp>
#include <switchyard/registry/detail/row_decoders.hpp>
#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard::detail::postgres {
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

inline std::string window_figures_label(const PGresult* r, int row) {
  return "rollout_window_figures row (rollout " + describe_cell(r, row, 0) + ", window " +
         describe_cell(r, row, 1) + ", replica " + describe_cell(r, row, 2) + ")";
}

/// A rollout_window_figures row of kLoadWindowFigures (a binary-form result), refusing what
/// put_window_figures() never writes.
inline WindowFigures read_window_figures(const PGresult* r, int i, const std::string& where) {
  RowReader row(r, i, where, &window_figures_label);
  return registry_rows::decode_window_figures(row);
}

/// The highest audit sequence; one without a successor is damage (see the SQLite store).
inline std::int64_t max_sequence(Connection& c) {
  ResultPtr r = c.run(kMaxSequence, "reading the last audit sequence");
  const std::int64_t last =
      PQntuples(r.get()) == 1
          ? RowReader(r.get(), 0, c.where(), &audit_label).integer(0, "sequence")
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

}  // namespace switchyard::detail::postgres
