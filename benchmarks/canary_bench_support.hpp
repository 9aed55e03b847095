// SPDX-License-Identifier: Apache-2.0
// What the canary benchmarks share: a small logistic model's artifact per version, for registries
// whose versions the benchmarks route to but never ask to predict anything that matters.
#pragma once

#include <Eigen/Core>
#include <string>
#include <switchyard/models/linear_model.hpp>

namespace switchyard::bench {

/// A three-feature fraud model's artifact; `seed` changes its first weight, so each version's
/// bytes (and digest) differ. Pure function: callable from any thread.
inline Artifact canary_artifact(double seed) {
  Eigen::MatrixXd w(3, 1);
  w << 0.5 * seed, -0.25, 1.0;
  Eigen::VectorXd b(1);
  b << 0.1;
  return {std::string(kLinearFormat), LogisticModel(w, b, {"legit", "fraud"}).to_artifact()};
}

}  // namespace switchyard::bench
