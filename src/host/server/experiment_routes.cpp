// SPDX-License-Identifier: Apache-2.0
// RestApi's experiment routes: an A/B analysis (rollout/experiment.hpp) over a model's current
// split, exposures from the deployment's prediction events and labels from POST /feedback.
#include <nlohmann/json.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/rollout/experiment_report.hpp>

#include "rest_api_state.hpp"

namespace switchyard::server {

/// One experiment: the model it analyses and the library's Experiment (thread-safe itself).
struct ExperimentRun {
  std::string model;
  std::unique_ptr<Experiment> experiment;
};

HttpResponse RestApi::State::start_experiment(const HttpRequest& r, const Target&,
                                              const std::string&) {
  const json doc = parse_object(r.body);
  const std::string name = required_string(doc, "name", 128);
  const std::string model = required_string(doc, "model", 128);
  const std::string metric = optional_string(doc, "primary_metric", 32).value_or("accuracy");
  const std::string mode = optional_string(doc, "mode", 32).value_or("fixed_horizon");
  try {
    validate_model_name(name, NameRules{.require_domain_task = false});
  } catch (const InvalidArgument& e) {
    fail(400, e.what(), "name");
  }
  // The label and latency metrics need no outcome route; their names are MetricKind's.
  MetricSpec primary{.name = metric};
  bool known = false;
  for (const MetricKind k : {MetricKind::kAccuracy, MetricKind::kLogLoss, MetricKind::kBrierScore,
                             MetricKind::kLatency}) {
    if (to_string(k) == metric) {
      primary.kind = k;
      known = true;
    }
  }
  if (!known) {
    fail(400, "primary_metric '" + metric + "': expected accuracy, log_loss, brier_score or latency",
         "primary_metric");
  }
  AnalysisMode analysis = AnalysisMode::kFixedHorizon;
  if (mode == "sequential") {
    analysis = AnalysisMode::kSequential;
  } else if (mode != "fixed_horizon") {
    fail(400, "mode '" + mode + "': expected fixed_horizon or sequential", "mode");
  }
  if (experiments.count(name)) fail(409, "experiment '" + name + "' exists", "name");
  const auto names = registry->models();
  if (std::find(names.begin(), names.end(), model) == names.end()) {
    fail(404, "model '" + model + "' is not registered", "model");
  }
  Deployment& d = deployment_locked(model);
  const auto arms = Experiment::arms_of(d.router().policy());
  if (arms.size() < 2) {
    fail(409, "model '" + model + "' needs at least two versions with traffic for an experiment",
         "model");
  }
  auto run = std::make_shared<ExperimentRun>();
  run->model = model;
  run->experiment = std::make_unique<Experiment>(Experiment::Options{.name = name,
                                                                     .model = model,
                                                                     .arms = arms,
                                                                     .primary = primary,
                                                                     .mode = analysis,
                                                                     .clock = clock});
  run->experiment->attach(events);
  experiments[name] = run;
  json out = json::parse(run->experiment->analyze().to_json());
  out["model"] = model;
  return json_response(201, out);
}

HttpResponse RestApi::State::experiment_report(const Target& t) {
  std::shared_ptr<ExperimentRun> run;
  {
    std::lock_guard lock(control_mu);
    const auto it = experiments.find(t.segments[1]);
    if (it == experiments.end()) {
      fail(404, "experiment '" + t.segments[1] + "' does not exist", "name");
    }
    run = it->second;
  }
  json out = json::parse(run->experiment->analyze().to_json());
  out["model"] = run->model;
  return json_response(200, out);
}

HttpResponse RestApi::State::list_experiments() {
  std::lock_guard lock(control_mu);
  json list = json::array();
  for (const auto& [name, run] : experiments) {
    list.push_back({{"name", name}, {"model", run->model}});
  }
  return json_response(200, {{"experiments", list}});
}

HttpResponse RestApi::State::stop_experiment(const HttpRequest&, const Target& t,
                                             const std::string&) {
  const auto it = experiments.find(t.segments[1]);
  if (it == experiments.end()) {
    fail(404, "experiment '" + t.segments[1] + "' does not exist", "name");
  }
  it->second->experiment->detach();
  experiments.erase(it);
  return json_response(200, {{"name", t.segments[1]}, {"removed", true}});
}

void RestApi::State::label_experiments_locked(const std::string& model,
                                              const std::string& request_id, std::int32_t label) {
  for (const auto& [name, run] : experiments) {
    if (run->model == model) run->experiment->record_label(request_id, label);
  }
}

}  // namespace switchyard::server
