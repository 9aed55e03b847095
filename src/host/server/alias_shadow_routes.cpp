// SPDX-License-Identifier: Apache-2.0
// RestApi's alias routes (the registry's named pointers) and shadow routes (a ShadowPredictor per
// model, mirroring a share of its live requests to other versions off the request path).
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <switchyard/core/units.hpp>
#include <switchyard/shadow/shadow_config.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>

#include "rest_api_state.hpp"

namespace switchyard::server {

// ---- aliases -----------------------------------------------------------------------------------

namespace {

json alias_json(const ModelVersion& v, const std::string& alias) {
  return {{"model", v.name},
          {"alias", alias},
          {"model_id", model_id_of(v)},
          {"version", v.semver.empty() ? std::to_string(v.version) : v.semver},
          {"registry_version", v.version}};
}

}  // namespace

HttpResponse RestApi::State::list_aliases(const Target& t) {
  const std::string& name = t.segments[1];
  std::lock_guard lock(control_mu);
  require_model(name);
  json list = json::array();
  for (const auto& [alias, version] : registry->aliases(name)) {
    list.push_back(alias_json(*registry->get(name, version), alias));
  }
  return json_response(200, {{"model", name}, {"aliases", list}});
}

HttpResponse RestApi::State::get_alias(const Target& t) {
  const std::string& name = t.segments[1];
  std::lock_guard lock(control_mu);
  require_model(name);
  const auto aliases = registry->aliases(name);
  const auto it = aliases.find(t.segments[3]);
  if (it == aliases.end()) {
    fail(404, "model '" + name + "' has no alias '" + t.segments[3] + "'", "alias");
  }
  json out = version_json(*registry->get(name, it->second));
  out["alias"] = it->first;
  return json_response(200, out);
}

HttpResponse RestApi::State::set_alias(const HttpRequest& r, const Target& t,
                                       const std::string& actor) {
  const std::string& name = t.segments[1];
  const std::string& alias = t.segments[3];
  const json doc = parse_object(r.body);
  require_model(name);
  const std::int64_t version = resolve_version(name, doc.value("version", json()), "version");
  try {
    registry->set_alias(name, alias, version,
                        {.actor = actor, .reason = "PUT /models/{name}/aliases/{alias}"});
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "alias");
  }
  return json_response(200, alias_json(*registry->get(name, version), alias));
}

HttpResponse RestApi::State::remove_alias(const HttpRequest&, const Target& t,
                                          const std::string& actor) {
  const std::string& name = t.segments[1];
  const std::string& alias = t.segments[3];
  require_model(name);
  try {
    registry->remove_alias(name, alias,
                           {.actor = actor, .reason = "DELETE /models/{name}/aliases/{alias}"});
  } catch (const NotFound&) {
    fail(404, "model '" + name + "' has no alias '" + alias + "'", "alias");
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "alias");
  }
  return json_response(200, {{"model", name}, {"alias", alias}, {"removed", true}});
}

// ---- shadows -----------------------------------------------------------------------------------

namespace {

// A duration in a JSON body: whole seconds (a number) or the library's duration text ("90s",
// "1h", "7d"), positive and at most 3650 days. 400 naming `field` for anything else.
Duration duration_field(const json& value, const char* field) {
  std::optional<Duration> d;
  if (value.is_number()) {
    const double s = value.get<double>();
    if (s > 0 && s <= 3650.0 * 86400) {
      d = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
    }
  } else if (value.is_string()) {
    d = parse_duration(value.get<std::string>());
  }
  if (!d || *d <= Duration::zero() || *d > std::chrono::hours(24 * 3650)) {
    fail(400, std::string(field) + " must be a positive duration: seconds, or e.g. \"90s\", \"1h\"",
         field);
  }
  return *d;
}

// The shadows a POST body asks for: a JSON object ({"version", "share", "sampling",
// "duration"}) or seed 003's shadow deployment YAML, whose primary and shadows must be `name`.
using VersionResolver = std::function<std::int64_t(const json&, const char*)>;

std::vector<ShadowVersionOptions> shadows_requested(const VersionResolver& resolve,
                                                    const std::string& name,
                                                    std::string_view body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '{') {
    const json doc = parse_object(body);
    ShadowVersionOptions o;
    o.model = name;
    o.version = resolve(doc.value("version", json()), "version");
    if (const auto share = optional_number(doc, "share")) {
      if (*share < 0.0 || *share > 1.0) fail(400, "share must be between 0 and 1", "share");
      o.share = *share;
    }
    if (const auto sampling = optional_string(doc, "sampling", 16)) {
      if (*sampling == "random") {
        o.sampling = ShadowSampling::kRandom;
      } else if (*sampling != "sticky") {
        fail(400, "sampling must be 'sticky' or 'random'", "sampling");
      }
    }
    if (const auto it = doc.find("duration"); it != doc.end() && !it->is_null()) {
      o.duration = duration_field(*it, "duration");
    }
    return {std::move(o)};
  }
  ShadowDeploymentConfig config;
  try {
    config = parse_shadow_config(body);
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "body");
  }
  if (config.primary.model != name) {
    fail(400, "deployment.primary.model is '" + config.primary.model + "', not '" + name + "'",
         "deployment.primary.model");
  }
  auto versions = config.shadow_versions();
  for (const auto& v : versions) {
    if (v.model != name) {
      fail(400, "deployment.shadow.model is '" + v.model + "', not '" + name + "'",
           "deployment.shadow.model");
    }
    resolve(json(v.version), "deployment.shadow.version");
  }
  return versions;
}

}  // namespace

HttpResponse RestApi::State::attach_shadow(const HttpRequest& r, const Target& t,
                                           const std::string&) {
  const std::string& name = t.segments[1];
  require_model(name);
  auto requested = shadows_requested(
      [&](const json& v, const char* field) { return resolve_version(name, v, field); }, name,
      r.body);
  auto& predictor = shadows[name];
  if (predictor) {
    for (const auto& v : predictor->report().versions) {
      for (const auto& o : requested) {
        if (v.version == o.version) {
          fail(409, "version " + std::to_string(o.version) + " of model '" + name +
                        "' is already a shadow",
               "version");
        }
      }
    }
  }
  const bool fresh = !predictor;
  if (fresh) {
    predictor = std::make_shared<ShadowPredictor>(
        ShadowPredictor::Options{.source = registry.get(), .clock = clock});
  }
  json added = json::array();
  try {
    for (auto& o : requested) {
      const std::int64_t version = o.version;
      predictor->add_shadow(std::move(o));
      added.push_back(version);
    }
  } catch (...) {
    for (const auto& v : added) predictor->remove_shadow(name, v.get<std::int64_t>());
    if (fresh) shadows.erase(name);
    throw;
  }
  if (fresh) {
    predictor->start();
    deployment_locked(name).add_observer(predictor);
  }
  return json_response(201, {{"model", name}, {"shadow_versions", added}});
}

HttpResponse RestApi::State::detach_shadow(const HttpRequest&, const Target& t,
                                           const std::string&) {
  const std::string& name = t.segments[1];
  require_model(name);
  const std::int64_t version = resolve_version(name, json(t.segments[3]), "version");
  const auto it = shadows.find(name);
  if (it == shadows.end() || !it->second->remove_shadow(name, version)) {
    fail(404, "version " + t.segments[3] + " of model '" + name + "' is not a shadow", "version");
  }
  return json_response(200, {{"model", name}, {"version", version}, {"removed", true}});
}

HttpResponse RestApi::State::shadow_report(const Target& t) {
  const std::string& name = t.segments[1];
  std::shared_ptr<ShadowPredictor> predictor;
  {
    std::lock_guard lock(control_mu);
    require_model(name);
    if (const auto it = shadows.find(name); it != shadows.end()) predictor = it->second;
  }
  // ?settle=true: first wait (at most 5 s, on a condition variable) until every mirrored
  // request queued so far has been compared, so the figures add up.
  if (const auto it = t.query.find("settle"); it != t.query.end()) {
    if (it->second != "true" && it->second != "false") {
      fail(400, "settle must be true or false", "settle");
    }
    if (predictor && it->second == "true") predictor->drain(std::chrono::seconds(5));
  }
  json out = predictor ? json::parse(predictor->report().to_json())
                       : json{{"state", "idle"}, {"versions", json::array()}};
  out["model"] = name;
  return json_response(200, out);
}

void RestApi::State::forward_label(const std::string& name, const std::string& request_id,
                                   std::int32_t label, bool correct) {
  std::lock_guard lock(control_mu);
  if (const auto it = shadows.find(name); it != shadows.end()) {
    it->second->record_label(request_id, label);
  }
  label_canary_locked(name, request_id, correct);
  label_experiments_locked(name, request_id, label);
}

}  // namespace switchyard::server
