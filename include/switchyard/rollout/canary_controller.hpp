// SPDX-License-Identifier: Apache-2.0
// CanaryController: runs a CanaryPlan against one Deployment and the registry, durably.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/promotion_evidence.hpp>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/rollout_record.hpp>
#include <switchyard/rollout/canary_judge.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/rollout/canary_plan.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/serving/deployment.hpp>

namespace switchyard {

/// How one guardrail came out in one evaluation.
enum class GuardrailState : std::uint8_t {
  kPassed,     ///< judged, within its threshold
  kFailed,     ///< judged, beyond its threshold
  kNotJudged,  ///< too few samples on a side (or no value, e.g. no labels or no drift provider)
};
/// "passed", "failed", "not_judged".
SWITCHYARD_API std::string_view to_string(GuardrailState s) noexcept;

/// One guardrail's values in one evaluation window, candidate against stable.
/// Thread-safe: a value type.
struct GuardrailCheck {
  std::string key;  ///< the guardrail's key, e.g. "error_rate_increase"
  GuardrailState state = GuardrailState::kNotJudged;
  double stable = 0.0;     ///< stable's value in the metric's unit (ms for latency)
  double candidate = 0.0;  ///< the candidate's value
  double limit = 0.0;      ///< the threshold in the compared unit (relative ones resolved)
  std::uint64_t stable_samples = 0;
  std::uint64_t candidate_samples = 0;
  std::string reason;  ///< why it failed or was not judged; empty when it passed
};

/// What one evaluation concluded.
enum class AnalysisVerdict : std::uint8_t {
  kPass,          ///< every guardrail (and the judge, in an analysis step) passed
  kFail,          ///< a guardrail or the judge failed: counted against the failure limits
  kInconclusive,  ///< too few samples, or the judge undecided: the step holds
};
/// "pass", "fail", "inconclusive".
SWITCHYARD_API std::string_view to_string(AnalysisVerdict v) noexcept;

/// What evaluate() (or a manual action) did.
enum class RolloutAction : std::uint8_t {
  kNone,        ///< nothing to do (no rollout, or it is final)
  kHeld,        ///< the step holds (waiting for time, samples or a decision)
  kAdvanced,    ///< moved to the next step(s)
  kPaused,      ///< the rollout is paused and waits for resume()
  kPromoted,    ///< the candidate took all traffic and moved to Production
  kRolledBack,  ///< the candidate left traffic and was Rejected
  kAborted,     ///< stopped by hand; the candidate left traffic
};
/// "none", "held", "advanced", "paused", "promoted", "rolled_back", "aborted".
SWITCHYARD_API std::string_view to_string(RolloutAction a) noexcept;

/// Payload of CanaryController::analysis: one evaluation's outcome. Thread-safe: a value type.
struct RolloutAnalysisEvent {
  std::string deployment;
  std::string model;
  std::int64_t candidate_version = 0;
  std::int64_t step = 0;
  TimePoint at{};
  AnalysisVerdict verdict = AnalysisVerdict::kInconclusive;
  std::vector<GuardrailCheck> checks;
  /// The judge's verdict and score in an analysis step; empty otherwise.
  std::optional<JudgeVerdict> judge_verdict{};
  double judge_score = 0.0;
  std::int64_t failures = 0;              ///< after this evaluation
  std::int64_t consecutive_failures = 0;  ///< after this evaluation
  std::string summary;                    ///< one line
  /// One JSON object with every field (times as Unix nanoseconds), for a webhook or a log line.
  SWITCHYARD_API std::string to_json() const;
};

/// Payload of CanaryController::step_advanced. Thread-safe: a value type.
struct RolloutStepEvent {
  std::string deployment;
  std::string model;
  std::int64_t candidate_version = 0;
  std::int64_t from_step = 0;
  std::int64_t to_step = 0;  ///< == the plan's step count: every step is done
  double candidate_weight = 0.0;  ///< percent of traffic on the candidate now
  std::string actor;
  std::string reason;
  TimePoint at{};
  SWITCHYARD_API std::string to_json() const;
};

/// Payload of CanaryController::paused, promoted, rolled_back (and aborted, on rolled_back with
/// status kAborted). Thread-safe: a value type.
struct RolloutStatusEvent {
  std::string deployment;
  std::string model;
  std::int64_t stable_version = 0;
  std::int64_t candidate_version = 0;
  std::int64_t step = 0;
  RolloutStatus status = RolloutStatus::kRunning;  ///< the status it entered
  std::string actor;
  std::string reason;
  TimePoint at{};
  SWITCHYARD_API std::string to_json() const;
};

/// What a host hook receives. Thread-safe: a value type (views valid during the call).
struct RolloutHookContext {
  std::string_view hook;  ///< the hook's name as the plan gives it
  std::string_view stage;  ///< "pre_rollout", "confirm_promotion", "post_rollout", "on_rollback"
  std::string_view deployment;
  std::string_view model;
  std::int64_t stable_version = 0;
  std::int64_t candidate_version = 0;
  std::string_view reason;  ///< on_rollback / post_rollout: why the rollout ended
};

/// A host function a plan names (Flagger's webhooks, in process). Return false to refuse:
/// pre_rollout aborts the start, confirm_promotion holds the promotion; the others' answer is
/// recorded only. What it throws counts as false.
using RolloutHook = std::function<bool(const RolloutHookContext&)>;

/// Runs one CanaryPlan on one Deployment: publishes the steps' weights to the deployment's
/// router, evaluates guardrails (and the judge in analysis steps) on each evaluate(), and
/// advances, holds, pauses, promotes or rolls back, keeping its state in the registry store.
///
/// Traffic: the router gets two arms, "stable" (the Production version) and "canary" (the
/// candidate), in percent, with "stable" as the fallback arm, so a candidate that throws is
/// answered by stable. Every weight change is one atomic publish; a rollback sets the canary to 0
/// before anything else.
///
/// Evaluation: in a pause step with the plan's default RuleJudgement::kSequential, the
/// comparative rules (`_increase`, `_drop`; the plan's and the step's) are judged by a CanaryJudge
/// on the data since the step began, with always-valid tests at the plan's judgement_alpha split
/// among them: a rule fails only once the evidence shows the candidate worse than stable by more
/// than its threshold; the pause ends with its duration. Error rate and accuracy are judged as
/// proportions, host metrics as moments, and latency_p99 as the share of candidate answers slower
/// than stable's p99 plus the threshold, against stable's 1 % above its own p99. With
/// RuleJudgement::kPerWindow, and always for absolute rules and prediction drift, a rule compares
/// candidate with stable over the window since the previous evaluate()
/// (CanaryMetrics::roll_window()): error rate, latency p99 (ms), accuracy once labels arrive,
/// prediction drift from Options::drift, and host metrics (CanaryMetrics' record() moments, else
/// Options::host_metric). A rule is judged only once each side has its min_samples; until then
/// the step holds. Analysis steps judge their comparative rules with a CanaryJudge the same way
/// (Options::judge's alpha and pass rule; a pass ends the step). A sequential failure stands for
/// the rest of the step. A failed evaluation counts against the plan's failure_limit and
/// consecutive_failure_limit; one beyond either rolls back.
///
/// Experiment plans (RolloutStrategy::kExperiment, seed 003's A/B form): the treatment's share
/// is published at once and held; each arm names a version of the deployment's model by its
/// `version`, else by its `model` as one of the model's aliases (seed 003's
/// `recommendation-v6`), else by the model's own name (control: the Production version;
/// treatment: the newest Staging version). The decision is the plan's Experiment's (see
/// experiment()), once every arm has min_sample_size exposures: ship_treatment promotes (or,
/// with auto_promote off, the default for experiments, pauses for promote_now()), keep_control
/// rolls back with the report as evidence, an invalid experiment (sample ratio mismatch)
/// pauses, and no decision by the end of the duration rolls back. The plan's guardrails still
/// apply on every evaluation; a promotion carries the report as "ab_test" evidence.
///
/// Durability: the RolloutRecord (plan JSON, step, start times, weights, counters, decisions)
/// is written to the registry store on every change, in the same transaction as the registry
/// change it causes (promotion, rejection), after checking this controller's lease (fencing).
/// A rollback moves traffic first (Options::rollback_order, default RollbackOrder::kPublishFirst):
/// the candidate's 0 % is published within microseconds of the decision, then recorded as
/// kRolledBack with the rejection in one transaction. With RollbackOrder::kRecordFirst it is
/// recorded as RolloutStatus::kRollingBack (canary weight 0) before the publish, at the cost of
/// one store commit (an fsync with SQLite) before traffic moves. An abort is recorded before its
/// publish.
/// A controller constructed on the same store after a crash calls resume(): it takes the lease,
/// republishes the persisted weights and continues at the persisted step: no step is replayed
/// or skipped. Only one controller drives a deployment: start() and resume() throw LeaseHeld
/// naming the holder while another controller's lease is live.
///
/// Thread-safety: every member may be called concurrently; calls are serialised. Signals are
/// emitted after the call's work, outside the controller's lock; slots may call the controller.
/// Hooks run under the lock and must not call the controller. Neither copyable nor movable.
///
/// @code
/// auto metrics = std::make_shared<switchyard::CanaryMetrics>(
///     switchyard::CanaryMetrics::Options{.versions = {stable, candidate}, .clock = &clock});
/// deployment.add_observer(metrics);
/// switchyard::CanaryController canary({.deployment = &deployment, .registry = &registry,
///                                      .metrics = metrics.get(), .owner = "scorer-1"});
/// canary.rolled_back.connect([](const auto& e) { notify(e.to_json()); });
/// canary.start(switchyard::load_canary_plan("fraud-canary.yaml"));
/// every(plan.interval, [&] { canary.evaluate(); });
/// @endcode
/// When a rollback's traffic moves relative to its durable record (CanaryController::Options).
enum class RollbackOrder {
  /// Publish 0 % first, then write the rollback and the rejection in one transaction: traffic is
  /// safe whatever the store's commit costs (SQLite: an fsync, milliseconds). A crash between
  /// the two leaves the rollout recorded at its step: the resumed controller republishes that
  /// step's weight and rolls back again once the step's rules see the failure again.
  kPublishFirst,
  /// Record kRollingBack (canary weight 0) first, then publish: a crash between the two never
  /// brings the candidate's weight back on resume, at the cost of one commit before traffic moves.
  kRecordFirst,
};

class CanaryController {
 public:
  struct Options {
    Deployment* deployment = nullptr;  ///< required; its router is driven by this controller
    ModelRegistry* registry = nullptr;  ///< required; its store keeps the rollout state
    /// Required for evaluate(): the figures guardrails read. Must watch the stable and candidate
    /// versions; attach it to the deployment (or feed it, as the simulator does).
    CanaryMetrics* metrics = nullptr;
    const Clock* clock = nullptr;  ///< null: the registry's clock
    /// The rollout's key in the store. Empty: the deployment's model name.
    std::string rollout_name{};
    /// This controller's name: the lease owner and the actor of automatic decisions.
    std::string owner = "canary-controller";
    /// How long a lease lasts without a write; every write renews it. Default 5 minutes.
    Duration lease_ttl = std::chrono::minutes(5);
    /// The prediction-distribution drift of candidate against stable (e.g. from a DriftMonitor),
    /// or nullopt when not known yet. Null: prediction_drift guardrails are never judged.
    std::function<std::optional<double>(std::int64_t stable, std::int64_t candidate)> drift{};
    /// A host metric of a version when CanaryMetrics does not record it (queue depth, CPU).
    std::function<std::optional<double>(std::string_view metric, std::int64_t version)>
        host_metric{};
    /// Aliases moved to the candidate in the promotion's transaction (e.g. {"champion"}).
    std::vector<std::string> promote_aliases{};
    /// Evidence added to the promotion beside the canary's own (a load test, an owner's
    /// sign-off), for a PromotionPolicy that requires them.
    std::vector<PromotionEvidence> promotion_evidence{};
    /// Custom metric names the plan may use (passed to parse_canary_plan on resume()).
    std::vector<std::string> custom_metrics{};
    /// Judge settings for analysis steps (alpha, scores, pass rule) and for sequentially judged
    /// pause steps (tuning parameter, scores; their alpha is the plan's judgement_alpha split
    /// among the rules and their pass rule kNotRejected); its metrics are ignored: they come from
    /// the step's guardrails.
    JudgeConfig judge{};
    /// Where a throwing signal slot is reported (null: ignored). For an experiment plan also the
    /// hub the Deployment emits predictions on: the plan's Experiment is attached to it for its
    /// exposures (null: the host attaches experiment() itself).
    EventHub* events = nullptr;
    /// Called just before each publish to the router, with the arms' new percentages (an audit
    /// line, a trace span). What it throws propagates out of the controller's call and that
    /// publish does not happen: the state is then what a process stopped at that point leaves
    /// in the store (a test's crash point). Null: nothing is called.
    std::function<void(const std::map<std::string, double>& weights)> before_publish{};
    /// Whether a rollback publishes before or after its first durable write (see RollbackOrder).
    RollbackOrder rollback_order = RollbackOrder::kPublishFirst;
    /// Where each evaluate() gets its window instead of metrics->roll_window(), e.g. a fleet's
    /// merged figures (ClusterCanaryMetrics::next_window()); the window's `sources`, when set, is
    /// added to the evaluation's summary. What it throws propagates out of evaluate().
    std::function<CanaryWindow()> window_source{};
  };

  /// Throws InvalidArgument naming a missing required option.
  SWITCHYARD_API explicit CanaryController(Options options);
  SWITCHYARD_API ~CanaryController();
  CanaryController(const CanaryController&) = delete;
  CanaryController& operator=(const CanaryController&) = delete;

  /// Registers the host function a plan's hooks name as `name`. Replaces one of the same name.
  SWITCHYARD_API void set_hook(std::string name, RolloutHook hook);

  /// Starts rolling out `plan`: validates it, checks that every hook it names is set and that
  /// the candidate is in Staging, takes the lease, runs the pre_rollout hooks, publishes the
  /// first weights and records the rollout. Throws InvalidArgument (plan, hooks), NotFound
  /// (versions), InvalidTransition (candidate not in Staging; a live rollout already stored for
  /// this deployment: use resume()), LeaseHeld (another controller drives it). A pre_rollout hook
  /// that refuses records the rollout as aborted and returns kAborted.
  SWITCHYARD_API RolloutAction start(const CanaryPlan& plan);
  /// Continues the rollout stored for this deployment after a restart: takes the lease (LeaseHeld
  /// when another controller holds it), republishes the persisted weights and continues at the
  /// persisted step; a rollout stored as rolling back is finished (canary weight 0, candidate
  /// Rejected, rolled_back emitted). Returns false when the store holds no rollout for this
  /// deployment.
  SWITCHYARD_API bool resume_from_store();

  /// One evaluation (call it every plan.interval): guardrails, the judge in analysis steps, the
  /// failure limits, then advance, hold, pause, promote or roll back. Cheap when nothing changes
  /// (no store write). Returns what it did. Throws LeaseHeld when another controller took over.
  /// On a promoted rollout it releases the previous version once the plan's keep_previous_for is
  /// over (one publish without it, a "release_previous" decision) and returns kNone.
  SWITCHYARD_API RolloutAction evaluate();

  // ---- manual actions (recorded as decisions with `actor`) -----------------------------------

  /// Holds the rollout where it is until resume(). InvalidTransition unless running.
  SWITCHYARD_API void pause(std::string_view actor, std::string_view reason = {});
  /// Continues a paused rollout (ends a pause step without a duration). InvalidTransition
  /// unless paused.
  SWITCHYARD_API RolloutAction resume(std::string_view actor);
  /// Stops the rollout: canary weight to 0, status aborted, the candidate stays in Staging.
  SWITCHYARD_API void abort(std::string_view actor, std::string_view reason);
  /// Starts an aborted rollout again from its first step with the failure counters cleared.
  /// InvalidTransition unless aborted.
  SWITCHYARD_API RolloutAction retry(std::string_view actor);
  /// Ends the current step as if it had passed and goes on. InvalidTransition unless live.
  SWITCHYARD_API RolloutAction skip_step(std::string_view actor);
  /// Promotes now, skipping the remaining steps (confirm_promotion hooks and the promotion
  /// policy still apply). InvalidTransition unless live.
  SWITCHYARD_API RolloutAction promote_now(std::string_view actor);
  /// Rolls back now (or finishes a rollback a failed write interrupted). InvalidTransition unless
  /// live, or promoted with the previous version still kept: then it switches back (blue/green):
  /// one publish gives the previous version all traffic, ModelRegistry::rollback() returns it to
  /// Production and archives the promoted one, and the rollout is recorded as rolled back. The
  /// previous version is kept for the plan's keep_previous_for after the promotion (none: until
  /// the next rollout); after that InvalidTransition.
  SWITCHYARD_API void rollback(std::string_view actor, std::string_view reason);
  /// Gives up the lease (another controller may take over at once). The rollout stays stored.
  SWITCHYARD_API void release();
  /// The heartbeat: extends this controller's lease to now + lease_ttl without writing the
  /// rollout's record (its revision stays), so a leader that has nothing to decide keeps its
  /// rollout while a standby (RolloutStandby) waits for the lease to expire. Returns the renewed
  /// lease, or nullopt when this controller holds none. Throws LeaseHeld when another controller
  /// took the rollout over (this one then forgets it, as on any write), StorageError when the
  /// store fails (the lease stays as it was).
  SWITCHYARD_API std::optional<RolloutLease> renew_lease();

  // ---- state -----------------------------------------------------------------------------------

  /// The rollout's record as last written (nullopt before start()/resume_from_store()).
  SWITCHYARD_API std::optional<RolloutRecord> record() const;
  /// The plan being run (nullopt before start()/resume_from_store()).
  SWITCHYARD_API std::optional<CanaryPlan> plan() const;
  /// The lease this controller holds (nullopt before it took one).
  SWITCHYARD_API std::optional<RolloutLease> lease() const;
  /// What the completed (or failed) rollout shows, as the registry's promotion evidence: kind
  /// "canary", passed when promoted, the record (without the plan) as detail. Throws
  /// InvalidTransition before start()/resume_from_store().
  SWITCHYARD_API PromotionEvidence evidence() const;
  /// The key this controller's rollout has in the store.
  const std::string& rollout_name() const noexcept { return name_; }
  /// An experiment plan's A/B test (null otherwise, and before start()/resume_from_store()):
  /// its arms are the router's "stable" (the control) and "canary" (the treatment). The host
  /// feeds it: attach() it to the EventHub the Deployment emits on (done here when
  /// Options::events is set), record_outcome() and record_label() as outcomes arrive. Its
  /// figures live in memory: a controller resumed after a restart starts a new sample.
  SWITCHYARD_API std::shared_ptr<Experiment> experiment() const;

  // ---- notifications (emitted outside the lock, after the change is durable) -----------------

  EventHub::Signal<RolloutStepEvent> step_advanced;
  EventHub::Signal<RolloutStatusEvent> paused;
  EventHub::Signal<RolloutStatusEvent> promoted;
  /// Rollbacks, and aborts (status kAborted).
  EventHub::Signal<RolloutStatusEvent> rolled_back;
  EventHub::Signal<RolloutAnalysisEvent> analysis;

 private:
  struct StepData;
  struct Pending;

  RolloutAction enter_step(Pending& out, std::int64_t step, std::string_view actor,
                           std::string_view reason) SWITCHYARD_REQUIRES(mu_);
  RolloutAction do_promote(Pending& out, std::string_view actor, std::string_view reason)
      SWITCHYARD_REQUIRES(mu_);
  void do_rollback(Pending& out, std::string_view actor, std::string_view reason,
                   const std::string& analysis_json) SWITCHYARD_REQUIRES(mu_);
  // The part of a rollback after its kRollingBack record: traffic, rejection, final record.
  void finish_rollback(Pending& out, std::string_view actor, std::string_view reason,
                       const std::string& analysis_json) SWITCHYARD_REQUIRES(mu_);
  // The reason of the rollback recorded last (for a rollback finished after a restart).
  std::string rollback_reason() const SWITCHYARD_REQUIRES(mu_);
  void do_pause(Pending& out, std::string_view actor, std::string_view reason)
      SWITCHYARD_REQUIRES(mu_);
  RolloutAnalysisEvent analyse(const CanaryWindow& w) SWITCHYARD_REQUIRES(mu_);
  void publish_weights(double candidate_percent) SWITCHYARD_REQUIRES(mu_);
  void publish_promoted() SWITCHYARD_REQUIRES(mu_);
  void publish_released() SWITCHYARD_REQUIRES(mu_);
  // Promoted, and the previous version still loaded for a switch-back at `now`.
  bool previous_kept(TimePoint now) const SWITCHYARD_REQUIRES(mu_);
  // Promoted and keep_previous_for over: publishes without the previous version, once.
  void release_previous_if_due() SWITCHYARD_REQUIRES(mu_);
  void republish() SWITCHYARD_REQUIRES(mu_);
  void decide(std::string_view action, std::string_view actor, std::string_view reason)
      SWITCHYARD_REQUIRES(mu_);
  // Writes the record (renewing the lease after checking it) in a transaction of its own. On
  // LeaseHeld the controller forgets the rollout (another controller drives it) and rethrows.
  void persist() SWITCHYARD_REQUIRES(mu_);
  void write_record(RegistryTransaction& tx) SWITCHYARD_REQUIRES(mu_);
  bool run_hooks(const std::vector<std::string>& names, std::string_view stage,
                 std::string_view reason) SWITCHYARD_REQUIRES(mu_);
  void reset_step_data() SWITCHYARD_REQUIRES(mu_);
  // The current step's cumulative judge data as RolloutRecord::step_state text, and back (a text
  // that does not fit the step is ignored: the step's sequence starts again).
  std::string encode_step_state() const SWITCHYARD_REQUIRES(mu_);
  void restore_step_state(std::string_view text) SWITCHYARD_REQUIRES(mu_);
  void require_live(std::string_view what) const SWITCHYARD_REQUIRES(mu_);
  RolloutStatusEvent status_event(std::string_view actor, std::string_view reason) const
      SWITCHYARD_REQUIRES(mu_);
  PromotionEvidence make_evidence() const SWITCHYARD_REQUIRES(mu_);
  // Experiment plans: the arms' versions (start()), the Experiment (start() and resume), and
  // the decision on a pause step whose guardrails did not fail.
  std::pair<std::int64_t, std::int64_t> experiment_versions(const CanaryPlan& plan) const;
  void make_experiment() SWITCHYARD_REQUIRES(mu_);
  RolloutAction judge_experiment(Pending& out, const CanaryStep& step, Duration elapsed,
                                 bool changed) SWITCHYARD_REQUIRES(mu_);
  void emit(Pending& out);

  Options options_;
  const Clock* clock_;
  std::string name_;
  mutable detail::Mutex mu_;
  std::map<std::string, RolloutHook, std::less<>> hooks_ SWITCHYARD_GUARDED_BY(mu_);
  std::optional<CanaryPlan> plan_ SWITCHYARD_GUARDED_BY(mu_);
  std::optional<RolloutRecord> record_ SWITCHYARD_GUARDED_BY(mu_);
  std::optional<RolloutLease> lease_ SWITCHYARD_GUARDED_BY(mu_);
  std::unique_ptr<StepData> step_ SWITCHYARD_GUARDED_BY(mu_);
  std::shared_ptr<Experiment> experiment_ SWITCHYARD_GUARDED_BY(mu_);
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/rollout/canary_controller-inl.hpp>
#endif
