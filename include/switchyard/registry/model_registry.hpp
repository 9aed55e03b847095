// SPDX-License-Identifier: Apache-2.0
// ModelRegistry: versions, stages, aliases, metadata, validation gates, audit and rollback.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/snapshot_cell.hpp>
#include <switchyard/detail/string_hash.hpp>
#include <switchyard/registry/detail/per_thread_refs.hpp>
#include <switchyard/registry/model_version.hpp>
#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/registry/validation.hpp>
#include <switchyard/core/model_source.hpp>

namespace switchyard {

class ArtifactStore;
class EventHub;
struct RegistryEvent;
class ModelLoader;

/// The metadata a caller supplies when registering a version (seed 003's fields). The registry
/// assigns name, version, stage, created time and artifact.
struct VersionMetadata {
  std::string semver;  ///< optional "MAJOR.MINOR.PATCH[-pre][+build]", unique per model
  std::string run_id;
  std::string dataset_version;
  std::map<std::string, double> metrics;
  std::map<std::string, std::map<std::string, double>> group_metrics;
  Signature signature;  ///< empty: taken from the loaded model
  std::map<std::string, std::string> dependencies;
  std::string owner;
  std::string changelog;
  std::string description;
  std::map<std::string, std::string> tags;
};

/// Model bytes in a loader format (e.g. LinearModel::to_artifact() in "switchyard.linear").
struct Artifact {
  std::string format;
  std::string bytes;
};

/// Who asks for a change and why; recorded in the audit trail.
struct ChangeContext {
  std::string actor = "unknown";
  std::string reason{};
};

/// Options of a stage transition.
struct TransitionOptions {
  std::string actor = "unknown";
  std::string reason{};
  /// Production only: keep the current Production version(s) in Production instead of archiving
  /// them in the same transaction ("at most one Production version unless asked").
  bool keep_existing_production = false;
  /// Development -> Staging: gates to run instead of the model's configured policy.
  std::optional<ValidationPolicy> policy{};
  /// What this transition shows for itself (a shadow run, an A/B test, a sign-off): recorded on
  /// the version's audit row in the same transaction, passed or not, and checked against the
  /// model's PromotionPolicy when the version moves Staging -> Production. At most
  /// kMaxEvidencePerTransition; each is checked as PromotionEvidence describes.
  std::vector<PromotionEvidence> evidence{};
  /// Aliases to point at this version in the same transaction (a promotion moving "champion"),
  /// each with its own "alias" audit row and alias_moved event. Each must be a valid alias that
  /// names no selector or stage (InvalidArgument, nothing changed). Not allowed with Rejected.
  std::vector<std::string> move_aliases{};
  /// Runs inside the transition's store transaction, after the registry's own writes and before
  /// commit: a controller writes the rows it keeps beside the registry (its rollout state, checked
  /// against its lease) so that they commit with the transition or not at all. It may write only
  /// rows the registry does not cache (put_rollout, put_lease, remove_lease). What it throws
  /// aborts the transition (nothing is written) and propagates to the caller.
  std::function<void(RegistryTransaction&)> in_transaction{};
};

/// The version registry of a service: register, validate, promote, alias, roll back, audit.
///
/// Writes go through the RegistryStore, one transaction per operation with its audit rows, and are
/// acknowledged only once durable; then the in-memory snapshot is republished and events fire.
/// Reads (get, latest, resolve, ...) come from that immutable snapshot: no lock, no I/O, and no
/// write to memory another thread uses, so lookups scale across threads: each thread borrows the
/// snapshot through its own cached slot, and the VersionRef it gets is counted in a control block
/// of its own (one per thread and version), not in one all readers share. Another process or
/// registry instance sharing the store sees this one's commits after refresh().
///
/// Lifecycle (seed 003): Development -> Staging (gated) -> Production -> Archived, and Rejected.
/// Allowed: Development -> Staging | Archived | Rejected; Staging -> Production | Development |
/// Archived | Rejected; Production -> Archived; Archived -> Staging; Rejected -> Archived.
/// Archived -> Production happens only through rollback(), to a version that served before.
///
/// Staging -> Production may require evidence (set_promotion_policy): passed evidence of some
/// kinds (a shadow run or an A/B test) and a sign-off, given in TransitionOptions::evidence and
/// kept in the audit trail with the transition.
///
/// Errors: InvalidArgument (names, metadata, URIs, evidence), NotFound, AlreadyExists,
/// InvalidTransition (including a promotion without the evidence its policy requires),
/// ValidationFailed, LoadError, IntegrityError, StorageError, CorruptStore. A failed call changes
/// nothing (except a failed gate, which by design records the version as Rejected).
///
/// Thread-safe: every member may be called concurrently; writes are serialised.
/// Neither copyable nor movable. The store, artifact store, loader and clock must outlive it.
///
/// @code
/// auto store = std::make_unique<switchyard::SqliteRegistryStore>("registry.db");
/// switchyard::ArtifactStore artifacts("artifacts");
/// switchyard::ModelRegistry registry({.store = store.get(), .artifacts = &artifacts});
/// auto v = registry.register_version("fraud-detection",
///     {"switchyard.linear", model.to_artifact()}, {.metrics = {{"auc", 0.91}}}, {.actor = "ci"});
/// registry.transition("fraud-detection", v->version, switchyard::Stage::kStaging, {.actor = "ci"});
/// registry.transition("fraud-detection", v->version, switchyard::Stage::kProduction,
///                     {.actor = "alice", .reason = "beats v3 by 2pt AUC"});
/// auto prod = registry.resolve("models:/fraud-detection/Production");
/// @endcode
class ModelRegistry final : public ModelSource {
 public:
  struct Options {
    RegistryStore* store = nullptr;       ///< required
    ArtifactStore* artifacts = nullptr;   ///< required
    ModelLoader* loader = nullptr;        ///< null: a loader with the built-in formats
    const Clock* clock = nullptr;         ///< null: the system clock
    EventHub* events = nullptr;           ///< null: the registry's own hub (see events())
    NameRules names{};                    ///< model-name rules (default `<domain>-<task>`)
    /// Artifacts of at most this many bytes are kept in the registry store, written in the
    /// register's own transaction: one durable flush instead of three (file, directory, store),
    /// never an orphaned file, and every process or replica sharing the store can load them.
    /// Larger ones are files in the artifact directory. 0: every artifact is a file. At most
    /// kMaxStoreArtifactBytes. The default follows SQLite's measurements that blobs below about
    /// 100 KB read faster from the database than from separate files.
    std::size_t max_store_artifact_bytes = std::size_t{128} << 10;
  };

  SWITCHYARD_API explicit ModelRegistry(Options options);
  SWITCHYARD_API ~ModelRegistry() override;
  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // ---- writes ------------------------------------------------------------------------------

  /// Registers the next version of `name` (1 for a new name) in Development. The artifact is
  /// loaded first (it must produce a model), then stored content-addressed, then recorded.
  SWITCHYARD_API VersionRef register_version(std::string_view name, const Artifact& artifact,
                                             VersionMetadata metadata,
                                             const ChangeContext& context = {});
  /// Moves a version to `to` (see the class comment). Development -> Staging runs the gates;
  /// when they fail the version becomes Rejected (recorded with the failures) and
  /// ValidationFailed is thrown. Staging -> Production checks the model's PromotionPolicy against
  /// options.evidence and throws InvalidTransition naming what is missing, changing nothing.
  /// Malformed evidence throws InvalidArgument naming `evidence[i].<field>`, changing nothing.
  /// The evidence is kept on the version's audit row. Returns the updated version.
  SWITCHYARD_API VersionRef transition(std::string_view name, std::int64_t version, Stage to,
                                       const TransitionOptions& options = {});
  /// Returns `name` to its last known-good version: the most recent one that was in Production
  /// and is now Archived (or `target` when given, which must have been in Production before).
  /// The current Production version is archived; both changes are one transaction.
  SWITCHYARD_API VersionRef rollback(std::string_view name, const ChangeContext& context,
                                     std::optional<std::int64_t> target = std::nullopt);
  /// Points `alias` ("champion", "challenger", any valid name) at a version, moving it if set.
  SWITCHYARD_API void set_alias(std::string_view name, std::string_view alias,
                                std::int64_t version, const ChangeContext& context = {});
  /// Deletes an alias; NotFound if it does not exist.
  SWITCHYARD_API void remove_alias(std::string_view name, std::string_view alias,
                                   const ChangeContext& context = {});
  /// Gates Development -> Staging of `name` by default (replaces the previous policy).
  SWITCHYARD_API void set_validation_policy(std::string_view name, ValidationPolicy policy);
  /// The evidence Staging -> Production of `name` requires from now on (replaces the previous
  /// policy; a default-constructed one requires nothing). Like the validation policy it is held
  /// by this registry instance, in memory: not persisted in the store, not shared with other
  /// instances or processes, and set again by the host at startup. Throws InvalidArgument for an
  /// invalid model name or evidence kind.
  SWITCHYARD_API void set_promotion_policy(std::string_view name, PromotionPolicy policy);
  /// The promotion policy of `name` (the default, requiring nothing, when none was set).
  SWITCHYARD_API PromotionPolicy promotion_policy(std::string_view name) const;

  // ---- validation --------------------------------------------------------------------------

  /// Runs `policy` (or the configured policy) against a version without changing anything.
  SWITCHYARD_API ValidationReport validate(std::string_view name, std::int64_t version,
                                           const std::optional<ValidationPolicy>& policy =
                                               std::nullopt);

  // ---- reads (snapshot: no lock, no I/O) -----------------------------------------------------

  /// The version; throws NotFound naming model and version.
  SWITCHYARD_API VersionRef get(std::string_view name, std::int64_t version) const;
  /// The highest version of `name`; throws NotFound.
  SWITCHYARD_API VersionRef latest(std::string_view name) const;
  SWITCHYARD_API VersionRef by_alias(std::string_view name, std::string_view alias) const;
  SWITCHYARD_API VersionRef by_semver(std::string_view name, std::string_view semver) const;
  /// The highest version of `name` in `stage`; throws NotFound when none is.
  SWITCHYARD_API VersionRef in_stage(std::string_view name, Stage stage) const;
  /// Versions of `name`, ascending, optionally only those in `stage`.
  SWITCHYARD_API std::vector<VersionRef> versions(std::string_view name,
                                                  std::optional<Stage> stage = {}) const;
  /// Aliases of `name` and the versions they name.
  SWITCHYARD_API std::map<std::string, std::int64_t> aliases(std::string_view name) const;
  /// Registered model names, sorted.
  SWITCHYARD_API std::vector<std::string> models() const;
  /// Looks a version up by selector: "latest", a number ("3"), "@alias" or an alias, a stage
  /// ("Production"), or a semantic version ("1.2.0"). Throws NotFound / InvalidArgument.
  SWITCHYARD_API VersionRef find(std::string_view name, std::string_view selector) const;
  /// Resolves MLflow-style URIs: models:/name/3, models:/name/latest, models:/name/Production,
  /// models:/name@alias. Throws InvalidArgument for a malformed URI, NotFound for no match.
  SWITCHYARD_API VersionRef resolve(std::string_view uri) const;

  // ---- audit (reads the store) ----------------------------------------------------------------

  /// The audit trail of `name` in order: what changed, by whom, when and why.
  SWITCHYARD_API std::vector<AuditRecord> history(std::string_view name) const;
  SWITCHYARD_API std::vector<AuditRecord> audit(const AuditQuery& query) const;
  /// The version(s) of `name` that were in Production at instant `t`, ascending.
  SWITCHYARD_API std::vector<std::int64_t> production_at(std::string_view name, TimePoint t) const;

  // ---- serving ----------------------------------------------------------------------------------

  /// ModelSource: the loaded model of a version, verified against its SHA-256. Loaded models are
  /// shared while anyone holds them. Throws NotFound, IntegrityError, LoadError.
  SWITCHYARD_API ModelPtr load(std::string_view name, std::int64_t version) override;
  /// The bytes of a version's artifact, wherever they are kept, verified against its size and
  /// SHA-256. Throws NotFound (unknown version, or bytes missing), IntegrityError, StorageError.
  SWITCHYARD_API std::string read_artifact(std::string_view name, std::int64_t version) const;

  // ---- sharing a store ---------------------------------------------------------------------------

  /// Picks up commits made by other registry instances or processes on the same store. Cheap when
  /// nothing changed (one data_version check). Returns true when the snapshot changed.
  SWITCHYARD_API bool refresh();
  /// Reloads the whole snapshot from the store.
  SWITCHYARD_API void reload();

  // ---- export / import -----------------------------------------------------------------------------

  /// The whole registry (versions, aliases, audit trail, and the artifacts kept in the store) as
  /// human-readable JSON. Throws IntegrityError when a stored artifact fails verification.
  SWITCHYARD_API std::string export_json() const;
  /// Restores an export into this registry, which must be empty; one transaction. Artifacts kept
  /// in the store travel inside the export (format_version 2, base64) and are verified against
  /// their SHA-256; file artifacts must already be in the artifact directory (copy it). Missing
  /// or mismatched ones are all named in NotFound / IntegrityError, and nothing is written.
  SWITCHYARD_API void import_json(std::string_view json);

  /// The signals this registry emits (its own hub unless Options::events was given).
  SWITCHYARD_API EventHub& events() noexcept;
  const Clock& clock() const noexcept { return *clock_; }
  RegistryStore& store() noexcept { return *store_; }

 private:
  struct ModelEntry;
  struct Snapshot;

  const ModelEntry& entry(std::string_view name) const;
  const ModelEntry* find_entry(std::string_view name) const noexcept;
  void apply_state(StoreState state, const std::vector<std::string>& models, bool replace_all);
  void after_commit(std::int64_t first_sequence, std::int64_t previous_sequence,
                    const std::string& model) SWITCHYARD_REQUIRES(write_mu_);
  // Republishes the snapshot after a commit: applies `mutate` to a copy of the model's entry when
  // no other writer committed since `snap`, otherwise re-reads what changed from the store.
  template <class Mutate>
  void publish_change(const std::shared_ptr<const Snapshot>& snap, const std::string& model,
                      std::int64_t first_sequence, std::int64_t last_sequence, bool may_be_new,
                      Mutate&& mutate) SWITCHYARD_REQUIRES(write_mu_);
  // Runs every gate of `policy` on `v` against the current snapshot; takes no registry lock
  // (gates may be slow). `baseline` (when given) receives the Production version compared with.
  ValidationReport run_gates(const ModelVersion& v, const ValidationPolicy& policy,
                             VersionRef* baseline = nullptr);
  // Throws InvalidTransition unless `evidence` meets the promotion policy of `v`'s model.
  void require_promotion_evidence(const ModelVersion& v,
                                  const std::vector<PromotionEvidence>& evidence) const;
  // Throws InvalidTransition when `gated` or its gate baseline changed in `snap`.
  void require_gate_inputs_unchanged(const Snapshot& snap, const ModelVersion& gated,
                                     const VersionRef& baseline) const;
  std::string read_verified(const ModelVersion& v) const;
  void emit(const RegistryEvent& e);

  RegistryStore* store_;
  ArtifactStore* artifacts_;
  std::unique_ptr<ModelLoader> own_loader_;
  ModelLoader* loader_;
  const Clock* clock_;
  std::unique_ptr<EventHub> own_events_;
  EventHub* events_;
  NameRules names_;
  std::size_t max_store_artifact_bytes_;

  detail::Mutex write_mu_;  // serialises writes and snapshot rebuilds
  detail::SnapshotCell<Snapshot> snapshot_;
  // The refs lookups return: counted per thread, so threads reading one version do not contend.
  detail::registry::PerThreadRefs<ModelVersion> refs_;
  mutable detail::Mutex policy_mu_;
  std::map<std::string, ValidationPolicy, std::less<>> policies_ SWITCHYARD_GUARDED_BY(policy_mu_);
  std::map<std::string, PromotionPolicy, std::less<>> promotion_policies_
      SWITCHYARD_GUARDED_BY(policy_mu_);
  mutable detail::Mutex cache_mu_;
  std::map<std::pair<std::string, std::int64_t>, std::weak_ptr<const Model>> loaded_
      SWITCHYARD_GUARDED_BY(cache_mu_);
};

/// Checks a semantic version string (MAJOR.MINOR.PATCH with optional -prerelease and +build,
/// semver.org 2.0). Throws InvalidArgument naming the text.
SWITCHYARD_API void validate_semver(std::string_view text);

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/registry/model_registry-inl.hpp>
#endif
