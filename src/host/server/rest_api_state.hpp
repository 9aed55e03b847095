// SPDX-License-Identifier: Apache-2.0
// RestApi's state, shared by the files that define its routes (rest_api.cpp, the registry
// routes; alias_shadow_routes.cpp; canary_routes.cpp; drift_routes.cpp). Internal to switchyard-server.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/core/stage.hpp>
#include <switchyard/detail/snapshot_cell.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_follower.hpp>
#include <span>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "api_support.hpp"
#include "dashboard.hpp"
#include "prediction_log.hpp"
#include "rest_api.hpp"
#include "text_classifier.hpp"

namespace switchyard {
class DriftMonitor;
class ShadowPredictor;
}  // namespace switchyard

namespace switchyard::server {

namespace fs = std::filesystem;
using nlohmann::json;

struct CanaryRun;      // canary_routes.cpp
struct ExperimentRun;  // experiment_routes.cpp
struct DriftWatch;  // drift_routes.cpp


// ---- the serving view: what a prediction reads, republished after each control-plane change ----

struct ModelView {
  Deployment* deployment = nullptr;
  DriftMonitor* drift = nullptr;  // owned by State::drift
  bool active = false;  // some version has traffic
  std::map<std::string, std::int64_t, std::less<>> by_semver;
  std::map<std::int64_t, std::string> ids;      // version -> model_id
  std::map<std::int64_t, std::string> semvers;  // version -> semver
};

struct ServingView {
  std::map<std::string, ModelView, std::less<>> models;
  std::vector<std::string> active_names;
};

inline constexpr const char* kModelIdTag = "model_id";

inline std::string model_id_of(const ModelVersion& v) {
  const auto it = v.tags.find(kModelIdTag);
  if (it != v.tags.end() && !it->second.empty()) return it->second;
  return v.name + "-v" + std::to_string(v.version);  // registered by another tool (the CLI)
}

// Predictions remembered for POST /feedback: request id -> (deployment, version, label).
// Thread-safe: a short lock per prediction (a hash-map insert, no allocation of strings).
class FeedbackLog {
 public:
  struct Entry {
    Deployment* deployment = nullptr;
    std::int64_t version = 0;
    std::int32_t label = -1;
    bool labelled = false;
  };
  explicit FeedbackLog(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}
  void remember(std::uint64_t id, Entry e) {
    std::lock_guard lock(mu_);
    if (order_.size() >= capacity_) {
      entries_.erase(order_.front());
      order_.pop_front();
    }
    if (entries_.emplace(id, e).second) order_.push_back(id);
  }
  // The entry of `id`, marked labelled; nullopt when unknown, throws 409 when labelled before.
  std::optional<Entry> claim(std::uint64_t id, const std::string& text) {
    std::lock_guard lock(mu_);
    const auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.labelled) fail(409, "request " + text + " already has feedback", "request_id");
    it->second.labelled = true;
    return it->second;
  }

 private:
  std::mutex mu_;
  std::size_t capacity_;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::deque<std::uint64_t> order_;  // oldest first
};


// ---- the state ---------------------------------------------------------------------------------

struct RestApi::State {
  explicit State(Options o)
      : options(std::move(o)),
        clock(options.clock ? options.clock : &system_clock()),
        feedback(options.feedback_capacity) {
    if (options.data_dir.empty()) throw InvalidArgument("RestApi: data_dir is required");
    if (options.max_staleness.count() <= 0) {
      throw InvalidArgument("RestApi: max_staleness must be positive");
    }
    const auto examples =
        parse_training_set(options.training_set.empty() ? embedded_training_set()
                                                        : std::string_view(options.training_set));
    models = train_sentiment_models(featurizer, examples);
    build_drift_reference(examples);
    std::error_code ec;
    fs::create_directories(options.data_dir, ec);
    if (ec) {
      throw StorageError("data directory '" + options.data_dir.string() + "': " + ec.message());
    }
    if (options.store) {
      store = options.store;
    } else {
      own_store = std::make_unique<SqliteRegistryStore>(options.data_dir / "registry.db");
      store = own_store.get();
    }
    store_name = store->describe();
    artifacts = std::make_unique<ArtifactStore>(options.data_dir / "artifacts");
    registry = std::make_unique<ModelRegistry>(
        ModelRegistry::Options{.store = store,
                               .artifacts = artifacts.get(),
                               .clock = clock,
                               .names = NameRules{.require_domain_task = false}});
    std::lock_guard lock(control_mu);
    load_traffic_locked();
    if (options.prediction_log) {
      prediction_log = std::make_unique<PredictionLog>(
          PredictionLog::Options{.path = options.data_dir / "predictions.db"});
    }
    resume_canaries_locked();  // rollouts live in the store drive their models' traffic again
    for (const auto& name : registry->models()) apply_traffic_locked(name);
    publish_view_locked();
    if (options.follow_store) {
      follower = std::make_unique<RegistryFollower>(RegistryFollower::Options{
          .registry = registry.get(), .wait_for_change = options.follow_store, .clock = clock});
    }
  }

  // ---- persistence of the traffic split ----

  fs::path traffic_path() const { return options.data_dir / "traffic.json"; }

  void load_traffic_locked() {
    std::ifstream in(traffic_path(), std::ios::binary);
    if (!in) return;  // a fresh data directory
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("models") ||
        !doc["models"].is_object()) {
      throw CorruptStore("'" + traffic_path().string() + "' is not a traffic file");
    }
    for (const auto& [name, versions] : doc["models"].items()) {
      if (!versions.is_object()) throw CorruptStore("traffic file: model '" + name + "'");
      for (const auto& [version, percent] : versions.items()) {
        if (!all_digits(version) || !percent.is_number_integer()) {
          throw CorruptStore("traffic file: model '" + name + "' version '" + version + "'");
        }
        const int p = percent.get<int>();
        if (p > 0 && p <= 100) traffic[name][std::stoll(version)] = p;
      }
    }
  }

  // Written to a temporary file and renamed over the old one: a crash leaves one or the other.
  void save_traffic_locked() {
    json doc = {{"models", json::object()}};
    for (const auto& [name, versions] : traffic) {
      json v = json::object();
      for (const auto& [version, percent] : versions) v[std::to_string(version)] = percent;
      doc["models"][name] = v;
    }
    const fs::path tmp = traffic_path().string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << doc.dump(2) << '\n';
      out.flush();
      if (!out) throw StorageError("cannot write '" + tmp.string() + "'");
    }
    std::error_code ec;
    fs::rename(tmp, traffic_path(), ec);
    if (ec) throw StorageError("cannot replace '" + traffic_path().string() + "': " + ec.message());
  }

  // ---- deployments ----

  Deployment& deployment_locked(const std::string& name) {
    auto& d = deployments[name];
    if (!d)
      d = std::make_unique<Deployment>(
          Deployment::Options{.model = name, .source = registry.get(), .events = &events});
    return *d;
  }

  static bool can_serve(Stage s) { return s != Stage::kRejected && s != Stage::kArchived; }

  // Publishes `name`'s routing table from its traffic split: one arm per version with traffic,
  // weighted by its percent (used in proportion, so 80 alone takes every request), every other
  // version that is not Rejected loaded for pinning. With no traffic, the highest such version
  // stands by for pinned requests only (unpinned ones get 503 before they reach the table).
  void apply_traffic_locked(const std::string& name) {
    if (canary_live_locked(name)) return;  // the canary controller publishes the weights
    auto& split = traffic[name];
    RoutingPolicy policy;
    policy.mode = RoutingMode::kSticky;  // a request without a key gets a random one
    policy.weight_style = WeightStyle::kRelative;
    std::int64_t standby = 0;
    for (const auto& v : registry->versions(name)) {
      if (v->stage == Stage::kRejected) continue;
      const auto it = split.find(v->version);
      if (it != split.end() && it->second > 0 && can_serve(v->stage)) {
        policy.variants.push_back(
            {"v" + std::to_string(v->version), v->version, static_cast<double>(it->second)});
      } else {
        policy.pinnable_versions.push_back(v->version);
        standby = v->version;
      }
    }
    // Versions that left the registry or may no longer serve drop out of the split.
    for (auto it = split.begin(); it != split.end();) {
      const bool kept = std::any_of(policy.variants.begin(), policy.variants.end(),
                                    [&](const VariantSpec& s) { return s.version == it->first; });
      it = kept ? std::next(it) : split.erase(it);
    }
    Deployment& d = deployment_locked(name);
    if (policy.variants.empty()) {
      if (standby == 0) {
        d.router().clear();
        return;
      }
      policy.variants.push_back({"standby", standby, 1.0});
    }
    d.router().set_policy(std::move(policy));
  }

  void publish_view_locked() {
    auto v = std::make_shared<ServingView>();
    for (const auto& name : registry->models()) {
      ModelView mv;
      mv.deployment = &deployment_locked(name);
      mv.drift = drift_monitor_locked(name);
      const auto it = traffic.find(name);
      mv.active = it != traffic.end() && !it->second.empty();
      for (const auto& ver : registry->versions(name)) {
        if (!ver->semver.empty()) mv.by_semver[ver->semver] = ver->version;
        mv.ids[ver->version] = model_id_of(*ver);
        mv.semvers[ver->version] = ver->semver;
      }
      if (mv.active) v->active_names.push_back(name);
      v->models.emplace(name, std::move(mv));
    }
    view.publish(std::move(v));
  }

  // (name, version) of a model_id; 404 naming `field` when unknown.
  std::pair<std::string, std::int64_t> find_model_id(const std::string& id, const char* field) {
    for (const auto& name : registry->models()) {
      for (const auto& v : registry->versions(name)) {
        if (model_id_of(*v) == id) return {name, v->version};
      }
    }
    fail(404, "model '" + id + "' is not registered", field);
  }

  int percent_of(const std::string& name, std::int64_t version) const {
    const auto it = traffic.find(name);
    if (it == traffic.end()) return 0;
    const auto v = it->second.find(version);
    return v == it->second.end() ? 0 : v->second;
  }

  // Seed 002's status: active (has traffic), testing (in Staging, being validated), inactive.
  std::string status_of(const ModelVersion& v) const {
    if (percent_of(v.name, v.version) > 0) return "active";
    if (v.stage == Stage::kStaging) return "testing";
    return "inactive";
  }

  // ---- audit ----

  // Who makes a control-plane change: the X-Switchyard-Actor header (printable, at most 64
  // bytes), else "api"; "token:" in front when the bearer token was checked.
  std::string actor_of(const HttpRequest& r) const {
    std::string actor(r.header("X-Switchyard-Actor"));
    const bool printable = std::all_of(actor.begin(), actor.end(), [](char c) {
      return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
    });
    if (actor.empty() || actor.size() > 64 || !printable) actor = "api";
    return options.token.empty() ? actor : "token:" + actor;
  }

  // One JSON line per control-plane call, accepted or refused, in <data>/audit.log.
  void audit(const HttpRequest& r, const std::string& actor, int status) {
    const json line = {{"at", format_time(SystemClock().now())},
                       {"actor", actor},
                       {"method", r.method},
                       {"target", r.target},
                       {"status", status}};
    std::lock_guard lock(audit_mu);
    std::ofstream out(options.data_dir / "audit.log", std::ios::app | std::ios::binary);
    out << line.dump() << '\n';
  }

  // ---- the routes (defined below) ----
  HttpResponse dispatch(const HttpRequest& r);
  HttpResponse control(const HttpRequest& r,
                       HttpResponse (State::*route)(const HttpRequest&, const Target&,
                                                    const std::string&),
                       const Target& t);
  HttpResponse register_model(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse activate(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse transition(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse rollback(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse list_models(const Target& t);
  HttpResponse performance();
  HttpResponse predict(const HttpRequest& r);
  HttpResponse feedback_route(const HttpRequest& r);
  HttpResponse health();
  std::optional<FollowerStatus> registry_status() const;
  HttpResponse ready();
  HttpResponse metrics();
  json version_json(const ModelVersion& v);
  /// 404 naming "name" unless `name` is a registered model.
  void require_model(const std::string& name);
  /// The registry version of `name` that `value` names: a registry number, a semantic version
  /// or a model id. 400 (absent, wrong type) or 404 (no such version), naming `field`.
  std::int64_t resolve_version(const std::string& name, const json& value, const char* field);

  // Aliases and shadows (alias_shadow_routes.cpp).
  HttpResponse list_aliases(const Target& t);
  HttpResponse get_alias(const Target& t);
  HttpResponse set_alias(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse remove_alias(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse attach_shadow(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse detach_shadow(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse shadow_report(const Target& t);
  /// A label that arrived by POST /feedback, passed on to the shadows and the canary of `name`.
  void forward_label(const std::string& name, const std::string& request_id, std::int32_t label,
                     bool correct);

  // Canary rollouts (canary_routes.cpp). A live rollout owns its model's router.
  HttpResponse start_canary(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse canary_action(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse canary_status(const Target& t);
  HttpResponse canary_status_locked(const std::string& name);
  void sync_canary_traffic_locked(const std::string& name, CanaryRun& run);
  bool canary_live_locked(const std::string& name) const;
  void resume_canaries_locked();
  /// Evaluates each live rollout whose interval has passed; mirrors the weights into `traffic`.
  void tick_canaries();
  void label_canary_locked(const std::string& name, const std::string& request_id, bool correct);

  // Drift (drift_routes.cpp): live requests against the training set's profile.
  void build_drift_reference(std::span<const LabelledText> examples);
  /// The drift monitor of `name`, created on first use (null without a reference profile).
  DriftMonitor* drift_monitor_locked(const std::string& name);
  /// Request path: the text's features into the model's monitor. No lock; never throws.
  void observe_drift(const ModelView& model, std::string_view text) noexcept;
  HttpResponse drift_report(const Target& t);

  // Experiments (experiment_routes.cpp): A/B reports over a model's split.
  HttpResponse start_experiment(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse stop_experiment(const HttpRequest& r, const Target& t, const std::string& actor);
  HttpResponse experiment_report(const Target& t);
  HttpResponse list_experiments();
  void label_experiments_locked(const std::string& model, const std::string& request_id,
                                std::int32_t label);

  Options options;
  const Clock* clock;
  TextFeaturizer featurizer;
  SentimentModels models;
  std::unique_ptr<SqliteRegistryStore> own_store;  // without Options::store
  RegistryStore* store = nullptr;                  // own_store or Options::store
  std::unique_ptr<ArtifactStore> artifacts;
  std::unique_ptr<ModelRegistry> registry;
  std::string store_name;  // store->describe(), for GET /health
  std::mutex control_mu;                                           // serialises control-plane calls
  // Prediction events of every deployment; emitted only while an experiment listens.
  EventHub events;
  std::map<std::string, std::unique_ptr<Deployment>> deployments;  // never erased
  std::map<std::string, std::map<std::int64_t, int>> traffic;      // name -> version -> percent
  detail::SnapshotCell<ServingView> view{std::make_shared<ServingView>()};
  FeedbackLog feedback;
  std::mutex audit_mu;
  // Under control_mu; declared after the deployments, so destroyed before them.
  std::map<std::string, std::shared_ptr<ShadowPredictor>> shadows;  // one per model, on demand
  std::map<std::string, std::shared_ptr<CanaryRun>> canaries;        // the last rollout per model
  std::shared_ptr<DriftWatch> drift;                                 // set once at construction
  std::map<std::string, std::shared_ptr<ExperimentRun>> experiments;  // by experiment name
  std::unique_ptr<PredictionLog> prediction_log;                     // Options::prediction_log
  // GET /dashboard: built once (the page and the hashes of its Content-Security-Policy).
  const HttpResponse dashboard_page = render_dashboard(embedded_chartjs());
  // Options::follow_store. Last: its thread refreshes the registry, so it stops first.
  std::unique_ptr<RegistryFollower> follower;
};

}  // namespace switchyard::server
