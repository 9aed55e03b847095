// SPDX-License-Identifier: Apache-2.0
// The PostgreSQL store's schema: the migrations that build it (mirroring the SQLite store's one for
// one) and the statements that use it.
#pragma once

#include <cstdint>
#include <iterator>

#include <switchyard/registry/detail/sqlite_schema.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>

namespace switchyard::detail::postgres {

/// One schema step: the version it brings a database to and the SQL that does it. Each runs in
/// the opening transaction, under the writer lock, together with the version bump.
/// Thread-safe: an immutable value (the table below is constexpr).
struct Migration {
  std::int32_t version;
  const char* sql;
};

// The same tables and columns as detail::sqlite::kMigrations, in PostgreSQL's types: INTEGER
// becomes BIGINT (SQLite's integers are 64-bit), BLOB becomes BYTEA.
inline constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE models (
  name TEXT NOT NULL PRIMARY KEY,
  max_version BIGINT NOT NULL
);
CREATE TABLE model_versions (
  name TEXT NOT NULL,
  version BIGINT NOT NULL,
  stage BIGINT NOT NULL,
  semver TEXT NOT NULL,
  created_at_ns BIGINT NOT NULL,
  stage_changed_at_ns BIGINT NOT NULL,
  artifact_format TEXT NOT NULL,
  artifact_sha256 TEXT NOT NULL,
  artifact_size BIGINT NOT NULL,
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
  version BIGINT NOT NULL,
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES model_versions (name, version)
);
CREATE TABLE audit (
  sequence BIGINT PRIMARY KEY,
  at_ns BIGINT NOT NULL,
  actor TEXT NOT NULL,
  model TEXT NOT NULL,
  version BIGINT NOT NULL,
  action TEXT NOT NULL,
  from_stage BIGINT,
  to_stage BIGINT,
  alias TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX audit_by_model ON audit (model, sequence);
CREATE INDEX audit_by_time ON audit (at_ns);
)sql"},
    {2, R"sql(
CREATE TABLE artifacts (
  sha256 TEXT NOT NULL PRIMARY KEY,
  bytes BYTEA NOT NULL
);
)sql"},
    {3, R"sql(
CREATE TABLE audit_evidence (
  sequence BIGINT NOT NULL,
  position BIGINT NOT NULL,
  kind TEXT NOT NULL,
  passed BIGINT NOT NULL,
  summary TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  PRIMARY KEY (sequence, position),
  FOREIGN KEY (sequence) REFERENCES audit (sequence)
);
)sql"},
    {4, R"sql(
CREATE TABLE rollouts (
  deployment TEXT NOT NULL PRIMARY KEY,
  model TEXT NOT NULL,
  status TEXT NOT NULL,
  step BIGINT NOT NULL,
  revision BIGINT NOT NULL,
  updated_at_ns BIGINT NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX rollouts_by_model ON rollouts (model);
CREATE TABLE rollout_leases (
  deployment TEXT NOT NULL PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at_ns BIGINT NOT NULL,
  token BIGINT NOT NULL
);
ALTER TABLE audit_evidence ADD COLUMN actor TEXT NOT NULL DEFAULT '';
)sql"},
    {5, R"sql(
CREATE TABLE rollout_window_figures (
  rollout TEXT NOT NULL,
  window_index BIGINT NOT NULL,
  replica TEXT NOT NULL,
  written_at_ns BIGINT NOT NULL,
  figures BYTEA NOT NULL,
  PRIMARY KEY (rollout, window_index, replica)
);
)sql"},
};

static_assert(std::size(kMigrations) == kPostgresSchemaVersion, "one migration per schema version");
static_assert(kPostgresSchemaVersion == kSqliteSchemaVersion,
              "the PostgreSQL schema mirrors the SQLite one: add the migration to both");

/// The table that says the database is a Switchyard store, and of which schema version.
inline constexpr const char* kCreateSchemaTable =
    "CREATE TABLE switchyard_schema (application TEXT NOT NULL, version BIGINT NOT NULL)";
inline constexpr const char* kSchemaTableExists =
    "SELECT to_regclass('switchyard_schema') IS NOT NULL, "
    "to_regclass('model_versions') IS NOT NULL";
inline constexpr const char* kReadSchema = "SELECT application, version FROM switchyard_schema";
inline constexpr const char* kInsertSchema =
    "INSERT INTO switchyard_schema (application, version) VALUES ('switchyard', $1)";
inline constexpr const char* kUpdateSchema = "UPDATE switchyard_schema SET version = $1";
inline constexpr const char* kLockWriters = "SELECT pg_advisory_xact_lock($1)";

#define SWITCHYARD_VERSION_COLUMNS                                                      \
  "name, version, stage, semver, created_at_ns, stage_changed_at_ns, artifact_format, " \
  "artifact_sha256, artifact_size, artifact_uri, metadata"
#define SWITCHYARD_AUDIT_COLUMNS \
  "sequence, at_ns, actor, model, version, action, from_stage, to_stage, alias, reason"
#define SWITCHYARD_EVIDENCE_COLUMNS \
  "sequence, position, kind, passed, summary, detail_json, actor"

/// Every table and column the store reads (LIMIT 0): run after opening or migrating, so a
/// database whose tables are not Switchyard's is refused at once.
inline constexpr const char* kCheckSchema[] = {
    "SELECT name, max_version FROM models LIMIT 0",
    "SELECT " SWITCHYARD_VERSION_COLUMNS " FROM model_versions LIMIT 0",
    "SELECT model, alias, version FROM aliases LIMIT 0",
    "SELECT " SWITCHYARD_AUDIT_COLUMNS " FROM audit LIMIT 0",
    "SELECT " SWITCHYARD_EVIDENCE_COLUMNS " FROM audit_evidence LIMIT 0",
    "SELECT sha256, bytes FROM artifacts LIMIT 0",
    "SELECT deployment, model, status, step, revision, updated_at_ns, record FROM rollouts LIMIT 0",
    "SELECT deployment, owner, expires_at_ns, token FROM rollout_leases LIMIT 0",
    "SELECT rollout, window_index, replica, written_at_ns, figures FROM rollout_window_figures "
    "LIMIT 0",
};

inline constexpr const char* kSelectMaxVersion =
    "SELECT name, max_version FROM models WHERE name = $1";
inline constexpr const char* kFindVersion =
    "SELECT " SWITCHYARD_VERSION_COLUMNS " FROM model_versions WHERE name = $1 AND version = $2";
inline constexpr const char* kFindSemver =
    "SELECT name, version FROM model_versions WHERE name = $1 AND semver = $2 LIMIT 1";
inline constexpr const char* kVersionsInStage =
    "SELECT name, version FROM model_versions WHERE name = $1 AND stage = $2 ORDER BY version";
inline constexpr const char* kFindAlias =
    "SELECT model, alias, version FROM aliases WHERE model = $1 AND alias = $2";
inline constexpr const char* kVersionExists =
    "SELECT 1 FROM model_versions WHERE name = $1 AND version = $2";
inline constexpr const char* kHistory =
    "SELECT " SWITCHYARD_AUDIT_COLUMNS " FROM audit WHERE model = $1 ORDER BY sequence";
inline constexpr const char* kHistoryEvidence =
    "SELECT " SWITCHYARD_EVIDENCE_COLUMNS " FROM audit_evidence WHERE sequence IN "
    "(SELECT sequence FROM audit WHERE model = $1) ORDER BY sequence, position";
inline constexpr const char* kSelectAudit = "SELECT " SWITCHYARD_AUDIT_COLUMNS " FROM audit";
inline constexpr const char* kSelectEvidence =
    "SELECT " SWITCHYARD_EVIDENCE_COLUMNS " FROM audit_evidence";
inline constexpr const char* kUpsertModel =
    "INSERT INTO models (name, max_version) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET "
    "max_version = GREATEST(models.max_version, excluded.max_version)";
// ON CONFLICT DO NOTHING: a taken key inserts no row (AlreadyExists) and keeps the transaction
// usable, where a unique violation would abort it.
inline constexpr const char* kInsertVersion =
    "INSERT INTO model_versions (" SWITCHYARD_VERSION_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
inline constexpr const char* kUpdateVersion =
    "UPDATE model_versions SET stage = $1, semver = $2, created_at_ns = $3, "
    "stage_changed_at_ns = $4, artifact_format = $5, artifact_sha256 = $6, artifact_size = $7, "
    "artifact_uri = $8, metadata = $9 WHERE name = $10 AND version = $11";
inline constexpr const char* kUpsertAlias =
    "INSERT INTO aliases (model, alias, version) VALUES ($1, $2, $3) "
    "ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version";
inline constexpr const char* kDeleteAlias = "DELETE FROM aliases WHERE model = $1 AND alias = $2";
inline constexpr const char* kMaxSequence = "SELECT COALESCE(MAX(sequence), 0) FROM audit";
inline constexpr const char* kInsertAudit =
    "INSERT INTO audit (" SWITCHYARD_AUDIT_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
inline constexpr const char* kInsertEvidence =
    "INSERT INTO audit_evidence (" SWITCHYARD_EVIDENCE_COLUMNS
    ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
inline constexpr const char* kLoadVersions =
    "SELECT " SWITCHYARD_VERSION_COLUMNS
    " FROM model_versions ORDER BY name COLLATE \"C\", version";
inline constexpr const char* kLoadVersionsOf =
    "SELECT " SWITCHYARD_VERSION_COLUMNS
    " FROM model_versions WHERE name = ANY($1::text[]) ORDER BY name COLLATE \"C\", version";
inline constexpr const char* kLoadAliases =
    "SELECT model, alias, version FROM aliases ORDER BY model COLLATE \"C\", alias COLLATE \"C\"";
inline constexpr const char* kLoadAliasesOf =
    "SELECT model, alias, version FROM aliases WHERE model = ANY($1::text[]) "
    "ORDER BY model COLLATE \"C\", alias COLLATE \"C\"";
inline constexpr const char* kUpsertArtifact =
    "INSERT INTO artifacts (sha256, bytes) VALUES ($1, $2) "
    "ON CONFLICT (sha256) DO UPDATE SET bytes = excluded.bytes";
inline constexpr const char* kReadArtifact =
    "SELECT sha256, bytes FROM artifacts WHERE sha256 = $1";
inline constexpr const char* kFindRollout =
    "SELECT deployment, record FROM rollouts WHERE deployment = $1";
inline constexpr const char* kUpsertRollout =
    "INSERT INTO rollouts (deployment, model, status, step, revision, updated_at_ns, record) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (deployment) DO UPDATE SET "
    "model = excluded.model, status = excluded.status, step = excluded.step, "
    "revision = excluded.revision, updated_at_ns = excluded.updated_at_ns, "
    "record = excluded.record";
inline constexpr const char* kFindLease =
    "SELECT deployment, owner, expires_at_ns, token FROM rollout_leases WHERE deployment = $1";
inline constexpr const char* kUpsertLease =
    "INSERT INTO rollout_leases (deployment, owner, expires_at_ns, token) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (deployment) DO UPDATE SET owner = excluded.owner, "
    "expires_at_ns = excluded.expires_at_ns, token = excluded.token";
inline constexpr const char* kDeleteLease = "DELETE FROM rollout_leases WHERE deployment = $1";
inline constexpr const char* kChangedModels =
    "SELECT DISTINCT model COLLATE \"C\" FROM audit WHERE sequence > $1 ORDER BY 1";
inline constexpr const char* kUpsertWindowFigures =
    "INSERT INTO rollout_window_figures (rollout, window_index, replica, written_at_ns, figures) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (rollout, window_index, replica) DO UPDATE SET "
    "written_at_ns = excluded.written_at_ns, figures = excluded.figures";
inline constexpr const char* kPruneWindowFigures =
    "DELETE FROM rollout_window_figures WHERE rollout = $1 AND window_index < $2";
/// Read in binary form (the figures are bytes), so the integers are cast to text.
inline constexpr const char* kLoadWindowFigures =
    "SELECT rollout, window_index::text, replica, written_at_ns::text, figures "
    "FROM rollout_window_figures WHERE rollout = $1 AND window_index >= $2 AND "
    "window_index <= $3 ORDER BY window_index, replica COLLATE \"C\"";

#undef SWITCHYARD_VERSION_COLUMNS
#undef SWITCHYARD_AUDIT_COLUMNS
#undef SWITCHYARD_EVIDENCE_COLUMNS

}  // namespace switchyard::detail::postgres
