// SPDX-License-Identifier: Apache-2.0
// The SQLite store's schema: the migrations that build it and the statements that use it.
#pragma once

#include <cstdint>

#include <switchyard/registry/sqlite_registry_store.hpp>

namespace switchyard::detail::sqlite {

// ---------------------------------------------------------------------------------------------
// Schema. Migration i brings a store from user_version i-1 to i; each runs inside the opening
// transaction together with the user_version bump.

/// One schema step: the user_version it brings a store to and the SQL that does it.
/// Thread-safe: an immutable value (the table below is constexpr).
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
    // v3: the evidence a transition carried, rows of its audit row in the order given. Existing
    // audit rows have none, so the migration only adds the (empty) table.
    {3, R"sql(
CREATE TABLE audit_evidence (
  sequence INTEGER NOT NULL,
  position INTEGER NOT NULL,
  kind TEXT NOT NULL,
  passed INTEGER NOT NULL,
  summary TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  PRIMARY KEY (sequence, position),
  FOREIGN KEY (sequence) REFERENCES audit (sequence)
);
)sql"},
    // v4: rollout state and the lease of the controller driving it, written in the transactions
    // of the registry changes they cause; who vouched for a piece of evidence (a sign-off's
    // signer). Existing evidence rows read as signed by nobody.
    {4, R"sql(
CREATE TABLE rollouts (
  deployment TEXT NOT NULL PRIMARY KEY,
  model TEXT NOT NULL,
  status TEXT NOT NULL,
  step INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  updated_at_ns INTEGER NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX rollouts_by_model ON rollouts (model);
CREATE TABLE rollout_leases (
  deployment TEXT NOT NULL PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at_ns INTEGER NOT NULL,
  token INTEGER NOT NULL
);
ALTER TABLE audit_evidence ADD COLUMN actor TEXT NOT NULL DEFAULT '';
)sql"},
    // v5: each replica's canary figures per evaluation window, merged by the rollout's leader
    // (ClusterCanaryMetrics). A version 4 store gains the table, empty.
    {5, R"sql(
CREATE TABLE rollout_window_figures (
  rollout TEXT NOT NULL,
  window_index INTEGER NOT NULL,
  replica TEXT NOT NULL,
  written_at_ns INTEGER NOT NULL,
  figures BLOB NOT NULL,
  PRIMARY KEY (rollout, window_index, replica)
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
#define SWITCHYARD_EVIDENCE_COLUMNS \
  "sequence, position, kind, passed, summary, detail_json, actor"

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
/// The evidence of the rows kHistory reads (same parameter), in the same order.
inline constexpr const char* kHistoryEvidence =
    "SELECT " SWITCHYARD_EVIDENCE_COLUMNS " FROM audit_evidence WHERE sequence IN "
    "(SELECT sequence FROM audit WHERE model = ?) ORDER BY sequence, position";
/// The start of an audit query; audit_evidence_sql() wraps its filtered form for the evidence.
inline constexpr const char* kSelectAudit = "SELECT " SWITCHYARD_AUDIT_COLUMNS " FROM audit";
inline constexpr const char* kSelectEvidence =
    "SELECT " SWITCHYARD_EVIDENCE_COLUMNS " FROM audit_evidence";
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
inline constexpr const char* kInsertEvidence =
    "INSERT INTO audit_evidence (" SWITCHYARD_EVIDENCE_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?)";
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
inline constexpr const char* kFindRollout =
    "SELECT deployment, record FROM rollouts WHERE deployment = ?";
inline constexpr const char* kUpsertRollout =
    "INSERT INTO rollouts (deployment, model, status, step, revision, updated_at_ns, record) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment) DO UPDATE SET model = excluded.model, "
    "status = excluded.status, step = excluded.step, revision = excluded.revision, "
    "updated_at_ns = excluded.updated_at_ns, record = excluded.record";
inline constexpr const char* kFindLease =
    "SELECT deployment, owner, expires_at_ns, token FROM rollout_leases WHERE deployment = ?";
inline constexpr const char* kUpsertLease =
    "INSERT INTO rollout_leases (deployment, owner, expires_at_ns, token) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (deployment) DO UPDATE SET owner = excluded.owner, "
    "expires_at_ns = excluded.expires_at_ns, token = excluded.token";
inline constexpr const char* kDeleteLease = "DELETE FROM rollout_leases WHERE deployment = ?";
inline constexpr const char* kChangedModels =
    "SELECT DISTINCT model FROM audit WHERE sequence > ? ORDER BY model";
#define SWITCHYARD_FIGURES_COLUMNS "rollout, window_index, replica, written_at_ns, figures"
inline constexpr const char* kUpsertWindowFigures =
    "INSERT INTO rollout_window_figures (" SWITCHYARD_FIGURES_COLUMNS ") VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (rollout, window_index, replica) DO UPDATE SET "
    "written_at_ns = excluded.written_at_ns, figures = excluded.figures";
inline constexpr const char* kPruneWindowFigures =
    "DELETE FROM rollout_window_figures WHERE rollout = ? AND window_index < ?";
/// BINARY collation: replicas ordered bytewise, as PostgreSQL's COLLATE "C".
inline constexpr const char* kLoadWindowFigures =
    "SELECT " SWITCHYARD_FIGURES_COLUMNS " FROM rollout_window_figures WHERE rollout = ? AND "
    "window_index >= ? AND window_index <= ? ORDER BY window_index, replica";
#undef SWITCHYARD_FIGURES_COLUMNS

#undef SWITCHYARD_VERSION_COLUMNS
#undef SWITCHYARD_AUDIT_COLUMNS
#undef SWITCHYARD_EVIDENCE_COLUMNS

}  // namespace switchyard::detail::sqlite
