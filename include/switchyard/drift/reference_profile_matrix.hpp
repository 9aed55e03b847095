// SPDX-License-Identifier: Apache-2.0
// Reference profiles from a whole training matrix (Eigen or xtensor), one column per feature.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <switchyard/drift/reference_profile.hpp>

namespace switchyard {

namespace detail::drift_profile {

template <class At>
ReferenceProfile profile_from_columns(std::size_t rows, std::size_t cols, At at,
                                      const std::vector<FeatureSpec>& specs,
                                      std::span<const double> predictions,
                                      const ReferenceProfileBuilder::Options& options) {
  if (specs.size() != cols) {
    throw InvalidArgument("matrix has " + std::to_string(cols) + " columns, the specs " +
                          std::to_string(specs.size()) + " features");
  }
  if (!predictions.empty() && predictions.size() != rows) {
    throw InvalidArgument("matrix has " + std::to_string(rows) + " rows, predictions " +
                          std::to_string(predictions.size()));
  }
  // The builder checks the specs and options (names unique, edges, caps) before any work.
  (void)ReferenceProfileBuilder(specs, options);
  ReferenceProfile p;
  p.rows = rows;
  std::vector<double> column(rows);
  for (std::size_t j = 0; j < cols; ++j) {
    for (std::size_t i = 0; i < rows; ++i) column[i] = static_cast<double>(at(i, j));
    p.features.push_back(profile_feature(specs[j], column, options));
  }
  if (options.with_prediction && !predictions.empty()) {
    FeatureSpec spec = options.prediction_spec;
    if (spec.name.empty()) spec.name = "prediction";
    p.prediction = profile_feature(spec, predictions, options);
  }
  (void)p.to_bytes();  // refuse a profile too large to store
  return p;
}

}  // namespace detail::drift_profile

/// A ReferenceProfile of an Eigen matrix (rows = examples, columns = features in spec order),
/// e.g. Eigen::MatrixXd. Header-only and generic: this header does not include Eigen; any type
/// with rows(), cols() and operator()(i, j) works. `predictions`: empty, or one per row.
/// Throws InvalidArgument as ReferenceProfileBuilder does, or when the shapes disagree.
template <class EigenMatrix>
ReferenceProfile profile_from_eigen(const EigenMatrix& m, const std::vector<FeatureSpec>& specs,
                                    std::span<const double> predictions = {},
                                    const ReferenceProfileBuilder::Options& options = {}) {
  return detail::drift_profile::profile_from_columns(
      static_cast<std::size_t>(m.rows()), static_cast<std::size_t>(m.cols()),
      [&](std::size_t i, std::size_t j) {
        return m(static_cast<long>(i), static_cast<long>(j));
      },
      specs, predictions, options);
}

/// A ReferenceProfile of a 2-D xtensor expression (e.g. xt::xtensor<double, 2>), rows =
/// examples. Generic as profile_from_eigen: this header does not include xtensor.
template <class XExpression>
ReferenceProfile profile_from_xtensor(const XExpression& x, const std::vector<FeatureSpec>& specs,
                                      std::span<const double> predictions = {},
                                      const ReferenceProfileBuilder::Options& options = {}) {
  if (x.dimension() != 2) {
    throw InvalidArgument("profile_from_xtensor: expected a 2-D tensor, got " +
                          std::to_string(x.dimension()) + " dimensions");
  }
  return detail::drift_profile::profile_from_columns(
      static_cast<std::size_t>(x.shape()[0]), static_cast<std::size_t>(x.shape()[1]),
      [&](std::size_t i, std::size_t j) { return x(i, j); }, specs, predictions, options);
}

}  // namespace switchyard
