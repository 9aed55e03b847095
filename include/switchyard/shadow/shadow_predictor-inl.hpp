// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of ShadowPredictor: sampling and offering, the workers, the comparison, labels
// and reports.
#pragma once

#include <switchyard/shadow/shadow_predictor.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/cpu_relax.hpp>
#include <switchyard/stats/paired_tests.hpp>

namespace switchyard {

namespace detail::shadow {

/// Per-thread splitmix64 stream for random sampling: no shared state on the request path.
inline std::uint64_t next_random() noexcept {
  thread_local std::uint64_t state =
      0x9e3779b97f4a7c15ull ^ reinterpret_cast<std::uintptr_t>(&state);
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// The next value of a deterministic per-version stream (reservoir replacement choices).
inline std::uint64_t next_lcg(std::uint64_t& state) noexcept {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return state >> 11;
}

/// Adds one difference to a summary and its reservoir (Algorithm R, deterministic stream).
inline void add_difference(Arm::Differences& d, double v, std::size_t cap,
                           std::uint64_t& rng) noexcept {
  ++d.count;
  d.sum += v;
  d.max = std::max(d.max, v);
  try {
    if (d.sample.size() < cap) {
      d.sample.push_back(v);
      return;
    }
  } catch (...) {
    return;  // keeps the summary; the quantiles lose one value
  }
  const std::uint64_t j = next_lcg(rng) % d.count;
  if (j < cap) d.sample[j] = v;
}

/// Adds one pair to a paired reservoir: both values of a row stay together.
inline void add_pair(PairedSample& p, double a, double b, std::size_t cap,
                     std::uint64_t& rng) noexcept {
  ++p.seen;
  try {
    if (p.a.size() < cap) {
      p.a.push_back(a);
      p.b.push_back(b);
      return;
    }
  } catch (...) {
    p.a.resize(std::min(p.a.size(), p.b.size()));
    p.b.resize(p.a.size());
    return;
  }
  const std::uint64_t j = next_lcg(rng) % p.seen;
  if (j < cap) {
    p.a[j] = a;
    p.b[j] = b;
  }
}

/// Keeps one disagreement, forgetting the oldest beyond `kept`.
inline void keep_disagreement(Arm& arm, const ShadowDisagreement& d, std::size_t kept)
    SWITCHYARD_REQUIRES(arm.mu) {
  if (kept == 0) return;
  if (arm.disagreements.size() >= kept) arm.disagreements.pop_front();
  arm.disagreements.push_back(d);
}

/// numpy's default (linear) quantile of a sorted sample.
inline double sorted_quantile(const std::vector<double>& s, double q) noexcept {
  if (s.empty()) return 0.0;
  const double h = (static_cast<double>(s.size()) - 1.0) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= s.size()) return s.back();
  return s[lo] + (h - static_cast<double>(lo)) * (s[lo + 1] - s[lo]);
}

inline DifferenceSummary summarize(const Arm::Differences& d) {
  DifferenceSummary out;
  out.count = d.count;
  if (d.count == 0) return out;
  out.mean = d.sum / static_cast<double>(d.count);
  out.max = d.max;
  std::vector<double> s = d.sample;
  std::sort(s.begin(), s.end());
  out.p50 = sorted_quantile(s, 0.50);
  out.p90 = sorted_quantile(s, 0.90);
  out.p99 = sorted_quantile(s, 0.99);
  return out;
}

/// Bytes a copy of this request would occupy in the queue (charged against the byte budget).
inline std::size_t job_bytes(const ObservedRequest& r) noexcept {
  std::size_t n = sizeof(Job) + r.key.size() + r.request_id.size();
  for (std::size_t i = 0; i < r.input->size(); ++i) {
    const NamedTensor& t = (*r.input)[i];
    n += sizeof(TensorSlot) + t.name.size() + t.tensor.size() * dtype_size(t.tensor.dtype());
  }
  if (r.prediction != nullptr) {
    n += r.prediction->values.size() * sizeof(double) +
         r.prediction->labels.size() * sizeof(std::int32_t);
  }
  return n;
}

constexpr std::size_t align8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

/// Copies the request into a job's buffer, growing it when the request does not fit (the only
/// allocation; may throw std::bad_alloc).
inline void fill_job(Job& job, const ObservedRequest& request) {
  const ModelInput& in = *request.input;
  const std::size_t n_inputs = in.size();
  const Prediction* p = request.ok ? request.prediction : nullptr;
  const std::size_t rows = p != nullptr && p->values.size() != 0 ? p->values.shape()[0] : 0;
  const std::size_t cols = rows != 0 ? p->values.shape()[1] : 0;
  const std::size_t labels = p != nullptr ? p->labels.size() : 0;
  // Layout: tensor slots | values | tensor bytes | labels | key | request id | names.
  std::size_t at = n_inputs * sizeof(TensorSlot);
  const std::size_t values_offset = at = align8(at);
  at += rows * cols * sizeof(double);
  std::size_t data_begin = at;
  for (std::size_t i = 0; i < n_inputs; ++i) {
    at = align8(at) + in[i].tensor.size() * dtype_size(in[i].tensor.dtype());
  }
  const std::size_t labels_offset = at = align8(at);
  at += labels * sizeof(std::int32_t);
  const std::size_t key_offset = at;
  at += request.key.size();
  const std::size_t id_offset = at;
  at += request.request_id.size();
  const std::size_t names_begin = at;
  for (std::size_t i = 0; i < n_inputs; ++i) at += in[i].name.size();
  if (at > job.capacity) {
    const std::size_t grown = std::max(at, job.capacity * 2);
    job.buffer.reset();  // give the old buffer back first
    job.capacity = 0;
    job.buffer.reset(new std::byte[grown]);
    job.capacity = grown;
  }
  std::byte* buf = job.buffer.get();
  std::size_t data_at = data_begin, name_at = names_begin;
  for (std::size_t i = 0; i < n_inputs; ++i) {
    const NamedTensor& from = in[i];
    TensorSlot t;
    t.dtype = from.tensor.dtype();
    t.shape = from.tensor.shape();
    t.data_offset = data_at = align8(data_at);
    t.data_size = from.tensor.size() * dtype_size(t.dtype);
    t.name_offset = name_at;
    t.name_size = from.name.size();
    if (t.data_size != 0) std::memcpy(buf + t.data_offset, from.tensor.data(), t.data_size);
    if (t.name_size != 0) std::memcpy(buf + name_at, from.name.data(), t.name_size);
    std::memcpy(buf + i * sizeof(TensorSlot), &t, sizeof t);
    data_at += t.data_size;
    name_at += t.name_size;
  }
  if (rows * cols != 0) {
    std::memcpy(buf + values_offset, p->values.data(), rows * cols * sizeof(double));
  }
  if (labels != 0) std::memcpy(buf + labels_offset, p->labels.data(), labels * sizeof(std::int32_t));
  if (!request.key.empty()) std::memcpy(buf + key_offset, request.key.data(), request.key.size());
  if (!request.request_id.empty()) {
    std::memcpy(buf + id_offset, request.request_id.data(), request.request_id.size());
  }
  job.input_count = n_inputs;
  job.rows = rows;
  job.cols = cols;
  job.label_count = labels;
  job.values_offset = values_offset;
  job.labels_offset = labels_offset;
  job.key_offset = key_offset;
  job.key_size = request.key.size();
  job.id_offset = id_offset;
  job.id_size = request.request_id.size();
  job.primary_ok = request.ok && request.prediction != nullptr;
  job.primary_latency_ns = request.latency_ns;
}

inline Core::Core(std::size_t capacity, std::size_t consumer_count)
    : queue(capacity),
      marks(new std::atomic<std::size_t>[consumer_count]),
      consumers(consumer_count) {
  for (std::size_t i = 0; i < consumers; ++i) marks[i].store(kIdle);
}

inline void Core::retire(const ArmList* list) noexcept {
  const std::size_t ticket = queue.tail_position();
  try {
    MutexLock lk(retire_mu);
    for (const auto& a : list->arms) retired.emplace_back(ticket, a);
    retire_pending.store(true, std::memory_order_release);
  } catch (...) {
    // Out of memory: the arms would be released below while jobs may name them. Keep them alive
    // for good instead (a leak, never a use-after-free).
    for (const auto& a : list->arms) new std::shared_ptr<Arm>(a);  // NOLINT: deliberate leak
  }
  delete list;
}

inline void Core::sweep(bool all) noexcept {
  if (!retire_pending.load(std::memory_order_acquire)) return;
  std::vector<std::shared_ptr<Arm>> released;  // destroyed after the lock
  MutexLock lk(retire_mu);
  std::size_t safe = queue.head_position();
  if (!all) {
    for (std::size_t i = 0; i < consumers; ++i) safe = std::min(safe, marks[i].load());
  }
  auto keep = retired.begin();
  for (auto it = retired.begin(); it != retired.end(); ++it) {
    if (it->first <= safe) {
      try {
        released.push_back(std::move(it->second));
      } catch (...) {
        *keep++ = std::move(*it);  // released on a later sweep
      }
    } else {
      *keep++ = std::move(*it);
    }
  }
  retired.erase(keep, retired.end());
  retire_pending.store(!retired.empty(), std::memory_order_release);
}

}  // namespace detail::shadow

SWITCHYARD_INLINE ShadowPredictor::ShadowPredictor(Options options)
    : disagreement{detail::GuardedSlots{options.events, "shadow_disagreement"}},
      options_(std::move(options)),
      task_gate_(std::make_shared<TaskGate>()) {
  auto bad = [](const std::string& field, const std::string& why) {
    throw InvalidArgument("ShadowPredictor option '" + field + "' " + why);
  };
  if (options_.queue_capacity == 0) bad("queue_capacity", "must be at least 1");
  if (options_.queue_capacity > (std::size_t{1} << 24)) bad("queue_capacity", "must be at most 2^24");
  if (options_.byte_budget == 0) bad("byte_budget", "must be at least 1");
  if (options_.workers == 0 && !options_.executor) {
    bad("workers", "must be at least 1 (or set an executor)");
  }
  if (options_.clock == nullptr) bad("clock", "must not be null");
  if (!(options_.value_tolerance >= 0.0)) bad("value_tolerance", "must be >= 0");
  if (options_.idle_poll.count() <= 0) bad("idle_poll", "must be positive");
  if (options_.label_ttl.count() < 0) bad("label_ttl", "must not be negative");
  if (!(options_.disagreement_signals_per_second >= 0.0) ||
      !std::isfinite(options_.disagreement_signals_per_second)) {
    bad("disagreement_signals_per_second", "must be a finite number >= 0");
  }
  const std::size_t consumers = options_.executor ? 1 : options_.workers;
  core_ = std::make_shared<detail::shadow::Core>(options_.queue_capacity, consumers);
  retain_limit_ = std::max<std::size_t>(options_.byte_budget / core_->queue.capacity(), 4096);
  wake_mask_ = std::min<std::size_t>(16, std::max<std::size_t>(core_->queue.capacity() / 4, 1)) - 1;
  wake_mask_ = std::bit_ceil(wake_mask_ + 1) - 1;
  signal_tokens_ = options_.disagreement_signals_per_second;
  signal_refill_ns_ = to_unix_nanos(options_.clock->now());
  task_gate_->owner = this;
  publish(std::make_unique<detail::shadow::ArmList>());
}

SWITCHYARD_INLINE ShadowPredictor::~ShadowPredictor() { stop(); }

SWITCHYARD_INLINE void ShadowPredictor::publish(std::unique_ptr<detail::shadow::ArmList> next) {
  // The deleter retires the list's arms into the core, where they wait for the jobs that may
  // still name them. It holds the core, so a list released after the predictor is gone (by an
  // exiting request thread) still retires safely. (If the control block cannot be allocated,
  // shared_ptr runs the deleter at once and rethrows: the arms are retired, nothing leaks.)
  std::shared_ptr<const detail::shadow::ArmList> owned(
      next.release(), [core = core_](const detail::shadow::ArmList* l) { core->retire(l); });
  arms_.publish(std::move(owned));
}

SWITCHYARD_INLINE void ShadowPredictor::add_shadow(ShadowVersionOptions options) {
  if (options_.source == nullptr) {
    throw InvalidArgument("ShadowPredictor option 'source' is null: cannot load shadow model '" +
                          options.model + "' version " + std::to_string(options.version));
  }
  auto arm = std::make_shared<Arm>();
  arm->options = std::move(options);
  add_arm(std::move(arm));  // validates first, so a bad share never costs a load
}

SWITCHYARD_INLINE void ShadowPredictor::add_shadow(ShadowVersionOptions options, ModelPtr model) {
  if (!model) {
    throw InvalidArgument("shadow model '" + options.model + "' version " +
                          std::to_string(options.version) + ": field 'model' is null");
  }
  auto arm = std::make_shared<Arm>();
  arm->options = std::move(options);
  arm->model = std::move(model);
  add_arm(std::move(arm));
}

SWITCHYARD_INLINE void ShadowPredictor::add_arm(std::shared_ptr<Arm> arm) {
  ShadowVersionOptions& o = arm->options;
  const std::string who =
      "shadow model '" + o.model + "' version " + std::to_string(o.version) + ": ";
  if (o.model.empty()) throw InvalidArgument(who + "field 'model' is empty");
  if (!(o.share >= 0.0 && o.share <= 1.0)) {
    throw InvalidArgument(who + "field 'share' must be in [0, 1], got " + std::to_string(o.share));
  }
  if (o.duration && o.duration->count() < 0) {
    throw InvalidArgument(who + "field 'duration' must not be negative");
  }
  if (o.sampling != ShadowSampling::kSticky && o.sampling != ShadowSampling::kRandom) {
    throw InvalidArgument(who + "field 'sampling' is not a ShadowSampling");
  }
  detail::MutexLock lk(control_mu_);
  auto current = arms_.load();
  if (current->arms.size() >= detail::shadow::kMaxShadows) {
    throw InvalidArgument(who + "a predictor carries at most " +
                          std::to_string(detail::shadow::kMaxShadows) + " shadow versions");
  }
  for (const auto& a : current->arms) {
    if (a->options.model == o.model && a->options.version == o.version) {
      throw InvalidArgument(who + "already shadowed by this predictor");
    }
  }
  if (!arm->model) arm->model = options_.source->load(o.model, o.version);  // may throw
  if (!arm->model) throw LoadError(who + "the source returned no model");
  if (o.salt.empty()) o.salt = "shadow/" + o.model + "/" + std::to_string(o.version);
  arm->salt = bucketing::HashSalt(o.salt);
  if (o.duration) {
    arm->expires_at_ns = to_unix_nanos(options_.clock->now()) + o.duration->count();
    if (arm->expires_at_ns == 0) arm->expires_at_ns = 1;
  }
  auto next = std::make_unique<detail::shadow::ArmList>(*current);
  next->arms.push_back(std::move(arm));
  next->any_duration = std::any_of(next->arms.begin(), next->arms.end(),
                                   [](const auto& a) { return a->expires_at_ns != 0; });
  publish(std::move(next));
}

SWITCHYARD_INLINE bool ShadowPredictor::remove_shadow(std::string_view model,
                                                      std::int64_t version) {
  detail::MutexLock lk(control_mu_);
  auto current = arms_.load();
  auto next = std::make_unique<detail::shadow::ArmList>(*current);
  auto it = std::find_if(next->arms.begin(), next->arms.end(), [&](const auto& a) {
    return a->options.model == model && a->options.version == version;
  });
  if (it == next->arms.end()) return false;
  (*it)->removed.store(true, std::memory_order_release);
  next->arms.erase(it);
  next->any_duration = std::any_of(next->arms.begin(), next->arms.end(),
                                   [](const auto& a) { return a->expires_at_ns != 0; });
  publish(std::move(next));
  return true;
}

SWITCHYARD_INLINE void ShadowPredictor::on_request(const ObservedRequest& request) noexcept {
  const auto list = arms_.read();
  if (!list || list->arms.empty()) return;
  const ShadowState st = state_.load(std::memory_order_acquire);
  if (st == ShadowState::kPaused) {
    for (const auto& a : list->arms) a->counters.bump(detail::shadow::kSkippedPaused);
    return;
  }
  const std::int64_t now = list->any_duration ? to_unix_nanos(options_.clock->now()) : 0;
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < list->arms.size(); ++i) {
    const Arm& a = *list->arms[i];
    if (a.expires_at_ns != 0 && now >= a.expires_at_ns) continue;
    if (a.options.share <= 0.0) continue;
    if (a.options.share >= 1.0) {  // everything: no hash needed
      mask |= std::uint32_t{1} << i;
      continue;
    }
    const std::uint64_t h = a.options.sampling == ShadowSampling::kSticky
                                ? bucketing::hash64(a.salt, request.key)
                                : detail::shadow::next_random();
    if (bucketing::unit_interval(h) < a.options.share) mask |= std::uint32_t{1} << i;
  }
  if (mask == 0) return;
  if (st != ShadowState::kRunning) {
    drop(*list, mask, detail::shadow::kDroppedStopped);
    return;
  }
  offer(request, *list, mask);
}

SWITCHYARD_INLINE void ShadowPredictor::drop(const detail::shadow::ArmList& list,
                                             std::uint32_t mask,
                                             detail::shadow::Counter counter) noexcept {
  for (std::size_t i = 0; i < list.arms.size(); ++i) {
    if (mask & (std::uint32_t{1} << i)) list.arms[i]->counters.bump(counter);
  }
}

SWITCHYARD_INLINE void ShadowPredictor::offer(const ObservedRequest& request,
                                              const detail::shadow::ArmList& list,
                                              std::uint32_t mask) noexcept {
  detail::shadow::Core& core = *core_;
  // Claim first: a full queue refuses with two loads, before any shared counter is written.
  std::size_t position = 0;
  Job* job = core.queue.try_claim(position);
  if (job == nullptr) {
    drop(list, mask, detail::shadow::kDroppedQueueFull);
    return;
  }
  const std::size_t bytes = detail::shadow::job_bytes(request);
  bool filled = false;
  if (bytes_queued_.fetch_add(bytes, std::memory_order_relaxed) + bytes <= options_.byte_budget) {
    try {
      detail::shadow::fill_job(*job, request);
      filled = true;
    } catch (...) {  // out of memory: dropped like a request over budget
    }
  }
  if (!filled) {
    bytes_queued_.fetch_sub(bytes, std::memory_order_relaxed);
    job->arm_count = 0;  // an empty slot: the consumer skips it
    job->bytes = 0;
    core.queue.publish(position);
    drop(list, mask, detail::shadow::kDroppedOverBudget);
    return;
  }
  job->bytes = bytes;
  job->arm_count = 0;
  for (std::size_t i = 0; i < list.arms.size(); ++i) {
    if (mask & (std::uint32_t{1} << i)) job->arms[job->arm_count++] = list.arms[i].get();
  }
  // Counted before it is published, so a report never sees the job done but not yet mirrored.
  drop(list, mask, detail::shadow::kMirrored);
  core.queue.publish(position);
  wake_consumer(position);
}

SWITCHYARD_INLINE void ShadowPredictor::wake_consumer(std::size_t position) noexcept {
  if (options_.executor) {
    if (!task_scheduled_.load(std::memory_order_acquire)) schedule_executor();
    return;
  }
  // Owned workers poll every idle_poll anyway; a push wakes one early only every 16th position,
  // so a steady stream makes a system call once per 16 requests at most, and none while the
  // workers are busy.
  if ((position & wake_mask_) == 0 && sleepers_.load(std::memory_order_relaxed) != 0) {
    sleep_cv_.notify_one();
  }
}

SWITCHYARD_INLINE void ShadowPredictor::schedule_executor() noexcept {
  if (task_scheduled_.exchange(true, std::memory_order_acq_rel)) return;
  try {
    options_.executor([gate = task_gate_] {
      ShadowPredictor* self = nullptr;
      {
        std::lock_guard lk(gate->mu);
        self = gate->owner;
        if (self == nullptr) return;  // stop() ran: the predictor may be gone
        ++gate->running;
      }
      self->run_executor_task();
      std::lock_guard lk(gate->mu);
      --gate->running;
      gate->cv.notify_all();
    });
  } catch (...) {
    task_scheduled_.store(false, std::memory_order_release);  // the next push schedules again
  }
}

SWITCHYARD_INLINE void ShadowPredictor::run_executor_task() {
  for (;;) {
    run_some(0);
    task_scheduled_.store(false, std::memory_order_seq_cst);
    notify_drained();
    // A push that saw the flag still set did not schedule: look again before leaving.
    if (quit_.load(std::memory_order_acquire) || core_->queue.size_approx() == 0) return;
    if (task_scheduled_.exchange(true, std::memory_order_acq_rel)) return;
  }
}

SWITCHYARD_INLINE void ShadowPredictor::start() {
  detail::MutexLock lk(control_mu_);
  ShadowState st = state_.load();
  if (st == ShadowState::kStopped) throw InvalidArgument("ShadowPredictor: start() after stop()");
  if (st != ShadowState::kIdle) return;
  if (!options_.executor) {
    workers_.reserve(options_.workers);
    for (std::size_t i = 0; i < options_.workers; ++i) {
      workers_.emplace_back([this, i] { worker_loop(i); });
    }
  }
  state_.store(ShadowState::kRunning, std::memory_order_release);
}

SWITCHYARD_INLINE void ShadowPredictor::pause() noexcept {
  ShadowState expected = ShadowState::kRunning;
  state_.compare_exchange_strong(expected, ShadowState::kPaused);
}

SWITCHYARD_INLINE void ShadowPredictor::resume() noexcept {
  ShadowState expected = ShadowState::kPaused;
  state_.compare_exchange_strong(expected, ShadowState::kRunning);
}

SWITCHYARD_INLINE void ShadowPredictor::stop() noexcept {
  std::vector<std::thread> workers;
  {
    detail::MutexLock lk(control_mu_);
    state_.store(ShadowState::kStopped, std::memory_order_release);
    quit_.store(true, std::memory_order_seq_cst);
    workers.swap(workers_);
  }
  { std::lock_guard lk(sleep_mu_); }
  sleep_cv_.notify_all();
  for (auto& t : workers) {
    if (t.joinable()) t.join();
  }
  {  // Executor tasks: later ones do nothing; wait for a running one to finish its call.
    std::unique_lock lk(task_gate_->mu);
    task_gate_->owner = nullptr;
    task_gate_->cv.wait(lk, [&] { return task_gate_->running == 0; });
  }
  // No consumer runs now; what is still queued is discarded and counted. A request that was
  // offered while stop() ran is picked up by a later stop() or the destructor.
  std::size_t position = 0;
  while (Job* job = core_->queue.try_take(position)) {
    for (std::size_t i = 0; i < job->arm_count; ++i) {
      detail::MutexLock alk(job->arms[i]->mu);
      ++job->arms[i]->discarded;
    }
    finish(*job);
    core_->queue.release(position);
  }
  core_->sweep(/*all=*/true);
  notify_drained();
}

SWITCHYARD_INLINE void ShadowPredictor::notify_drained() {
  { std::lock_guard lk(drained_mu_); }  // a drain() between its check and its wait sees this
  drained_cv_.notify_all();
}

SWITCHYARD_INLINE bool ShadowPredictor::drain(std::chrono::nanoseconds timeout) {
  auto drained = [&] {
    return core_->queue.size_approx() == 0 && busy_.load(std::memory_order_seq_cst) == 0;
  };
  if (!options_.executor) {  // wake sleeping workers now rather than at their next poll
    { std::lock_guard lk(sleep_mu_); }
    sleep_cv_.notify_all();
  } else if (core_->queue.size_approx() != 0) {
    schedule_executor();
  }
  bool ok = false;
  {
    std::unique_lock lk(drained_mu_);
    if (drained()) {
      ok = true;
    } else if (state_.load() == ShadowState::kIdle || state_.load() == ShadowState::kStopped) {
      return false;
    } else {
      ok = drained_cv_.wait_for(lk, timeout, drained);
    }
  }
  if (ok) core_->sweep();  // removed versions whose work is done are released before returning
  return ok;
}

SWITCHYARD_INLINE ShadowState ShadowPredictor::state() const noexcept {
  return state_.load(std::memory_order_acquire);
}

SWITCHYARD_INLINE std::uint64_t ShadowPredictor::disagreements_suppressed() const noexcept {
  return signals_suppressed_.load(std::memory_order_relaxed);
}

SWITCHYARD_INLINE void ShadowPredictor::finish(Job& job) noexcept {
  bytes_queued_.fetch_sub(job.bytes, std::memory_order_relaxed);
  job.bytes = 0;
  job.arm_count = 0;
  if (job.capacity > retain_limit_) {  // an unusually large request: give its buffer back
    job.buffer.reset();
    job.capacity = 0;
  }
}

SWITCHYARD_INLINE bool ShadowPredictor::run_some(std::size_t consumer) {
  detail::shadow::Core& core = *core_;
  bool any = false;
  busy_.fetch_add(1, std::memory_order_seq_cst);  // drain() waits while a consumer is in here
  for (;;) {
    // Mark the lowest position this consumer can take before taking (see Core).
    core.marks[consumer].store(core.queue.head_position(), std::memory_order_seq_cst);
    std::size_t position = 0;
    Job* job = quit_.load(std::memory_order_acquire) ? nullptr : core.queue.try_take(position);
    if (job == nullptr) {
      core.marks[consumer].store(detail::shadow::Core::kIdle, std::memory_order_seq_cst);
      break;
    }
    process(*job);
    finish(*job);
    core.queue.release(position);
    any = true;
    if (core.retire_pending.load(std::memory_order_acquire)) {
      core.marks[consumer].store(detail::shadow::Core::kIdle, std::memory_order_seq_cst);
      core.sweep();
    }
  }
  core.sweep();
  busy_.fetch_sub(1, std::memory_order_seq_cst);
  return any;
}

SWITCHYARD_INLINE void ShadowPredictor::worker_loop(std::size_t consumer) {
  using Steady = std::chrono::steady_clock;
  for (;;) {
    if (run_some(consumer)) {
      // Traffic is flowing: look again for a short while before sleeping, so a steady stream
      // never makes a request thread wake this one (a system call on the request path).
      // It polls the head slot alone with a pause between looks, never yield(): a yield is a
      // system call per look, and polling the tail's counter pulled that line away from the
      // producers on every request (both measured: 8.0 -> 11.5 us per request of a 100-tree
      // primary at 100 % mirroring).
      const auto until = Steady::now() + std::chrono::microseconds(50);
      bool more = false;
      while (!more && !quit_.load(std::memory_order_relaxed)) {
        for (int i = 0; i < 256 && !more; ++i) {
          more = core_->queue.head_ready();
          if (!more) detail::cpu_relax();
        }
        if (!more && Steady::now() >= until) break;
      }
      if (more) continue;
    }
    notify_drained();
    if (quit_.load(std::memory_order_acquire)) return;
    std::unique_lock lk(sleep_mu_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (core_->queue.size_approx() == 0 && !quit_.load(std::memory_order_acquire)) {
      sleep_cv_.wait_for(lk, options_.idle_poll);
    }
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

SWITCHYARD_INLINE void ShadowPredictor::process(Job& job) {
  if (job.arm_count == 0) return;  // an empty slot
  // Rebuild the request as views over the job's own copy.
  std::array<NamedTensor, 8> small{};
  std::vector<NamedTensor> large;
  ModelInput input;
  const std::size_t n_inputs = job.input_count;
  auto view = [&](const detail::shadow::TensorSlot& t) {
    return TensorView(t.dtype, job.buffer.get() + t.data_offset, t.shape);
  };
  const detail::shadow::TensorSlot first = job.tensor(0);
  if (n_inputs == 1 && first.name_size == 0) {
    input = ModelInput(view(first));
  } else {
    NamedTensor* named = small.data();
    if (n_inputs > small.size()) {
      large.resize(n_inputs);
      named = large.data();
    }
    for (std::size_t i = 0; i < n_inputs; ++i) {
      const detail::shadow::TensorSlot t = job.tensor(i);
      named[i] = NamedTensor{
          std::string_view(reinterpret_cast<const char*>(job.buffer.get()) + t.name_offset,
                           t.name_size),
          view(t)};
    }
    input = ModelInput(std::span<const NamedTensor>(named, n_inputs));
  }
  for (std::size_t i = 0; i < job.arm_count; ++i) {
    Arm& arm = *job.arms[i];
    if (arm.removed.load(std::memory_order_acquire) || quit_.load(std::memory_order_acquire)) {
      detail::MutexLock lk(arm.mu);
      ++arm.discarded;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
      Prediction shadow = arm.model->predict(input);
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
      compare(arm, job, shadow, ns);
    } catch (...) {
      detail::MutexLock lk(arm.mu);
      ++arm.shadow_errors;
      if (!job.primary_ok) ++arm.primary_errors;
      arm.primary_latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(
          job.primary_latency_ns, 0)));
    }
  }
}

SWITCHYARD_INLINE void ShadowPredictor::compare(Arm& arm, const Job& job,
                                                const Prediction& shadow,
                                                std::int64_t latency_ns) {
  std::optional<ShadowDisagreement> first_disagreement;
  {
    detail::MutexLock lk(arm.mu);
    ++arm.completed;
    arm.shadow_latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(latency_ns, 0)));
    arm.primary_latency.record(
        static_cast<std::uint64_t>(std::max<std::int64_t>(job.primary_latency_ns, 0)));
    if (!job.primary_ok) {
      ++arm.primary_errors;
      return;
    }
    auto disagree = [&](std::size_t row, double p, double s) SWITCHYARD_REQUIRES(arm.mu) {
      ShadowDisagreement d{std::string(job.key()), std::string(job.request_id()),
                           static_cast<std::int64_t>(row), p, s};
      if (!first_disagreement) first_disagreement = d;
      detail::shadow::keep_disagreement(arm, d, options_.disagreements_kept);
    };
    std::optional<detail::shadow::PendingAnswer> answer;
    if (job.label_count != 0 && !shadow.labels.empty()) {
      const std::size_t n = std::min(job.label_count, shadow.labels.size());
      for (std::size_t r = 0; r < n; ++r) {
        const std::int32_t p = job.label(r), s = shadow.labels[r];
        ++arm.compared_rows;
        ++arm.confusion[{p, s}];
        ++arm.label_counts[p].first;
        ++arm.label_counts[s].second;
        if (p == s) {
          ++arm.agreed_rows;
        } else {
          disagree(r, p, s);
        }
      }
      answer = detail::shadow::PendingAnswer{true, static_cast<double>(job.label(0)),
                                             static_cast<double>(shadow.labels[0]), 0};
    } else if (job.rows != 0 && shadow.values.shape()[0] == job.rows &&
               shadow.values.shape()[1] == job.cols) {
      const std::size_t rows = job.rows, cols = job.cols;
      for (std::size_t r = 0; r < rows; ++r) {
        bool agree = true;
        std::size_t first_diff = 0;
        for (std::size_t c = 0; c < cols; ++c) {
          const double p = job.value(r, c), s = shadow.values(r, c);
          const double d = std::fabs(s - p);
          detail::shadow::add_difference(arm.absolute, d, options_.difference_sample,
                                         arm.reservoir_state);
          if (p != 0.0) {
            detail::shadow::add_difference(arm.relative, d / std::fabs(p),
                                           options_.difference_sample, arm.reservoir_state);
          }
          if (!(d <= options_.value_tolerance) && agree) {
            agree = false;
            first_diff = c;
          }
        }
        detail::shadow::add_pair(arm.first_values, job.value(r, 0), shadow.values(r, 0),
                                 options_.difference_sample, arm.reservoir_state);
        ++arm.compared_rows;
        if (agree) {
          ++arm.agreed_rows;
        } else {
          disagree(r, job.value(r, first_diff), shadow.values(r, first_diff));
        }
      }
      answer = detail::shadow::PendingAnswer{false, job.value(0, 0), shadow.values(0, 0), 0};
    }
    if (answer && job.id_size != 0 && options_.label_join_capacity > 0) {
      try {
        answer->at_ns = to_unix_nanos(options_.clock->now());
        auto [it, inserted] = arm.pending.try_emplace(std::string(job.request_id()), *answer);
        if (inserted) {
          arm.pending_order.emplace_back(answer->at_ns, std::string(job.request_id()));
          while (arm.pending.size() > options_.label_join_capacity) {
            arm.pending.erase(arm.pending_order.front().second);
            arm.pending_order.pop_front();
          }
        }
      } catch (...) {
        // Out of memory: this request cannot be labeled; the comparison above stands.
      }
    }
  }
  if (first_disagreement) maybe_signal(arm, *first_disagreement);
}

SWITCHYARD_INLINE void ShadowPredictor::maybe_signal(const Arm& arm,
                                                     const ShadowDisagreement& d) {
  const double rate = options_.disagreement_signals_per_second;
  if (rate <= 0.0 || disagreement.empty()) return;
  {
    detail::MutexLock lk(signal_mu_);
    const std::int64_t now = to_unix_nanos(options_.clock->now());
    if (now > signal_refill_ns_) {
      signal_tokens_ = std::min(rate, signal_tokens_ + rate * static_cast<double>(
                                                           now - signal_refill_ns_) * 1e-9);
      signal_refill_ns_ = now;
    }
    if (signal_tokens_ < 1.0) {
      signals_suppressed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    signal_tokens_ -= 1.0;
  }
  disagreement(ShadowDisagreementEvent{arm.options.model, arm.options.version, d});
}

SWITCHYARD_INLINE std::size_t ShadowPredictor::record_label(std::string_view request_id,
                                                            std::int32_t label) {
  return join_label(request_id, true, static_cast<double>(label));
}

SWITCHYARD_INLINE std::size_t ShadowPredictor::record_label(std::string_view request_id,
                                                            double value) {
  if (!std::isfinite(value)) {
    throw InvalidArgument("ShadowPredictor::record_label: value for request '" +
                          std::string(request_id) + "' is not finite");
  }
  return join_label(request_id, false, value);
}

SWITCHYARD_INLINE std::size_t ShadowPredictor::join_label(std::string_view request_id,
                                                          bool classification, double truth) {
  labels_received_.fetch_add(1, std::memory_order_relaxed);
  const auto list = arms_.load();
  const std::int64_t now = to_unix_nanos(options_.clock->now());
  const std::int64_t ttl = options_.label_ttl.count();
  std::size_t joined = 0;
  for (const auto& a : list->arms) {
    Arm& arm = *a;
    detail::MutexLock lk(arm.mu);
    // Forget what aged out (oldest first), so a late label never joins a stale answer.
    while (!arm.pending_order.empty() && now - arm.pending_order.front().first > ttl) {
      arm.pending.erase(arm.pending_order.front().second);
      arm.pending_order.pop_front();
    }
    auto it = arm.pending.find(request_id);
    if (it == arm.pending.end()) continue;
    const detail::shadow::PendingAnswer answer = it->second;
    arm.pending.erase(it);  // its order entry goes when it reaches the front
    if (answer.classification != classification) continue;
    ++arm.labels_joined;
    ++joined;
    if (classification) {
      const bool p = answer.primary == truth, s = answer.shadow == truth;
      ++arm.labeled_class_rows;
      arm.primary_correct += p ? 1 : 0;
      arm.shadow_correct += s ? 1 : 0;
      if (p && !s) ++arm.primary_right_shadow_wrong;
      if (!p && s) ++arm.primary_wrong_shadow_right;
    } else {
      const double ep = std::fabs(answer.primary - truth), es = std::fabs(answer.shadow - truth);
      ++arm.labeled_value_rows;
      arm.primary_abs_error_sum += ep;
      arm.shadow_abs_error_sum += es;
      detail::shadow::add_pair(arm.abs_errors, ep, es, options_.difference_sample,
                               arm.reservoir_state);
    }
  }
  if (joined == 0) labels_unmatched_.fetch_add(1, std::memory_order_relaxed);
  return joined;
}

SWITCHYARD_INLINE ShadowReport ShadowPredictor::report() const {
  ShadowReport out;
  out.generated_at = options_.clock->now();
  out.state = state();
  out.queue_capacity = core_->queue.capacity();
  out.queue_depth = core_->queue.size_approx();
  out.byte_budget = options_.byte_budget;
  out.bytes_queued = bytes_queued_.load(std::memory_order_relaxed);
  out.labels_received = labels_received_.load(std::memory_order_relaxed);
  out.labels_unmatched = labels_unmatched_.load(std::memory_order_relaxed);
  const auto list = arms_.load();
  const std::int64_t now = to_unix_nanos(out.generated_at);
  for (const auto& a : list->arms) {
    using namespace detail::shadow;  // NOLINT: counter names
    ShadowVersionReport v;
    v.model = a->options.model;
    v.version = a->options.version;
    v.share = a->options.share;
    v.sampling = a->options.sampling;
    v.active = a->expires_at_ns == 0 || now < a->expires_at_ns;
    std::vector<double> primary_values, shadow_values, primary_errors, shadow_errors;
    std::vector<std::uint64_t> primary_counts, shadow_counts;
    {
      detail::MutexLock lk(a->mu);
      v.discarded = a->discarded;
      v.completed = a->completed;
      v.shadow_errors = a->shadow_errors;
      v.primary_errors = a->primary_errors;
      v.compared_rows = a->compared_rows;
      v.agreed_rows = a->agreed_rows;
      for (const auto& [cell, n] : a->confusion) {
        v.confusion.push_back({cell.first, cell.second, n});
      }
      for (const auto& [label, n] : a->label_counts) {
        v.distribution.labels.push_back({label, n.first, n.second});
        primary_counts.push_back(n.first);
        shadow_counts.push_back(n.second);
      }
      primary_values = a->first_values.a;
      shadow_values = a->first_values.b;
      v.absolute_difference = summarize(a->absolute);
      v.relative_difference = summarize(a->relative);
      v.shadow_latency = a->shadow_latency;
      v.primary_latency = a->primary_latency;
      v.disagreements.assign(a->disagreements.begin(), a->disagreements.end());
      LabeledComparison& l = v.labeled;
      l.labels_joined = a->labels_joined;
      l.primary_correct = a->primary_correct;
      l.shadow_correct = a->shadow_correct;
      if (a->labeled_class_rows > 0) {
        l.rows = a->labeled_class_rows;
        l.primary_accuracy =
            static_cast<double>(a->primary_correct) / static_cast<double>(l.rows);
        l.shadow_accuracy = static_cast<double>(a->shadow_correct) / static_cast<double>(l.rows);
      }
      // McNemar: A = shadow, B = primary.
      l.mcnemar = stats::mcnemar_test({.a_right_b_wrong = a->primary_wrong_shadow_right,
                                       .a_wrong_b_right = a->primary_right_shadow_wrong},
                                      stats::McNemarMethod::kExact, a->labeled_class_rows);
      if (a->labeled_value_rows > 0) {
        l.rows += a->labeled_value_rows;
        l.primary_mae = a->primary_abs_error_sum / static_cast<double>(a->labeled_value_rows);
        l.shadow_mae = a->shadow_abs_error_sum / static_cast<double>(a->labeled_value_rows);
      }
      primary_errors = a->abs_errors.a;
      shadow_errors = a->abs_errors.b;
    }
    // The request-path counters are read after the comparisons: every job a worker finished was
    // counted as mirrored before it was published, so completed + shadow_errors + discarded never
    // exceeds mirrored in a report.
    v.mirrored = a->counters.sum(kMirrored);
    v.dropped_queue_full = a->counters.sum(kDroppedQueueFull);
    v.dropped_over_budget = a->counters.sum(kDroppedOverBudget);
    v.dropped_stopped = a->counters.sum(kDroppedStopped);
    v.skipped_paused = a->counters.sum(kSkippedPaused);
    v.sampled = v.mirrored + v.dropped_queue_full + v.dropped_over_budget + v.dropped_stopped;
    const std::uint64_t calls = v.completed + v.shadow_errors;
    v.shadow_error_rate =
        calls ? static_cast<double>(v.shadow_errors) / static_cast<double>(calls) : 0.0;
    v.primary_error_rate =
        calls ? static_cast<double>(v.primary_errors) / static_cast<double>(calls) : 0.0;
    v.agreement_rate = v.compared_rows ? static_cast<double>(v.agreed_rows) /
                                             static_cast<double>(v.compared_rows)
                                       : 0.0;
    // The statistics run outside the version's lock: they sort and allocate.
    if (!primary_counts.empty()) {
      v.distribution.divergence = stats::categorical_drift(primary_counts, shadow_counts,
                                                           stats::DriftMethod::kJensenShannon);
    } else {
      v.distribution.divergence =
          stats::numeric_drift(primary_values, shadow_values, stats::DriftMethod::kJensenShannon);
    }
    if (!primary_errors.empty()) {
      // a = shadow, b = primary: effect < 0 when the shadow errs less.
      v.labeled.paired_t = stats::paired_t_test(shadow_errors, primary_errors);
      v.labeled.wilcoxon = stats::wilcoxon_signed_rank_test(shadow_errors, primary_errors);
    }
    out.versions.push_back(std::move(v));
  }
  return out;
}

}  // namespace switchyard
