// SPDX-License-Identifier: Apache-2.0
// The main demo: one story of a fraud model's life on synthetic card transactions, on one
// simulated clock, told as a timeline and written as one self-contained HTML report.
//
//   1. Two logistic models are trained on Eigen; v1 goes through the registry's gates to
//      Production and serves live traffic (a Deployment that follows the registry).
//   2. v2 is shadowed on the same requests (ShadowPredictor); its verdict (agreement, accuracy on
//      the labelled requests; latency shown) becomes the "shadow" evidence that seed 003 asks of
//      Staging -> Production.
//   3. v2 is canaried through seed 003's canary plan by a CanaryController on the
//      RolloutSimulator (1,000 requests per second, on a manual clock) and promoted.
//   4. v3, whose export scrambled its weights, passes the gates on its training metrics, and the
//      canary's accuracy guardrail catches it and rolls it back on its own.
//   5. The features of live traffic drift; the DriftMonitor raises alerts and recommends
//      retraining.
//
// Runs in a few seconds. Usage:
//   model_lifecycle [--report FILE] [--chartjs FILE] [--plan FILE] [DIRECTORY]
//     --report   the HTML report (default: switchyard-demo-report.html in the working directory)
//     --chartjs  Chart.js to inline (default: Debian's libjs-chart.js); without it the report
//                shows tables only
//     --plan     a canary plan file instead of seed 003's plan as the seed writes it
//     DIRECTORY  where the registry lives (default: a fresh temporary directory); must not hold
//                a registry yet
// Exit status 0 when the story went as told (v2 promoted, v3 rolled back, drift alerted and the
// report written), 1 when it did not, 2 for bad arguments.
#include <Eigen/Dense>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <switchyard/drift/drift_monitor.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/rollout_simulator.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <switchyard/shadow/shadow_criteria.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>
#include <switchyard/stats/roc_auc.hpp>
#include <vector>

#include "lifecycle_report.hpp"

namespace sy = switchyard;
using namespace std::chrono_literals;
using lifecycle_report::Series;

namespace {

constexpr const char* kModel = "fraud-detection";
constexpr int kFeatures = 6;
const char* const kFeatureNames[kFeatures] = {"amount",   "velocity",    "merchant_risk",
                                              "distance", "device_risk", "account_age"};

// ---- the data and the models

// Synthetic card transactions: six standardised features; fraud drawn from a known logistic
// model. `shift` moves the features' means (drift in live traffic).
struct Data {
  Eigen::MatrixXd x;
  std::vector<int> y;
};

Data make_data(int n, std::mt19937_64& rng,
               const Eigen::VectorXd& shift = Eigen::VectorXd::Zero(kFeatures)) {
  static const Eigen::VectorXd truth =
      (Eigen::VectorXd(kFeatures) << 1.5, -1.0, 0.8, 0.6, 2.0, -0.5).finished();
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Data d{Eigen::MatrixXd(n, kFeatures), std::vector<int>(static_cast<std::size_t>(n))};
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < kFeatures; ++j) d.x(i, j) = normal(rng) + shift[j];
    const double p = 1.0 / (1.0 + std::exp(-(d.x.row(i).dot(truth) - 2.5)));
    d.y[static_cast<std::size_t>(i)] = uniform(rng) < p ? 1 : 0;
  }
  return d;
}

// Logistic regression by gradient descent on the first `features` columns (the others get weight
// 0, so every version takes the same six-feature input).
sy::LogisticModel fit(const Data& d, int features) {
  const Eigen::MatrixXd x = d.x.leftCols(features);
  Eigen::VectorXd y(static_cast<Eigen::Index>(d.y.size()));
  for (std::size_t i = 0; i < d.y.size(); ++i) y[static_cast<Eigen::Index>(i)] = d.y[i];
  Eigen::VectorXd w = Eigen::VectorXd::Zero(features);
  double b = 0.0;
  for (int it = 0; it < 500; ++it) {
    const Eigen::ArrayXd p = 1.0 / (1.0 + (-((x * w).array() + b)).exp());
    const Eigen::VectorXd err = p.matrix() - y;
    w -= 0.5 * x.transpose() * err / static_cast<double>(x.rows());
    b -= 0.5 * err.mean();
  }
  Eigen::MatrixXd weights = Eigen::MatrixXd::Zero(kFeatures, 1);
  weights.topRows(features) = w;
  return sy::LogisticModel(weights, Eigen::VectorXd::Constant(1, b), {"legit", "fraud"});
}

struct Scores {
  double auc = 0.0;
  double accuracy = 0.0;
};

Scores score(const sy::Model& m, const Data& d) {
  std::vector<double> p;
  int right = 0;
  for (Eigen::Index i = 0; i < d.x.rows(); ++i) {
    const Eigen::RowVectorXd row = d.x.row(i);
    const sy::Prediction out = m.predict(sy::TensorView(row.data(), sy::Shape{1, kFeatures}));
    p.push_back(out.values(0, 0));  // probability of fraud
    right += out.labels[0] == d.y[static_cast<std::size_t>(i)] ? 1 : 0;
  }
  return {sy::stats::roc_auc(d.y, p).auc,
          static_cast<double>(right) / static_cast<double>(d.x.rows())};
}

// ---- one clock for the whole story

// The story's time: its own ManualClock, or, while a canary runs, the simulator's clock (the
// simulator owns one), so that the registry's audit rows, the shadow and the drift monitor all
// stamp the same simulated time. Thread-safe: now() from any thread.
class StoryClock final : public sy::Clock {
 public:
  explicit StoryClock(sy::TimePoint start) : own_(start) {}
  sy::TimePoint now() const noexcept override { return current_.load()->now(); }
  void follow(const sy::Clock& other) { current_.store(&other); }
  // Back to the own clock, which continues where the followed one was.
  void take_back() {
    own_.set(current_.load()->now());
    current_.store(&own_);
  }
  void advance(sy::Duration d) { own_.advance(d); }

 private:
  sy::ManualClock own_;
  std::atomic<const sy::Clock*> current_{&own_};
};

// The narrated timeline: printed as it happens, kept for the report.
class Narrator {
 public:
  Narrator(const sy::Clock& clock, sy::TimePoint start) : clock_(clock), start_(start) {}
  void say(std::string in_phase, std::string what) {
    const sy::Duration at = clock_.now() - start_;
    lifecycle_report::StoryEvent e{.hours = hours(at),
                                   .stamp = "T+" + sy::format_sim_time(at),
                                   .phase = std::move(in_phase),
                                   .what = std::move(what)};
    std::printf("[%s] %-10s %s\n", e.stamp.c_str(), e.phase.c_str(), e.what.c_str());
    std::fflush(stdout);
    events_.push_back(std::move(e));
  }
  double hours_now() const { return hours(clock_.now() - start_); }
  static double hours(sy::Duration d) {
    return std::chrono::duration<double, std::ratio<3600>>(d).count();
  }
  const std::vector<lifecycle_report::StoryEvent>& events() const { return events_; }
  std::string phase = "setup";

 private:
  const sy::Clock& clock_;
  sy::TimePoint start_;
  std::vector<lifecycle_report::StoryEvent> events_;
};

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
std::string percent(double fraction, int digits = 1) {
  return fixed(100.0 * fraction, digits) + " %";
}
std::string vname(std::int64_t v) { return "v" + std::to_string(v); }

// ---- the charts' figures

// How one line is drawn.
struct Style {
  bool dashed = false;
  bool stepped = false;
  std::string group{};  // lines of a group share a colour
  bool right_axis = false;
};

// Lines keyed by name, in the order first seen.
class Lines {
 public:
  void add(const std::string& label, double x, double y, const Style& style = {}) {
    for (auto& s : series_) {
      if (s.label == label) {
        s.points.emplace_back(x, y);
        return;
      }
    }
    series_.push_back({.label = label,
                       .points = {{x, y}},
                       .dashed = style.dashed,
                       .stepped = style.stepped,
                       .group = style.group,
                       .right_axis = style.right_axis});
  }
  std::vector<Series> take() { return std::move(series_); }

 private:
  std::vector<Series> series_;
};

Style traffic_style(std::int64_t v) { return {.stepped = true, .group = vname(v)}; }
Style failed_style(std::int64_t v) { return {.group = vname(v), .right_axis = true}; }
Style wrong_style(std::int64_t v) { return {.dashed = true, .group = vname(v)}; }

struct Figures {
  Lines traffic;  // percent of answered traffic per version
  Lines errors;   // failed requests and wrong answers per version, percent
  Lines drift;    // PSI per feature
};

// Records the traffic split and, every 10 simulated minutes, each version's failed-request and
// wrong-answer rates over those minutes (from CanaryMetrics' cumulative figures, which the
// controller's own windows do not disturb).
class CanarySampler {
 public:
  CanarySampler(Figures& f, const Narrator& n) : figures_(f), narrator_(n) {}
  void traffic(const std::vector<sy::ArmShare>& shares, const std::vector<std::int64_t>& versions) {
    const double x = narrator_.hours_now();
    for (std::int64_t v : versions) {
      double share = 0.0;
      for (const auto& a : shares) share += a.version == v ? a.share : 0.0;
      figures_.traffic.add(vname(v), x, 100.0 * share, traffic_style(v));
    }
  }
  void errors(const sy::CanaryWindow& w, bool force = false) {
    const double x = narrator_.hours_now();
    if (!force && x - last_x_ < 10.0 / 60.0 - 1e-9) return;
    for (const auto& now : w.cumulative) {
      auto& before = last_[now.version];
      const auto requests = now.requests - before.requests;
      const auto labelled = now.labelled - before.labelled;
      if (requests > 0) {
        figures_.errors.add(
            vname(now.version) + " failed requests", x,
            100.0 * static_cast<double>(now.errors - before.errors) / static_cast<double>(requests),
            failed_style(now.version));
      }
      if (labelled > 0) {
        figures_.errors.add(vname(now.version) + " wrong answers", x,
                            100.0 * (1.0 - static_cast<double>(now.correct - before.correct) /
                                               static_cast<double>(labelled)),
                            wrong_style(now.version));
      }
      before.requests = now.requests;
      before.errors = now.errors;
      before.labelled = now.labelled;
      before.correct = now.correct;
    }
    last_x_ = x;
  }

 private:
  struct Counts {
    std::uint64_t requests = 0, errors = 0, labelled = 0, correct = 0;
  };
  Figures& figures_;
  const Narrator& narrator_;
  std::map<std::int64_t, Counts> last_;
  double last_x_ = -1.0;
};

// ---- the story

struct Options {
  std::filesystem::path dir;
  std::string report = "switchyard-demo-report.html";
  std::string chartjs = "/usr/share/javascript/chart.js/chart.min.js";
  std::optional<std::string> plan_file;
};

std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--report" || arg == "--chartjs" || arg == "--plan") {
      const char* v = value();
      if (!v) return std::nullopt;
      if (arg == "--report") o.report = v;
      if (arg == "--chartjs") o.chartjs = v;
      if (arg == "--plan") o.plan_file = v;
    } else if (!arg.empty() && arg[0] != '-' && o.dir.empty()) {
      o.dir = arg;
    } else {
      return std::nullopt;
    }
  }
  if (o.dir.empty()) {
    o.dir = std::filesystem::temp_directory_path() /
            ("switchyard-demo-" + std::to_string(std::random_device{}()));
  }
  return o;
}

struct Outcome {
  sy::RolloutAction action = sy::RolloutAction::kNone;
};

// One canary of `candidate` against the Production version `stable` through `plan`, on a
// RolloutSimulator whose versions answer as correctly as their artifacts do on the holdout.
Outcome run_canary(sy::ModelRegistry& registry, StoryClock& clock, Narrator& narrator,
                   Figures& figures, sy::CanaryPlan plan, sy::SimulatedVersion stable,
                   sy::SimulatedVersion candidate, std::vector<sy::PromotionEvidence> evidence) {
  plan.model = kModel;
  plan.candidate_version = candidate.version;
  sy::RolloutSimulator sim({.model = kModel,
                            .versions = {stable, candidate},
                            .requests_per_second = 1000,
                            .duration = 72h,
                            .interval = plan.interval,
                            .seed = static_cast<std::uint64_t>(candidate.version),
                            .start = clock.now()});
  clock.follow(sim.clock());
  sy::CanaryController controller({.deployment = &sim.deployment(),
                                   .registry = &registry,
                                   .metrics = &sim.metrics(),
                                   .clock = &sim.clock(),
                                   .owner = "canary-controller",
                                   .promotion_evidence = std::move(evidence)});
  const std::string c = vname(candidate.version);
  // The plan's stages compile into weight and pause steps; a stage is narrated when it begins.
  double weight = -1.0;
  controller.step_advanced.connect([&](const sy::RolloutStepEvent& e) {
    if (e.candidate_weight == weight) return;
    narrator.say(narrator.phase, c + " now gets " + fixed(e.candidate_weight, 0) +
                                     " % of traffic (" + e.reason + ")");
    weight = e.candidate_weight;
  });
  controller.promoted.connect([&](const sy::RolloutStatusEvent& e) {
    narrator.say(narrator.phase, c + " promoted to Production by the canary: " + e.reason);
  });
  controller.rolled_back.connect([&](const sy::RolloutStatusEvent& e) {
    narrator.say(narrator.phase, c + " rolled back automatically: " + e.reason);
  });
  controller.paused.connect([&](const sy::RolloutStatusEvent& e) {
    narrator.say(narrator.phase, "the canary of " + c + " paused: " + e.reason);
  });
  controller.analysis.connect([&](const sy::RolloutAnalysisEvent& e) {
    if (e.verdict == sy::AnalysisVerdict::kFail) {
      narrator.say(narrator.phase, "canary analysis failed: " + e.summary);
    }
  });

  CanarySampler sampler(figures, narrator);
  const std::vector<std::int64_t> versions = {stable.version, candidate.version};
  sampler.traffic(sim.weights(), versions);
  Outcome outcome;
  controller.start(plan);
  sampler.traffic(sim.weights(), versions);
  sim.run([&](sy::RolloutSimulator& s) {
    const sy::RolloutAction a = controller.evaluate();
    const bool done = a == sy::RolloutAction::kPromoted || a == sy::RolloutAction::kRolledBack ||
                      a == sy::RolloutAction::kPaused;  // a pause waits for a person
    sampler.errors(s.metrics().snapshot(), done);
    if (a != sy::RolloutAction::kHeld || done) sampler.traffic(s.weights(), versions);
    if (done) {
      outcome.action = a;
      return sy::SimulationAction::kStop;
    }
    return sy::SimulationAction::kContinue;
  });
  if (outcome.action == sy::RolloutAction::kNone) {
    narrator.say(narrator.phase, "the canary of " + c + " did not finish in 72 simulated hours");
  }
  narrator.say(narrator.phase, std::to_string(sim.requests()) + " simulated requests");
  controller.release();
  clock.take_back();
  return outcome;
}

int run_story(const Options* opt) {
  std::filesystem::create_directories(opt->dir);
  if (std::filesystem::exists(opt->dir / "registry.db")) {
    std::cerr << "model_lifecycle: " << (opt->dir / "registry.db").string()
              << " exists; give a directory without a registry\n";
    return 2;
  }
  const sy::CanaryPlan plan =
      opt->plan_file ? sy::load_canary_plan(*opt->plan_file) : sy::parse_canary_plan(sy::kSeed003CanaryPlanYaml);
  const std::string plan_name = opt->plan_file ? "the plan " + *opt->plan_file : "seed 003's plan";
  const auto wall_start = std::chrono::steady_clock::now();

  const sy::TimePoint start =
      sy::from_unix_nanos(1'796'029'200'000'000'000);  // 2026-11-30 09:00 UTC
  StoryClock clock(start);
  Narrator narrator(clock, start);
  Figures figures;
  std::cout << "Switchyard demo: a fraud model's life on one simulated clock (T+ is simulated "
               "time)\nregistry in "
            << opt->dir.string() << "\n\n";

  // A durable registry: SQLite for metadata, audit and small artifacts, a directory for large
  // artifacts. Every stage change is narrated.
  sy::SqliteRegistryStore store({.path = (opt->dir / "registry.db").string()});
  sy::ArtifactStore artifacts(opt->dir / "artifacts");
  sy::ModelRegistry registry({.store = &store, .artifacts = &artifacts, .clock = &clock});
  registry.events().stage_changed.connect([&](const sy::RegistryEvent& e) {
    narrator.say(narrator.phase, "registry: " + vname(e.version) + " " +
                                     std::string(sy::to_string(*e.from_stage)) + " -> " +
                                     std::string(sy::to_string(*e.to_stage)));
  });

  // ---- 1. train two models; v1 through the gates to Production
  narrator.phase = "train";
  std::mt19937_64 rng(2026);
  const Data train = make_data(8000, rng), holdout = make_data(4000, rng);
  const sy::LogisticModel m1 = fit(train, 3), m2 = fit(train, kFeatures);
  const Scores s1 = score(m1, holdout), s2 = score(m2, holdout);
  narrator.say("train", "trained v1 on 3 features (holdout AUC " + fixed(s1.auc, 3) +
                            ", accuracy " + percent(s1.accuracy) + ") and v2 on 6 (AUC " +
                            fixed(s2.auc, 3) + ", accuracy " + percent(s2.accuracy) + ")");

  // Seed 003's gates: a metric threshold, no regression against Production, p99 under 1 ms.
  sy::ValidationPolicy gates;
  gates.thresholds = {{.metric = "auc", .min = 0.75}};
  gates.regressions = {{.metric = "auc", .higher_is_better = true, .tolerance = 0.005}};
  gates.latency = sy::LatencyGate{.max_p99 = std::chrono::milliseconds(1)};
  registry.set_validation_policy(kModel, gates);
  auto register_model = [&](const sy::LogisticModel& m, const Scores& s, const char* semver,
                            const char* changelog) {
    sy::VersionMetadata meta;
    meta.semver = semver;
    meta.metrics = {{"auc", s.auc}, {"accuracy", s.accuracy}};
    meta.run_id = std::string("run-") + semver;
    meta.dataset_version = "transactions-2026-11";
    meta.owner = "risk-ml";
    meta.changelog = changelog;
    return registry
        .register_version(kModel, {std::string(sy::kLinearFormat), m.to_artifact()}, meta,
                          {.actor = "ci"})
        ->version;
  };
  narrator.phase = "release v1";
  const std::int64_t v1 =
      register_model(m1, s1, "1.0.0", "baseline on amount, velocity, merchant risk");
  registry.transition(kModel, v1, sy::Stage::kStaging, {.actor = "ci"});
  registry.transition(kModel, v1, sy::Stage::kProduction,
                      {.actor = "alice", .reason = "first release"});

  // From now on a promotion needs a passed shadow run (or A/B test) and a passed canary.
  registry.set_promotion_policy(kModel, {.require_any_of = {"shadow", "ab_test"},
                                         .require_all_of = {std::string(sy::kCanaryEvidence)}});
  narrator.say("release v1",
               "promotion policy: Staging -> Production needs passed shadow (or A/B) "
               "and canary evidence");

  // Live serving follows the registry's Production version.
  sy::Deployment live({.model = kModel, .source = &registry});
  sy::RegistryBinding follow({.registry = &registry, .deployment = &live});
  follow.published.connect([&](const sy::BindingEvent& e) {
    narrator.say(narrator.phase,
                 "serving: live traffic now answered by " + vname(e.status.stable_version));
  });
  narrator.say("release v1", "serving: live traffic answered by " + vname(v1));
  figures.traffic.add(vname(v1), 0.0, 100.0, traffic_style(v1));

  // ---- 2. shadow v2 on the same requests
  narrator.phase = "shadow v2";
  const std::int64_t v2 =
      register_model(m2, s2, "2.0.0", "adds distance, device risk, account age");
  registry.transition(kModel, v2, sy::Stage::kStaging, {.actor = "ci"});
  sy::ShadowPredictor::Options shadow_options;
  shadow_options.source = &registry;
  shadow_options.clock = &clock;
  shadow_options.queue_capacity = std::size_t{1} << 15;  // the hour's requests: none dropped
  auto shadow = std::make_shared<sy::ShadowPredictor>(shadow_options);
  shadow->add_shadow({.model = kModel, .version = v2, .share = 1.0});
  shadow->start();
  live.add_observer(shadow);
  narrator.say("shadow v2",
               "v2 shadows v1: every live request is answered by v1 and replayed on v2 "
               "off the request path");

  // An hour of live traffic at 5 requests per second; the truth (chargebacks) later arrives for
  // 30 % of them.
  const int shadow_requests = 3600 * 5;
  const Data shadow_traffic = make_data(shadow_requests, rng);
  for (int i = 0; i < shadow_requests; ++i) {
    const Eigen::RowVectorXd row = shadow_traffic.x.row(i);
    const std::string id = "tx-" + std::to_string(i);
    (void)live.predict({.key = "card-" + std::to_string(i % 5000),
                        .input = sy::TensorView(row.data(), sy::Shape{1, kFeatures}),
                        .request_id = id});
    clock.advance(200ms);
  }
  if (!shadow->drain(std::chrono::seconds(60))) std::cerr << "shadow still busy after 60 s\n";
  for (int i = 0; i < shadow_requests; i += 10) {
    for (int k = i; k < i + 3 && k < shadow_requests; ++k) {
      (void)shadow->record_label("tx-" + std::to_string(k),
                                 shadow_traffic.y[static_cast<std::size_t>(k)]);
    }
  }
  const sy::ShadowReport shadow_report = shadow->report();
  live.remove_observer(shadow.get());
  shadow->stop();
  const sy::ShadowVersionReport& sv = shadow_report.versions.at(0);
  sy::ShadowCriteria criteria;
  criteria.min_compared_rows = 10000;
  criteria.min_agreement = 0.8;  // v2 is meant to differ where v1 is wrong; not by much more
  criteria.min_labeled_rows = 3000;
  // Latency is shown, not judged here: both models answer in about a microsecond, where the
  // scheduling of a busy machine decides the p99 ratio (0.7 to 1.7 in eight runs on two cores). The
  // latency gate (p99 under 1 ms) judged v2 before Staging, and the canary watches p99 again.
  criteria.max_latency_p99_ratio = 0.0;
  const sy::ShadowVerdict verdict = sy::evaluate(sv, criteria);
  const double shadow_p99_ratio =
      sv.primary_latency.quantile(0.99) > 0
          ? sv.shadow_latency.quantile(0.99) / sv.primary_latency.quantile(0.99)
          : 0.0;
  const double v1_labeled_acc = sv.labeled.rows ? static_cast<double>(sv.labeled.primary_correct) /
                                                      static_cast<double>(sv.labeled.rows)
                                                : 0.0;
  const double v2_labeled_acc = sv.labeled.rows ? static_cast<double>(sv.labeled.shadow_correct) /
                                                      static_cast<double>(sv.labeled.rows)
                                                : 0.0;
  narrator.say("shadow v2", std::to_string(sv.compared_rows) + " requests compared: agreement " +
                                percent(sv.agreement_rate) + ", on " +
                                std::to_string(sv.labeled.rows) + " labelled ones v1 " +
                                percent(v1_labeled_acc) + " right and v2 " +
                                percent(v2_labeled_acc));
  narrator.say("shadow v2", "latency on the same requests: p99 v2 " +
                                fixed(sv.shadow_latency.quantile(0.99) / 1000.0, 1) + " us, v1 " +
                                fixed(sv.primary_latency.quantile(0.99) / 1000.0, 1) +
                                " us (ratio " + fixed(shadow_p99_ratio, 2) +
                                "; shown, not judged: the 1 ms latency gate judged v2)");
  narrator.say("shadow v2", std::string("shadow verdict: ") +
                                (verdict.passed ? "PASSED" : "FAILED") + " (" + verdict.summary +
                                ")");
  const sy::PromotionEvidence shadow_evidence = sy::to_evidence(shadow_report, sv, criteria);

  // ---- 3. canary v2 through seed 003's plan, on the simulator
  narrator.phase = "canary v2";
  narrator.say("canary v2", plan_name + " (" + std::to_string(plan.steps.size()) +
                                " steps, evaluated every " + sy::format_sim_time(plan.interval) +
                                ") at 1,000 simulated requests per second; each version answers "
                                "as correctly as on the holdout");
  figures.traffic.add(vname(v2), narrator.hours_now(), 0.0, traffic_style(v2));
  const Outcome canary2 =
      run_canary(registry, clock, narrator, figures, plan,
                 {.version = v1, .accuracy = s1.accuracy, .label_delay = 5min},
                 {.version = v2, .accuracy = s2.accuracy, .label_delay = 5min}, {shadow_evidence});

  if (canary2.action != sy::RolloutAction::kPromoted) {
    std::cerr << "model_lifecycle: v2 was not promoted; the story stops here\n";
    return 1;
  }

  // ---- 4. a broken v3
  // Retrained on fresh data; the training run measures a fine AUC, then the export writes the
  // weights in reverse feature order. The gates read the run's metrics and pass.
  narrator.phase = "canary v3";
  const Data fresh = make_data(8000, rng);
  const sy::LogisticModel m3_trained = fit(fresh, kFeatures);
  const Scores s3_claimed = score(m3_trained, holdout);
  const sy::LogisticModel m3_exported(Eigen::MatrixXd(m3_trained.weights().colwise().reverse()),
                                      m3_trained.bias(), {"legit", "fraud"});
  const std::int64_t v3 = register_model(m3_exported, s3_claimed, "2.1.0",
                                         "retrained on fresh data (export reverses the weights)");
  narrator.say("canary v3", "v3 registered with its training run's metrics (AUC " +
                                fixed(s3_claimed.auc, 3) + "); its exported weights are scrambled");
  registry.transition(kModel, v3, sy::Stage::kStaging, {.actor = "ci"});
  // What the artifact really does, as the simulator's v3 will answer.
  const Scores s3_real = score(*registry.load(kModel, v3), holdout);
  const Outcome canary3 = run_canary(
      registry, clock, narrator, figures, plan,
      {.version = v2, .accuracy = s2.accuracy, .label_delay = 5min},
      {.version = v3, .accuracy = s3_real.accuracy, .label_delay = 5min}, {shadow_evidence});
  narrator.say("canary v3",
               "follow-up: v3's registered artifact scores AUC " + fixed(s3_real.auc, 3) +
                   " and accuracy " + percent(s3_real.accuracy) +
                   " on the holdout (its metadata says AUC " + fixed(s3_claimed.auc, 3) + ")");

  // ---- 5. drift on live features
  narrator.phase = "drift";
  const std::int64_t serving =
      registry.resolve(std::string("models:/") + kModel + "/Production")->version;
  std::vector<sy::FeatureSpec> specs;
  for (const char* n : kFeatureNames) specs.push_back({.name = n});
  sy::ReferenceProfileBuilder builder(specs);
  const sy::ModelPtr production = registry.load(kModel, serving);
  for (Eigen::Index i = 0; i < train.x.rows(); ++i) {
    const Eigen::RowVectorXd row = train.x.row(i);
    const sy::Prediction p =
        production->predict(sy::TensorView(row.data(), sy::Shape{1, kFeatures}));
    builder.add_row(std::span<const double>(row.data(), kFeatures), p.values(0, 0));
  }
  sy::DriftMonitor::Options drift_options;
  drift_options.model = kModel;
  drift_options.version = serving;
  drift_options.profile = std::make_shared<const sy::ReferenceProfile>(builder.build());
  drift_options.clock = &clock;
  drift_options.window = 10min;
  drift_options.drift = sy::DriftOptions::seed_003();
  drift_options.alerts = sy::AlertPolicy::seed_003();
  drift_options.registry = &registry;  // baseline accuracy and AUC from the version's metadata
  auto monitor = std::make_shared<sy::DriftMonitor>(drift_options);
  live.add_observer(monitor);
  bool drift_alerted = false, retraining = false;
  monitor->drift_detected.connect([&](const sy::DriftAlert& a) {
    drift_alerted = true;
    narrator.say("drift", std::string("drift alert (") + sy::to_string(a.severity) +
                              "): " + sy::to_string(a.condition) +
                              (a.subject.empty() ? "" : " " + a.subject) + ", " + a.evidence);
  });
  monitor->quality_degraded.connect([&](const sy::DriftAlert& a) {
    narrator.say("drift", std::string("quality alert (") + sy::to_string(a.severity) +
                              "): " + sy::to_string(a.condition) + ", " + a.evidence);
  });
  monitor->retraining_recommended.connect([&](const sy::RetrainingRecommendation& r) {
    retraining = true;
    narrator.say("drift", std::string("retraining recommended (trigger ") +
                              sy::to_string(r.trigger) + "): " + r.reason);
  });
  monitor->window_evaluated.connect([&](const sy::WindowEvaluation& w) {
    const double x = narrator.hours_now();
    for (const auto& f : w.drift.features) figures.drift.add(f.name, x, f.score);
    if (w.quality.requests > 0) {
      figures.errors.add(vname(serving) + " failed requests", x, 100.0 * w.quality.error_rate,
                         failed_style(serving));
    }
    if (w.quality.accuracy) {
      figures.errors.add(vname(serving) + " wrong answers", x, 100.0 * (1.0 - *w.quality.accuracy),
                         wrong_style(serving));
    }
  });
  narrator.say("drift", "a DriftMonitor watches " + vname(serving) +
                            "'s live features against its training profile (10-minute windows, "
                            "seed 003's PSI 0.2)");

  // Two hours of live traffic at 5 requests per second; after the first, amount, velocity and
  // merchant risk move by 0.8 standard deviations (a new merchant segment). A quarter of the
  // outcomes become known.
  const Eigen::VectorXd no_shift = Eigen::VectorXd::Zero(kFeatures);
  Eigen::VectorXd shift = no_shift;
  shift.head(3).setConstant(0.8);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int minute = 0; minute < 120; ++minute) {
    if (minute == 60)
      narrator.say("drift",
                   "a new merchant segment: amount, velocity and merchant_risk shift by 0.8 sd");
    const Data traffic = make_data(300, rng, minute >= 60 ? shift : no_shift);
    for (int i = 0; i < 300; ++i) {
      const Eigen::RowVectorXd row = traffic.x.row(i);
      auto r = live.predict({.key = "card-" + std::to_string(i),
                             .input = sy::TensorView(row.data(), sy::Shape{1, kFeatures})});
      if (r.ok() && i % 4 == 0) {
        monitor->record_label(traffic.y[static_cast<std::size_t>(i)], r->prediction.labels[0],
                              r->prediction.values(0, 0));
      }
      clock.advance(200ms);
    }
    monitor->poll();  // a host runs this on a timer
  }
  live.remove_observer(monitor.get());
  figures.traffic.add(vname(serving), narrator.hours_now(), 100.0, traffic_style(serving));

  // ---- the report
  narrator.phase = "report";
  lifecycle_report::Report report;
  report.title = "Switchyard demo: the life of a fraud model";
  report.subtitle =
      "One simulated clock from training to drift: v1 released through the gates, v2 shadowed, "
      "canaried through seed 003's plan and promoted, a broken v3 rolled back by the canary, "
      "drift alerting on live features. Times are simulated (T+ hours:minutes:seconds).";
  lifecycle_report::Table versions{.title = "Versions",
                                   .header = {"version", "semver", "stage now", "metadata AUC",
                                              "holdout AUC", "holdout accuracy"},
                                   .rows = {}};
  const std::vector<std::pair<std::int64_t, Scores>> real = {{v1, s1}, {v2, s2}, {v3, s3_real}};
  for (const auto& [v, s] : real) {
    const auto mv = registry.get(kModel, v);
    versions.rows.push_back({vname(v), mv->semver, std::string(sy::to_string(mv->stage)),
                             fixed(mv->metrics.at("auc"), 3), fixed(s.auc, 3),
                             percent(s.accuracy)});
  }
  report.summary.push_back(versions);
  report.tables.push_back(
      {.title = "Shadow verdict of v2",
       .header = {"compared", "agreement", "labelled", "v1 right", "v2 right", "p99 ratio",
                  "verdict"},
       .rows = {{std::to_string(sv.compared_rows), percent(sv.agreement_rate),
                 std::to_string(sv.labeled.rows), percent(v1_labeled_acc), percent(v2_labeled_acc),
                 fixed(shadow_p99_ratio, 2), verdict.summary}}});
  lifecycle_report::Table audit{
      .title = "Audit trail",
      .header = {"#", "time", "version", "action", "from", "to", "by", "reason"},
      .rows = {}};
  for (const auto& a : registry.history(kModel)) {
    audit.rows.push_back(
        {std::to_string(a.sequence), "T+" + sy::format_sim_time(a.at - start), vname(a.version),
         a.action, a.from_stage ? std::string(sy::to_string(*a.from_stage)) : "-",
         a.to_stage ? std::string(sy::to_string(*a.to_stage)) : "-", a.actor, a.reason});
  }
  report.tables.push_back(audit);
  report.charts.push_back({.id = "traffic-split-chart",
                           .title = "Traffic split: share of answered requests per version",
                           .y_title = "% of traffic",
                           .caption = "v1 serves alone while v2 shadows it, then seed 003's canary "
                                      "steps move v2 through 5, 25, 50 and 100 %; v3 gets 5 % and "
                                      "25 % before it is rolled back.",
                           .series = figures.traffic.take()});
  report.charts.push_back(
      {.id = "error-rate-chart",
       .title = "Error rate per version: failed requests and wrong answers",
       .y_title = "wrong answers, % of labelled (dashed)",
       .y2_title = "failed requests, % (solid)",
       .caption =
           "Per 10 simulated minutes: the share of labelled answers that were wrong (dashed, "
           "left axis) and of requests that failed (solid, right axis). On the simulator every "
           "version fails 0.1 % of requests; the live models of the drift phase never fail. "
           "v3's wrong answers are high from its first minutes, but seed 003's plan watches "
           "accuracy only from its 25 % stage.",
       .series = figures.errors.take()});
  report.charts.push_back(
      {.id = "drift-chart",
       .title = "Drift per feature: PSI of each 10-minute window against training",
       .y_title = "PSI",
       .caption = "Population stability index of each live window against the "
                  "training profile; seed 003 alerts above 0.2.",
       .series = figures.drift.take(),
       .threshold = 0.2,
       .threshold_label = "seed 003's threshold (PSI 0.2)"});

  const bool story_ok = canary2.action == sy::RolloutAction::kPromoted &&
                        canary3.action == sy::RolloutAction::kRolledBack && drift_alerted &&
                        retraining;
  narrator.say("report", story_ok
                             ? "the story went as told: v2 promoted, v3 rolled back, drift alerted"
                             : "the story did NOT go as told (see above)");
  report.timeline = narrator.events();
  const std::optional<std::string> chartjs = lifecycle_report::read_file(opt->chartjs);
  {
    std::ofstream out(opt->report, std::ios::binary | std::ios::trunc);
    out << lifecycle_report::render(report, chartjs, opt->chartjs);
    if (!out.flush()) {
      std::cerr << "model_lifecycle: cannot write " << opt->report << "\n";
      return 1;
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  std::cout << "\nreport: " << std::filesystem::absolute(opt->report).string()
            << (chartjs ? " (charts drawn with the inlined Chart.js)"
                        : " (tables only: Chart.js not found at " + opt->chartjs + ")")
            << "\n"
            << fixed(narrator.hours_now(), 1) << " simulated hours in " << fixed(wall, 1)
            << " s of wall time\n";
  return story_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> opt = parse_args(argc, argv);
  if (!opt) {
    std::cerr << "usage: model_lifecycle [--report FILE] [--chartjs FILE] [--plan FILE] "
                 "[DIRECTORY]\n";
    return 2;
  }
  try {
    return run_story(&*opt);
  } catch (const std::exception& e) {  // a bad plan file, an unwritable directory, ...
    std::cerr << "model_lifecycle: " << e.what() << "\n";
    return 1;
  }
}
