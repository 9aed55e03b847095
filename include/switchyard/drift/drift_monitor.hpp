// SPDX-License-Identifier: Apache-2.0
// DriftMonitor: live traffic binned against a version's reference profile on the request path, in
// tumbling or sliding windows, evaluated off it into drift reports, quality figures and alerts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/request_observer.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/drift/detail/feature_binner.hpp>
#include <switchyard/drift/detail/window_shards.hpp>
#include <switchyard/drift/drift_alerts.hpp>
#include <switchyard/drift/drift_evaluation.hpp>
#include <switchyard/drift/drift_report.hpp>
#include <switchyard/drift/reference_profile.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>

namespace switchyard {

class ModelRegistry;

/// Requests, failures, latency and labelled outcomes of one window, and what they were compared
/// with. Optional fields are empty when the window could not measure them. Thread-safe: a value
/// type.
struct WindowQuality {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  double error_rate = 0.0;                ///< errors / requests; 0 without requests
  std::optional<double> latency_p99_ns{};  ///< when requests carried a latency
  std::uint64_t labels = 0;               ///< outcomes recorded in the window
  std::optional<double> accuracy{};       ///< labels with predicted == label / labels
  std::optional<double> auc{};            ///< ROC AUC of the scores, labels 0/1
  std::optional<double> baseline_accuracy{};  ///< the version's registry metric "accuracy"
  std::optional<double> baseline_auc{};       ///< the version's registry metric "auc"
  /// Mean and standard deviation of the trailing windows' request counts (volume check).
  std::optional<double> volume_mean{};
  std::optional<double> volume_std{};
};

/// What one closed window produced. Thread-safe: a value type.
struct WindowEvaluation {
  DriftReport drift;                    ///< features, prediction, dataset drift
  std::optional<FeatureDrift> label_drift{};  ///< with Options::label_profile and labels
  WindowQuality quality;
  std::vector<DriftAlert> raised;       ///< alerts this window raised
  std::vector<DriftAlert> cleared;      ///< alerts this window cleared
  std::vector<RetrainingRecommendation> retraining;
  /// The window's row sample kept every sample_stride-th row (1: every row, so the sample-based
  /// tests ran on the whole window).
  std::uint64_t sample_stride = 1;
};

/// Watches one model version's live traffic for drift and quality loss, as seed 003's monitoring
/// table asks (and Evidently computes, but on the request path instead of a batch job).
///
/// Request path (on_request() as a Deployment's RequestObserver, or observe() directly): the
/// row's features are binned into the reference profile's slots with a compiled FeatureBinner
/// (an arithmetic index for equally spaced edges, a branchless search otherwise) and counted in
/// this thread's own bank for the current sub-window, with a systematic sample of whole rows for
/// the sample-based tests. No lock, no shared cache line written, no allocation after a thread's
/// first row (which allocates its shard). Missing values (NaN, +-inf) are counted apart; a
/// category the reference never had lands in its "other" slot and is drift.
///
/// Windows run on the injected clock: sub-windows of `window / sub_windows`; with one sub-window
/// they tumble, with K they slide by one sub-window over the last K. A row belongs to the
/// sub-window the clock says when it is counted, whole (never split across windows).
///
/// Off the request path, poll() collects closed sub-windows, evaluates each closed window with
/// evaluate_drift() (DriftOptions: Evidently's defaults, or DriftOptions::seed_003()), measures
/// quality against the version's registry baseline, updates the alerts (DriftAlerts' hysteresis)
/// and emits the signals. Call it at least once per sub-window (a host timer, or start()).
///
/// Thread-safety: on_request() and observe() may be called from every thread at once;
/// record_label(), poll() and the readers from any thread (poll() calls serialise). Slots run on
/// the thread that calls poll() and must not call poll() themselves. Neither copyable nor movable.
///
/// @code
///   switchyard::DriftMonitor::Options opt;
///   opt.model = "fraud-detection";
///   opt.version = 3;
///   opt.profile = std::make_shared<const switchyard::ReferenceProfile>(
///       switchyard::load_reference_profile(registry, "fraud-detection", 3));
///   opt.registry = &registry;                           // baseline metrics, new datasets
///   auto monitor = std::make_shared<switchyard::DriftMonitor>(opt);
///   monitor->drift_detected.connect([](const switchyard::DriftAlert& a) { page(a.to_json()); });
///   deployment.add_observer(monitor);
///   ... every few seconds: monitor->poll();
/// @endcode
class DriftMonitor final : public RequestObserver {
 public:
  struct Options {
    std::string model;          ///< the model watched (requests for others are ignored)
    std::int64_t version = 0;   ///< the version watched; 0: every version of `model`
    /// The reference: required. Features in the model's input order.
    std::shared_ptr<const ReferenceProfile> profile;
    /// Time for windows, labels and schedules. Must outlive the monitor.
    const Clock* clock = &system_clock();
    /// Window length. Default 1 minute.
    Duration window = std::chrono::minutes(1);
    /// 1: tumbling windows; K > 1: sliding windows over the last K sub-windows of window / K,
    /// evaluated at every sub-window's end. Default 1; at most 1024.
    std::size_t sub_windows = 1;
    /// Rows of the sample kept per thread and sub-window (systematic, stride doubling when
    /// full); a window's sample is at most this many rows. Memory: per request thread,
    /// 4 x sample_rows x (numeric histogram features) doubles (6.4 MB for 100 features).
    /// Default 2,000 (a 10,000-row window keeps every 8th row, so the Wasserstein distance of an
    /// unchanged feature stays well below Evidently's 0.1); 0: no samples.
    std::size_t sample_rows = 2000;
    /// How windows are judged (Evidently's DataDriftPreset defaults unless changed).
    DriftOptions drift{};
    /// When alerts fire and clear.
    AlertPolicy alerts{};
    /// Optional: baseline metrics ("accuracy", "auc") of `version`, and versions registered
    /// later with a new dataset_version. Must outlive the monitor.
    const ModelRegistry* registry = nullptr;
    /// Baselines that take precedence over the registry's metrics.
    std::optional<double> baseline_accuracy{};
    std::optional<double> baseline_auc{};
    /// Profile of the training labels, for label drift; none: not measured.
    std::optional<FeatureProfile> label_profile{};
    /// Labels kept per sub-window for AUC (the rest are counted for accuracy only).
    std::size_t max_scored_labels = 100000;
    /// Recommend retraining on this cadence (trigger kScheduled); none: never.
    std::optional<Duration> retraining_period{};
    /// Closed windows kept for history(). Default 64.
    std::size_t history = 64;
    /// Where throwing slots are reported. Null: ignored.
    EventHub* events = nullptr;
  };

  /// Throws InvalidArgument naming the field (no profile, null clock, window not positive or
  /// shorter than sub_windows ns, sub_windows 0 or over 1024, history 0, an AlertPolicy or
  /// DriftOptions field out of range); NotFound when a registry is given and the version is not
  /// in it.
  SWITCHYARD_API explicit DriftMonitor(Options options);
  SWITCHYARD_API ~DriftMonitor() override;
  DriftMonitor(const DriftMonitor&) = delete;
  DriftMonitor& operator=(const DriftMonitor&) = delete;

  /// The request path for a Deployment: every row of the first input tensor (its columns are the
  /// profile's features) with the answer's first value (or label) as the prediction. Requests of
  /// another model or version are ignored; failed ones are counted as errors, not binned.
  /// Never throws or blocks.
  SWITCHYARD_API void on_request(const ObservedRequest& request) noexcept override;

  /// The request path without a Deployment: one row of profile-ordered features and the model's
  /// prediction (NaN when none). Returns false (and counts it as rejected) when the row's length
  /// is not the profile's feature count. Never throws or blocks.
  SWITCHYARD_API bool observe(std::span<const double> features,
                              double prediction = kNoPrediction) noexcept;
  SWITCHYARD_API bool observe(std::span<const float> features,
                              double prediction = kNoPrediction) noexcept;
  static constexpr double kNoPrediction = std::numeric_limits<double>::quiet_NaN();

  /// A ground-truth outcome arriving for a prediction of the watched version, counted in the
  /// sub-window the clock says now: `label` against `predicted` for accuracy, `score` (the
  /// positive-class score, labels 0/1) for AUC, `label` alone for label drift. Off the request
  /// path (takes a lock). NaN label: ignored, returns false.
  SWITCHYARD_API bool record_label(double label, double predicted,
                                   double score = kNoPrediction);

  /// Collects the sub-windows that closed, evaluates every window that closed with them, updates
  /// the alerts, emits the signals and returns the evaluations, oldest first. After a pause
  /// longer than 4 sub-windows the oldest ones are skipped (counted in skipped_windows()).
  SWITCHYARD_API std::vector<WindowEvaluation> poll();

  /// The last Options::history evaluations, oldest first.
  SWITCHYARD_API std::vector<WindowEvaluation> history() const;
  /// Alerts active now.
  SWITCHYARD_API std::vector<DriftAlert> active_alerts() const;
  /// Rows dropped: wrong length (rejected), or no free bank because poll() lagged, or past
  /// detail::kMaxThreadSlots threads.
  SWITCHYARD_API std::uint64_t rows_dropped() const noexcept;
  std::uint64_t rows_rejected() const noexcept {
    return rejected_.load(std::memory_order_relaxed);
  }
  std::uint64_t skipped_windows() const noexcept {
    return skipped_windows_.load(std::memory_order_relaxed);
  }
  const Options& options() const noexcept { return options_; }

  /// Fires for each drift alert raised (kFeatureDrift, kDatasetDrift, kPredictionDrift,
  /// kLabelDrift), once until it clears.
  EventHub::Signal<DriftAlert> drift_detected;
  /// Fires for each quality alert raised (accuracy, AUC, p99, error rate, volume), once until it
  /// clears.
  EventHub::Signal<DriftAlert> quality_degraded;
  /// Fires when an alert clears (active = false).
  EventHub::Signal<DriftAlert> alert_cleared;
  /// Fires when one of seed 003's retraining triggers does: scheduled, drift (the first drift
  /// alert while none was active), performance (the first accuracy or AUC alert while none was
  /// active), new dataset version (once per new dataset_version).
  EventHub::Signal<RetrainingRecommendation> retraining_recommended;
  /// Fires for every closed window with its evaluation (after the alerts' signals).
  EventHub::Signal<WindowEvaluation> window_evaluated;

 private:
  // One closed sub-window, merged across threads.
  struct SubWindow {
    std::int64_t epoch = 0;
    std::vector<std::uint64_t> counters;
    struct Part {
      std::uint64_t stride = 1;
      std::uint64_t kept = 0;
      std::vector<double> rows;
    };
    std::vector<Part> samples;
    std::int64_t last_version = 0;
  };
  struct LabelEpoch {
    std::uint64_t labels = 0;
    std::uint64_t correct = 0;
    std::uint64_t predicted = 0;  ///< labels that came with a prediction
    FeatureWindow label_window;
    std::vector<int> classes;
    std::vector<double> scores;
  };

  enum class RowKind : std::uint8_t { kRequest, kFailedRequest, kBatchRow };
  template <class T>
  bool observe_row(const T* row, std::size_t columns, double prediction, RowKind kind,
                   std::int64_t version, std::int64_t latency_ns) noexcept;
  template <class T>
  void observe_tensor(const ObservedRequest& request, const TensorView& t) noexcept;
  std::int64_t epoch_of(std::int64_t now_ns) const noexcept;
  std::int64_t advance_epoch(std::int64_t now_ns) noexcept;
  detail::drift::Bank* open_bank(detail::drift::Shard& shard, std::int64_t epoch) noexcept;
  SubWindow collect(std::int64_t epoch);
  CurrentWindow merge_window(const std::vector<const SubWindow*>& parts, std::uint64_t& stride,
                             LatencyHistogram& latency, std::uint64_t& requests,
                             std::uint64_t& errors, std::int64_t& last_version) const;
  WindowEvaluation evaluate_window(std::int64_t last_epoch);
  std::vector<AlertMeasurement> measurements(const WindowEvaluation& w) const;
  void check_triggers(std::int64_t now_ns, std::vector<RetrainingRecommendation>& out);

  const Options options_;
  const std::int64_t origin_ns_;
  const std::int64_t sub_ns_;
  detail::drift::FeatureBinner binner_;
  std::size_t prediction_slots_ = 0;  // 0: no prediction profile
  std::vector<std::size_t> sampled_features_;  // histogram features kept in the row sample
  bool sample_prediction_ = false;
  detail::drift::BankLayout layout_;
  std::unique_ptr<detail::drift::WindowShards> shards_;

  // Read by every request; written once per sub-window.
  alignas(64) std::atomic<std::int64_t> epoch_{0};
  std::atomic<std::int64_t> collected_{0};  // every epoch below is collected (or skipped)
  alignas(64) std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> overflow_dropped_{0};
  std::atomic<std::uint64_t> skipped_windows_{0};

  detail::Mutex labels_mu_;
  std::map<std::int64_t, LabelEpoch> labels_ SWITCHYARD_GUARDED_BY(labels_mu_);

  detail::Mutex poll_mu_;  // serialises poll()
  std::deque<SubWindow> recent_ SWITCHYARD_GUARDED_BY(poll_mu_);  // the last sub_windows
  std::deque<std::uint64_t> volumes_ SWITCHYARD_GUARDED_BY(poll_mu_);
  DriftAlerts alerts_ SWITCHYARD_GUARDED_BY(poll_mu_);
  std::optional<double> baseline_accuracy_;
  std::optional<double> baseline_auc_;
  std::string dataset_version_;
  std::set<std::string> datasets_seen_ SWITCHYARD_GUARDED_BY(poll_mu_);
  std::int64_t next_schedule_ns_ SWITCHYARD_GUARDED_BY(poll_mu_) = 0;
  bool drift_active_ SWITCHYARD_GUARDED_BY(poll_mu_) = false;
  bool performance_active_ SWITCHYARD_GUARDED_BY(poll_mu_) = false;

  mutable detail::Mutex state_mu_;  // what readers see
  std::deque<WindowEvaluation> history_ SWITCHYARD_GUARDED_BY(state_mu_);
  std::vector<DriftAlert> active_ SWITCHYARD_GUARDED_BY(state_mu_);
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/drift/drift_monitor-inl.hpp>
#endif
