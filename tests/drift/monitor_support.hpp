// SPDX-License-Identifier: Apache-2.0
// Shared by the DriftMonitor and alert tests: reference profiles of normal features, a monitor on a
// manual clock, and requests as a Deployment would hand them over.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/request_observer.hpp>
#include <switchyard/drift/drift_monitor.hpp>
#include <switchyard/drift/reference_profile.hpp>

namespace switchyard::testing {

/// A profile of `features` standard normal numeric features (Evidently's binning) over `rows`
/// rows, and a prediction column N(0, 1) when `with_prediction`.
inline std::shared_ptr<const ReferenceProfile> normal_profile(std::size_t features,
                                                              std::size_t rows,
                                                              bool with_prediction = true,
                                                              std::uint64_t seed = 7) {
  std::vector<FeatureSpec> specs;
  for (std::size_t f = 0; f < features; ++f) specs.push_back({.name = "x" + std::to_string(f)});
  ReferenceProfileBuilder::Options o;
  o.with_prediction = with_prediction;
  ReferenceProfileBuilder b(specs, o);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> z;
  std::vector<double> row(features);
  for (std::size_t r = 0; r < rows; ++r) {
    for (double& x : row) x = z(rng);
    if (with_prediction) {
      b.add_row(row, z(rng));
    } else {
      b.add_row(row);
    }
  }
  return std::make_shared<const ReferenceProfile>(b.build());
}

/// Monitor options on `clock` with `profile`, tumbling windows of `window`.
inline DriftMonitor::Options monitor_options(std::shared_ptr<const ReferenceProfile> profile,
                                             const Clock& clock,
                                             Duration window = std::chrono::seconds(10)) {
  DriftMonitor::Options o;
  o.model = "fraud-detection";
  o.version = 3;
  o.profile = std::move(profile);
  o.clock = &clock;
  o.window = window;
  return o;
}

/// One request as a Deployment reports it: a [1, n] float64 input and a one-value answer.
struct FakeRequest {
  std::vector<double> features;
  TensorView view;
  ModelInput input;
  Prediction prediction;
  ObservedRequest observed;

  FakeRequest(std::vector<double> x, double answer, std::int64_t latency_ns = 1'000'000,
              bool ok = true, std::int64_t version = 3)
      : features(std::move(x)),
        view(features, {1, static_cast<std::int64_t>(features.size())}),
        input(view) {
    prediction.values = xt::xtensor<double, 2>({1, 1}, answer);
    observed.model = "fraud-detection";
    observed.version = version;
    observed.variant = "control";
    observed.input = &input;
    observed.prediction = ok ? &prediction : nullptr;
    observed.ok = ok;
    observed.error = ErrorCode::kModelFailed;
    observed.latency_ns = latency_ns;
  }
  FakeRequest(const FakeRequest&) = delete;
  FakeRequest& operator=(const FakeRequest&) = delete;
};

}  // namespace switchyard::testing
