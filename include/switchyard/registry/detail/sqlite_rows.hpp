// SPDX-License-Identifier: Apache-2.0
// The store's rows: reading a result row into a version, alias or audit record (refusing what a
// Switchyard store never holds), checking a version before it is written, and the reads that run
// inside one read transaction.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/registry/detail/sqlite_handle.hpp>
#include <switchyard/registry/detail/sqlite_schema.hpp>
#include <switchyard/registry/detail/row_decoders.hpp>
#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard::detail::sqlite {

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

inline std::string evidence_label(sqlite3_stmt* s) {
  return "audit_evidence row (sequence " + describe_cell(s, 0) + ", position " +
         describe_cell(s, 1) + ")";
}

/// Reads the rows of an evidence query (SWITCHYARD_EVIDENCE_COLUMNS, ordered by sequence and
/// position) into `records`, the audit rows they belong to (ordered by sequence, read in the same
/// read transaction). Each row must continue its record's evidence (positions 0, 1, 2, ...) and
/// follow PromotionEvidence's rules; anything else is CorruptStore naming the row.
inline void read_evidence_into(Query& q, std::vector<AuditRecord>& records) {
  std::size_t i = 0;
  while (q.step()) {
    RowReader row = q.row(&evidence_label);
    const std::int64_t sequence = row.integer(0, "sequence");
    while (i < records.size() && records[i].sequence < sequence) ++i;
    if (i == records.size() || records[i].sequence != sequence) {
      row.corrupt("sequence", "names no audit row");
    }
    AuditRecord& r = records[i];
    const std::int64_t position = row.integer(1, "position");
    if (position != static_cast<std::int64_t>(r.evidence.size())) {
      row.corrupt("position", "holds " + std::to_string(position) + ", expected " +
                                  std::to_string(r.evidence.size()) +
                                  " (the audit row's evidence is out of order or incomplete)");
    }
    if (r.evidence.size() >= kMaxEvidencePerTransition) {
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
    // The same rules as the write, so a refused value names its column.
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
    r.evidence.push_back(std::move(e));
  }
}

/// A rollouts row (deployment, record): the record's JSON, which must name the same deployment.
inline RolloutRecord read_rollout(sqlite3_stmt* s, const std::string& where) {
  RowReader row(s, where, &rollout_label);
  const std::string deployment = row.text(0, "deployment");
  const std::string_view record = row.text_view(1, "record", kSqliteMaxMetadataBytes);
  RolloutRecord r;
  try {
    r = from_json<RolloutRecord>(record);
  } catch (const InvalidArgument& e) {
    row.corrupt("record", std::string("is not valid: ") + e.what());
  }
  if (r.deployment != deployment) {
    row.corrupt("record", "names deployment '" + detail::printable(r.deployment) + "'");
  }
  return r;
}

inline RolloutLease read_lease(sqlite3_stmt* s, const std::string& where) {
  RowReader row(s, where, &lease_label);
  RolloutLease l;
  l.deployment = row.text(0, "deployment");
  l.owner = row.text(1, "owner");
  l.expires_at = from_unix_nanos(row.integer(2, "expires_at_ns"));
  l.token = row.positive(3, "token");
  return l;
}

/// A rollout_window_figures row, refusing what put_window_figures() never writes.
inline WindowFigures read_window_figures(sqlite3_stmt* s, const std::string& where) {
  RowReader row(s, where, &window_figures_label);
  return registry_rows::decode_window_figures(row);
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
/// Not thread-safe: it belongs to the one thread using its connection.
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

}  // namespace switchyard::detail::sqlite
