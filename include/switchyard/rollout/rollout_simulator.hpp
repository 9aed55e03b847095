// SPDX-License-Identifier: Apache-2.0
// RolloutSimulator: simulated traffic on a manual clock through a real Deployment, to tune plans.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model_source.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/routing_policy.hpp>

namespace switchyard {

namespace detail::simulator {
struct Behaviour;  // a version's current behaviour, shared with its simulated model
}  // namespace detail::simulator

/// How one simulated version behaves. Thread-safety: a value type.
struct SimulatedVersion {
  std::int64_t version = 0;  ///< registry version number (> 0, distinct)
  std::string arm;           ///< its arm in the routing policy; empty: "stable" for the first
                             ///< version, "canary" for the second, "canary-<version>" after
  double error_rate = 0.001;  ///< fraction of requests on which the model fails, in [0, 1]
  /// Latency is lognormal through these two points (median < p99).
  Duration latency_median = std::chrono::milliseconds(20);
  Duration latency_p99 = std::chrono::milliseconds(60);
  double accuracy = 0.9;           ///< fraction of labelled answers that are correct, in [0, 1]
  double labelled_fraction = 1.0;  ///< fraction of answers that ever get a label, in [0, 1]
  Duration label_delay = std::chrono::minutes(5);  ///< from the answer to its label (>= 0)
};

/// A change to one version's behaviour from a simulated time on (a bad deploy, a dependency
/// slowing down). Fields left unset keep their value. Thread-safety: a value type.
struct SimulatedRegression {
  std::int64_t version = 0;
  Duration at{};                       ///< since the simulation's start (>= 0)
  std::optional<double> error_rate{};  ///< the new error rate
  double latency_factor = 1.0;         ///< multiplies the median and the p99 (> 0)
  double accuracy_change = 0.0;        ///< added to the accuracy (e.g. -0.03), clamped to [0, 1]
};

/// How requests are simulated.
enum class SimulationMode : std::uint8_t {
  /// Per stretch of simulated time (between callbacks and regressions, when nothing changes),
  /// draw what the requests would have produced from the configured distributions: the split
  /// over versions (multinomial, by the router's current shares), errors (binomial), the latency
  /// histogram (multinomial over its buckets, from the lognormal's CDF), a latency sample only as
  /// large as CanaryMetrics keeps, and label counts (binomial, delivered by their delay). Cost per
  /// stretch is a few hundred draws per version, independent of the request rate, so 24 hours at
  /// 1,000 requests per second run in well under a second. No model is called: the Deployment
  /// carries the weights, CanaryMetrics records the batches (record_batch, record_labels).
  kAggregate,
  /// Every request goes through Deployment::predict() (routing by a unique key, the simulated
  /// model failing by throwing, fallback to the stable arm), CanaryMetrics attached as the
  /// deployment's observer, labels joined by request id after their delay. About 0.7 million
  /// requests per second of wall time (measured on a loaded 2-core machine): for short spans
  /// and for checking the aggregate mode.
  kPerRequest,
};

/// What the interval callback asks for.
enum class SimulationAction : std::uint8_t { kContinue, kStop };

/// One arm's share when an event happened.
struct ArmShare {
  std::string arm;
  std::int64_t version = 0;
  double share = 0.0;  ///< fraction of the weighted split, in [0, 1]
};

/// One line of the timeline: when (since the start), what happened, and the weights then.
struct TimelineEvent {
  Duration at{};
  std::string what;
  std::vector<ArmShare> weights;
};

/// What run() did. Thread-safety: a value type.
struct SimulationResult {
  Duration elapsed{};          ///< simulated time covered
  bool stopped_early = false;  ///< the callback returned kStop before Options::duration
  std::uint64_t requests = 0;  ///< simulated requests
  std::vector<TimelineEvent> timeline;
};

/// "01:05:00" (hours may exceed 24) or "00:00:00.250" below a second's resolution.
SWITCHYARD_API std::string format_sim_time(Duration at);
/// The timeline as text, one event per line: time, what happened, the weights
/// ("stable 95% (v1), canary 5% (v2)").
SWITCHYARD_API std::string format_timeline(const std::vector<TimelineEvent>& timeline);

/// Simulated traffic for tuning a rollout plan before production: a ManualClock, a real
/// Deployment (its TrafficRouter holds the weights a controller sets), real Model objects whose
/// behaviour (errors, latency, accuracy, label delay, regressions at chosen times) comes from
/// SimulatedVersion, and a CanaryMetrics that a controller reads. Every `interval` of simulated
/// time it calls the host's callback (where a controller evaluates and moves weights); the
/// callback can stop the run. Deterministic per seed: the same options give the same figures
/// and timeline on the same standard library (draws use Boost.Random's distributions over
/// std::mt19937_64 and SplitMix64 hashes, which are portable).
///
/// Latency: a Deployment times the model call with its tick clock, which simulated time cannot
/// move, so the simulator decides latencies itself. In kPerRequest mode it attaches CanaryMetrics
/// through a small observer that hands it each request with the simulated latency of the version
/// that answered (the Deployment's own VersionStats keep the real, tiny call times); in
/// kAggregate mode it records batches. Either way CanaryMetrics holds what the models would
/// have taken.
///
/// Thread-safety: run() on one thread; the callback runs on that thread and may use every
/// member (deployment(), metrics(), note()). Other threads may call deployment() and metrics()
/// members, which are thread-safe. Neither copyable nor movable.
///
/// @code
/// switchyard::RolloutSimulator sim({.versions = {{.version = 1}, {.version = 2, .error_rate = 0.01}},
///                                   .duration = std::chrono::hours(24)});
/// auto result = sim.run([&](switchyard::RolloutSimulator& s) {
///   auto w = s.metrics().roll_window();
///   if (w.find(2)->error_rate() > 0.005) {
///     s.deployment().router().set_weights({{"canary", 0}, {"stable", 100}});
///     s.note("rolled back");
///     return switchyard::SimulationAction::kStop;
///   }
///   return switchyard::SimulationAction::kContinue;
/// });
/// std::cout << switchyard::format_timeline(result.timeline);
/// @endcode
class RolloutSimulator {
 public:
  struct Options {
    std::string model = "simulated-model";  ///< the Deployment's model name
    /// The versions served; the first is the stable one. At least one.
    std::vector<SimulatedVersion> versions{};
    /// The initial routing policy. Empty (no variants): every version an arm named as in
    /// SimulatedVersion::arm, the first at weight 100 and the others at 0, percent weights, the
    /// first the fallback arm, sticky routing.
    RoutingPolicy policy{};
    double requests_per_second = 1000.0;  ///< > 0
    Duration duration = std::chrono::hours(24);   ///< > 0
    Duration interval = std::chrono::minutes(1);  ///< between callbacks (> 0)
    std::vector<SimulatedRegression> regressions{};
    SimulationMode mode = SimulationMode::kAggregate;
    std::uint64_t seed = 1;
    /// CanaryMetrics options: latency sample per version and window, host metric names.
    std::size_t latency_sample = 2000;
    std::vector<std::string> metrics{};
    /// Where simulated time starts.
    TimePoint start = from_unix_nanos(1'700'000'000'000'000'000);
  };
  using Callback = std::function<SimulationAction(RolloutSimulator&)>;

  /// Builds the models, the Deployment (policy applied) and the CanaryMetrics. Throws
  /// InvalidArgument naming the field (versions, rates outside [0, 1], median >= p99, a
  /// regression of an unknown version, non-positive rate or durations), or what set_policy throws.
  SWITCHYARD_API explicit RolloutSimulator(Options options);
  SWITCHYARD_API ~RolloutSimulator();
  RolloutSimulator(const RolloutSimulator&) = delete;
  RolloutSimulator& operator=(const RolloutSimulator&) = delete;

  /// Simulates from the current simulated time to Options::duration, calling `on_interval` at
  /// every multiple of Options::interval (an empty callback: none). After a stop, a second call
  /// continues from there; after the full duration it returns at once. The result's timeline is
  /// every event since construction. What the callback throws propagates (the simulation stays
  /// at the callback's time and can be continued).
  SWITCHYARD_API SimulationResult run(const Callback& on_interval = {});

  ManualClock& clock() noexcept { return clock_; }
  Deployment& deployment() noexcept { return *deployment_; }
  CanaryMetrics& metrics() noexcept { return *metrics_; }
  std::shared_ptr<CanaryMetrics> shared_metrics() const noexcept { return metrics_; }
  /// Simulated time since the start.
  Duration elapsed() const noexcept { return clock_.now() - start_; }
  /// Requests simulated so far.
  std::uint64_t requests() const noexcept { return requests_; }
  /// Adds an event at the current simulated time with the current weights (a controller's
  /// decision, a manual action).
  SWITCHYARD_API void note(std::string what);
  /// The events so far.
  const std::vector<TimelineEvent>& timeline() const noexcept { return timeline_; }
  /// The arms' current shares, from the deployment's routing table.
  SWITCHYARD_API std::vector<ArmShare> weights() const;

 private:
  struct Engine;  // the running state: random generators, pending labels, next callback
  void apply_due_regressions(Duration until);
  void simulate_aggregate(Duration from, Duration to);
  void simulate_per_request(Duration from, Duration to);
  void deliver_labels(Duration until);

  Options options_;
  ManualClock clock_;
  TimePoint start_;
  StaticModelSource source_;
  std::vector<std::shared_ptr<detail::simulator::Behaviour>> behaviour_;  // in Options order
  std::unique_ptr<Deployment> deployment_;
  std::shared_ptr<CanaryMetrics> metrics_;
  std::shared_ptr<RequestObserver> latency_overlay_;  // kPerRequest: CanaryMetrics with sim latency
  std::unique_ptr<Engine> engine_;
  std::vector<TimelineEvent> timeline_;
  std::vector<bool> regression_applied_;
  std::uint64_t requests_ = 0;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/rollout_simulator-inl.hpp>
#endif
