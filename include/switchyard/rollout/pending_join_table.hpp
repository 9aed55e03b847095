// SPDX-License-Identifier: Apache-2.0
// PendingJoinTable: predictions waiting for their late outcomes and labels, joined by request id.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/string_hash.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

namespace switchyard {

/// What a join attempt did.
enum class JoinResult : std::uint8_t {
  kJoined,          ///< attached to the prediction
  kUnknownRequest,  ///< no pending prediction has this id (never exposed, evicted, or swept)
  kExpired,         ///< the prediction was pending but older than the TTL; it is dropped now
  kDuplicate,       ///< this metric (or label) was already recorded for the prediction
  kInvalidValue,    ///< NaN or infinite value: refused, so it cannot poison an arm
  kNotTracked,      ///< the experiment has no metric that uses labels
};

/// The name of a join result, e.g. "unknown_request".
constexpr std::string_view to_string(JoinResult r) noexcept {
  switch (r) {
    case JoinResult::kJoined:
      return "joined";
    case JoinResult::kUnknownRequest:
      return "unknown_request";
    case JoinResult::kExpired:
      return "expired";
    case JoinResult::kDuplicate:
      return "duplicate";
    case JoinResult::kInvalidValue:
      return "invalid_value";
    case JoinResult::kNotTracked:
      return "not_tracked";
  }
  return "unknown";
}


/// The pending-join table's and the exposure path's counters. Thread-safe: a value type.
struct JoinCounters {
  std::uint64_t pending = 0;  ///< predictions waiting for outcomes or a label
  std::uint64_t tracked = 0;  ///< predictions ever entered into the table
  std::uint64_t labels_joined = 0;
  std::uint64_t outcomes_joined = 0;
  std::uint64_t completed = 0;          ///< left the table because everything it waits for arrived
  std::uint64_t evicted = 0;            ///< dropped, oldest first, to keep max_pending
  std::uint64_t expired = 0;            ///< dropped after the TTL
  std::uint64_t expired_unlabeled = 0;  ///< of evicted + expired: never got a label (label metrics)
  std::uint64_t unmatched = 0;         ///< outcomes or labels for an unknown, evicted or expired id
  std::uint64_t duplicate_joins = 0;   ///< a metric or label recorded twice for one prediction
  std::uint64_t duplicate_ids = 0;     ///< an exposure reused a pending request id (not tracked)
  std::uint64_t missing_ids = 0;       ///< exposures without a request id (counted, never joined)
  std::uint64_t unknown_variants = 0;  ///< exposures of a variant that is not an arm (ignored)
  std::uint64_t invalid_values = 0;    ///< NaN or infinite outcome values refused
  std::uint64_t unusable_labels = 0;   ///< joined labels a quality metric could not score
};


namespace detail {

/// The bit a label sets in a pending prediction's `received` mask; bit i < 31 is outcome metric i.
inline constexpr std::uint32_t kLabelBit = 1u << 31;

/// What a successful join reports about its prediction.
struct JoinedPrediction {
  std::uint32_t arm = 0;
  std::int32_t predicted_label = -1;
  double score = std::numeric_limits<double>::quiet_NaN();
};

/// Predictions awaiting their outcomes and labels, by request id, bounded in size and age.
///
/// Striped: an id hashes to one of `stripes` stripes, each a mutex over a hash map whose entries
/// are also linked oldest to newest. Capacity is split over the stripes (their sum is the
/// capacity), so a full stripe evicts its own oldest entry: the bound is exact, "oldest" is per
/// stripe. Expired entries are dropped by the stripe's next insert and by sweep(); a join that
/// finds one expired drops it.
///
/// Thread-safe: every member may be called concurrently. Cost: an insert or a join holds one
/// stripe's mutex for one hash-map operation (an insert allocates one node; ids up to 15 bytes
/// need no second allocation); threads contend only when their ids fall in the same stripe.
class PendingJoinTable {
 public:
  struct Tally {
    std::uint64_t tracked = 0, labels_joined = 0, outcomes_joined = 0, completed = 0, evicted = 0,
                  expired = 0, expired_unlabeled = 0, unmatched = 0, duplicate_joins = 0,
                  duplicate_ids = 0, pending = 0;
  };

  PendingJoinTable(std::size_t capacity, std::size_t stripes, Duration ttl, const Clock& clock,
                   std::uint32_t complete_mask)
      : ttl_(ttl), clock_(clock), complete_mask_(complete_mask) {
    const std::size_t n = std::max<std::size_t>(1, std::min(stripes, capacity));
    stripes_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto s = std::make_unique<Stripe>();
      s->capacity = capacity / n + (i < capacity % n ? 1 : 0);
      stripes_.push_back(std::move(s));
    }
  }

  void insert(std::string_view id, std::uint32_t arm, std::int32_t label, double score) {
    const std::size_t h = StringHash{}(id);
    Stripe& s = *stripes_[h % stripes_.size()];
    const TimePoint now = clock_.now();
    detail::MutexLock lk(s.mu);
    sweep_locked(s, now);
    auto [it, fresh] = s.map.try_emplace(std::string(id));
    if (!fresh) {
      ++s.tally.duplicate_ids;
      return;
    }
    Entry& e = it->second;
    e.expires = now + ttl_;
    e.arm = arm;
    e.predicted_label = label;
    e.score = score;
    e.id = &it->first;
    e.older = s.newest;
    (s.newest ? s.newest->newer : s.oldest) = &e;
    s.newest = &e;
    ++s.tally.tracked;
    if (s.map.size() > s.capacity) {
      ++s.tally.evicted;
      drop_locked(s, *s.oldest);
    }
  }

  /// Records `bit` for `id`; on kJoined describes the prediction in `out`.
  JoinResult join(std::string_view id, std::uint32_t bit, JoinedPrediction& out) {
    Stripe& s = *stripes_[StringHash{}(id) % stripes_.size()];
    const TimePoint now = clock_.now();
    detail::MutexLock lk(s.mu);
    auto it = s.map.find(id);
    if (it == s.map.end()) {
      ++s.tally.unmatched;
      return JoinResult::kUnknownRequest;
    }
    Entry& e = it->second;
    if (e.expires <= now) {
      ++s.tally.unmatched;
      ++s.tally.expired;
      drop_locked(s, e);
      return JoinResult::kExpired;
    }
    if (e.received & bit) {
      ++s.tally.duplicate_joins;
      return JoinResult::kDuplicate;
    }
    e.received |= bit;
    ++(bit == kLabelBit ? s.tally.labels_joined : s.tally.outcomes_joined);
    out = JoinedPrediction{e.arm, e.predicted_label, e.score};
    if ((e.received & complete_mask_) == complete_mask_) {
      ++s.tally.completed;
      unlink_locked(s, e);
      s.map.erase(it);
    }
    return JoinResult::kJoined;
  }

  /// Drops every expired entry now.
  void sweep() {
    const TimePoint now = clock_.now();
    for (auto& stripe : stripes_) {
      Stripe& s = *stripe;
      detail::MutexLock lk(s.mu);
      sweep_locked(s, now);
    }
  }

  Tally tally() const {
    Tally t;
    for (const auto& stripe : stripes_) {
      const Stripe& s = *stripe;
      detail::MutexLock lk(s.mu);
      const Tally& x = s.tally;
      t.tracked += x.tracked;
      t.labels_joined += x.labels_joined;
      t.outcomes_joined += x.outcomes_joined;
      t.completed += x.completed;
      t.evicted += x.evicted;
      t.expired += x.expired;
      t.expired_unlabeled += x.expired_unlabeled;
      t.unmatched += x.unmatched;
      t.duplicate_joins += x.duplicate_joins;
      t.duplicate_ids += x.duplicate_ids;
      t.pending += s.map.size();
    }
    return t;
  }

 private:
  // A pending prediction; entries are also linked oldest to newest for eviction and expiry.
  struct Entry {
    TimePoint expires{};
    std::uint32_t arm = 0;
    std::uint32_t received = 0;  // bit i: outcome metric i recorded; kLabelBit: label recorded
    std::int32_t predicted_label = -1;
    double score = std::numeric_limits<double>::quiet_NaN();
    const std::string* id = nullptr;  // the map's key (nodes never move)
    Entry* older = nullptr;
    Entry* newer = nullptr;
  };
  using Map = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;
  struct alignas(64) Stripe {
    mutable detail::Mutex mu;
    std::size_t capacity = 1;
    Map map SWITCHYARD_GUARDED_BY(mu);
    Entry* oldest SWITCHYARD_GUARDED_BY(mu) = nullptr;
    Entry* newest SWITCHYARD_GUARDED_BY(mu) = nullptr;
    Tally tally SWITCHYARD_GUARDED_BY(mu);
  };

  static void unlink_locked(Stripe& s, Entry& e) SWITCHYARD_REQUIRES(s.mu) {
    (e.older ? e.older->newer : s.oldest) = e.newer;
    (e.newer ? e.newer->older : s.newest) = e.older;
  }
  // Counts an entry leaving unlabelled when labels are awaited, then removes it.
  void drop_locked(Stripe& s, Entry& e) SWITCHYARD_REQUIRES(s.mu) {
    if ((complete_mask_ & kLabelBit) && !(e.received & kLabelBit)) ++s.tally.expired_unlabeled;
    unlink_locked(s, e);
    s.map.erase(s.map.find(std::string_view(*e.id)));
  }
  void sweep_locked(Stripe& s, TimePoint now) SWITCHYARD_REQUIRES(s.mu) {
    while (s.oldest != nullptr && s.oldest->expires <= now) {
      ++s.tally.expired;
      drop_locked(s, *s.oldest);
    }
  }

  std::vector<std::unique_ptr<Stripe>> stripes_;
  Duration ttl_;
  const Clock& clock_;
  std::uint32_t complete_mask_;
};

}  // namespace detail
}  // namespace switchyard
