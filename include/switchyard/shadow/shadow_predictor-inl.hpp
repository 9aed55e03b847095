// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of ShadowPredictor: sampling and offering, the workers, the comparison, reports.
#pragma once

#include <switchyard/shadow/shadow_predictor.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include <switchyard/core/error.hpp>

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
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  const std::uint64_t j = (rng >> 11) % d.count;
  if (j < cap) d.sample[j] = v;
}

/// Keeps one disagreement, forgetting the oldest beyond `kept`.
inline void keep_disagreement(Arm& arm, const Job& job, std::size_t row, double primary,
                              double shadow, std::size_t kept) SWITCHYARD_REQUIRES(arm.mu) {
  if (kept == 0) return;
  if (arm.disagreements.size() >= kept) arm.disagreements.pop_front();
  arm.disagreements.push_back(
      {job.key, job.request_id, static_cast<std::int64_t>(row), primary, shadow});
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
    n += sizeof(OwnedTensor) + t.name.size() + t.tensor.size() * dtype_size(t.tensor.dtype());
  }
  if (r.prediction != nullptr) {
    n += r.prediction->values.size() * sizeof(double) +
         r.prediction->labels.size() * sizeof(std::int32_t) +
         r.prediction->confidence.size() * sizeof(double);
  }
  return n;
}

}  // namespace detail::shadow

SWITCHYARD_INLINE const char* to_string(ShadowSampling sampling) noexcept {
  return sampling == ShadowSampling::kRandom ? "random" : "sticky";
}

SWITCHYARD_INLINE const char* to_string(ShadowState state) noexcept {
  switch (state) {
    case ShadowState::kIdle: return "idle";
    case ShadowState::kRunning: return "running";
    case ShadowState::kPaused: return "paused";
    case ShadowState::kStopped: return "stopped";
  }
  return "unknown";
}

SWITCHYARD_INLINE ShadowPredictor::ShadowPredictor(Options options)
    : options_(std::move(options)),
      queue_(options_.queue_capacity == 0 ? 2 : options_.queue_capacity),
      arms_(std::make_shared<const detail::shadow::ArmList>()) {
  auto bad = [](const std::string& field, const std::string& why) {
    throw InvalidArgument("ShadowPredictor option '" + field + "' " + why);
  };
  if (options_.queue_capacity == 0) bad("queue_capacity", "must be at least 1");
  if (options_.byte_budget == 0) bad("byte_budget", "must be at least 1");
  if (options_.workers == 0) bad("workers", "must be at least 1");
  if (options_.clock == nullptr) bad("clock", "must not be null");
  if (!(options_.value_tolerance >= 0.0)) bad("value_tolerance", "must be >= 0");
}

SWITCHYARD_INLINE ShadowPredictor::~ShadowPredictor() { stop(); }

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
  auto next = std::make_shared<detail::shadow::ArmList>(*current);
  next->arms.push_back(std::move(arm));
  next->any_duration = std::any_of(next->arms.begin(), next->arms.end(),
                                   [](const auto& a) { return a->expires_at_ns != 0; });
  arms_.publish(std::move(next));
}

SWITCHYARD_INLINE bool ShadowPredictor::remove_shadow(std::string_view model,
                                                      std::int64_t version) {
  detail::MutexLock lk(control_mu_);
  auto current = arms_.load();
  auto next = std::make_shared<detail::shadow::ArmList>(*current);
  auto it = std::find_if(next->arms.begin(), next->arms.end(), [&](const auto& a) {
    return a->options.model == model && a->options.version == version;
  });
  if (it == next->arms.end()) return false;
  (*it)->removed.store(true, std::memory_order_release);
  next->arms.erase(it);
  next->any_duration = std::any_of(next->arms.begin(), next->arms.end(),
                                   [](const auto& a) { return a->expires_at_ns != 0; });
  arms_.publish(std::move(next));
  return true;
}

SWITCHYARD_INLINE void ShadowPredictor::on_request(const ObservedRequest& request) noexcept {
  const auto list = arms_.read();
  if (!list || list->arms.empty()) return;
  const ShadowState st = state_.load(std::memory_order_acquire);
  if (st == ShadowState::kPaused) {
    for (const auto& a : list->arms) a->skipped_paused.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::int64_t now = list->any_duration ? to_unix_nanos(options_.clock->now()) : 0;
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < list->arms.size(); ++i) {
    const Arm& a = *list->arms[i];
    if (a.expires_at_ns != 0 && now >= a.expires_at_ns) continue;
    if (a.options.share <= 0.0) continue;
    const std::uint64_t h = a.options.sampling == ShadowSampling::kSticky
                                ? bucketing::hash64(a.salt, request.key)
                                : detail::shadow::next_random();
    if (bucketing::unit_interval(h) < a.options.share) mask |= std::uint32_t{1} << i;
  }
  if (mask == 0) return;
  if (st != ShadowState::kRunning) {
    drop(*list, mask, &Arm::dropped_stopped);
    return;
  }
  offer(request, *list, mask);
}

SWITCHYARD_INLINE void ShadowPredictor::drop(const detail::shadow::ArmList& list,
                                             std::uint32_t mask,
                                             std::atomic<std::uint64_t> Arm::*counter) noexcept {
  for (std::size_t i = 0; i < list.arms.size(); ++i) {
    if (mask & (std::uint32_t{1} << i)) {
      ((*list.arms[i]).*counter).fetch_add(1, std::memory_order_relaxed);
    }
  }
}

SWITCHYARD_INLINE void ShadowPredictor::offer(const ObservedRequest& request,
                                              const detail::shadow::ArmList& list,
                                              std::uint32_t mask) noexcept {
  // Cheap refusals first, before anything is copied.
  if (queue_.size_approx() >= queue_.capacity()) {
    drop(list, mask, &Arm::dropped_queue_full);
    return;
  }
  const std::size_t bytes = detail::shadow::job_bytes(request);
  if (bytes_queued_.fetch_add(bytes, std::memory_order_relaxed) + bytes > options_.byte_budget) {
    bytes_queued_.fetch_sub(bytes, std::memory_order_relaxed);
    drop(list, mask, &Arm::dropped_over_budget);
    return;
  }
  Job* job = nullptr;
  try {
    job = new Job;
    job->bytes = bytes;
    for (std::size_t i = 0; i < list.arms.size(); ++i) {
      if (mask & (std::uint32_t{1} << i)) job->arms[job->arm_count++] = list.arms[i];
    }
    job->key.assign(request.key);
    job->request_id.assign(request.request_id);
    job->inputs.resize(request.input->size());
    for (std::size_t i = 0; i < request.input->size(); ++i) {
      const NamedTensor& from = (*request.input)[i];
      detail::shadow::OwnedTensor& to = job->inputs[i];
      to.name.assign(from.name);
      to.dtype = from.tensor.dtype();
      to.shape = from.tensor.shape();
      const std::size_t n = from.tensor.size() * dtype_size(to.dtype);
      to.bytes.resize(n);
      if (n != 0) std::memcpy(to.bytes.data(), from.tensor.data(), n);
    }
    job->primary_ok = request.ok && request.prediction != nullptr;
    if (job->primary_ok) job->primary = *request.prediction;
    job->primary_latency_ns = request.latency_ns;
  } catch (...) {  // out of memory: the request is dropped like one over budget
    delete job;
    bytes_queued_.fetch_sub(bytes, std::memory_order_relaxed);
    drop(list, mask, &Arm::dropped_over_budget);
    return;
  }
  if (!queue_.try_push(job)) {
    delete job;
    bytes_queued_.fetch_sub(bytes, std::memory_order_relaxed);
    drop(list, mask, &Arm::dropped_queue_full);
    return;
  }
  drop(list, mask, &Arm::mirrored);
  // Wake a sleeping worker. The fence pairs with the one in worker_loop (a store-load barrier):
  // either the worker sees this job before it sleeps, or this thread sees it sleeping.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_relaxed) != 0) {
    wake_.fetch_add(1, std::memory_order_release);
    wake_.notify_one();
  }
}

SWITCHYARD_INLINE void ShadowPredictor::start() {
  detail::MutexLock lk(control_mu_);
  ShadowState st = state_.load();
  if (st == ShadowState::kStopped) throw InvalidArgument("ShadowPredictor: start() after stop()");
  if (st != ShadowState::kIdle) return;
  workers_.reserve(options_.workers);
  for (std::size_t i = 0; i < options_.workers; ++i) {
    workers_.emplace_back([this] { worker_loop(); });
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
  wake_.fetch_add(1, std::memory_order_seq_cst);
  wake_.notify_all();
  for (auto& t : workers) {
    if (t.joinable()) t.join();
  }
  // The workers are gone; what is still queued is discarded and counted. A request that was
  // offered while stop() ran is picked up by a later stop() or the destructor.
  Job* job = nullptr;
  while (queue_.try_pop(job)) {
    for (std::size_t i = 0; i < job->arm_count; ++i) {
      detail::MutexLock alk(job->arms[i]->mu);
      ++job->arms[i]->discarded;
    }
    finish(job);
  }
  { std::lock_guard lk(drained_mu_); }
  drained_cv_.notify_all();
}

SWITCHYARD_INLINE bool ShadowPredictor::drain(std::chrono::nanoseconds timeout) {
  auto drained = [&] {
    return queue_.size_approx() == 0 && busy_workers_.load(std::memory_order_seq_cst) == 0;
  };
  std::unique_lock lk(drained_mu_);
  if (drained()) return true;
  if (state_.load() == ShadowState::kIdle || state_.load() == ShadowState::kStopped) return false;
  return drained_cv_.wait_for(lk, timeout, drained);
}

SWITCHYARD_INLINE ShadowState ShadowPredictor::state() const noexcept {
  return state_.load(std::memory_order_acquire);
}

SWITCHYARD_INLINE void ShadowPredictor::finish(Job* job) noexcept {
  bytes_queued_.fetch_sub(job->bytes, std::memory_order_relaxed);
  delete job;  // may release the last reference to a removed version and its model
}

SWITCHYARD_INLINE void ShadowPredictor::worker_loop() {
  for (;;) {
    busy_workers_.fetch_add(1, std::memory_order_seq_cst);
    Job* job = nullptr;
    if (!quit_.load(std::memory_order_acquire) && queue_.try_pop(job)) {
      process(*job);
      finish(job);
      busy_workers_.fetch_sub(1, std::memory_order_seq_cst);
      continue;
    }
    busy_workers_.fetch_sub(1, std::memory_order_seq_cst);
    { std::lock_guard lk(drained_mu_); }  // a drain() between its check and its wait sees this
    drained_cv_.notify_all();
    if (quit_.load(std::memory_order_acquire)) return;
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::uint32_t seen = wake_.load(std::memory_order_acquire);
    if (queue_.size_approx() == 0 && !quit_.load(std::memory_order_acquire)) wake_.wait(seen);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

SWITCHYARD_INLINE void ShadowPredictor::process(Job& job) {
  // Rebuild the request as views over the job's own copy.
  std::array<NamedTensor, 8> small{};
  std::vector<NamedTensor> large;
  ModelInput input;
  const bool single = job.inputs.size() == 1 && job.inputs[0].name.empty();
  auto view = [](const detail::shadow::OwnedTensor& t) {
    return TensorView(t.dtype, t.bytes.data(), t.shape);
  };
  if (single) {
    input = ModelInput(view(job.inputs[0]));
  } else {
    NamedTensor* named = small.data();
    if (job.inputs.size() > small.size()) {
      large.resize(job.inputs.size());
      named = large.data();
    }
    for (std::size_t i = 0; i < job.inputs.size(); ++i) {
      named[i] = NamedTensor{job.inputs[i].name, view(job.inputs[i])};
    }
    input = ModelInput(std::span<const NamedTensor>(named, job.inputs.size()));
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
  detail::MutexLock lk(arm.mu);
  ++arm.completed;
  arm.shadow_latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(latency_ns, 0)));
  arm.primary_latency.record(
      static_cast<std::uint64_t>(std::max<std::int64_t>(job.primary_latency_ns, 0)));
  if (!job.primary_ok) {
    ++arm.primary_errors;
    return;
  }
  const Prediction& primary = job.primary;
  if (!primary.labels.empty() && !shadow.labels.empty()) {
    const std::size_t n = std::min(primary.labels.size(), shadow.labels.size());
    for (std::size_t r = 0; r < n; ++r) {
      const std::int32_t p = primary.labels[r], s = shadow.labels[r];
      ++arm.compared_rows;
      ++arm.confusion[{p, s}];
      if (p == s) {
        ++arm.agreed_rows;
      } else {
        detail::shadow::keep_disagreement(arm, job, r, p, s, options_.disagreements_kept);
      }
    }
    return;
  }
  if (primary.values.size() == 0 || primary.values.shape() != shadow.values.shape()) return;
  const std::size_t rows = primary.values.shape()[0], cols = primary.values.shape()[1];
  for (std::size_t r = 0; r < rows; ++r) {
    bool agree = true;
    std::size_t first_diff = 0;
    for (std::size_t c = 0; c < cols; ++c) {
      const double p = primary.values(r, c), s = shadow.values(r, c);
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
    ++arm.compared_rows;
    if (agree) {
      ++arm.agreed_rows;
    } else {
      detail::shadow::keep_disagreement(arm, job, r, primary.values(r, first_diff),
                                        shadow.values(r, first_diff),
                                        options_.disagreements_kept);
    }
  }
}

SWITCHYARD_INLINE ShadowReport ShadowPredictor::report() const {
  ShadowReport out;
  out.generated_at = options_.clock->now();
  out.state = state();
  out.queue_capacity = queue_.capacity();
  out.queue_depth = queue_.size_approx();
  out.byte_budget = options_.byte_budget;
  out.bytes_queued = bytes_queued_.load(std::memory_order_relaxed);
  const auto list = arms_.load();
  const std::int64_t now = to_unix_nanos(out.generated_at);
  for (const auto& a : list->arms) {
    ShadowVersionReport v;
    v.model = a->options.model;
    v.version = a->options.version;
    v.share = a->options.share;
    v.sampling = a->options.sampling;
    v.active = a->expires_at_ns == 0 || now < a->expires_at_ns;
    v.mirrored = a->mirrored.load();
    v.dropped_queue_full = a->dropped_queue_full.load();
    v.dropped_over_budget = a->dropped_over_budget.load();
    v.dropped_stopped = a->dropped_stopped.load();
    v.skipped_paused = a->skipped_paused.load();
    v.sampled = v.mirrored + v.dropped_queue_full + v.dropped_over_budget + v.dropped_stopped;
    detail::MutexLock lk(a->mu);
    v.discarded = a->discarded;
    v.completed = a->completed;
    v.shadow_errors = a->shadow_errors;
    v.primary_errors = a->primary_errors;
    v.compared_rows = a->compared_rows;
    v.agreed_rows = a->agreed_rows;
    v.agreement_rate = a->compared_rows ? static_cast<double>(a->agreed_rows) /
                                              static_cast<double>(a->compared_rows)
                                        : 0.0;
    for (const auto& [cell, n] : a->confusion) v.confusion.push_back({cell.first, cell.second, n});
    v.absolute_difference = detail::shadow::summarize(a->absolute);
    v.relative_difference = detail::shadow::summarize(a->relative);
    v.shadow_latency = a->shadow_latency;
    v.primary_latency = a->primary_latency;
    v.disagreements.assign(a->disagreements.begin(), a->disagreements.end());
    out.versions.push_back(std::move(v));
  }
  return out;
}

}  // namespace switchyard
