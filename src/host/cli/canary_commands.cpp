// SPDX-License-Identifier: Apache-2.0
// `switchyard canary simulate`: a rollout plan run by a real CanaryController against the
// RolloutSimulator on a manual clock, with a progress bar, to tune a plan before production.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include <switchyard/core/units.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/rollout_simulator.hpp>

#include "analysis_commands.hpp"

namespace switchyard::cli {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// How one simulated version behaves, as the command line gives it.
struct VersionBehaviour {
  double error_rate = 0.001;
  std::string median = "20ms";
  std::string p99 = "60ms";
  double accuracy = 0.9;
};

struct CanarySimulateOptions {
  std::string plan;
  VersionBehaviour stable;
  VersionBehaviour candidate;
  std::string break_at;              // the candidate regresses at this simulated time
  std::optional<double> break_error_rate;
  double break_latency_factor = 1.0;
  double break_accuracy_change = 0.0;
  double requests_per_second = 1000.0;
  std::string duration;  // empty: the plan's length and a margin
  std::uint64_t seed = 1;
  std::string events;
  bool progress = false;
  bool no_progress = false;
  std::string expect;
};

Duration duration_option(const std::string& text, const char* option) {
  const auto d = parse_duration(text);
  if (!d || *d <= Duration::zero()) {
    throw InvalidArgument(std::string(option) + " '" + text +
                          "': expected a positive duration such as 90s, 15m, 4h or 2d");
  }
  return *d;
}

SimulatedVersion simulated(std::int64_t version, const VersionBehaviour& b, const char* which) {
  const std::string prefix = std::string("--") + which + "-";
  return {.version = version,
          .error_rate = b.error_rate,
          .latency_median = duration_option(b.median, (prefix + "median").c_str()),
          .latency_p99 = duration_option(b.p99, (prefix + "p99").c_str()),
          .accuracy = b.accuracy};
}

// The simulated time a plan takes when every step passes: its pauses and bounded analyses.
Duration plan_length(const CanaryPlan& plan) {
  Duration total{};
  for (const auto& s : plan.steps) {
    if (s.duration) total += *s.duration;
  }
  if (plan.experiment && plan.experiment->duration) total += *plan.experiment->duration;
  return total;
}

// A progress bar on stderr over the plan's length, redrawn in place on a terminal; elsewhere (with
// --progress) one line per tenth of the way and the last, so a log stays short.
class ProgressBar {
 public:
  ProgressBar(bool enabled, Duration total) : enabled_(enabled), total_(total) {
    tty_ = ::isatty(STDERR_FILENO) == 1;
  }
  void update(Duration at, const std::string& state, bool force = false) {
    if (!enabled_) return;
    const double fraction =
        std::min(1.0, static_cast<double>(at.count()) / static_cast<double>(total_.count()));
    const int tenth = static_cast<int>(fraction * 10.0);
    if (!tty_ && !force && tenth == last_tenth_) return;
    last_tenth_ = tenth;
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kWidth - filled), '-');
    char percent[8];
    std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(fraction * 100.0));
    std::cerr << (tty_ ? "\r" : "") << "[" << bar << "] " << percent << "  "
              << format_sim_time(at) << " / " << format_sim_time(total_) << "  " << state
              << (tty_ ? "\x1b[K" : "\n") << std::flush;
  }
  void finish() {
    if (enabled_ && tty_) std::cerr << '\n';
  }

 private:
  bool enabled_;
  Duration total_;
  bool tty_ = false;
  int last_tenth_ = -1;
};

Artifact placeholder_artifact(std::int64_t version) {
  // The simulator's models answer; the registry only needs a valid artifact per version.
  Eigen::MatrixXd w(1, 1);
  w(0, 0) = static_cast<double>(version);
  return {std::string(kLinearFormat),
          LogisticModel(w, Eigen::VectorXd::Zero(1), {"negative", "positive"}).to_artifact()};
}

CommandResult run_canary_simulate(const GlobalOptions& global, const CanarySimulateOptions& o) {
  if (!(o.requests_per_second > 0.0)) throw InvalidArgument("--rps must be positive");
  if (!o.expect.empty() && o.expect != "promoted" && o.expect != "rolled_back") {
    throw InvalidArgument("--expect '" + o.expect + "': expected promoted or rolled_back");
  }
  const CanaryPlan plan = load_canary_plan(o.plan);  // errors name the file, field and line
  if (plan.strategy == RolloutStrategy::kExperiment) {
    throw InvalidArgument("plan '" + o.plan +
                          "': an experiment plan; canary simulate runs canary and blue/green "
                          "plans (analyse an A/B test with `switchyard ab-test analyze`)");
  }
  const Duration length = plan_length(plan);
  const Duration duration = o.duration.empty() ? std::max<Duration>(length + length / 10 + 1h, 2h)
                                               : duration_option(o.duration, "--duration");
  const std::int64_t candidate_version = plan.candidate_version;
  const std::int64_t stable_version =
      plan.stable_version.value_or(candidate_version > 1 ? candidate_version - 1 : 1);
  if (stable_version == candidate_version) {
    throw InvalidArgument("plan '" + o.plan + "': the stable and candidate versions are both " +
                          std::to_string(candidate_version));
  }
  std::vector<SimulatedRegression> regressions;
  if (!o.break_at.empty()) {
    regressions.push_back({.version = candidate_version,
                           .at = duration_option(o.break_at, "--break-at"),
                           .error_rate = o.break_error_rate,
                           .latency_factor = o.break_latency_factor,
                           .accuracy_change = o.break_accuracy_change});
  }
  std::unique_ptr<std::ofstream> events;
  if (!o.events.empty()) {
    events = std::make_unique<std::ofstream>(o.events);
    if (!*events) throw StorageError("--events '" + o.events + "': cannot write the file");
  }

  RolloutSimulator sim({.model = plan.model,
                        .versions = {simulated(stable_version, o.stable, "stable"),
                                     simulated(candidate_version, o.candidate, "candidate")},
                        .requests_per_second = o.requests_per_second,
                        .duration = duration,
                        .interval = plan.interval,
                        .regressions = regressions,
                        .seed = o.seed});
  // A registry in memory holding the two versions (stable in Production, the candidate in
  // Staging), with artifacts in a temporary directory removed on return.
  struct TempDir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("switchyard-canary-simulate-" +
                                  std::to_string(std::random_device{}()));
    ~TempDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } temp;
  InMemoryRegistryStore store;
  ArtifactStore artifacts(temp.path);
  ModelRegistry registry({.store = &store, .artifacts = &artifacts, .clock = &sim.clock()});
  for (std::int64_t v = 1; v <= std::max(stable_version, candidate_version); ++v) {
    registry.register_version(plan.model, placeholder_artifact(v), {});
  }
  registry.transition(plan.model, stable_version, Stage::kStaging, {.actor = "simulator"});
  registry.transition(plan.model, stable_version, Stage::kProduction, {.actor = "simulator"});
  registry.transition(plan.model, candidate_version, Stage::kStaging, {.actor = "simulator"});

  CanaryController controller({.deployment = &sim.deployment(),
                               .registry = &registry,
                               .metrics = &sim.metrics(),
                               .clock = &sim.clock(),
                               .owner = "switchyard canary simulate"});
  auto log = [&](const std::string& line) {
    if (events) *events << line << '\n';
  };
  double weight = 0.0;
  std::string reason;
  controller.step_advanced.connect([&](const RolloutStepEvent& e) {
    log(e.to_json());
    weight = e.candidate_weight;
    sim.note("step " + std::to_string(e.from_step) + " -> " + std::to_string(e.to_step) + " (" +
             e.reason + ")");
  });
  controller.paused.connect([&](const RolloutStatusEvent& e) {
    log(e.to_json());
    sim.note("paused: " + e.reason);
  });
  controller.promoted.connect([&](const RolloutStatusEvent& e) {
    log(e.to_json());
    reason = e.reason;
    sim.note("PROMOTED: " + e.reason);
  });
  controller.rolled_back.connect([&](const RolloutStatusEvent& e) {
    log(e.to_json());
    reason = e.reason;
    sim.note("ROLLED BACK: " + e.reason);
  });
  controller.analysis.connect([&](const RolloutAnalysisEvent& e) {
    log(e.to_json());
    if (e.verdict == AnalysisVerdict::kFail) sim.note("analysis failed: " + e.summary);
  });

  ProgressBar bar(o.progress || (!o.no_progress && !global.json &&
                                 ::isatty(STDERR_FILENO) == 1),
                  length > Duration::zero() ? std::min(length, duration) : duration);
  controller.start(plan);
  RolloutAction outcome = RolloutAction::kHeld;
  Duration decided_at{};
  const SimulationResult result = sim.run([&](RolloutSimulator& s) {
    const RolloutAction a = controller.evaluate();
    const auto record = controller.record();
    bar.update(s.elapsed(), "step " + std::to_string(record ? record->step : 0) + "/" +
                                std::to_string(plan.steps.size()) + ", candidate " +
                                format_number(weight) + "%");
    if (a == RolloutAction::kPromoted || a == RolloutAction::kRolledBack) {
      outcome = a;
      decided_at = s.elapsed();
      return SimulationAction::kStop;
    }
    return SimulationAction::kContinue;
  });
  bar.update(result.elapsed,
             outcome == RolloutAction::kHeld ? "undecided" : std::string(to_string(outcome)),
             /*force=*/true);
  bar.finish();

  const std::string verdict = outcome == RolloutAction::kHeld ? "undecided" : std::string(to_string(outcome));
  json timeline = json::array();
  for (const auto& e : result.timeline) {
    json weights = json::array();
    for (const auto& w : e.weights) {
      weights.push_back({{"arm", w.arm}, {"version", w.version}, {"share", w.share}});
    }
    timeline.push_back({{"at", format_sim_time(e.at)},
                        {"at_seconds", std::chrono::duration<double>(e.at).count()},
                        {"what", e.what},
                        {"weights", weights}});
  }
  json doc = {{"plan", o.plan},
              {"model", plan.model},
              {"stable_version", stable_version},
              {"candidate_version", candidate_version},
              {"outcome", verdict},
              {"reason", reason},
              {"decided_at", outcome == RolloutAction::kHeld ? json(nullptr)
                                                               : json(format_sim_time(decided_at))},
              {"decided_at_seconds", outcome == RolloutAction::kHeld
                                         ? json(nullptr)
                                         : json(std::chrono::duration<double>(decided_at).count())},
              {"simulated", format_sim_time(result.elapsed)},
              {"requests", result.requests},
              {"seed", o.seed},
              {"timeline", timeline}};
  std::string text = format_timeline(result.timeline);
  text += "\n" + plan.model + " v" + std::to_string(candidate_version) + " against v" +
          std::to_string(stable_version) + ": " + verdict +
          (outcome == RolloutAction::kHeld ? " after " + format_sim_time(result.elapsed)
                                           : " at " + format_sim_time(decided_at)) +
          " of simulated time (" + std::to_string(result.requests) + " requests, seed " +
          std::to_string(o.seed) + ")\n";
  if (!reason.empty()) text += "reason: " + reason + "\n";
  if (!o.expect.empty() && o.expect != verdict) {
    throw ReportedError(ErrorCode::kValidationFailed,
                        "expected the rollout to end " + o.expect + ", it ended " + verdict,
                        {doc, text});
  }
  return {doc, text};
}

}  // namespace

void add_canary_commands(CLI::App& app, const GlobalOptions& global, CommandAction& action) {
  auto* canary = app.add_subcommand("canary", "Canary rollout plans");
  canary->require_subcommand(1);
  auto o = std::make_shared<CanarySimulateOptions>();
  auto* c = canary->add_subcommand(
      "simulate",
      "Run a rollout plan (seed 003's YAML, Argo-style steps, or JSON) through the simulator: a "
      "real CanaryController, simulated traffic on a manual clock; prints the timeline");
  c->add_option("plan", o->plan, "Plan file (YAML or JSON)")->required();
  auto behaviour = [&](const char* which, VersionBehaviour& b) {
    const std::string w = which;
    c->add_option("--" + w + "-error-rate", b.error_rate, "Error rate of the " + w + " version")
        ->capture_default_str();
    c->add_option("--" + w + "-median", b.median, "Median latency of the " + w + " version")
        ->capture_default_str();
    c->add_option("--" + w + "-p99", b.p99, "p99 latency of the " + w + " version")
        ->capture_default_str();
    c->add_option("--" + w + "-accuracy", b.accuracy, "Accuracy of the " + w + " version")
        ->capture_default_str();
  };
  behaviour("stable", o->stable);
  behaviour("candidate", o->candidate);
  c->add_option("--break-at", o->break_at,
                "The candidate regresses at this simulated time (e.g. 30m)");
  c->add_option("--break-error-rate", o->break_error_rate, "Its error rate from then on");
  c->add_option("--break-latency-factor", o->break_latency_factor,
                "Its latency multiplied by this from then on")
      ->capture_default_str();
  c->add_option("--break-accuracy-change", o->break_accuracy_change,
                "Added to its accuracy from then on (e.g. -0.03)")
      ->capture_default_str();
  c->add_option("--rps", o->requests_per_second, "Simulated requests per second")
      ->capture_default_str();
  c->add_option("--duration", o->duration,
                "Simulated time at most (default: the plan's length plus 10 % and an hour)");
  c->add_option("--seed", o->seed, "Random seed (the same seed gives the same run)")
      ->capture_default_str();
  c->add_option("--events", o->events, "Also write the controller's signals as JSON lines");
  c->add_flag("--progress", o->progress, "Show the progress bar even when stderr is no terminal");
  c->add_flag("--no-progress", o->no_progress, "Never show the progress bar");
  c->add_option("--expect", o->expect,
                "promoted or rolled_back: exit 3 when the rollout ends otherwise (for CI)");
  on_parse(c, global, action, o, run_canary_simulate);
}

}  // namespace switchyard::cli
