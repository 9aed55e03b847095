// SPDX-License-Identifier: Apache-2.0
// Experiment: an A/B test over a deployment's variants, with late outcomes and labels joined by id.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/rollout/experiment_report.hpp>
#include <switchyard/rollout/metric_spec.hpp>
#include <switchyard/rollout/pending_join_table.hpp>
#include <switchyard/serving/routing_policy.hpp>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <vector>

namespace switchyard {

/// One served prediction, as the experiment sees it.
struct Exposure {
  std::string_view request_id{};      ///< joins later outcomes and labels; empty: never joined
  std::string_view variant{};         ///< must be one of the experiment's arms
  std::int32_t predicted_label = -1;  ///< for kAccuracy; < 0 when the model gives none
  /// Probability of class 1 (binary classifiers), for kBrierScore and kLogLoss; NaN when absent.
  double score = std::numeric_limits<double>::quiet_NaN();
  /// For kLatency; NaN (or negative) when not measured.
  double latency_ms = std::numeric_limits<double>::quiet_NaN();
};

namespace detail {
struct ExperimentState;  // what an experiment shares with its event slots (experiment-inl.hpp)
}  // namespace detail

/// An A/B (or A/B/n) experiment over a deployment's variants: one primary metric, guardrail
/// metrics, and a decision.
///
/// Exposures come from a Deployment's EventHub (attach()) or from expose(); each adds to its
/// arm's exposure count and latency. Outcomes (record_outcome()) and ground-truth labels
/// (record_label()) arrive later, possibly hours later, and join their prediction by request id
/// through a pending-join table bounded in size (Options::max_pending, oldest evicted and
/// counted) and age (Options::pending_ttl on the injected clock; what expires unjoined is
/// counted). analyze() compares every treatment with the control using the statistics library:
/// two-proportion z or Welch tests (or the always-valid sequential test), delta-method relative
/// lifts, chance to beat control, Holm-adjusted p-values across treatments, a sample-ratio check
/// of exposures against the configured weights, power and the samples still needed, and decides.
///
/// Decision rules, in order: a sample ratio mismatch (p < srm_threshold) makes the experiment
/// invalid. A treatment ships when its primary metric is significantly better (Holm-adjusted),
/// every guardrail has data and none is significantly worse (guardrails are not adjusted: a
/// guardrail errs on the side of blocking), and, in fixed-horizon mode, the primary comparison
/// reached its planned power or the always-valid sequential test confirms it (acting on a
/// fixed-horizon p-value before the planned size inflates false positives). The control is kept
/// when every treatment is decided against: significantly worse on the primary (under the same
/// horizon rule), blocked by a significantly worse guardrail (at any time), or not significant
/// with the planned power reached. Otherwise more data is needed.
///
/// Thread-safe: every member may be called concurrently. expose() and the event slot add to
/// per-thread shards (ShardedAccumulator: no lock, no shared cache line) and, when some metric
/// joins later, insert into the pending-join table, which uses striped mutexes (one stripe's lock
/// per insert or join, a node allocation per insert). analyze() reads the shards without stopping
/// writers. Neither copyable nor movable. An attached experiment may be destroyed while requests
/// are in flight: the event slot keeps its state alive until it returns.
///
/// @code
/// namespace sy = switchyard;
/// sy::Experiment exp({.name = "fraud-v2",
///                     .arms = sy::Experiment::arms_of(deployment.router().policy()),
///                     .primary = {.name = "accuracy", .kind = sy::MetricKind::kAccuracy},
///                     .guardrails = {{.name = "log_loss", .kind = sy::MetricKind::kLogLoss}},
///                     .clock = &clock});
/// exp.attach(hub);                  // exposures from every served prediction
/// exp.record_label("req-17", 1);    // hours later, when the truth is known
/// auto report = exp.analyze();
/// std::cout << report.to_string();  // or report.to_json()
/// if (report.decision.kind == sy::DecisionKind::kShipTreatment) promote(report.decision.variant);
/// @endcode
class Experiment {
 public:
  struct Options {
    std::string name{};   ///< appears in reports and error messages
    std::string model{};  ///< attach(): only events of this model count (empty: every model)
    std::vector<ExperimentArm> arms{};  ///< at least 2; see arms_of()
    std::string control{};              ///< the control arm's variant; empty: the first arm
    MetricSpec primary{};
    std::vector<MetricSpec> guardrails{};
    AnalysisMode mode = AnalysisMode::kFixedHorizon;
    double confidence = 0.95;  ///< alpha = 1 - confidence for tests and intervals
    double power = 0.8;        ///< target power for the samples-needed estimate
    double srm_threshold = stats::kDefaultSrmThreshold;  ///< 0.001, GrowthBook's
    /// How the sample-ratio check treats an arm of weight 0: as GrowthBook's engine (gbstats:
    /// left out of the statistic, counted in df) or, with kDrop, as GrowthBook's UI (dropped).
    stats::ZeroWeightArms srm_zero_weight_arms = stats::ZeroWeightArms::kKeepInDf;
    double sequential_tuning = 5000.0;    ///< the normal mixture's tuning (total sample size)
    std::size_t max_pending = 1'000'000;  ///< predictions awaiting outcomes or labels
    Duration pending_ttl = std::chrono::hours(24);  ///< how long a prediction waits for them
    std::size_t join_stripes = 16;                  ///< mutex stripes of the pending-join table
    /// Also compute the power reached for guardrail metrics (the primary always gets it). Off by
    /// default: one noncentral-t evaluation costs about 2 us per continuous comparison, and the
    /// decision does not use it.
    bool guardrail_power = false;
    const Clock* clock = nullptr;  ///< null: the system clock; must outlive the experiment
  };

  /// Validates `options`; throws InvalidArgument naming the field (fewer than 2 arms, duplicate
  /// or empty names, weights refused by validate_weights() with the routing policies' messages:
  /// negative, not finite, all 0 or summing past the largest double; an unknown control, more than
  /// 31 metrics, an MDE that is not positive, a missing_value on a non-continuous metric, levels
  /// outside (0, 1), a non-positive tuning, TTL, capacity or stripe count).
  explicit Experiment(Options options);
  ~Experiment();
  Experiment(const Experiment&) = delete;
  Experiment& operator=(const Experiment&) = delete;

  /// The arms of a routing policy, in its order and with its weights (the first is the default
  /// control).
  static std::vector<ExperimentArm> arms_of(const RoutingPolicy& policy);

  /// Records exposures from every prediction `hub` emits (EventHub::connect_prediction): the
  /// variant, request id, predicted label, latency, and the probability of class 1 derived from
  /// the confidence of a 0/1 label. Events of other models (Options::model) are skipped; events
  /// of variants that are not arms are counted as unknown_variants. The connection ends with
  /// detach() or the experiment's destruction.
  void attach(EventHub& hub);
  /// Disconnects from every hub.
  void detach();

  /// Records one exposure by hand. Returns false (and counts it) when the variant is not an arm.
  /// Throws only std::bad_alloc.
  bool expose(const Exposure& exposure);
  /// Convenience for expose({request_id, variant, predicted_label, score}).
  bool expose(std::string_view request_id, std::string_view variant,
              std::int32_t predicted_label = -1,
              double score = std::numeric_limits<double>::quiet_NaN()) {
    return expose(Exposure{request_id, variant, predicted_label, score});
  }

  /// Attaches an outcome of metric `metric` (kBinary: a non-zero value is a success; kContinuous:
  /// the value) to the prediction `request_id`. At most one value per metric and prediction.
  /// Throws NotFound when the experiment has no metric `metric`, InvalidArgument when it is not a
  /// kBinary or kContinuous metric (the others are measured, not reported).
  JoinResult record_outcome(std::string_view request_id, std::string_view metric,
                            double value = 1.0);
  /// Attaches the true label of the prediction `request_id`, scoring every label metric
  /// (accuracy, Brier score, log loss). kNotTracked when the experiment has none.
  JoinResult record_label(std::string_view request_id, std::int32_t label);

  /// Drops pending predictions older than the TTL now (analyze() does it too).
  void expire_pending();
  /// The join counters, current.
  JoinCounters join_counters() const;

  /// Analyses what has been recorded so far (after expiring stale predictions). Cost: reads
  /// every shard and runs the tests; tens of microseconds for 4 arms and 5 metrics.
  ExperimentReport analyze() const;

  const Options& options() const noexcept;

 private:
  std::shared_ptr<detail::ExperimentState> state_;
  mutable detail::Mutex mu_;
  std::vector<boost::signals2::connection> connections_ SWITCHYARD_GUARDED_BY(mu_);
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/experiment-inl.hpp>
#endif
