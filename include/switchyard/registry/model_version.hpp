// SPDX-License-Identifier: Apache-2.0
// ModelVersion: everything the registry records about one version of a model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/promotion_evidence.hpp>
#include <switchyard/core/signature.hpp>
#include <switchyard/core/stage.hpp>

namespace switchyard {

/// The `uri` prefix of an artifact kept in the registry store itself rather than in the artifact
/// directory: "store:sha256/<64 hex>".
inline constexpr std::string_view kStoreArtifactPrefix = "store:";

/// Where a version's model bytes live, content-addressed either way: a file in the artifact
/// directory ("sha256/ab/ab12...", relative to its root) or a row of the registry store
/// ("store:sha256/ab12..."; ModelRegistry keeps small artifacts there, see
/// ModelRegistry::Options::max_store_artifact_bytes). Both are verified against `sha256` and
/// `size` whenever they are read.
struct ArtifactRef {
  std::string format;   ///< loader format, e.g. "switchyard.linear"
  std::string sha256;   ///< lowercase hex of the artifact's SHA-256
  std::uint64_t size = 0;
  std::string uri;     ///< "sha256/ab/ab12..." (artifact directory) or "store:sha256/ab12..."

  /// True when the bytes are in the registry store (uri starts with kStoreArtifactPrefix).
  bool in_store() const noexcept { return uri.starts_with(kStoreArtifactPrefix); }
  /// The uri of an artifact kept in the registry store.
  static std::string store_uri(std::string_view sha256) {
    std::string uri(kStoreArtifactPrefix);
    uri.append("sha256/").append(sha256);
    return uri;
  }

  friend bool operator==(const ArtifactRef&, const ArtifactRef&) = default;
};

/// One registered version and its metadata (seed 003's required fields). Values are immutable
/// once in a registry snapshot; the registry hands them out as shared_ptr<const ModelVersion>.
/// Thread-safe: a value type; const access from many threads is safe.
struct ModelVersion {
  std::string name;              ///< `<domain>-<task>`, e.g. "fraud-detection"
  std::int64_t version = 0;      ///< 1, 2, 3... per name, assigned by the registry
  std::string semver;            ///< optional semantic version kept as metadata ("2.1.0")
  Stage stage = Stage::kDevelopment;
  std::string run_id;            ///< training run in the experiment tracker
  std::string dataset_version;
  std::map<std::string, double> metrics;  ///< offline evaluation, e.g. {"auc": 0.91}
  /// Metrics per population group, for bias gates: group -> metric -> value.
  std::map<std::string, std::map<std::string, double>> group_metrics;
  Signature signature;
  std::map<std::string, std::string> dependencies;  ///< package -> version
  std::string owner;
  std::string changelog;
  std::string description;
  std::map<std::string, std::string> tags;
  TimePoint created_at{};
  TimePoint stage_changed_at{};
  ArtifactRef artifact;

  friend bool operator==(const ModelVersion&, const ModelVersion&) = default;
};

/// An immutable version record shared with the registry snapshot.
using VersionRef = std::shared_ptr<const ModelVersion>;

/// One row of the append-only audit trail: who changed what, when, why and on what evidence.
struct AuditRecord {
  std::int64_t sequence = 0;  ///< strictly increasing across the store, assigned on commit
  TimePoint at{};
  std::string actor;
  std::string model;
  std::int64_t version = 0;
  std::string action;  ///< "register", "transition", "reject", "rollback", "alias", "alias_removed"
  std::optional<Stage> from_stage;
  std::optional<Stage> to_stage;
  std::string alias;
  std::string reason;
  /// What the change showed for itself (TransitionOptions::evidence), in the order given: on the
  /// transition's row of the version that moved, written in the same transaction. Passed or not,
  /// every piece is kept. Empty for other rows.
  std::vector<PromotionEvidence> evidence{};

  friend bool operator==(const AuditRecord&, const AuditRecord&) = default;
};

}  // namespace switchyard
