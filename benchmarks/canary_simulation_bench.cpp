// SPDX-License-Identifier: Apache-2.0
// Detection and false rollbacks of seed 003's canary plan, measured over seeds in the
// RolloutSimulator at 1,000 requests per second (aggregate mode) with a CanaryController
// evaluating every minute. Not a timing benchmark: it reports distributions of simulated time.
//
// Three forms of the plan:
//   * "as written": seed 003's YAML (stages with rollback_if). By default the controller judges a
//     pause step's comparative rules sequentially on the data since the stage began (always-valid
//     tests, family-wise alpha 1 % per stage split among its rules); the stage runs its whole
//     duration unless a rule is shown violated.
//   * "as written, per_window": the same YAML with `judgement: per_window`: roll back when the
//     candidate's windowed metric is worse than stable's by the threshold in any one-minute
//     window. This is the naive rule the seeds sketch.
//   * "judged": the same weights and rules written as Argo-style analysis steps, so the
//     CanaryJudge decides on the data since the step began and a pass ends the step
//     (pass rule: within tolerance; min_samples 1,000 per side; alpha 5 % per metric).
// Scenarios: a candidate with error rate 0.1 % -> 1 %, p99 +50 % (median and p99 x 1.5), accuracy
// -3 points (90 % -> 87 %, labels after 5 minutes), from the start; an A/A candidate identical
// to stable; and a candidate exactly on the error-rate rule's boundary (0.6 %). Detection: median
// and p95 of simulated time to rollback. A/A: the share of seeds rolled back. Stages 3 and 4 (50 %
// and 100 %) carry no rules, so every run stops once the rollout reaches them: nothing can roll it
// back after that (a candidate that got there counts as not rolled back).
//
// Run: canary_simulation_bench [--seeds N]   (or SWITCHYARD_CANARY_SEEDS=N; default 1000)
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/rollout_simulator.hpp>
#include <vector>

#include "canary_bench_support.hpp"

namespace {

using namespace switchyard;
using namespace std::chrono_literals;

// Seed 003's plan as written.
constexpr std::string_view kAsWritten = kSeed003CanaryPlanYaml;

constexpr const char* kJudged = R"(deployment:
  name: fraud-detector
  canary:
    model_version: 12
    steps:
      - set_weight: 5
      - analysis:
          metrics: {error_rate_increase: 0.5%, latency_p99_increase: 20ms}
          min_samples: 1000
          duration: 1h
      - set_weight: 25
      - analysis:
          metrics: {accuracy_drop: 1%}
          min_samples: 1000
          duration: 4h
      - set_weight: 50
      - pause: 12h
      - set_weight: 100
      - pause: 24h
)";

using bench::canary_artifact;

struct Scenario {
  const char* name;
  SimulatedVersion candidate;
};

struct Outcome {
  RolloutAction action = RolloutAction::kNone;  // kNone: reached the unguarded stages (A/A stop)
  Duration at{};
};

// The first step of the plan after which no rule is checked (stages 3 and 4).
std::int64_t unguarded_from(const CanaryPlan& plan) {
  std::int64_t last = 0;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (!plan.steps[i].guardrails.empty()) last = static_cast<std::int64_t>(i);
  }
  return last + 1;
}

Outcome run_once(const CanaryPlan& plan, const JudgeConfig& judge, SimulatedVersion candidate,
                 std::uint64_t seed, bool stop_when_unguarded, const std::filesystem::path& dir) {
  const std::int64_t stable_version = plan.candidate_version - 1;
  candidate.version = plan.candidate_version;
  RolloutSimulator sim({.model = plan.model,
                        .versions = {{.version = stable_version}, candidate},
                        .requests_per_second = 1000,
                        .duration = 48h,
                        .interval = plan.interval,
                        .seed = seed});
  InMemoryRegistryStore store;
  ArtifactStore artifacts(dir);
  ModelRegistry registry({.store = &store, .artifacts = &artifacts, .clock = &sim.clock()});
  for (std::int64_t v = 1; v <= plan.candidate_version; ++v) {
    registry.register_version(plan.model, canary_artifact(static_cast<double>(v)), {});
  }
  registry.transition(plan.model, stable_version, Stage::kStaging);
  registry.transition(plan.model, stable_version, Stage::kProduction);
  registry.transition(plan.model, plan.candidate_version, Stage::kStaging);
  CanaryController controller({.deployment = &sim.deployment(),
                               .registry = &registry,
                               .metrics = &sim.metrics(),
                               .clock = &sim.clock(),
                               .judge = judge});
  controller.start(plan);
  const std::int64_t unguarded = unguarded_from(plan);
  Outcome out;
  sim.run([&](RolloutSimulator& s) {
    const RolloutAction a = controller.evaluate();
    if (a == RolloutAction::kPromoted || a == RolloutAction::kRolledBack ||
        a == RolloutAction::kPaused) {
      out = {a, s.elapsed()};
      return SimulationAction::kStop;
    }
    if (stop_when_unguarded && controller.record()->step >= unguarded) {
      out = {RolloutAction::kNone, s.elapsed()};
      return SimulationAction::kStop;
    }
    return SimulationAction::kContinue;
  });
  return out;
}

double minutes(Duration d) { return std::chrono::duration<double, std::ratio<60>>(d).count(); }

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t seeds = 1000;
  if (const char* env = std::getenv("SWITCHYARD_CANARY_SEEDS"))
    seeds = std::strtoull(env, nullptr, 10);
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--seeds" && i + 1 < argc) {
      seeds = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::cerr << "usage: canary_simulation_bench [--seeds N]\n";
      return 2;
    }
  }
  if (seeds == 0) seeds = 1;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("switchyard-canary-sim-" + std::to_string(std::random_device{}()));

  const CanaryPlan as_written = parse_canary_plan(kAsWritten);
  CanaryPlan per_window = as_written;
  per_window.judgement = RuleJudgement::kPerWindow;
  const CanaryPlan judged = parse_canary_plan(kJudged);
  JudgeConfig judge;
  judge.pass_rule = PassRule::kWithinTolerance;

  const std::vector<Scenario> scenarios = {
      {"error rate 0.1% -> 1%", {.error_rate = 0.01}},
      {"p99 +50%", {.latency_median = 30ms, .latency_p99 = 90ms}},
      {"accuracy -3 points", {.accuracy = 0.87}},
  };
  struct Form {
    const char* name;
    const CanaryPlan* plan;
  };
  const Form forms[] = {{"as written (sequential, default)", &as_written},
                        {"as written, per_window (naive rule)", &per_window},
                        {"judged (analysis steps)", &judged}};

  std::printf("seed 003's canary plan, 1,000 requests/s, evaluation every minute, %llu seeds\n\n",
              static_cast<unsigned long long>(seeds));
  std::printf("Detection: simulated minutes to rollback\n");
  std::printf("%-36s %-24s %8s %8s %8s %10s\n", "plan", "regression", "median", "p95", "max",
              "rolled back");
  for (const Form& form : forms) {
    for (const Scenario& sc : scenarios) {
      std::vector<double> t;
      std::uint64_t rolled = 0;
      for (std::uint64_t s = 1; s <= seeds; ++s) {
        const Outcome o = run_once(*form.plan, judge, sc.candidate, s, true, dir);
        if (o.action == RolloutAction::kRolledBack) {
          ++rolled;
          t.push_back(minutes(o.at));
        }
      }
      std::printf("%-36s %-24s %8.1f %8.1f %8.1f %5llu/%llu\n", form.name, sc.name,
                  quantile(t, 0.5), quantile(t, 0.95),
                  t.empty() ? 0.0 : *std::max_element(t.begin(), t.end()),
                  static_cast<unsigned long long>(rolled), static_cast<unsigned long long>(seeds));
      std::fflush(stdout);
    }
  }

  // A/A, and a candidate exactly on the error-rate rule's boundary (0.1 % + 0.5 points): neither
  // is worse than stable by more than a threshold, so every rollback is a false one.
  const Scenario good[] = {{"A/A (candidate identical to stable)", {}},
                           {"on the boundary (error rate 0.1% -> 0.6%)", {.error_rate = 0.006}}};
  for (const Scenario& sc : good) {
    std::printf("\n%s: false rollbacks over the guarded stages\n", sc.name);
    std::printf("%-36s %12s %8s %8s %22s\n", "plan", "rolled back", "rate", "paused",
                "median min to 50 %");
    for (const Form& form : forms) {
      std::uint64_t rolled = 0, paused = 0;
      std::vector<double> reached;  // minutes until the unguarded stages: how long it was watched
      for (std::uint64_t s = 1; s <= seeds; ++s) {
        const Outcome o = run_once(*form.plan, judge, sc.candidate, s, true, dir);
        rolled += o.action == RolloutAction::kRolledBack;
        paused += o.action == RolloutAction::kPaused;
        if (o.action == RolloutAction::kNone) reached.push_back(minutes(o.at));
      }
      std::printf("%-36s %6llu/%-5llu %7.2f%% %8llu %22.1f\n", form.name,
                  static_cast<unsigned long long>(rolled), static_cast<unsigned long long>(seeds),
                  100.0 * static_cast<double>(rolled) / static_cast<double>(seeds),
                  static_cast<unsigned long long>(paused), quantile(reached, 0.5));
      std::fflush(stdout);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
