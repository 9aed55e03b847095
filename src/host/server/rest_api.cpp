// SPDX-License-Identifier: Apache-2.0
// RestApi: parsing, validation, routing to the registry and the deployments, JSON answers.
#include "rest_api.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/core/stage.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/detail/snapshot_cell.hpp>
#include <switchyard/monitoring/exposition.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/rollout/performance_report.hpp>
#include <switchyard/serving/deployment.hpp>
#include <system_error>
#include <unordered_map>

#include "api_support.hpp"
#include "dashboard.hpp"
#include "rest_api_state.hpp"
#include "text_classifier.hpp"

namespace switchyard::server {

std::string_view HttpRequest::header(std::string_view name) const noexcept {
  for (const auto& [k, v] : headers) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < k.size() && same; ++i) {
      same = (k[i] | 0x20) == (name[i] | 0x20);
    }
    if (same) return v;
  }
  return {};
}

RestApi::RestApi(Options options) : state_(std::make_unique<State>(std::move(options))) {}
RestApi::~RestApi() = default;

void RestApi::tick() noexcept {
  try {
    state_->tick_canaries();
  } catch (...) {  // a failed evaluation is retried on the next tick
  }
}

std::optional<FollowerStatus> RestApi::registry_status() const {
  return state_->registry_status();
}

std::pair<double, double> RestApi::training_accuracy() const noexcept {
  return {state_->models.small_training_accuracy, state_->models.full_training_accuracy};
}

// ---- dispatch ----------------------------------------------------------------------------------

HttpResponse RestApi::handle(const HttpRequest& request) noexcept {
  try {
    try {
      if (request.body.size() > state_->options.max_body_bytes) {
        fail(413,
             "the body is larger than " + std::to_string(state_->options.max_body_bytes) + " bytes",
             "body");
      }
      return state_->dispatch(request);
    } catch (const ApiError& e) {
      return error_response(e.status, e.message, e.field);
    } catch (const Error& e) {
      return error_response(status_for(e.code()), e.what(), "");
    } catch (const std::exception& e) {
      return error_response(500, std::string("internal error: ") + e.what(), "");
    }
  } catch (...) {
    HttpResponse r;
    r.status = 500;
    r.body = R"({"error":"internal error","field":null})";
    return r;
  }
}

HttpResponse RestApi::State::dispatch(const HttpRequest& r) {
  const Target t = parse_target(r.target);
  const auto& seg = t.segments;
  const bool get = r.method == "GET" || r.method == "HEAD";
  const bool post = r.method == "POST";
  auto method_not_allowed = [&](const char* allowed) -> HttpResponse {
    HttpResponse resp = error_response(405,
                                       "method " + std::string(r.method) + " is not allowed on " +
                                           std::string(r.target.substr(0, r.target.find('?'))) +
                                           " (allowed: " + allowed + ")",
                                       "");
    resp.headers.emplace_back("Allow", allowed);
    return resp;
  };
  if (seg.size() == 1 && seg[0] == "predict") return post ? predict(r) : method_not_allowed("POST");
  if (seg.size() == 1 && seg[0] == "dashboard") {
    return get ? dashboard_page : method_not_allowed("GET");
  }
  if (seg.empty()) {  // "/": the dashboard
    if (!get) return method_not_allowed("GET");
    HttpResponse resp;
    resp.status = 302;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = "see /dashboard\n";
    resp.headers.emplace_back("Location", "/dashboard");
    return resp;
  }
  if (seg.size() == 1 && seg[0] == "health") return get ? health() : method_not_allowed("GET");
  if (seg.size() == 1 && seg[0] == "ready") return get ? ready() : method_not_allowed("GET");
  if (seg.size() == 1 && seg[0] == "metrics") return get ? metrics() : method_not_allowed("GET");
  if (seg.size() == 1 && seg[0] == "feedback") {
    return post ? feedback_route(r) : method_not_allowed("POST");
  }
  if (!seg.empty() && seg[0] == "experiments") {
    if (seg.size() == 1) {
      if (get) return list_experiments();
      if (post) return control(r, &State::start_experiment, t);
      return method_not_allowed("GET, POST");
    }
    if (seg.size() == 2) {
      if (get) return experiment_report(t);
      if (r.method == "DELETE") return control(r, &State::stop_experiment, t);
      return method_not_allowed("GET, DELETE");
    }
  }
  if (!seg.empty() && seg[0] == "models") {
    if (seg.size() == 1) {
      if (get) return list_models(t);
      if (post) return control(r, &State::register_model, t);
      return method_not_allowed("GET, POST");
    }
    if (seg.size() == 2 && seg[1] == "performance") {
      return get ? performance() : method_not_allowed("GET");
    }
    if (seg.size() == 3 && seg[2] == "activate") {
      return post ? control(r, &State::activate, t) : method_not_allowed("POST");
    }
    if (seg.size() == 3 && seg[2] == "transition") {
      return post ? control(r, &State::transition, t) : method_not_allowed("POST");
    }
    if (seg.size() == 3 && seg[2] == "rollback") {
      return post ? control(r, &State::rollback, t) : method_not_allowed("POST");
    }
    if (seg.size() == 3 && seg[2] == "aliases") {
      return get ? list_aliases(t) : method_not_allowed("GET");
    }
    if (seg.size() == 4 && seg[2] == "aliases") {
      if (get) return get_alias(t);
      if (r.method == "PUT") return control(r, &State::set_alias, t);
      if (r.method == "DELETE") return control(r, &State::remove_alias, t);
      return method_not_allowed("GET, PUT, DELETE");
    }
    if (seg.size() == 3 && seg[2] == "shadows") {
      if (get) return shadow_report(t);
      if (post) return control(r, &State::attach_shadow, t);
      return method_not_allowed("GET, POST");
    }
    if (seg.size() == 4 && seg[2] == "shadows") {
      return r.method == "DELETE" ? control(r, &State::detach_shadow, t)
                                  : method_not_allowed("DELETE");
    }
    if (seg.size() == 3 && seg[2] == "canary") {
      if (get) return canary_status(t);
      if (post) return control(r, &State::start_canary, t);
      return method_not_allowed("GET, POST");
    }
    if (seg.size() == 4 && seg[2] == "canary" &&
        (seg[3] == "pause" || seg[3] == "resume" || seg[3] == "abort")) {
      return post ? control(r, &State::canary_action, t) : method_not_allowed("POST");
    }
    if (seg.size() == 3 && seg[2] == "drift") {
      return get ? drift_report(t) : method_not_allowed("GET");
    }
  }
  fail(404, "no route " + std::string(r.method) + " " +
                std::string(r.target.substr(0, r.target.find('?'))));
}

// A control-plane call: the token check, one call at a time, and an audit line either way.
HttpResponse RestApi::State::control(const HttpRequest& r,
                                     HttpResponse (State::*route)(const HttpRequest&, const Target&,
                                                                  const std::string&),
                                     const Target& t) {
  const std::string actor = actor_of(r);
  if (!options.token.empty() && !token_matches(r.header("Authorization"), options.token)) {
    audit(r, actor, 401);
    fail(401,
         r.header("Authorization").empty() ? "this route needs 'Authorization: Bearer <token>'"
                                           : "the bearer token is not valid",
         "Authorization");
  }
  std::lock_guard lock(control_mu);
  try {
    HttpResponse resp = (this->*route)(r, t, actor);
    audit(r, actor, resp.status);
    return resp;
  } catch (const ApiError& e) {
    audit(r, actor, e.status);
    throw;
  } catch (const Error& e) {
    audit(r, actor, status_for(e.code()));
    throw;
  }
}

// ---- the registry routes ---------------------------------------------------------------------

json RestApi::State::version_json(const ModelVersion& v) {
  json j = {{"model_id", model_id_of(v)},
            {"name", v.name},
            {"version", v.semver.empty() ? std::to_string(v.version) : v.semver},
            {"registry_version", v.version},
            {"stage", to_string(v.stage)},
            {"status", status_of(v)},
            {"traffic_percent", percent_of(v.name, v.version)},
            {"description", v.description},
            {"created_at", format_time(v.created_at)}};
  const auto acc = v.metrics.find("accuracy");
  j["accuracy"] = acc == v.metrics.end() ? json(nullptr) : json(acc->second);
  return j;
}

HttpResponse RestApi::State::register_model(const HttpRequest& r, const Target&,
                                            const std::string& actor) {
  const json doc = parse_object(r.body);
  const std::string name = required_string(doc, "name", 128);
  const std::string version = required_string(doc, "version", 64);
  const auto accuracy = optional_number(doc, "accuracy");
  const auto description = optional_string(doc, "description");
  try {
    validate_model_name(name, NameRules{.require_domain_task = false});
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "name");
  }
  try {
    validate_semver(version);
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "version");
  }
  if (accuracy && (*accuracy < 0.0 || *accuracy > 1.0)) {
    fail(400, "accuracy must be between 0 and 1", "accuracy");
  }
  std::int64_t next = 1;
  for (const auto& n : registry->models()) {
    if (n != name) continue;
    const auto latest = registry->latest(name);
    next = latest->version + 1;
    try {
      registry->by_semver(name, version);
      fail(409, "model '" + name + "' already has version " + version, "version");
    } catch (const NotFound&) {
    }
  }
  VersionMetadata metadata;
  metadata.semver = version;
  if (accuracy) metadata.metrics["accuracy"] = *accuracy;
  if (description) metadata.description = *description;
  metadata.owner = actor;
  metadata.tags[kModelIdTag] = "model-" + hex16(random_u64()).substr(0, 12);
  // The first version of a name gets the model trained on half the sentences, later ones the
  // model trained on all of them (docs/server.md).
  const Artifact artifact{std::string(kLinearFormat),
                          next == 1 ? models.small_artifact : models.full_artifact};
  VersionRef v;
  try {
    v = registry->register_version(name, artifact, std::move(metadata),
                                   {.actor = actor, .reason = "POST /models"});
  } catch (const AlreadyExists& e) {
    fail(409, e.what(), "version");
  }
  apply_traffic_locked(name);
  publish_view_locked();
  return json_response(201, version_json(*v));
}

HttpResponse RestApi::State::activate(const HttpRequest& r, const Target& t, const std::string&) {
  const json doc = parse_object(r.body);
  const auto it = doc.find("traffic_percent");
  if (it == doc.end() || it->is_null()) fail(400, "traffic_percent is required", "traffic_percent");
  if (!it->is_number()) fail(400, "traffic_percent must be a number", "traffic_percent");
  const double pct = it->get<double>();
  if (!std::isfinite(pct) || pct < 0 || pct > 100 || pct != std::floor(pct)) {
    fail(400, "traffic_percent must be a whole number from 0 to 100", "traffic_percent");
  }
  const auto [name, version] = find_model_id(t.segments[1], "model_id");
  if (canary_live_locked(name)) {
    fail(409, "a canary rollout of model '" + name + "' is live: abort it first", "model_id");
  }
  const VersionRef v = registry->get(name, version);
  if (pct > 0 && !can_serve(v->stage)) {
    fail(409,
         "model '" + t.segments[1] + "' is " + std::string(to_string(v->stage)) +
             " and cannot take traffic",
         "model_id");
  }
  auto before = traffic[name];
  auto after = before;
  if (pct > 0) {
    after[version] = static_cast<int>(pct);
  } else {
    after.erase(version);
  }
  int sum = 0;
  for (const auto& [ver, p] : after) sum += p;
  if (sum > 100) {
    fail(400,
         "traffic_percent " + std::to_string(static_cast<int>(pct)) +
             " would bring the traffic of model '" + name + "' to " + std::to_string(sum) +
             "%; lower another version first",
         "traffic_percent");
  }
  traffic[name] = after;
  try {
    apply_traffic_locked(name);
    save_traffic_locked();
  } catch (...) {
    traffic[name] = before;
    apply_traffic_locked(name);
    throw;
  }
  publish_view_locked();
  return json_response(200, version_json(*registry->get(name, version)));
}

void RestApi::State::require_model(const std::string& name) {
  const auto names = registry->models();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    fail(404, "model '" + name + "' is not registered", "name");
  }
}

std::int64_t RestApi::State::resolve_version(const std::string& name, const json& value,
                                             const char* field) {
  if (value.is_null()) fail(400, std::string(field) + " is required", field);
  try {
    if (value.is_number_integer()) return registry->get(name, value.get<std::int64_t>())->version;
    if (value.is_string()) {
      const std::string text = value.get<std::string>();
      if (all_digits(text)) return registry->get(name, std::stoll(text))->version;
      for (const auto& v : registry->versions(name)) {
        if (v->semver == text || model_id_of(*v) == text) return v->version;
      }
      fail(404, "model '" + name + "' has no version " + text, field);
    }
  } catch (const NotFound& e) {
    fail(404, e.what(), field);
  }
  fail(400,
       std::string(field) + " must be a registry version number, a semantic version or a model id",
       field);
}

json report_json(const ValidationReport& report) {
  json checks = json::array();
  for (const auto& c : report.checks) {
    checks.push_back(
        {{"gate", c.gate}, {"subject", c.subject}, {"passed", c.passed}, {"detail", c.detail}});
  }
  return {{"passed", report.passed()}, {"checks", checks}};
}

HttpResponse RestApi::State::transition(const HttpRequest& r, const Target& t,
                                        const std::string& actor) {
  const json doc = parse_object(r.body);
  const std::string stage_text = required_string(doc, "stage", 32);
  const auto reason = optional_string(doc, "reason");
  const auto stage = stage_from_string(stage_text);
  if (!stage) {
    fail(400,
         "stage '" + stage_text +
             "': expected Development, Staging, Production, Archived or Rejected",
         "stage");
  }
  const auto [name, version] = find_model_id(t.segments[1], "model_id");
  json gate_report = nullptr;
  if (*stage == Stage::kStaging && registry->get(name, version)->stage == Stage::kDevelopment) {
    gate_report = report_json(registry->validate(name, version));
  }
  try {
    registry->transition(
        name, version, *stage,
        {.actor = actor, .reason = reason.value_or("POST /models/{id}/transition")});
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidTransition && e.code() != ErrorCode::kValidationFailed)
      throw;
    apply_traffic_locked(name);  // a failed gate leaves the version Rejected
    publish_view_locked();
    HttpResponse resp =
        json_response(409, {{"error", e.what()}, {"field", "stage"}, {"gate_report", gate_report}});
    return resp;
  }
  apply_traffic_locked(name);
  save_traffic_locked();
  publish_view_locked();
  json out = version_json(*registry->get(name, version));
  out["gate_report"] = gate_report;
  return json_response(200, out);
}

HttpResponse RestApi::State::rollback(const HttpRequest& r, const Target& t,
                                      const std::string& actor) {
  const json doc = r.body.empty() ? json::object() : parse_object(r.body);
  const std::string& name = t.segments[1];
  std::optional<std::int64_t> target;
  if (const auto it = doc.find("version"); it != doc.end() && !it->is_null()) {
    if (it->is_number_integer()) {
      target = it->get<std::int64_t>();
    } else if (it->is_string()) {
      try {
        target = registry->by_semver(name, it->get<std::string>())->version;
      } catch (const NotFound& e) {
        fail(404, e.what(), "version");
      }
    } else {
      fail(400, "version must be a registry version number or a semantic version", "version");
    }
  }
  require_model(name);
  if (canary_live_locked(name)) {
    fail(409, "a canary rollout of model '" + name + "' is live: abort it first", "name");
  }
  const auto reason = optional_string(doc, "reason");
  const VersionRef v = registry->rollback(
      name, {.actor = actor, .reason = reason.value_or("POST /models/{name}/rollback")}, target);
  // The restored version takes the traffic of the versions it replaces.
  auto& split = traffic[name];
  int moved = 0;
  for (const auto& [ver, p] : split) moved += ver == v->version ? 0 : p;
  if (moved > 0 || split.empty()) {
    split.clear();
    split[v->version] = 100;
  }
  apply_traffic_locked(name);
  save_traffic_locked();
  publish_view_locked();
  return json_response(200, version_json(*registry->get(name, v->version)));
}

HttpResponse RestApi::State::list_models(const Target& t) {
  std::optional<std::string> status;
  if (const auto it = t.query.find("status"); it != t.query.end()) {
    if (it->second != "active" && it->second != "inactive" && it->second != "testing") {
      fail(400, "status '" + it->second + "': expected active, inactive or testing", "status");
    }
    status = it->second;
  }
  std::lock_guard lock(control_mu);  // a consistent read of the registry and the split
  json list = json::array();
  for (const auto& name : registry->models()) {
    const Deployment* d = deployments.count(name) ? deployments.at(name).get() : nullptr;
    const auto stats = d ? d->stats() : std::vector<VariantStats>{};
    for (const auto& v : registry->versions(name)) {
      json j = version_json(*v);
      if (status && j["status"] != *status) continue;
      std::uint64_t requests = 0;
      json latency = nullptr, confidence = nullptr;
      for (const auto& s : stats) {
        if (s.version != v->version) continue;
        requests = s.stats.requests;
        if (s.stats.latency.count() > 0) latency = s.stats.latency.mean() / 1e6;
        if (s.stats.confidence_count > 0) confidence = s.stats.mean_confidence();
      }
      j["request_count"] = requests;
      j["avg_latency_ms"] = latency;
      j["avg_confidence"] = confidence;
      list.push_back(std::move(j));
    }
  }
  return json_response(200, {{"models", list}});
}

HttpResponse RestApi::State::performance() {
  std::lock_guard lock(control_mu);
  json list = json::array();
  std::vector<std::string> recommendations;
  for (const auto& [name, d] : deployments) {
    const PerformanceReport report = performance_report(*d);
    if (report.versions.empty()) continue;
    std::map<std::int64_t, std::string> ids;
    for (const auto& vp : report.versions) {
      json j;
      VersionRef v;
      try {
        v = registry->get(name, vp.version);
      } catch (const NotFound&) {
        continue;
      }
      ids[vp.version] = model_id_of(*v) + " (" +
                        (v->semver.empty() ? std::to_string(v->version) : v->semver) + ")";
      j = {{"model_id", model_id_of(*v)},
           {"name", name},
           {"version", v->semver.empty() ? std::to_string(v->version) : v->semver},
           {"registry_version", vp.version},
           {"traffic_percent", percent_of(name, vp.version)},
           {"request_count", vp.request_count},
           {"errors", vp.errors},
           {"avg_latency_ms", vp.avg_latency_ms ? json(*vp.avg_latency_ms) : json(nullptr)},
           {"p99_latency_ms", vp.p99_latency_ms ? json(*vp.p99_latency_ms) : json(nullptr)},
           {"avg_confidence", vp.avg_confidence ? json(*vp.avg_confidence) : json(nullptr)},
           {"labeled", vp.labeled},
           {"accuracy", vp.accuracy ? json(*vp.accuracy) : json(nullptr)}};
      list.push_back(std::move(j));
    }
    // The library's sentence names registry versions; the seed's readers know model ids.
    static const std::regex kVersion("version ([0-9]+)");
    std::string text;
    std::string rec = report.recommendation;
    std::smatch m;
    while (std::regex_search(rec, m, kVersion)) {
      const auto id = ids.find(std::stoll(m[1].str()));
      text += m.prefix().str() + (id != ids.end() ? id->second : m[0].str());
      rec = m.suffix().str();
    }
    recommendations.push_back(name + ": " + text + rec);
  }
  std::string recommendation;
  for (const auto& s : recommendations) recommendation += (recommendation.empty() ? "" : "; ") + s;
  if (recommendation.empty()) recommendation = "no model has served a request yet";
  return json_response(200, {{"models", list}, {"recommendation", recommendation}});
}

// ---- the request path
// ----------------------------------------------------------------------------

HttpResponse RestApi::State::predict(const HttpRequest& r) {
  const json doc = parse_object(r.body);
  const std::string text = required_string(doc, "text", options.max_body_bytes);
  const auto pinned = optional_string(doc, "model_version", 64);
  const auto model_name = optional_string(doc, "model", 128);
  auto key = optional_string(doc, "key", 256);
  if (!key) key = optional_string(doc, "user_id", 256);

  const auto ref = view.read();
  const ServingView& v = *ref;
  const ModelView* mv = nullptr;
  std::string name;
  if (model_name) {
    const auto it = v.models.find(*model_name);
    if (it == v.models.end()) fail(404, "model '" + *model_name + "' is not registered", "model");
    name = it->first;
    mv = &it->second;
  } else if (pinned) {
    for (const auto& [n, m] : v.models) {
      if (!m.by_semver.count(*pinned) &&
          !(all_digits(*pinned) && m.ids.count(std::stoll(*pinned)))) {
        continue;
      }
      if (mv)
        fail(400, "several models have version " + *pinned + "; name one in 'model'", "model");
      name = n;
      mv = &m;
    }
    if (!mv) fail(404, "no model has version " + *pinned, "model_version");
  } else {
    if (v.active_names.empty()) fail(503, "no active model: activate a version first");
    if (v.active_names.size() > 1) {
      fail(400, "several models are active; name one in 'model'", "model");
    }
    name = v.active_names.front();
    mv = &v.models.find(name)->second;
  }
  std::optional<std::int64_t> version;
  if (pinned) {
    if (const auto it = mv->by_semver.find(*pinned); it != mv->by_semver.end()) {
      version = it->second;
    } else if (all_digits(*pinned) && mv->ids.count(std::stoll(*pinned))) {
      version = std::stoll(*pinned);
    } else {
      fail(404, "model '" + name + "' has no version " + *pinned, "model_version");
    }
  } else if (!mv->active) {
    fail(503, "no active model: model '" + name + "' has no version with traffic");
  }

  thread_local FeatureRow row;
  featurizer.featurize(text, row);
  const std::vector<double>& features = row.values;
  const std::uint64_t request_bits = random_u64();
  const std::string request_id = hex16(request_bits);
  const auto started = std::chrono::steady_clock::now();
  auto result = mv->deployment->predict(
      {.key = key ? std::string_view(*key) : std::string_view(request_id),
       .input = TensorView(features.data(), {1, static_cast<std::int64_t>(features.size())}),
       .version = version,
       .request_id = request_id});
  if (!result.ok()) {
    switch (result.code()) {
      case ErrorCode::kNotFound:
        fail(404, result.status().message(), "model_version");
      case ErrorCode::kNoActiveModel:
        fail(503, result.status().message());
      default:
        fail(500, result.status().message());
    }
  }
  const Prediction& p = result->prediction;
  const std::int32_t label = p.labels.empty() ? -1 : p.labels.front();
  const double confidence = p.confidence.empty() ? std::nan("") : p.confidence.front();
  feedback.remember(request_bits, {mv->deployment, result->version, label, false});
  observe_drift(*mv, text);
  const auto id = mv->ids.find(result->version);
  const auto semver = mv->semvers.find(result->version);
  if (prediction_log) {
    LoggedPrediction logged;
    logged.request_id = request_bits;
    logged.at_ns = to_unix_nanos(clock->now());
    logged.version = result->version;
    logged.label = label;
    logged.confidence = confidence;
    logged.latency_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    logged.set(name, semver != mv->semvers.end() ? std::string_view(semver->second) : "",
               id != mv->ids.end() ? std::string_view(id->second) : "");
    prediction_log->record(logged);
  }
  // The hot path's answer, written directly (the same text nlohmann would produce, keys sorted).
  const std::string prediction = label == 1   ? "positive"
                                 : label == 0 ? "negative"
                                              : std::to_string(label);
  HttpResponse out;
  out.body.reserve(192);
  out.body += "{\"confidence\":";
  out.body += std::isfinite(confidence) ? detail::json_number(confidence) : std::string("null");
  out.body += ",\"model\":" + detail::json_quote(name);
  out.body += ",\"model_id\":" +
              detail::json_quote(
                  id != mv->ids.end() ? id->second : name + "-v" + std::to_string(result->version));
  out.body += ",\"model_version\":" +
              detail::json_quote(semver != mv->semvers.end() && !semver->second.empty()
                                     ? semver->second
                                     : std::to_string(result->version));
  out.body += ",\"prediction\":" + detail::json_quote(prediction);
  out.body += ",\"request_id\":\"" + request_id + "\"}";
  return out;
}

HttpResponse RestApi::State::feedback_route(const HttpRequest& r) {
  const json doc = parse_object(r.body);
  const std::string request_id = required_string(doc, "request_id", 64);
  const std::string label = required_string(doc, "label", 32);
  if (label != "positive" && label != "negative") {
    fail(400, "label must be 'positive' or 'negative'", "label");
  }
  const auto bits = parse_hex16(request_id);
  const auto entry = bits ? feedback.claim(*bits, request_id) : std::nullopt;
  if (!entry) fail(404, "request " + request_id + " is unknown or too old", "request_id");
  const bool correct = (entry->label == 1) == (label == "positive");
  entry->deployment->record_outcome(entry->version, correct);
  forward_label(std::string(entry->deployment->model()), request_id, label == "positive" ? 1 : 0,
                correct);
  if (prediction_log) prediction_log->label(*bits, label, correct);
  return json_response(200, {{"request_id", request_id}, {"correct", correct}});
}

// ---- operations
// ----------------------------------------------------------------------------------

std::optional<FollowerStatus> RestApi::State::registry_status() const {
  if (options.registry_status) return options.registry_status();
  if (follower) return follower->status();
  return std::nullopt;
}

// Availability first: 200 whenever the process answers, "degraded" when the registry it serves
// from may be behind the shared store (unreachable, or stale beyond Options::max_staleness).
HttpResponse RestApi::State::health() {
  json registry_json = {{"store", store_name}};
  bool healthy = true;
  if (const auto s = registry_status()) {
    const double max_staleness = std::chrono::duration<double>(options.max_staleness).count();
    healthy = s->reachable && s->staleness_seconds <= max_staleness;
    registry_json["reachable"] = s->reachable;
    registry_json["staleness_seconds"] = s->staleness_seconds;
    registry_json["max_staleness_seconds"] = max_staleness;
    registry_json["consecutive_failures"] = s->consecutive_failures;
    registry_json["last_error"] = s->error.empty() ? json(nullptr) : json(s->error);
  }
  return json_response(200, {{"status", healthy ? "healthy" : "degraded"},
                             {"registry", std::move(registry_json)}});
}

HttpResponse RestApi::State::ready() {
  const auto ref = view.read();
  const bool ready = !ref->active_names.empty();
  json body = {{"ready", ready}, {"active_models", ref->active_names}};
  if (!ready) body["reason"] = "no model has a version with traffic";
  return json_response(ready ? 200 : 503, body);
}

HttpResponse RestApi::State::metrics() {
  std::vector<ModelStats> rows;
  {
    std::lock_guard lock(control_mu);
    for (const auto& [name, d] : deployments) rows.push_back(d->model_stats());
  }
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prometheus_text(rows);
  if (follower) r.body += follower->to_prometheus();  // staleness of the shared registry
  if (prediction_log) {
    const auto s = prediction_log->stats();
    r.body +=
        "# HELP switchyard_prediction_log_rows_total Predictions written to predictions.db.\n"
        "# TYPE switchyard_prediction_log_rows_total counter\n"
        "switchyard_prediction_log_rows_total " + std::to_string(s.written) + "\n"
        "# HELP switchyard_prediction_log_dropped_total Predictions dropped: the queue was full.\n"
        "# TYPE switchyard_prediction_log_dropped_total counter\n"
        "switchyard_prediction_log_dropped_total " + std::to_string(s.dropped) + "\n"
        "# HELP switchyard_prediction_log_failed_batches_total Batches SQLite refused.\n"
        "# TYPE switchyard_prediction_log_failed_batches_total counter\n"
        "switchyard_prediction_log_failed_batches_total " + std::to_string(s.failed_batches) +
        "\n";
  }
  return r;
}

}  // namespace switchyard::server
