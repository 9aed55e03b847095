// SPDX-License-Identifier: Apache-2.0
// ShadowPredictor: mirrors sampled live requests to candidate versions off the request path.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/core/model_source.hpp>
#include <switchyard/core/request_observer.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/snapshot_cell.hpp>
#include <switchyard/detail/string_hash.hpp>
#include <switchyard/detail/thread_slot.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>
#include <switchyard/serving/bucketing.hpp>
#include <switchyard/shadow/detail/job_ring.hpp>
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

/// Request-path counters of one version, per thread (see Counters).
enum Counter : std::size_t {
  kMirrored = 0,
  kDroppedQueueFull = 1,
  kDroppedOverBudget = 2,
  kDroppedStopped = 3,
  kSkippedPaused = 4,
  kCounterCount = 5,
};

/// One thread's request-path counters: written by that thread alone (a load and a store, no
/// read-modify-write), summed by report(). One cache line, so two threads never share one.
struct alignas(64) CounterShard {
  std::array<std::atomic<std::uint64_t>, kCounterCount> c{};
};

/// Request-path counters split by thread slot (detail::thread_index()); threads beyond the slots
/// share an overflow shard with atomic adds. Thread-safe.
class Counters {
 public:
  Counters() : shards_(new std::atomic<CounterShard*>[kMaxThreadSlots]) {
    for (std::size_t i = 0; i < kMaxThreadSlots; ++i) shards_[i].store(nullptr);
  }
  ~Counters() {
    for (std::size_t i = 0; i < kMaxThreadSlots; ++i) delete shards_[i].load();
  }
  Counters(const Counters&) = delete;
  Counters& operator=(const Counters&) = delete;

  void bump(Counter which) noexcept {
    const std::size_t i = thread_index();
    CounterShard* s = i < kMaxThreadSlots ? shards_[i].load(std::memory_order_acquire) : nullptr;
    if (s == nullptr && i < kMaxThreadSlots) s = allocate(i);
    if (s == nullptr) {
      overflow_.c[which].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto& c = s->c[which];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::uint64_t sum(Counter which) const noexcept {
    std::uint64_t n = overflow_.c[which].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < kMaxThreadSlots; ++i) {
      if (const CounterShard* s = shards_[i].load(std::memory_order_acquire)) {
        n += s->c[which].load(std::memory_order_relaxed);
      }
    }
    return n;
  }

 private:
  CounterShard* allocate(std::size_t i) noexcept {
    auto* fresh = new (std::nothrow) CounterShard;
    if (fresh == nullptr) return nullptr;  // counted in the overflow shard instead
    CounterShard* expected = nullptr;
    if (shards_[i].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) return fresh;
    delete fresh;
    return expected;
  }
  std::unique_ptr<std::atomic<CounterShard*>[]> shards_;
  CounterShard overflow_;
};

/// A pair of values kept for the same sampled rows (a uniform reservoir beyond its capacity).
struct PairedSample {
  std::uint64_t seen = 0;
  std::vector<double> a, b;
};

/// One request a version answered, waiting for its label (first row only).
struct PendingAnswer {
  bool classification = false;
  double primary = 0.0;
  double shadow = 0.0;
  std::int64_t at_ns = 0;
};

/// One shadow version's model, sampling rule and counters. Alive while a published arm list
/// names it or a queued job may (see Core's retirement). Thread-safe: request-path counters are
/// per-thread shards, comparisons are under `mu`.
struct Arm {
  ShadowVersionOptions options;
  ModelPtr model;
  bucketing::HashSalt salt;
  std::int64_t expires_at_ns = 0;  ///< 0: never
  std::atomic<bool> removed{false};
  Counters counters;

  mutable Mutex mu;
  std::uint64_t discarded SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t completed SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t shadow_errors SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t primary_errors SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t compared_rows SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t agreed_rows SWITCHYARD_GUARDED_BY(mu) = 0;
  std::map<std::pair<std::int32_t, std::int32_t>, std::uint64_t> confusion SWITCHYARD_GUARDED_BY(mu);
  std::map<std::int32_t, std::pair<std::uint64_t, std::uint64_t>> label_counts
      SWITCHYARD_GUARDED_BY(mu);  ///< label -> (primary, shadow)
  PairedSample first_values SWITCHYARD_GUARDED_BY(mu);  ///< (primary, shadow) first output value
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

  // Late labels, joined by request id.
  std::unordered_map<std::string, PendingAnswer, StringHash, std::equal_to<>> pending
      SWITCHYARD_GUARDED_BY(mu);
  std::deque<std::pair<std::int64_t, std::string>> pending_order SWITCHYARD_GUARDED_BY(mu);
  std::uint64_t labels_joined SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t labeled_class_rows SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t primary_correct SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t shadow_correct SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t primary_right_shadow_wrong SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t primary_wrong_shadow_right SWITCHYARD_GUARDED_BY(mu) = 0;
  std::uint64_t labeled_value_rows SWITCHYARD_GUARDED_BY(mu) = 0;
  double primary_abs_error_sum SWITCHYARD_GUARDED_BY(mu) = 0.0;
  double shadow_abs_error_sum SWITCHYARD_GUARDED_BY(mu) = 0.0;
  PairedSample abs_errors SWITCHYARD_GUARDED_BY(mu);  ///< (primary, shadow) per labeled row
};

/// The arms a request is checked against: an immutable snapshot, replaced on add and remove.
struct ArmList {
  std::vector<std::shared_ptr<Arm>> arms;
  bool any_duration = false;
};

/// Where one copied input tensor lies in a job's buffer. Trivially copyable.
struct TensorSlot {
  DType dtype = DType::kFloat64;
  Shape shape;
  std::size_t name_offset = 0;
  std::size_t name_size = 0;
  std::size_t data_offset = 0;
  std::size_t data_size = 0;
};

/// One sampled request on its way to the shadow workers: everything the comparison needs, copied
/// into one buffer (tensor slots, the primary's values, the tensors' bytes, the primary's labels,
/// key, request id, tensor names). Jobs live in the queue's slots and keep their buffer from lap
/// to lap, so a steady stream of similar requests copies into memory it already has: no
/// allocation, and a few contiguous cache lines per request.
struct Job {
  std::array<Arm*, kMaxShadows> arms{};  ///< the sampled versions (kept alive by Core)
  std::size_t arm_count = 0;             ///< 0: an empty slot, published by a producer that failed
  bool primary_ok = true;
  std::int64_t primary_latency_ns = 0;
  std::size_t bytes = 0;                 ///< charged against the byte budget
  std::size_t input_count = 0;
  std::size_t rows = 0, cols = 0;        ///< the primary's values
  std::size_t label_count = 0;           ///< the primary's labels
  std::size_t values_offset = 0, labels_offset = 0, key_offset = 0, id_offset = 0;
  std::size_t key_size = 0, id_size = 0;
  std::unique_ptr<std::byte[]> buffer;
  std::size_t capacity = 0;

  std::string_view key() const noexcept {
    return {reinterpret_cast<const char*>(buffer.get()) + key_offset, key_size};
  }
  std::string_view request_id() const noexcept {
    return {reinterpret_cast<const char*>(buffer.get()) + id_offset, id_size};
  }
  TensorSlot tensor(std::size_t i) const noexcept {
    TensorSlot t;
    std::memcpy(&t, buffer.get() + i * sizeof(TensorSlot), sizeof(TensorSlot));
    return t;
  }
  double value(std::size_t r, std::size_t c) const noexcept {
    double v;
    std::memcpy(&v, buffer.get() + values_offset + (r * cols + c) * sizeof(double), sizeof v);
    return v;
  }
  std::int32_t label(std::size_t r) const noexcept {
    std::int32_t v;
    std::memcpy(&v, buffer.get() + labels_offset + r * sizeof(std::int32_t), sizeof v);
    return v;
  }
};

/// The queue and the arms retired while jobs may still name them. Shared (by shared_ptr) with the
/// arm lists' deleters, so a list released late (a request thread exiting) can always retire its
/// arms.
///
/// Retirement: a job names its arms by raw pointer, so no reference count is touched per request.
/// An arm list is released only after every request thread that read it has read again: by then
/// each job built from it has been claimed, at a position below the queue's tail. The list's arms
/// are kept, stamped with that tail, until every job below it has been taken and finished
/// (each consumer marks, before it takes, the lowest position it can be working on).
struct Core {
  Core(std::size_t capacity, std::size_t consumers);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  JobRing<Job> queue;
  std::unique_ptr<std::atomic<std::size_t>[]> marks;  ///< per consumer; kIdle when not in a job
  std::size_t consumers;
  static constexpr std::size_t kIdle = ~std::size_t{0};

  Mutex retire_mu;
  std::vector<std::pair<std::size_t, std::shared_ptr<Arm>>> retired SWITCHYARD_GUARDED_BY(retire_mu);
  std::atomic<bool> retire_pending{false};

  void retire(const ArmList* list) noexcept;
  /// Releases retired arms no job can name any more. `all`: no consumer runs (after stop()).
  void sweep(bool all = false) noexcept;
};

}  // namespace detail::shadow

/// What a ShadowPredictor's `disagreement` signal delivers: one version's answer differed from
/// the primary's on a row. Thread-safe: a value type.
struct ShadowDisagreementEvent {
  std::string model;
  std::int64_t version = 0;
  ShadowDisagreement disagreement;
};

/// Mirrors a sample of a Deployment's live requests to candidate ("shadow") versions and compares
/// their answers with the primary's on the same requests, without ever touching the request path:
/// the shadow's answer is never returned, and a shadow that throws, is slow or hangs changes
/// neither the primary's answer nor its latency beyond one on_request() call.
///
/// Attach it with Deployment::add_observer(). on_request() decides per shadow version whether the
/// request is sampled (sticky by key or random, at the version's share), claims a slot of a
/// bounded lock-free queue (capacity in requests and in bytes) and copies only what is sampled
/// (features, key, request id, the primary's answer) into the slot's own buffer. It never blocks,
/// takes no lock, touches no reference count, and allocates only while a slot's buffer grows to
/// the requests' size: when the queue is full, over budget or not running, the request is dropped
/// and counted per version and reason in per-thread counters. Worker threads the predictor owns,
/// or tasks on an executor the host supplies, run the shadow models and record the comparison:
/// agreement and confusion for labels, absolute and relative differences for values, the
/// prediction distributions, both latencies and error counts, the last K disagreements, and, once
/// labels arrive (record_label), both models' accuracy on the same requests with paired tests.
///
/// A version removed while work for it is queued stays alive (with its model) until that work is
/// discarded or done: never a use-after-free.
///
/// Lifecycle: idle (constructed; requests dropped as "stopped") -> start() -> running <-> pause() /
/// resume() -> stop() (final). drain() waits until every queued job is done.
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
///   shadow->record_label(request_id, true_label);        // when the truth is known
///   std::cout << shadow->report().to_table();
/// @endcode
class ShadowPredictor final : public RequestObserver {
 public:
  /// Runs a task on a thread of the host's choosing. Called at most once at a time per predictor
  /// with a task that processes queued jobs until the queue is empty; it may be called from a
  /// request thread, so it should hand the task over and return (not run it inline). It may throw;
  /// the jobs stay queued and the next request schedules again.
  using Executor = std::function<void(std::function<void()> task)>;

  struct Options {
    /// Where add_shadow(ShadowVersionOptions) loads models; may be null if every shadow is added
    /// with its model. Must outlive the predictor.
    ModelSource* source = nullptr;
    /// Time for durations, label ages, signal rates and reports. Default: the system clock. Must
    /// outlive the predictor.
    const Clock* clock = &system_clock();
    /// Queue capacity in requests, queued plus being run (rounded up to a power of two).
    /// Default 1024; at most 2^24.
    std::size_t queue_capacity = 1024;
    /// Most bytes of copied requests queued at once (features, key, id, primary answer and the
    /// job itself). Default 16 MiB. A slot keeps a buffer of at most
    /// max(byte_budget / capacity, 4 KiB) from lap to lap, so the queue's resident memory stays
    /// within byte_budget + capacity * (sizeof(Job) + 4 KiB).
    std::size_t byte_budget = std::size_t{16} << 20;
    /// Worker threads that run the shadow models (default 1). Ignored when `executor` is set.
    std::size_t workers = 1;
    /// When set, the shadow models run in tasks on it instead of on owned threads.
    Executor executor{};
    /// An idle worker looks at the queue at least this often. Requests wake a sleeping worker
    /// only every 16th push, so the request path almost never makes a system call. Default 1 ms.
    std::chrono::nanoseconds idle_poll = std::chrono::milliseconds(1);
    /// Disagreements kept per version (the most recent). Default 32.
    std::size_t disagreements_kept = 32;
    /// Two output values agree when |shadow - primary| <= this (regressors). Default 0.
    double value_tolerance = 0.0;
    /// Differences (and paired values, and labeled errors) kept per version for quantiles,
    /// distributions and paired tests: a uniform reservoir beyond it. Default 10000.
    std::size_t difference_sample = 10000;
    /// Answered requests kept per version waiting for record_label() (the oldest are forgotten
    /// first). 0: labels are not joined. Default 100000.
    std::size_t label_join_capacity = 100000;
    /// An answer older than this is forgotten by record_label(). Default 24 hours.
    Duration label_ttl = std::chrono::hours(24);
    /// Most `disagreement` signals per second across versions (a token bucket on `clock`, burst
    /// of one second's worth); the rest are counted as suppressed. 0: the signal never fires.
    double disagreement_signals_per_second = 0.0;
    /// Where a throwing `disagreement` slot is reported. Null: ignored.
    EventHub* events = nullptr;
  };

  /// Builds an idle predictor (no threads yet). Throws InvalidArgument for a zero capacity,
  /// budget or worker count (without an executor), a null clock, a non-positive idle_poll or a
  /// negative tolerance, label_ttl or signal rate, naming the field.
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

  /// The true label of a request a classifier answered, joined by request id with every version
  /// that answered it (first row). Returns how many versions it joined; 0 (counted as unmatched)
  /// when none had answered it yet, it aged out, or it was already labeled. Only requests with a
  /// request id are kept for labels.
  SWITCHYARD_API std::size_t record_label(std::string_view request_id, std::int32_t label);
  /// The true value of a request a regressor answered (first output value); as above. A
  /// non-finite value joins nothing and throws InvalidArgument naming it.
  SWITCHYARD_API std::size_t record_label(std::string_view request_id, double value);

  /// Starts the workers (idle -> running). Throws InvalidArgument after stop(); no-op if running.
  SWITCHYARD_API void start();
  /// Stops sampling new requests (counted as skipped_paused); queued work still runs.
  SWITCHYARD_API void pause() noexcept;
  /// Paused -> running.
  SWITCHYARD_API void resume() noexcept;
  /// Final: later requests are dropped as "stopped", queued jobs are discarded (counted), the
  /// workers (or executor tasks) finish their current call and are joined. Waits for a hung
  /// shadow call to return.
  SWITCHYARD_API void stop() noexcept;
  /// Waits until the queue is empty and no worker holds a job, or `timeout` passes (real time;
  /// a condition variable, not polling). True when drained. Returns false at once when idle or
  /// stopped with work queued.
  SWITCHYARD_API bool drain(std::chrono::nanoseconds timeout);

  SWITCHYARD_API ShadowState state() const noexcept;
  /// A consistent-per-version snapshot of every counter and comparison.
  SWITCHYARD_API ShadowReport report() const;
  /// `disagreement` signals not sent because of the rate limit.
  SWITCHYARD_API std::uint64_t disagreements_suppressed() const noexcept;

  /// Fires on a worker thread for a row where a shadow disagreed with the primary, at most
  /// Options::disagreement_signals_per_second times a second. Slots must not call back into
  /// this predictor's stop() or drain().
  EventHub::Signal<ShadowDisagreementEvent> disagreement;

 private:
  using Job = detail::shadow::Job;
  using Arm = detail::shadow::Arm;

  void offer(const ObservedRequest& request, const detail::shadow::ArmList& list,
             std::uint32_t sampled_mask) noexcept;
  void drop(const detail::shadow::ArmList& list, std::uint32_t mask,
            detail::shadow::Counter counter) noexcept;
  void wake_consumer(std::size_t position) noexcept;
  void worker_loop(std::size_t consumer);
  bool run_some(std::size_t consumer);
  void run_executor_task();
  void schedule_executor() noexcept;
  void process(Job& job);
  void compare(Arm& arm, const Job& job, const Prediction& shadow, std::int64_t latency_ns);
  void maybe_signal(const Arm& arm, const ShadowDisagreement& d);
  void finish(Job& job) noexcept;
  void add_arm(std::shared_ptr<Arm> arm);
  void publish(std::unique_ptr<detail::shadow::ArmList> next);
  std::size_t join_label(std::string_view request_id, bool classification, double truth);
  void notify_drained();

  const Options options_;
  std::shared_ptr<detail::shadow::Core> core_;
  std::size_t retain_limit_ = 0;
  std::size_t wake_mask_ = 15;
  // What the request path reads, on a line nothing writes while requests flow.
  alignas(64) std::atomic<ShadowState> state_{ShadowState::kIdle};
  std::atomic<std::uint32_t> sleepers_{0};  ///< owned workers asleep (changes only when idle)
  std::atomic<bool> quit_{false};
  // Written by request threads and consumers alike: a line of its own.
  alignas(64) std::atomic<std::size_t> bytes_queued_{0};
  // Written by consumers only.
  alignas(64) std::atomic<std::size_t> busy_{0};  ///< consumers inside run_some()
  std::atomic<std::uint64_t> labels_received_{0};
  std::atomic<std::uint64_t> labels_unmatched_{0};

  // Owned workers sleep on sleep_cv_ for at most idle_poll when the queue is empty.
  alignas(64) std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;

  // Executor mode: at most one task scheduled or running at a time.
  std::atomic<bool> task_scheduled_{false};
  struct TaskGate {
    std::mutex mu;
    std::condition_variable cv;
    ShadowPredictor* owner = nullptr;  ///< null once stop() ran: late tasks do nothing
    std::size_t running = 0;
  };
  std::shared_ptr<TaskGate> task_gate_;

  detail::Mutex signal_mu_;
  double signal_tokens_ SWITCHYARD_GUARDED_BY(signal_mu_) = 0.0;
  std::int64_t signal_refill_ns_ SWITCHYARD_GUARDED_BY(signal_mu_) = 0;
  std::atomic<std::uint64_t> signals_suppressed_{0};

  detail::Mutex control_mu_;  ///< serialises add/remove/start/stop
  std::vector<std::thread> workers_ SWITCHYARD_GUARDED_BY(control_mu_);

  std::mutex drained_mu_;
  std::condition_variable drained_cv_;

  // Last: destroyed first, so a list released here can still retire its arms into core_.
  detail::SnapshotCell<detail::shadow::ArmList> arms_;
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/shadow/shadow_predictor-inl.hpp>
#endif
