// SPDX-License-Identifier: Apache-2.0
// RestApi: seed 002's model-versioning API over Switchyard, as a component any HTTP server mounts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/serving/registry_follower.hpp>

namespace switchyard {
class RegistryStore;
}  // namespace switchyard

namespace switchyard::server {

/// One HTTP request as the routes read it. Views over the caller's memory, valid for the call.
/// Thread-safety: a value type.
struct HttpRequest {
  std::string_view method;  ///< "GET", "POST", ...
  std::string_view target;  ///< path and query, e.g. "/models?status=active"
  /// Header fields as received (names compared case-insensitively).
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::string_view body;

  /// The value of header `name` (case-insensitive), empty when absent.
  std::string_view header(std::string_view name) const noexcept;
};

/// The answer: a status and a body (JSON unless content_type says otherwise).
/// Thread-safety: a value type.
struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra fields (WWW-Authenticate)
};

/// Seed 002's REST API (register, list, predict with A/B routing, activate, performance) and the
/// serving endpoints around it (health, readiness, Prometheus metrics, stage transitions with
/// gate reports, rollback, feedback), over a ModelRegistry on SQLite in a data directory, one
/// Deployment per model name, and the sentiment models it trains at construction (see
/// docs/server.md for every route, its body and its errors).
///
/// It owns no socket: handle() maps a request to a response, so a host mounts it in its own
/// HTTP server and tests call it directly. Errors are JSON bodies {"error": message, "field":
/// name or null}: 400 bad input, 401 missing or wrong token, 404 unknown model or version, 405,
/// 409 illegal transition or duplicate, 413 oversized body, 503 no active model or the registry
/// store unreachable (reads and predictions keep being served from the snapshot).
///
/// Thread-safe: handle() may be called from any number of threads at once. Predictions take no
/// lock; control-plane calls (register, activate, transition, rollback) are serialised.
/// Neither copyable nor movable.
class RestApi {
 public:
  struct Options {
    std::filesystem::path data_dir;  ///< required: registry.db, artifacts/, traffic.json, audit.log
    /// When not empty, register, activate, transition and rollback need
    /// "Authorization: Bearer <token>" (compared in constant time); reads and predict stay open.
    std::string token{};
    /// Bodies longer than this get 413 (the HTTP server should stop reading at the same limit).
    std::size_t max_body_bytes = std::size_t{1} << 20;
    /// Labelled sentences to train the sentiment models on ("positive|negative<TAB>text" lines);
    /// empty: the set compiled into the server.
    std::string training_set{};
    /// Predictions remembered for POST /feedback (oldest forgotten first).
    std::size_t feedback_capacity = 100'000;
    /// Time of the registry, the shadows, the canary rollouts and the drift windows. Null: the
    /// system clock. Tests pass a ManualClock. Must outlive the RestApi.
    const Clock* clock = nullptr;
    /// Length of the drift windows of GET /models/{name}/drift (on `clock`). Default 1 minute.
    std::chrono::seconds drift_window{60};
    /// Log every prediction to SQLite (`predictions.db` in data_dir) in batches written by a
    /// background thread; POST /feedback fills in its label. Default off.
    bool prediction_log = false;
    /// The registry's store. Null: SQLite in data_dir (registry.db). Otherwise the caller's
    /// (a PostgresRegistryStore shared by a fleet), which must outlive the RestApi.
    RegistryStore* store = nullptr;
    /// When set, a RegistryFollower keeps the registry in step with other writers of `store`,
    /// waking on this (PostgresRegistryStore::wait_for_change) and otherwise checking every
    /// 100 ms; GET /health reports its status. Empty: no follower.
    std::function<bool(std::chrono::milliseconds)> follow_store{};
    /// Where GET /health reads the registry's freshness instead of the follower's status()
    /// (a host running its own follower, or a test's fake). Empty: the follower's, if any.
    std::function<FollowerStatus()> registry_status{};
    /// GET /health says "degraded" (still 200: the process serves from its last snapshot) while
    /// the last attempt did not reach the store or the staleness exceeds this. Default 30 s.
    std::chrono::milliseconds max_staleness{30'000};
  };

  /// Opens (or creates) the registry in options.data_dir, trains the models, and restores the
  /// traffic split saved there. Throws switchyard::Error (InvalidArgument for a bad training set
  /// or options, StorageError / CorruptStore for an unusable data directory).
  explicit RestApi(Options options);
  ~RestApi();
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  /// Serves one request. Never throws.
  HttpResponse handle(const HttpRequest& request) noexcept;

  /// Evaluates every live canary rollout whose plan interval has passed on Options::clock
  /// (advance, hold, pause, promote or roll back). Call it about once a second; switchyard-server
  /// does, on a timer. Cheap when nothing is due. Never throws (a failed evaluation is retried on
  /// the next call). Thread-safe.
  void tick() noexcept;

  /// The registry's freshness as GET /health reports it: Options::registry_status, else the
  /// follower's status; nullopt without either. Thread-safe.
  std::optional<FollowerStatus> registry_status() const;

  /// Training accuracy of the two sentiment models (small, full), for the startup log.
  std::pair<double, double> training_accuracy() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace switchyard::server
