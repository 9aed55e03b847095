// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of canary_metrics.hpp.
#pragma once

#include <algorithm>
#include <bit>
#include <limits>
#include <new>
#include <set>
#include <utility>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/string_hash.hpp>
#include <switchyard/rollout/canary_metrics.hpp>

namespace switchyard {

namespace detail::canary {

inline constexpr auto kRelaxed = std::memory_order_relaxed;
inline constexpr std::size_t kMaxSample = 1'000'000;
inline constexpr std::size_t kMaxLabelCapacity = std::size_t{1} << 26;
inline constexpr std::uint64_t kLabelledBit = std::uint64_t{1} << 63;
inline constexpr std::uint64_t kVersionMask = 0xffff;  // state: (insert sequence << 16) | index+1
inline constexpr std::size_t kWays = 8;  // label slots per set

/// SplitMix64 step: the reservoirs' and the sample merge's generator (small, fast, seedable).
inline std::uint64_t next_random(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
/// Uniform in [0, n) for n >= 1 (from the top 53 bits; n stays far below 2^53 here).
inline std::uint64_t below(std::uint64_t& state, std::uint64_t n) noexcept {
  const double u = static_cast<double>(next_random(state) >> 11) * 0x1.0p-53;
  return std::min(static_cast<std::uint64_t>(u * static_cast<double>(n)), n - 1);
}
/// How many of `draws` items taken without replacement from `total` come from a group of `group`
/// (a hypergeometric draw), one draw at a time: O(draws), which stays small (reservoir sizes).
inline std::uint64_t hypergeometric(std::uint64_t& state, std::uint64_t total, std::uint64_t group,
                                    std::uint64_t draws) noexcept {
  std::uint64_t hits = 0;
  draws = std::min(draws, total);
  for (std::uint64_t i = 0; i < draws && group > 0; ++i, --total) {
    if (group == total || below(state, total) < group) {
      ++hits;
      --group;
    }
  }
  return hits;
}
/// A request id's 64-bit key in the label tables (never 0, which marks an empty slot).
inline std::uint64_t label_key(std::string_view id) noexcept {
  std::uint64_t s = StringHash{}(id);
  const std::uint64_t k = next_random(s);
  return k == 0 ? 1 : k;
}

// Single-writer updates: the owning thread (or the overflow mutex's holder) is the only writer,
// so a relaxed load and store replace a read-modify-write; readers see whole words.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t v = 1) noexcept {
  c.store(c.load(kRelaxed) + v, kRelaxed);
}
inline void bump(std::atomic<double>& c, double v) noexcept {
  c.store(c.load(kRelaxed) + v, kRelaxed);
}

/// One window's latency sample of one version in one shard. Two alternate by window parity, so a
/// closing window's sample stays readable while the next one fills; `tag` names the window the
/// values belong to (reset lazily by the writer when it first sees a newer window).
struct Reservoir {
  std::atomic<std::uint64_t> tag{0};
  std::atomic<std::uint64_t> seen{0};    // latencies offered in the window
  std::atomic<std::uint64_t> filled{0};  // values[0, filled) are valid
  std::unique_ptr<std::atomic<std::uint64_t>[]> values;
};

struct MetricCells {
  std::atomic<std::uint64_t> count{0};
  std::atomic<double> sum{0.0};
  std::atomic<double> sum_squares{0.0};
};

/// One version's cumulative counters in one shard.
struct VersionCells {
  std::atomic<std::uint64_t> requests{0}, errors{0}, fallbacks{0}, labelled{0}, correct{0};
  std::atomic<std::uint64_t> latency_sum{0}, latency_max{0};
  std::atomic<std::uint64_t> latency_min{std::numeric_limits<std::uint64_t>::max()};
  std::array<std::atomic<std::uint64_t>, LatencyBuckets::kCount> latency{};
  std::unique_ptr<MetricCells[]> metrics;
  std::array<Reservoir, 2> sample;
};

/// A remembered request for label joins: `key` is label_key(id), `state` the version and an
/// insert sequence (so a reused slot never looks like the entry a labeller read), plus
/// kLabelledBit once labelled.
struct LabelSlot {
  std::atomic<std::uint64_t> key{0};
  std::atomic<std::uint64_t> state{0};
};

/// One writer's cells: a request thread's (or the overflow shard's, under its mutex).
struct Shard {
  std::unique_ptr<VersionCells[]> versions;
  std::unique_ptr<LabelSlot[]> labels;
  std::uint64_t label_mask = 0;
  std::uint64_t inserts = 0;  // writer-owned
  std::uint64_t rng = 0;      // writer-owned
  std::atomic<std::uint64_t> ignored{0}, labels_unmatched{0}, labels_duplicate{0};

  // Throws std::bad_alloc.
  Shard(std::size_t n_versions, std::size_t n_metrics, std::size_t sample_capacity,
        std::size_t label_capacity, std::uint64_t seed)
      : versions(new VersionCells[n_versions]), rng(seed) {
    for (std::size_t v = 0; v < n_versions; ++v) {
      versions[v].metrics.reset(new MetricCells[n_metrics]);
      for (auto& r : versions[v].sample) {
        r.values.reset(new std::atomic<std::uint64_t>[sample_capacity]);
      }
    }
    if (label_capacity > 0) {
      labels.reset(new LabelSlot[label_capacity]);
      label_mask = label_capacity - 1;
    }
  }

  // This window's reservoir of `cells`, reset first if it still holds an older window's values.
  static Reservoir& window_sample(VersionCells& cells, std::uint64_t window) noexcept {
    Reservoir& r = cells.sample[window & 1];
    if (r.tag.load(kRelaxed) != window) {
      r.seen.store(0, kRelaxed);
      r.filled.store(0, kRelaxed);
      r.tag.store(window, std::memory_order_release);
    }
    return r;
  }

  void record_latency(VersionCells& c, std::uint64_t ns) noexcept {
    bump(c.latency[LatencyBuckets::index(ns)]);
    bump(c.latency_sum, ns);
    if (ns > c.latency_max.load(kRelaxed)) c.latency_max.store(ns, kRelaxed);
    if (ns < c.latency_min.load(kRelaxed)) c.latency_min.store(ns, kRelaxed);
  }

  // Algorithm R: the window's sample stays a uniform sample of what was offered.
  void offer_sample(VersionCells& c, std::uint64_t window, std::uint64_t ns,
                    std::size_t capacity) noexcept {
    if (capacity == 0) return;
    Reservoir& r = window_sample(c, window);
    const std::uint64_t seen = r.seen.load(kRelaxed) + 1;
    r.seen.store(seen, kRelaxed);
    if (seen <= capacity) {
      r.values[seen - 1].store(ns, kRelaxed);
      r.filled.store(seen, std::memory_order_release);
    } else if (const std::uint64_t j = below(rng, seen); j < capacity) {
      r.values[j].store(ns, kRelaxed);
    }
  }

  // Merges `answered` latencies represented by the random draws `sample` into the window's
  // reservoir: a hypergeometric split decides how many of the kept values come from the batch.
  void offer_batch_sample(VersionCells& c, std::uint64_t window, std::uint64_t answered,
                          std::span<const std::uint64_t> sample, std::size_t capacity) noexcept {
    if (capacity == 0 || answered == 0 || sample.empty()) return;
    Reservoir& r = window_sample(c, window);
    const std::uint64_t seen = r.seen.load(kRelaxed);
    const std::uint64_t filled = r.filled.load(kRelaxed);
    const std::uint64_t total = seen + answered;
    const std::uint64_t keep = std::min<std::uint64_t>(capacity, total);
    std::uint64_t from_batch = hypergeometric(rng, total, answered, keep);
    const std::uint64_t from_old = std::min(keep - from_batch, filled);
    from_batch = std::min<std::uint64_t>(from_batch, sample.size());
    // Partial Fisher-Yates: a uniform choice of the old values to keep, moved to the front.
    for (std::uint64_t i = 0; i < from_old; ++i) {
      const std::uint64_t j = i + below(rng, filled - i);
      const std::uint64_t a = r.values[i].load(kRelaxed);
      r.values[i].store(r.values[j].load(kRelaxed), kRelaxed);
      r.values[j].store(a, kRelaxed);
    }
    // The batch's values are independent draws, so its first ones are as random as any.
    for (std::uint64_t k = 0; k < from_batch; ++k) {
      r.values[from_old + k].store(sample[k], kRelaxed);
    }
    r.seen.store(total, kRelaxed);
    r.filled.store(from_old + from_batch, std::memory_order_release);
  }

  // Remembers a request for record_label() in its key's set of kWays slots: an empty or
  // labelled slot if there is one, else the oldest entry's.
  void remember(std::string_view request_id, std::size_t version_index) noexcept {
    if (labels == nullptr || request_id.empty()) return;
    const std::uint64_t key = label_key(request_id);
    LabelSlot* set = &labels[key & label_mask & ~(kWays - 1)];
    LabelSlot* victim = &set[0];
    std::uint64_t oldest = std::numeric_limits<std::uint64_t>::max();
    for (std::size_t w = 0; w < kWays; ++w) {
      const std::uint64_t state = set[w].state.load(kRelaxed);
      if (set[w].key.load(kRelaxed) == 0 || (state & kLabelledBit)) {
        victim = &set[w];
        break;
      }
      if (state < oldest) {  // states grow with the insert sequence
        oldest = state;
        victim = &set[w];
      }
    }
    // Clear the key first: a labeller that reads the new state re-reads the key and sees 0 or
    // the new key, never the old entry's.
    victim->key.store(0, std::memory_order_release);
    victim->state.store(((++inserts) << 16) | (version_index + 1), std::memory_order_release);
    victim->key.store(key, std::memory_order_release);
  }
};

}  // namespace detail::canary

SWITCHYARD_INLINE CanaryMetrics::CanaryMetrics(Options options)
    : versions_(std::move(options.versions)),
      metric_names_(std::move(options.metrics)),
      sample_capacity_(options.latency_sample),
      label_capacity_(0),
      clock_(options.clock != nullptr ? options.clock : &system_clock()),
      seed_(options.seed) {
  namespace dc = detail::canary;
  const std::string where = "canary metrics: ";
  if (versions_.empty()) throw InvalidArgument(where + "versions is empty; name at least one");
  if (versions_.size() >= dc::kVersionMask) {
    throw InvalidArgument(where + "versions has " + std::to_string(versions_.size()) +
                          " entries; at most 65534");
  }
  std::set<std::int64_t> seen_versions;
  for (std::int64_t v : versions_) {
    if (v <= 0) throw InvalidArgument(where + "versions: version " + std::to_string(v) + " is not > 0");
    if (!seen_versions.insert(v).second) {
      throw InvalidArgument(where + "versions: version " + std::to_string(v) + " is repeated");
    }
  }
  std::set<std::string_view> seen_names;
  for (const auto& m : metric_names_) {
    if (m.empty()) throw InvalidArgument(where + "metrics: a metric name is empty");
    if (!seen_names.insert(m).second) {
      throw InvalidArgument(where + "metrics: metric '" + m + "' is repeated");
    }
  }
  if (sample_capacity_ > dc::kMaxSample) {
    throw InvalidArgument(where + "latency_sample " + std::to_string(sample_capacity_) +
                          " is above the limit of " + std::to_string(dc::kMaxSample));
  }
  if (options.label_capacity > dc::kMaxLabelCapacity) {
    throw InvalidArgument(where + "label_capacity " + std::to_string(options.label_capacity) +
                          " is above the limit of " + std::to_string(dc::kMaxLabelCapacity));
  }
  if (options.label_capacity > 0) {
    label_capacity_ = std::bit_ceil(std::max(options.label_capacity, dc::kWays));
  }
  overflow_ = std::make_unique<Shard>(versions_.size(), metric_names_.size(), sample_capacity_,
                                      label_capacity_, seed_ ^ 0xfeedull);
  baseline_ = std::make_unique<Totals>(zero_totals());
  window_start_ = clock_->now();
  merge_state_ = seed_ ^ 0x6d65726765ull;
}

SWITCHYARD_INLINE CanaryMetrics::~CanaryMetrics() {
  for (auto& s : shards_) delete s.load(std::memory_order_acquire);
}

SWITCHYARD_INLINE CanaryMetrics::Shard* CanaryMetrics::allocate_shard(std::size_t index) noexcept {
  try {
    // Only the thread holding `index` installs its shard; readers see it through the acquire.
    auto* s = new Shard(versions_.size(), metric_names_.size(), sample_capacity_, label_capacity_,
                        seed_ + 0x9E3779B97F4A7C15ull * (index + 1));
    shards_[index].store(s, std::memory_order_release);
    return s;
  } catch (...) {
    return nullptr;  // this thread records in the overflow shard
  }
}

SWITCHYARD_INLINE CanaryMetrics::Shard* CanaryMetrics::shard_for_writing() noexcept {
  const std::size_t i = detail::thread_index();
  if (i >= detail::kMaxThreadSlots) return nullptr;
  Shard* s = shards_[i].load(std::memory_order_acquire);
  return s != nullptr ? s : allocate_shard(i);
}

template <class Write>
void CanaryMetrics::write(Write&& w) noexcept {
  if (Shard* s = shard_for_writing()) {
    w(*s);
    return;
  }
  detail::MutexLock lk(overflow_mu_);
  w(*overflow_);
}

SWITCHYARD_INLINE void CanaryMetrics::on_request(const ObservedRequest& r) noexcept {
  namespace dc = detail::canary;
  const int answered = r.ok ? version_index(r.version) : -1;
  const int failed = r.ok ? (r.fell_back ? version_index(r.failed_version) : -1)
                          : (r.error == ErrorCode::kModelFailed ? version_index(r.version) : -1);
  const bool counted = r.ok ? (r.fell_back ? failed >= 0 || answered >= 0 : answered >= 0)
                            : failed >= 0;
  const std::uint64_t window = window_.load(std::memory_order_acquire);
  write([&](Shard& s) {
    if (!counted) {
      dc::bump(s.ignored);
      return;
    }
    if (failed >= 0) {
      auto& c = s.versions[static_cast<std::size_t>(failed)];
      dc::bump(c.requests);
      dc::bump(c.errors);
    }
    if (answered >= 0) {
      auto& c = s.versions[static_cast<std::size_t>(answered)];
      if (r.fell_back) {
        dc::bump(c.fallbacks);
      } else {
        dc::bump(c.requests);
        const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(r.latency_ns, 0));
        s.record_latency(c, ns);
        s.offer_sample(c, window, ns, sample_capacity_);
      }
      // The label judges the answer the caller got, so it joins the version that gave it.
      s.remember(r.request_id, static_cast<std::size_t>(answered));
    }
  });
}

SWITCHYARD_INLINE bool CanaryMetrics::record_request(std::int64_t version, bool ok,
                                                     std::uint64_t latency_ns,
                                                     std::string_view request_id) noexcept {
  namespace dc = detail::canary;
  const int vi = version_index(version);
  const std::uint64_t window = window_.load(std::memory_order_acquire);
  write([&](Shard& s) {
    if (vi < 0) {
      dc::bump(s.ignored);
      return;
    }
    auto& c = s.versions[static_cast<std::size_t>(vi)];
    dc::bump(c.requests);
    if (ok) {
      s.record_latency(c, latency_ns);
      s.offer_sample(c, window, latency_ns, sample_capacity_);
      s.remember(request_id, static_cast<std::size_t>(vi));
    } else {
      dc::bump(c.errors);
    }
  });
  return vi >= 0;
}

SWITCHYARD_INLINE bool CanaryMetrics::record_batch(std::int64_t version,
                                                   const CanaryBatch& batch) noexcept {
  namespace dc = detail::canary;
  const int vi = version_index(version);
  if (vi < 0 || batch.errors > batch.requests ||
      (batch.latency != nullptr && batch.latency->count() > batch.requests - batch.errors)) {
    return false;
  }
  const std::uint64_t window = window_.load(std::memory_order_acquire);
  write([&](Shard& s) {
    auto& c = s.versions[static_cast<std::size_t>(vi)];
    dc::bump(c.requests, batch.requests);
    dc::bump(c.errors, batch.errors);
    if (batch.latency == nullptr || batch.latency->count() == 0) return;
    const LatencyHistogram& h = *batch.latency;
    for (std::size_t b = 0; b < LatencyBuckets::kCount; ++b) {
      if (const std::uint64_t n = h.bucket_count(b)) dc::bump(c.latency[b], n);
    }
    dc::bump(c.latency_sum, h.sum());
    if (h.max() > c.latency_max.load(dc::kRelaxed)) c.latency_max.store(h.max(), dc::kRelaxed);
    if (h.min() < c.latency_min.load(dc::kRelaxed)) c.latency_min.store(h.min(), dc::kRelaxed);
    s.offer_batch_sample(c, window, h.count(), batch.latency_sample, sample_capacity_);
  });
  return true;
}

SWITCHYARD_INLINE JoinResult CanaryMetrics::record_label(std::string_view request_id,
                                                         bool correct) noexcept {
  namespace dc = detail::canary;
  int joined = -1;
  bool duplicate = false;
  if (label_capacity_ > 0 && !request_id.empty()) {
    const std::uint64_t key = dc::label_key(request_id);
    auto try_join_slot = [&](dc::LabelSlot& slot) {
      if (slot.key.load(std::memory_order_acquire) != key) return false;
      std::uint64_t state = slot.state.load(std::memory_order_acquire);
      if (slot.key.load(std::memory_order_acquire) != key) return false;  // reused meanwhile
      if (state & dc::kLabelledBit) {
        duplicate = true;
        return false;
      }
      // Fails if the writer reused the slot since: the request is then gone (unmatched).
      if (!slot.state.compare_exchange_strong(state, state | dc::kLabelledBit,
                                              std::memory_order_acq_rel)) {
        return false;
      }
      joined = static_cast<int>((state & dc::kVersionMask) - 1);
      return true;
    };
    auto try_join = [&](Shard& s) {
      dc::LabelSlot* set = &s.labels[key & s.label_mask & ~(dc::kWays - 1)];
      for (std::size_t w = 0; w < dc::kWays; ++w) {
        if (try_join_slot(set[w])) return true;
      }
      return false;
    };
    for (auto& p : shards_) {
      Shard* s = p.load(std::memory_order_acquire);
      if (s != nullptr && try_join(*s)) break;
    }
    if (joined < 0) try_join(*overflow_);
  }
  write([&](Shard& s) {
    if (joined >= 0) {
      auto& c = s.versions[static_cast<std::size_t>(joined)];
      dc::bump(c.labelled);
      if (correct) dc::bump(c.correct);
    } else {
      dc::bump(duplicate ? s.labels_duplicate : s.labels_unmatched);
    }
  });
  return joined >= 0 ? JoinResult::kJoined
                     : (duplicate ? JoinResult::kDuplicate : JoinResult::kUnknownRequest);
}

SWITCHYARD_INLINE bool CanaryMetrics::record_labels(std::int64_t version, std::uint64_t labelled,
                                                    std::uint64_t correct) noexcept {
  namespace dc = detail::canary;
  const int vi = version_index(version);
  if (vi < 0 || correct > labelled) return false;
  write([&](Shard& s) {
    auto& c = s.versions[static_cast<std::size_t>(vi)];
    dc::bump(c.labelled, labelled);
    dc::bump(c.correct, correct);
  });
  return true;
}

SWITCHYARD_INLINE bool CanaryMetrics::record(std::int64_t version, std::string_view metric,
                                             double value) noexcept {
  namespace dc = detail::canary;
  const int vi = version_index(version);
  if (vi < 0 || !std::isfinite(value)) return false;
  std::size_t mi = 0;
  while (mi < metric_names_.size() && metric_names_[mi] != metric) ++mi;
  if (mi == metric_names_.size()) return false;
  write([&](Shard& s) {
    auto& m = s.versions[static_cast<std::size_t>(vi)].metrics[mi];
    dc::bump(m.count);
    dc::bump(m.sum, value);
    dc::bump(m.sum_squares, value * value);
  });
  return true;
}

SWITCHYARD_INLINE CanaryMetrics::Totals CanaryMetrics::read_totals() const {
  namespace dc = detail::canary;
  Totals t = zero_totals();
  auto add = [&](const Shard& s) {
    t.ignored += s.ignored.load(dc::kRelaxed);
    t.labels_unmatched += s.labels_unmatched.load(dc::kRelaxed);
    t.labels_duplicate += s.labels_duplicate.load(dc::kRelaxed);
    for (std::size_t vi = 0; vi < versions_.size(); ++vi) {
      const dc::VersionCells& c = s.versions[vi];
      Totals::Version& v = t.versions[vi];
      v.requests += c.requests.load(dc::kRelaxed);
      v.errors += c.errors.load(dc::kRelaxed);
      v.fallbacks += c.fallbacks.load(dc::kRelaxed);
      v.labelled += c.labelled.load(dc::kRelaxed);
      v.correct += c.correct.load(dc::kRelaxed);
      // Only the buckets between the shard's smallest and largest latency can be non-zero; both
      // only ever widen, so a count a racing writer stored outside the range read here is read
      // by a later call, never lost (windows are differences of such reads).
      const std::uint64_t lo = c.latency_min.load(dc::kRelaxed);
      const std::uint64_t hi = c.latency_max.load(dc::kRelaxed);
      std::uint64_t n = 0;
      if (lo <= hi) {
        const std::size_t last = LatencyBuckets::index(hi);
        for (std::size_t b = LatencyBuckets::index(lo); b <= last; ++b) {
          if (const std::uint64_t k = c.latency[b].load(dc::kRelaxed)) {
            v.latency.add_bucket(b, k);
            n += k;
          }
        }
      }
      if (n > 0) {
        v.latency.set_totals(v.latency.count() + n,
                             v.latency.sum() + c.latency_sum.load(dc::kRelaxed),
                             std::min(v.latency.count() ? v.latency.min() : lo, lo),
                             std::max(v.latency.max(), hi));
      }
      for (std::size_t m = 0; m < metric_names_.size(); ++m) {
        v.metrics[m].count += c.metrics[m].count.load(dc::kRelaxed);
        v.metrics[m].sum += c.metrics[m].sum.load(dc::kRelaxed);
        v.metrics[m].sum_squares += c.metrics[m].sum_squares.load(dc::kRelaxed);
      }
    }
  };
  for (const auto& p : shards_) {
    if (const Shard* s = p.load(std::memory_order_acquire)) add(*s);
  }
  detail::MutexLock lk(overflow_mu_);
  add(*overflow_);
  return t;
}

namespace detail::canary {

// One shard's reservoir of a window, copied out.
struct ShardSample {
  std::uint64_t seen = 0;
  std::vector<std::uint64_t> values;
};

inline ShardSample read_sample(const Reservoir& r, std::uint64_t window) {
  ShardSample out;
  if (r.tag.load(std::memory_order_acquire) != window) return out;
  const std::uint64_t filled = r.filled.load(std::memory_order_acquire);
  out.seen = std::max(r.seen.load(kRelaxed), filled);
  out.values.resize(filled);
  for (std::uint64_t i = 0; i < filled; ++i) out.values[i] = r.values[i].load(kRelaxed);
  return out;
}

// A uniform sample of at most `capacity` of all shards' offered values: a hypergeometric split of
// the draws over the shards by how many each was offered, then a uniform choice within each.
inline std::vector<double> merge_samples(std::vector<ShardSample>& parts, std::size_t capacity,
                                         std::uint64_t& rng) {
  std::uint64_t total = 0, available = 0;
  for (const auto& p : parts) {
    total += p.seen;
    available += p.values.size();
  }
  std::uint64_t draws = std::min<std::uint64_t>({capacity, total, available});
  std::vector<double> out;
  out.reserve(draws);
  for (auto& p : parts) {
    if (draws == 0) break;
    std::uint64_t take = hypergeometric(rng, total, p.seen, draws);
    take = std::min<std::uint64_t>(take, p.values.size());
    for (std::uint64_t i = 0; i < take; ++i) {
      const std::uint64_t j = i + below(rng, p.values.size() - i);
      std::swap(p.values[i], p.values[j]);
      out.push_back(static_cast<double>(p.values[i]));
    }
    total -= p.seen;
    draws -= take;
  }
  return out;
}

}  // namespace detail::canary

SWITCHYARD_INLINE void CanaryMetrics::figures(CanaryVersionFigures& f, std::int64_t version,
                                               const Totals::Version& v) {
  f.version = version;
  f.requests = v.requests;
  f.errors = v.errors;
  f.fallbacks = v.fallbacks;
  f.labelled = v.labelled;
  f.correct = v.correct;
  f.latency = v.latency;
  f.metrics = v.metrics;
}

SWITCHYARD_INLINE CanaryMetrics::Totals CanaryMetrics::zero_totals() const {
  Totals t;
  t.versions.resize(versions_.size());
  for (auto& v : t.versions) {
    v.metrics.resize(metric_names_.size());
    for (std::size_t m = 0; m < metric_names_.size(); ++m) v.metrics[m].name = metric_names_[m];
  }
  return t;
}

SWITCHYARD_INLINE CanaryWindow CanaryMetrics::build(bool roll) const {
  namespace dc = detail::canary;
  detail::MutexLock lk(control_mu_);
  const TimePoint now = clock_->now();
  const std::uint64_t window = window_.load(std::memory_order_relaxed);
  // Later requests go to the next window's reservoirs; this one's stay readable (parity).
  if (roll) window_.store(window + 1, std::memory_order_release);
  Totals t = read_totals();

  CanaryWindow w;
  w.index = window;
  w.start = window_start_;
  w.end = now;
  w.ignored_requests = t.ignored;
  w.labels_unmatched = t.labels_unmatched;
  w.labels_duplicate = t.labels_duplicate;
  // Figures hold a latency histogram (about 18 KB): built in place, never moved (a move copies).
  w.cumulative.reserve(versions_.size());
  w.window.reserve(versions_.size());
  for (std::size_t vi = 0; vi < versions_.size(); ++vi) {
    const Totals::Version& cum = t.versions[vi];
    const Totals::Version& base = baseline_->versions[vi];
    figures(w.cumulative.emplace_back(), versions_[vi], cum);
    CanaryVersionFigures& f = w.window.emplace_back();
    figures(f, versions_[vi], cum);
    f.requests -= base.requests;
    f.errors -= base.errors;
    f.fallbacks -= base.fallbacks;
    f.labelled -= base.labelled;
    f.correct -= base.correct;
    f.latency.subtract(base.latency);
    for (std::size_t m = 0; m < f.metrics.size() && m < base.metrics.size(); ++m) {
      f.metrics[m].count -= base.metrics[m].count;
      f.metrics[m].sum -= base.metrics[m].sum;
      f.metrics[m].sum_squares -= base.metrics[m].sum_squares;
    }
    std::vector<dc::ShardSample> parts;
    for (const auto& p : shards_) {
      if (const Shard* s = p.load(std::memory_order_acquire)) {
        parts.push_back(dc::read_sample(s->versions[vi].sample[window & 1], window));
      }
    }
    {
      detail::MutexLock olk(overflow_mu_);
      parts.push_back(dc::read_sample(overflow_->versions[vi].sample[window & 1], window));
    }
    f.latency_sample_ns = dc::merge_samples(parts, sample_capacity_, merge_state_);
  }
  if (roll) {
    *baseline_ = std::move(t);
    window_start_ = now;
  }
  return w;
}

// ---- merging figures (a fleet's replicas) ----------------------------------------------------

SWITCHYARD_INLINE void merge_figures(CanaryVersionFigures& into, const CanaryVersionFigures& other,
                                     std::size_t sample_cap, std::uint64_t seed) {
  namespace dc = detail::canary;
  // Each sample stands for its side's answered requests: the weights of the subsample.
  const std::uint64_t weight_into = std::max<std::uint64_t>(into.latency.count(),
                                                            into.latency_sample_ns.size());
  const std::uint64_t weight_other = std::max<std::uint64_t>(other.latency.count(),
                                                             other.latency_sample_ns.size());
  into.requests += other.requests;
  into.errors += other.errors;
  into.fallbacks += other.fallbacks;
  into.labelled += other.labelled;
  into.correct += other.correct;
  into.latency.merge(other.latency);
  for (const MetricMoments& m : other.metrics) {
    auto it = std::find_if(into.metrics.begin(), into.metrics.end(),
                           [&](const MetricMoments& x) { return x.name == m.name; });
    if (it == into.metrics.end()) {
      into.metrics.push_back(m);
      continue;
    }
    it->count += m.count;
    it->sum += m.sum;
    it->sum_squares += m.sum_squares;
  }
  std::vector<double>& mine = into.latency_sample_ns;
  const std::vector<double>& theirs = other.latency_sample_ns;
  if (mine.size() + theirs.size() <= sample_cap) {
    mine.insert(mine.end(), theirs.begin(), theirs.end());
    return;
  }
  std::uint64_t rng = seed ^ 0x636c7573746572ull;  // "cluster"
  const std::uint64_t draws = sample_cap;
  std::uint64_t from_mine =
      dc::hypergeometric(rng, weight_into + weight_other, weight_into, draws);
  // A side cannot give more values than it holds; the other side makes up the difference.
  from_mine = std::min<std::uint64_t>(from_mine, mine.size());
  std::uint64_t from_theirs = std::min<std::uint64_t>(draws - from_mine, theirs.size());
  from_mine = std::min<std::uint64_t>(draws - from_theirs, mine.size());
  // Partial Fisher-Yates on each side: a uniform choice of the values kept.
  std::vector<double> picked;
  picked.reserve(static_cast<std::size_t>(from_mine + from_theirs));
  for (std::uint64_t i = 0; i < from_mine; ++i) {
    const std::uint64_t j = i + dc::below(rng, mine.size() - i);
    std::swap(mine[i], mine[j]);
    picked.push_back(mine[i]);
  }
  std::vector<double> rest(theirs);
  for (std::uint64_t i = 0; i < from_theirs; ++i) {
    const std::uint64_t j = i + dc::below(rng, rest.size() - i);
    std::swap(rest[i], rest[j]);
    picked.push_back(rest[i]);
  }
  mine = std::move(picked);
}

SWITCHYARD_INLINE void merge_window(CanaryWindow& into, const CanaryWindow& other,
                                    std::size_t sample_cap, std::uint64_t seed) {
  auto merge_list = [&](std::vector<CanaryVersionFigures>& to,
                        const std::vector<CanaryVersionFigures>& from) {
    for (const CanaryVersionFigures& f : from) {
      auto it = std::find_if(to.begin(), to.end(), [&](const CanaryVersionFigures& x) {
        return x.version == f.version;
      });
      if (it == to.end()) {
        to.push_back(f);
      } else {
        merge_figures(*it, f, sample_cap, seed + static_cast<std::uint64_t>(f.version));
      }
    }
  };
  const bool into_empty = into.window.empty() && into.cumulative.empty();
  merge_list(into.window, other.window);
  merge_list(into.cumulative, other.cumulative);
  if (into_empty) {
    into.start = other.start;
    into.end = other.end;
  } else {
    into.start = std::min(into.start, other.start);
    into.end = std::max(into.end, other.end);
  }
  into.ignored_requests += other.ignored_requests;
  into.labels_unmatched += other.labels_unmatched;
  into.labels_duplicate += other.labels_duplicate;
}

SWITCHYARD_INLINE CanaryWindow CanaryMetrics::snapshot() const {
  return build(false);
}

SWITCHYARD_INLINE CanaryWindow CanaryMetrics::roll_window() { return build(true); }

}  // namespace switchyard
