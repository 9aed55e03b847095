// SPDX-License-Identifier: Apache-2.0
// An A/B test between two real fraud models: traffic through a Deployment, exposures recorded from
// its EventHub, ground-truth labels arriving six hours later on a manual clock, an always-valid
// analysis every few hours, the final report and decision, and seed 002's performance report.
//
// Usage: ab_test   (deterministic: fixed seeds and a manual clock; runs in well under a second)
#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/core/model_source.hpp>
#include <switchyard/rollout/performance_report.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <vector>

namespace sy = switchyard;
using namespace std::chrono_literals;

namespace {

constexpr int kFeatures = 6;

// Synthetic card transactions: fraud drawn from a known logistic model of all six features.
struct Data {
  Eigen::MatrixXd x;
  std::vector<int> y;
};

Data make_data(int n, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  const Eigen::VectorXd truth =
      (Eigen::VectorXd(kFeatures) << 1.2, -0.9, 0.7, 0.0, 1.8, -1.1).finished();
  Data d{Eigen::MatrixXd(n, kFeatures), std::vector<int>(static_cast<std::size_t>(n))};
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < kFeatures; ++j) d.x(i, j) = normal(rng);
    const double p = 1.0 / (1.0 + std::exp(-(d.x.row(i).dot(truth) - 1.0)));
    d.y[static_cast<std::size_t>(i)] = uniform(rng) < p ? 1 : 0;
  }
  return d;
}

// Logistic regression by batch gradient descent on the first `used` features; the others get
// weight 0, so both versions take the same six-feature input.
std::shared_ptr<sy::LogisticModel> fit(const Data& d, int used, int steps) {
  const Eigen::MatrixXd x = d.x.leftCols(used);
  Eigen::VectorXd y(static_cast<Eigen::Index>(d.y.size()));
  for (std::size_t i = 0; i < d.y.size(); ++i) y[static_cast<Eigen::Index>(i)] = d.y[i];
  Eigen::VectorXd w = Eigen::VectorXd::Zero(used);
  double b = 0.0;
  for (int it = 0; it < steps; ++it) {
    const Eigen::ArrayXd p = 1.0 / (1.0 + (-((x * w).array() + b)).exp());
    const Eigen::VectorXd err = p.matrix() - y;
    w -= 0.5 * x.transpose() * err / static_cast<double>(x.rows());
    b -= 0.5 * err.mean();
  }
  Eigen::MatrixXd weights = Eigen::MatrixXd::Zero(kFeatures, 1);
  weights.topRows(used) = w;
  return std::make_shared<sy::LogisticModel>(weights, Eigen::VectorXd::Constant(1, b),
                                             std::vector<std::string>{"legit", "fraud"});
}

// A prediction whose ground truth (chargeback or not) is known only later.
struct Pending {
  std::string request_id;
  std::int64_t version;
  int predicted;
  int truth;
  bool lost;  // the label never arrives (chargeback data missing)
};

}  // namespace

int main() {
  // 1. Two real models: v1 sees three features after a short fit, v2 all six.
  std::mt19937_64 rng(20261123);
  const Data train = make_data(4000, rng);
  sy::StaticModelSource source;
  source.add("fraud-detection", 1, fit(train, 3, 150));
  source.add("fraud-detection", 2, fit(train, kFeatures, 300));

  // 2. Serve both, 50/50 by card (sticky), and emit an event per prediction.
  sy::EventHub hub;
  sy::Deployment fraud({.model = "fraud-detection", .source = &source, .events = &hub});
  sy::RoutingPolicy policy;
  policy.variants = {{"control", 1, 50}, {"treatment", 2, 50}};
  policy.weight_style = sy::WeightStyle::kPercent;
  fraud.router().set_policy(policy);

  // 3. The experiment: accuracy decides, log loss guards; sequential so it may be read every few
  //    hours; predictions wait up to 24 h for their labels.
  sy::ManualClock clock;
  sy::Experiment experiment({
      .name = "fraud-v2",
      .model = "fraud-detection",
      .arms = sy::Experiment::arms_of(fraud.router().policy()),
      .primary = {.name = "accuracy", .kind = sy::MetricKind::kAccuracy},
      .guardrails = {{.name = "log_loss", .kind = sy::MetricKind::kLogLoss}},
      .mode = sy::AnalysisMode::kSequential,
      .max_pending = 100'000,
      .pending_ttl = 24h,
      .clock = &clock,
  });
  experiment.attach(hub);

  // 4. Twelve hours of traffic, 500 transactions an hour. Chargebacks (the labels) arrive six
  //    hours after the transaction; 3% never arrive and expire unjoined.
  std::deque<std::vector<Pending>> in_flight;
  std::uniform_real_distribution<double> uniform;
  int served = 0;
  auto deliver_labels = [&](const std::vector<Pending>& hour) {
    for (const auto& p : hour) {
      if (p.lost) continue;
      experiment.record_label(p.request_id, p.truth);
      fraud.record_outcome(p.version, p.predicted == p.truth);
    }
  };
  std::printf("hour  exposures  labels joined  decision\n");
  for (int hour = 0; hour < 12; ++hour) {
    const Data traffic = make_data(500, rng);
    std::vector<Pending> batch;
    for (Eigen::Index i = 0; i < traffic.x.rows(); ++i) {
      const Eigen::RowVectorXd row = traffic.x.row(i);
      const std::string request_id = "txn-" + std::to_string(served);
      const std::string card = "card-" + std::to_string(served++);
      auto r = fraud.predict({.key = card,
                              .input = sy::TensorView(row.data(), sy::Shape{1, kFeatures}),
                              .request_id = request_id});
      if (!r.ok()) {
        std::cerr << "predict failed: " << r.status().message() << "\n";
        return 1;
      }
      batch.push_back({request_id, r->version, r->prediction.labels.at(0),
                       traffic.y[static_cast<std::size_t>(i)], uniform(rng) < 0.03});
    }
    in_flight.push_back(std::move(batch));
    clock.advance(1h);
    if (in_flight.size() > 6) {  // the hour that is now six hours old gets its labels
      deliver_labels(in_flight.front());
      in_flight.pop_front();
    }
    if (hour % 3 == 2) {
      const sy::ExperimentReport interim = experiment.analyze();
      std::printf(
          "%4d  %9llu  %13llu  %s\n", hour + 1,
          static_cast<unsigned long long>(interim.arms[0].exposures + interim.arms[1].exposures),
          static_cast<unsigned long long>(interim.joins.labels_joined),
          std::string(sy::to_string(interim.decision.kind)).c_str());
    }
  }
  // The last six hours of labels, then a day later, so what never arrived has expired.
  while (!in_flight.empty()) {
    clock.advance(1h);
    deliver_labels(in_flight.front());
    in_flight.pop_front();
  }
  clock.advance(24h);

  // 5. The final analysis.
  const sy::ExperimentReport report = experiment.analyze();
  std::cout << "\n" << report.to_string();
  if (report.decision.kind == sy::DecisionKind::kShipTreatment) {
    std::cout << "=> promote " << report.decision.variant << " (version "
              << policy.variants[report.decision.variant == "control" ? 0 : 1].version << ")\n";
  }

  // 6. Seed 002's GET /models/performance over the same traffic.
  std::cout << "\n" << sy::performance_report(fraud).to_string();
  return 0;
}
