// SPDX-License-Identifier: Apache-2.0
// CanaryController: steps and promotion, guardrails firing and not firing, the failure limits, the
// judge in analysis steps, manual actions, hooks, the Staging -> Production gate, fallback to
// stable, the lease, a restart mid-rollout from the store, and a rollback under concurrent load.
// Time runs on the registry fixture's ManualClock; figures are fed to CanaryMetrics in batches
// with exact counts.
#include <switchyard/rollout/canary_controller.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/core/model_source.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

#include "support/fake_models.hpp"
#include "support/json.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace canary_controller_test {

using namespace std::chrono_literals;
using testing::ConstantModel;

constexpr const char* kModel = "fraud-detection";
const double kRow[3] = {1.0, 2.0, 3.0};

Guardrail error_rate_increase(double points) {
  return {.metric = GuardrailMetric::kErrorRate,
          .bound = GuardrailBound::kIncreaseOverStable,
          .threshold = points};
}

struct Harness {
  testing::RegistryFixture f;
  StaticModelSource source;
  std::shared_ptr<ConstantModel> stable_model = std::make_shared<ConstantModel>(0, 0.9);
  std::shared_ptr<ConstantModel> canary_model = std::make_shared<ConstantModel>(1, 0.8);
  std::int64_t stable = 0, candidate = 0;
  std::unique_ptr<Deployment> deployment;
  std::shared_ptr<CanaryMetrics> metrics;
  std::vector<std::string> hook_calls;

  Harness() {
    stable = f.add_production(kModel, 0.9, 1);
    candidate = f.add(kModel, 0.91, 2);
    f.registry->transition(kModel, candidate, Stage::kStaging, {.actor = "ci"});
    source.add(kModel, stable, stable_model);
    source.add(kModel, candidate, canary_model);
    new_deployment();
  }
  // A fresh deployment and metrics, as a restarted process has.
  void new_deployment() {
    deployment = std::make_unique<Deployment>(
        Deployment::Options{.model = kModel, .source = &source, .check_signatures = false});
    metrics = std::make_shared<CanaryMetrics>(
        CanaryMetrics::Options{.versions = {stable, candidate}, .clock = &f.clock});
    deployment->add_observer(metrics);
  }
  CanaryController::Options options(std::string owner = "controller-a") {
    return {.deployment = deployment.get(),
            .registry = f.registry.get(),
            .metrics = metrics.get(),
            .clock = &f.clock,
            .owner = std::move(owner),
            .lease_ttl = 10min,
            .promote_aliases = {"champion"}};
  }
  CanaryPlan plan(std::vector<CanaryStep> steps) const {
    CanaryPlan p;
    p.name = kModel;
    p.model = kModel;
    p.candidate_version = candidate;
    p.steps = std::move(steps);
    p.interval = 1min;
    p.min_samples = 100;
    p.guardrails = {error_rate_increase(0.01)};
    // These tests drive single windows by hand, so they use the per-window rule; the sequential
    // default has tests of its own below.
    p.judgement = RuleJudgement::kPerWindow;
    return p;
  }
  // Seed 003's shape, short: 10 % for 10 minutes, 50 % for 10 minutes, then promotion.
  CanaryPlan two_stages() const {
    return plan({CanaryStep::set_weight(10), CanaryStep::pause(10min),
                 CanaryStep::set_weight(50), CanaryStep::pause(10min)});
  }
  void traffic(std::uint64_t stable_requests, std::uint64_t stable_errors,
               std::uint64_t canary_requests, std::uint64_t canary_errors) {
    ASSERT_TRUE(metrics->record_batch(stable, {.requests = stable_requests,
                                               .errors = stable_errors}));
    ASSERT_TRUE(metrics->record_batch(candidate, {.requests = canary_requests,
                                                  .errors = canary_errors}));
  }
  void good_traffic() { traffic(1000, 5, 1000, 6); }
  void bad_traffic() { traffic(1000, 5, 1000, 50); }
  double weight(const std::string& arm) const {
    for (const auto& v : deployment->router().policy().variants) {
      if (v.name == arm) return v.weight;
    }
    return -1;
  }
  void connect_hooks(CanaryController& c) {
    for (const char* name : {"smoke", "approve", "notify", "page"}) {
      c.set_hook(name, [this](const RolloutHookContext& ctx) {
        hook_calls.push_back(std::string(ctx.stage) + ":" + std::string(ctx.hook));
        return true;
      });
    }
  }
};

std::size_t count_decisions(const RolloutRecord& r, const std::string& action, std::int64_t step) {
  std::size_t n = 0;
  for (const auto& d : r.decisions) n += d.action == action && d.step == step;
  return n;
}

TEST(CanaryControllerTest, walks_the_steps_promotes_and_records_every_decision) {
  Harness h;
  CanaryController c(h.options());
  std::vector<RolloutStepEvent> steps;
  std::vector<RolloutStatusEvent> promotions;
  c.step_advanced.connect([&](const RolloutStepEvent& e) { steps.push_back(e); });
  c.promoted.connect([&](const RolloutStatusEvent& e) { promotions.push_back(e); });
  CanaryPlan p = h.two_stages();
  p.hooks.pre_rollout = {"smoke"};
  p.hooks.confirm_promotion = {"approve"};
  p.hooks.post_rollout = {"notify"};
  h.connect_hooks(c);

  EXPECT_EQ(c.start(p), RolloutAction::kAdvanced);
  EXPECT_EQ(h.weight("canary"), 10);
  EXPECT_EQ(h.weight("stable"), 90);
  EXPECT_EQ(c.record()->step, 1);
  ASSERT_EQ(steps.size(), 2u);  // into step 0 (set weight), then into step 1 (pause)
  EXPECT_EQ(steps[1].candidate_weight, 10);

  h.f.clock.advance(5min);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld) << "the pause has 5 minutes to go";
  h.f.clock.advance(5min);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kAdvanced);
  EXPECT_EQ(h.weight("canary"), 50);
  EXPECT_EQ(c.record()->step, 3);
  h.f.clock.advance(10min);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kPromoted);
  EXPECT_EQ(c.evaluate(), RolloutAction::kNone) << "final";

  // Registry: candidate in Production with the alias, the previous version archived.
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kProduction);
  EXPECT_EQ(h.f.registry->get(kModel, h.stable)->stage, Stage::kArchived);
  EXPECT_EQ(h.f.registry->by_alias(kModel, "champion")->version, h.candidate);
  // Router: the promoted version serves everything; the previous one stays loaded as fallback.
  const RoutingPolicy policy = h.deployment->router().policy();
  ASSERT_EQ(policy.variants.size(), 2u);
  EXPECT_EQ(policy.variants[0].version, h.candidate);
  EXPECT_EQ(policy.variants[0].weight, 100);
  EXPECT_EQ(policy.fallback_variant, "previous");
  // The stored rollout and the audit row say the same, written together.
  const auto stored = h.f.store->load_rollout(kModel);
  ASSERT_TRUE(stored);
  EXPECT_EQ(*stored, *c.record());
  EXPECT_EQ(stored->status, RolloutStatus::kPromoted);
  for (std::int64_t s = 0; s <= 4; ++s) {
    EXPECT_EQ(count_decisions(*stored, "advance", s), 1u) << "step " << s << " entered once";
  }
  AuditRecord promotion;
  for (const auto& r : h.f.registry->history(kModel)) {
    if (r.version == h.candidate && r.to_stage == Stage::kProduction) promotion = r;
  }
  ASSERT_EQ(promotion.evidence.size(), 1u);
  EXPECT_EQ(promotion.evidence[0].kind, "canary");
  EXPECT_TRUE(promotion.evidence[0].passed);
  EXPECT_EQ(promotion.actor, "controller-a");
  EXPECT_EQ(h.hook_calls, (std::vector<std::string>{"pre_rollout:smoke",
                                                    "confirm_promotion:approve",
                                                    "post_rollout:notify"}));
  ASSERT_EQ(promotions.size(), 1u);
  EXPECT_EQ(promotions[0].status, RolloutStatus::kPromoted);
  testing::json::Document doc;
  doc.Parse(promotions[0].to_json().c_str());
  ASSERT_FALSE(doc.HasParseError()) << promotions[0].to_json();
  EXPECT_STREQ(doc["event"].GetString(), "promoted");
  EXPECT_EQ(doc["candidate_version"].GetInt64(), h.candidate);
}

TEST(CanaryControllerTest, rules_against_stable_do_not_hold_a_step_where_stable_takes_nothing) {
  // Seed 003's last stage sends 100 % to the candidate: a plan-level error_rate_increase rule
  // has no stable traffic to compare with there. It is reported as not applicable, and the
  // rollout completes instead of holding forever; per window and judged sequentially alike.
  for (const RuleJudgement judgement : {RuleJudgement::kPerWindow, RuleJudgement::kSequential}) {
    Harness h;
    CanaryController c(h.options());
    std::vector<RolloutAnalysisEvent> analyses;
    c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
    CanaryPlan p = h.plan({CanaryStep::set_weight(10), CanaryStep::pause(10min),
                           CanaryStep::set_weight(100), CanaryStep::pause(10min)});
    p.judgement = judgement;
    ASSERT_EQ(c.start(p), RolloutAction::kAdvanced);
    for (int minute = 0; minute < 10; ++minute) {
      h.f.clock.advance(1min);
      h.good_traffic();
      if (c.evaluate() == RolloutAction::kAdvanced) break;
    }
    ASSERT_EQ(h.weight("canary"), 100) << to_string(judgement);
    RolloutAction last = RolloutAction::kHeld;
    for (int minute = 0; minute < 10 && last != RolloutAction::kPromoted; ++minute) {
      h.f.clock.advance(1min);
      h.traffic(0, 0, 2000, 11);  // every request on the candidate
      last = c.evaluate();
    }
    EXPECT_EQ(last, RolloutAction::kPromoted) << to_string(judgement);
    ASSERT_FALSE(analyses.empty());
    const RolloutAnalysisEvent& at_100 = analyses.back();
    EXPECT_EQ(at_100.step, 3);
    ASSERT_EQ(at_100.checks.size(), 1u);
    EXPECT_EQ(at_100.checks[0].state, GuardrailState::kNotJudged);
    EXPECT_NE(at_100.checks[0].reason.find("not applicable"), std::string::npos)
        << at_100.checks[0].reason;
  }
}

TEST(CanaryControllerTest, a_failing_guardrail_rolls_back_and_rejects_with_the_evidence) {
  Harness h;
  CanaryController c(h.options());
  CanaryPlan p = h.two_stages();
  p.hooks.on_rollback = {"page"};
  h.connect_hooks(c);
  std::vector<RolloutAnalysisEvent> analyses;
  std::vector<RolloutStatusEvent> rollbacks;
  c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
  c.rolled_back.connect([&](const RolloutStatusEvent& e) { rollbacks.push_back(e); });
  c.start(p);
  h.f.clock.advance(1min);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld) << "0.6 % against 0.5 %: within 1 point";
  ASSERT_EQ(analyses.size(), 1u);
  EXPECT_EQ(analyses[0].verdict, AnalysisVerdict::kPass);
  ASSERT_EQ(analyses[0].checks.size(), 1u);
  EXPECT_EQ(analyses[0].checks[0].state, GuardrailState::kPassed);
  EXPECT_DOUBLE_EQ(analyses[0].checks[0].limit, 0.005 + 0.01);

  h.f.clock.advance(1min);
  h.bad_traffic();  // 5 % against 0.5 %
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack);
  EXPECT_EQ(h.weight("canary"), 0);
  EXPECT_EQ(h.weight("stable"), 100);
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kRejected);
  EXPECT_EQ(h.f.registry->get(kModel, h.stable)->stage, Stage::kProduction);
  const AuditRecord last = h.f.registry->history(kModel).back();
  EXPECT_EQ(last.action, "transition");
  EXPECT_EQ(last.to_stage, Stage::kRejected);
  EXPECT_NE(last.reason.find("error_rate_increase"), std::string::npos) << last.reason;
  ASSERT_EQ(last.evidence.size(), 1u);
  EXPECT_EQ(last.evidence[0].kind, "canary");
  EXPECT_FALSE(last.evidence[0].passed);
  EXPECT_NE(last.evidence[0].detail_json.find("\"checks\""), std::string::npos)
      << "the failing analysis is the evidence";
  EXPECT_EQ(h.f.store->load_rollout(kModel)->status, RolloutStatus::kRolledBack);
  EXPECT_EQ(h.hook_calls, std::vector<std::string>{"on_rollback:page"});
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_EQ(rollbacks[0].status, RolloutStatus::kRolledBack);
  EXPECT_EQ(analyses.back().checks[0].state, GuardrailState::kFailed);
  testing::json::Document doc;
  doc.Parse(analyses.back().to_json().c_str());
  ASSERT_FALSE(doc.HasParseError()) << analyses.back().to_json();
  EXPECT_STREQ(doc["verdict"].GetString(), "fail");
  EXPECT_STREQ(doc["checks"][0]["state"].GetString(), "failed");
  EXPECT_THROW(c.pause("alice"), InvalidTransition) << "a final rollout takes no more actions";
}

TEST(CanaryControllerTest, failure_limits_tolerate_failures_then_roll_back) {
  Harness h;
  CanaryController c(h.options());
  CanaryPlan p = h.two_stages();
  p.failure_limit = 3;
  p.consecutive_failure_limit = 1;
  c.start(p);
  h.bad_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);  // failures 1, in a row 1
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);  // in a row 0
  EXPECT_EQ(c.record()->consecutive_failures, 0);
  h.bad_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);  // failures 2, in a row 1
  EXPECT_EQ(c.record()->failures, 2);
  EXPECT_EQ(h.f.store->load_rollout(kModel)->failures, 2) << "counters are durable";
  h.bad_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack) << "two in a row is one over the limit";
}

TEST(CanaryControllerTest, too_few_samples_hold_the_step_past_its_duration) {
  Harness h;
  CanaryController c(h.options());
  c.start(h.plan({CanaryStep::set_weight(5), CanaryStep::pause(1min), CanaryStep::set_weight(20),
                  CanaryStep::pause(1min)}));
  std::vector<RolloutAnalysisEvent> analyses;
  c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
  h.f.clock.advance(2min);
  h.traffic(1000, 5, 99, 0);  // the canary is one request short of min_samples
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);
  EXPECT_EQ(analyses.back().verdict, AnalysisVerdict::kInconclusive);
  EXPECT_EQ(analyses.back().checks[0].state, GuardrailState::kNotJudged);
  EXPECT_NE(analyses.back().checks[0].reason.find("need 100"), std::string::npos);
  EXPECT_EQ(h.weight("canary"), 5);
  h.traffic(1000, 5, 100, 0);
  EXPECT_EQ(c.evaluate(), RolloutAction::kAdvanced);
  EXPECT_EQ(h.weight("canary"), 20);
}

TEST(CanaryControllerTest, accuracy_waits_for_labels_and_drift_comes_from_the_provider) {
  Harness h;
  std::optional<double> drift;
  CanaryController::Options o = h.options();
  o.drift = [&](std::int64_t s, std::int64_t cand) {
    EXPECT_EQ(s, h.stable);
    EXPECT_EQ(cand, h.candidate);
    return drift;
  };
  CanaryController c(o);
  CanaryPlan p = h.plan({CanaryStep::set_weight(10), CanaryStep::pause(1h)});
  p.failure_limit = 5;
  p.guardrails = {{.metric = GuardrailMetric::kAccuracy,
                   .bound = GuardrailBound::kDropBelowStable,
                   .threshold = 0.02},
                  {.metric = GuardrailMetric::kPredictionDrift,
                   .bound = GuardrailBound::kAtMost,
                   .threshold = 0.2}};
  std::vector<RolloutAnalysisEvent> analyses;
  c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
  c.start(p);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);
  EXPECT_EQ(analyses.back().verdict, AnalysisVerdict::kPass)
      << "no labels and no drift value yet: nothing to judge, nothing held";
  ASSERT_TRUE(h.metrics->record_labels(h.stable, 200, 180));     // 0.90
  ASSERT_TRUE(h.metrics->record_labels(h.candidate, 200, 178));  // 0.89: within 2 points
  drift = 0.1;
  c.evaluate();
  EXPECT_EQ(analyses.back().verdict, AnalysisVerdict::kPass);
  EXPECT_EQ(analyses.back().checks[0].state, GuardrailState::kPassed);
  EXPECT_EQ(analyses.back().checks[1].state, GuardrailState::kPassed);
  ASSERT_TRUE(h.metrics->record_labels(h.stable, 200, 180));
  ASSERT_TRUE(h.metrics->record_labels(h.candidate, 200, 170));  // 0.85: 5 points down
  c.evaluate();
  EXPECT_EQ(analyses.back().verdict, AnalysisVerdict::kFail);
  EXPECT_EQ(analyses.back().checks[0].state, GuardrailState::kFailed);
  EXPECT_EQ(analyses.back().checks[1].state, GuardrailState::kPassed);
  drift = 0.35;
  c.evaluate();
  EXPECT_EQ(analyses.back().checks[1].state, GuardrailState::kFailed);
  EXPECT_DOUBLE_EQ(analyses.back().checks[1].candidate, 0.35);
}

TEST(CanaryControllerTest, an_analysis_step_is_judged_sequentially_on_the_steps_data) {
  Harness h;
  CanaryController c(h.options());
  CanaryPlan p = h.plan({CanaryStep::set_weight(10),
                         CanaryStep::analysis({error_rate_increase(0.01)}, 500),
                         CanaryStep::set_weight(50), CanaryStep::pause(1h)});
  p.guardrails.clear();
  std::vector<RolloutAnalysisEvent> analyses;
  c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
  c.start(p);
  h.traffic(300, 3, 300, 3);
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld) << "below the judge's 500 samples";
  ASSERT_TRUE(analyses.back().judge_verdict);
  EXPECT_EQ(*analyses.back().judge_verdict, JudgeVerdict::kInconclusive);
  h.traffic(3000, 30, 3000, 30);  // 1 % on both sides, 3,300 each since the step began
  EXPECT_EQ(c.evaluate(), RolloutAction::kAdvanced);
  EXPECT_EQ(*analyses.back().judge_verdict, JudgeVerdict::kPass);
  EXPECT_EQ(h.weight("canary"), 50);

  Harness bad;
  CanaryController b(bad.options());
  b.start(p);
  bad.traffic(3000, 30, 3000, 300);  // 10 % against 1 %
  EXPECT_EQ(b.evaluate(), RolloutAction::kRolledBack);
  EXPECT_EQ(bad.f.registry->get(kModel, bad.candidate)->stage, Stage::kRejected);
}

TEST(CanaryControllerTest, a_pause_steps_rules_are_judged_sequentially_by_default) {
  Harness h;
  CanaryController c(h.options());
  CanaryPlan p = h.two_stages();
  p.judgement = RuleJudgement::kSequential;  // the default of a parsed plan
  std::vector<RolloutAnalysisEvent> analyses;
  c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
  c.start(p);
  // 2 % against 0.5 % in one window of 1,000 each: the per-window rule (limit 1.5 %) would roll
  // back; on this little data the difference is not shown beyond the 1-point rule.
  h.f.clock.advance(1min);
  h.traffic(1000, 5, 1000, 20);
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);
  ASSERT_EQ(analyses.size(), 1u);
  EXPECT_EQ(analyses[0].verdict, AnalysisVerdict::kPass);
  ASSERT_EQ(analyses[0].checks.size(), 1u) << "the judged rule is reported as a check";
  const GuardrailCheck& check = analyses[0].checks[0];
  EXPECT_EQ(check.key, "error_rate_increase");
  EXPECT_EQ(check.state, GuardrailState::kPassed);
  EXPECT_DOUBLE_EQ(check.stable, 0.005);
  EXPECT_DOUBLE_EQ(check.candidate, 0.02);
  EXPECT_DOUBLE_EQ(check.limit, 0.015);
  EXPECT_EQ(check.candidate_samples, 1000u);
  EXPECT_EQ(*analyses[0].judge_verdict, JudgeVerdict::kPass);
  // The pause ends with its duration while nothing is shown.
  for (int i = 0; i < 9; ++i) {
    h.f.clock.advance(1min);
    h.traffic(1000, 5, 1000, 6);
    const RolloutAction a = c.evaluate();
    EXPECT_EQ(a, i < 8 ? RolloutAction::kHeld : RolloutAction::kAdvanced) << "minute " << i + 2;
  }
  EXPECT_EQ(h.weight("canary"), 50);
  // In the next stage (the data start again) a candidate clearly beyond the rule is rolled back.
  h.f.clock.advance(1min);
  h.traffic(20000, 100, 20000, 1000);  // 5 % against 0.5 %
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack);
  EXPECT_EQ(analyses.back().checks[0].state, GuardrailState::kFailed);
  EXPECT_NE(analyses.back().summary.find("error_rate_increase"), std::string::npos)
      << analyses.back().summary;
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kRejected);
}

TEST(CanaryControllerTest, a_p99_rule_is_judged_as_the_share_of_answers_beyond_the_limit) {
  // latency_p99_increase: 20 ms. Stable: p99 at 50 ms. The rule fails when more than 1 % of the
  // candidate's answers are slower than 50 + 20 = 70 ms (the share stable has above its p99).
  auto histogram = [](std::uint64_t fast, std::uint64_t slow, std::uint64_t fast_ms = 50) {
    LatencyHistogram hist;
    for (std::uint64_t i = 0; i < fast; ++i) hist.record(fast_ms * 1'000'000);
    for (std::uint64_t i = 0; i < slow; ++i) hist.record(100'000'000);  // 100 ms
    return hist;
  };
  const LatencyHistogram stable = histogram(9900, 100);
  const Guardrail p99 = {.metric = GuardrailMetric::kLatencyP99,
                         .bound = GuardrailBound::kIncreaseOverStable,
                         .threshold = 20.0};
  auto run = [&](const LatencyHistogram& canary) {
    Harness h;
    CanaryController c(h.options());
    CanaryPlan p = h.two_stages();
    p.judgement = RuleJudgement::kSequential;
    p.guardrails = {p99};
    std::vector<RolloutAnalysisEvent> analyses;
    c.analysis.connect([&](const RolloutAnalysisEvent& e) { analyses.push_back(e); });
    c.start(p);
    h.f.clock.advance(1min);
    EXPECT_TRUE(h.metrics->record_batch(h.stable, {.requests = 10000, .latency = &stable}));
    EXPECT_TRUE(h.metrics->record_batch(h.candidate, {.requests = 10000, .latency = &canary}));
    const RolloutAction a = c.evaluate();
    EXPECT_EQ(analyses.size(), 1u);
    if (!analyses.empty() && !analyses[0].checks.empty()) {
      const GuardrailCheck& check = analyses[0].checks[0];
      EXPECT_NEAR(check.stable, 50.0, 50.0 * 0.008) << "bucket midpoint, within 0.8 %";
      EXPECT_NEAR(check.limit, check.stable + 20.0, 1e-9);
    }
    return a;
  };
  // 0.5 % of the candidate's answers at 100 ms: its p99 is 50 ms, within the rule.
  EXPECT_EQ(run(histogram(9950, 50)), RolloutAction::kHeld);
  // 5 % at 100 ms: its p99 is 100 ms; 500 of 10,000 beyond 70 ms against stable's 100.
  EXPECT_EQ(run(histogram(9500, 500)), RolloutAction::kRolledBack);
  // Slower in the middle (65 ms against 50 ms) but with the same 1 % tail: not a p99 failure.
  EXPECT_EQ(run(histogram(9900, 100, 65)), RolloutAction::kHeld);
}

TEST(CanaryControllerTest, manual_pause_resume_skip_abort_retry_and_promote_now) {
  Harness h;
  CanaryController c(h.options());
  std::vector<RolloutStatusEvent> pauses, stops;
  c.paused.connect([&](const RolloutStatusEvent& e) { pauses.push_back(e); });
  c.rolled_back.connect([&](const RolloutStatusEvent& e) { stops.push_back(e); });
  // A pause step without a duration waits for resume().
  EXPECT_EQ(c.start(h.plan({CanaryStep::set_weight(10), CanaryStep::pause(std::nullopt),
                            CanaryStep::set_weight(30), CanaryStep::pause(1h),
                            CanaryStep::set_weight(60), CanaryStep::pause(1h)})),
            RolloutAction::kPaused);
  ASSERT_EQ(pauses.size(), 1u);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kPaused);
  EXPECT_THROW(c.pause("alice"), InvalidTransition);
  EXPECT_EQ(c.resume("alice"), RolloutAction::kAdvanced);
  EXPECT_EQ(h.weight("canary"), 30);
  EXPECT_THROW(c.resume("alice"), InvalidTransition) << "not paused";

  c.pause("alice", "investigating a dashboard");
  EXPECT_EQ(c.record()->status, RolloutStatus::kPaused);
  EXPECT_EQ(h.f.store->load_rollout(kModel)->status, RolloutStatus::kPaused);
  EXPECT_EQ(c.skip_step("bob"), RolloutAction::kAdvanced) << "skipping also resumes";
  EXPECT_EQ(h.weight("canary"), 60);
  EXPECT_EQ(c.record()->step, 5);

  c.abort("bob", "wrong build");
  EXPECT_EQ(h.weight("canary"), 0);
  EXPECT_EQ(c.record()->status, RolloutStatus::kAborted);
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kStaging)
      << "an abort leaves the candidate where it was";
  ASSERT_EQ(stops.size(), 1u);
  EXPECT_EQ(stops[0].status, RolloutStatus::kAborted);
  EXPECT_EQ(stops[0].reason, "wrong build");

  EXPECT_EQ(c.retry("bob"), RolloutAction::kPaused) << "from the first step again";
  EXPECT_EQ(c.record()->step, 1);
  EXPECT_EQ(h.weight("canary"), 10);
  EXPECT_EQ(c.promote_now("carol"), RolloutAction::kPromoted);
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kProduction);
  const auto decisions = h.f.store->load_rollout(kModel)->decisions;
  std::vector<std::string> actions;
  for (const auto& d : decisions) {
    if (d.action != "advance") actions.push_back(d.action + ":" + d.actor);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{
                         "start:controller-a", "pause:controller-a", "resume:alice",
                         "pause:alice", "skip:bob", "abort:bob", "retry:bob", "pause:bob",
                         "promote:carol"}));
}

TEST(CanaryControllerTest, the_production_gate_holds_the_promotion_until_its_evidence_is_there) {
  Harness h;
  h.f.registry->set_promotion_policy(kModel, {.require_any_of = {"shadow", "ab_test", "canary"},
                                              .require_all_of = {"load_test"},
                                              .require_owner_sign_off = true});
  {
    CanaryController c(h.options());
    std::vector<RolloutStatusEvent> pauses;
    c.paused.connect([&](const RolloutStatusEvent& e) { pauses.push_back(e); });
    c.start(h.plan({CanaryStep::set_weight(50), CanaryStep::pause(1min)}));
    h.f.clock.advance(1min);
    h.good_traffic();
    EXPECT_EQ(c.evaluate(), RolloutAction::kPaused);
    ASSERT_EQ(pauses.size(), 1u);
    EXPECT_NE(pauses[0].reason.find("'load_test'"), std::string::npos) << pauses[0].reason;
    EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kStaging);
    EXPECT_EQ(h.weight("canary"), 50) << "a refused promotion moves no traffic";
    c.abort("alice", "collect the load test first");
  }
  CanaryController::Options o = h.options();
  o.promotion_evidence = {
      {.kind = "load_test", .passed = true, .summary = "2,000 rps for 30 min, p99 38 ms"},
      {.kind = "sign_off", .passed = true, .summary = "ship it", .actor = "test"}};
  CanaryController c(o);
  c.start(h.plan({CanaryStep::set_weight(50), CanaryStep::pause(1min)}));
  h.f.clock.advance(1min);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kPromoted);
  const AuditRecord row = h.f.registry->history(kModel).back();
  EXPECT_EQ(row.action, "alias");
  std::vector<std::string> kinds;
  for (const auto& r : h.f.registry->history(kModel)) {
    if (r.to_stage == Stage::kProduction && r.version == h.candidate) {
      for (const auto& e : r.evidence) kinds.push_back(e.kind + "/" + e.actor);
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"load_test/", "sign_off/test",
                                             "canary/controller-a"}));
}

TEST(CanaryControllerTest, the_canary_falls_back_to_stable_when_its_model_throws) {
  Harness h;
  CanaryController c(h.options());
  c.start(h.plan({CanaryStep::set_weight(100), CanaryStep::pause(1h)}));
  EXPECT_EQ(h.deployment->router().policy().fallback_variant, "stable");
  h.canary_model->set_failing(true);
  for (int i = 0; i < 20; ++i) {
    const std::string key = "user-" + std::to_string(i);
    auto r = h.deployment->predict({.key = key, .input = TensorView(kRow, Shape{1, 3})});
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->version, h.stable);
    EXPECT_TRUE(r->fell_back);
    EXPECT_EQ(r->failed_version, h.candidate);
  }
  // The failures the fallback hid are the candidate's errors: the guardrail sees them.
  h.traffic(1000, 0, 80, 0);
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack);
}

TEST(CanaryControllerTest, only_one_controller_drives_a_deployment) {
  Harness h;
  CanaryController a(h.options("controller-a"));
  a.start(h.two_stages());
  CanaryController b(h.options("controller-b"));
  try {
    b.start(h.two_stages());
    FAIL() << "a second controller started";
  } catch (const LeaseHeld& e) {
    EXPECT_EQ(e.holder(), "controller-a");
    EXPECT_NE(std::string(e.what()).find("'controller-a'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(b.resume_from_store(), LeaseHeld);
  EXPECT_EQ(h.weight("canary"), 10) << "the refused controller moved nothing";
  // Lease expired (controller-a went silent): b takes over; a is fenced out.
  h.f.clock.advance(11min);
  ASSERT_TRUE(b.resume_from_store());
  EXPECT_EQ(b.lease()->token, 2);
  h.good_traffic();
  EXPECT_THROW(a.evaluate(), LeaseHeld);
  EXPECT_FALSE(a.record()) << "a controller that lost its lease forgets the rollout";
}

TEST(CanaryControllerTest, a_restarted_controller_resumes_at_the_persisted_step) {
  Harness h;
  RolloutRecord before;
  {
    CanaryController c(h.options());
    c.start(h.two_stages());
    h.f.clock.advance(10min);
    h.good_traffic();
    ASSERT_EQ(c.evaluate(), RolloutAction::kAdvanced);  // now at 50 %, step 3
    h.f.clock.advance(4min);
    before = *c.record();
    // The process dies here: no release, no goodbye.
  }
  h.f.reopen();          // a new registry on the same file
  h.new_deployment();    // a new router, serving nothing yet
  EXPECT_EQ(h.deployment->router().policy().variants.size(), 0u);
  CanaryController c(h.options());
  ASSERT_TRUE(c.resume_from_store());
  EXPECT_EQ(*c.record(), before) << "nothing replayed, nothing skipped, nothing written";
  EXPECT_EQ(h.weight("canary"), 50) << "the persisted weights serve again";
  EXPECT_EQ(h.weight("stable"), 50);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kHeld) << "6 of the step's 10 minutes left";
  h.f.clock.advance(6min);
  h.good_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kPromoted);
  const RolloutRecord r = *h.f.store->load_rollout(kModel);
  for (std::int64_t s = 0; s <= 4; ++s) {
    EXPECT_EQ(count_decisions(r, "advance", s), 1u) << "step " << s << " entered once";
  }
}

TEST(CanaryControllerTest, a_crash_before_a_set_weight_step_ran_runs_it_once_on_resume) {
  Harness h;
  {
    CanaryController c(h.options());
    c.start(h.two_stages());
  }
  // What the store holds when the process died between recording step 2 (set weight 50) as
  // current and running it: the weights are still step 0's.
  RolloutRecord r = *h.f.store->load_rollout(kModel);
  r.step = 2;
  {
    auto tx = h.f.store->begin();
    tx->put_rollout(r);
    tx->commit();
  }
  h.new_deployment();
  CanaryController c(h.options());
  ASSERT_TRUE(c.resume_from_store());
  EXPECT_EQ(h.weight("canary"), 50);
  EXPECT_EQ(c.record()->step, 3);
  EXPECT_EQ(count_decisions(*h.f.store->load_rollout(kModel), "advance", 2), 1u);
}

// RollbackOrder::kRecordFirst: the process stops after the rollback is recorded and before the
// router publish (the publish hook throws where the process would have died): a restarted
// controller finishes the rollback rather than republishing the candidate's weight, and the
// rollback is decided once.
struct CrashBeforePublish {};

TEST(CanaryControllerTest, a_crash_between_recording_a_rollback_and_publishing_it_resumes_it) {
  Harness h;
  {
    bool armed = false;
    CanaryController::Options o = h.options();
    o.rollback_order = RollbackOrder::kRecordFirst;
    o.before_publish = [&armed](const std::map<std::string, double>& weights) {
      if (armed && weights.at("canary") == 0.0) throw CrashBeforePublish{};
    };
    CanaryController c(o);
    c.start(h.plan({CanaryStep::set_weight(50), CanaryStep::pause(1h)}));
    armed = true;
    h.bad_traffic();
    EXPECT_THROW(c.evaluate(), CrashBeforePublish);
  }
  const RolloutRecord stored = *h.f.store->load_rollout(kModel);
  EXPECT_EQ(stored.status, RolloutStatus::kRollingBack);
  EXPECT_EQ(stored.weights.at("canary"), 0.0);
  EXPECT_EQ(h.weight("canary"), 50) << "the publish never happened";
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kStaging);

  h.f.reopen();
  h.new_deployment();
  std::vector<RolloutStatusEvent> rollbacks;
  std::vector<double> published;
  CanaryController::Options o = h.options();
  o.before_publish = [&published](const std::map<std::string, double>& weights) {
    published.push_back(weights.at("canary"));
  };
  CanaryController c(o);
  c.rolled_back.connect([&](const RolloutStatusEvent& e) { rollbacks.push_back(e); });
  ASSERT_TRUE(c.resume_from_store());
  EXPECT_EQ(published, std::vector<double>({0.0, 0.0})) << "the canary weight never came back";
  EXPECT_EQ(h.weight("canary"), 0);
  EXPECT_EQ(h.weight("stable"), 100);
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kRejected);
  const RolloutRecord r = *h.f.store->load_rollout(kModel);
  EXPECT_EQ(r.status, RolloutStatus::kRolledBack);
  EXPECT_EQ(count_decisions(r, "rollback", 1), 1u) << "decided once, finished on resume";
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_EQ(rollbacks[0].reason, stored.decisions.back().reason);
  EXPECT_EQ(c.evaluate(), RolloutAction::kNone);
}

// RollbackOrder::kPublishFirst (the default): traffic moves before anything is written, and the
// rollback, the rejection and the record are then one commit. A process that stops at the
// publish leaves the rollout stored at its step: the restarted controller republishes that
// step's weight and rolls back again once the failure is seen again.
TEST(CanaryControllerTest, a_rollback_publishes_before_it_writes_and_a_crash_there_is_judged_again) {
  Harness h;
  std::vector<RolloutStatus> stored_at_publish;
  {
    bool crash = false;  // armed once the rollout runs (start() publishes 0 % before it)
    CanaryController::Options o = h.options();
    o.before_publish = [&](const std::map<std::string, double>& weights) {
      if (!crash || weights.at("canary") != 0.0) return;
      stored_at_publish.push_back(h.f.store->load_rollout(kModel)->status);
      throw CrashBeforePublish{};
    };
    CanaryController c(o);
    c.start(h.plan({CanaryStep::set_weight(50), CanaryStep::pause(1h)}));
    crash = true;
    h.bad_traffic();
    EXPECT_THROW(c.evaluate(), CrashBeforePublish);
  }
  ASSERT_EQ(stored_at_publish, std::vector<RolloutStatus>({RolloutStatus::kRunning}))
      << "nothing was written before the publish";
  EXPECT_EQ(h.f.store->load_rollout(kModel)->weights.at("canary"), 50.0);
  EXPECT_EQ(count_decisions(*h.f.store->load_rollout(kModel), "rollback", 1), 0u);

  h.f.reopen();
  h.new_deployment();
  bool watch = false;
  CanaryController::Options o = h.options();
  o.before_publish = [&](const std::map<std::string, double>& weights) {
    if (watch && weights.at("canary") == 0.0) {
      stored_at_publish.push_back(h.f.store->load_rollout(kModel)->status);
    }
  };
  CanaryController c(o);
  ASSERT_TRUE(c.resume_from_store());
  EXPECT_EQ(h.weight("canary"), 50) << "the step's weight, as stored";
  watch = true;
  h.bad_traffic();
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack);
  EXPECT_EQ(h.weight("canary"), 0);
  EXPECT_EQ(stored_at_publish, std::vector<RolloutStatus>(2, RolloutStatus::kRunning));
  const RolloutRecord r = *h.f.store->load_rollout(kModel);
  EXPECT_EQ(r.status, RolloutStatus::kRolledBack);
  EXPECT_EQ(count_decisions(r, "rollback", 1), 1u);
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kRejected);
}

TEST(CanaryControllerTest, a_rollback_whose_publish_failed_is_finished_by_the_next_evaluation) {
  Harness h;
  bool fail = false;
  CanaryController::Options o = h.options();
  o.before_publish = [&fail](const std::map<std::string, double>&) {
    if (fail) throw CrashBeforePublish{};
  };
  CanaryController c(o);
  c.start(h.plan({CanaryStep::set_weight(50), CanaryStep::pause(1h)}));
  fail = true;
  h.bad_traffic();
  EXPECT_THROW(c.evaluate(), CrashBeforePublish);
  EXPECT_EQ(c.record()->status, RolloutStatus::kRollingBack);
  EXPECT_THROW(c.pause("alice"), InvalidTransition) << "only finishing the rollback is allowed";
  fail = false;
  EXPECT_EQ(c.evaluate(), RolloutAction::kRolledBack);
  EXPECT_EQ(h.weight("canary"), 0);
  EXPECT_EQ(h.f.store->load_rollout(kModel)->status, RolloutStatus::kRolledBack);
  EXPECT_EQ(h.f.registry->get(kModel, h.candidate)->stage, Stage::kRejected);
}

// Seed 003's A/B plan, as written, run by the controller: its arms are aliases of the
// deployment's model, the treatment gets its 50 % at once, and the experiment decides, but not
// before each arm has min_sample_size (10,000) exposures.
struct AbRun {
  Harness h;
  CanaryPlan plan = parse_canary_plan(kSeed003ExperimentPlanYaml);
  std::unique_ptr<CanaryController> c;
  int next_id = 0;

  AbRun() {
    h.f.registry->set_alias(kModel, "recommendation-v6", h.stable);
    h.f.registry->set_alias(kModel, "recommendation-v7", h.candidate);
    c = std::make_unique<CanaryController>(h.options());
  }
  // `n` exposures per arm; of every 100 requests of an arm `per_100` convert and one fails (so
  // the rates are exact), and latencies cycle through 10..16 ms.
  void feed(int n, int stable_per_100, int canary_per_100) {
    Experiment& e = *c->experiment();
    for (int i = 0; i < n; ++i) {
      for (const auto& [arm, per_100] : {std::pair{"stable", stable_per_100},
                                         std::pair{"canary", canary_per_100}}) {
        const std::string id = "r" + std::to_string(next_id++);
        ASSERT_TRUE(e.expose({.request_id = id, .variant = arm,
                              .latency_ms = 10.0 + static_cast<double>(i % 7)}));
        if (i % 100 < per_100) e.record_outcome(id, "conversion_rate");
        e.record_outcome(id, "error_rate", i % 100 == 99 ? 1.0 : 0.0);
      }
    }
  }
};

TEST(CanaryControllerTest, seed_003s_ab_plan_is_decided_by_its_experiment_and_ships_by_hand) {
  AbRun run;
  EXPECT_EQ(run.c->start(run.plan), RolloutAction::kAdvanced);
  EXPECT_EQ(run.h.weight("canary"), 50) << "the treatment's share at once";
  EXPECT_EQ(run.c->record()->stable_version, run.h.stable);
  EXPECT_EQ(run.c->record()->candidate_version, run.h.candidate);
  ASSERT_NE(run.c->experiment(), nullptr);

  run.feed(5000, 10, 14);  // already significant, but below min_sample_size
  EXPECT_EQ(run.c->experiment()->analyze().decision.kind, DecisionKind::kShipTreatment)
      << run.c->experiment()->analyze().to_string();
  EXPECT_EQ(run.c->evaluate(), RolloutAction::kHeld);
  run.feed(5000, 10, 14);
  run.h.f.clock.advance(1h);
  // seed 003 leaves auto_promote off for experiments: the decision waits for a person.
  EXPECT_EQ(run.c->evaluate(), RolloutAction::kPaused);
  EXPECT_NE(run.c->record()->decisions.back().reason.find("ship_treatment"), std::string::npos)
      << run.c->record()->decisions.back().reason;
  EXPECT_EQ(run.h.f.registry->get(kModel, run.h.candidate)->stage, Stage::kStaging);
  EXPECT_EQ(run.c->promote_now("alice"), RolloutAction::kPromoted);
  EXPECT_EQ(run.h.f.registry->get(kModel, run.h.candidate)->stage, Stage::kProduction);
  bool ab_test = false;
  std::vector<PromotionEvidence> evidence;
  for (const AuditRecord& a : run.h.f.registry->history(kModel)) {
    evidence.insert(evidence.end(), a.evidence.begin(), a.evidence.end());
  }
  for (const auto& e : evidence) {
    if (e.kind != "ab_test") continue;
    ab_test = true;
    EXPECT_TRUE(e.passed);
    testing::json::Document doc;
    doc.Parse(e.detail_json.c_str());
    ASSERT_FALSE(doc.HasParseError()) << e.detail_json;
    EXPECT_STREQ(doc["decision"]["kind"].GetString(), "ship_treatment");
  }
  EXPECT_TRUE(ab_test) << "the experiment's report is the promotion's evidence";
}

TEST(CanaryControllerTest, an_ab_plan_whose_treatment_loses_rolls_back_with_the_report) {
  AbRun run;
  run.plan.auto_promote = true;
  run.c->start(run.plan);
  run.feed(10000, 10, 6);
  EXPECT_EQ(run.c->evaluate(), RolloutAction::kRolledBack);
  EXPECT_EQ(run.h.weight("canary"), 0);
  EXPECT_EQ(run.h.f.registry->get(kModel, run.h.candidate)->stage, Stage::kRejected);
  EXPECT_NE(run.c->record()->decisions.back().reason.find("keep_control"), std::string::npos);
}

TEST(CanaryControllerTest, an_ab_plan_still_undecided_at_its_duration_rolls_back) {
  AbRun run;
  run.c->start(run.plan);
  run.feed(10000, 10, 10);
  run.h.f.clock.advance(24h);
  EXPECT_EQ(run.c->evaluate(), RolloutAction::kHeld) << "no effect yet, 13 days left";
  run.h.f.clock.advance(std::chrono::hours(24 * 13));
  EXPECT_EQ(run.c->evaluate(), RolloutAction::kRolledBack);
  EXPECT_NE(run.c->record()->decisions.back().reason.find("undecided after 14d"),
            std::string::npos)
      << run.c->record()->decisions.back().reason;
}

TEST(CanaryControllerTest, an_ab_arm_that_names_no_version_or_alias_is_refused_and_nothing_starts) {
  Harness h;
  h.f.registry->set_alias(kModel, "recommendation-v7", h.candidate);
  CanaryController c(h.options());
  try {
    c.start(parse_canary_plan(kSeed003ExperimentPlanYaml));
    FAIL() << "started without a control";
  } catch (const NotFound& e) {
    EXPECT_NE(std::string(e.what()).find("control names 'recommendation-v6'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(h.f.store->load_rollout(kModel), std::nullopt);
  EXPECT_EQ(h.weight("canary"), -1) << "the router was never touched";
}

// Blue/green (seed 001): after the switch the previous version stays loaded for the plan's
// keep_previous_for, so a rollback within it is one publish back; after it the version is
// released and a switch-back is refused.
struct BlueGreen {
  Harness h;
  std::vector<std::map<std::string, double>> published;
  std::unique_ptr<CanaryController> c;
  BlueGreen() {
    CanaryController::Options o = h.options();
    o.before_publish = [this](const std::map<std::string, double>& w) { published.push_back(w); };
    c = std::make_unique<CanaryController>(o);
    CanaryPlan p = h.plan({CanaryStep::set_weight(100)});
    p.strategy = RolloutStrategy::kBlueGreen;
    p.keep_previous_for = 30min;
    EXPECT_EQ(c->start(p), RolloutAction::kPromoted);
    published.clear();
  }
  std::int64_t version_of(const std::string& arm) const {
    for (const auto& v : h.deployment->router().policy().variants) {
      if (v.name == arm) return v.version;
    }
    return -1;
  }
};

TEST(CanaryControllerTest, blue_green_switches_back_in_one_publish_within_keep_previous_for) {
  BlueGreen b;
  EXPECT_EQ(b.version_of("stable"), b.h.candidate);
  EXPECT_EQ(b.version_of("previous"), b.h.stable) << "kept loaded";
  b.h.f.clock.advance(29min);
  EXPECT_EQ(b.c->evaluate(), RolloutAction::kNone);
  EXPECT_TRUE(b.published.empty()) << "nothing released within the window";
  b.c->rollback("alice", "checkout conversion fell");
  ASSERT_EQ(b.published.size(), 1u) << "one publish back";
  EXPECT_EQ(b.version_of("stable"), b.h.stable);
  EXPECT_EQ(b.h.weight("stable"), 100);
  EXPECT_EQ(b.h.f.registry->get(kModel, b.h.stable)->stage, Stage::kProduction);
  EXPECT_EQ(b.h.f.registry->get(kModel, b.h.candidate)->stage, Stage::kArchived);
  const RolloutRecord r = *b.h.f.store->load_rollout(kModel);
  EXPECT_EQ(r.status, RolloutStatus::kRolledBack);
  EXPECT_EQ(r.decisions.back().action, "rollback");
  EXPECT_EQ(r.decisions.back().actor, "alice");
}

TEST(CanaryControllerTest, blue_green_releases_the_previous_version_after_keep_previous_for) {
  BlueGreen b;
  b.h.f.clock.advance(30min);
  EXPECT_EQ(b.c->evaluate(), RolloutAction::kNone);
  ASSERT_EQ(b.published.size(), 1u);
  const RoutingPolicy policy = b.h.deployment->router().policy();
  ASSERT_EQ(policy.variants.size(), 1u) << "the previous version left the table";
  EXPECT_EQ(policy.variants[0].version, b.h.candidate);
  EXPECT_EQ(b.c->record()->decisions.back().action, "release_previous");
  EXPECT_EQ(b.c->evaluate(), RolloutAction::kNone);
  EXPECT_EQ(b.published.size(), 1u) << "released once";
  EXPECT_THROW(b.c->rollback("alice", "too late"), InvalidTransition);
  EXPECT_EQ(b.h.f.registry->get(kModel, b.h.candidate)->stage, Stage::kProduction);
  // A restarted controller does not load it again.
  b.c.reset();
  b.h.new_deployment();
  CanaryController again(b.h.options());
  ASSERT_TRUE(again.resume_from_store());
  EXPECT_EQ(b.h.deployment->router().policy().variants.size(), 1u);
}

// A sequentially judged step keeps its cumulative data in the record on each write; a controller
// restarted mid-step continues the step's sequence from it instead of starting it again.
TEST(CanaryControllerTest, a_restart_mid_step_restores_the_steps_sequential_data) {
  Harness h;
  std::string saved;
  {
    CanaryController c(h.options());
    CanaryPlan p = h.plan({CanaryStep::set_weight(10), CanaryStep::pause(1h)});
    p.judgement = RuleJudgement::kSequential;
    c.start(p);
    h.good_traffic();
    EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);
    // Past half the 10-minute lease: this evaluation renews it, writing the step's data so far.
    h.f.clock.advance(6min);
    h.good_traffic();
    EXPECT_EQ(c.evaluate(), RolloutAction::kHeld);
    saved = h.f.store->load_rollout(kModel)->step_state;
    EXPECT_FALSE(saved.empty());
  }
  h.f.reopen();
  h.new_deployment();
  CanaryController c(h.options());
  ASSERT_TRUE(c.resume_from_store());
  c.pause("alice", "look at the data");  // a write: the step's data as restored
  EXPECT_EQ(h.f.store->load_rollout(kModel)->step_state, saved);
}

// Seed 001's zero failed deployments: while two threads predict, the controller rolls back; no
// request fails, and every request that starts after evaluate() returned is served by stable.
TEST(CanaryControllerTest, a_rollback_under_concurrent_load_fails_no_request) {
  Harness h;
  CanaryController c(h.options());
  c.start(h.plan({CanaryStep::set_weight(50), CanaryStep::pause(1h)}));
  constexpr std::uint64_t kAfter = 2000;  // requests each thread makes after the rollback
  std::atomic<bool> rolled_back{false};
  std::atomic<std::uint64_t> served[2] = {0, 0};
  std::atomic<std::uint64_t> canary_served{0}, failed{0}, candidate_after{0}, after[2] = {0, 0};
  auto worker = [&](int t) {
    for (std::uint64_t i = 0;; ++i) {
      const bool later = rolled_back.load(std::memory_order_acquire);
      const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
      auto r = h.deployment->predict({.key = key, .input = TensorView(kRow, Shape{1, 3})});
      if (!r.ok()) {
        failed.fetch_add(1);
      } else {
        if (r->version == h.candidate) canary_served.fetch_add(1);
        if (later && r->version != h.stable) candidate_after.fetch_add(1);
      }
      served[t].fetch_add(1, std::memory_order_release);
      if (later && after[t].fetch_add(1) + 1 >= kAfter) return;
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  // Both threads are serving (and the canary has answered some) before the rollback.
  while (served[0].load(std::memory_order_acquire) < 500 ||
         served[1].load(std::memory_order_acquire) < 500) {
    std::this_thread::yield();
  }
  // Far more failures than the threads' real requests can dilute below the threshold.
  h.traffic(1000, 5, 1'000'000, 500'000);
  const RolloutAction action = c.evaluate();
  rolled_back.store(true, std::memory_order_release);
  t0.join();
  t1.join();
  EXPECT_EQ(action, RolloutAction::kRolledBack);
  EXPECT_EQ(failed.load(), 0u);
  EXPECT_GT(canary_served.load(), 0u);
  EXPECT_EQ(candidate_after.load(), 0u);
  EXPECT_EQ(after[0].load(), kAfter);
  EXPECT_EQ(after[1].load(), kAfter);
}

TEST(CanaryControllerTest, bad_plans_and_missing_hooks_change_nothing) {
  Harness h;
  CanaryController c(h.options());
  CanaryPlan p = h.two_stages();
  p.hooks.pre_rollout = {"missing"};
  try {
    c.start(p);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("pre_rollout hook 'missing'"), std::string::npos);
  }
  CanaryPlan wrong = h.two_stages();
  wrong.candidate_version = h.stable;
  EXPECT_THROW(c.start(wrong), InvalidTransition) << "the candidate must be in Staging";
  EXPECT_FALSE(h.f.store->load_rollout(kModel));
  EXPECT_EQ(h.deployment->router().policy().variants.size(), 0u);
  // A pre_rollout hook that refuses aborts before any traffic moves.
  c.set_hook("no", [](const RolloutHookContext&) { return false; });
  CanaryPlan refused = h.two_stages();
  refused.hooks.pre_rollout = {"no"};
  EXPECT_EQ(c.start(refused), RolloutAction::kAborted);
  EXPECT_EQ(h.f.store->load_rollout(kModel)->status, RolloutStatus::kAborted);
  EXPECT_EQ(h.deployment->router().policy().variants.size(), 0u);
  EXPECT_EQ(c.start(h.two_stages()), RolloutAction::kAdvanced) << "a final rollout is replaced";
  EXPECT_THROW(CanaryController({.deployment = nullptr}), InvalidArgument);
}

}  // namespace canary_controller_test
}  // namespace
}  // namespace switchyard
