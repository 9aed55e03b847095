// SPDX-License-Identifier: Apache-2.0
// Experiment: an A/B test over a deployment's variants, with late outcomes and labels joined by id.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/serving/routing_policy.hpp>
#include <switchyard/stats/bayesian_test.hpp>
#include <switchyard/stats/detail/distributions.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/multiple_comparisons.hpp>
#include <switchyard/stats/power.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <switchyard/stats/sequential_test.hpp>
#include <switchyard/stats/sharded_accumulator.hpp>
#include <switchyard/stats/t_test.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

namespace switchyard {

/// What a metric measures, and so where its values come from.
enum class MetricKind : std::uint8_t {
  kBinary,      ///< 0/1 per exposure; record_outcome() marks a success (conversion, click, fraud)
  kContinuous,  ///< one value per exposure from record_outcome() (revenue, dwell time)
  kLatency,     ///< milliseconds per exposure, from the prediction event or Exposure::latency_ms
  kAccuracy,    ///< 0/1 per labelled exposure: predicted label == true label
  kBrierScore,  ///< (label - score)^2 per labelled exposure of a binary classifier
  kLogLoss,     ///< -ln p(true label) per labelled exposure of a binary classifier (sklearn's clip)
};

/// The name of a metric kind, e.g. "brier_score".
constexpr std::string_view to_string(MetricKind k) noexcept {
  switch (k) {
    case MetricKind::kBinary:
      return "binary";
    case MetricKind::kContinuous:
      return "continuous";
    case MetricKind::kLatency:
      return "latency";
    case MetricKind::kAccuracy:
      return "accuracy";
    case MetricKind::kBrierScore:
      return "brier_score";
    case MetricKind::kLogLoss:
      return "log_loss";
  }
  return "unknown";
}

/// Which way a metric should move.
enum class MetricDirection : std::uint8_t {
  kAuto,  ///< the kind's natural direction: lower for latency, Brier score and log loss
  kHigherIsBetter,
  kLowerIsBetter,
};

/// One metric of an experiment.
struct MetricSpec {
  std::string name;  ///< unique within the experiment; used by record_outcome()
  MetricKind kind = MetricKind::kBinary;
  MetricDirection direction = MetricDirection::kAuto;
  /// kContinuous only: the value of an exposure that received none (0 for "revenue per
  /// exposure"). Empty: only exposures that received a value count.
  std::optional<double> missing_value{};
  /// Relative minimum detectable effect (0.05 = 5%) for the power reached and the samples still
  /// needed. Must be positive.
  double minimum_detectable_effect = 0.05;
};

/// How p-values and intervals are computed.
enum class AnalysisMode : std::uint8_t {
  /// Two-proportion z-test (binary kinds) or Welch's t-test (the others), valid once, at the
  /// planned sample size: the decision waits until the primary metric reached its power.
  kFixedHorizon,
  /// GrowthBook's always-valid normal-mixture test: valid however often analyze() is called, so
  /// the decision may stop as soon as it is significant.
  kSequential,
};

/// One arm of the experiment: a deployment variant and its configured share of traffic.
struct ExperimentArm {
  std::string variant;  ///< the variant name PredictionEvent and PredictResponse carry
  double weight = 1.0;  ///< relative; the sample-ratio check compares exposures against it
};

/// What a join attempt did.
enum class JoinResult : std::uint8_t {
  kJoined,          ///< attached to the prediction
  kUnknownRequest,  ///< no pending prediction has this id (never exposed, evicted, or swept)
  kExpired,         ///< the prediction was pending but older than the TTL; it is dropped now
  kDuplicate,       ///< this metric (or label) was already recorded for the prediction
  kInvalidValue,    ///< NaN or infinite value: refused, so it cannot poison an arm
  kNotTracked,      ///< the experiment has no metric that uses labels
};

/// The name of a join result, e.g. "unknown_request".
constexpr std::string_view to_string(JoinResult r) noexcept {
  switch (r) {
    case JoinResult::kJoined:
      return "joined";
    case JoinResult::kUnknownRequest:
      return "unknown_request";
    case JoinResult::kExpired:
      return "expired";
    case JoinResult::kDuplicate:
      return "duplicate";
    case JoinResult::kInvalidValue:
      return "invalid_value";
    case JoinResult::kNotTracked:
      return "not_tracked";
  }
  return "unknown";
}

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

/// The verdict of an analysis.
enum class DecisionKind : std::uint8_t {
  kShipTreatment,  ///< a treatment is significantly better on the primary and no guardrail is worse
  kKeepControl,    ///< the treatments are worse, blocked by a guardrail, or show no effect at power
  kNeedMoreData,   ///< not decided yet; see ExperimentDecision::more_samples_per_arm
  kInvalid,        ///< sample ratio mismatch: the assignment is broken, no result can be trusted
};

/// The name of a decision, e.g. "need_more_data".
constexpr std::string_view to_string(DecisionKind d) noexcept {
  switch (d) {
    case DecisionKind::kShipTreatment:
      return "ship_treatment";
    case DecisionKind::kKeepControl:
      return "keep_control";
    case DecisionKind::kNeedMoreData:
      return "need_more_data";
    case DecisionKind::kInvalid:
      return "invalid";
  }
  return "unknown";
}

/// What to do, and why. Thread-safe: a value type.
struct ExperimentDecision {
  DecisionKind kind = DecisionKind::kNeedMoreData;
  std::string variant;  ///< the treatment to ship, or the control otherwise
  /// kNeedMoreData: about this many more units in the smaller arm of the least advanced
  /// comparison (0 when it cannot be estimated yet, e.g. no data at all).
  std::uint64_t more_samples_per_arm = 0;
  std::string reason;  ///< one sentence naming the metric, effect, interval and p-value
};

/// One variant's value of one metric. Thread-safe: a value type.
struct VariantMetric {
  std::string variant;
  std::uint64_t n = 0;  ///< units in the metric's denominator
  double mean = 0.0;    ///< a rate for kBinary and kAccuracy
  /// Wilson interval (rates) or Student t interval (means) at the report's confidence; status not
  /// ok (and the interval unbounded) with fewer than 2 units.
  stats::IntervalEstimate interval;
};

/// One treatment against the control on one metric. Thread-safe: a value type.
///
/// Fixed horizon: the p-value and absolute interval are two_proportion_z_test's (kBinary,
/// kAccuracy) or welch_t_test's (the others); the relative effect is lift_test's delta-method
/// lift. Sequential: both come from sequential_test (normal mixture, tuning from the options) on
/// effect_moments on the absolute and the relative scale.
struct MetricComparison {
  std::string metric;
  std::string variant;                                           ///< the treatment
  stats::StatStatus status = stats::StatStatus::kNotEnoughData;  ///< of the p-value's test
  std::string reason;                                            ///< empty when ok
  double control_mean = 0.0;
  double treatment_mean = 0.0;
  double absolute_effect = 0.0;  ///< treatment - control
  stats::Interval absolute_interval;
  stats::StatStatus relative_status = stats::StatStatus::kNotEnoughData;
  double relative_effect = 0.0;  ///< (treatment - control) / |control|
  stats::Interval relative_interval;
  double p_value = 1.0;           ///< two-sided; always-valid in sequential mode
  double adjusted_p_value = 1.0;  ///< Holm over the treatments (primary metric); else p_value
  /// The sequential test's always-valid p-value (equal to p_value in sequential mode),
  /// Holm-adjusted like adjusted_p_value. Fixed-horizon mode uses it to stop before the planned
  /// sample size: stopping when it is significant keeps the false positive rate at alpha however
  /// often one looks.
  double always_valid_p_value = 1.0;
  bool significant = false;  ///< adjusted_p_value < 1 - confidence
  bool improvement = false;  ///< significant, in the metric's good direction
  bool regression = false;   ///< significant, in the metric's bad direction
  /// Probability that the treatment beats the control (flat-prior bayesian_test on the relative
  /// effect, or the absolute one when the control mean is 0); 0.5 when not computable.
  double chance_to_beat_control = 0.5;
  /// Status of the power computation: the primary metric always, guardrails only with
  /// Options::guardrail_power (kNotEnoughData with power 0 otherwise).
  stats::StatStatus power_status = stats::StatStatus::kNotEnoughData;
  double power = 0.0;  ///< power reached for the metric's MDE with the smaller arm's size
  /// Units the smaller arm still needs to reach the target power (remaining_sample_size): 0 once
  /// reached; computed for the primary metric only (guardrails do not set the horizon, and the
  /// search is the costly part of an analysis), so empty for guardrails below their power and
  /// whenever power_status is not ok.
  std::optional<std::uint64_t> more_samples_per_arm;
};

/// One metric: its variants and its comparisons with the control. Thread-safe: a value type.
struct MetricReport {
  std::string name;
  MetricKind kind = MetricKind::kBinary;
  bool primary = false;
  bool higher_is_better = true;
  double minimum_detectable_effect = 0.05;
  std::vector<VariantMetric> variants;        ///< in arm order
  std::vector<MetricComparison> comparisons;  ///< one per treatment, in arm order
};

/// One arm's traffic. Thread-safe: a value type.
struct ArmReport {
  std::string variant;
  double weight = 0.0;
  double expected_share = 0.0;  ///< weight / sum of weights
  std::uint64_t exposures = 0;
  double observed_share = 0.0;  ///< exposures / all exposures; 0 when there are none
};

/// The pending-join table's and the exposure path's counters. Thread-safe: a value type.
struct JoinCounters {
  std::uint64_t pending = 0;  ///< predictions waiting for outcomes or a label
  std::uint64_t tracked = 0;  ///< predictions ever entered into the table
  std::uint64_t labels_joined = 0;
  std::uint64_t outcomes_joined = 0;
  std::uint64_t completed = 0;          ///< left the table because everything it waits for arrived
  std::uint64_t evicted = 0;            ///< dropped, oldest first, to keep max_pending
  std::uint64_t expired = 0;            ///< dropped after the TTL
  std::uint64_t expired_unlabeled = 0;  ///< of evicted + expired: never got a label (label metrics)
  std::uint64_t unmatched = 0;         ///< outcomes or labels for an unknown, evicted or expired id
  std::uint64_t duplicate_joins = 0;   ///< a metric or label recorded twice for one prediction
  std::uint64_t duplicate_ids = 0;     ///< an exposure reused a pending request id (not tracked)
  std::uint64_t missing_ids = 0;       ///< exposures without a request id (counted, never joined)
  std::uint64_t unknown_variants = 0;  ///< exposures of a variant that is not an arm (ignored)
  std::uint64_t invalid_values = 0;    ///< NaN or infinite outcome values refused
  std::uint64_t unusable_labels = 0;   ///< joined labels a quality metric could not score
};

/// Everything analyze() found. Thread-safe: a value type.
struct ExperimentReport {
  std::string name;
  std::string control;
  AnalysisMode mode = AnalysisMode::kFixedHorizon;
  double confidence = 0.95;
  TimePoint at{};
  std::vector<ArmReport> arms;
  stats::SrmResult srm;
  std::vector<MetricReport> metrics;  ///< the primary first, then the guardrails in order
  JoinCounters joins;
  ExperimentDecision decision;

  /// The primary metric's report; throws NotFound on a report analyze() did not produce.
  const MetricReport& primary() const;
  /// The report of metric `name`; throws NotFound naming it.
  const MetricReport& metric(std::string_view name) const;
  /// The report as one JSON object (numbers that are not finite are null).
  std::string to_json() const;
  /// A readable table: arms and SRM, each metric with its variants and comparisons, the join
  /// counters and the decision.
  std::string to_string() const;
};

namespace detail {

inline constexpr std::uint32_t kLabelBit = 1u << 31;
inline constexpr std::size_t kMaxExperimentMetrics = 31;

/// A mergeable event count for ShardedAccumulator.
struct EventCount {
  std::uint64_t n = 0;
  void add() noexcept { ++n; }
  void merge(const EventCount& o) noexcept { n += o.n; }
};

/// What a successful join reports about its prediction.
struct JoinedPrediction {
  std::uint32_t arm = 0;
  std::int32_t predicted_label = -1;
  double score = std::numeric_limits<double>::quiet_NaN();
};

/// Predictions awaiting their outcomes and labels, by request id, bounded in size and age.
///
/// Striped: an id hashes to one of `stripes` stripes, each a mutex over a hash map whose entries
/// are also linked oldest to newest. Capacity is split over the stripes (their sum is the
/// capacity), so a full stripe evicts its own oldest entry: the bound is exact, "oldest" is per
/// stripe. Expired entries are dropped by the stripe's next insert and by sweep(); a join that
/// finds one expired drops it.
///
/// Thread-safe: every member may be called concurrently. Cost: an insert or a join holds one
/// stripe's mutex for one hash-map operation (an insert allocates one node; ids up to 15 bytes
/// need no second allocation); threads contend only when their ids fall in the same stripe.
class PendingJoinTable {
 public:
  struct Tally {
    std::uint64_t tracked = 0, labels_joined = 0, outcomes_joined = 0, completed = 0, evicted = 0,
                  expired = 0, expired_unlabeled = 0, unmatched = 0, duplicate_joins = 0,
                  duplicate_ids = 0, pending = 0;
  };

  PendingJoinTable(std::size_t capacity, std::size_t stripes, Duration ttl, const Clock& clock,
                   std::uint32_t complete_mask)
      : ttl_(ttl), clock_(clock), complete_mask_(complete_mask) {
    const std::size_t n = std::max<std::size_t>(1, std::min(stripes, capacity));
    stripes_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto s = std::make_unique<Stripe>();
      s->capacity = capacity / n + (i < capacity % n ? 1 : 0);
      stripes_.push_back(std::move(s));
    }
  }

  void insert(std::string_view id, std::uint32_t arm, std::int32_t label, double score) {
    const std::size_t h = IdHash{}(id);
    Stripe& s = *stripes_[h % stripes_.size()];
    const TimePoint now = clock_.now();
    detail::MutexLock lk(s.mu);
    sweep_locked(s, now);
    auto [it, fresh] = s.map.try_emplace(std::string(id));
    if (!fresh) {
      ++s.tally.duplicate_ids;
      return;
    }
    Entry& e = it->second;
    e.expires = now + ttl_;
    e.arm = arm;
    e.predicted_label = label;
    e.score = score;
    e.id = &it->first;
    e.older = s.newest;
    (s.newest ? s.newest->newer : s.oldest) = &e;
    s.newest = &e;
    ++s.tally.tracked;
    if (s.map.size() > s.capacity) {
      ++s.tally.evicted;
      drop_locked(s, *s.oldest);
    }
  }

  /// Records `bit` for `id`; on kJoined describes the prediction in `out`.
  JoinResult join(std::string_view id, std::uint32_t bit, JoinedPrediction& out) {
    Stripe& s = *stripes_[IdHash{}(id) % stripes_.size()];
    const TimePoint now = clock_.now();
    detail::MutexLock lk(s.mu);
    auto it = s.map.find(id);
    if (it == s.map.end()) {
      ++s.tally.unmatched;
      return JoinResult::kUnknownRequest;
    }
    Entry& e = it->second;
    if (e.expires <= now) {
      ++s.tally.unmatched;
      ++s.tally.expired;
      drop_locked(s, e);
      return JoinResult::kExpired;
    }
    if (e.received & bit) {
      ++s.tally.duplicate_joins;
      return JoinResult::kDuplicate;
    }
    e.received |= bit;
    ++(bit == kLabelBit ? s.tally.labels_joined : s.tally.outcomes_joined);
    out = JoinedPrediction{e.arm, e.predicted_label, e.score};
    if ((e.received & complete_mask_) == complete_mask_) {
      ++s.tally.completed;
      unlink_locked(s, e);
      s.map.erase(it);
    }
    return JoinResult::kJoined;
  }

  /// Drops every expired entry now.
  void sweep() {
    const TimePoint now = clock_.now();
    for (auto& stripe : stripes_) {
      Stripe& s = *stripe;
      detail::MutexLock lk(s.mu);
      sweep_locked(s, now);
    }
  }

  Tally tally() const {
    Tally t;
    for (const auto& stripe : stripes_) {
      const Stripe& s = *stripe;
      detail::MutexLock lk(s.mu);
      const Tally& x = s.tally;
      t.tracked += x.tracked;
      t.labels_joined += x.labels_joined;
      t.outcomes_joined += x.outcomes_joined;
      t.completed += x.completed;
      t.evicted += x.evicted;
      t.expired += x.expired;
      t.expired_unlabeled += x.expired_unlabeled;
      t.unmatched += x.unmatched;
      t.duplicate_joins += x.duplicate_joins;
      t.duplicate_ids += x.duplicate_ids;
      t.pending += s.map.size();
    }
    return t;
  }

 private:
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view v) const noexcept {
      return std::hash<std::string_view>{}(v);
    }
  };
  // A pending prediction; entries are also linked oldest to newest for eviction and expiry.
  struct Entry {
    TimePoint expires{};
    std::uint32_t arm = 0;
    std::uint32_t received = 0;  // bit i: outcome metric i recorded; kLabelBit: label recorded
    std::int32_t predicted_label = -1;
    double score = std::numeric_limits<double>::quiet_NaN();
    const std::string* id = nullptr;  // the map's key (nodes never move)
    Entry* older = nullptr;
    Entry* newer = nullptr;
  };
  using Map = std::unordered_map<std::string, Entry, IdHash, std::equal_to<>>;
  struct alignas(64) Stripe {
    mutable detail::Mutex mu;
    std::size_t capacity = 1;
    Map map SWITCHYARD_GUARDED_BY(mu);
    Entry* oldest SWITCHYARD_GUARDED_BY(mu) = nullptr;
    Entry* newest SWITCHYARD_GUARDED_BY(mu) = nullptr;
    Tally tally SWITCHYARD_GUARDED_BY(mu);
  };

  static void unlink_locked(Stripe& s, Entry& e) SWITCHYARD_REQUIRES(s.mu) {
    (e.older ? e.older->newer : s.oldest) = e.newer;
    (e.newer ? e.newer->older : s.newest) = e.older;
  }
  // Counts an entry leaving unlabelled when labels are awaited, then removes it.
  void drop_locked(Stripe& s, Entry& e) SWITCHYARD_REQUIRES(s.mu) {
    if ((complete_mask_ & kLabelBit) && !(e.received & kLabelBit)) ++s.tally.expired_unlabeled;
    unlink_locked(s, e);
    s.map.erase(s.map.find(std::string_view(*e.id)));
  }
  void sweep_locked(Stripe& s, TimePoint now) SWITCHYARD_REQUIRES(s.mu) {
    while (s.oldest != nullptr && s.oldest->expires <= now) {
      ++s.tally.expired;
      drop_locked(s, *s.oldest);
    }
  }

  std::vector<std::unique_ptr<Stripe>> stripes_;
  Duration ttl_;
  const Clock& clock_;
  std::uint32_t complete_mask_;
};

// ---- report formatting, shared with rollout/performance_report.hpp ----------------------------

/// The shortest form that reads back to the same double; null when not finite (JSON has no NaN
/// or infinity).
inline std::string report_json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

inline std::string report_json_interval(const stats::Interval& i) {
  return "[" + report_json_number(i.lower) + ", " + report_json_number(i.upper) + "]";
}

inline std::string report_fixed(double v, int decimals) {
  if (std::isinf(v)) return v > 0 ? "+inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// A fraction as a signed percentage, e.g. 0.07 -> "+7.0%".
inline std::string report_signed_percent(double fraction, int decimals = 1) {
  if (std::isinf(fraction)) return fraction > 0 ? "+inf" : "-inf";
  if (std::isnan(fraction)) return "nan";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%+.*f%%", decimals, fraction * 100.0);
  return buf;
}

/// "p < 0.001" or "p = 0.034".
inline std::string report_p_value(double p) {
  if (p < 0.001) return "p < 0.001";
  char buf[32];
  std::snprintf(buf, sizeof buf, "p = %.3f", p);
  return buf;
}

inline std::string report_interval_percent(const stats::Interval& i, int decimals = 1) {
  return "[" + report_signed_percent(i.lower, decimals) + ", " +
         report_signed_percent(i.upper, decimals) + "]";
}

inline std::string report_pad(std::string s, std::size_t width, bool left = true) {
  if (s.size() >= width) return s;
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

/// Mean with a Student t interval (scipy.stats.t.interval(confidence, n - 1, mean, sem)).
inline stats::IntervalEstimate mean_interval(const stats::RunningMoments& m, double confidence) {
  stats::IntervalEstimate r;
  r.confidence = confidence;
  r.estimate = m.mean();
  if (m.count() < 2) {
    r.reason = "fewer than 2 observations";
    return r;
  }
  const double n = static_cast<double>(m.count());
  const double half =
      stats::detail::t_isf((1.0 - confidence) / 2.0, n - 1.0) * m.std_dev() / std::sqrt(n);
  r.status = stats::StatStatus::kOk;
  r.interval = stats::Interval{r.estimate - half, r.estimate + half};
  return r;
}

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
  /// or empty names, weights that are negative, not finite or all 0, an unknown control, more than
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
  struct State;
  std::shared_ptr<State> state_;
  mutable detail::Mutex mu_;
  std::vector<boost::signals2::connection> connections_ SWITCHYARD_GUARDED_BY(mu_);
};

// ================================================================================================
// Implementation.

namespace detail {

inline bool metric_joins_outcome(MetricKind k) noexcept {
  return k == MetricKind::kBinary || k == MetricKind::kContinuous;
}
inline bool metric_uses_label(MetricKind k) noexcept {
  return k == MetricKind::kAccuracy || k == MetricKind::kBrierScore || k == MetricKind::kLogLoss;
}
inline bool metric_is_rate(MetricKind k) noexcept {
  return k == MetricKind::kBinary || k == MetricKind::kAccuracy;
}
inline bool metric_higher_is_better(const MetricSpec& m) noexcept {
  if (m.direction != MetricDirection::kAuto) return m.direction == MetricDirection::kHigherIsBetter;
  return !(m.kind == MetricKind::kLatency || m.kind == MetricKind::kBrierScore ||
           m.kind == MetricKind::kLogLoss);
}

/// One arm's data on one metric, ready for the tests.
struct ArmMetricData {
  bool rate = false;
  stats::ProportionCounter counter;  // rate kinds
  stats::RunningMoments moments;     // the others
  std::uint64_t n() const noexcept { return rate ? counter.trials() : moments.count(); }
  double mean() const noexcept { return rate ? counter.rate() : moments.mean(); }
  stats::SampleSummary summary() const noexcept {
    return rate ? counter.summary() : moments.summary();
  }
};

inline void validate_unit(double v, const std::string& experiment, const char* field) {
  if (!(v > 0.0 && v < 1.0)) {
    throw InvalidArgument("experiment '" + experiment + "': " + field +
                          " must lie strictly between 0 and 1, got " + std::to_string(v));
  }
}

inline void validate_experiment(const Experiment::Options& o) {
  const std::string& n = o.name;
  if (o.arms.size() < 2) {
    throw InvalidArgument("experiment '" + n + "': arms needs at least 2 variants, got " +
                          std::to_string(o.arms.size()));
  }
  double total = 0.0;
  for (std::size_t i = 0; i < o.arms.size(); ++i) {
    const ExperimentArm& a = o.arms[i];
    if (a.variant.empty()) {
      throw InvalidArgument("experiment '" + n + "': arms[" + std::to_string(i) +
                            "].variant is empty");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (o.arms[j].variant == a.variant) {
        throw InvalidArgument("experiment '" + n + "': variant '" + a.variant +
                              "' appears twice in arms");
      }
    }
    if (!std::isfinite(a.weight) || a.weight < 0.0) {
      throw InvalidArgument("experiment '" + n + "': weight of variant '" + a.variant +
                            "' must be finite and non-negative, got " + std::to_string(a.weight));
    }
    total += a.weight;
  }
  if (!(total > 0.0)) throw InvalidArgument("experiment '" + n + "': every arm weight is 0");
  if (!o.control.empty()) {
    bool found = false;
    for (const auto& a : o.arms) found = found || a.variant == o.control;
    if (!found) {
      throw InvalidArgument("experiment '" + n + "': control '" + o.control +
                            "' is not one of the arms");
    }
  }
  if (1 + o.guardrails.size() > kMaxExperimentMetrics) {
    throw InvalidArgument("experiment '" + n + "': at most " +
                          std::to_string(kMaxExperimentMetrics) + " metrics, got " +
                          std::to_string(1 + o.guardrails.size()));
  }
  std::vector<const MetricSpec*> all{&o.primary};
  for (const auto& g : o.guardrails) all.push_back(&g);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const MetricSpec& m = *all[i];
    const std::string where =
        i == 0 ? std::string("primary metric") : "guardrails[" + std::to_string(i - 1) + "]";
    if (m.name.empty()) throw InvalidArgument("experiment '" + n + "': " + where + " has no name");
    for (std::size_t j = 0; j < i; ++j) {
      if (all[j]->name == m.name) {
        throw InvalidArgument("experiment '" + n + "': metric '" + m.name + "' appears twice");
      }
    }
    if (!(m.minimum_detectable_effect > 0.0) || !std::isfinite(m.minimum_detectable_effect)) {
      throw InvalidArgument("experiment '" + n + "': metric '" + m.name +
                            "' minimum_detectable_effect must be positive and finite, got " +
                            std::to_string(m.minimum_detectable_effect));
    }
    if (m.missing_value &&
        (m.kind != MetricKind::kContinuous || !std::isfinite(*m.missing_value))) {
      throw InvalidArgument("experiment '" + n + "': metric '" + m.name +
                            "' missing_value needs a continuous metric and a finite value");
    }
  }
  validate_unit(o.confidence, n, "confidence");
  validate_unit(o.power, n, "power");
  validate_unit(o.srm_threshold, n, "srm_threshold");
  if (!(o.sequential_tuning > 0.0) || !std::isfinite(o.sequential_tuning)) {
    throw InvalidArgument("experiment '" + n + "': sequential_tuning must be positive, got " +
                          std::to_string(o.sequential_tuning));
  }
  if (o.max_pending == 0) throw InvalidArgument("experiment '" + n + "': max_pending is 0");
  if (o.join_stripes == 0) throw InvalidArgument("experiment '" + n + "': join_stripes is 0");
  if (o.pending_ttl <= Duration::zero()) {
    throw InvalidArgument("experiment '" + n + "': pending_ttl must be positive");
  }
}

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

/// Power reached and samples still needed for a relative MDE in the metric's good direction
/// (flipped when that would leave a rate outside (0, 1)). Data-driven failures become a status.
///
/// The power reached is one evaluation (achieved_power_*). The samples still needed come from
/// remaining_sample_size, a root search costing 20 us (rates) to 600 us (means, noncentral t), so
/// it runs only when `solve` is set and the power is below target: when the power is reached the
/// answer is 0 without a search, since power(have) >= target exactly when have >= the solution.
inline void experiment_power(MetricComparison& c, const ArmMetricData& t, const ArmMetricData& k,
                             double mde, bool higher_is_better, const stats::PowerOptions& po,
                             bool solve, std::optional<stats::SampleSizeResult>& rate_plan) {
  double rel = higher_is_better ? mde : -mde;
  const std::uint64_t per_arm = std::min(t.n(), k.n());
  c.more_samples_per_arm.reset();
  try {
    if (t.rate) {
      const double base = k.counter.rate();
      if (k.counter.trials() == 0 || t.counter.trials() == 0) {
        c.power_status = stats::StatStatus::kNotEnoughData;
        return;
      }
      if (!(base > 0.0 && base < 1.0)) {
        c.power_status = stats::StatStatus::kZeroVariance;
        return;
      }
      const double moved = base * (1.0 + rel);
      if (!(moved > 0.0 && moved < 1.0)) rel = -rel;
      const double back = base * (1.0 + rel);
      if (!(back > 0.0 && back < 1.0)) {
        c.power_status = stats::StatStatus::kInvalidInput;
        return;
      }
      c.power =
          stats::achieved_power_proportions(per_arm, base, rel, stats::MdeKind::kRelative, po);
      c.power_status = stats::StatStatus::kOk;
      if (c.power >= po.power) {
        c.more_samples_per_arm = 0;
      } else if (solve) {
        // remaining_sample_size's plan depends only on the control's rate, which every treatment
        // shares: solve it once per metric, then subtract each comparison's smaller arm.
        if (!rate_plan) {
          rate_plan = stats::sample_size_proportions(base, rel, stats::MdeKind::kRelative, po);
        }
        if (rate_plan->ok()) {
          c.more_samples_per_arm = rate_plan->per_arm > per_arm ? rate_plan->per_arm - per_arm : 0;
        }
      }
    } else {
      const stats::SampleSummary ts = t.summary(), ks = k.summary();
      if (ts.count < 2 || ks.count < 2) {
        c.power_status = stats::StatStatus::kNotEnoughData;
        return;
      }
      if (ts.rejected || ks.rejected) {
        c.power_status = stats::StatStatus::kInvalidInput;
        return;
      }
      const double n1 = static_cast<double>(ts.count), n2 = static_cast<double>(ks.count);
      const double pooled = ((n1 - 1.0) * ts.variance + (n2 - 1.0) * ks.variance) / (n1 + n2 - 2.0);
      if (!(pooled > 0.0)) {
        c.power_status = stats::StatStatus::kZeroVariance;
        return;
      }
      if (ks.mean == 0.0) {  // a relative MDE of a zero mean is no effect at all
        c.power_status = stats::StatStatus::kInvalidInput;
        return;
      }
      c.power = stats::achieved_power_means(per_arm, std::sqrt(pooled), rel,
                                            stats::MdeKind::kRelative, ks.mean, po);
      c.power_status = stats::StatStatus::kOk;
      if (c.power >= po.power) {
        c.more_samples_per_arm = 0;
      } else if (solve) {
        const auto r = stats::remaining_sample_size(ts, ks, rel, stats::MdeKind::kRelative, po);
        if (r.ok()) c.more_samples_per_arm = r.remaining_per_arm;
      }
    }
  } catch (const InvalidArgument&) {
    // A degenerate observed baseline (the options were validated at construction).
    c.power_status = stats::StatStatus::kInvalidInput;
    c.power = 0.0;
    c.more_samples_per_arm.reset();
  }
}

inline MetricComparison experiment_compare(const MetricSpec& spec, bool higher,
                                           const ArmMetricData& t, const ArmMetricData& k,
                                           const Experiment::Options& o, bool primary,
                                           std::optional<stats::SampleSizeResult>& rate_plan) {
  MetricComparison c;
  c.metric = spec.name;
  c.control_mean = k.mean();
  c.treatment_mean = t.mean();
  const stats::SampleSummary ts = t.summary(), ks = k.summary();
  const stats::EffectMoments rel_m = stats::effect_moments(ts, ks, stats::EffectScale::kRelative);
  if (o.mode == AnalysisMode::kFixedHorizon) {
    stats::TestResult r;
    if (t.rate) {
      r = stats::two_proportion_z_test(t.counter, k.counter, o.confidence);
    } else {
      r = stats::welch_t_test(t.moments, k.moments, o.confidence);
    }
    c.status = r.status;
    c.reason = r.reason;
    c.absolute_effect = r.effect;
    c.absolute_interval = r.interval;
    c.p_value = r.p_value;
    const stats::LiftResult lift = stats::lift_test(rel_m, o.confidence);
    c.relative_status = lift.status;
    c.relative_effect = lift.effect;
    c.relative_interval = lift.interval;
    const stats::SequentialResult a =
        stats::sequential_test(stats::effect_moments(ts, ks, stats::EffectScale::kAbsolute),
                               stats::SequentialOptions{o.confidence, o.sequential_tuning});
    c.always_valid_p_value = a.p_value;
  } else {
    const stats::SequentialOptions so{o.confidence, o.sequential_tuning};
    const stats::SequentialResult a =
        stats::sequential_test(stats::effect_moments(ts, ks, stats::EffectScale::kAbsolute), so);
    c.status = a.status;
    c.reason = a.reason;
    c.absolute_effect = a.effect;
    c.absolute_interval = a.interval;
    c.p_value = a.p_value;
    c.always_valid_p_value = a.p_value;
    const stats::SequentialResult r = stats::sequential_test(rel_m, so);
    c.relative_status = r.status;
    c.relative_effect = r.effect;
    c.relative_interval = r.interval;
  }
  c.adjusted_p_value = c.p_value;
  stats::BayesianOptions bo;
  bo.credibility = o.confidence;
  bo.inverse = !higher;
  stats::BayesianResult b = stats::bayesian_test(rel_m, bo);
  if (!b.ok()) {
    bo.prior_scale = stats::EffectScale::kAbsolute;
    b = stats::bayesian_test(stats::effect_moments(ts, ks, stats::EffectScale::kAbsolute), bo);
  }
  c.chance_to_beat_control = b.ok() ? b.chance_to_win : 0.5;
  if (primary || o.guardrail_power) {
    stats::PowerOptions po;
    po.alpha = 1.0 - o.confidence;
    po.power = o.power;
    experiment_power(c, t, k, spec.minimum_detectable_effect, higher, po, primary, rate_plan);
  }
  return c;
}

}  // namespace detail

/// Everything an experiment shares with its event slots, kept alive by them while they run.
struct Experiment::State {
  struct ResolvedMetric {
    MetricSpec spec;
    bool higher_is_better = true;
  };
  struct ArmAccumulators {
    stats::ShardedAccumulator<detail::EventCount> exposures;
    std::unique_ptr<stats::ShardedAccumulator<stats::RunningMoments>[]> metrics;
  };

  explicit State(Options o)
      : options(std::move(o)),
        clock(options.clock ? *options.clock : system_clock()),
        complete_mask(detail::experiment_complete_mask(options)),
        joins(options.max_pending, options.join_stripes, options.pending_ttl, clock,
              complete_mask) {
    metrics.push_back({options.primary, detail::metric_higher_is_better(options.primary)});
    for (const auto& g : options.guardrails) {
      metrics.push_back({g, detail::metric_higher_is_better(g)});
    }
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      if (metrics[i].spec.kind == MetricKind::kLatency) latency_metrics.push_back(i);
      if (detail::metric_uses_label(metrics[i].spec.kind)) label_metrics.push_back(i);
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
  detail::PendingJoinTable joins;
  std::vector<ResolvedMetric> metrics;
  std::vector<std::size_t> latency_metrics;
  std::vector<std::size_t> label_metrics;
  std::size_t control = 0;
  std::vector<std::unique_ptr<ArmAccumulators>> arms;
  stats::ShardedAccumulator<detail::EventCount> unknown_variants;
  stats::ShardedAccumulator<detail::EventCount> missing_ids;
  stats::ShardedAccumulator<detail::EventCount> invalid_values;
  stats::ShardedAccumulator<detail::EventCount> unusable_labels;
};

inline Experiment::Experiment(Options options) {
  detail::validate_experiment(options);
  state_ = std::make_shared<State>(std::move(options));
}

inline Experiment::~Experiment() { detach(); }

inline std::vector<ExperimentArm> Experiment::arms_of(const RoutingPolicy& policy) {
  std::vector<ExperimentArm> arms;
  arms.reserve(policy.variants.size());
  for (const auto& v : policy.variants) arms.push_back({v.name, v.weight});
  return arms;
}

inline void Experiment::attach(EventHub& hub) {
  using Slot = EventHub::Signal<PredictionEvent>::slot_type;
  State* s = state_.get();
  Slot slot([s](const PredictionEvent& e) { s->on_prediction(e); });
  // Signals2 locks the tracked state for the duration of each call, so destroying the experiment
  // while a request thread is inside the slot leaves that call a live state.
  slot.track_foreign(std::weak_ptr<State>(state_));
  boost::signals2::connection c = hub.connect_prediction(slot);
  detail::MutexLock lk(mu_);
  connections_.push_back(std::move(c));
}

inline void Experiment::detach() {
  detail::MutexLock lk(mu_);
  for (auto& c : connections_) c.disconnect();
  connections_.clear();
}

inline bool Experiment::expose(const Exposure& exposure) { return state_->expose(exposure); }

inline JoinResult Experiment::record_outcome(std::string_view request_id, std::string_view metric,
                                             double value) {
  State& s = *state_;
  std::size_t idx = s.metrics.size();
  for (std::size_t i = 0; i < s.metrics.size(); ++i) {
    if (s.metrics[i].spec.name == metric) idx = i;
  }
  if (idx == s.metrics.size()) {
    throw NotFound("experiment '" + s.options.name + "' has no metric '" + std::string(metric) +
                   "'");
  }
  const MetricKind kind = s.metrics[idx].spec.kind;
  if (!detail::metric_joins_outcome(kind)) {
    throw InvalidArgument("experiment '" + s.options.name + "': metric '" + std::string(metric) +
                          "' is a " + std::string(to_string(kind)) +
                          " metric; only binary and continuous metrics take outcomes");
  }
  if (!std::isfinite(value)) {
    s.invalid_values.add();
    return JoinResult::kInvalidValue;
  }
  detail::JoinedPrediction p;
  const JoinResult r = s.joins.join(request_id, 1u << idx, p);
  if (r != JoinResult::kJoined) return r;
  if (kind == MetricKind::kBinary) {
    if (value != 0.0) s.arms[p.arm]->metrics[idx].add(1.0);  // successes; trials are exposures
  } else {
    s.arms[p.arm]->metrics[idx].add(value);
  }
  return r;
}

inline JoinResult Experiment::record_label(std::string_view request_id, std::int32_t label) {
  State& s = *state_;
  if (s.label_metrics.empty()) return JoinResult::kNotTracked;
  detail::JoinedPrediction p;
  const JoinResult r = s.joins.join(request_id, detail::kLabelBit, p);
  if (r != JoinResult::kJoined) return r;
  bool unusable = false;
  const bool binary_label = label == 0 || label == 1;
  const bool scored = p.score >= 0.0 && p.score <= 1.0;  // false for NaN
  for (std::size_t i : s.label_metrics) {
    auto& acc = s.arms[p.arm]->metrics[i];
    switch (s.metrics[i].spec.kind) {
      case MetricKind::kAccuracy:
        if (p.predicted_label >= 0) {
          acc.add(p.predicted_label == label ? 1.0 : 0.0);
        } else {
          unusable = true;
        }
        break;
      case MetricKind::kBrierScore:
        if (binary_label && scored) {
          const double d = static_cast<double>(label) - p.score;
          acc.add(d * d);
        } else {
          unusable = true;
        }
        break;
      case MetricKind::kLogLoss:
        if (binary_label && scored) {
          // scikit-learn 1.2 log_loss: clip to [eps, 1 - eps], eps = machine epsilon.
          constexpr double eps = std::numeric_limits<double>::epsilon();
          const double q = std::clamp(p.score, eps, 1.0 - eps);
          acc.add(-std::log(label == 1 ? q : 1.0 - q));
        } else {
          unusable = true;
        }
        break;
      default:
        break;
    }
  }
  if (unusable) s.unusable_labels.add();
  return r;
}

inline void Experiment::expire_pending() { state_->joins.sweep(); }

inline JoinCounters Experiment::join_counters() const {
  const State& s = *state_;
  const auto t = s.joins.tally();
  JoinCounters c;
  c.pending = t.pending;
  c.tracked = t.tracked;
  c.labels_joined = t.labels_joined;
  c.outcomes_joined = t.outcomes_joined;
  c.completed = t.completed;
  c.evicted = t.evicted;
  c.expired = t.expired;
  c.expired_unlabeled = t.expired_unlabeled;
  c.unmatched = t.unmatched;
  c.duplicate_joins = t.duplicate_joins;
  c.duplicate_ids = t.duplicate_ids;
  c.missing_ids = s.missing_ids.snapshot().n;
  c.unknown_variants = s.unknown_variants.snapshot().n;
  c.invalid_values = s.invalid_values.snapshot().n;
  c.unusable_labels = s.unusable_labels.snapshot().n;
  return c;
}

inline const Experiment::Options& Experiment::options() const noexcept { return state_->options; }

inline ExperimentReport Experiment::analyze() const {
  State& s = *state_;
  const Options& o = s.options;
  s.joins.sweep();
  ExperimentReport rep;
  rep.name = o.name;
  rep.control = o.control;
  rep.mode = o.mode;
  rep.confidence = o.confidence;
  rep.at = s.clock.now();
  const std::size_t n_arms = o.arms.size();
  const std::size_t n_metrics = s.metrics.size();

  // Read every shard once.
  std::vector<std::uint64_t> exposures(n_arms);
  std::vector<std::vector<detail::ArmMetricData>> data(n_metrics,
                                                       std::vector<detail::ArmMetricData>(n_arms));
  for (std::size_t a = 0; a < n_arms; ++a) {
    exposures[a] = s.arms[a]->exposures.snapshot().n;
    for (std::size_t m = 0; m < n_metrics; ++m) {
      const MetricSpec& spec = s.metrics[m].spec;
      const stats::RunningMoments rm = s.arms[a]->metrics[m].snapshot();
      detail::ArmMetricData& d = data[m][a];
      d.rate = detail::metric_is_rate(spec.kind);
      if (spec.kind == MetricKind::kBinary) {
        // A success is recorded after its exposure; a snapshot taken between the two shards' reads
        // may see it first, hence the clamp.
        d.counter = stats::ProportionCounter(std::min(rm.count(), exposures[a]), exposures[a]);
      } else if (spec.kind == MetricKind::kAccuracy) {
        const auto correct = static_cast<std::uint64_t>(std::llround(rm.sum()));
        d.counter = stats::ProportionCounter(std::min(correct, rm.count()), rm.count());
      } else {
        d.moments = rm;
        if (spec.missing_value && exposures[a] > rm.count()) {
          d.moments.merge(stats::RunningMoments::from_moments(exposures[a] - rm.count(),
                                                              *spec.missing_value, 0.0));
        }
      }
    }
  }

  // Arms and the sample-ratio check.
  double total_weight = 0.0;
  std::uint64_t total_exposures = 0;
  std::vector<double> weights(n_arms);
  for (std::size_t a = 0; a < n_arms; ++a) {
    weights[a] = o.arms[a].weight;
    total_weight += weights[a];
    total_exposures += exposures[a];
  }
  for (std::size_t a = 0; a < n_arms; ++a) {
    ArmReport ar;
    ar.variant = o.arms[a].variant;
    ar.weight = weights[a];
    ar.expected_share = weights[a] / total_weight;
    ar.exposures = exposures[a];
    ar.observed_share =
        total_exposures ? static_cast<double>(exposures[a]) / static_cast<double>(total_exposures)
                        : 0.0;
    rep.arms.push_back(std::move(ar));
  }
  rep.srm = stats::sample_ratio_mismatch(exposures, weights, o.srm_threshold);

  // Metrics.
  const double alpha = 1.0 - o.confidence;
  for (std::size_t m = 0; m < n_metrics; ++m) {
    const State::ResolvedMetric& rm = s.metrics[m];
    MetricReport mr;
    mr.name = rm.spec.name;
    mr.kind = rm.spec.kind;
    mr.primary = m == 0;
    mr.higher_is_better = rm.higher_is_better;
    mr.minimum_detectable_effect = rm.spec.minimum_detectable_effect;
    for (std::size_t a = 0; a < n_arms; ++a) {
      const detail::ArmMetricData& d = data[m][a];
      VariantMetric vm;
      vm.variant = o.arms[a].variant;
      vm.n = d.n();
      vm.mean = d.mean();
      if (d.rate) {
        vm.interval = d.counter.trials() >= 2 ? stats::wilson_interval(d.counter, o.confidence)
                                              : stats::IntervalEstimate{};
        if (d.counter.trials() < 2) {
          vm.interval.reason = "fewer than 2 observations";
          vm.interval.estimate = vm.mean;
          vm.interval.confidence = o.confidence;
        }
      } else {
        vm.interval = detail::mean_interval(d.moments, o.confidence);
      }
      mr.variants.push_back(std::move(vm));
    }
    std::optional<stats::SampleSizeResult> rate_plan;
    for (std::size_t a = 0; a < n_arms; ++a) {
      if (a == s.control) continue;
      MetricComparison c = detail::experiment_compare(rm.spec, rm.higher_is_better, data[m][a],
                                                      data[m][s.control], o, m == 0, rate_plan);
      c.variant = o.arms[a].variant;
      mr.comparisons.push_back(std::move(c));
    }
    // Holm across treatments on the primary metric; guardrails stay unadjusted (see the class).
    if (mr.primary && mr.comparisons.size() > 1) {
      std::vector<double> ps;
      std::vector<std::size_t> which;
      for (std::size_t i = 0; i < mr.comparisons.size(); ++i) {
        if (mr.comparisons[i].status == stats::StatStatus::kOk) {
          ps.push_back(mr.comparisons[i].p_value);
          which.push_back(i);
        }
      }
      if (!ps.empty()) {
        const stats::AdjustedPValues adj =
            stats::adjust_p_values(ps, stats::PValueAdjustment::kHolm, alpha);
        for (std::size_t j = 0; j < which.size(); ++j) {
          ps[j] = mr.comparisons[which[j]].always_valid_p_value;
        }
        const stats::AdjustedPValues adj_av =
            stats::adjust_p_values(ps, stats::PValueAdjustment::kHolm, alpha);
        for (std::size_t j = 0; j < which.size(); ++j) {
          if (adj.ok()) mr.comparisons[which[j]].adjusted_p_value = adj.p_values[j];
          if (adj_av.ok()) mr.comparisons[which[j]].always_valid_p_value = adj_av.p_values[j];
        }
      }
    }
    for (auto& c : mr.comparisons) {
      c.significant = c.status == stats::StatStatus::kOk && c.adjusted_p_value < alpha;
      const bool up = c.absolute_effect > 0.0, down = c.absolute_effect < 0.0;
      c.improvement = c.significant && (rm.higher_is_better ? up : down);
      c.regression = c.significant && (rm.higher_is_better ? down : up);
    }
    rep.metrics.push_back(std::move(mr));
  }

  rep.joins = join_counters();

  // The decision.
  ExperimentDecision& dec = rep.decision;
  dec.variant = o.control;
  auto describe = [&](const MetricComparison& c) {
    const bool rel = c.relative_status == stats::StatStatus::kOk;
    std::string out = c.metric + " " +
                      (rel ? detail::report_signed_percent(c.relative_effect)
                           : detail::report_fixed(c.absolute_effect, 4)) +
                      " (" + detail::report_fixed(o.confidence * 100.0, 0) + "% CI " +
                      (rel ? detail::report_interval_percent(c.relative_interval)
                           : "[" + detail::report_fixed(c.absolute_interval.lower, 4) + ", " +
                                 detail::report_fixed(c.absolute_interval.upper, 4) + "]") +
                      ", " + detail::report_p_value(c.adjusted_p_value) + ")";
    return out;
  };
  if (rep.srm.mismatch) {
    dec.kind = DecisionKind::kInvalid;
    std::string obs;
    for (std::size_t a = 0; a < n_arms; ++a) {
      obs += (a ? "/" : "") + std::to_string(exposures[a]);
    }
    std::string expect;
    for (std::size_t a = 0; a < n_arms; ++a) {
      expect += (a ? "/" : "") + detail::report_fixed(rep.arms[a].expected_share * 100.0, 1) + "%";
    }
    dec.reason = "sample ratio mismatch: exposures " + obs + " do not fit the weights " + expect +
                 " (chi-square " + detail::report_fixed(rep.srm.statistic, 2) + ", " +
                 detail::report_p_value(rep.srm.p_value) +
                 "); the assignment or the logging is broken, so no result can be trusted";
    return rep;
  }
  const MetricReport& primary = rep.metrics.front();
  const bool sequential = o.mode == AnalysisMode::kSequential;
  const MetricComparison* best = nullptr;
  std::vector<std::string> against;  // why each decided treatment is not shipped
  std::vector<std::string> waiting;  // why each undecided treatment waits
  std::uint64_t more = 0;
  for (std::size_t t = 0; t < primary.comparisons.size(); ++t) {
    const MetricComparison& pc = primary.comparisons[t];
    const MetricComparison* worse_guard = nullptr;
    const MetricComparison* blind_guard = nullptr;
    for (std::size_t g = 1; g < rep.metrics.size(); ++g) {
      const MetricComparison& gc = rep.metrics[g].comparisons[t];
      if (gc.regression && !worse_guard) worse_guard = &gc;
      if (gc.status != stats::StatStatus::kOk && !blind_guard) blind_guard = &gc;
    }
    const bool powered = pc.power_status == stats::StatStatus::kOk && pc.power >= o.power;
    // Before the planned size a fixed-horizon result may stop only if the always-valid test agrees.
    const bool at_horizon = sequential || powered || pc.always_valid_p_value < alpha;
    if (worse_guard) {
      against.push_back(pc.variant + ": guardrail " + describe(*worse_guard) + " is worse");
      continue;
    }
    if (pc.status == stats::StatStatus::kOk && at_horizon && pc.improvement && !blind_guard) {
      if (best == nullptr ||
          (primary.higher_is_better ? pc.relative_effect > best->relative_effect
                                    : pc.relative_effect < best->relative_effect)) {
        best = &pc;
      }
      continue;
    }
    if (pc.status == stats::StatStatus::kOk && at_horizon && pc.regression) {
      against.push_back(pc.variant + ": " + describe(pc) + " is worse");
      continue;
    }
    if (pc.status == stats::StatStatus::kOk && powered && !pc.significant) {
      against.push_back(pc.variant + ": no significant effect on " + describe(pc) +
                        " at the planned power");
      continue;
    }
    // Undecided.
    const std::uint64_t need = pc.more_samples_per_arm.value_or(0);
    std::string why;
    if (pc.status != stats::StatStatus::kOk) {
      why = pc.variant + ": " + primary.name + " cannot be compared yet (" + pc.reason + ")";
    } else if (pc.improvement && blind_guard) {
      why = pc.variant + ": " + describe(pc) + " but guardrail " + blind_guard->metric +
            " has no comparison yet (" + blind_guard->reason + ")";
    } else if (pc.significant) {
      why = pc.variant + ": " + describe(pc) +
            " before the planned sample size, and the always-valid test does not confirm it yet "
            "(" +
            detail::report_p_value(pc.always_valid_p_value) + ")";
    } else {
      why = pc.variant + ": " + describe(pc) + " is not significant yet";
    }
    more = std::max(more, need);
    waiting.push_back(std::move(why));
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "; " : "") + v[i];
    return out;
  };
  if (best != nullptr) {
    dec.kind = DecisionKind::kShipTreatment;
    dec.variant = best->variant;
    dec.reason = "ship " + best->variant + ": " + describe(*best) + " against " + o.control +
                 ", chance to beat control " +
                 detail::report_fixed(best->chance_to_beat_control * 100.0, 1) +
                 "%, no guardrail worse";
  } else if (waiting.empty()) {
    dec.kind = DecisionKind::kKeepControl;
    dec.reason = "keep " + o.control + ": " + join(against);
  } else {
    dec.kind = DecisionKind::kNeedMoreData;
    dec.more_samples_per_arm = more;
    dec.reason = (more ? "need about " + std::to_string(more) + " more samples per arm: "
                       : std::string("need more data: ")) +
                 join(waiting);
  }
  return rep;
}

// ---- the report's views -------------------------------------------------------------------------

inline const MetricReport& ExperimentReport::primary() const {
  if (metrics.empty()) throw NotFound("experiment '" + name + "' report has no metrics");
  return metrics.front();
}

inline const MetricReport& ExperimentReport::metric(std::string_view metric_name) const {
  for (const auto& m : metrics) {
    if (m.name == metric_name) return m;
  }
  throw NotFound("experiment '" + name + "' report has no metric '" + std::string(metric_name) +
                 "'");
}

inline std::string ExperimentReport::to_json() const {
  using detail::report_json_interval;
  using detail::report_json_number;
  using detail::json_quote;
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  auto u = [](std::uint64_t v) { return std::to_string(v); };
  std::string out = "{";
  out += "\"name\": " + json_quote(name);
  out += ", \"control\": " + json_quote(control);
  out += ", \"mode\": " +
         json_quote(mode == AnalysisMode::kSequential ? "sequential" : "fixed_horizon");
  out += ", \"confidence\": " + report_json_number(confidence);
  out += ", \"at_unix_ns\": " + std::to_string(to_unix_nanos(at));
  out += ", \"arms\": [";
  for (std::size_t i = 0; i < arms.size(); ++i) {
    const ArmReport& a = arms[i];
    out += (i ? ", " : "") + std::string("{\"variant\": ") + json_quote(a.variant) +
           ", \"weight\": " + report_json_number(a.weight) +
           ", \"expected_share\": " + report_json_number(a.expected_share) +
           ", \"exposures\": " + u(a.exposures) +
           ", \"observed_share\": " + report_json_number(a.observed_share) + "}";
  }
  out += "], \"srm\": {\"status\": " + json_quote(stats::to_string(srm.status)) +
         ", \"chi_square\": " + report_json_number(srm.statistic) +
         ", \"df\": " + report_json_number(srm.df) +
         ", \"p_value\": " + report_json_number(srm.p_value) +
         ", \"threshold\": " + report_json_number(srm.threshold) +
         ", \"mismatch\": " + b(srm.mismatch) + "}";
  out += ", \"metrics\": [";
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const MetricReport& m = metrics[i];
    out += (i ? ", " : "") + std::string("{\"name\": ") + json_quote(m.name) +
           ", \"kind\": " + json_quote(switchyard::to_string(m.kind)) +
           ", \"role\": " + json_quote(m.primary ? "primary" : "guardrail") +
           ", \"higher_is_better\": " + b(m.higher_is_better) +
           ", \"minimum_detectable_effect\": " + report_json_number(m.minimum_detectable_effect) +
           ", \"variants\": [";
    for (std::size_t j = 0; j < m.variants.size(); ++j) {
      const VariantMetric& v = m.variants[j];
      out += (j ? ", " : "") + std::string("{\"variant\": ") + json_quote(v.variant) +
             ", \"n\": " + u(v.n) + ", \"mean\": " + report_json_number(v.mean) +
             ", \"interval\": " +
             (v.interval.ok() ? report_json_interval(v.interval.interval) : "null") + "}";
    }
    out += "], \"comparisons\": [";
    for (std::size_t j = 0; j < m.comparisons.size(); ++j) {
      const MetricComparison& c = m.comparisons[j];
      const bool ok = c.status == stats::StatStatus::kOk;
      const bool rel = c.relative_status == stats::StatStatus::kOk;
      out +=
          (j ? ", " : "") + std::string("{\"variant\": ") + json_quote(c.variant) +
          ", \"status\": " + json_quote(stats::to_string(c.status)) +
          ", \"reason\": " + json_quote(c.reason) +
          ", \"control_mean\": " + report_json_number(c.control_mean) +
          ", \"treatment_mean\": " + report_json_number(c.treatment_mean) +
          ", \"absolute_effect\": " + (ok ? report_json_number(c.absolute_effect) : "null") +
          ", \"absolute_interval\": " + (ok ? report_json_interval(c.absolute_interval) : "null") +
          ", \"relative_effect\": " + (rel ? report_json_number(c.relative_effect) : "null") +
          ", \"relative_interval\": " + (rel ? report_json_interval(c.relative_interval) : "null") +
          ", \"p_value\": " + report_json_number(c.p_value) +
          ", \"adjusted_p_value\": " + report_json_number(c.adjusted_p_value) +
          ", \"always_valid_p_value\": " + report_json_number(c.always_valid_p_value) +
          ", \"significant\": " + b(c.significant) + ", \"improvement\": " + b(c.improvement) +
          ", \"regression\": " + b(c.regression) +
          ", \"chance_to_beat_control\": " + report_json_number(c.chance_to_beat_control) +
          ", \"power\": " +
          (c.power_status == stats::StatStatus::kOk ? report_json_number(c.power) : "null") +
          ", \"more_samples_per_arm\": " +
          (c.more_samples_per_arm ? u(*c.more_samples_per_arm) : "null") + "}";
    }
    out += "]}";
  }
  const JoinCounters& j = joins;
  out += "], \"joins\": {\"pending\": " + u(j.pending) + ", \"tracked\": " + u(j.tracked) +
         ", \"labels_joined\": " + u(j.labels_joined) +
         ", \"outcomes_joined\": " + u(j.outcomes_joined) + ", \"completed\": " + u(j.completed) +
         ", \"evicted\": " + u(j.evicted) + ", \"expired\": " + u(j.expired) +
         ", \"expired_unlabeled\": " + u(j.expired_unlabeled) +
         ", \"unmatched\": " + u(j.unmatched) + ", \"duplicate_joins\": " + u(j.duplicate_joins) +
         ", \"duplicate_ids\": " + u(j.duplicate_ids) + ", \"missing_ids\": " + u(j.missing_ids) +
         ", \"unknown_variants\": " + u(j.unknown_variants) +
         ", \"invalid_values\": " + u(j.invalid_values) +
         ", \"unusable_labels\": " + u(j.unusable_labels) + "}";
  out += ", \"decision\": {\"kind\": " + json_quote(switchyard::to_string(decision.kind)) +
         ", \"variant\": " + json_quote(decision.variant) +
         ", \"more_samples_per_arm\": " + u(decision.more_samples_per_arm) +
         ", \"reason\": " + json_quote(decision.reason) + "}}";
  return out;
}

inline std::string ExperimentReport::to_string() const {
  using detail::report_fixed;
  using detail::report_pad;
  using detail::report_signed_percent;
  const std::string level = report_fixed(confidence * 100.0, 0) + "%";
  std::string out = "Experiment " + name + ": " +
                    (mode == AnalysisMode::kSequential ? "sequential" : "fixed horizon") + ", " +
                    level + " confidence, control arm '" + control + "'\n\n";
  std::size_t w = 8;
  for (const auto& a : arms) w = std::max(w, a.variant.size() + 2);
  out += "  " + report_pad("variant", w) + report_pad("weight", 9, false) +
         report_pad("exposures", 12, false) + report_pad("observed", 10, false) + "\n";
  for (const auto& a : arms) {
    out += "  " + report_pad(a.variant, w) +
           report_pad(report_fixed(a.expected_share * 100.0, 1) + "%", 9, false) +
           report_pad(std::to_string(a.exposures), 12, false) +
           report_pad(report_fixed(a.observed_share * 100.0, 1) + "%", 10, false) + "\n";
  }
  out += "  sample ratio: ";
  if (srm.ok()) {
    out += "chi-square " + report_fixed(srm.statistic, 2) + ", " +
           detail::report_p_value(srm.p_value) + (srm.mismatch ? "  MISMATCH" : "  ok") + "\n";
  } else {
    out += "not checked (" + srm.reason + ")\n";
  }
  for (const auto& m : metrics) {
    out += "\n" + std::string(m.primary ? "Primary" : "Guardrail") + " " + m.name + " (" +
           std::string(switchyard::to_string(m.kind)) + ", " +
           (m.higher_is_better ? "higher" : "lower") + " is better)\n";
    out += "  " + report_pad("variant", w) + report_pad("n", 10, false) +
           report_pad("mean", 12, false) + "  " + level + " interval\n";
    constexpr int dec = 4;
    for (const auto& v : m.variants) {
      out += "  " + report_pad(v.variant, w) + report_pad(std::to_string(v.n), 10, false) +
             report_pad(report_fixed(v.mean, dec), 12, false) + "  " +
             (v.interval.ok() ? "[" + report_fixed(v.interval.interval.lower, dec) + ", " +
                                    report_fixed(v.interval.interval.upper, dec) + "]"
                              : std::string("-")) +
             "\n";
    }
    for (const auto& c : m.comparisons) {
      out += "  " + c.variant + " vs " + control + ": ";
      if (c.status != stats::StatStatus::kOk) {
        out += "not computed (" + c.reason + ")\n";
        continue;
      }
      if (c.relative_status == stats::StatStatus::kOk) {
        out += report_signed_percent(c.relative_effect) + " " +
               detail::report_interval_percent(c.relative_interval) + ", ";
      }
      out += "abs " + report_fixed(c.absolute_effect, 4) + " [" +
             report_fixed(c.absolute_interval.lower, 4) + ", " +
             report_fixed(c.absolute_interval.upper, 4) + "], " + detail::report_p_value(c.p_value);
      if (c.adjusted_p_value != c.p_value) {
        out += " (Holm " + detail::report_p_value(c.adjusted_p_value).substr(2) + ")";
      }
      out += ", P(beat control) " + report_fixed(c.chance_to_beat_control * 100.0, 1) + "%";
      if (c.power_status == stats::StatStatus::kOk) {
        out += ", power " + report_fixed(c.power * 100.0, 0) + "%";
        if (c.more_samples_per_arm.value_or(0) > 0) {
          out += ", needs +" + std::to_string(*c.more_samples_per_arm) + "/arm";
        }
      }
      out += c.improvement ? "  BETTER" : (c.regression ? "  WORSE" : "");
      out += "\n";
    }
  }
  const JoinCounters& j = joins;
  out += "\nJoins: pending " + std::to_string(j.pending) + ", labels " +
         std::to_string(j.labels_joined) + ", outcomes " + std::to_string(j.outcomes_joined) +
         ", evicted " + std::to_string(j.evicted) + ", expired " + std::to_string(j.expired) +
         " (" + std::to_string(j.expired_unlabeled) + " never labelled), unmatched " +
         std::to_string(j.unmatched) + "\n";
  out += "\nDecision: " + std::string(switchyard::to_string(decision.kind)) + ": " +
         decision.reason + "\n";
  return out;
}

}  // namespace switchyard
