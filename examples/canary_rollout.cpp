// SPDX-License-Identifier: Apache-2.0
// Canary rollout: seed 003's canary plan (5 % for 1 h, 25 % for 4 h, 50 % for 12 h, 100 % for
// 24 h, with its rollback_if rules) run by a CanaryController against a RolloutSimulator at 1,000
// requests per second on a manual clock, twice: a good candidate, which is promoted after the
// plan's 41 hours, and a bad one (error rate 0.1 % -> 1 %), which is rolled back automatically.
// Prints each run's timeline (simulated time, what happened, the weights) and the simulated time
// to the decision. Runs in a second or two.
//
//   canary_rollout [--events FILE]   # also write the controller's signals as JSON lines
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/rollout_simulator.hpp>

namespace {

using namespace switchyard;
using namespace std::chrono_literals;

Artifact artifact(double seed) {
  Eigen::MatrixXd w(3, 1);
  w << 0.5 * seed, -0.25, 1.0;
  Eigen::VectorXd b(1);
  b << 0.1;
  return {std::string(kLinearFormat), LogisticModel(w, b, {"legit", "fraud"}).to_artifact()};
}

struct Outcome {
  RolloutAction action = RolloutAction::kNone;
  Duration at{};
  std::string reason;
};

// One rollout of `plan` against a candidate that behaves as `candidate`.
Outcome run(const CanaryPlan& plan, SimulatedVersion candidate, std::ostream* events) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("switchyard-canary-example-" + std::to_string(std::random_device{}()));
  Outcome outcome;
  {
    // Stable is version 11 in Production; the candidate, version 12 (the plan's), in Staging.
    const std::int64_t stable_version = plan.candidate_version - 1;
    candidate.version = plan.candidate_version;
    RolloutSimulator sim({.model = plan.model,
                          .versions = {{.version = stable_version}, candidate},
                          .requests_per_second = 1000,
                          .duration = 48h,
                          .interval = plan.interval,
                          .seed = 3});
    InMemoryRegistryStore store;
    ArtifactStore artifacts(dir);
    ModelRegistry registry({.store = &store, .artifacts = &artifacts, .clock = &sim.clock()});
    for (std::int64_t v = 1; v <= plan.candidate_version; ++v) {
      registry.register_version(plan.model, artifact(static_cast<double>(v)), {});
    }
    registry.transition(plan.model, stable_version, Stage::kStaging, {.actor = "ci"});
    registry.transition(plan.model, stable_version, Stage::kProduction, {.actor = "ci"});
    registry.transition(plan.model, plan.candidate_version, Stage::kStaging, {.actor = "ci"});

    CanaryController controller({.deployment = &sim.deployment(),
                                 .registry = &registry,
                                 .metrics = &sim.metrics(),
                                 .clock = &sim.clock(),
                                 .owner = "canary-example"});
    auto line = [&](const std::string& json) {
      if (events) *events << json << '\n';
    };
    controller.step_advanced.connect([&](const RolloutStepEvent& e) {
      line(e.to_json());
      sim.note("step " + std::to_string(e.from_step) + " -> " + std::to_string(e.to_step) + " (" +
               e.reason + ")");
    });
    controller.paused.connect([&](const RolloutStatusEvent& e) {
      line(e.to_json());
      sim.note("paused: " + e.reason);
    });
    controller.promoted.connect([&](const RolloutStatusEvent& e) {
      line(e.to_json());
      sim.note("PROMOTED: " + e.reason);
    });
    controller.rolled_back.connect([&](const RolloutStatusEvent& e) {
      line(e.to_json());
      sim.note("ROLLED BACK: " + e.reason);
      outcome.reason = e.reason;
    });
    // Every analysis goes to the events file; the timeline shows only failed ones.
    controller.analysis.connect([&](const RolloutAnalysisEvent& e) {
      line(e.to_json());
      if (e.verdict == AnalysisVerdict::kFail) sim.note("analysis failed: " + e.summary);
    });

    controller.start(plan);
    sim.run([&](RolloutSimulator& s) {
      const RolloutAction a = controller.evaluate();
      if (a == RolloutAction::kPromoted || a == RolloutAction::kRolledBack) {
        outcome.action = a;
        outcome.at = s.elapsed();
        return SimulationAction::kStop;
      }
      return SimulationAction::kContinue;
    });
    std::cout << format_timeline(sim.timeline());
    std::cout << "candidate v" << plan.candidate_version << " is now "
              << to_string(registry.get(plan.model, plan.candidate_version)->stage) << "; "
              << sim.requests() << " simulated requests\n";
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<std::ofstream> events;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--events" && i + 1 < argc) {
      events = std::make_unique<std::ofstream>(argv[++i]);
      if (!*events) {
        std::cerr << "cannot write " << argv[i] << "\n";
        return 2;
      }
    } else {
      std::cerr << "usage: canary_rollout [--events FILE]\n";
      return 2;
    }
  }
  const CanaryPlan plan = parse_canary_plan(kSeed003CanaryPlanYaml);
  std::cout << "Seed 003's plan: " << plan.steps.size() << " steps, evaluated every "
            << format_sim_time(plan.interval) << "\n\n";

  std::cout << "== Good candidate (error rate 0.1 %, p99 60 ms, accuracy 90 %, as stable) ==\n";
  const Outcome good = run(plan, {.error_rate = 0.001}, events.get());
  std::cout << "-> " << to_string(good.action) << " after " << format_sim_time(good.at)
            << " of simulated time\n\n";

  std::cout << "== Bad candidate (error rate 0.1 % -> 1 %) ==\n";
  const Outcome bad = run(plan, {.error_rate = 0.01}, events.get());
  std::cout << "-> " << to_string(bad.action) << " after " << format_sim_time(bad.at)
            << " of simulated time\n   reason: " << bad.reason << "\n";

  const bool ok =
      good.action == RolloutAction::kPromoted && bad.action == RolloutAction::kRolledBack;
  return ok ? 0 : 1;
}
