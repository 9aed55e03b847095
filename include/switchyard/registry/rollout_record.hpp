// SPDX-License-Identifier: Apache-2.0
// RolloutRecord and RolloutLease: a rollout's durable state, and who may drive it, as the store keeps them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/error.hpp>

namespace switchyard {

/// Where a rollout stands. kRunning, kPaused and kRollingBack are live; the other three are
/// final.
enum class RolloutStatus : std::uint8_t {
  kRunning,     ///< steps advance as evaluations pass
  kPaused,      ///< held until resumed (manually, or by a pause step without a duration)
  kPromoted,    ///< the candidate took all traffic and moved to Production
  kRolledBack,  ///< the candidate was taken out of traffic and Rejected
  kAborted,     ///< stopped by hand: the candidate out of traffic, its stage left as it was
  /// A rollback is decided and recorded, and the candidate's weight may not be 0 yet: written
  /// before the router publish, so a controller restarted after a crash finishes the rollback
  /// (weight 0, candidate Rejected) instead of republishing the candidate's weight.
  kRollingBack,
};

/// "running", "paused", "promoted", "rolled_back", "aborted", "rolling_back".
constexpr std::string_view to_string(RolloutStatus s) noexcept {
  switch (s) {
    case RolloutStatus::kRunning: return "running";
    case RolloutStatus::kPaused: return "paused";
    case RolloutStatus::kPromoted: return "promoted";
    case RolloutStatus::kRolledBack: return "rolled_back";
    case RolloutStatus::kAborted: return "aborted";
    case RolloutStatus::kRollingBack: return "rolling_back";
  }
  return "unknown";
}

/// The status named `text` (as to_string writes it), or nullopt.
inline std::optional<RolloutStatus> rollout_status_from_string(std::string_view text) noexcept {
  for (auto s : {RolloutStatus::kRunning, RolloutStatus::kPaused, RolloutStatus::kPromoted,
                 RolloutStatus::kRolledBack, RolloutStatus::kAborted,
                 RolloutStatus::kRollingBack}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

/// True for promoted, rolled back and aborted: nothing moves any more.
constexpr bool is_final(RolloutStatus s) noexcept {
  return s == RolloutStatus::kPromoted || s == RolloutStatus::kRolledBack ||
         s == RolloutStatus::kAborted;
}

/// One decision a controller took, kept in the rollout's record in the order taken.
/// Thread-safe: a value type.
struct RolloutDecision {
  TimePoint at{};
  std::int64_t step = 0;  ///< index of the plan step it was taken at
  /// "start", "advance", "pause", "resume", "promote", "rollback", "abort", "retry", "skip",
  /// "release_previous" (a promoted rollout's previous version no longer kept for a switch-back).
  std::string action;
  std::string actor;
  std::string reason;

  friend bool operator==(const RolloutDecision&, const RolloutDecision&) = default;
};

/// A rollout's durable state: the plan, the step it is at, since when, the weights it published
/// and every decision so far. A controller writes it in the same store transaction as the
/// registry change it causes (ModelRegistry's TransitionOptions::in_transaction), so a crash
/// leaves both or neither; a controller restarted on the same store resumes from it.
/// Thread-safe: a value type.
struct RolloutRecord {
  std::string deployment;             ///< the key: which deployment rolls out (usually the model)
  std::string model;
  std::int64_t stable_version = 0;
  std::int64_t candidate_version = 0;
  std::string plan_json;              ///< the plan as JSON text, kept verbatim
  RolloutStatus status = RolloutStatus::kRunning;
  std::int64_t step = 0;              ///< index of the current plan step
  TimePoint started_at{};
  TimePoint step_started_at{};
  TimePoint updated_at{};
  /// The arms and percentages last published to the router, e.g. {"stable": 75, "canary": 25}.
  std::map<std::string, double> weights;
  std::int64_t failures = 0;              ///< failed evaluations in the rollout so far
  std::int64_t consecutive_failures = 0;  ///< failed evaluations since the last pass
  std::int64_t revision = 0;              ///< increased by every write (a controller's check)
  std::vector<RolloutDecision> decisions;
  /// What the controller judged the current step on so far (its cumulative counts), as of this
  /// write, in the controller's own text form; empty when the step keeps none. A controller
  /// resumed from this record continues the step's sequence from it. Missing in records written
  /// before it existed (read as empty).
  std::string step_state{};

  friend bool operator==(const RolloutRecord&, const RolloutRecord&) = default;
};

/// The right to drive one deployment's rollout: one owner at a time, until `expires_at` on the
/// controller's clock. `token` is a fencing token: it grows with every new holder, and every write
/// of rollout state checks it (require_rollout_lease), so a controller that lost its lease while
/// paused can no longer write. Thread-safe: a value type.
struct RolloutLease {
  std::string deployment;
  std::string owner;
  TimePoint expires_at{};
  std::int64_t token = 0;

  friend bool operator==(const RolloutLease&, const RolloutLease&) = default;
};

/// Another controller holds the lease: holder() names it, expires_at() says until when.
/// Thread-safe: immutable after construction.
class LeaseHeld : public Error {
 public:
  LeaseHeld(const std::string& message, std::string holder, TimePoint expires_at)
      : Error(ErrorCode::kLeaseHeld, message),
        holder_(std::move(holder)),
        expires_at_(expires_at) {}
  const std::string& holder() const noexcept { return holder_; }
  TimePoint expires_at() const noexcept { return expires_at_; }

 private:
  std::string holder_;
  TimePoint expires_at_;
};

}  // namespace switchyard
