// SPDX-License-Identifier: Apache-2.0
// Shadow traffic: mirror half of a deployment's requests to a candidate version off the request
// path, then print how the candidate compares with the primary on the same requests.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <switchyard/serving/deployment.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>

namespace {

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

  // Live traffic: the answers come from version 1 only; version 2 sees half the users.
  std::uint64_t flagged = 0;
  for (int i = 0; i < 10000; ++i) {
    const double features[2] = {static_cast<double>((i * 37) % 1000), 1.0};
    const std::string user = "user-" + std::to_string(i % 2000);
    auto answer = deployment.predict({.key = user,
                                      .input = TensorView(features, Shape{1, 2}),
                                      .request_id = "req-" + std::to_string(i)});
    if (answer.ok() && answer->prediction.labels.at(0) == 1) ++flagged;
  }

  if (!shadow->drain(std::chrono::seconds(10))) std::cerr << "shadow still busy\n";
  const ShadowReport report = shadow->report();
  std::cout << "primary flagged " << flagged << " of 10000 requests\n\n" << report.to_table();
  const ShadowVersionReport& v = report.versions.at(0);
  std::cout << "\nconfusion (primary -> shadow):\n";
  for (const ConfusionCell& c : v.confusion) {
    std::printf("  %d -> %d : %llu\n", c.primary, c.shadow,
                static_cast<unsigned long long>(c.count));
  }
  if (!v.disagreements.empty()) {
    const ShadowDisagreement& d = v.disagreements.back();
    std::cout << "last disagreement: key " << d.key << ", request " << d.request_id
              << ", primary " << d.primary << ", shadow " << d.shadow << "\n";
  }
  shadow->stop();
  return 0;
}
