// SPDX-License-Identifier: Apache-2.0
// Deployment: the facade a host calls per request for one model name (route, predict, record).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/attribute.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/core/request_observer.hpp>
#include <switchyard/core/status.hpp>
#include <switchyard/detail/snapshot_cell.hpp>
#include <switchyard/detail/tick_clock.hpp>
#include <switchyard/monitoring/variant_stats.hpp>
#include <switchyard/serving/traffic_router.hpp>

namespace switchyard {

/// One request. Everything is a view over the caller's memory, valid for the call.
struct PredictRequest {
  std::string_view key{};                    ///< sticky routing key (user id, session id)
  ModelInput input{};                        ///< features; checked against the signature
  std::optional<std::int64_t> version{};     ///< pin a version (must be loaded in the table)
  std::span<const Attribute> attributes{};   ///< for segment rules and observers
  std::string_view request_id{};             ///< echoed in events, for joining outcomes later
};

/// The answer, and which model served it (seed 002: "track which model served each prediction").
struct PredictResponse {
  Prediction prediction;
  std::string_view model;       ///< interned; valid as long as the Deployment
  std::int64_t version = 0;     ///< the version that produced `prediction`
  std::string_view variant;     ///< interned arm name ("control", "canary", "pinned", ...)
  RouteReason reason = RouteReason::kWeighted;
  bool fell_back = false;       ///< the routed version failed and the fallback arm answered
  std::int64_t failed_version = 0;  ///< the version that failed, when fell_back
};

/// The request path for one model name: route (pinned, override, segment, weighted), check the
/// input against the signature, call the model, fall back to the stable arm if it throws, record
/// latency, outcome, confidence and class per version, then tell the observers (shadow, drift).
///
/// predict() takes no lock and writes no cache line shared with other request threads (see
/// TrafficRouter and VersionStats). With no prediction slot connected it emits nothing; with no
/// observer attached it pays one predictable branch for them.
///
/// Bind it to a ModelRegistry (RegistryBinding) and it follows the registry: a transition, alias
/// move or rollback there republishes its table.
///
/// Thread-safe: every member may be called concurrently. Neither copyable nor movable.
///
/// @code
/// switchyard::Deployment fraud({.model = "fraud-detection", .source = &registry});
/// fraud.router().set_policy(policy);
/// auto r = fraud.predict({.key = user_id, .input = switchyard::TensorView(features, {1, 8})});
/// if (r.ok()) use(r->prediction, r->version);
/// @endcode
class Deployment {
 public:
  struct Options {
    std::string model{};           ///< model name
    ModelSource* source = nullptr; ///< required; must outlive the deployment
    /// Optional. prediction_served is emitted on it (only when wanted), and it receives what a
    /// slot of metrics_published throws.
    EventHub* events = nullptr;
    /// Check each request's input against the model's signature (MLflow rules) before calling it.
    bool check_signatures = true;
    /// Retired versions whose statistics are kept; see TrafficRouter::Options::retired_stats.
    std::size_t retired_stats = 16;
  };

  SWITCHYARD_API explicit Deployment(Options options);
  Deployment(const Deployment&) = delete;
  Deployment& operator=(const Deployment&) = delete;

  /// Serves one request. Errors are values: kNotFound (pinned version not loaded),
  /// kNoActiveModel (no policy), kInvalidArgument (input fails the signature), kModelFailed (the
  /// model threw and no fallback could answer). Failed requests are reported too: on
  /// prediction_served with ok = false, and to observers. Never throws.
  SWITCHYARD_API StatusOr<PredictResponse> predict(const PredictRequest& request) noexcept;

  TrafficRouter& router() noexcept { return router_; }
  const TrafficRouter& router() const noexcept { return router_; }
  std::string_view model() const noexcept { return router_.model(); }

  /// Attaches an observer: every later request, answered or failed, is handed to it after the
  /// answer is final (see RequestObserver). The deployment shares ownership, so an observer stays
  /// alive while a request thread may still call it. Throws InvalidArgument for null.
  SWITCHYARD_API void add_observer(std::shared_ptr<RequestObserver> observer);
  /// Detaches an observer; requests that start after this returns no longer call it (one already
  /// running may finish its call). Returns false when it was not attached.
  SWITCHYARD_API bool remove_observer(const RequestObserver* observer);
  /// Exceptions that escaped an observer's on_request() and were swallowed, since construction.
  std::uint64_t observer_errors() const noexcept {
    return observer_errors_.load(std::memory_order_relaxed);
  }

  /// Records a ground-truth outcome for a prediction `version` made (accuracy in reports).
  /// Ignored for a version the router keeps no statistics for (see
  /// TrafficRouter::Options::retired_stats).
  SWITCHYARD_API void record_outcome(std::int64_t version, bool correct);
  /// Cumulative statistics of every version this deployment serves, and of the recently retired
  /// ones the router still keeps.
  SWITCHYARD_API std::vector<VariantStats> stats() const;
  /// stats() with the model name: the row that prometheus_text() and metrics_json() read.
  SWITCHYARD_API ModelStats model_stats() const;
  /// Statistics since the last reset_window().
  SWITCHYARD_API std::vector<VariantStats> window() const;
  /// Starts a new window for every version; returns the one that ended and emits each version's
  /// window on metrics_published.
  SWITCHYARD_API std::vector<VariantStats> reset_window();

  /// Per version at the end of each statistics window (reset_window()); off the request path.
  /// A slot that throws is reported to Options::events' error handler (ignored without a hub).
  EventHub::Signal<MetricsEvent> metrics_published;

 private:
  enum class Read { kCumulative, kWindow, kResetWindow };
  using Observers = std::vector<std::shared_ptr<RequestObserver>>;
  std::vector<VariantStats> collect(Read mode) const;
  // The cold paths of predict(), out of its body so the answered path stays short: a failed
  // request reported and turned into its status; an answer reported to whoever listens.
  ObservedRequest observed(const PredictRequest& request) const noexcept;
  Status fail(const PredictRequest& request, std::int64_t version, std::string_view variant,
              ErrorCode code, std::string message) noexcept;
  void report_answer(const PredictRequest& request, const PredictResponse& response,
                     std::uint64_t latency_ns) noexcept;
  // Reports a finished request (answered or failed) to the prediction slot and the observers.
  void report(const PredictRequest& request, const ObservedRequest& seen) noexcept;
  void notify_observers(const ObservedRequest& seen) noexcept;

  TrafficRouter router_;
  detail::TickClock ticks_;  // latency clock, calibrated once per process
  EventHub* events_;
  bool check_signatures_;
  std::atomic<bool> has_observers_{false};
  std::atomic<std::uint64_t> observer_errors_{0};
  detail::Mutex observers_mu_;  // serialises add/remove; readers use the cell
  detail::SnapshotCell<Observers> observers_;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/serving/deployment-inl.hpp>
#endif
