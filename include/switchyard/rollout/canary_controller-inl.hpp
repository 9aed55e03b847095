// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of canary_controller.hpp: steps, guardrails, the judge, persistence, actions.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <utility>

#include <switchyard/core/error.hpp>
#include <switchyard/core/units.hpp>
#include <switchyard/detail/json_text.hpp>
#include <switchyard/registry/rollout_lease.hpp>
#include <switchyard/registry/serialization.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/detail/rollout_routing.hpp>

namespace switchyard {

namespace detail::canary_controller {

/// Builds one JSON object member by member. Not thread-safe: one per event, on the thread that
/// builds it.
class JsonObject {
 public:
  JsonObject& raw(std::string_view key, std::string_view value) {
    text_ += first_ ? "" : ",";
    first_ = false;
    text_ += json_quote(key);
    text_ += ':';
    text_ += value;
    return *this;
  }
  JsonObject& str(std::string_view key, std::string_view v) { return raw(key, json_quote(v)); }
  JsonObject& num(std::string_view key, double v) { return raw(key, json_number(v)); }
  JsonObject& integer(std::string_view key, std::int64_t v) {
    return raw(key, std::to_string(v));
  }
  JsonObject& time(std::string_view key, TimePoint t) {
    return raw(key, std::to_string(to_unix_nanos(t)));
  }
  std::string done() { return text_ + "}"; }

 private:
  std::string text_ = "{";
  bool first_ = true;
};

inline std::string percent_text(double p) { return json_number(p) + "%"; }

}  // namespace detail::canary_controller

// ---- names and payloads ---------------------------------------------------------------------

SWITCHYARD_INLINE std::string_view to_string(GuardrailState s) noexcept {
  switch (s) {
    case GuardrailState::kPassed: return "passed";
    case GuardrailState::kFailed: return "failed";
    case GuardrailState::kNotJudged: return "not_judged";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string_view to_string(AnalysisVerdict v) noexcept {
  switch (v) {
    case AnalysisVerdict::kPass: return "pass";
    case AnalysisVerdict::kFail: return "fail";
    case AnalysisVerdict::kInconclusive: return "inconclusive";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string_view to_string(RolloutAction a) noexcept {
  switch (a) {
    case RolloutAction::kNone: return "none";
    case RolloutAction::kHeld: return "held";
    case RolloutAction::kAdvanced: return "advanced";
    case RolloutAction::kPaused: return "paused";
    case RolloutAction::kPromoted: return "promoted";
    case RolloutAction::kRolledBack: return "rolled_back";
    case RolloutAction::kAborted: return "aborted";
  }
  return "unknown";
}

SWITCHYARD_INLINE std::string RolloutAnalysisEvent::to_json() const {
  detail::canary_controller::JsonObject o;
  o.str("event", "analysis").str("deployment", deployment).str("model", model);
  o.integer("candidate_version", candidate_version).integer("step", step).time("at_ns", at);
  o.str("verdict", to_string(verdict));
  std::string checks_json = "[";
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const GuardrailCheck& c = checks[i];
    detail::canary_controller::JsonObject g;
    g.str("key", c.key).str("state", to_string(c.state)).num("stable", c.stable);
    g.num("candidate", c.candidate).num("limit", c.limit);
    g.integer("stable_samples", static_cast<std::int64_t>(c.stable_samples));
    g.integer("candidate_samples", static_cast<std::int64_t>(c.candidate_samples));
    g.str("reason", c.reason);
    checks_json += (i ? "," : "") + g.done();
  }
  o.raw("checks", checks_json + "]");
  if (judge_verdict) {
    o.str("judge_verdict", to_string(*judge_verdict)).num("judge_score", judge_score);
  } else {
    o.raw("judge_verdict", "null");
  }
  o.integer("failures", failures).integer("consecutive_failures", consecutive_failures);
  o.str("summary", summary);
  return o.done();
}

SWITCHYARD_INLINE std::string RolloutStepEvent::to_json() const {
  detail::canary_controller::JsonObject o;
  o.str("event", "step_advanced").str("deployment", deployment).str("model", model);
  o.integer("candidate_version", candidate_version).integer("from_step", from_step);
  o.integer("to_step", to_step).num("candidate_weight", candidate_weight);
  o.str("actor", actor).str("reason", reason).time("at_ns", at);
  return o.done();
}

SWITCHYARD_INLINE std::string RolloutStatusEvent::to_json() const {
  detail::canary_controller::JsonObject o;
  o.str("event", to_string(status)).str("deployment", deployment).str("model", model);
  o.integer("stable_version", stable_version).integer("candidate_version", candidate_version);
  o.integer("step", step).str("status", to_string(status)).str("actor", actor);
  o.str("reason", reason).time("at_ns", at);
  return o.done();
}

// ---- per-step data ---------------------------------------------------------------------------

/// What an analysis step's judge has seen since the step began (the judge wants cumulative data).
struct CanaryController::StepData {
  std::unique_ptr<CanaryJudge> judge;
  std::vector<Guardrail> judged;  // in judge metric order
  std::vector<Guardrail> checked;  // plain threshold checks this step (plan's + step's others)
  // A pause step judging its comparative rules sequentially (RuleJudgement::kSequential): the
  // judge only ever fails the step, every rule is critical, and each rule is reported as a check.
  bool sequential_pause = false;
  // The stable arm takes no traffic in this step (the candidate at 100 %): rules against stable
  // are checked per window, and reported as not applicable instead of holding the step when
  // stable (reached only by the candidate's fallbacks) has too few samples to compare with.
  bool stable_idle = false;
  struct Side {
    JudgeCounts errors;    // successes = errors, trials = requests
    JudgeCounts accuracy;  // successes = correct, trials = labelled
    LatencyHistogram latency;            // every answered request since the step began
    std::vector<MetricMoments> moments;  // per judged custom metric, by judge metric index
  };
  Side stable, candidate;
  std::vector<MetricObservation> observations;
  Judgement judgement;
};

/// Events to emit once the controller's lock is released.
struct CanaryController::Pending {
  std::vector<RolloutAnalysisEvent> analyses;
  std::vector<RolloutStepEvent> steps;
  std::vector<RolloutStatusEvent> paused;
  std::vector<RolloutStatusEvent> promoted;
  std::vector<RolloutStatusEvent> rolled_back;
};

// ---- construction ----------------------------------------------------------------------------

SWITCHYARD_INLINE CanaryController::CanaryController(Options options)
    : step_advanced{detail::GuardedSlots{options.events, "canary_step_advanced"}},
      paused{detail::GuardedSlots{options.events, "canary_paused"}},
      promoted{detail::GuardedSlots{options.events, "canary_promoted"}},
      rolled_back{detail::GuardedSlots{options.events, "canary_rolled_back"}},
      analysis{detail::GuardedSlots{options.events, "canary_analysis"}},
      options_(std::move(options)) {
  if (!options_.deployment) throw InvalidArgument("CanaryController: Options::deployment is null");
  if (!options_.registry) throw InvalidArgument("CanaryController: Options::registry is null");
  if (!options_.metrics) throw InvalidArgument("CanaryController: Options::metrics is null");
  if (options_.owner.empty()) throw InvalidArgument("CanaryController: Options::owner is empty");
  if (options_.lease_ttl <= Duration::zero()) {
    throw InvalidArgument("CanaryController: Options::lease_ttl must be positive");
  }
  clock_ = options_.clock ? options_.clock : &options_.registry->clock();
  name_ = options_.rollout_name.empty() ? std::string(options_.deployment->model())
                                        : options_.rollout_name;
}

SWITCHYARD_INLINE CanaryController::~CanaryController() = default;

SWITCHYARD_INLINE void CanaryController::set_hook(std::string name, RolloutHook hook) {
  detail::MutexLock lk(mu_);
  hooks_[std::move(name)] = std::move(hook);
}

// ---- starting and resuming -------------------------------------------------------------------

SWITCHYARD_INLINE RolloutAction CanaryController::start(const CanaryPlan& plan) {
  Pending out;
  RolloutAction action = RolloutAction::kAdvanced;
  {
    detail::MutexLock lk(mu_);
    if (record_ && !is_final(record_->status)) {
      throw InvalidTransition("rollout '" + name_ + "' is already running on this controller");
    }
    plan.validate();
    const std::pair<const std::vector<std::string>*, const char*> lists[] = {
        {&plan.hooks.pre_rollout, "pre_rollout"},
        {&plan.hooks.confirm_promotion, "confirm_promotion"},
        {&plan.hooks.post_rollout, "post_rollout"},
        {&plan.hooks.on_rollback, "on_rollback"}};
    for (const auto& [names, stage] : lists) {
      for (const auto& n : *names) {
        if (hooks_.find(n) == hooks_.end()) {
          throw InvalidArgument("rollout '" + name_ + "': the plan's " + stage + " hook '" + n +
                                "' is not set on the controller (set_hook)");
        }
      }
    }
    const bool experiment_plan = plan.strategy == RolloutStrategy::kExperiment;
    // Seed 003's A/B form names the treatment where a model name goes; its arms resolve against
    // the deployment's model (experiment_versions()).
    if (plan.model != options_.deployment->model() &&
        !(experiment_plan && plan.model == plan.experiment->treatment.model)) {
      throw InvalidArgument("rollout '" + name_ + "': the plan rolls out model '" + plan.model +
                            "' but the deployment serves '" +
                            std::string(options_.deployment->model()) + "'");
    }
    const std::string model(options_.deployment->model());
    ModelRegistry& registry = *options_.registry;
    std::optional<std::pair<std::int64_t, std::int64_t>> arms;
    if (experiment_plan) arms = experiment_versions(plan);
    const VersionRef candidate =
        registry.get(model, arms ? arms->second : plan.candidate_version);
    if (candidate->stage != Stage::kStaging) {
      throw InvalidTransition("rollout '" + name_ + "': candidate version " +
                              std::to_string(candidate->version) + " is in " +
                              std::string(to_string(candidate->stage)) +
                              "; a canary rolls out a Staging version");
    }
    std::int64_t stable = 0;
    if (arms) {
      stable = arms->first;
    } else if (plan.stable_version) {
      stable = registry.get(model, *plan.stable_version)->version;
    } else {
      const auto production = registry.versions(model, Stage::kProduction);
      if (production.empty()) {
        throw NotFound("rollout '" + name_ + "': model '" + model +
                       "' has no Production version to compare the candidate with");
      }
      stable = production.back()->version;
    }
    if (stable == candidate->version) {
      throw InvalidArgument("rollout '" + name_ + "': stable and candidate are both version " +
                            std::to_string(stable));
    }
    const auto watched = options_.metrics->versions();
    for (std::int64_t v : {stable, candidate->version}) {
      if (std::find(watched.begin(), watched.end(), v) == watched.end()) {
        throw InvalidArgument("rollout '" + name_ + "': the CanaryMetrics do not watch version " +
                              std::to_string(v));
      }
    }
    const TimePoint now = clock_->now();
    RolloutRecord r;
    {
      auto tx = options_.registry->store().begin();
      RolloutLease lease =
          acquire_rollout_lease(*tx, name_, options_.owner, now, options_.lease_ttl);
      if (auto existing = tx->find_rollout(name_)) {
        if (!is_final(existing->status)) {
          throw InvalidTransition("rollout '" + name_ + "' of version " +
                                  std::to_string(existing->candidate_version) + " is stored as " +
                                  std::string(to_string(existing->status)) + " at step " +
                                  std::to_string(existing->step) +
                                  "; resume it (resume_from_store) or abort it first");
        }
        r.revision = existing->revision;
      }
      tx->commit();
      lease_ = lease;
    }
    // The plan as run: versions resolved, so a resumed controller needs no alias.
    CanaryPlan run = plan;
    run.model = model;
    run.candidate_version = candidate->version;
    run.stable_version = stable;
    if (run.experiment) {
      run.experiment->control.version = stable;
      run.experiment->treatment.version = candidate->version;
    }
    r.deployment = name_;
    r.model = model;
    r.stable_version = stable;
    r.candidate_version = candidate->version;
    r.plan_json = plan_to_json(run);
    r.status = RolloutStatus::kRunning;
    r.step = 0;
    r.started_at = r.step_started_at = r.updated_at = now;
    r.weights = {{detail::canary_controller::kStableArm, 100.0},
                 {detail::canary_controller::kCanaryArm, 0.0}};
    record_ = std::move(r);
    plan_ = std::move(run);
    reset_step_data();
    make_experiment();
    decide("start", options_.owner,
           "version " + std::to_string(candidate->version) + " against stable version " +
               std::to_string(stable));
    if (!run_hooks(plan.hooks.pre_rollout, "pre_rollout", "")) {
      record_->status = RolloutStatus::kAborted;
      decide("abort", options_.owner, "a pre_rollout hook refused");
      persist();
      out.rolled_back.push_back(status_event(options_.owner, "a pre_rollout hook refused"));
      action = RolloutAction::kAborted;
    } else {
      // The candidate loads (and must load) before it gets any traffic.
      publish_weights(0.0);
      persist();
      action = enter_step(out, 0, options_.owner, "rollout started");
      if (action != RolloutAction::kPromoted && action != RolloutAction::kRolledBack) persist();
    }
  }
  emit(out);
  return action;
}

SWITCHYARD_INLINE bool CanaryController::resume_from_store() {
  Pending out;
  {
    detail::MutexLock lk(mu_);
    auto stored = options_.registry->store().load_rollout(name_);
    if (!stored) return false;
    CanaryPlan plan = parse_canary_plan(stored->plan_json, {.custom_metrics = options_.custom_metrics});
    const TimePoint now = clock_->now();
    lease_ = acquire_rollout_lease(options_.registry->store(), name_, options_.owner, now,
                                   options_.lease_ttl);
    record_ = std::move(*stored);
    plan_ = std::move(plan);
    const std::string step_state = std::move(record_->step_state);
    reset_step_data();
    make_experiment();
    restore_step_state(step_state);
    // Whatever the router holds (a publish the crash interrupted, or a fresh process), the
    // persisted weights are what serves from now on.
    republish();
    const auto& steps = plan_->steps;
    if (record_->status == RolloutStatus::kRollingBack) {
      // The process stopped between recording the rollback and finishing it: finish it.
      finish_rollback(out, options_.owner, rollback_reason(), "");
    } else if (record_->status == RolloutStatus::kRunning &&
        record_->step < static_cast<std::int64_t>(steps.size()) &&
        steps[static_cast<std::size_t>(record_->step)].kind == StepKind::kSetWeight) {
      // A set_weight step is recorded as current only before it ran: run it now, once.
      const RolloutAction a = enter_step(out, record_->step, options_.owner, "resumed");
      if (a != RolloutAction::kPromoted && a != RolloutAction::kRolledBack) persist();
    }
  }
  emit(out);
  return true;
}

// ---- evaluation ------------------------------------------------------------------------------

SWITCHYARD_INLINE RolloutAction CanaryController::evaluate() {
  Pending out;
  RolloutAction action = RolloutAction::kHeld;
  {
    detail::MutexLock lk(mu_);
    if (record_ && record_->status == RolloutStatus::kPromoted) {
      release_previous_if_due();
      return RolloutAction::kNone;
    }
    if (!record_ || is_final(record_->status)) return RolloutAction::kNone;
    const TimePoint now = clock_->now();
    CanaryWindow w =
        options_.window_source ? options_.window_source() : options_.metrics->roll_window();
    if (lease_ && lease_->expires_at - now < options_.lease_ttl / 2) persist();  // renew
    if (record_->status == RolloutStatus::kPaused) return RolloutAction::kPaused;
    const auto& steps = plan_->steps;
    if (record_->status == RolloutStatus::kRollingBack) {
      // A rollback whose final write failed: finish it before anything else.
      finish_rollback(out, options_.owner, rollback_reason(), "");
      action = RolloutAction::kRolledBack;
    } else if (record_->step >= static_cast<std::int64_t>(steps.size())) {
      // Every step is done and the promotion waits (a confirm_promotion hook said no).
      action = do_promote(out, options_.owner, "every step passed");
      if (action == RolloutAction::kPaused) persist();
    } else {
      RolloutAnalysisEvent ev = analyse(w);
      if (!w.sources.empty()) ev.summary += " [" + w.sources + "]";
      const CanaryStep& step = steps[static_cast<std::size_t>(record_->step)];
      bool changed = false;
      if (ev.verdict == AnalysisVerdict::kFail) {
        record_->failures += 1;
        record_->consecutive_failures += 1;
        changed = true;
      } else if (ev.verdict == AnalysisVerdict::kPass && record_->consecutive_failures > 0) {
        record_->consecutive_failures = 0;
        changed = true;
      }
      ev.failures = record_->failures;
      ev.consecutive_failures = record_->consecutive_failures;
      const bool over_limit =
          record_->failures > static_cast<std::int64_t>(plan_->failure_limit) ||
          (plan_->consecutive_failure_limit &&
           record_->consecutive_failures >
               static_cast<std::int64_t>(*plan_->consecutive_failure_limit));
      const AnalysisVerdict verdict = ev.verdict;
      // The analysis as JSON goes into the rejection's evidence: written only when rolling back.
      const std::string ev_json =
          verdict == AnalysisVerdict::kFail && over_limit ? ev.to_json() : std::string();
      const std::string summary = ev.summary;
      out.analyses.push_back(std::move(ev));
      const Duration elapsed = now - record_->step_started_at;
      if (verdict == AnalysisVerdict::kFail && over_limit) {
        do_rollback(out, options_.owner, summary, ev_json);
        action = RolloutAction::kRolledBack;
      } else if (verdict == AnalysisVerdict::kFail) {
        decide("hold", options_.owner,
               "failed evaluation " + std::to_string(record_->failures) + ": " + summary);
        persist();
        action = RolloutAction::kHeld;
      } else if (experiment_ && step.kind == StepKind::kPause) {
        action = judge_experiment(out, step, elapsed, changed);
      } else if (verdict == AnalysisVerdict::kInconclusive) {
        if (step.kind == StepKind::kAnalysis && step.duration && elapsed >= *step.duration) {
          do_pause(out, options_.owner, "analysis still inconclusive after its duration: " +
                                            summary);
          persist();
          action = RolloutAction::kPaused;
        } else {
          if (changed) persist();
          action = RolloutAction::kHeld;
        }
      } else {
        const bool done = step.kind == StepKind::kAnalysis ||
                          (step.kind == StepKind::kPause && step.duration &&
                           elapsed >= *step.duration);
        if (done) {
          action = enter_step(out, record_->step + 1, options_.owner,
                              step.kind == StepKind::kAnalysis ? "analysis passed: " + summary
                                                               : "pause ended, guardrails passed");
          if (action != RolloutAction::kPromoted && action != RolloutAction::kRolledBack) {
            persist();
          }
        } else {
          if (changed) persist();
          action = RolloutAction::kHeld;
        }
      }
    }
  }
  emit(out);
  return action;
}

namespace detail::canary_controller {

struct SideValue {
  bool has_value = false;
  double value = 0.0;
  std::uint64_t samples = 0;
};

inline SideValue side_value(const Guardrail& g, const CanaryVersionFigures* f, std::int64_t version,
                            const std::function<std::optional<double>(std::string_view,
                                                                      std::int64_t)>& host) {
  SideValue out;
  if (!f) return out;
  switch (g.metric) {
    case GuardrailMetric::kErrorRate:
      out = {f->requests > 0, f->error_rate(), f->requests};
      break;
    case GuardrailMetric::kLatencyP99:
      out = {f->latency.count() > 0, f->p99_ns() / 1e6, f->latency.count()};
      break;
    case GuardrailMetric::kAccuracy:
      out = {f->labelled > 0, f->accuracy(), f->labelled};
      break;
    case GuardrailMetric::kCustom:
      if (const MetricMoments* m = f->metric(g.custom_metric); m && m->count > 0) {
        out = {true, m->mean(), m->count};
      } else if (host) {
        if (auto v = host(g.custom_metric, version)) out = {true, *v, ~std::uint64_t{0}};
      }
      break;
    case GuardrailMetric::kPredictionDrift:
      break;  // read by the caller from Options::drift
  }
  return out;
}

/// `into` += `from`, reading only the buckets between `from`'s min and max (a window's latency
/// spans a few dozen of its 2,240 buckets; LatencyHistogram::merge reads them all).
inline void merge_latency(LatencyHistogram& into, const LatencyHistogram& from) {
  if (from.count() == 0) return;
  const std::size_t last = LatencyBuckets::index(from.max());
  for (std::size_t b = LatencyBuckets::index(from.min()); b <= last; ++b) {
    if (const std::uint64_t k = from.bucket_count(b)) into.add_bucket(b, k);
  }
  const bool empty = into.count() == 0;
  into.set_totals(into.count() + from.count(), into.sum() + from.sum(),
                  empty ? from.min() : std::min(into.min(), from.min()),
                  std::max(into.max(), from.max()));
}

/// Values of `h` at most `ns`, the bucket holding `ns` split linearly (a bucket is at most 1/64
/// of its lower bound wide).
inline double histogram_at_most(const LatencyHistogram& h, double ns) {
  if (!(ns >= 0.0)) return 0.0;
  const auto v = static_cast<std::uint64_t>(std::min(ns, 1.8e19));
  const std::size_t b = LatencyBuckets::index(v);
  double below = 0.0;
  for (std::size_t i = 0; i < b; ++i) below += static_cast<double>(h.bucket_count(i));
  const double lo = static_cast<double>(LatencyBuckets::lower(b));
  const double hi = static_cast<double>(LatencyBuckets::upper(b));
  const double frac = hi > lo ? std::clamp((ns - lo) / (hi - lo), 0.0, 1.0) : 1.0;
  return below + frac * static_cast<double>(h.bucket_count(b));
}

/// A latency_p99 rule as a proportion: the share of candidate answers slower than the limit
/// (stable's p99 since the step began, plus the rule's threshold) against the share of stable
/// answers above stable's p99 (1 % by definition; its binomial variance is the uncertainty of
/// stable's p99). A candidate whose p99 is within the limit has at most 1 % of its answers above
/// it, so "candidate share - stable share <= 0" is the rule's null hypothesis.
struct TailCounts {
  JudgeCounts stable, candidate;
  double stable_p99_ms = 0.0, candidate_p99_ms = 0.0, limit_ms = 0.0;
};

inline TailCounts tail_counts(const Guardrail& g, const LatencyHistogram& stable,
                              const LatencyHistogram& candidate) {
  TailCounts t;
  const std::uint64_t ns = stable.count(), nc = candidate.count();
  t.stable.trials = ns;
  t.candidate.trials = nc;
  if (ns == 0 || nc == 0) return t;
  const double p99 = stable.quantile(0.99);
  const auto at_or_below = static_cast<std::uint64_t>(std::ceil(0.99 * static_cast<double>(ns)));
  t.stable.successes = ns - std::min(ns, at_or_below);
  const double limit = g.bound == GuardrailBound::kDropBelowStable
                           ? p99  // not a latency bound the parser writes; judged at stable's p99
                           : (g.relative ? p99 * (1.0 + g.threshold) : p99 + g.threshold * 1e6);
  const double within = histogram_at_most(candidate, limit);
  const auto within_count = static_cast<std::uint64_t>(std::llround(std::max(0.0, within)));
  t.candidate.successes = nc - std::min(nc, within_count);
  t.stable_p99_ms = p99 / 1e6;
  t.candidate_p99_ms = candidate.quantile(0.99) / 1e6;
  t.limit_ms = limit / 1e6;
  return t;
}

}  // namespace detail::canary_controller

SWITCHYARD_INLINE RolloutAnalysisEvent CanaryController::analyse(const CanaryWindow& w) {
  namespace cc = detail::canary_controller;
  RolloutAnalysisEvent ev;
  ev.deployment = name_;
  ev.model = record_->model;
  ev.candidate_version = record_->candidate_version;
  ev.step = record_->step;
  ev.at = clock_->now();
  const std::int64_t sv = record_->stable_version, cv = record_->candidate_version;
  const CanaryVersionFigures* s = w.find(sv);
  const CanaryVersionFigures* c = w.find(cv);
  const CanaryStep& step = plan_->steps[static_cast<std::size_t>(record_->step)];
  bool failed = false, holding = false;
  std::string failures_text, pending_text;

  for (const Guardrail& g : step_->checked) {
    GuardrailCheck check;
    check.key = g.key();
    const std::uint64_t min_samples =
        std::max<std::uint64_t>(1, g.min_samples ? g.min_samples
                                                 : (step.min_samples ? step.min_samples
                                                                     : plan_->min_samples));
    const bool needs_stable =
        g.bound == GuardrailBound::kIncreaseOverStable || g.bound == GuardrailBound::kDropBelowStable;
    cc::SideValue a, b;
    bool absent_holds = true;  // a metric without any data holds the step (errors, latency)
    if (g.metric == GuardrailMetric::kPredictionDrift) {
      absent_holds = false;
      if (options_.drift) {
        if (auto d = options_.drift(sv, cv)) {
          a = {true, 0.0, min_samples};
          b = {true, *d, min_samples};
        }
      }
    } else {
      a = cc::side_value(g, s, sv, options_.host_metric);
      b = cc::side_value(g, c, cv, options_.host_metric);
      absent_holds = g.metric == GuardrailMetric::kErrorRate ||
                     g.metric == GuardrailMetric::kLatencyP99;
    }
    check.stable = a.value;
    check.candidate = b.value;
    check.stable_samples = a.samples == ~std::uint64_t{0} ? 0 : a.samples;
    check.candidate_samples = b.samples == ~std::uint64_t{0} ? 0 : b.samples;
    if (needs_stable && step_->stable_idle && (!a.has_value || a.samples < min_samples)) {
      // Only the candidate's fallbacks reach stable here: too few to compare with, so the rule
      // neither holds nor fails the step.
      check.state = GuardrailState::kNotJudged;
      check.reason = "not applicable: the stable version takes no traffic in this step";
      ev.checks.push_back(std::move(check));
      continue;
    }
    const bool have = b.has_value && (!needs_stable || a.has_value);
    const bool enough = have && b.samples >= min_samples && (!needs_stable || a.samples >= min_samples);
    if (!enough) {
      check.state = GuardrailState::kNotJudged;
      check.reason = !have ? "no data yet"
                           : "too few samples (stable " + std::to_string(check.stable_samples) +
                                 ", candidate " + std::to_string(check.candidate_samples) +
                                 ", need " + std::to_string(min_samples) + ")";
      if (have || absent_holds) {
        holding = true;
        pending_text += (pending_text.empty() ? "" : ", ") + check.key;
      }
      ev.checks.push_back(std::move(check));
      continue;
    }
    bool bad = false;
    switch (g.bound) {
      case GuardrailBound::kAtMost:
        check.limit = g.threshold;
        bad = b.value > check.limit;
        break;
      case GuardrailBound::kAtLeast:
        check.limit = g.threshold;
        bad = b.value < check.limit;
        break;
      case GuardrailBound::kIncreaseOverStable:
        check.limit = g.relative ? a.value * (1.0 + g.threshold) : a.value + g.threshold;
        bad = b.value > check.limit;
        break;
      case GuardrailBound::kDropBelowStable:
        check.limit = g.relative ? a.value * (1.0 - g.threshold) : a.value - g.threshold;
        bad = b.value < check.limit;
        break;
    }
    check.state = bad ? GuardrailState::kFailed : GuardrailState::kPassed;
    if (bad) {
      check.reason = check.key + ": candidate " + detail::json_number(b.value) + " against stable " +
                     detail::json_number(a.value) + ", limit " + detail::json_number(check.limit);
      failures_text += (failures_text.empty() ? "" : "; ") + check.reason;
      failed = true;
    }
    ev.checks.push_back(std::move(check));
  }

  if (step_->judge) {
    // Cumulative since the step began, as the sequential judge requires.
    StepData& sd = *step_;
    auto add_side = [&sd](StepData::Side& side, const CanaryVersionFigures* f) {
      if (!f) return;
      side.errors.successes += f->errors;
      side.errors.trials += f->requests;
      side.accuracy.successes += f->correct;
      side.accuracy.trials += f->labelled;
      cc::merge_latency(side.latency, f->latency);
      for (std::size_t i = 0; i < sd.judged.size(); ++i) {
        if (sd.judged[i].metric != GuardrailMetric::kCustom) continue;
        if (const MetricMoments* m = f->metric(sd.judged[i].custom_metric)) {
          side.moments[i].count += m->count;
          side.moments[i].sum += m->sum;
          side.moments[i].sum_squares += m->sum_squares;
        }
      }
    };
    add_side(step_->stable, s);
    add_side(step_->candidate, c);
    auto& obs = step_->observations;
    obs.clear();
    std::vector<cc::TailCounts> tails(step_->judged.size());
    for (std::size_t i = 0; i < step_->judged.size(); ++i) {
      const Guardrail& g = step_->judged[i];
      switch (g.metric) {
        case GuardrailMetric::kErrorRate:
          obs.push_back(MetricObservation::proportion(step_->stable.errors,
                                                      step_->candidate.errors));
          break;
        case GuardrailMetric::kAccuracy:
          obs.push_back(MetricObservation::proportion(step_->stable.accuracy,
                                                      step_->candidate.accuracy));
          break;
        case GuardrailMetric::kLatencyP99:
          tails[i] = cc::tail_counts(g, step_->stable.latency, step_->candidate.latency);
          obs.push_back(MetricObservation::proportion(tails[i].stable, tails[i].candidate));
          break;
        default: {
          auto summary = [](const MetricMoments& m) {
            return stats::SampleSummary{m.count, m.mean(), m.variance(), 0};
          };
          obs.push_back(MetricObservation::moments(summary(step_->stable.moments[i]),
                                                   summary(step_->candidate.moments[i])));
        }
      }
    }
    step_->judge->evaluate(JudgeInput{obs}, step_->judgement);
    const Judgement& j = step_->judgement;
    ev.judge_verdict = j.verdict;
    ev.judge_score = j.score;
    if (step_->sequential_pause) {
      // Each rule reported as a check; a rule not yet shown worse lets the pause run its course.
      for (std::size_t i = 0; i < step_->judged.size(); ++i) {
        const Guardrail& g = step_->judged[i];
        const MetricResult& r = j.metrics[i];
        const JudgeMetric& m = step_->judge->config().metrics[i];
        GuardrailCheck check;
        check.key = g.key();
        check.stable_samples = r.stable_count;
        check.candidate_samples = r.candidate_count;
        const MetricObservation& o = obs[i];
        if (g.metric == GuardrailMetric::kLatencyP99) {
          check.stable = tails[i].stable_p99_ms;
          check.candidate = tails[i].candidate_p99_ms;
          check.limit = tails[i].limit_ms;
        } else if (m.kind == JudgeMetricKind::kProportion) {
          auto rate = [](JudgeCounts counts) {
            return counts.trials ? static_cast<double>(counts.successes) /
                                       static_cast<double>(counts.trials)
                                 : 0.0;
          };
          check.stable = rate(o.stable_counts);
          check.candidate = rate(o.candidate_counts);
        } else {
          check.stable = o.stable_moments.mean;
          check.candidate = o.candidate_moments.mean;
        }
        if (g.metric != GuardrailMetric::kLatencyP99) {
          const double t = g.relative ? check.stable * g.threshold : g.threshold;
          check.limit =
              g.bound == GuardrailBound::kDropBelowStable ? check.stable - t : check.stable + t;
        }
        switch (r.classification) {
          case MetricClassification::kHigh:
          case MetricClassification::kLow:
            check.state = GuardrailState::kFailed;
            check.reason = check.key + ": " + r.reason;
            failed = true;
            failures_text += (failures_text.empty() ? "" : "; ") + check.reason;
            break;
          case MetricClassification::kPass:
            check.state = GuardrailState::kPassed;
            break;
          case MetricClassification::kNoData:
          case MetricClassification::kInconclusive:
            check.state = GuardrailState::kNotJudged;
            check.reason = r.reason;
            if (r.classification == MetricClassification::kInconclusive || m.must_have_data) {
              holding = true;
              pending_text += (pending_text.empty() ? "" : ", ") + check.key;
            }
            break;
        }
        ev.checks.push_back(std::move(check));
      }
    } else if (j.verdict == JudgeVerdict::kFail) {
      failed = true;
      failures_text += (failures_text.empty() ? "" : "; ") + ("judge: " + j.summary);
    } else if (j.verdict != JudgeVerdict::kPass) {
      holding = true;
      pending_text += (pending_text.empty() ? "" : ", ") + ("judge: " + j.summary);
    }
  }

  ev.verdict = failed    ? AnalysisVerdict::kFail
               : holding ? AnalysisVerdict::kInconclusive
                         : AnalysisVerdict::kPass;
  ev.summary = "step " + std::to_string(record_->step) + " " + std::string(to_string(ev.verdict));
  if (failed) ev.summary += ": " + failures_text;
  if (!failed && holding) ev.summary += ": waiting for " + pending_text;
  if (!failed && !holding && ev.judge_verdict) {
    ev.summary += ": judge score " + detail::json_number(ev.judge_score);
  }
  return ev;
}

SWITCHYARD_INLINE void CanaryController::reset_step_data() {
  record_->step_state.clear();
  step_ = std::make_unique<StepData>();
  step_->checked = plan_->guardrails;
  if (record_->step >= static_cast<std::int64_t>(plan_->steps.size())) return;
  const CanaryStep& step = plan_->steps[static_cast<std::size_t>(record_->step)];
  if (step.kind == StepKind::kSetWeight) return;
  const auto stable_weight = record_->weights.find(detail::canary_controller::kStableArm);
  step_->stable_idle = stable_weight != record_->weights.end() && stable_weight->second <= 0.0;
  // In a sequentially judged pause step the plan's comparative rules are judged with the step's.
  const bool sequential_pause =
      step.kind == StepKind::kPause && plan_->judgement == RuleJudgement::kSequential;
  step_->sequential_pause = sequential_pause;
  std::vector<Guardrail> rules = step.guardrails;
  if (sequential_pause) {
    step_->checked.clear();
    rules.insert(rules.end(), plan_->guardrails.begin(), plan_->guardrails.end());
  }
  std::vector<JudgeMetric> metrics;
  for (std::size_t k = 0; k < rules.size(); ++k) {
    const Guardrail& g = rules[k];
    const bool comparative = g.bound == GuardrailBound::kIncreaseOverStable ||
                             g.bound == GuardrailBound::kDropBelowStable;
    if ((step.kind != StepKind::kAnalysis && !sequential_pause) || !comparative ||
        g.metric == GuardrailMetric::kPredictionDrift || step_->stable_idle) {
      step_->checked.push_back(g);
      continue;
    }
    JudgeMetric m;
    m.name = g.key();
    if (k >= step.guardrails.size()) m.name += " (plan)";  // may repeat a step rule's key
    // A p99 rule is a tail proportion (see detail::canary_controller::tail_counts): a rank test
    // of the whole distribution barely moves when only the tail does.
    m.kind = g.metric == GuardrailMetric::kCustom ? JudgeMetricKind::kMean
                                                  : JudgeMetricKind::kProportion;
    m.bad_direction = g.bound == GuardrailBound::kIncreaseOverStable ? BadDirection::kIncrease
                                                                     : BadDirection::kDecrease;
    m.tolerance = g.threshold;
    m.tolerance_scale = g.relative ? ToleranceScale::kRelative : ToleranceScale::kAbsolute;
    if (g.metric == GuardrailMetric::kLatencyP99) {
      m.bad_direction = BadDirection::kIncrease;
      m.tolerance = 0.0;  // the threshold is in the limit the tail is counted against
      m.tolerance_scale = ToleranceScale::kAbsolute;
    }
    m.critical = sequential_pause;  // any rule shown worse rolls back, as a per-window rule does
    m.min_samples = std::max<std::uint64_t>(
        1, g.min_samples ? g.min_samples
                         : (step.min_samples ? step.min_samples : plan_->min_samples));
    // No labels yet (or no host values) leaves accuracy and host metrics out of the score.
    m.must_have_data = g.metric == GuardrailMetric::kErrorRate ||
                       g.metric == GuardrailMetric::kLatencyP99;
    metrics.push_back(std::move(m));
    step_->judged.push_back(g);
  }
  if (!metrics.empty()) {
    JudgeConfig config = options_.judge;
    if (sequential_pause) {
      // A pause ends with its duration: the judge only decides failures, at the plan's
      // family-wise alpha split equally among the step's rules.
      config.pass_rule = PassRule::kNotRejected;
      config.alpha = plan_->judgement_alpha / static_cast<double>(metrics.size());
      config.proportion_boundary_variance = true;
    }
    config.metrics = std::move(metrics);
    config.group_weights.clear();
    step_->judge = std::make_unique<CanaryJudge>(std::move(config));
    step_->stable.moments.resize(step_->judged.size());
    step_->candidate.moments.resize(step_->judged.size());
    step_->observations.reserve(step_->judged.size());
  }
}

// ---- the step's data in the record ------------------------------------------------------------

namespace detail::canary_controller {

// "s1 <metrics>", then per side (stable, candidate): errors, accuracy (successes trials), the
// latency histogram (count sum min max, occupied buckets as index count), then per judged metric
// its moments (count sum sum_squares). Numbers in std::to_chars' shortest round-trip form.
// Writer and reader are local to one call under the controller's lock: not thread-safe.
class StepStateWriter {
 public:
  template <class T>
  StepStateWriter& operator<<(T v) {
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    text_.append(buf, r.ptr);
    text_ += ' ';
    return *this;
  }
  std::string done() { return std::move(text_); }

 private:
  std::string text_ = "s1 ";
};

class StepStateReader {
 public:
  explicit StepStateReader(std::string_view text) : p_(text.data()), end_(p_ + text.size()) {
    ok_ = text.substr(0, 3) == "s1 ";
    p_ += ok_ ? 3 : 0;
  }
  template <class T>
  T next() {
    while (p_ < end_ && *p_ == ' ') ++p_;
    T v{};
    const auto r = std::from_chars(p_, end_, v);
    if (r.ec != std::errc()) {
      ok_ = false;
      return T{};
    }
    p_ = r.ptr;
    return v;
  }
  bool ok() const noexcept { return ok_; }
  bool at_end() {
    while (p_ < end_ && *p_ == ' ') ++p_;
    return p_ == end_;
  }

 private:
  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace detail::canary_controller

SWITCHYARD_INLINE std::string CanaryController::encode_step_state() const {
  if (!step_ || !step_->judge) return {};
  detail::canary_controller::StepStateWriter w;
  w << step_->judged.size();
  for (const StepData::Side* side : {&step_->stable, &step_->candidate}) {
    w << side->errors.successes << side->errors.trials << side->accuracy.successes
      << side->accuracy.trials;
    const LatencyHistogram& h = side->latency;
    std::size_t occupied = 0;
    if (h.count() > 0) {
      for (std::size_t b = LatencyBuckets::index(h.min()); b <= LatencyBuckets::index(h.max());
           ++b) {
        occupied += h.bucket_count(b) ? 1 : 0;
      }
    }
    w << h.count() << h.sum() << h.min() << h.max() << occupied;
    if (h.count() > 0) {
      for (std::size_t b = LatencyBuckets::index(h.min()); b <= LatencyBuckets::index(h.max());
           ++b) {
        if (h.bucket_count(b)) w << b << h.bucket_count(b);
      }
    }
    for (const MetricMoments& m : side->moments) w << m.count << m.sum << m.sum_squares;
  }
  return w.done();
}

SWITCHYARD_INLINE void CanaryController::restore_step_state(std::string_view text) {
  if (text.empty() || !step_ || !step_->judge) return;
  detail::canary_controller::StepStateReader r(text);
  if (r.next<std::size_t>() != step_->judged.size() || !r.ok()) return;
  StepData::Side sides[2];
  for (StepData::Side& side : sides) {
    side.errors.successes = r.next<std::uint64_t>();
    side.errors.trials = r.next<std::uint64_t>();
    side.accuracy.successes = r.next<std::uint64_t>();
    side.accuracy.trials = r.next<std::uint64_t>();
    const auto count = r.next<std::uint64_t>();
    const auto sum = r.next<std::uint64_t>();
    const auto min = r.next<std::uint64_t>();
    const auto max = r.next<std::uint64_t>();
    const auto occupied = r.next<std::size_t>();
    std::uint64_t in_buckets = 0;
    for (std::size_t i = 0; i < occupied && r.ok(); ++i) {
      const auto b = r.next<std::size_t>();
      const auto n = r.next<std::uint64_t>();
      if (b >= LatencyBuckets::kCount) return;
      side.latency.add_bucket(b, n);
      in_buckets += n;
    }
    if (in_buckets != count) return;
    if (count > 0) side.latency.set_totals(count, sum, min, max);
    side.moments.resize(step_->judged.size());
    for (MetricMoments& m : side.moments) {
      m.count = r.next<decltype(m.count)>();
      m.sum = r.next<double>();
      m.sum_squares = r.next<double>();
    }
  }
  if (!r.ok() || !r.at_end()) return;
  for (std::size_t s = 0; s < 2; ++s) {
    StepData::Side& into = s == 0 ? step_->stable : step_->candidate;
    for (std::size_t i = 0; i < into.moments.size(); ++i) {
      sides[s].moments[i].name = into.moments[i].name;
    }
    into = std::move(sides[s]);
  }
}

// ---- steps and actions -----------------------------------------------------------------------

SWITCHYARD_INLINE RolloutAction CanaryController::enter_step(Pending& out, std::int64_t step,
                                                             std::string_view actor,
                                                             std::string_view reason) {
  const auto& steps = plan_->steps;
  const std::int64_t count = static_cast<std::int64_t>(steps.size());
  std::int64_t from = record_->step;
  std::string why(reason);
  for (;;) {
    const TimePoint now = clock_->now();
    record_->step = std::min(step, count);
    record_->step_started_at = now;
    reset_step_data();
    decide("advance", actor, why);
    RolloutStepEvent e;
    e.deployment = name_;
    e.model = record_->model;
    e.candidate_version = record_->candidate_version;
    e.from_step = from;
    e.to_step = record_->step;
    e.actor = std::string(actor);
    e.reason = why;
    e.at = now;
    if (step >= count) {
      e.candidate_weight = record_->weights[detail::canary_controller::kCanaryArm];
      out.steps.push_back(std::move(e));
      if (!plan_->auto_promote) {
        do_pause(out, actor, "every step passed; waiting for a manual promotion");
        return RolloutAction::kPaused;
      }
      return do_promote(out, actor, "every step passed");
    }
    const CanaryStep& s = steps[static_cast<std::size_t>(step)];
    if (s.kind == StepKind::kSetWeight) {
      publish_weights(s.weight);
      e.candidate_weight = s.weight;
      out.steps.push_back(std::move(e));
      from = step;
      step += 1;
      why = "set weight " + detail::canary_controller::percent_text(s.weight);
      continue;
    }
    e.candidate_weight = record_->weights[detail::canary_controller::kCanaryArm];
    out.steps.push_back(std::move(e));
    if (s.kind == StepKind::kPause && !s.duration) {
      do_pause(out, actor, "pause step " + std::to_string(step) + " waits for resume");
      return RolloutAction::kPaused;
    }
    return RolloutAction::kAdvanced;
  }
}

SWITCHYARD_INLINE RolloutAction CanaryController::do_promote(Pending& out, std::string_view actor,
                                                             std::string_view reason) {
  if (!run_hooks(plan_->hooks.confirm_promotion, "confirm_promotion", reason)) {
    return RolloutAction::kHeld;  // asked again on the next evaluation
  }
  const RolloutRecord before = *record_;
  record_->status = RolloutStatus::kPromoted;
  record_->step = static_cast<std::int64_t>(plan_->steps.size());
  record_->weights = {{detail::canary_controller::kStableArm, 100.0},
                      {detail::canary_controller::kCanaryArm, 0.0}};
  decide("promote", actor, reason);
  std::vector<PromotionEvidence> evidence = options_.promotion_evidence;
  PromotionEvidence canary = make_evidence();
  evidence.push_back(std::move(canary));
  if (experiment_) {
    // Seed 003's Staging -> Production gate accepts "a successful A/B test".
    const ExperimentReport report = experiment_->analyze();
    evidence.push_back({.kind = "ab_test",
                        .passed = report.decision.kind == DecisionKind::kShipTreatment,
                        .summary = "experiment '" + report.name + "': " +
                                   std::string(to_string(report.decision.kind)) + ", " +
                                   report.decision.reason,
                        .detail_json = report.to_json(),
                        .actor = options_.owner});
  }
  RolloutRecord next = *record_;
  next.revision += 1;
  next.updated_at = clock_->now();
  const RolloutLease held = *lease_;
  std::optional<RolloutLease> renewed;
  try {
    options_.registry->transition(
        record_->model, record_->candidate_version, Stage::kProduction,
        {.actor = std::string(actor),
         .reason = "canary: " + std::string(reason),
         .evidence = std::move(evidence),
         .move_aliases = options_.promote_aliases,
         .in_transaction = [&](RegistryTransaction& tx) {
           renewed = renew_rollout_lease(tx, held, next.updated_at, options_.lease_ttl);
           tx.put_rollout(next);
         }});
  } catch (const LeaseHeld&) {
    record_.reset();
    plan_.reset();
    lease_.reset();
    throw;
  } catch (const Error& e) {
    // The gate refused (evidence, sign-off) or the candidate moved: nothing was written.
    *record_ = before;
    do_pause(out, actor, std::string("promotion refused: ") + e.what());
    return RolloutAction::kPaused;
  }
  record_ = std::move(next);
  lease_ = renewed;
  publish_promoted();
  run_hooks(plan_->hooks.post_rollout, "post_rollout", reason);
  out.promoted.push_back(status_event(actor, reason));
  return RolloutAction::kPromoted;
}

SWITCHYARD_INLINE void CanaryController::do_rollback(Pending& out, std::string_view actor,
                                                     std::string_view reason,
                                                     const std::string& analysis_json) {
  namespace cc = detail::canary_controller;
  if (record_->status != RolloutStatus::kRollingBack) {
    record_->status = RolloutStatus::kRollingBack;
    record_->weights = {{cc::kStableArm, 100.0}, {cc::kCanaryArm, 0.0}};
    decide("rollback", actor, reason);
    // kRecordFirst: the decision is durable before traffic moves, so a restart after a crash
    // between the two finishes the rollback instead of republishing the candidate's weight.
    // kPublishFirst: finish_rollback() publishes at once and writes everything in one commit;
    // until that commit succeeds this controller holds kRollingBack in memory and the next
    // evaluate() finishes it.
    if (options_.rollback_order == RollbackOrder::kRecordFirst) persist();
  }
  finish_rollback(out, actor, reason, analysis_json);
}

SWITCHYARD_INLINE std::string CanaryController::rollback_reason() const {
  for (auto it = record_->decisions.rbegin(); it != record_->decisions.rend(); ++it) {
    if (it->action == "rollback") return it->reason;
  }
  return "rollback recorded before a restart";
}

SWITCHYARD_INLINE bool CanaryController::previous_kept(TimePoint now) const {
  if (record_->status != RolloutStatus::kPromoted) return false;
  std::optional<TimePoint> promoted_at;
  for (auto it = record_->decisions.rbegin(); it != record_->decisions.rend(); ++it) {
    if (it->action == "release_previous") return false;
    if (it->action == "promote") {
      promoted_at = it->at;
      break;
    }
  }
  return !plan_->keep_previous_for || !promoted_at ||
         now - *promoted_at < *plan_->keep_previous_for;
}

SWITCHYARD_INLINE void CanaryController::release_previous_if_due() {
  const auto& decisions = record_->decisions;
  const bool released =
      std::any_of(decisions.begin(), decisions.end(),
                  [](const RolloutDecision& d) { return d.action == "release_previous"; });
  if (released || !plan_->keep_previous_for || previous_kept(clock_->now())) return;
  publish_released();
  decide("release_previous", options_.owner,
         "version " + std::to_string(record_->stable_version) + " released after " +
             format_duration(*plan_->keep_previous_for));
  persist();
}

SWITCHYARD_INLINE void CanaryController::finish_rollback(Pending& out, std::string_view actor,
                                                         std::string_view reason,
                                                         const std::string& analysis_json) {
  // Traffic in one publish: every request after this is stable's.
  publish_weights(0.0);
  record_->status = RolloutStatus::kRolledBack;
  PromotionEvidence ev = make_evidence();
  if (!analysis_json.empty()) ev.detail_json = analysis_json;
  RolloutRecord next = *record_;
  next.revision += 1;
  next.updated_at = clock_->now();
  const RolloutLease held = *lease_;
  std::optional<RolloutLease> renewed;
  auto write = [&](RegistryTransaction& tx) {
    renewed = renew_rollout_lease(tx, held, next.updated_at, options_.lease_ttl);
    tx.put_rollout(next);
  };
  try {
    const VersionRef candidate =
        options_.registry->get(record_->model, record_->candidate_version);
    if (candidate->stage == Stage::kProduction &&
        options_.registry->get(record_->model, record_->stable_version)->stage ==
            Stage::kArchived) {
      // A switch-back after promotion: the previous version returns to Production and the
      // promoted one is archived (one registry transaction), then the record. A crash between
      // the two leaves kRollingBack stored; the resumed controller finds the registry done and
      // writes the record only.
      options_.registry->rollback(
          record_->model,
          {.actor = std::string(actor), .reason = "switched back: " + std::string(reason)},
          record_->stable_version);
      auto tx = options_.registry->store().begin();
      write(*tx);
      tx->commit();
    } else if (candidate->stage == Stage::kStaging) {
      options_.registry->transition(record_->model, record_->candidate_version,
                                    Stage::kRejected,
                                    {.actor = std::string(actor),
                                     .reason = "canary rolled back: " + std::string(reason),
                                     .evidence = {std::move(ev)},
                                     .in_transaction = write});
    } else {
      // Moved elsewhere by someone else meanwhile: keep the rollout's own record only.
      auto tx = options_.registry->store().begin();
      write(*tx);
      tx->commit();
    }
  } catch (const LeaseHeld&) {
    record_.reset();
    plan_.reset();
    lease_.reset();
    throw;
  } catch (...) {
    record_->status = RolloutStatus::kRollingBack;  // evaluate() or rollback() tries again
    throw;
  }
  record_ = std::move(next);
  lease_ = renewed;
  run_hooks(plan_->hooks.on_rollback, "on_rollback", reason);
  run_hooks(plan_->hooks.post_rollout, "post_rollout", reason);
  out.rolled_back.push_back(status_event(actor, reason));
}

SWITCHYARD_INLINE void CanaryController::do_pause(Pending& out, std::string_view actor,
                                                  std::string_view reason) {
  record_->status = RolloutStatus::kPaused;
  decide("pause", actor, reason);
  out.paused.push_back(status_event(actor, reason));
}

SWITCHYARD_INLINE void CanaryController::pause(std::string_view actor, std::string_view reason) {
  Pending out;
  {
    detail::MutexLock lk(mu_);
    require_live("pause");
    if (record_->status != RolloutStatus::kRunning) {
      throw InvalidTransition("rollout '" + name_ + "' is already paused");
    }
    do_pause(out, actor, reason.empty() ? "paused by hand" : reason);
    persist();
  }
  emit(out);
}

SWITCHYARD_INLINE RolloutAction CanaryController::resume(std::string_view actor) {
  Pending out;
  RolloutAction action = RolloutAction::kHeld;
  {
    detail::MutexLock lk(mu_);
    require_live("resume");
    if (record_->status != RolloutStatus::kPaused) {
      throw InvalidTransition("rollout '" + name_ + "' is not paused");
    }
    record_->status = RolloutStatus::kRunning;
    decide("resume", actor, "resumed");
    const auto& steps = plan_->steps;
    const std::int64_t at = record_->step;
    if (at >= static_cast<std::int64_t>(steps.size())) {
      action = do_promote(out, actor, "resumed after every step passed");
    } else if (const CanaryStep& s = steps[static_cast<std::size_t>(at)];
               s.kind == StepKind::kPause && !s.duration) {
      action = enter_step(out, at + 1, actor, "resumed");
    } else {
      record_->step_started_at = clock_->now();  // the step's clock starts again
      reset_step_data();
    }
    if (action != RolloutAction::kPromoted && action != RolloutAction::kRolledBack) persist();
  }
  emit(out);
  return action;
}

SWITCHYARD_INLINE void CanaryController::abort(std::string_view actor, std::string_view reason) {
  Pending out;
  {
    detail::MutexLock lk(mu_);
    require_live("abort");
    // Recorded before traffic moves, as a rollback is: a restart republishes weight 0.
    record_->status = RolloutStatus::kAborted;
    record_->weights = {{detail::canary_controller::kStableArm, 100.0},
                        {detail::canary_controller::kCanaryArm, 0.0}};
    decide("abort", actor, reason);
    persist();
    publish_weights(0.0);
    run_hooks(plan_->hooks.post_rollout, "post_rollout", reason);
    out.rolled_back.push_back(status_event(actor, reason));
  }
  emit(out);
}

SWITCHYARD_INLINE RolloutAction CanaryController::retry(std::string_view actor) {
  Pending out;
  RolloutAction action;
  {
    detail::MutexLock lk(mu_);
    if (!record_ || record_->status != RolloutStatus::kAborted) {
      throw InvalidTransition("rollout '" + name_ + "' can be retried only once aborted");
    }
    const VersionRef candidate = options_.registry->get(record_->model, record_->candidate_version);
    if (candidate->stage != Stage::kStaging) {
      throw InvalidTransition("rollout '" + name_ + "': candidate version " +
                              std::to_string(candidate->version) + " is no longer in Staging");
    }
    record_->status = RolloutStatus::kRunning;
    record_->failures = 0;
    record_->consecutive_failures = 0;
    decide("retry", actor, "started again from the first step");
    record_->step = 0;
    action = enter_step(out, 0, actor, "retry");
    if (action != RolloutAction::kPromoted && action != RolloutAction::kRolledBack) persist();
  }
  emit(out);
  return action;
}

SWITCHYARD_INLINE RolloutAction CanaryController::skip_step(std::string_view actor) {
  Pending out;
  RolloutAction action;
  {
    detail::MutexLock lk(mu_);
    require_live("skip a step of");
    record_->status = RolloutStatus::kRunning;
    decide("skip", actor, "step " + std::to_string(record_->step) + " skipped");
    action = enter_step(out, record_->step + 1, actor, "skipped by " + std::string(actor));
    if (action != RolloutAction::kPromoted && action != RolloutAction::kRolledBack) persist();
  }
  emit(out);
  return action;
}

SWITCHYARD_INLINE RolloutAction CanaryController::promote_now(std::string_view actor) {
  Pending out;
  RolloutAction action;
  {
    detail::MutexLock lk(mu_);
    require_live("promote");
    record_->status = RolloutStatus::kRunning;
    action = do_promote(out, actor, "promoted by " + std::string(actor));
    if (action != RolloutAction::kPromoted) persist();
  }
  emit(out);
  return action;
}

SWITCHYARD_INLINE void CanaryController::rollback(std::string_view actor,
                                                  std::string_view reason) {
  Pending out;
  {
    detail::MutexLock lk(mu_);
    if (record_ && record_->status == RolloutStatus::kRollingBack) {
      finish_rollback(out, actor, rollback_reason(), "");
    } else if (record_ && record_->status == RolloutStatus::kPromoted) {
      if (!previous_kept(clock_->now())) {
        throw InvalidTransition(
            "cannot switch rollout '" + name_ + "' back to version " +
            std::to_string(record_->stable_version) +
            ": it is no longer kept loaded (keep_previous_for is over); roll the model back in "
            "the registry and start a rollout instead");
      }
      do_rollback(out, actor, reason, "");
    } else {
      require_live("roll back");
      do_rollback(out, actor, reason, "");
    }
  }
  emit(out);
}

SWITCHYARD_INLINE std::optional<RolloutLease> CanaryController::renew_lease() {
  detail::MutexLock lk(mu_);
  if (!lease_) return std::nullopt;
  try {
    auto tx = options_.registry->store().begin();
    RolloutLease renewed = renew_rollout_lease(*tx, *lease_, clock_->now(), options_.lease_ttl);
    tx->commit();
    lease_ = renewed;
  } catch (const LeaseHeld&) {
    record_.reset();
    plan_.reset();
    lease_.reset();
    throw;
  }
  return lease_;
}

SWITCHYARD_INLINE void CanaryController::release() {
  detail::MutexLock lk(mu_);
  if (lease_) release_rollout_lease(options_.registry->store(), *lease_);
  lease_.reset();
  record_.reset();
  plan_.reset();
}

// ---- traffic ---------------------------------------------------------------------------------

SWITCHYARD_INLINE void CanaryController::publish_weights(double candidate_percent) {
  namespace cc = detail::canary_controller;
  if (options_.before_publish) {
    options_.before_publish({{cc::kStableArm, 100.0 - candidate_percent},
                             {cc::kCanaryArm, candidate_percent}});
  }
  detail::rollout_routing::publish_split(options_.deployment->router(), record_->stable_version,
                                         record_->candidate_version, candidate_percent);
  record_->weights = {{cc::kStableArm, 100.0 - candidate_percent},
                      {cc::kCanaryArm, candidate_percent}};
}

SWITCHYARD_INLINE void CanaryController::publish_promoted() {
  namespace cc = detail::canary_controller;
  if (options_.before_publish) {
    options_.before_publish({{cc::kStableArm, 100.0}, {cc::kPreviousArm, 0.0}});
  }
  detail::rollout_routing::publish_promoted(options_.deployment->router(),
                                            record_->candidate_version, record_->stable_version);
}

SWITCHYARD_INLINE void CanaryController::publish_released() {
  if (options_.before_publish) {
    options_.before_publish({{detail::canary_controller::kStableArm, 100.0}});
  }
  detail::rollout_routing::publish_released(options_.deployment->router(),
                                            record_->candidate_version);
}

SWITCHYARD_INLINE void CanaryController::republish() {
  switch (record_->status) {
    case RolloutStatus::kRunning:
    case RolloutStatus::kPaused: {
      auto it = record_->weights.find(detail::canary_controller::kCanaryArm);
      publish_weights(it == record_->weights.end() ? 0.0 : it->second);
      break;
    }
    case RolloutStatus::kPromoted:
      if (previous_kept(clock_->now())) {
        publish_promoted();
      } else {
        publish_released();
      }
      break;
    case RolloutStatus::kRolledBack:
    case RolloutStatus::kAborted:
    case RolloutStatus::kRollingBack:
      publish_weights(0.0);
      break;
  }
}

// ---- persistence -----------------------------------------------------------------------------

SWITCHYARD_INLINE void CanaryController::decide(std::string_view action, std::string_view actor,
                                                std::string_view reason) {
  record_->decisions.push_back(
      {clock_->now(), record_->step, std::string(action), std::string(actor), std::string(reason)});
}

SWITCHYARD_INLINE void CanaryController::persist() {
  try {
    auto tx = options_.registry->store().begin();
    write_record(*tx);
    tx->commit();
  } catch (const LeaseHeld&) {
    record_.reset();
    plan_.reset();
    lease_.reset();
    throw;
  }
}

SWITCHYARD_INLINE void CanaryController::write_record(RegistryTransaction& tx) {
  const TimePoint now = clock_->now();
  if (!lease_) throw LeaseHeld("rollout '" + name_ + "': this controller holds no lease", "", {});
  RolloutLease renewed = renew_rollout_lease(tx, *lease_, now, options_.lease_ttl);
  record_->step_state = encode_step_state();
  RolloutRecord next = *record_;
  next.revision += 1;
  next.updated_at = now;
  tx.put_rollout(next);
  // The caller commits at once; what it wrote becomes this controller's state.
  record_ = std::move(next);
  lease_ = renewed;
}

SWITCHYARD_INLINE bool CanaryController::run_hooks(const std::vector<std::string>& names,
                                                   std::string_view stage,
                                                   std::string_view reason) {
  for (const auto& name : names) {
    auto it = hooks_.find(name);
    bool ok = false;
    if (it != hooks_.end() && it->second) {
      RolloutHookContext ctx{name,
                             stage,
                             name_,
                             record_->model,
                             record_->stable_version,
                             record_->candidate_version,
                             reason};
      try {
        ok = it->second(ctx);
      } catch (...) {
        ok = false;
      }
    }
    if (!ok) {
      decide("hook_refused", options_.owner, std::string(stage) + " hook '" + name + "' refused");
      return false;
    }
  }
  return true;
}

SWITCHYARD_INLINE void CanaryController::require_live(std::string_view what) const {
  if (!record_) {
    throw InvalidTransition("cannot " + std::string(what) + " rollout '" + name_ +
                            "': this controller drives none (start or resume_from_store first)");
  }
  if (is_final(record_->status) || record_->status == RolloutStatus::kRollingBack) {
    throw InvalidTransition("cannot " + std::string(what) + " rollout '" + name_ + "': it is " +
                            std::string(to_string(record_->status)) +
                            (record_->status == RolloutStatus::kRollingBack
                                 ? " (evaluate() or rollback() finishes it)"
                                 : ""));
  }
}

SWITCHYARD_INLINE RolloutStatusEvent CanaryController::status_event(std::string_view actor,
                                                                    std::string_view reason) const {
  RolloutStatusEvent e;
  e.deployment = name_;
  e.model = record_->model;
  e.stable_version = record_->stable_version;
  e.candidate_version = record_->candidate_version;
  e.step = record_->step;
  e.status = record_->status;
  e.actor = std::string(actor);
  e.reason = std::string(reason);
  e.at = clock_->now();
  return e;
}

SWITCHYARD_INLINE void CanaryController::emit(Pending& out) {
  for (const auto& e : out.analyses) analysis(e);
  for (const auto& e : out.steps) step_advanced(e);
  for (const auto& e : out.paused) paused(e);
  for (const auto& e : out.promoted) promoted(e);
  for (const auto& e : out.rolled_back) rolled_back(e);
}

// ---- state -----------------------------------------------------------------------------------

SWITCHYARD_INLINE std::optional<RolloutRecord> CanaryController::record() const {
  detail::MutexLock lk(mu_);
  return record_;
}

SWITCHYARD_INLINE std::optional<CanaryPlan> CanaryController::plan() const {
  detail::MutexLock lk(mu_);
  return plan_;
}

SWITCHYARD_INLINE std::optional<RolloutLease> CanaryController::lease() const {
  detail::MutexLock lk(mu_);
  return lease_;
}

SWITCHYARD_INLINE PromotionEvidence CanaryController::evidence() const {
  detail::MutexLock lk(mu_);
  if (!record_) {
    throw InvalidTransition("rollout '" + name_ + "': this controller drives none yet");
  }
  return make_evidence();
}

SWITCHYARD_INLINE std::shared_ptr<Experiment> CanaryController::experiment() const {
  detail::MutexLock lk(mu_);
  return experiment_;
}

SWITCHYARD_INLINE std::pair<std::int64_t, std::int64_t> CanaryController::experiment_versions(
    const CanaryPlan& plan) const {
  const std::string model(options_.deployment->model());
  ModelRegistry& registry = *options_.registry;
  auto resolve = [&](const ExperimentPlanArm& arm, const char* which, Stage natural) {
    if (arm.version > 0) return registry.get(model, arm.version)->version;
    if (arm.model == model) {
      const auto in_stage = registry.versions(model, natural);
      if (in_stage.empty()) {
        throw NotFound("rollout '" + name_ + "': experiment " + which + " names model '" +
                       model + "', which has no " + std::string(to_string(natural)) +
                       " version; give the arm a version");
      }
      return in_stage.back()->version;
    }
    try {
      return registry.by_alias(model, arm.model)->version;
    } catch (const NotFound&) {
      throw NotFound("rollout '" + name_ + "': experiment " + which + " names '" + arm.model +
                     "', which is neither model '" + model + "' nor one of its aliases; give " +
                     "the arm a version or set the alias");
    }
  };
  const ExperimentPlan& e = *plan.experiment;
  const std::int64_t control = resolve(e.control, "control", Stage::kProduction);
  const std::int64_t treatment = resolve(e.treatment, "treatment", Stage::kStaging);
  if (plan.stable_version && *plan.stable_version != control) {
    throw InvalidArgument("rollout '" + name_ + "': stable_version " +
                          std::to_string(*plan.stable_version) + " is not the control's version " +
                          std::to_string(control));
  }
  return {control, treatment};
}

SWITCHYARD_INLINE void CanaryController::make_experiment() {
  namespace cc = detail::canary_controller;
  if (experiment_) experiment_->detach();
  experiment_.reset();
  if (!plan_->experiment) return;
  const ExperimentPlan& e = *plan_->experiment;
  experiment_ = std::make_shared<Experiment>(Experiment::Options{
      .name = plan_->name,
      .model = record_->model,
      .arms = {{std::string(cc::kStableArm), e.control.traffic},
               {std::string(cc::kCanaryArm), e.treatment.traffic}},
      .control = std::string(cc::kStableArm),
      .primary = e.primary,
      .guardrails = e.guardrails,
      .mode = e.mode,
      .clock = clock_});
  if (options_.events) experiment_->attach(*options_.events);
}

SWITCHYARD_INLINE RolloutAction CanaryController::judge_experiment(Pending& out,
                                                                   const CanaryStep& step,
                                                                   Duration elapsed,
                                                                   bool changed) {
  const ExperimentPlan& e = *plan_->experiment;
  const ExperimentReport report = experiment_->analyze();
  std::uint64_t fewest = report.arms.empty() ? 0 : ~std::uint64_t{0};
  for (const ArmReport& a : report.arms) fewest = std::min(fewest, a.exposures);
  const ExperimentDecision& d = report.decision;
  const std::string what = "experiment '" + report.name + "' " + std::string(to_string(d.kind));
  if (d.kind == DecisionKind::kInvalid) {
    do_pause(out, options_.owner, what + ": " + d.reason);
    persist();
    return RolloutAction::kPaused;
  }
  if (fewest >= e.min_sample_size && d.kind == DecisionKind::kShipTreatment) {
    if (!plan_->auto_promote) {
      do_pause(out, options_.owner, what + ": " + d.reason + "; waiting for a manual promotion");
      persist();
      return RolloutAction::kPaused;
    }
    return do_promote(out, options_.owner, what + ": " + d.reason);
  }
  if (fewest >= e.min_sample_size && d.kind == DecisionKind::kKeepControl) {
    do_rollback(out, options_.owner, what + ": " + d.reason, report.to_json());
    return RolloutAction::kRolledBack;
  }
  if (step.duration && elapsed >= *step.duration) {
    do_rollback(out, options_.owner,
                "experiment '" + report.name + "' undecided after " +
                    format_duration(*step.duration) + " (" + std::to_string(fewest) +
                    " exposures in the smaller arm, " + std::to_string(e.min_sample_size) +
                    " required): " + d.reason,
                report.to_json());
    return RolloutAction::kRolledBack;
  }
  if (changed) persist();
  return RolloutAction::kHeld;
}

SWITCHYARD_INLINE PromotionEvidence CanaryController::make_evidence() const {
  const RolloutRecord& r = *record_;
  PromotionEvidence e;
  e.kind = std::string(kCanaryEvidence);
  e.passed = r.status == RolloutStatus::kPromoted;
  e.actor = options_.owner;
  e.summary = "canary of version " + std::to_string(r.candidate_version) + " against " +
              std::to_string(r.stable_version) + ": " + std::string(to_string(r.status)) +
              " at step " + std::to_string(r.step) + ", " + std::to_string(r.failures) +
              " failed evaluations";
  RolloutRecord light = r;
  light.plan_json.clear();  // the plan is in the store's rollout row; the audit keeps the story
  e.detail_json = to_json(light, JsonStyle::kCompact);
  return e;
}

}  // namespace switchyard
