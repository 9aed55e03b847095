// SPDX-License-Identifier: Apache-2.0
// RestApi's canary routes: start a CanaryPlan on a model (YAML or JSON), its status, pause,
// resume and abort, evaluated on RestApi::tick(). A live rollout owns its model's router; the
// server's traffic split mirrors its weights and takes over again when it ends.
#include <cmath>
#include <nlohmann/json.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/rollout/canary_plan.hpp>

#include "rest_api_state.hpp"

namespace switchyard::server {

/// One model's rollout: the metrics it judges (an observer of the deployment) and its controller.
/// Guarded by RestApi::State::control_mu, except `last_analysis` (written by the analysis signal).
struct CanaryRun {
  std::shared_ptr<CanaryMetrics> metrics;
  std::unique_ptr<CanaryController> controller;
  TimePoint next_evaluation{};
  Duration interval{};
  bool observing = true;  // metrics attached to the deployment
  std::mutex analysis_mu;
  std::string last_analysis;  // JSON of the last evaluation, empty before the first
};

namespace {

constexpr const char* kCanaryOwner = "switchyard-server";

json version_ref_json(ModelRegistry& registry, const std::string& name, std::int64_t version) {
  try {
    const VersionRef v = registry.get(name, version);
    return {{"registry_version", version},
            {"model_id", model_id_of(*v)},
            {"version", v->semver.empty() ? std::to_string(version) : v->semver},
            {"stage", to_string(v->stage)}};
  } catch (const NotFound&) {
    return {{"registry_version", version}};
  }
}

}  // namespace

bool RestApi::State::canary_live_locked(const std::string& name) const {
  const auto it = canaries.find(name);
  if (it == canaries.end()) return false;
  const auto record = it->second->controller->record();
  return record && !is_final(record->status);
}

namespace {

// A run for (stable, candidate) on `deployment`, its metrics attached, its analysis remembered.
std::shared_ptr<CanaryRun> make_run(Deployment& deployment, ModelRegistry& registry,
                                    const Clock* clock, std::int64_t stable,
                                    std::int64_t candidate) {
  auto run = std::make_shared<CanaryRun>();
  run->metrics = std::make_shared<CanaryMetrics>(
      CanaryMetrics::Options{.versions = {stable, candidate}, .clock = clock});
  run->controller = std::make_unique<CanaryController>(
      CanaryController::Options{.deployment = &deployment,
                                .registry = &registry,
                                .metrics = run->metrics.get(),
                                .clock = clock,
                                .owner = kCanaryOwner});
  CanaryRun* raw = run.get();
  run->controller->analysis.connect([raw](const RolloutAnalysisEvent& e) {
    std::lock_guard lock(raw->analysis_mu);
    raw->last_analysis = e.to_json();
  });
  deployment.add_observer(run->metrics);
  return run;
}

}  // namespace

void RestApi::State::resume_canaries_locked() {
  for (const auto& name : registry->models()) {
    const auto record = store->load_rollout(name);
    if (!record || is_final(record->status)) continue;
    auto run = make_run(deployment_locked(name), *registry, clock, record->stable_version,
                        record->candidate_version);
    if (!run->controller->resume_from_store()) {
      deployment_locked(name).remove_observer(run->metrics.get());
      continue;
    }
    run->interval = run->controller->plan()->interval;
    run->next_evaluation = clock->now() + run->interval;
    canaries[name] = run;
    const auto& weights = record->weights;
    auto& split = traffic[name];
    split.clear();
    for (const auto& [arm, version] :
         {std::pair{"stable", record->stable_version}, {"canary", record->candidate_version}}) {
      const auto w = weights.find(arm);
      const int p = w == weights.end() ? 0 : static_cast<int>(std::lround(w->second));
      if (p > 0) split[version] = p;
    }
  }
}

HttpResponse RestApi::State::start_canary(const HttpRequest& r, const Target& t,
                                          const std::string& actor) {
  const std::string& name = t.segments[1];
  require_model(name);
  if (canary_live_locked(name)) {
    fail(409, "model '" + name + "' already has a live canary rollout", "name");
  }
  // The body is the plan (seed 003's YAML, or JSON), or {"plan", "candidate", "stable"}.
  std::string plan_text(r.body);
  json candidate = nullptr, stable = nullptr;
  const auto first = r.body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) fail(400, "the body must be a canary plan", "plan");
  if (r.body[first] == '{') {
    const json doc = parse_object(r.body);
    if (!doc.contains("deployment") && !doc.contains("rollout") && !doc.contains("experiment")) {
      for (const auto& [key, value] : doc.items()) {
        if (key != "plan" && key != "candidate" && key != "stable") {
          fail(400, "unknown field '" + key + "' (expected plan, candidate, stable)", key);
        }
      }
      plan_text = optional_string(doc, "plan", options.max_body_bytes)
                      .value_or(std::string(kSeed003CanaryPlanYaml));
      candidate = doc.value("candidate", json());
      stable = doc.value("stable", json());
    }
  }
  CanaryPlan plan;
  try {
    plan = parse_canary_plan(plan_text);
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "plan");
  }
  if (plan.strategy == RolloutStrategy::kExperiment) {
    fail(400, "an experiment plan cannot run as a canary here", "plan");
  }
  plan.name = name;  // the URL names the model the plan rolls out
  plan.model = name;
  plan.candidate_version =
      resolve_version(name, candidate.is_null() ? json(plan.candidate_version) : candidate,
                      "candidate");
  if (!stable.is_null()) {
    plan.stable_version = resolve_version(name, stable, "stable");
  } else if (plan.stable_version) {
    plan.stable_version = resolve_version(name, json(*plan.stable_version), "stable");
  } else {
    try {
      plan.stable_version = registry->in_stage(name, Stage::kProduction)->version;
    } catch (const NotFound&) {
      fail(409, "model '" + name + "' has no Production version for the candidate to face",
           "stable");
    }
  }
  if (*plan.stable_version == plan.candidate_version) {
    fail(400, "the candidate is the stable version", "candidate");
  }
  try {
    plan.validate();
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "plan");
  }
  Deployment& d = deployment_locked(name);
  if (const auto old = canaries.find(name); old != canaries.end()) {
    old->second->controller->release();
    if (old->second->observing) d.remove_observer(old->second->metrics.get());
    canaries.erase(old);
  }
  auto run = make_run(d, *registry, clock, *plan.stable_version, plan.candidate_version);
  try {
    run->controller->start(plan);
  } catch (...) {
    d.remove_observer(run->metrics.get());
    apply_traffic_locked(name);  // whatever the controller published is replaced
    throw;
  }
  run->interval = plan.interval;
  run->next_evaluation = clock->now() + plan.interval;
  canaries[name] = run;
  sync_canary_traffic_locked(name, *run);
  (void)actor;  // the controller records its own decisions as kCanaryOwner; the audit has actor
  HttpResponse out = canary_status_locked(name);
  out.status = 201;
  return out;
}

HttpResponse RestApi::State::canary_action(const HttpRequest& r, const Target& t,
                                           const std::string& actor) {
  const std::string& name = t.segments[1];
  const std::string& action = t.segments[3];
  require_model(name);
  const json doc = r.body.empty() ? json::object() : parse_object(r.body);
  const auto reason = optional_string(doc, "reason");
  const auto it = canaries.find(name);
  if (it == canaries.end()) fail(404, "model '" + name + "' has no canary rollout", "name");
  CanaryRun& run = *it->second;
  if (!canary_live_locked(name)) {
    fail(409, "the canary rollout of model '" + name + "' has ended", "name");
  }
  const std::string why = reason.value_or("POST /models/{name}/canary/" + action);
  if (action == "pause") {
    run.controller->pause(actor, why);
  } else if (action == "resume") {
    run.controller->resume(actor);
    run.next_evaluation = clock->now() + run.interval;
  } else {
    run.controller->abort(actor, why);
  }
  sync_canary_traffic_locked(name, run);
  return canary_status_locked(name);
}

HttpResponse RestApi::State::canary_status(const Target& t) {
  std::lock_guard lock(control_mu);
  return canary_status_locked(t.segments[1]);
}

HttpResponse RestApi::State::canary_status_locked(const std::string& name) {
  {
    const auto it = canaries.find(name);
    if (it == canaries.end()) {
      require_model(name);
      fail(404, "model '" + name + "' has no canary rollout", "name");
    }
    CanaryRun& run = *it->second;
    const auto record = run.controller->record();
    const auto plan = run.controller->plan();
    if (!record || !plan) fail(404, "model '" + name + "' has no canary rollout", "name");
    json decisions = json::array();
    for (const auto& d : record->decisions) {
      decisions.push_back({{"at", format_time(d.at)},
                           {"step", d.step},
                           {"action", d.action},
                           {"actor", d.actor},
                           {"reason", d.reason}});
    }
    json steps = json::array();
    for (const auto& s : plan->steps) {
      json step = {{"kind", to_string(s.kind)}};
      if (s.kind == StepKind::kSetWeight) step["weight"] = s.weight;
      if (s.duration) {
        step["duration_s"] = std::chrono::duration<double>(*s.duration).count();
      }
      json rules = json::array();
      for (const auto& g : s.guardrails) rules.push_back(g.key());
      step["guardrails"] = rules;
      steps.push_back(std::move(step));
    }
    const auto weight = [&](const char* arm) {
      const auto w = record->weights.find(arm);
      return w == record->weights.end() ? 0.0 : w->second;
    };
    json analysis = nullptr;
    {
      std::lock_guard alock(run.analysis_mu);
      if (!run.last_analysis.empty()) analysis = json::parse(run.last_analysis);
    }
    const bool live = !is_final(record->status);
    return json_response(
        200, {{"model", name},
              {"status", to_string(record->status)},
              {"live", live},
              {"step", record->step},
              {"step_count", plan->steps.size()},
              {"steps", steps},
              {"stable", version_ref_json(*registry, name, record->stable_version)},
              {"candidate", version_ref_json(*registry, name, record->candidate_version)},
              {"weights", {{"stable", weight("stable")}, {"canary", weight("canary")}}},
              {"started_at", format_time(record->started_at)},
              {"step_started_at", format_time(record->step_started_at)},
              {"updated_at", format_time(record->updated_at)},
              {"next_evaluation_at", live ? json(format_time(run.next_evaluation)) : json()},
              {"interval_s", std::chrono::duration<double>(run.interval).count()},
              {"failures", record->failures},
              {"consecutive_failures", record->consecutive_failures},
              {"decisions", decisions},
              {"last_analysis", analysis}});
  }
}

void RestApi::State::tick_canaries() {
  std::lock_guard lock(control_mu);
  const TimePoint now = clock->now();
  for (auto& [name, run] : canaries) {
    if (!canary_live_locked(name) || now < run->next_evaluation) continue;
    run->next_evaluation = now + run->interval;
    try {
      run->controller->evaluate();
    } catch (const std::exception&) {
      // LeaseHeld or a store error: the record is unchanged; try again on the next interval.
    }
    sync_canary_traffic_locked(name, *run);
  }
}

void RestApi::State::label_canary_locked(const std::string& name, const std::string& request_id,
                                         bool correct) {
  const auto it = canaries.find(name);
  if (it != canaries.end() && it->second->observing) {
    it->second->metrics->record_label(request_id, correct);
  }
}

// The server's split follows the rollout: its weights while live; when it ended, all traffic
// to the candidate (promoted) or to stable (rolled back, aborted), and the metrics detached.
void RestApi::State::sync_canary_traffic_locked(const std::string& name, CanaryRun& run) {
  State& s = *this;
  const auto record = run.controller->record();
  if (!record) return;
  auto& split = s.traffic[name];
  split.clear();
  if (!is_final(record->status)) {
    for (const auto& [arm, version] :
         {std::pair{"stable", record->stable_version}, {"canary", record->candidate_version}}) {
      const auto w = record->weights.find(arm);
      const int p = w == record->weights.end() ? 0 : static_cast<int>(std::lround(w->second));
      if (p > 0) split[version] = p;
    }
  } else {
    split[record->status == RolloutStatus::kPromoted ? record->candidate_version
                                                     : record->stable_version] = 100;
    if (run.observing) {
      s.deployment_locked(name).remove_observer(run.metrics.get());
      run.observing = false;
    }
    s.apply_traffic_locked(name);
  }
  s.save_traffic_locked();
  s.publish_view_locked();
}

}  // namespace switchyard::server
