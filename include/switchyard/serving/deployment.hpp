// SPDX-License-Identifier: Apache-2.0
// Deployment: the facade a host calls per request for one model name (route, predict, record).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/core/status.hpp>
#include <switchyard/detail/tick_clock.hpp>
#include <switchyard/monitoring/version_stats.hpp>
#include <switchyard/serving/traffic_router.hpp>

namespace switchyard {

/// One request. Everything is a view over the caller's memory, valid for the call.
struct PredictRequest {
  std::string_view key{};                    ///< sticky routing key (user id, session id)
  ModelInput input{};                        ///< features; checked against the signature
  std::optional<std::int64_t> version{};     ///< pin a version (must be loaded in the table)
  std::span<const Attribute> attributes{};   ///< for segment rules
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

/// Per-version statistics with the arm it currently holds in the table.
struct VariantStats {
  std::int64_t version = 0;
  std::string variant;   ///< current arm name, empty when the version left the table
  double share = 0.0;    ///< current share of the weighted split
  VersionStatsSnapshot stats;
};

/// The request path for one model name: route (pinned, override, segment, weighted), check the
/// input against the signature, call the model, fall back to the stable arm if it throws, and
/// record latency, outcome, confidence and class per version.
///
/// predict() takes no lock and writes no cache line shared with other request threads (see
/// TrafficRouter and VersionStats); with no prediction slot connected it emits nothing.
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
    EventHub* events = nullptr;    ///< optional; prediction_served is emitted only when wanted
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
  /// model threw and no fallback could answer). Never throws.
  SWITCHYARD_API StatusOr<PredictResponse> predict(const PredictRequest& request) noexcept;

  TrafficRouter& router() noexcept { return router_; }
  const TrafficRouter& router() const noexcept { return router_; }
  std::string_view model() const noexcept { return router_.model(); }

  /// Records a ground-truth outcome for a prediction `version` made (accuracy in reports).
  /// Ignored for a version the router keeps no statistics for (see
  /// TrafficRouter::Options::retired_stats).
  SWITCHYARD_API void record_outcome(std::int64_t version, bool correct);
  /// Cumulative statistics of every version this deployment serves, and of the recently retired
  /// ones the router still keeps.
  SWITCHYARD_API std::vector<VariantStats> stats() const;
  /// Statistics since the last reset_window().
  SWITCHYARD_API std::vector<VariantStats> window() const;
  /// Starts a new window for every version; returns the one that ended and emits it on
  /// EventHub::metrics_published when a hub was given.
  SWITCHYARD_API std::vector<VariantStats> reset_window();

 private:
  enum class Read { kCumulative, kWindow, kResetWindow };
  std::vector<VariantStats> collect(Read mode) const;

  TrafficRouter router_;
  detail::TickClock ticks_;  // latency clock, calibrated once per process
  EventHub* events_;
  bool check_signatures_;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/serving/deployment-inl.hpp>
#endif
