// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of cluster_canary_metrics.hpp.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include <switchyard/core/error.hpp>
#include <switchyard/rollout/canary_window_codec.hpp>
#include <switchyard/rollout/cluster_canary_metrics.hpp>

namespace switchyard {

namespace detail::cluster_canary {

// Replicas present per window, and expected: anyone seen in the `forget_after` windows before.
struct Presence {
  std::map<std::int64_t, std::set<std::string>> present;

  std::vector<std::string> named;  // Options::replicas

  std::set<std::string> expected(std::int64_t window, std::int64_t forget_after,
                                 const std::string& self) const {
    std::set<std::string> out{self};
    out.insert(named.begin(), named.end());
    for (auto it = present.lower_bound(window - forget_after);
         it != present.end() && it->first <= window; ++it) {
      out.insert(it->second.begin(), it->second.end());
    }
    return out;
  }
  std::vector<std::string> missing(std::int64_t window, std::int64_t forget_after,
                                   const std::string& self) const {
    std::vector<std::string> out;
    const auto here = present.find(window);
    for (const std::string& r : expected(window, forget_after, self)) {
      if (here == present.end() || !here->second.count(r)) out.push_back(r);
    }
    return out;
  }
};

inline std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace detail::cluster_canary

SWITCHYARD_INLINE ClusterCanaryMetrics::ClusterCanaryMetrics(Options options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : &system_clock()) {
  const std::string who = "ClusterCanaryMetrics of rollout '" + options_.rollout + "': ";
  if (options_.store == nullptr) throw InvalidArgument(who + "Options::store is null");
  if (options_.metrics == nullptr) throw InvalidArgument(who + "Options::metrics is null");
  if (options_.rollout.empty()) throw InvalidArgument(who + "Options::rollout is empty");
  if (options_.replica.empty()) throw InvalidArgument(who + "Options::replica is empty");
  if (options_.interval <= Duration::zero()) {
    throw InvalidArgument(who + "Options::interval must be positive");
  }
  if (options_.grace < Duration::zero()) throw InvalidArgument(who + "Options::grace is negative");
  if (options_.forget_after < 1) throw InvalidArgument(who + "Options::forget_after must be >= 1");
  if (options_.keep_windows < options_.forget_after + 1) {
    throw InvalidArgument(who + "Options::keep_windows must be > forget_after");
  }
  const std::int64_t now = window_index(clock_->now());
  detail::MutexLock lk(mu_);
  local_window_ = now;
  judged_ = now - 1;
}

SWITCHYARD_INLINE std::int64_t ClusterCanaryMetrics::window_index(TimePoint t) const noexcept {
  if (t <= options_.origin) return 0;
  return static_cast<std::int64_t>((t - options_.origin) / options_.interval);
}

SWITCHYARD_INLINE TimePoint ClusterCanaryMetrics::window_end(std::int64_t index) const noexcept {
  return options_.origin + options_.interval * (index + 1);
}

SWITCHYARD_INLINE void ClusterCanaryMetrics::write_pending(TimePoint now) {
  if (pending_.empty()) return;
  auto tx = options_.store->begin();
  for (const Pending& p : pending_) {
    tx->put_window_figures({options_.rollout, p.window, options_.replica, now, p.figures});
  }
  const std::int64_t newest = pending_.back().window;
  tx->prune_window_figures(options_.rollout, newest - options_.keep_windows + 1);
  tx->commit();
  pending_.clear();
}

SWITCHYARD_INLINE std::optional<std::int64_t> ClusterCanaryMetrics::flush_locked(TimePoint now) {
  const std::int64_t current = window_index(now);
  std::optional<std::int64_t> rolled;
  if (current > local_window_) {
    CanaryWindow w = options_.metrics->roll_window();
    w.index = static_cast<std::uint64_t>(current - 1);
    pending_.push_back({current - 1, encode_canary_window(w)});
    // A store down for long keeps at most keep_windows windows (older ones would be pruned).
    if (pending_.size() > static_cast<std::size_t>(options_.keep_windows)) {
      pending_.erase(pending_.begin());
    }
    rolled = local_window_;
    local_window_ = current;
  }
  write_pending(now);
  return rolled;
}

SWITCHYARD_INLINE std::optional<std::int64_t> ClusterCanaryMetrics::flush() {
  detail::MutexLock lk(mu_);
  return flush_locked(clock_->now());
}

SWITCHYARD_INLINE ClusterWindow ClusterCanaryMetrics::merge_rows(
    std::int64_t first, std::int64_t last, const std::vector<WindowFigures>& rows) const {
  namespace cc = detail::cluster_canary;
  ClusterWindow out;
  out.first_window = first;
  out.last_window = last;
  cc::Presence presence{.present = {}, .named = options_.replicas};
  // Each replica's since-construction figures and counters come from its latest row in the
  // range (adding every row's would count a replica's history once per window).
  std::map<std::string, CanaryWindow> latest;
  bool any = false;
  for (const WindowFigures& row : rows) {  // ordered by (window, replica): a fixed merge order
    presence.present[row.window].insert(row.replica);
    if (row.window < first || row.window > last) continue;
    CanaryWindow w = decode_canary_window(
        row.figures, options_.store->describe() + ": rollout_window_figures row (rollout '" +
                         row.rollout + "', window " + std::to_string(row.window) +
                         ", replica '" + row.replica + "')");
    CanaryWindow& l = latest[row.replica];
    l.start = w.start;
    l.end = w.end;
    l.cumulative = std::move(w.cumulative);
    l.ignored_requests = w.ignored_requests;
    l.labels_unmatched = w.labels_unmatched;
    l.labels_duplicate = w.labels_duplicate;
    w.cumulative.clear();
    w.ignored_requests = w.labels_unmatched = w.labels_duplicate = 0;
    if (!any) {
      out.figures = std::move(w);
      any = true;
    } else {
      merge_window(out.figures, w, options_.latency_sample,
                   static_cast<std::uint64_t>(row.window));
    }
  }
  for (const auto& [replica, l] : latest) {
    merge_window(out.figures, l, options_.latency_sample);
    out.merged.push_back(replica);
  }
  out.figures.index = static_cast<std::uint64_t>(std::max<std::int64_t>(last, 0));
  std::set<std::string> missing;
  for (std::int64_t w = first; w <= last; ++w) {
    for (auto& r : presence.missing(w, options_.forget_after, options_.replica)) {
      missing.insert(std::move(r));
    }
  }
  out.missing.assign(missing.begin(), missing.end());
  return out;
}

SWITCHYARD_INLINE ClusterWindow ClusterCanaryMetrics::merged(std::int64_t first,
                                                             std::int64_t last) {
  const auto rows = options_.store->load_window_figures(
      options_.rollout, first - options_.forget_after, last);
  return merge_rows(first, last, rows);
}

SWITCHYARD_INLINE CanaryWindow ClusterCanaryMetrics::empty_window(TimePoint now,
                                                                  std::string sources) const {
  CanaryWindow w;
  w.start = w.end = now;
  for (std::int64_t v : options_.metrics->versions()) {
    CanaryVersionFigures& f = w.window.emplace_back();
    f.version = v;
    for (const std::string& m : options_.metrics->metric_names()) {
      f.metrics.push_back({m, 0, 0.0, 0.0});
    }
  }
  w.sources = std::move(sources);
  return w;
}

SWITCHYARD_INLINE CanaryWindow ClusterCanaryMetrics::next_window() {
  namespace cc = detail::cluster_canary;
  detail::MutexLock lk(mu_);
  const TimePoint now = clock_->now();
  flush_locked(now);
  const std::int64_t last_ended = window_index(now) - 1;
  if (last_ended <= judged_) return empty_window(now, "");
  const auto rows = options_.store->load_window_figures(
      options_.rollout, judged_ + 1 - options_.forget_after, last_ended);
  cc::Presence presence{.present = {}, .named = options_.replicas};
  for (const WindowFigures& row : rows) presence.present[row.window].insert(row.replica);
  // The ready prefix: each window complete, or its grace over.
  std::int64_t ready = judged_;
  std::vector<std::string> waiting;
  for (std::int64_t w = judged_ + 1; w <= last_ended; ++w) {
    auto missing = presence.missing(w, options_.forget_after, options_.replica);
    if (!missing.empty() && now < window_end(w) + options_.grace) {
      waiting = std::move(missing);
      break;
    }
    ready = w;
  }
  if (ready == judged_) {
    return empty_window(now, "window " + std::to_string(judged_ + 1) +
                                 " waits for replicas " + cc::join(waiting));
  }
  ClusterWindow merged = merge_rows(judged_ + 1, ready, rows);
  judged_ = ready;
  CanaryWindow out = std::move(merged.figures);
  // Versions no replica reported still appear, at zero (the controller looks them up).
  const CanaryWindow zero = empty_window(now, "");
  for (const CanaryVersionFigures& f : zero.window) {
    if (out.find(f.version) == nullptr) out.window.push_back(f);
  }
  out.sources = "cluster windows " + std::to_string(merged.first_window) + "-" +
                std::to_string(merged.last_window) + " merged from " +
                std::to_string(merged.merged.size()) + " replicas (" + cc::join(merged.merged) +
                ")";
  if (!merged.missing.empty()) {
    out.sources += "; missing after the grace: " + cc::join(merged.missing);
  }
  return out;
}

}  // namespace switchyard
