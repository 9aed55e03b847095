// SPDX-License-Identifier: Apache-2.0
// Drift alerts: a DriftMonitor watches a deployment's live traffic against the reference profile
// of the training data. A minute of traffic at 1,000 requests per second (on a manual clock, so it
// runs in a second or two); after 30 s half of the features shift and accuracy falls. The alerts
// print as they fire, then the drift report of the first drifted window.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <switchyard/drift/drift_monitor.hpp>
#include <switchyard/serving/deployment.hpp>

namespace {

using namespace switchyard;
constexpr std::size_t kFeatures = 8;

// A toy fraud scorer: a logistic score of the features' sum.
class ScoreModel final : public Model {
 public:
  const Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return "example.score"; }
  Prediction predict(const ModelInput& input) const override {
    const auto x = input.front().values<double>();
    double s = 0.0;
    for (double v : x) s += v;
    const double score = 1.0 / (1.0 + std::exp(-0.5 * s));
    Prediction p;
    p.values = xt::xtensor<double, 2>({1, 1}, score);
    p.labels = {score > 0.5 ? 1 : 0};
    p.confidence = {std::max(score, 1.0 - score)};
    return p;
  }

 private:
  Signature signature_;
};

std::string seconds_into(TimePoint t, TimePoint start) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t - start).count()) + " s";
}

}  // namespace

int main() {
  std::mt19937_64 rng(17);
  std::normal_distribution<double> z;

  // The training data's profile: what "normal" looks like, features and predicted score.
  std::vector<FeatureSpec> specs;
  const char* names[kFeatures] = {"amount", "age",     "tenure", "velocity",
                                  "distance", "hour", "devices", "merchants"};
  for (const char* n : names) specs.push_back({.name = n});
  ReferenceProfileBuilder builder(specs);
  ScoreModel model;
  std::vector<double> row(kFeatures);
  for (int i = 0; i < 20000; ++i) {
    for (double& x : row) x = z(rng);
    const Prediction p = model.predict(TensorView(row, {1, kFeatures}));
    builder.add_row(row, p.values(0, 0));
  }
  auto profile = std::make_shared<const ReferenceProfile>(builder.build());

  StaticModelSource source;
  source.add("fraud-detection", 3, std::make_shared<ScoreModel>());
  Deployment deployment{{.model = "fraud-detection", .source = &source}};
  RoutingPolicy policy;
  policy.variants = {{"stable", 3, 1}};
  deployment.router().set_policy(policy);

  // 10 s windows sliding by 2 s, Evidently's default tests, seed 003's quality thresholds.
  ManualClock clock;
  DriftMonitor::Options options;
  options.model = "fraud-detection";
  options.version = 3;
  options.profile = profile;
  options.clock = &clock;
  options.window = std::chrono::seconds(10);
  options.sub_windows = 5;
  options.baseline_accuracy = 0.92;  // usually the version's registry metric
  options.alerts = AlertPolicy::seed_003(std::chrono::milliseconds(50));
  auto monitor = std::make_shared<DriftMonitor>(options);
  deployment.add_observer(monitor);

  const TimePoint start = clock.now();
  auto print = [&](const char* what, const DriftAlert& a) {
    std::printf("[%5s] %-8s %-16s %-10s %-8s %s\n", seconds_into(a.raised_at, start).c_str(), what,
                to_string(a.condition), a.subject.c_str(), to_string(a.severity),
                a.evidence.c_str());
  };
  monitor->drift_detected.connect([&](const DriftAlert& a) { print("DRIFT", a); });
  monitor->quality_degraded.connect([&](const DriftAlert& a) { print("QUALITY", a); });
  monitor->alert_cleared.connect([&](const DriftAlert& a) { print("cleared", a); });
  monitor->retraining_recommended.connect([&](const RetrainingRecommendation& r) {
    std::printf("[%5s] RETRAIN  trigger=%s: %s\n", seconds_into(r.at, start).c_str(),
                to_string(r.trigger), r.reason.c_str());
  });
  std::optional<DriftReport> first_drifted;
  monitor->window_evaluated.connect([&](const WindowEvaluation& w) {
    if (w.drift.dataset_drift && !first_drifted) first_drifted = w.drift;
  });

  // A minute at 1,000 requests per second. From 30 s on, amount, age, tenure, velocity and
  // distance move by 0.6 standard deviations, and the true labels agree with the model less often.
  std::uniform_real_distribution<double> u;
  for (int second = 0; second < 60; ++second) {
    const bool shifted = second >= 30;
    for (int i = 0; i < 1000; ++i) {
      for (std::size_t f = 0; f < kFeatures; ++f) row[f] = z(rng) + (shifted && f < 5 ? 0.6 : 0.0);
      auto r = deployment.predict({.key = "user-" + std::to_string(i),
                                   .input = TensorView(row, {1, kFeatures})});
      if (r.ok() && i % 4 == 0) {  // a quarter of the outcomes become known
        const int predicted = r->prediction.labels[0];
        const bool right = u(rng) < (shifted ? 0.84 : 0.92);
        monitor->record_label(right ? predicted : 1 - predicted, predicted);
      }
      clock.advance(std::chrono::milliseconds(1));
    }
    monitor->poll();  // a host would run this on a timer
  }

  if (first_drifted) {
    std::cout << "\nFirst window with dataset drift:\n" << first_drifted->to_table() << "\n";
  }
  std::cout << "Active alerts at the end: " << monitor->active_alerts().size() << "\n";
  return 0;
}
