// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of model_registry.hpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <iterator>
#include <limits>
#include <cmath>
#include <set>
#include <sstream>

#include <cereal/archives/json.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include <switchyard/core/config.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/detail/base64.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/detail/validation_gates.hpp>
#include <switchyard/models/model_loader.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/serialization.hpp>

namespace switchyard {

namespace detail::registry {

/// A model's versions, ascending by number, in fixed-size chunks shared between snapshots: a copy
/// shares every chunk, and a change copies only the chunk it touches. Registering into a model with
/// n versions thus costs O(n / kChunk + kChunk) reference counts instead of O(n).
class VersionList {
 public:
  static constexpr std::size_t kChunk = 64;

  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = VersionRef;
    using difference_type = std::ptrdiff_t;
    using pointer = const VersionRef*;
    using reference = const VersionRef&;
    const_iterator() = default;
    const_iterator(const VersionList* list, std::size_t i) noexcept : list_(list), i_(i) {}
    reference operator*() const noexcept { return (*list_)[i_]; }
    pointer operator->() const noexcept { return &(*list_)[i_]; }
    const_iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) noexcept { return {list_, i_++}; }
    const_iterator& operator--() noexcept {
      --i_;
      return *this;
    }
    const_iterator operator--(int) noexcept { return {list_, i_--}; }
    bool operator==(const const_iterator& o) const noexcept { return i_ == o.i_; }

   private:
    const VersionList* list_ = nullptr;
    std::size_t i_ = 0;
  };
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const VersionRef& operator[](std::size_t i) const noexcept {
    return (*chunks_[i / kChunk])[i % kChunk];
  }
  const VersionRef& back() const noexcept { return (*this)[size_ - 1]; }
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size_}; }
  const_reverse_iterator rbegin() const noexcept { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const noexcept { return const_reverse_iterator(begin()); }

  void push_back(VersionRef v) {
    if (size_ % kChunk == 0) {
      auto chunk = std::make_shared<Chunk>();
      chunk->reserve(kChunk);
      chunks_.push_back(std::move(chunk));
    } else {
      own(chunks_.back());
    }
    chunks_.back()->push_back(std::move(v));
    ++size_;
  }
  void set(std::size_t i, VersionRef v) {
    auto& chunk = chunks_[i / kChunk];
    own(chunk);
    (*chunk)[i % kChunk] = std::move(v);
  }

 private:
  using Chunk = std::vector<VersionRef>;
  // Copies a chunk another list (a published snapshot) also holds, before it is written. A chunk
  // held by this list alone cannot gain another holder meanwhile: holders copy from a list.
  static void own(std::shared_ptr<Chunk>& chunk) {
    if (chunk.use_count() > 1) {
      auto copy = std::make_shared<Chunk>();
      copy->reserve(kChunk);
      copy->assign(chunk->begin(), chunk->end());
      chunk = std::move(copy);
    }
  }
  std::vector<std::shared_ptr<Chunk>> chunks_;  // all full but the last
  std::size_t size_ = 0;
};

}  // namespace detail::registry

struct ModelRegistry::ModelEntry {
  detail::registry::VersionList versions;  // ascending by version number
  std::map<std::string, std::int64_t, std::less<>> aliases;

  /// Position of version `v` in `versions`, or versions.size() when there is none.
  std::size_t index_of(std::int64_t v) const noexcept {
    // Versions are dense from 1 in the usual case: try the direct index first.
    if (v >= 1 && static_cast<std::size_t>(v) <= versions.size() &&
        versions[static_cast<std::size_t>(v - 1)]->version == v) {
      return static_cast<std::size_t>(v - 1);
    }
    std::size_t lo = 0, hi = versions.size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      if (versions[mid]->version < v) lo = mid + 1;
      else hi = mid;
    }
    return lo < versions.size() && versions[lo]->version == v ? lo : versions.size();
  }
  const VersionRef* find(std::int64_t v) const noexcept {
    const std::size_t i = index_of(v);
    return i < versions.size() ? &versions[i] : nullptr;
  }
  /// The highest version in Production other than `v` (the gates' baseline), or null.
  VersionRef production_other_than(std::int64_t v) const {
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if ((*it)->stage == Stage::kProduction && (*it)->version != v) return *it;
    }
    return nullptr;
  }
};

struct ModelRegistry::Snapshot {
  std::unordered_map<std::string, std::shared_ptr<const ModelEntry>, detail::StringHash,
                     std::equal_to<>>
      models;
  std::int64_t last_sequence = 0;
};

namespace detail::registry {

inline std::string ref(std::string_view name, std::int64_t version) {
  return "model '" + std::string(name) + "' version " + std::to_string(version);
}

inline bool transition_allowed(Stage from, Stage to) noexcept {
  switch (from) {
    case Stage::kDevelopment:
      return to == Stage::kStaging || to == Stage::kArchived || to == Stage::kRejected;
    case Stage::kStaging:
      return to == Stage::kProduction || to == Stage::kDevelopment || to == Stage::kArchived ||
             to == Stage::kRejected;
    case Stage::kProduction: return to == Stage::kArchived;
    case Stage::kArchived: return to == Stage::kStaging;
    case Stage::kRejected: return to == Stage::kArchived;
  }
  return false;
}

inline bool is_digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

inline std::int64_t parse_version_number(std::string_view s) {
  std::int64_t v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// The stage changes of one transaction: each updates the row and appends its audit row; the new
// rows and the events wait for the commit.
struct StageChanges {
  RegistryTransaction& tx;
  std::string model;
  std::string actor;
  TimePoint now;
  std::int64_t first_sequence = 0, last_sequence = 0;
  std::vector<ModelVersion> changed;
  std::vector<RegistryEvent> events;

  void apply(ModelVersion v, Stage dest, const std::string& action, const std::string& reason,
             const std::vector<PromotionEvidence>& evidence = {}) {
    const Stage from = v.stage;
    v.stage = dest;
    v.stage_changed_at = now;
    tx.update_version(v);
    AuditRecord a;
    a.at = now;
    a.actor = actor;
    a.model = model;
    a.version = v.version;
    a.action = action;
    a.from_stage = from;
    a.to_stage = dest;
    a.reason = reason;
    a.evidence = evidence;
    last_sequence = tx.append_audit(a);
    if (first_sequence == 0) first_sequence = last_sequence;
    events.push_back({dest == Stage::kRejected ? RegistryEvent::Kind::kVersionRejected
                                               : RegistryEvent::Kind::kStageChanged,
                      model, v.version, 0, from, dest, "", actor, reason, now, last_sequence});
    changed.push_back(std::move(v));
  }
  // Replaces the changed rows in a copy of the model's snapshot entry.
  template <class Entry>
  void update(Entry& e) const {
    for (const auto& v : changed) {
      if (const std::size_t i = e.index_of(v.version); i < e.versions.size()) {
        e.versions.set(i, std::make_shared<const ModelVersion>(v));
      }
    }
  }
};

// The export document: a whole registry with its audit trail.
struct RegistryExport {
  StoreState state;
  std::vector<AuditRecord> audit;
};

}  // namespace detail::registry

// ---------------------------------------------------------------------------------------------

SWITCHYARD_INLINE void validate_semver(std::string_view text) {
  auto fail = [&](const char* why) {
    throw InvalidArgument("semantic version '" + detail::printable(text) + "' is malformed: " +
                          why);
  };
  if (text.empty()) fail("empty");
  if (text.size() > 64) fail("longer than 64 characters");
  std::size_t i = 0;
  for (int part = 0; part < 3; ++part) {
    std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == start) fail("expected MAJOR.MINOR.PATCH numbers");
    if (i - start > 1 && text[start] == '0') fail("numbers may not have leading zeros");
    if (part < 2) {
      if (i >= text.size() || text[i] != '.') fail("expected MAJOR.MINOR.PATCH");
      ++i;
    }
  }
  // Dot-separated identifiers of [0-9A-Za-z-]; in a pre-release, a numeric identifier may not
  // have leading zeros (semver.org 2.0, item 9).
  auto identifiers = [&](bool build) {
    std::size_t start = i;
    std::size_t ident = i;
    auto end_identifier = [&](std::size_t end) {
      if (end == ident) fail("empty identifier");
      bool numeric = true;
      for (std::size_t k = ident; k < end; ++k) numeric = numeric && text[k] >= '0' && text[k] <= '9';
      if (!build && numeric && end - ident > 1 && text[ident] == '0') {
        fail("numeric pre-release identifiers may not have leading zeros");
      }
    };
    while (i < text.size() && (build || text[i] != '+')) {
      char c = text[i];
      bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                c == '-' || c == '.';
      if (!ok) fail("only [0-9A-Za-z-.] may follow the version numbers");
      if (c == '.') {
        end_identifier(i);
        ident = i + 1;
      }
      ++i;
    }
    if (i == start) fail("empty identifier");
    end_identifier(i);
  };
  if (i < text.size() && text[i] == '-') {
    ++i;
    identifiers(false);
  }
  if (i < text.size() && text[i] == '+') {
    ++i;
    identifiers(true);
  }
  if (i != text.size()) fail("unexpected text after the version");
}

SWITCHYARD_INLINE ModelRegistry::ModelRegistry(Options options)
    : store_(options.store),
      artifacts_(options.artifacts),
      loader_(options.loader),
      clock_(options.clock ? options.clock : &system_clock()),
      events_(options.events),
      names_(options.names),
      max_store_artifact_bytes_(options.max_store_artifact_bytes) {
  if (store_ == nullptr) throw InvalidArgument("ModelRegistry: Options::store is null");
  if (artifacts_ == nullptr) throw InvalidArgument("ModelRegistry: Options::artifacts is null");
  if (max_store_artifact_bytes_ > kMaxStoreArtifactBytes) {
    throw InvalidArgument("ModelRegistry: Options::max_store_artifact_bytes " +
                          std::to_string(max_store_artifact_bytes_) + " is over the limit of " +
                          std::to_string(kMaxStoreArtifactBytes));
  }
  if (loader_ == nullptr) {
    own_loader_ = std::make_unique<ModelLoader>();
    loader_ = own_loader_.get();
  }
  if (events_ == nullptr) {
    own_events_ = std::make_unique<EventHub>();
    events_ = own_events_.get();
  }
  reload();
}

SWITCHYARD_INLINE ModelRegistry::~ModelRegistry() = default;

SWITCHYARD_INLINE EventHub& ModelRegistry::events() noexcept { return *events_; }

SWITCHYARD_INLINE void ModelRegistry::emit(const RegistryEvent& e) {
  switch (e.kind) {
    case RegistryEvent::Kind::kVersionRegistered: events_->version_registered(e); break;
    case RegistryEvent::Kind::kStageChanged:
    case RegistryEvent::Kind::kVersionRejected: events_->stage_changed(e); break;
    case RegistryEvent::Kind::kAliasMoved:
    case RegistryEvent::Kind::kAliasRemoved: events_->alias_moved(e); break;
    case RegistryEvent::Kind::kRolledBack: events_->rolled_back(e); break;
    case RegistryEvent::Kind::kRefreshed: events_->refreshed(e); break;
  }
}

// ---- snapshot maintenance ------------------------------------------------------------------------

SWITCHYARD_INLINE void ModelRegistry::apply_state(StoreState state,
                                                  const std::vector<std::string>& models,
                                                  bool replace_all) {
  auto next = std::make_shared<Snapshot>();
  if (!replace_all) {
    if (auto current = snapshot_.load()) next->models = current->models;
  }
  std::unordered_map<std::string, std::shared_ptr<ModelEntry>> rebuilt;
  std::unordered_map<std::string, std::vector<VersionRef>> loaded;
  for (const auto& m : models) rebuilt[m] = std::make_shared<ModelEntry>();
  for (auto& v : state.versions) {
    auto& e = rebuilt[v.name];
    if (!e) e = std::make_shared<ModelEntry>();
    std::string name = v.name;
    loaded[name].push_back(std::make_shared<const ModelVersion>(std::move(v)));
  }
  for (auto& [name, refs] : loaded) {
    std::sort(refs.begin(), refs.end(),
              [](const VersionRef& a, const VersionRef& b) { return a->version < b->version; });
    auto& e = rebuilt[name];
    for (auto& r : refs) e->versions.push_back(std::move(r));
  }
  for (auto& a : state.aliases) {
    auto& e = rebuilt[a.model];
    if (!e) e = std::make_shared<ModelEntry>();
    e->aliases[a.alias] = a.version;
  }
  for (auto& [name, e] : rebuilt) {
    if (e->versions.empty()) {
      next->models.erase(name);
    } else {
      next->models[name] = std::move(e);
    }
  }
  next->last_sequence = state.last_sequence;
  snapshot_.publish(std::move(next));
}

SWITCHYARD_INLINE void ModelRegistry::reload() {
  detail::MutexLock lk(write_mu_);
  StoreState state = store_->load();
  const std::int64_t seen = state.last_sequence;
  apply_state(std::move(state), {}, true);
  RegistryEvent e;
  e.kind = RegistryEvent::Kind::kRefreshed;
  e.at = clock_->now();
  e.sequence = seen;
  emit(e);
}

SWITCHYARD_INLINE bool ModelRegistry::refresh() {
  detail::MutexLock lk(write_mu_);
  if (!store_->may_have_changed()) return false;
  auto current = snapshot_.load();
  auto [touched, state] = store_->load_changes_since(current->last_sequence);
  if (touched.empty()) return false;
  const std::int64_t seen = state.last_sequence;
  apply_state(std::move(state), touched, false);
  RegistryEvent e;
  e.kind = RegistryEvent::Kind::kRefreshed;
  e.at = clock_->now();
  e.sequence = seen;
  emit(e);
  return true;
}

// After a commit: when nobody else wrote since our snapshot, the caller's in-memory change is
// exact and cheap; otherwise re-read every model touched since (ours included).
SWITCHYARD_INLINE void ModelRegistry::after_commit(std::int64_t first_sequence,
                                                   std::int64_t previous_sequence,
                                                   const std::string& model) {
  (void)first_sequence;
  (void)model;
  auto [touched, state] = store_->load_changes_since(previous_sequence);
  apply_state(std::move(state), touched, false);
}

template <class Mutate>
void ModelRegistry::publish_change(const std::shared_ptr<const Snapshot>& snap,
                                   const std::string& model, std::int64_t first_sequence,
                                   std::int64_t last_sequence, bool may_be_new, Mutate&& mutate) {
  auto it = snap->models.find(model);
  const bool known = it != snap->models.end();
  if (first_sequence == snap->last_sequence + 1 && (known || may_be_new)) {
    auto e = known ? std::make_shared<ModelEntry>(*it->second) : std::make_shared<ModelEntry>();
    mutate(*e);
    auto next = std::make_shared<Snapshot>(*snap);
    next->models[model] = std::move(e);
    next->last_sequence = last_sequence;
    snapshot_.publish(std::move(next));
  } else {
    after_commit(first_sequence, snap->last_sequence, model);
  }
}

// ---- reads ------------------------------------------------------------------------------------------

SWITCHYARD_INLINE const ModelRegistry::ModelEntry* ModelRegistry::find_entry(
    std::string_view name) const noexcept {
  auto snap = snapshot_.read();
  auto it = snap->models.find(name);
  return it == snap->models.end() ? nullptr : it->second.get();
}

SWITCHYARD_INLINE const ModelRegistry::ModelEntry& ModelRegistry::entry(
    std::string_view name) const {
  const ModelEntry* e = find_entry(name);
  if (e == nullptr) {
    throw NotFound("model '" + detail::printable(name) + "' is not registered");
  }
  return *e;
}

SWITCHYARD_INLINE VersionRef ModelRegistry::get(std::string_view name, std::int64_t version) const {
  const VersionRef* v = entry(name).find(version);
  if (v == nullptr) throw NotFound(detail::registry::ref(name, version) + " does not exist");
  return refs_.share(*v);
}

SWITCHYARD_INLINE VersionRef ModelRegistry::latest(std::string_view name) const {
  return refs_.share(entry(name).versions.back());
}

SWITCHYARD_INLINE VersionRef ModelRegistry::by_alias(std::string_view name,
                                                     std::string_view alias) const {
  const ModelEntry& e = entry(name);
  auto it = e.aliases.find(alias);
  if (it == e.aliases.end()) {
    throw NotFound("model '" + std::string(name) + "' has no alias '" + detail::printable(alias) +
                   "'");
  }
  const VersionRef* v = e.find(it->second);
  if (v == nullptr) throw NotFound(detail::registry::ref(name, it->second) + " does not exist");
  return refs_.share(*v);
}

SWITCHYARD_INLINE VersionRef ModelRegistry::by_semver(std::string_view name,
                                                      std::string_view semver) const {
  for (const auto& v : entry(name).versions) {
    if (v->semver == semver) return refs_.share(v);
  }
  throw NotFound("model '" + std::string(name) + "' has no version '" + detail::printable(semver) +
                 "'");
}

SWITCHYARD_INLINE VersionRef ModelRegistry::in_stage(std::string_view name, Stage stage) const {
  const ModelEntry& e = entry(name);
  for (auto it = e.versions.rbegin(); it != e.versions.rend(); ++it) {
    if ((*it)->stage == stage) return refs_.share(*it);
  }
  throw NotFound("model '" + std::string(name) + "' has no version in " +
                 std::string(to_string(stage)));
}

SWITCHYARD_INLINE std::vector<VersionRef> ModelRegistry::versions(
    std::string_view name, std::optional<Stage> stage) const {
  std::vector<VersionRef> out;
  for (const auto& v : entry(name).versions) {
    if (!stage || v->stage == *stage) out.push_back(v);
  }
  return out;
}

SWITCHYARD_INLINE std::map<std::string, std::int64_t> ModelRegistry::aliases(
    std::string_view name) const {
  const ModelEntry& e = entry(name);
  return {e.aliases.begin(), e.aliases.end()};
}

SWITCHYARD_INLINE std::vector<std::string> ModelRegistry::models() const {
  auto snap = snapshot_.read();
  std::vector<std::string> out;
  for (const auto& [name, e] : snap->models) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

SWITCHYARD_INLINE VersionRef ModelRegistry::find(std::string_view name,
                                                 std::string_view selector) const {
  if (selector.empty()) throw InvalidArgument("empty version selector for model '" +
                                              detail::printable(name) + "'");
  if (selector == "latest") return latest(name);
  if (detail::registry::is_digits(selector)) {
    return get(name, detail::registry::parse_version_number(selector));
  }
  if (selector.front() == '@') return by_alias(name, selector.substr(1));
  if (auto stage = stage_from_string(selector)) return in_stage(name, *stage);
  if (selector.front() >= '0' && selector.front() <= '9') {
    validate_semver(selector);
    return by_semver(name, selector);
  }
  return by_alias(name, selector);
}

SWITCHYARD_INLINE VersionRef ModelRegistry::resolve(std::string_view uri) const {
  constexpr std::string_view kScheme = "models:/";
  auto bad = [&](const char* why) {
    throw InvalidArgument("model URI '" + detail::printable(uri) + "' is malformed: " + why +
                          " (expected models:/<name>/<version|stage|latest> or "
                          "models:/<name>@<alias>)");
  };
  if (uri.substr(0, kScheme.size()) != kScheme) bad("it does not start with models:/");
  std::string_view rest = uri.substr(kScheme.size());
  auto at = rest.find('@');
  auto slash = rest.find('/');
  if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash)) {
    std::string_view name = rest.substr(0, at), alias = rest.substr(at + 1);
    if (alias.empty() || alias.find('/') != std::string_view::npos) bad("bad alias");
    validate_model_name(name, NameRules{.require_domain_task = false});
    return by_alias(name, alias);
  }
  if (slash == std::string_view::npos) bad("no version, stage or alias");
  std::string_view name = rest.substr(0, slash), selector = rest.substr(slash + 1);
  if (selector.empty() || selector.find('/') != std::string_view::npos) bad("bad selector");
  validate_model_name(name, NameRules{.require_domain_task = false});
  if (selector == "latest" || detail::registry::is_digits(selector) ||
      stage_from_string(selector)) {
    return find(name, selector);
  }
  bad("the selector is not a version number, a stage or latest");
  return nullptr;
}

// ---- writes ------------------------------------------------------------------------------------------

SWITCHYARD_INLINE VersionRef ModelRegistry::register_version(std::string_view name,
                                                             const Artifact& artifact,
                                                             VersionMetadata metadata,
                                                             const ChangeContext& context) {
  validate_model_name(name, names_);
  const std::string model(name);
  if (!metadata.semver.empty()) validate_semver(metadata.semver);
  for (const auto& [metric, value] : metadata.metrics) {
    if (metric.empty()) throw InvalidArgument("model '" + model + "': empty metric name");
    if (!std::isfinite(value)) {
      throw InvalidArgument("model '" + model + "': metric '" + metric + "' is not finite");
    }
  }
  for (const auto& [group, metrics] : metadata.group_metrics) {
    for (const auto& [metric, value] : metrics) {
      if (!std::isfinite(value)) {
        throw InvalidArgument("model '" + model + "': group '" + group + "' metric '" + metric +
                              "' is not finite");
      }
    }
  }
  if (artifact.format.empty()) throw InvalidArgument("model '" + model + "': empty artifact format");
  // A version must be loadable before it is recorded: never register bytes that cannot serve.
  ModelPtr loaded = loader_->load(artifact.format, artifact.bytes);
  if (metadata.signature.empty()) metadata.signature = loaded->signature();

  // Small artifacts go into the store with the version row (one durable commit); large ones
  // become files first, so a version is never recorded before its bytes are durable.
  const bool in_store = artifact.bytes.size() <= max_store_artifact_bytes_;
  ArtifactRef stored;
  if (in_store) {
    stored = {artifact.format, detail::sha256_hex(artifact.bytes), artifact.bytes.size(), {}};
    stored.uri = ArtifactRef::store_uri(stored.sha256);
  } else {
    stored = artifacts_->put(artifact.bytes, artifact.format);
  }

  detail::MutexLock lk(write_mu_);
  auto snap = snapshot_.load();
  auto tx = store_->begin();
  ModelVersion v;
  v.name = model;
  const std::int64_t highest = tx->max_version(model);
  if (highest < 0 || highest == std::numeric_limits<std::int64_t>::max()) {
    throw CorruptStore("model '" + model + "': the store's highest version number " +
                       std::to_string(highest) + " leaves no next version");
  }
  v.version = highest + 1;
  v.semver = std::move(metadata.semver);
  v.stage = Stage::kDevelopment;
  v.run_id = std::move(metadata.run_id);
  v.dataset_version = std::move(metadata.dataset_version);
  v.metrics = std::move(metadata.metrics);
  v.group_metrics = std::move(metadata.group_metrics);
  v.signature = std::move(metadata.signature);
  v.dependencies = std::move(metadata.dependencies);
  v.owner = std::move(metadata.owner);
  v.changelog = std::move(metadata.changelog);
  v.description = std::move(metadata.description);
  v.tags = std::move(metadata.tags);
  v.created_at = clock_->now();
  v.stage_changed_at = v.created_at;
  v.artifact = stored;
  // Asked of the store inside the transaction: its index answers at any size, and it also sees
  // versions other processes registered since this registry's snapshot.
  if (!v.semver.empty()) {
    if (const auto other = tx->find_semver(model, v.semver)) {
      throw AlreadyExists("model '" + model + "' already has a version '" + v.semver +
                          "' (version " + std::to_string(*other) + ")");
    }
  }
  if (in_store) tx->put_artifact(stored.sha256, artifact.bytes);
  tx->insert_version(v);
  AuditRecord audit;
  audit.at = v.created_at;
  audit.actor = context.actor;
  audit.model = model;
  audit.version = v.version;
  audit.action = "register";
  audit.to_stage = Stage::kDevelopment;
  audit.reason = context.reason;
  const std::int64_t seq = tx->append_audit(audit);
  tx->commit();
  {
    detail::MutexLock cache(cache_mu_);
    loaded_[{model, v.version}] = loaded;
  }
  auto ref = std::make_shared<const ModelVersion>(std::move(v));
  publish_change(snap, model, seq, seq, true, [&](ModelEntry& e) { e.versions.push_back(ref); });
  RegistryEvent ev{RegistryEvent::Kind::kVersionRegistered, model, ref->version, 0, std::nullopt,
                   Stage::kDevelopment, "", context.actor, context.reason, ref->created_at, seq};
  emit(ev);
  return ref;
}

SWITCHYARD_INLINE void ModelRegistry::set_validation_policy(std::string_view name,
                                                            ValidationPolicy policy) {
  validate_model_name(name, names_);
  detail::MutexLock lk(policy_mu_);
  policies_[std::string(name)] = std::move(policy);
}

SWITCHYARD_INLINE void ModelRegistry::set_promotion_policy(std::string_view name,
                                                           PromotionPolicy policy) {
  validate_model_name(name, names_);
  validate_promotion_policy(policy);
  detail::MutexLock lk(policy_mu_);
  promotion_policies_[std::string(name)] = std::move(policy);
}

SWITCHYARD_INLINE PromotionPolicy ModelRegistry::promotion_policy(std::string_view name) const {
  detail::MutexLock lk(policy_mu_);
  auto it = promotion_policies_.find(name);
  return it == promotion_policies_.end() ? PromotionPolicy{} : it->second;
}

SWITCHYARD_INLINE ValidationReport ModelRegistry::validate(
    std::string_view name, std::int64_t version, const std::optional<ValidationPolicy>& policy) {
  VersionRef v = get(name, version);
  ValidationPolicy p;
  if (policy) {
    p = *policy;
  } else {
    detail::MutexLock lk(policy_mu_);
    auto it = policies_.find(name);
    if (it != policies_.end()) p = it->second;
  }
  return run_gates(*v, p);
}

SWITCHYARD_INLINE ValidationReport ModelRegistry::run_gates(const ModelVersion& v,
                                                            const ValidationPolicy& policy,
                                                            VersionRef* baseline) {
  namespace gates = detail::registry;
  // Gates read the snapshot and may load and benchmark the model: callers hold no registry lock.
  const auto snap = snapshot_.load();
  auto it = snap->models.find(v.name);
  const ModelEntry* e = it == snap->models.end() ? nullptr : it->second.get();
  gates::GateSubject subject{v, e ? e->production_other_than(v.version) : nullptr,
                             [e](std::int64_t n) -> VersionRef {
                               const VersionRef* b = e ? e->find(n) : nullptr;
                               return b ? *b : nullptr;
                             }};
  if (baseline) *baseline = subject.production;
  ValidationReport report{v.name, v.version, {}};
  gates::check_thresholds(subject, policy.thresholds, report.checks);
  gates::check_regressions(subject, policy.regressions, report.checks);
  gates::check_groups(subject, policy.groups, report.checks);
  if (policy.require_compatible_signature) gates::check_signature(subject, report.checks);
  if (policy.latency) {
    gates::check_latency(subject, *policy.latency, [&] { return load(v.name, v.version); },
                         report.checks);
  }
  return report;
}

// Before anything is written: InvalidTransition naming each unmet requirement and what was given.
SWITCHYARD_INLINE void ModelRegistry::require_promotion_evidence(
    const ModelVersion& v, const std::vector<PromotionEvidence>& evidence) const {
  const std::vector<std::string> unmet =
      unmet_promotion_requirements(promotion_policy(v.name), evidence, owners_of(v.owner));
  if (unmet.empty()) return;
  std::string message = detail::registry::ref(v.name, v.version) +
                        " cannot move from Staging to Production: its promotion policy requires ";
  for (std::size_t i = 0; i < unmet.size(); ++i) message += (i > 0 ? " and " : "") + unmet[i];
  message += "; given: ";
  if (evidence.empty()) message += "no evidence";
  for (std::size_t i = 0; i < evidence.size(); ++i) {
    message += (i > 0 ? ", " : "") + evidence[i].kind +
               (evidence[i].actor.empty() ? "" : " by " + evidence[i].actor) +
               (evidence[i].passed ? " (passed)" : " (not passed)");
  }
  throw InvalidTransition(message);
}

// Under the write lock, after gates ran without it: the verdict stands only if the version and
// the Production baseline the gates compared it with are still what they saw.
SWITCHYARD_INLINE void ModelRegistry::require_gate_inputs_unchanged(
    const Snapshot& snap, const ModelVersion& gated, const VersionRef& baseline) const {
  auto it = snap.models.find(gated.name);
  const VersionRef* now = it == snap.models.end() ? nullptr : it->second->find(gated.version);
  const VersionRef production =
      it == snap.models.end() ? nullptr : it->second->production_other_than(gated.version);
  const bool same_version = now && (*now)->stage == gated.stage &&
                            (*now)->stage_changed_at == gated.stage_changed_at;
  const bool same_baseline = (production ? production->version : 0) ==
                                 (baseline ? baseline->version : 0) &&
                             (!production || production->stage_changed_at ==
                                                 baseline->stage_changed_at);
  if (!same_version || !same_baseline) {
    throw InvalidTransition(detail::registry::ref(gated.name, gated.version) +
                            (same_version ? ": the Production version changed"
                                          : " changed") +
                            " while its gates ran; retry the transition");
  }
}

SWITCHYARD_INLINE VersionRef ModelRegistry::transition(std::string_view name, std::int64_t version,
                                                       Stage to, const TransitionOptions& options) {
  const std::string model(name);
  VersionRef before = get(name, version);
  if (before->stage == to) {
    throw InvalidTransition(detail::registry::ref(name, version) + " is already in " +
                            std::string(to_string(to)));
  }
  if (!detail::registry::transition_allowed(before->stage, to)) {
    throw InvalidTransition(
        detail::registry::ref(name, version) + " cannot move from " +
        std::string(to_string(before->stage)) + " to " + std::string(to_string(to)) +
        (to == Stage::kProduction && before->stage == Stage::kDevelopment
             ? " (it must pass the gates into Staging first)"
             : before->stage == Stage::kArchived && to == Stage::kProduction
                   ? " (use rollback to restore an archived version)"
                   : ""));
  }
  validate_promotion_evidence(options.evidence, detail::registry::ref(name, version) + ": ");
  for (const auto& alias : options.move_aliases) {
    validate_alias(alias);
    if (alias == "latest" || stage_from_string(alias)) {
      throw InvalidArgument("alias '" + std::string(alias) +
                            "' is reserved (it names a selector or a stage)");
    }
    if (to == Stage::kRejected) {
      throw InvalidArgument(detail::registry::ref(name, version) +
                            ": aliases cannot move to a version being rejected");
    }
  }
  if (before->stage == Stage::kStaging && to == Stage::kProduction) {
    require_promotion_evidence(*before, options.evidence);
  }
  // The gates run before the write lock is taken (a latency gate benchmarks the model for as long
  // as it takes; reads and other writes go on meanwhile), on the snapshot's version and baseline.
  std::optional<ValidationReport> report;
  VersionRef baseline;
  if (before->stage == Stage::kDevelopment && to == Stage::kStaging) {
    ValidationPolicy p;
    if (options.policy) {
      p = *options.policy;
    } else {
      detail::MutexLock plk(policy_mu_);
      auto it = policies_.find(name);
      if (it != policies_.end()) p = it->second;
    }
    report = run_gates(*before, p, &baseline);
  }
  const bool rejected = report && !report->passed();
  const Stage target = rejected ? Stage::kRejected : to;

  detail::MutexLock lk(write_mu_);
  auto snap = snapshot_.load();
  if (report) require_gate_inputs_unchanged(*snap, *before, baseline);
  const TimePoint now = clock_->now();
  auto tx = store_->begin();
  std::optional<ModelVersion> current = tx->find_version(model, version);
  if (!current) throw NotFound(detail::registry::ref(name, version) + " does not exist");
  if (current->stage != before->stage) {
    throw InvalidTransition(detail::registry::ref(name, version) + " changed from " +
                            std::string(to_string(before->stage)) + " to " +
                            std::string(to_string(current->stage)) +
                            " concurrently; retry after refresh()");
  }
  detail::registry::StageChanges changes{*tx, model, options.actor, now};
  if (target == Stage::kProduction && !options.keep_existing_production) {
    for (std::int64_t other : tx->versions_in_stage(model, Stage::kProduction)) {
      if (other == version) continue;
      if (auto o = tx->find_version(model, other)) {
        changes.apply(*o, Stage::kArchived, "transition",
                      "replaced by version " + std::to_string(version) +
                          (options.reason.empty() ? "" : ": " + options.reason));
      }
    }
  }
  changes.apply(*current, target, rejected ? "reject" : "transition",
                rejected ? "failed validation: " + report->failures() : options.reason,
                options.evidence);
  std::vector<RegistryEvent> alias_events;
  if (!rejected) {
    for (const auto& alias : options.move_aliases) {
      auto previous = tx->find_alias(model, alias);
      tx->set_alias({model, alias, version});
      AuditRecord a;
      a.at = now;
      a.actor = options.actor;
      a.model = model;
      a.version = version;
      a.action = "alias";
      a.alias = alias;
      a.reason = previous ? "moved from version " + std::to_string(*previous) : options.reason;
      changes.last_sequence = tx->append_audit(a);
      alias_events.push_back({RegistryEvent::Kind::kAliasMoved, model, version, 0, std::nullopt,
                              std::nullopt, alias, options.actor, a.reason, now,
                              changes.last_sequence});
    }
  }
  if (options.in_transaction) options.in_transaction(*tx);
  tx->commit();
  publish_change(snap, model, changes.first_sequence, changes.last_sequence, false,
                 [&](ModelEntry& e) {
                   changes.update(e);
                   if (!rejected) {
                     for (const auto& alias : options.move_aliases) e.aliases[alias] = version;
                   }
                 });
  for (const auto& e : changes.events) emit(e);
  for (const auto& e : alias_events) emit(e);
  if (rejected) {
    throw ValidationFailed(detail::registry::ref(name, version) +
                           " failed validation and was moved to Rejected: " + report->failures());
  }
  return get(name, version);
}

SWITCHYARD_INLINE VersionRef ModelRegistry::rollback(std::string_view name,
                                                     const ChangeContext& context,
                                                     std::optional<std::int64_t> target) {
  validate_model_name(name, NameRules{.require_domain_task = false});
  const std::string model(name);
  detail::MutexLock lk(write_mu_);
  auto snap = snapshot_.load();
  auto tx = store_->begin();
  auto current = tx->versions_in_stage(model, Stage::kProduction);
  if (current.empty()) {
    throw InvalidTransition("model '" + model + "' has no Production version to roll back");
  }
  // Known-good: versions that reached Production, most recent first, now Archived.
  std::vector<AuditRecord> history = tx->history(model);
  std::optional<ModelVersion> restore;
  for (auto it = history.rbegin(); it != history.rend() && !restore; ++it) {
    if (it->to_stage != Stage::kProduction) continue;
    if (target && it->version != *target) continue;
    if (std::find(current.begin(), current.end(), it->version) != current.end()) continue;
    auto v = tx->find_version(model, it->version);
    if (v && v->stage == Stage::kArchived) restore = std::move(v);
  }
  if (!restore) {
    throw InvalidTransition(
        target ? detail::registry::ref(name, *target) +
                     " cannot be restored: it is not an archived version that served in Production"
               : "model '" + model + "' has no earlier Production version to roll back to");
  }
  const TimePoint now = clock_->now();
  detail::registry::StageChanges changes{*tx, model, context.actor, now};
  for (std::int64_t c : current) {
    if (auto v = tx->find_version(model, c)) {
      changes.apply(*v, Stage::kArchived, "rollback", context.reason);
    }
  }
  const std::int64_t restored_version = restore->version;
  changes.apply(*restore, Stage::kProduction, "rollback", context.reason);
  tx->commit();
  publish_change(snap, model, changes.first_sequence, changes.last_sequence, false,
                 [&](ModelEntry& e) { changes.update(e); });
  for (const auto& e : changes.events) emit(e);
  // One event for the whole rollback: the version restored, the one it replaced (the highest
  // that was in Production, when several were) and why.
  RegistryEvent rb;
  rb.kind = RegistryEvent::Kind::kRolledBack;
  rb.model = model;
  rb.version = restored_version;
  rb.previous_version = current.back();
  rb.to_stage = Stage::kProduction;
  rb.actor = context.actor;
  rb.reason = context.reason;
  rb.at = now;
  rb.sequence = changes.last_sequence;
  emit(rb);
  return get(name, restored_version);
}

SWITCHYARD_INLINE void ModelRegistry::set_alias(std::string_view name, std::string_view alias,
                                                std::int64_t version,
                                                const ChangeContext& context) {
  validate_alias(alias);
  if (alias == "latest" || stage_from_string(alias)) {
    throw InvalidArgument("alias '" + std::string(alias) +
                          "' is reserved (it names a selector or a stage)");
  }
  const std::string model(name), alias_name(alias);
  detail::MutexLock lk(write_mu_);
  auto snap = snapshot_.load();
  auto tx = store_->begin();
  if (!tx->find_version(model, version)) {
    throw NotFound(detail::registry::ref(name, version) + " does not exist");
  }
  auto previous = tx->find_alias(model, alias_name);
  tx->set_alias({model, alias_name, version});
  AuditRecord a;
  a.at = clock_->now();
  a.actor = context.actor;
  a.model = model;
  a.version = version;
  a.action = "alias";
  a.alias = alias_name;
  a.reason = context.reason.empty() && previous
                 ? "moved from version " + std::to_string(*previous)
                 : context.reason;
  const std::int64_t seq = tx->append_audit(a);
  tx->commit();
  publish_change(snap, model, seq, seq, false,
                 [&](ModelEntry& e) { e.aliases[alias_name] = version; });
  emit({RegistryEvent::Kind::kAliasMoved, model, version, 0, std::nullopt, std::nullopt, alias_name,
        context.actor, a.reason, a.at, seq});
}

SWITCHYARD_INLINE void ModelRegistry::remove_alias(std::string_view name, std::string_view alias,
                                                   const ChangeContext& context) {
  const std::string model(name), alias_name(alias);
  detail::MutexLock lk(write_mu_);
  auto snap = snapshot_.load();
  auto tx = store_->begin();
  auto previous = tx->find_alias(model, alias_name);
  if (!previous) {
    throw NotFound("model '" + model + "' has no alias '" + detail::printable(alias) + "'");
  }
  tx->remove_alias(model, alias_name);
  AuditRecord a;
  a.at = clock_->now();
  a.actor = context.actor;
  a.model = model;
  a.version = *previous;
  a.action = "alias_removed";
  a.alias = alias_name;
  a.reason = context.reason;
  const std::int64_t seq = tx->append_audit(a);
  tx->commit();
  publish_change(snap, model, seq, seq, false, [&](ModelEntry& e) { e.aliases.erase(alias_name); });
  emit({RegistryEvent::Kind::kAliasRemoved, model, *previous, 0, std::nullopt, std::nullopt,
        alias_name, context.actor, context.reason, a.at, seq});
}

// ---- audit ----------------------------------------------------------------------------------------------

SWITCHYARD_INLINE std::vector<AuditRecord> ModelRegistry::history(std::string_view name) const {
  AuditQuery q;
  q.model = std::string(name);
  return store_->audit(q);
}

SWITCHYARD_INLINE std::vector<AuditRecord> ModelRegistry::audit(const AuditQuery& query) const {
  return store_->audit(query);
}

SWITCHYARD_INLINE std::vector<std::int64_t> ModelRegistry::production_at(std::string_view name,
                                                                         TimePoint t) const {
  AuditQuery q;
  q.model = std::string(name);
  q.until = t;
  std::map<std::int64_t, Stage> stage;
  for (const auto& r : store_->audit(q)) {
    if (r.to_stage) stage[r.version] = *r.to_stage;
  }
  std::vector<std::int64_t> out;
  for (const auto& [v, s] : stage) {
    if (s == Stage::kProduction) out.push_back(v);
  }
  return out;
}

// ---- loading ---------------------------------------------------------------------------------------------

SWITCHYARD_INLINE ModelPtr ModelRegistry::load(std::string_view name, std::int64_t version) {
  {
    detail::MutexLock lk(cache_mu_);
    auto it = loaded_.find({std::string(name), version});
    if (it != loaded_.end()) {
      if (auto m = it->second.lock()) return m;
    }
  }
  VersionRef v = get(name, version);
  std::string bytes = read_verified(*v);
  ModelPtr m;
  try {
    m = loader_->load(v->artifact.format, bytes);
  } catch (const LoadError& e) {
    throw LoadError(detail::registry::ref(name, version) + ": " + e.what());
  }
  detail::MutexLock lk(cache_mu_);
  auto& slot = loaded_[{std::string(name), version}];
  if (auto existing = slot.lock()) return existing;  // another thread won the race
  slot = m;
  return m;
}

SWITCHYARD_INLINE std::string ModelRegistry::read_artifact(std::string_view name,
                                                           std::int64_t version) const {
  return read_verified(*get(name, version));
}

SWITCHYARD_INLINE std::string ModelRegistry::read_verified(const ModelVersion& v) const {
  const ArtifactRef& a = v.artifact;
  if (!a.in_store()) return artifacts_->read(a);
  const std::string what =
      store_->describe() + ": artifact " + a.uri + " of " + detail::registry::ref(v.name, v.version);
  if (!detail::is_sha256_hex(a.sha256) || a.uri != ArtifactRef::store_uri(a.sha256)) {
    throw IntegrityError(what + " does not match its sha256 '" + detail::printable(a.sha256) +
                         "'");
  }
  std::optional<std::string> bytes = store_->read_artifact(a.sha256);
  if (!bytes) throw NotFound(what + " is not in the store");
  if (bytes->size() != a.size) {
    throw IntegrityError(what + " holds " + std::to_string(bytes->size()) + " bytes, expected " +
                         std::to_string(a.size));
  }
  if (const std::string actual = detail::sha256_hex(*bytes); actual != a.sha256) {
    throw IntegrityError(what + " has SHA-256 " + actual + ", expected " + a.sha256);
  }
  return std::move(*bytes);
}

// ---- export / import ---------------------------------------------------------------------------------------

SWITCHYARD_INLINE std::string ModelRegistry::export_json() const {
  detail::registry::RegistryExport doc;
  doc.state = store_->load();
  doc.audit = store_->audit(AuditQuery{});
  std::ostringstream os;
  {
    cereal::JSONOutputArchive ar(os);
    ar(cereal::make_nvp("format", std::string("switchyard.registry")),
       cereal::make_nvp("format_version", 2));
    ar(cereal::make_nvp("state", doc.state));
    ar.setNextName("audit");
    ar.startNode();
    ar.makeArray();
    for (const auto& r : doc.audit) {
      ar.startNode();
      save(ar, r);
      ar.finishNode();
    }
    ar.finishNode();
    // Artifacts kept in the store have no other copy: they travel with the export.
    ar.setNextName("artifacts");
    ar.startNode();
    ar.makeArray();
    std::set<std::string> exported;
    for (const auto& v : doc.state.versions) {
      if (!v.artifact.in_store() || !exported.insert(v.artifact.sha256).second) continue;
      ar.startNode();
      ar(cereal::make_nvp("sha256", v.artifact.sha256),
         cereal::make_nvp("base64", detail::base64_encode(read_verified(v))));
      ar.finishNode();
    }
    ar.finishNode();
  }
  return os.str();
}

SWITCHYARD_INLINE void ModelRegistry::import_json(std::string_view json) {
  // Parsed iteratively into a DOM and read by type: hostile nesting cannot exhaust the stack.
  detail::registry::RegistryExport doc;
  std::vector<detail::ExportedArtifact> exported;
  detail::registry_export_from_json(json, doc.state, doc.audit, exported);
  std::map<std::string, std::string> carried;  // sha256 -> bytes, verified
  for (const auto& a : exported) {
    detail::require_sha256_hex(a.sha256, "import: ");
    std::string bytes = detail::base64_decode(a.base64, "import: artifact " + a.sha256);
    if (const std::string actual = detail::sha256_hex(bytes); actual != a.sha256) {
      throw IntegrityError("import: artifact " + a.sha256 + " carries bytes with SHA-256 " +
                           actual);
    }
    carried.emplace(a.sha256, std::move(bytes));
  }
  std::vector<std::string> missing;
  std::set<std::string> to_store;
  for (const auto& v : doc.state.versions) {
    validate_model_name(v.name, NameRules{.require_domain_task = false});
    const ArtifactRef& a = v.artifact;
    const std::string label = detail::registry::ref(v.name, v.version) + " (" + a.uri + ")";
    if (!a.in_store()) {
      if (!artifacts_->contains(a.sha256)) missing.push_back(label);
      continue;
    }
    if (a.uri != ArtifactRef::store_uri(a.sha256)) {
      throw IntegrityError("import: " + label + ": the uri does not match its sha256");
    }
    auto it = carried.find(a.sha256);
    if (it == carried.end()) {
      missing.push_back(label);
    } else if (it->second.size() != a.size) {
      throw IntegrityError("import: " + label + ": the export carries " +
                           std::to_string(it->second.size()) + " bytes, expected " +
                           std::to_string(a.size));
    } else {
      to_store.insert(a.sha256);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw NotFound("import: artifacts missing from the artifact store or the export: " + list);
  }
  detail::MutexLock lk(write_mu_);
  if (!store_->changes_since(0).first.empty() || !snapshot_.load()->models.empty()) {
    throw AlreadyExists("import: the registry is not empty");
  }
  {
    auto tx = store_->begin();
    for (const auto& sha : to_store) tx->put_artifact(sha, carried.at(sha));
    for (const auto& v : doc.state.versions) tx->insert_version(v);
    for (const auto& a : doc.state.aliases) tx->set_alias(a);
    for (const auto& r : doc.audit) tx->append_audit(r);
    tx->commit();
  }
  apply_state(store_->load(), {}, true);
}

}  // namespace switchyard
