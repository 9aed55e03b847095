// SPDX-License-Identifier: Apache-2.0
// Shadow traffic: mirror half of a deployment's users to a candidate version off the request path
// from two request threads, record late labels for some requests, then print how the candidate
// compares with the primary, whether it clears the promotion criteria, and the evidence a
// promotion would carry.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/serving/deployment.hpp>
#include <switchyard/shadow/shadow_criteria.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>

namespace {

constexpr int kThreads = 2;
constexpr int kRequestsPerThread = 10000;

// A toy fraud scorer: flags a transaction when its amount exceeds a threshold.
class ThresholdModel final : public switchyard::Model {
 public:
  explicit ThresholdModel(double threshold) : threshold_(threshold) {}
  const switchyard::Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return "example.threshold"; }
  switchyard::Prediction predict(const switchyard::ModelInput& input) const override {
    const auto x = input.front().values<double>();
    switchyard::Prediction p;
    p.labels = {x[0] > threshold_ ? 1 : 0};
    p.confidence = {0.9};
    return p;
  }

 private:
  double threshold_;
  switchyard::Signature signature_;
};

// The amount of request i of thread t: a deterministic spread over [0, 1000).
double amount_of(int thread, int i) { return static_cast<double>((i * 37 + thread * 11) % 1000); }
std::string request_id(int thread, int i) {
  return "req-" + std::to_string(thread) + "-" + std::to_string(i);
}

}  // namespace

int main() {
  using namespace switchyard;
  StaticModelSource source;
  source.add("fraud-detection", 1, std::make_shared<ThresholdModel>(500.0));  // production
  source.add("fraud-detection", 2, std::make_shared<ThresholdModel>(450.0));  // candidate

  Deployment deployment{{.model = "fraud-detection", .source = &source}};
  RoutingPolicy policy;
  policy.variants = {{"stable", 1, 1}};
  deployment.router().set_policy(policy);

  ShadowPredictor::Options options;
  options.source = &source;
  options.queue_capacity = 4096;
  auto shadow = std::make_shared<ShadowPredictor>(options);
  shadow->add_shadow({.model = "fraud-detection", .version = 2, .share = 0.5});  // sticky by key
  shadow->start();
  deployment.add_observer(shadow);

  // Live traffic from two request threads: every answer comes from version 1; version 2 sees the
  // requests of half the users, on the predictor's own worker.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&deployment, t] {
      for (int i = 0; i < kRequestsPerThread; ++i) {
        const double features[2] = {amount_of(t, i), 1.0};
        const std::string user = "user-" + std::to_string((t * kRequestsPerThread + i) % 3000);
        const std::string id = request_id(t, i);
        (void)deployment.predict(
            {.key = user, .input = TensorView(features, Shape{1, 2}), .request_id = id});
      }
    });
  }
  for (auto& th : threads) th.join();
  if (!shadow->drain(std::chrono::seconds(30))) std::cerr << "shadow still busy\n";

  // Later, the truth arrives for 30% of the requests (chargebacks: fraud above 460). Labels for
  // requests the shadow never saw are counted as unmatched.
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kRequestsPerThread; ++i) {
      if (i % 10 >= 3) continue;
      (void)shadow->record_label(request_id(t, i), amount_of(t, i) > 460.0 ? 1 : 0);
    }
  }

  const ShadowReport report = shadow->report();
  std::cout << report.to_table() << "\n";

  ShadowCriteria criteria;
  criteria.min_compared_rows = 5000;
  criteria.min_agreement = 0.9;
  criteria.min_labeled_rows = 1000;
  criteria.max_latency_p99_ratio = 0.0;  // toy models answer in ~100 ns: the ratio is noise
  const ShadowVerdict verdict = evaluate(report.versions.at(0), criteria);
  std::cout << "verdict: " << verdict.summary << "\n";
  for (const std::string& failure : verdict.failures) std::cout << "  failed " << failure << "\n";

  // What a Staging -> Production transition would carry into the registry's audit trail.
  const PromotionEvidence evidence = to_evidence(report, report.versions.at(0), criteria);
  std::cout << "evidence: kind " << evidence.kind << ", passed " << std::boolalpha
            << evidence.passed << ", " << evidence.detail_json.size() << " bytes of detail\n";

  shadow->stop();
  return 0;
}
