// SPDX-License-Identifier: Apache-2.0
// VariantStats, ModelStats, MetricsEvent: the rows monitoring reports, whoever collected them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/monitoring/version_stats.hpp>

namespace switchyard {

/// One version's statistics with the arm it holds in its deployment's table.
/// Thread-safety: a value type.
struct VariantStats {
  std::int64_t version = 0;
  std::string variant;   ///< current arm name, empty when the version left the table
  double share = 0.0;    ///< current share of the weighted split
  VersionStatsSnapshot stats;
  /// Class names from the model's signature, for labelling class counts; empty: indices.
  std::vector<std::string> class_names;
};

/// Every version's statistics for one model name: what Deployment::model_stats() returns and what
/// the exposition functions (exposition.hpp) and reports read. Thread-safety: a value type.
struct ModelStats {
  std::string model;
  std::vector<VariantStats> versions;
};

/// A version's statistics for a window that just ended (Deployment::reset_window()), delivered
/// on Deployment::metrics_published. Views are valid during the slot call.
struct MetricsEvent {
  std::string_view model;
  std::int64_t version = 0;
  std::string_view variant;                      ///< empty when the version left the table
  const VersionStatsSnapshot* window = nullptr;  ///< never null
};

}  // namespace switchyard
