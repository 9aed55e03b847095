// SPDX-License-Identifier: Apache-2.0
// Internal: what an Experiment shares with its event slots: options, accumulators, the join table.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/rollout/metric_spec.hpp>
#include <switchyard/rollout/pending_join_table.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/sharded_accumulator.hpp>
#include <utility>
#include <vector>

namespace switchyard::detail {

/// A mergeable event count for ShardedAccumulator.
struct EventCount {
  std::uint64_t n = 0;
  void add() noexcept { ++n; }
  void merge(const EventCount& o) noexcept { n += o.n; }
};

/// The join mask a pending prediction is complete at: a bit per outcome metric, kLabelBit when a
/// metric uses labels.
inline std::uint32_t experiment_complete_mask(const Experiment::Options& o) {
  std::uint32_t mask = 0;
  auto visit = [&](const MetricSpec& m, std::size_t i) {
    if (metric_joins_outcome(m.kind)) mask |= 1u << i;
    if (metric_uses_label(m.kind)) mask |= kLabelBit;
  };
  visit(o.primary, 0);
  for (std::size_t i = 0; i < o.guardrails.size(); ++i) visit(o.guardrails[i], i + 1);
  return mask;
}

/// Everything an experiment shares with its event slots, kept alive by them while they run.
/// Thread-safe: the options and layout are fixed at construction; the accumulators are sharded
/// and the join table striped (see Experiment).
struct ExperimentState {
  using Options = Experiment::Options;
  struct ResolvedMetric {
    MetricSpec spec;
    bool higher_is_better = true;
  };
  struct ArmAccumulators {
    stats::ShardedAccumulator<EventCount> exposures;
    std::unique_ptr<stats::ShardedAccumulator<stats::RunningMoments>[]> metrics;
  };

  explicit ExperimentState(Options o)
      : options(std::move(o)),
        clock(options.clock ? *options.clock : system_clock()),
        complete_mask(experiment_complete_mask(options)),
        joins(options.max_pending, options.join_stripes, options.pending_ttl, clock,
              complete_mask) {
    metrics.push_back({options.primary, metric_higher_is_better(options.primary)});
    for (const auto& g : options.guardrails) {
      metrics.push_back({g, metric_higher_is_better(g)});
    }
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      if (metrics[i].spec.kind == MetricKind::kLatency) latency_metrics.push_back(i);
      if (metric_uses_label(metrics[i].spec.kind)) label_metrics.push_back(i);
    }
    for (std::size_t a = 0; a < options.arms.size(); ++a) {
      auto acc = std::make_unique<ArmAccumulators>();
      acc->metrics =
          std::make_unique<stats::ShardedAccumulator<stats::RunningMoments>[]>(metrics.size());
      arms.push_back(std::move(acc));
      if (options.arms[a].variant == options.control) control = a;
    }
    if (options.control.empty()) options.control = options.arms.front().variant;
  }

  std::optional<std::uint32_t> arm_of(std::string_view variant) const noexcept {
    for (std::size_t a = 0; a < options.arms.size(); ++a) {
      if (options.arms[a].variant == variant) return static_cast<std::uint32_t>(a);
    }
    return std::nullopt;
  }

  bool expose(const Exposure& e) {
    const auto arm = arm_of(e.variant);
    if (!arm) {
      unknown_variants.add();
      return false;
    }
    ArmAccumulators& acc = *arms[*arm];
    acc.exposures.add();
    if (std::isfinite(e.latency_ms) && e.latency_ms >= 0.0) {
      for (std::size_t i : latency_metrics) acc.metrics[i].add(e.latency_ms);
    }
    if (complete_mask != 0) {
      if (e.request_id.empty()) {
        missing_ids.add();
      } else {
        joins.insert(e.request_id, *arm, e.predicted_label, e.score);
      }
    }
    return true;
  }

  void on_prediction(const PredictionEvent& e) {
    if (!options.model.empty() && e.model != options.model) return;
    Exposure x;
    x.request_id = e.request_id;
    x.variant = e.variant;
    x.predicted_label = e.label;
    if (std::isfinite(e.confidence) && e.confidence >= 0.0 && e.confidence <= 1.0) {
      if (e.label == 1) x.score = e.confidence;
      if (e.label == 0) x.score = 1.0 - e.confidence;
    }
    if (e.latency_ns > 0) x.latency_ms = static_cast<double>(e.latency_ns) / 1e6;
    expose(x);
  }

  Options options;
  const Clock& clock;
  std::uint32_t complete_mask;
  PendingJoinTable joins;
  std::vector<ResolvedMetric> metrics;
  std::vector<std::size_t> latency_metrics;
  std::vector<std::size_t> label_metrics;
  std::size_t control = 0;
  std::vector<std::unique_ptr<ArmAccumulators>> arms;
  stats::ShardedAccumulator<EventCount> unknown_variants;
  stats::ShardedAccumulator<EventCount> missing_ids;
  stats::ShardedAccumulator<EventCount> invalid_values;
  stats::ShardedAccumulator<EventCount> unusable_labels;
};

}  // namespace switchyard::detail
