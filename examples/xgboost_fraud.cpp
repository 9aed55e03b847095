// SPDX-License-Identifier: Apache-2.0
// XGBoost fraud canary: two versions of an XGBoost fraud classifier, trained and saved by
// scripts/make_xgboost_models.py (v1: 20 trees of depth 3, UBJSON; v2: 20 trees of depth 4,
// JSON), are registered from XGBoost's own files, and v2 is canaried against v1 by a
// CanaryController through a real Deployment. Nothing is trained here. Traffic comes from the
// script's generative process (the same five features and fraud rule it trained on), each answer
// is labelled at once with the transaction's true outcome, and time runs on a manual clock (one
// simulated minute per 600 requests), so the 20-minute plan runs in a second or two.
// Prints the rollout's events, then the comparison: live figures per version, and both versions
// scored on the same 5,000 transactions.
//
//   xgboost_fraud [DIR]   # DIR holds fraud_classifier.ubj and fraud_classifier_v2.json
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <switchyard/models/model_loader.hpp>
#include <switchyard/models/xgboost_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/rollout/canary_plan.hpp>
#include <switchyard/serving/deployment.hpp>
#include <vector>

#ifndef SWITCHYARD_XGBOOST_DATA_DIR
#define SWITCHYARD_XGBOOST_DATA_DIR "tests/data/xgboost"
#endif

namespace {

using namespace switchyard;
using namespace std::chrono_literals;

constexpr const char* kModel = "payments-fraud";

// Ten minutes at 10 % of traffic, ten at 50 %, then promotion; v2 is rolled back if it fails more
// often, answers slower at p99, or is less accurate than v1 by 2 points (judged sequentially).
constexpr const char* kPlan = R"(deployment:
  name: payments-fraud
  canary:
    model_version: 2
    stages:
      - traffic_percent: 10
        duration: 10m
        rollback_if:
          error_rate_increase: 0.5%
          latency_p99_increase: 5ms
          accuracy_drop: 2%
      - traffic_percent: 50
        duration: 10m
        rollback_if:
          accuracy_drop: 2%
)";

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One transaction as make_xgboost_models.py's training data draws it: amount, account age in
// days, transactions in the last 24 h, distance from home in km, hour; and whether it is fraud.
struct Transaction {
  std::vector<float> features;
  bool fraud = false;
};

class Transactions {
 public:
  explicit Transactions(std::uint64_t seed) : gen_(seed) {}
  Transaction next() {
    Transaction t;
    t.features = {static_cast<float>(amount_(gen_)), static_cast<float>(age_(gen_)),
                  static_cast<float>(count_(gen_)), static_cast<float>(distance_(gen_)),
                  static_cast<float>(hour_(gen_))};
    const auto& x = t.features;
    const bool night = x[4] < 6 || x[4] > 22;
    const double z = 0.02 * x[0] - 0.001 * x[1] + 0.3 * x[2] + 0.03 * x[3] + 0.8 * night - 2.0;
    t.fraud = unit_(gen_) < 1.0 / (1.0 + std::exp(-z));
    return t;
  }

 private:
  std::mt19937_64 gen_;
  std::lognormal_distribution<double> amount_{3.5, 1.0};
  std::uniform_real_distribution<double> age_{0.0, 3650.0};
  std::poisson_distribution<int> count_{3.0};
  std::exponential_distribution<double> distance_{1.0 / 20.0};
  std::uniform_int_distribution<int> hour_{0, 23};
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

std::string clock_time(Duration since_start) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(since_start).count();
  char text[16];
  std::snprintf(text, sizeof text, "%02lld:%02lld", static_cast<long long>(s / 60),
                static_cast<long long>(s % 60));
  return text;
}

void print_live(const CanaryWindow& w) {
  std::printf("\nLive traffic, per version (cumulative):\n");
  std::printf("  %-8s %9s %7s %9s %12s\n", "version", "requests", "errors", "accuracy",
              "p99 latency");
  for (const std::int64_t v : {1, 2}) {
    const CanaryVersionFigures* f = w.find_cumulative(v);
    std::printf("  v%-7lld %9llu %7llu %8.2f%% %9.1f us\n", static_cast<long long>(v),
                static_cast<unsigned long long>(f->requests),
                static_cast<unsigned long long>(f->errors), 100.0 * f->accuracy(),
                f->p99_ns() / 1000.0);
  }
}

// Both versions on the same transactions (offline, no routing): accuracy, agreement, mean
// probability difference.
void print_offline(const Model& v1, const Model& v2) {
  Transactions held_out(99);
  constexpr int kRows = 5000;
  int right1 = 0, right2 = 0, agree = 0;
  double diff = 0.0;
  for (int i = 0; i < kRows; ++i) {
    const Transaction t = held_out.next();
    const TensorView row(t.features.data(), {1, 5});
    const Prediction a = v1.predict(row), b = v2.predict(row);
    right1 += (a.labels[0] == 1) == t.fraud;
    right2 += (b.labels[0] == 1) == t.fraud;
    agree += a.labels[0] == b.labels[0];
    diff += std::abs(a.values(0, 0) - b.values(0, 0));
  }
  std::printf("\nBoth versions on the same %d transactions:\n", kRows);
  std::printf("  accuracy v1 %.2f%%, v2 %.2f%%; same label on %.2f%%; mean |p1 - p2| %.4f\n",
              100.0 * right1 / kRows, 100.0 * right2 / kRows, 100.0 * agree / kRows, diff / kRows);
}

int run(const std::string& dir) {
  const std::filesystem::path artifacts_dir =
      std::filesystem::temp_directory_path() /
      ("switchyard-xgboost-example-" + std::to_string(std::random_device{}()));
  ManualClock clock;
  const TimePoint start = clock.now();
  InMemoryRegistryStore store;
  ArtifactStore artifacts(artifacts_dir);
  ModelLoader loader;
  register_xgboost_formats(loader, {.class_names = {"legit", "fraud"}});
  ModelRegistry registry(
      {.store = &store, .artifacts = &artifacts, .loader = &loader, .clock = &clock});

  // The files XGBoost wrote, registered as they are: loaded, verified, stored content-addressed.
  const auto v1 =
      registry.register_version(kModel, {"xgboost.ubj", read(dir + "/fraud_classifier.ubj")},
                                {.owner = "risk"}, {.actor = "ci"});
  const auto v2 =
      registry.register_version(kModel, {"xgboost.json", read(dir + "/fraud_classifier_v2.json")},
                                {.owner = "risk"}, {.actor = "ci"});
  registry.transition(kModel, v1->version, Stage::kStaging, {.actor = "ci"});
  registry.transition(kModel, v1->version, Stage::kProduction, {.actor = "ci"});
  registry.transition(kModel, v2->version, Stage::kStaging, {.actor = "ci"});
  std::printf("Registered %s v%lld (%s) in Production and v%lld (%s) in Staging\n", kModel,
              static_cast<long long>(v1->version), v1->artifact.format.c_str(),
              static_cast<long long>(v2->version), v2->artifact.format.c_str());

  Deployment deployment({.model = kModel, .source = &registry});
  auto metrics = std::make_shared<CanaryMetrics>(
      CanaryMetrics::Options{.versions = {v1->version, v2->version}, .clock = &clock});
  deployment.add_observer(metrics);
  CanaryController controller({.deployment = &deployment,
                               .registry = &registry,
                               .metrics = metrics.get(),
                               .clock = &clock,
                               .owner = "xgboost-example"});
  const auto at = [&] { return clock_time(clock.now() - start); };
  controller.step_advanced.connect([&](const RolloutStepEvent& e) {
    std::printf("  %s  step %lld -> %lld: v2 takes %.0f%% (%s)\n", at().c_str(),
                static_cast<long long>(e.from_step), static_cast<long long>(e.to_step),
                e.candidate_weight, e.reason.c_str());
  });
  controller.promoted.connect([&](const RolloutStatusEvent& e) {
    std::printf("  %s  PROMOTED: %s\n", at().c_str(), e.reason.c_str());
  });
  controller.rolled_back.connect([&](const RolloutStatusEvent& e) {
    std::printf("  %s  ROLLED BACK: %s\n", at().c_str(), e.reason.c_str());
  });

  std::printf("\nCanary of v2 against v1 (600 transactions per simulated minute):\n");
  controller.start(parse_canary_plan(kPlan));
  Transactions live(2024);
  RolloutAction action = RolloutAction::kNone;
  for (int minute = 0; minute < 60; ++minute) {
    for (int i = 0; i < 600; ++i) {
      const Transaction t = live.next();
      const std::string id = "tx-" + std::to_string(minute) + "-" + std::to_string(i);
      auto answer = deployment.predict({.key = id,  // one card per transaction
                                        .input = TensorView(t.features.data(), {1, 5}),
                                        .request_id = id});
      if (answer.ok()) {
        (void)metrics->record_label(id, (answer->prediction.labels[0] == 1) == t.fraud);
      }
    }
    clock.advance(1min);
    action = controller.evaluate();
    if (action == RolloutAction::kPromoted || action == RolloutAction::kRolledBack) break;
  }
  std::printf("-> %s; v2 is now %s\n", std::string(to_string(action)).c_str(),
              std::string(to_string(registry.get(kModel, v2->version)->stage)).c_str());

  print_live(metrics->snapshot());
  print_offline(*loader.load("xgboost.ubj", read(dir + "/fraud_classifier.ubj")),
                *loader.load("xgboost.json", read(dir + "/fraud_classifier_v2.json")));

  std::error_code ec;
  std::filesystem::remove_all(artifacts_dir, ec);
  return action == RolloutAction::kPromoted || action == RolloutAction::kRolledBack ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: xgboost_fraud [DIR]\n";
    return 2;
  }
  try {
    return run(argc == 2 ? argv[1] : SWITCHYARD_XGBOOST_DATA_DIR);
  } catch (const std::exception& e) {
    std::cerr << "xgboost_fraud: " << e.what() << "\n";
    return 1;
  }
}
