// SPDX-License-Identifier: Apache-2.0
// ShadowPredictor: mirrors sampled live requests to candidate versions off the request path.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/core/model_source.hpp>
#include <switchyard/core/request_observer.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/snapshot_cell.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>
#include <switchyard/serving/bucketing.hpp>
#include <switchyard/shadow/detail/bounded_ring.hpp>
#include <switchyard/shadow/shadow_report.hpp>

namespace switchyard {

/// One shadow version: which model, how much traffic it sees and for how long.
struct ShadowVersionOptions {
  std::string model;                 ///< name in the ModelSource (and in reports)
  std::int64_t version = 0;          ///< version in the ModelSource
  double share = 1.0;                ///< fraction of requests mirrored, in [0, 1]
  ShadowSampling sampling = ShadowSampling::kSticky;
  /// Mirroring ends this long after add_shadow() on the predictor's clock; none: until removed.
  std::optional<Duration> duration{};
  /// Salt of the sticky hash; empty: "shadow/<model>/<version>", so each version samples its own
  /// independent set of keys.
  std::string salt{};
};

namespace detail::shadow {

/// The most shadow versions one predictor carries (a job keeps a fixed array of them).
inline constexpr std::size_t kMaxShadows = 8;

/// One shadow version's model, sampling rule and counters. Alive while the predictor lists it or
/// a queued job names it. Thread-safe: counters are atomics, comparisons are under `mu`.
struct Arm {
  ShadowVersionOptions options;
  ModelPtr model;
  bucketing::HashSalt salt;
  std::uint64_t share_threshold = 0;  ///< sampled when a 64-bit hash is below it
  std::int64_t expires_at_ns = 0;     ///< 0: never
  std::atomic<bool> removed{false};

  std::atomic<std::uint64_t> dropped_queue_full{0};
  std::atomic<std::uint64_t> dropped_over_budget{0};
  std::atomic<std::uint64_t> dropped_stopped{0};
  std::atomic<std::uint64_t> skipped_paused{0};
  std::atomic<std::uint64_t> mirrored{0};

  mutable Mutex mu;
  std::uint64_t discarded SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t completed SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t shadow_errors SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t primary_errors SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t compared_rows SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t agreed_rows SWITCHYARD_GUARDED_BY(mu) = 0;
  std::map<std::pair<std::int32_t, std::int32_t>, std::uint64_t> confusion SWITCHYARD_GUARDED_BY(mu);
  struct Differences {
    std::uint64_t count = 0;
    double sum = 0.0;
    double max = 0.0;
    std::vector<double> sample;  ///< reservoir of at most difference_sample values
  };
  Differences absolute SWITCHYARD_GUARDED_BY(mu);
  Differences relative SWITCHYARD_GUARDED_BY(mu);
  std::uint64_t reservoir_state SWITCHYARD_GUARDED_BY(mu) = 0x9e3779b97f4a7c15ull;
  LatencyHistogram shadow_latency SWITCHYARD_GUARDED_BY(mu);
  LatencyHistogram primary_latency SWITCHYARD_GUARDED_BY(mu);
  std::deque<ShadowDisagreement> disagreements SWITCHYARD_GUARDED_BY(mu);
};

/// The arms a request is checked against: an immutable snapshot, replaced on add and remove.
struct ArmList {
  std::vector<std::shared_ptr<Arm>> arms;
  bool any_duration = false;
};

/// A copied tensor: what a queued request keeps of the caller's features.
struct OwnedTensor {
  std::string name;
  DType dtype = DType::kFloat64;
  Shape shape;
  std::vector<std::byte> bytes;
};

/// One sampled request on its way to the shadow workers: everything the comparison needs, owned.
struct Job {
  std::array<std::shared_ptr<Arm>, kMaxShadows> arms;  ///< the sampled versions (keeps them alive)
  std::size_t arm_count = 0;
  std::string key;
  std::string request_id;
  std::vector<OwnedTensor> inputs;
  bool primary_ok = true;
  Prediction primary;
  std::int64_t primary_latency_ns = 0;
  std::size_t bytes = 0;  ///< charged against the byte budget
};

}  // namespace detail::shadow

/// Mirrors a sample of a Deployment's live requests to candidate ("shadow") versions and compares
/// their answers with the primary's on the same requests, without ever touching the request path:
/// the shadow's answer is never returned, and a shadow that throws, is slow or hangs changes
/// neither the primary's answer nor its latency beyond one on_request() call.
///
/// Attach it with Deployment::add_observer(). on_request() decides per shadow version whether the
/// request is sampled (sticky by key or random, at the version's share), copies only what is
/// sampled (features, key, request id, the primary's answer) into one job and offers it to a
/// bounded lock-free queue (capacity in requests and in bytes). It never blocks and never
/// allocates more than the byte budget allows: when the queue is full, over budget or not running,
/// the request is dropped and counted per version and reason. Worker threads the predictor owns
/// run the shadow models and record the comparison: agreement and confusion for labels,
/// absolute and relative differences for values, both latencies, both error counts, and the last
/// K disagreements.
///
/// A job holds shared_ptrs to the versions it was sampled for, so a version removed while work for
/// it is queued stays alive (with its model) until that work is discarded or done.
///
/// Lifecycle: idle (constructed; requests dropped as "stopped") → start() → running ⇄ pause() /
/// resume() → stop() (final). drain() waits until every queued job is done.
///
/// Thread-safety: on_request() is called from every request thread at once; every other member
/// may be called concurrently from any thread as well. Neither copyable nor movable.
///
/// @code
///   switchyard::ShadowPredictor::Options opt;
///   opt.source = &registry;                              // loads the candidate
///   auto shadow = std::make_shared<switchyard::ShadowPredictor>(opt);
///   shadow->add_shadow({.model = "fraud-detection", .version = 3, .share = 0.25});
///   shadow->start();
///   deployment.add_observer(shadow);
///   ...
///   std::cout << shadow->report().to_table();
/// @endcode
class ShadowPredictor final : public RequestObserver {
 public:
  struct Options {
    /// Where add_shadow(ShadowVersionOptions) loads models; may be null if every shadow is added
    /// with its model. Must outlive the predictor.
    ModelSource* source = nullptr;
    /// Time for durations and reports. Default: the system clock. Must outlive the predictor.
    const Clock* clock = &system_clock();
    /// Queue capacity in requests (rounded up to a power of two). Default 1024.
    std::size_t queue_capacity = 1024;
    /// Most bytes of copied requests queued at once (features, key, id, primary answer and the
    /// job itself). Default 16 MiB.
    std::size_t byte_budget = std::size_t{16} << 20;
    /// Worker threads that run the shadow models. Default 1; at least 1.
    std::size_t workers = 1;
    /// Disagreements kept per version (the most recent). Default 32.
    std::size_t disagreements_kept = 32;
    /// Two output values agree when |shadow - primary| <= this (regressors). Default 0.
    double value_tolerance = 0.0;
    /// Differences kept per version for quantiles (a reservoir beyond it). Default 10000.
    std::size_t difference_sample = 10000;
  };

  /// Builds an idle predictor (no threads yet). Throws InvalidArgument for a zero capacity,
  /// budget or worker count, a null clock or a negative tolerance, naming the field.
  SWITCHYARD_API explicit ShadowPredictor(Options options);
  /// stop()s: queued work is discarded, the workers are joined.
  SWITCHYARD_API ~ShadowPredictor() override;
  ShadowPredictor(const ShadowPredictor&) = delete;
  ShadowPredictor& operator=(const ShadowPredictor&) = delete;

  /// Adds a shadow version, loading its model from Options::source. Throws InvalidArgument
  /// (share outside [0, 1], negative duration, empty model name, a duplicate (model, version),
  /// more than 8 shadows, no source) naming the field, or what the source throws (NotFound,
  /// LoadError). Nothing changes when it throws.
  SWITCHYARD_API void add_shadow(ShadowVersionOptions options);
  /// Adds a shadow version with a model built in code; throws as above (but needs no source).
  SWITCHYARD_API void add_shadow(ShadowVersionOptions options, ModelPtr model);
  /// Stops mirroring to (model, version). Its queued jobs are discarded by the workers (counted);
  /// the model stays alive until the last of them is gone. Returns false when not found.
  SWITCHYARD_API bool remove_shadow(std::string_view model, std::int64_t version);

  /// The request path: samples, copies and enqueues, or drops and counts. Never blocks or throws.
  SWITCHYARD_API void on_request(const ObservedRequest& request) noexcept override;

  /// Starts the workers (idle → running). Throws InvalidArgument after stop(); no-op if running.
  SWITCHYARD_API void start();
  /// Stops sampling new requests (counted as skipped_paused); queued work still runs.
  SWITCHYARD_API void pause() noexcept;
  /// Paused → running.
  SWITCHYARD_API void resume() noexcept;
  /// Final: later requests are dropped as "stopped", queued jobs are discarded (counted), the
  /// workers finish their current call and are joined. Waits for a hung shadow call to return.
  SWITCHYARD_API void stop() noexcept;
  /// Waits until the queue is empty and no worker holds a job, or `timeout` passes (real time;
  /// a condition variable, not polling). True when drained. Returns false at once when idle or
  /// stopped with work queued.
  SWITCHYARD_API bool drain(std::chrono::nanoseconds timeout);

  SWITCHYARD_API ShadowState state() const noexcept;
  /// A consistent-per-version snapshot of every counter and comparison.
  SWITCHYARD_API ShadowReport report() const;

 private:
  using Job = detail::shadow::Job;
  using Arm = detail::shadow::Arm;

  void offer(const ObservedRequest& request, const detail::shadow::ArmList& list,
             std::uint32_t sampled_mask) noexcept;
  void drop(const detail::shadow::ArmList& list, std::uint32_t mask,
            std::atomic<std::uint64_t> Arm::*counter) noexcept;
  void worker_loop();
  void process(Job& job);
  void compare(Arm& arm, const Job& job, const Prediction& shadow, std::int64_t latency_ns);
  void finish(Job* job) noexcept;
  void add_arm(std::shared_ptr<Arm> arm);

  const Options options_;
  detail::shadow::BoundedRing<Job*> queue_;
  detail::SnapshotCell<detail::shadow::ArmList> arms_;
  std::atomic<ShadowState> state_{ShadowState::kIdle};
  std::atomic<std::size_t> bytes_queued_{0};
  std::atomic<std::size_t> busy_workers_{0};  ///< workers between a pop attempt and its end

  // Consumers sleep on `wake_` when the queue is empty; producers bump it only when one sleeps.
  std::atomic<std::uint32_t> wake_{0};
  std::atomic<std::uint32_t> sleepers_{0};
  std::atomic<bool> quit_{false};

  detail::Mutex control_mu_;  ///< serialises add/remove/start/stop
  std::vector<std::thread> workers_ SWITCHYARD_GUARDED_BY(control_mu_);

  std::mutex drained_mu_;
  std::condition_variable drained_cv_;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/shadow/shadow_predictor-inl.hpp>
#endif
