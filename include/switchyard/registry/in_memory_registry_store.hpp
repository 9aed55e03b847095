// SPDX-License-Identifier: Apache-2.0
// InMemoryRegistryStore: a complete RegistryStore held in memory, for tests and quick starts.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/exclusive_gate.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard {

/// A RegistryStore that keeps everything in memory and forgets it with its last connection.
///
/// It honours the same contract as SqliteRegistryStore, so code tested against it behaves the
/// same on the durable store: a transaction buffers its writes and applies them all at commit()
/// (an uncommitted or destroyed transaction changes nothing); begin() excludes every other writer
/// until commit or destruction (waiting up to Options::busy_timeout, then StorageError; at once
/// when the same thread still holds one); reads never see uncommitted writes; audit sequence
/// numbers increase strictly. It refuses what the SQLite store refuses: an empty name, a version
/// below 1, metadata JSON cannot carry (NaN, NUL characters) and malformed audit evidence, with
/// InvalidArgument.
///
/// connect() opens another connection to the same data, standing in for a second process on
/// one SQLite file: may_have_changed() on one connection reports commits made through the others.
///
/// Thread-safety: every member may be called concurrently, on one connection or several. A
/// transaction belongs to the thread that began it and must not outlive its connection.
///
/// @code
/// auto store = std::make_shared<switchyard::InMemoryRegistryStore>();
/// auto replica = store->connect();  // e.g. a second ModelRegistry in the same test
/// @endcode
class InMemoryRegistryStore final : public RegistryStore {
 public:
  struct Options {
    /// Used in describe() and error messages: "memory:<name>". Default "registry".
    std::string name = "registry";
    /// How long begin() waits for another connection's open transaction. Default 5 s.
    std::chrono::milliseconds busy_timeout{5000};
  };

  InMemoryRegistryStore() : InMemoryRegistryStore(Options{}) {}
  explicit InMemoryRegistryStore(Options options)
      : shared_(std::make_shared<Shared>(std::move(options))) {}
  InMemoryRegistryStore(const InMemoryRegistryStore&) = delete;
  InMemoryRegistryStore& operator=(const InMemoryRegistryStore&) = delete;

  /// Another connection to the same data; it keeps the data alive as long as it lives.
  std::unique_ptr<InMemoryRegistryStore> connect() const {
    return std::unique_ptr<InMemoryRegistryStore>(new InMemoryRegistryStore(shared_));
  }

  std::unique_ptr<RegistryTransaction> begin() override;

  StoreState load() override {
    detail::MutexLock lk(shared_->mu);
    StoreState state;
    for (const auto& [name, model] : shared_->models) append(name, model, state);
    state.last_sequence = shared_->last_sequence();
    return state;
  }

  StoreState load_models(const std::vector<std::string>& models) override {
    const std::set<std::string> names(models.begin(), models.end());
    detail::MutexLock lk(shared_->mu);
    StoreState state;
    for (const auto& name : names) {
      auto it = shared_->models.find(name);
      if (it != shared_->models.end()) append(name, it->second, state);
    }
    state.last_sequence = shared_->last_sequence();
    return state;
  }

  std::pair<std::vector<std::string>, std::int64_t> changes_since(std::int64_t sequence) override {
    detail::MutexLock lk(shared_->mu);
    std::set<std::string> changed;
    for (const auto& r : shared_->audit) {
      if (r.sequence > sequence) changed.insert(r.model);
    }
    return {std::vector<std::string>(changed.begin(), changed.end()), shared_->last_sequence()};
  }

  /// changes_since() and load_models() of its models under one lock; see
  /// SqliteRegistryStore::load_changes_since().
  std::pair<std::vector<std::string>, StoreState> load_changes_since(
      std::int64_t sequence) override {
    detail::MutexLock lk(shared_->mu);
    std::set<std::string> changed;
    for (const auto& r : shared_->audit) {
      if (r.sequence > sequence) changed.insert(r.model);
    }
    StoreState state;
    for (const auto& name : changed) {
      auto it = shared_->models.find(name);
      if (it != shared_->models.end()) append(name, it->second, state);
    }
    state.last_sequence = shared_->last_sequence();
    return {std::vector<std::string>(changed.begin(), changed.end()), std::move(state)};
  }

  bool may_have_changed() override {
    detail::MutexLock lk(shared_->mu);
    const std::uint64_t foreign = shared_->commits - own_commits_.load(std::memory_order_relaxed);
    const bool changed = foreign != seen_foreign_commits_;
    seen_foreign_commits_ = foreign;
    return changed;
  }

  std::vector<AuditRecord> audit(const AuditQuery& q) override {
    detail::MutexLock lk(shared_->mu);
    std::vector<AuditRecord> out;
    for (const auto& r : shared_->audit) {
      if (q.limit > 0 && out.size() >= q.limit) break;
      if (r.sequence <= q.after_sequence) continue;
      if (!q.model.empty() && r.model != q.model) continue;
      if (q.version && r.version != *q.version) continue;
      if (q.from && r.at < *q.from) continue;
      if (q.until && r.at > *q.until) continue;
      out.push_back(r);
    }
    return out;
  }

  std::optional<std::string> read_artifact(std::string_view sha256) override {
    detail::require_sha256_hex(sha256, describe() + ": ");
    detail::MutexLock lk(shared_->mu);
    auto it = shared_->artifacts.find(sha256);
    if (it == shared_->artifacts.end()) return std::nullopt;
    return it->second;
  }

  std::optional<RolloutRecord> load_rollout(std::string_view deployment) override {
    detail::MutexLock lk(shared_->mu);
    auto it = shared_->rollouts.find(deployment);
    if (it == shared_->rollouts.end()) return std::nullopt;
    return it->second;
  }

  std::vector<WindowFigures> load_window_figures(std::string_view rollout,
                                                 std::int64_t first_window,
                                                 std::int64_t last_window) override {
    detail::MutexLock lk(shared_->mu);
    std::vector<WindowFigures> out;
    for (auto it = shared_->figures.lower_bound(FiguresKey{std::string(rollout), first_window, ""});
         it != shared_->figures.end() && std::get<0>(it->first) == rollout &&
         std::get<1>(it->first) <= last_window;
         ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  std::string describe() const override { return "memory:" + shared_->options.name; }

 private:
  class Transaction;

  struct Model {
    std::map<std::int64_t, ModelVersion> versions;
    std::map<std::string, std::int64_t, std::less<>> aliases;
    std::int64_t max_version = 0;
  };

  // (rollout, window, replica): ordered as load_window_figures() returns them.
  using FiguresKey = std::tuple<std::string, std::int64_t, std::string>;

  struct Shared {
    explicit Shared(Options o) : options(std::move(o)) {}
    std::int64_t last_sequence() const SWITCHYARD_REQUIRES(mu) {
      return audit.empty() ? 0 : audit.back().sequence;
    }

    const Options options;
    detail::ExclusiveGate writer;  // held by the open transaction, across connections
    detail::Mutex mu;
    std::map<std::string, Model, std::less<>> models SWITCHYARD_GUARDED_BY(mu);
    std::vector<AuditRecord> audit SWITCHYARD_GUARDED_BY(mu);
    std::map<std::string, std::string, std::less<>> artifacts SWITCHYARD_GUARDED_BY(mu);
    std::map<std::string, RolloutRecord, std::less<>> rollouts SWITCHYARD_GUARDED_BY(mu);
    std::map<std::string, RolloutLease, std::less<>> leases SWITCHYARD_GUARDED_BY(mu);
    std::map<FiguresKey, WindowFigures> figures SWITCHYARD_GUARDED_BY(mu);
    std::uint64_t commits SWITCHYARD_GUARDED_BY(mu) = 0;
  };

  explicit InMemoryRegistryStore(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {
    // Like a new SQLite connection: what was committed before it opened is not news to it.
    detail::MutexLock lk(shared_->mu);
    seen_foreign_commits_ = shared_->commits;
  }

  static void append(const std::string& name, const Model& model, StoreState& state) {
    for (const auto& [v, version] : model.versions) state.versions.push_back(version);
    for (const auto& [alias, v] : model.aliases) state.aliases.push_back({name, alias, v});
  }

  std::shared_ptr<Shared> shared_;
  // Commits made through this connection; only changed and read under shared_->mu (atomic only
  // because the transaction reaches it through another path than the analysis can follow).
  std::atomic<std::uint64_t> own_commits_{0};
  // The foreign commit count the last may_have_changed() saw.
  std::uint64_t seen_foreign_commits_ SWITCHYARD_GUARDED_BY(shared_->mu) = 0;
};

/// Buffers writes; commit() applies them under the data lock in one step.
class InMemoryRegistryStore::Transaction final : public RegistryTransaction {
 public:
  explicit Transaction(InMemoryRegistryStore& connection)
      : connection_(connection), shared_(connection.shared_) {
    using Outcome = detail::ExclusiveGate::Outcome;
    switch (shared_->writer.acquire_for(shared_->options.busy_timeout)) {
      case Outcome::kAcquired:
        break;
      case Outcome::kHeldByThisThread:
        throw StorageError(connection.describe() +
                           ": this thread still holds an open transaction on the store; commit "
                           "or destroy it first");
      case Outcome::kTimedOut:
        throw StorageError(connection.describe() + ": timed out after " +
                           std::to_string(shared_->options.busy_timeout.count()) +
                           " ms waiting for another transaction");
    }
    holds_writer_ = true;
  }
  ~Transaction() override { release(); }

  std::int64_t max_version(std::string_view model) override {
    check_active();
    auto it = max_versions_.find(model);
    if (it != max_versions_.end()) return it->second;
    detail::MutexLock lk(shared_->mu);
    auto m = shared_->models.find(model);
    return m == shared_->models.end() ? 0 : m->second.max_version;
  }

  std::optional<ModelVersion> find_version(std::string_view model, std::int64_t version) override {
    check_active();
    auto it = versions_.find(std::make_pair(std::string(model), version));
    if (it != versions_.end()) return it->second;
    detail::MutexLock lk(shared_->mu);
    auto m = shared_->models.find(model);
    if (m == shared_->models.end()) return std::nullopt;
    auto v = m->second.versions.find(version);
    if (v == m->second.versions.end()) return std::nullopt;
    return v->second;
  }

  std::optional<std::int64_t> find_semver(std::string_view model,
                                          std::string_view semver) override {
    check_active();
    const auto matches = versions_where(model, [&](const ModelVersion& v) {
      return v.semver == semver;
    });
    if (matches.empty()) return std::nullopt;
    return *matches.begin();
  }

  std::vector<std::int64_t> versions_in_stage(std::string_view model, Stage stage) override {
    check_active();
    const auto out = versions_where(model, [&](const ModelVersion& v) { return v.stage == stage; });
    return std::vector<std::int64_t>(out.begin(), out.end());
  }

  std::optional<std::int64_t> find_alias(std::string_view model, std::string_view alias) override {
    check_active();
    auto it = aliases_.find(std::make_pair(std::string(model), std::string(alias)));
    if (it != aliases_.end()) return it->second;
    detail::MutexLock lk(shared_->mu);
    auto m = shared_->models.find(model);
    if (m == shared_->models.end()) return std::nullopt;
    auto a = m->second.aliases.find(alias);
    if (a == m->second.aliases.end()) return std::nullopt;
    return a->second;
  }

  std::vector<AuditRecord> history(std::string_view model) override {
    check_active();
    std::vector<AuditRecord> out;
    {
      detail::MutexLock lk(shared_->mu);
      for (const auto& r : shared_->audit) {
        if (r.model == model) out.push_back(r);
      }
    }
    for (const auto& r : audit_) {
      if (r.model == model) out.push_back(r);
    }
    return out;
  }

  void insert_version(const ModelVersion& v) override {
    check_active();
    check_storable(v);
    if (find_version(v.name, v.version)) {
      throw AlreadyExists(connection_.describe() + ": model " + key(v.name, v.version) +
                          " already exists");
    }
    const std::int64_t max = std::max(max_version(v.name), v.version);
    versions_[std::make_pair(v.name, v.version)] = v;
    max_versions_[v.name] = max;
  }

  void update_version(const ModelVersion& v) override {
    check_active();
    check_storable(v);
    if (!find_version(v.name, v.version)) {
      throw NotFound(connection_.describe() + ": model " + key(v.name, v.version) +
                     " does not exist");
    }
    versions_[std::make_pair(v.name, v.version)] = v;
  }

  void set_alias(const AliasRecord& a) override {
    check_active();
    if (!find_version(a.model, a.version)) {
      throw NotFound(connection_.describe() + ": alias '" + a.alias + "' names model " +
                     key(a.model, a.version) + ", which does not exist");
    }
    aliases_[std::make_pair(a.model, a.alias)] = a.version;
  }

  void remove_alias(std::string_view model, std::string_view alias) override {
    check_active();
    aliases_[std::make_pair(std::string(model), std::string(alias))] = std::nullopt;
  }

  std::int64_t append_audit(const AuditRecord& r) override {
    check_active();
    validate_promotion_evidence(r.evidence, "audit ");  // the SQLite store refuses the same
    if (!base_sequence_) {
      detail::MutexLock lk(shared_->mu);
      base_sequence_ = shared_->last_sequence();
    }
    AuditRecord row = r;
    row.sequence = *base_sequence_ + static_cast<std::int64_t>(audit_.size()) + 1;
    audit_.push_back(row);
    return row.sequence;
  }

  void put_artifact(std::string_view sha256, std::string_view bytes) override {
    check_active();
    detail::check_store_artifact(connection_.describe(), sha256, bytes.size());
    artifacts_[std::string(sha256)] = std::string(bytes);
  }

  std::optional<RolloutRecord> find_rollout(std::string_view deployment) override {
    check_active();
    auto it = rollouts_.find(deployment);
    if (it != rollouts_.end()) return it->second;
    detail::MutexLock lk(shared_->mu);
    auto r = shared_->rollouts.find(deployment);
    if (r == shared_->rollouts.end()) return std::nullopt;
    return r->second;
  }

  void put_rollout(const RolloutRecord& r) override {
    check_active();
    if (r.deployment.empty()) throw InvalidArgument("rollout record has an empty deployment");
    if (r.model.empty()) {
      throw InvalidArgument("rollout of '" + r.deployment + "' has an empty model name");
    }
    (void)to_json(r, JsonStyle::kCompact);  // refuses what the SQLite store would refuse
    rollouts_[r.deployment] = r;
  }

  std::optional<RolloutLease> find_lease(std::string_view deployment) override {
    check_active();
    auto it = leases_.find(deployment);
    if (it != leases_.end()) return it->second;
    detail::MutexLock lk(shared_->mu);
    auto l = shared_->leases.find(deployment);
    if (l == shared_->leases.end()) return std::nullopt;
    return l->second;
  }

  void put_lease(const RolloutLease& l) override {
    check_active();
    if (l.deployment.empty()) throw InvalidArgument("rollout lease has an empty deployment");
    if (l.owner.empty()) {
      throw InvalidArgument("rollout lease of '" + l.deployment + "' has an empty owner");
    }
    leases_[l.deployment] = l;
  }

  void remove_lease(std::string_view deployment) override {
    check_active();
    leases_[std::string(deployment)] = std::nullopt;
  }

  void put_window_figures(const WindowFigures& f) override {
    check_active();
    detail::check_window_figures(connection_.describe(), f);
    figure_ops_.push_back({f, 0});
  }

  std::size_t prune_window_figures(std::string_view rollout, std::int64_t before_window) override {
    check_active();
    // Counted on the rows as this transaction sees them: the committed ones, then its own ops.
    std::set<FiguresKey> rows;
    {
      detail::MutexLock lk(shared_->mu);
      for (const auto& [k, f] : shared_->figures) {
        if (std::get<0>(k) == rollout) rows.insert(k);
      }
    }
    for (const auto& op : figure_ops_) apply_figure_op(rows, op, rollout);
    std::size_t n = 0;
    for (const auto& k : rows) n += std::get<1>(k) < before_window;
    WindowFigures marker;
    marker.rollout = std::string(rollout);
    figure_ops_.push_back({std::move(marker), before_window});
    return n;
  }

  void commit() override {
    check_active();
    {
      detail::MutexLock lk(shared_->mu);
      for (auto& op : figure_ops_) {
        if (op.prune_before == 0 && !op.row.replica.empty()) {
          FiguresKey k{op.row.rollout, op.row.window, op.row.replica};
          shared_->figures[k] = std::move(op.row);
          continue;
        }
        for (auto it = shared_->figures.begin(); it != shared_->figures.end();) {
          const bool drop = std::get<0>(it->first) == op.row.rollout &&
                            std::get<1>(it->first) < op.prune_before;
          it = drop ? shared_->figures.erase(it) : std::next(it);
        }
      }
      for (auto& [key, r] : rollouts_) shared_->rollouts[key] = std::move(r);
      for (auto& [key, l] : leases_) {
        if (l) {
          shared_->leases[key] = std::move(*l);
        } else {
          shared_->leases.erase(key);
        }
      }
      auto& models = shared_->models;
      for (auto& [name, max] : max_versions_) models[name].max_version = max;
      for (auto& [key, v] : versions_) models[key.first].versions[key.second] = std::move(v);
      for (auto& [key, version] : aliases_) {
        auto m = models.find(key.first);
        if (version) {
          models[key.first].aliases[key.second] = *version;
        } else if (m != models.end()) {
          m->second.aliases.erase(key.second);
        }
      }
      for (auto& r : audit_) shared_->audit.push_back(std::move(r));
      for (auto& [sha, bytes] : artifacts_) shared_->artifacts[sha] = std::move(bytes);
      shared_->commits += 1;
      connection_.own_commits_.fetch_add(1, std::memory_order_relaxed);
    }
    committed_ = true;
    release();
  }

 private:
  static std::string key(std::string_view model, std::int64_t version) {
    return "'" + std::string(model) + "' version " + std::to_string(version);
  }

  // Version numbers of `model` whose row, as this transaction sees it, satisfies `matches`.
  template <class Predicate>
  std::set<std::int64_t> versions_where(std::string_view model, Predicate matches) {
    std::set<std::int64_t> out;
    {
      detail::MutexLock lk(shared_->mu);
      auto m = shared_->models.find(model);
      if (m != shared_->models.end()) {
        for (const auto& [n, v] : m->second.versions) {
          if (matches(v)) out.insert(n);
        }
      }
    }
    for (const auto& [key, v] : versions_) {  // this transaction's writes win
      if (key.first != model) continue;
      if (matches(v)) {
        out.insert(key.second);
      } else {
        out.erase(key.second);
      }
    }
    return out;
  }

  void check_active() const {
    if (committed_) {
      throw StorageError(connection_.describe() + ": the transaction was already committed");
    }
  }

  static void check_storable(const ModelVersion& v) {
    if (v.name.empty()) throw InvalidArgument("model version has an empty name");
    if (v.version < 1) throw InvalidArgument(key(v.name, v.version) + ": version must be >= 1");
    // The SQLite store keeps these fields as JSON; refuse here what it would refuse there.
    (void)detail::version_metadata_to_json(v);
  }

  // A buffered put (`row`, prune_before 0) or prune (`row.rollout` only, replica empty).
  struct FigureOp {
    WindowFigures row;
    std::int64_t prune_before = 0;
  };
  static void apply_figure_op(std::set<FiguresKey>& rows, const FigureOp& op,
                              std::string_view rollout) {
    if (op.row.rollout != rollout) return;
    if (!op.row.replica.empty()) {
      rows.insert(FiguresKey{op.row.rollout, op.row.window, op.row.replica});
      return;
    }
    for (auto it = rows.begin(); it != rows.end();) {
      it = std::get<1>(*it) < op.prune_before ? rows.erase(it) : std::next(it);
    }
  }

  void release() noexcept {
    if (holds_writer_) shared_->writer.release();
    holds_writer_ = false;
  }

  InMemoryRegistryStore& connection_;
  std::shared_ptr<Shared> shared_;
  bool holds_writer_ = false;
  bool committed_ = false;
  std::map<std::pair<std::string, std::int64_t>, ModelVersion> versions_;
  std::map<std::string, std::int64_t, std::less<>> max_versions_;
  std::map<std::pair<std::string, std::string>, std::optional<std::int64_t>> aliases_;
  std::vector<AuditRecord> audit_;
  std::map<std::string, std::string> artifacts_;
  std::map<std::string, RolloutRecord, std::less<>> rollouts_;
  std::map<std::string, std::optional<RolloutLease>, std::less<>> leases_;
  std::optional<std::int64_t> base_sequence_;
  std::vector<FigureOp> figure_ops_;
};

inline std::unique_ptr<RegistryTransaction> InMemoryRegistryStore::begin() {
  return std::make_unique<Transaction>(*this);
}

}  // namespace switchyard
