// SPDX-License-Identifier: Apache-2.0
// RegistryStore: the durable storage interface behind ModelRegistry (SQLite today, PostgreSQL later).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/model_version.hpp>
#include <switchyard/registry/rollout_record.hpp>

namespace switchyard {

/// Largest artifact a RegistryStore keeps: put_artifact() refuses more with InvalidArgument, and
/// a larger stored value reads as CorruptStore. Larger artifacts belong in an ArtifactStore.
inline constexpr std::size_t kMaxStoreArtifactBytes = std::size_t{16} << 20;

namespace detail {
/// What every RegistryTransaction::put_artifact() refuses, with `where` (the store) in the message.
inline void check_store_artifact(const std::string& where, std::string_view sha256,
                                 std::size_t size) {
  require_sha256_hex(sha256, where + ": ");
  if (size > kMaxStoreArtifactBytes) {
    throw InvalidArgument(where + ": artifact " + std::string(sha256) + " has " +
                          std::to_string(size) + " bytes, over the store's limit of " +
                          std::to_string(kMaxStoreArtifactBytes));
  }
}
}  // namespace detail

/// Largest figures blob a RegistryStore keeps per (rollout, window, replica): put_window_figures()
/// refuses more with InvalidArgument, and a larger stored value reads as CorruptStore.
inline constexpr std::size_t kMaxWindowFiguresBytes = std::size_t{8} << 20;

/// One replica's figures for one evaluation window of one rollout: what each replica of a fleet
/// writes and the leader merges (ClusterCanaryMetrics). The store keeps `figures` as opaque
/// bytes; the rollout layer encodes and checks them (encode_canary_window()).
/// Thread-safety: a value type.
struct WindowFigures {
  std::string rollout;      ///< the rollout's key (the deployment's, as RolloutRecord::deployment)
  std::int64_t window = 0;  ///< the window's index, >= 0 (windows aligned on a shared origin)
  std::string replica;      ///< the replica that wrote them, non-empty
  TimePoint written_at{};
  std::string figures;  ///< opaque bytes, at most kMaxWindowFiguresBytes
  friend bool operator==(const WindowFigures&, const WindowFigures&) = default;
};

namespace detail {
/// What every RegistryTransaction::put_window_figures() refuses, with `where` in the message.
inline void check_window_figures(const std::string& where, const WindowFigures& f) {
  const std::string row = where + ": window figures (rollout '" + f.rollout + "', window " +
                          std::to_string(f.window) + ", replica '" + f.replica + "')";
  if (f.rollout.empty()) throw InvalidArgument(row + ": the rollout is empty");
  if (f.replica.empty()) throw InvalidArgument(row + ": the replica is empty");
  if (f.window < 0) throw InvalidArgument(row + ": the window index is negative");
  for (const std::string* text : {&f.rollout, &f.replica}) {
    if (text->find('\0') != std::string::npos) {
      throw InvalidArgument(row + ": the rollout or replica holds a NUL byte");
    }
    if (text->size() > 4096) {
      throw InvalidArgument(row + ": the rollout or replica is over 4096 bytes");
    }
  }
  if (f.figures.size() > kMaxWindowFiguresBytes) {
    throw InvalidArgument(row + ": the figures have " + std::to_string(f.figures.size()) +
                          " bytes, over the store's limit of " +
                          std::to_string(kMaxWindowFiguresBytes));
  }
}
}  // namespace detail

/// An alias row: `model@alias` names `version`.
struct AliasRecord {
  std::string model;
  std::string alias;
  std::int64_t version = 0;
  friend bool operator==(const AliasRecord&, const AliasRecord&) = default;
};

/// A consistent image of (part of) a store.
struct StoreState {
  std::vector<ModelVersion> versions;  ///< ordered by (name, version)
  std::vector<AliasRecord> aliases;
  std::int64_t last_sequence = 0;      ///< audit sequence the image is current to
};

/// Filter for audit queries. Empty fields match everything; results are in sequence order.
struct AuditQuery {
  std::string model;
  std::optional<std::int64_t> version;
  std::optional<TimePoint> from;   ///< inclusive
  std::optional<TimePoint> until;  ///< inclusive
  std::int64_t after_sequence = 0;
  std::size_t limit = 0;           ///< 0: no limit
};

/// One registry operation against the store: reads see the latest committed state plus this
/// transaction's own writes, and other writers are excluded until commit or destruction.
/// commit() returns only once the change is durable; destroying an uncommitted transaction rolls
/// it back. Errors throw StorageError (or CorruptStore for impossible rows) and leave the store as
/// it was. Thread-safety: a transaction belongs to the thread that began it.
class RegistryTransaction {
 public:
  virtual ~RegistryTransaction() = default;
  /// Highest version number ever assigned to `model` (0 when none).
  virtual std::int64_t max_version(std::string_view model) = 0;
  virtual std::optional<ModelVersion> find_version(std::string_view model,
                                                   std::int64_t version) = 0;
  /// A version of `model` whose semantic version string is `semver`, if any (ModelRegistry keeps
  /// them unique per model). Answered from an index: its cost does not grow with the versions.
  virtual std::optional<std::int64_t> find_semver(std::string_view model,
                                                  std::string_view semver) = 0;
  /// Version numbers of `model` currently in `stage`, ascending.
  virtual std::vector<std::int64_t> versions_in_stage(std::string_view model, Stage stage) = 0;
  virtual std::optional<std::int64_t> find_alias(std::string_view model,
                                                 std::string_view alias) = 0;
  /// Audit rows of `model`, in sequence order.
  virtual std::vector<AuditRecord> history(std::string_view model) = 0;
  /// Adds a version; throws AlreadyExists when (name, version) is taken.
  virtual void insert_version(const ModelVersion& v) = 0;
  /// Replaces the stored row of (v.name, v.version); throws NotFound when absent.
  virtual void update_version(const ModelVersion& v) = 0;
  /// Creates or moves an alias; throws NotFound when the version does not exist.
  virtual void set_alias(const AliasRecord& a) = 0;
  /// Deletes an alias; does nothing when it does not exist.
  virtual void remove_alias(std::string_view model, std::string_view alias) = 0;
  /// Appends an audit row (its `sequence` field is ignored) and returns the sequence assigned.
  virtual std::int64_t append_audit(const AuditRecord& r) = 0;
  /// Keeps an artifact's bytes in the store under their SHA-256, durable with this transaction
  /// (content-addressed: storing the same content again replaces the row, which also repairs a
  /// damaged one). The caller vouches that `sha256` is the hash of `bytes`; readers verify it.
  /// Throws InvalidArgument when `sha256` is not 64 lowercase hex characters or `bytes` exceed
  /// the store's limit.
  virtual void put_artifact(std::string_view sha256, std::string_view bytes) = 0;
  /// The rollout of `deployment` as this transaction sees it, if any.
  virtual std::optional<RolloutRecord> find_rollout(std::string_view deployment) = 0;
  /// Creates or replaces the rollout row of `r.deployment`. Throws InvalidArgument for an empty
  /// deployment or model, or text the store cannot carry (NUL, NaN weights, oversized).
  virtual void put_rollout(const RolloutRecord& r) = 0;
  /// The lease on `deployment` as this transaction sees it (expired or not), if any.
  virtual std::optional<RolloutLease> find_lease(std::string_view deployment) = 0;
  /// Creates or replaces the lease row of `l.deployment`. Throws InvalidArgument for an empty
  /// deployment or owner. Use acquire_rollout_lease() rather than this directly.
  virtual void put_lease(const RolloutLease& l) = 0;
  /// Deletes the lease row of `deployment`; does nothing when there is none.
  virtual void remove_lease(std::string_view deployment) = 0;
  /// Creates or replaces the figures row of (f.rollout, f.window, f.replica). Throws
  /// InvalidArgument for an empty rollout or replica, a negative window, a NUL byte, or figures
  /// over kMaxWindowFiguresBytes. Not a registry change: other replicas are not notified
  /// (PostgreSQL) and nothing is audited.
  virtual void put_window_figures(const WindowFigures& f) = 0;
  /// Deletes the figures rows of `rollout` whose window is below `before_window`; returns how
  /// many it deleted.
  virtual std::size_t prune_window_figures(std::string_view rollout,
                                           std::int64_t before_window) = 0;
  /// Makes every write durable and visible to other connections, or throws and changes nothing.
  virtual void commit() = 0;
};

/// Durable registry storage. Implementations: SqliteRegistryStore (default, one file) and
/// InMemoryRegistryStore (tests). The SQL is kept portable so a PostgreSQL store shared by many
/// replicas, with change notifications, fits the same interface.
/// Thread-safety: implementations document theirs; ModelRegistry serialises its own calls.
class RegistryStore {
 public:
  virtual ~RegistryStore() = default;
  /// Starts an exclusive write transaction (waiting for other writers up to the store's timeout).
  virtual std::unique_ptr<RegistryTransaction> begin() = 0;
  /// A consistent image of the whole store.
  virtual StoreState load() = 0;
  /// A consistent image of the named models only.
  virtual StoreState load_models(const std::vector<std::string>& models) = 0;
  /// Models touched by audit rows after `sequence`, and the last sequence in the store.
  virtual std::pair<std::vector<std::string>, std::int64_t> changes_since(
      std::int64_t sequence) = 0;
  /// changes_since() and load_models() of those models from one consistent read: the image's
  /// last_sequence covers exactly what it holds, so a commit by another process between the two
  /// steps can never be skipped. This is what refresh() uses.
  virtual std::pair<std::vector<std::string>, StoreState> load_changes_since(
      std::int64_t sequence) = 0;
  /// Cheap check: true when another connection or process may have committed since the last
  /// call (the first call compares with the state at open; SQLite's data_version). May return
  /// true spuriously, never false wrongly.
  virtual bool may_have_changed() = 0;
  virtual std::vector<AuditRecord> audit(const AuditQuery& query) = 0;
  /// The committed bytes of an artifact kept in the store, or nullopt when there is none. Not
  /// verified here: the caller hashes them. Throws InvalidArgument for a malformed `sha256`.
  virtual std::optional<std::string> read_artifact(std::string_view sha256) = 0;
  /// The committed rollout of `deployment`, if any (a read: it waits for no writer).
  virtual std::optional<RolloutRecord> load_rollout(std::string_view deployment) = 0;
  /// The committed figures rows of `rollout` with first_window <= window <= last_window, ordered
  /// by (window, replica) (bytewise). A row the store could not have written throws CorruptStore
  /// naming it. A read: it waits for no writer.
  virtual std::vector<WindowFigures> load_window_figures(std::string_view rollout,
                                                         std::int64_t first_window,
                                                         std::int64_t last_window) = 0;
  /// Human-readable location, e.g. "sqlite:/var/lib/svc/registry.db", used in error messages.
  virtual std::string describe() const = 0;
};

}  // namespace switchyard
