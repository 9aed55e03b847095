// SPDX-License-Identifier: Apache-2.0
// TrafficRouter: validates a routing policy, loads its versions, and publishes an immutable table.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/config.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/snapshot_cell.hpp>
#include <switchyard/monitoring/version_stats.hpp>
#include <switchyard/core/model_source.hpp>
#include <switchyard/serving/routing_policy.hpp>
#include <switchyard/serving/routing_table.hpp>

namespace switchyard {

/// Routes requests for one model name between its versions.
///
/// set_policy() validates a policy, loads every version it names through the ModelSource, builds a
/// RoutingTable and publishes it in one atomic step. Availability first: if validation or any load
/// fails, it throws and the previous table keeps serving untouched. Requests read the current
/// table through detail::SnapshotCell: no lock and no shared write on the request path, and after
/// a publish a request thread's next read() only announces the new table in its own slot (no lock,
/// no reference count, nothing freed), so republishing, back to back or for a rollback, costs the
/// request threads next to nothing. A request that starts after set_policy/set_weights returned
/// routes on the new table. Retired tables, and a version's model once it left every table, are
/// released by the publishing thread (at a later publish) or by an exiting request thread, after
/// every thread that routed on them has moved on; never inside a request.
///
/// Per-version statistics live in the router (not in a table), so they survive weight changes.
///
/// Thread-safe: every member may be called concurrently; control-plane calls (set_policy,
/// set_weights, switch_blue_green) are serialised among themselves.
///
/// @code
/// switchyard::TrafficRouter router({.model = "fraud-detection", .source = &registry});
/// switchyard::RoutingPolicy p;
/// p.variants = {{"control", 3, 70}, {"treatment", 4, 30}};
/// p.weight_style = switchyard::WeightStyle::kPercent;
/// router.set_policy(p);
/// auto table = router.read();
/// auto d = table->route("user-42");   // d.variant->version is 3 or 4, always the same for user-42
/// @endcode
class TrafficRouter {
 public:
  struct Options {
    std::string model{};             ///< model name (validated like a registry name)
    ModelSource* source = nullptr;   ///< required; must outlive the router
    /// Versions that left the table keep their statistics for this many later retirements (a
    /// last scrape, late outcome labels), then the router drops them, so memory stays bounded
    /// however many versions come and go. A version that returns starts new counters.
    std::size_t retired_stats = 16;
  };

  explicit SWITCHYARD_API TrafficRouter(Options options);
  TrafficRouter(const TrafficRouter&) = delete;
  TrafficRouter& operator=(const TrafficRouter&) = delete;

  /// Validates, loads and publishes `policy`. Throws InvalidArgument naming the bad field,
  /// NotFound/LoadError/IntegrityError from the source; on any throw nothing changes.
  SWITCHYARD_API void set_policy(RoutingPolicy policy);
  /// Changes the weights of named arms and republishes (other arms keep theirs). Throws
  /// InvalidArgument for an unknown arm or weights that fail validation.
  SWITCHYARD_API void set_weights(const std::map<std::string, double, std::less<>>& weights);
  /// Blue/green: sends all traffic to arm `active` ("blue" or "green") of a blue_green policy; the
  /// other arm stays loaded and becomes the fallback.
  SWITCHYARD_API void switch_blue_green(std::string_view active);
  /// Removes every arm: later requests get kNoActiveModel.
  SWITCHYARD_API void clear();

  /// The current table, borrowed (hot path): valid until this thread's next read() of this router.
  detail::SnapshotCell<RoutingTable>::Ref read() const noexcept { return cell_.read(); }
  /// The current table as a counted reference (null before the first set_policy).
  std::shared_ptr<const RoutingTable> table() const { return cell_.load(); }
  /// The current policy (empty before the first set_policy).
  SWITCHYARD_API RoutingPolicy policy() const;
  /// Statistics of `version`: those of an arm of the current table or of a recently retired one
  /// (see Options::retired_stats); null otherwise. The pointer keeps them alive.
  SWITCHYARD_API std::shared_ptr<VersionStats> stats(std::int64_t version) const;
  /// Versions that have statistics (current arms and recently retired ones), ascending.
  SWITCHYARD_API std::vector<std::int64_t> versions_with_stats() const;
  /// The model name this router serves, interned (valid as long as the router).
  std::string_view model() const noexcept { return *model_name_; }

 private:
  std::string_view intern(std::string_view s) SWITCHYARD_REQUIRES(mu_);
  std::shared_ptr<VersionStats> stats_locked(std::int64_t version) SWITCHYARD_REQUIRES(mu_);
  // Marks versions missing from `table` (null: all) retired; drops the oldest beyond the limit.
  void retire_stats_locked(const RoutingTable* table) SWITCHYARD_REQUIRES(mu_);
  void validate(const RoutingPolicy& p) const;
  void publish_locked(RoutingPolicy policy) SWITCHYARD_REQUIRES(mu_);

  ModelSource* source_;
  mutable detail::Mutex mu_;
  std::set<std::string, std::less<>> interned_ SWITCHYARD_GUARDED_BY(mu_);
  const std::string* model_name_ = nullptr;
  struct StatsEntry {
    std::shared_ptr<VersionStats> stats;
    std::uint64_t retired_at = 0;  // generation of the first table without it; 0 while an arm
  };
  std::size_t retired_stats_;
  std::map<std::int64_t, StatsEntry> stats_ SWITCHYARD_GUARDED_BY(mu_);
  std::uint64_t generation_ SWITCHYARD_GUARDED_BY(mu_) = 0;
  // Released by the publisher only: a republish (a rollback, back-to-back weight changes) costs
  // request threads one announcing store, never a lock or a table's destructor.
  detail::SnapshotCell<RoutingTable> cell_{nullptr,
                                           detail::SnapshotCell<RoutingTable>::Release::kByPublisher};
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/serving/traffic_router-inl.hpp>
#endif
