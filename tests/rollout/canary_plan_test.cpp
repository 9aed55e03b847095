// SPDX-License-Identifier: Apache-2.0
// Rollout plans: seed 003's canary and A/B YAML load as written, Argo-style steps, Flagger-style
// step generation, blue/green, the canonical JSON round trip, and every malformed form refused
// with InvalidArgument naming the step and the field.
#include <switchyard/core/units.hpp>
#include <switchyard/rollout/canary_plan.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {
namespace {
namespace canary_plan_test {

using namespace std::chrono_literals;

// Seed 003's canary rollout stages, exactly as the seed writes them.
constexpr std::string_view kSeedCanary = R"(# Canary rollout stages
deployment:
  name: fraud-detector
  canary:
    model_version: 12
    stages:
      - traffic_percent: 5
        duration: 1h
        rollback_if:
          error_rate_increase: 0.5%
          latency_p99_increase: 20ms
      - traffic_percent: 25
        duration: 4h
        rollback_if:
          accuracy_drop: 1%
      - traffic_percent: 50
        duration: 12h
      - traffic_percent: 100
        duration: 24h
        # Full rollout after 24h observation
)";

// Seed 003's A/B test configuration, exactly as the seed writes it (shipped with the library).
constexpr std::string_view kSeedExperiment = kSeed003ExperimentPlanYaml;

std::string replaced(std::string_view text, std::string_view from, std::string_view to) {
  std::string out(text);
  const auto at = out.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) out.replace(at, from.size(), to);
  return out;
}

/// The message of the InvalidArgument that parsing `text` throws; a failure for anything else.
std::string error_of(std::string_view text, const CanaryPlanParseOptions& options = {}) {
  try {
    parse_canary_plan(text, options);
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "foreign exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return "";
}

#define EXPECT_ERROR(text, fragment)                                      \
  do {                                                                    \
    const std::string message = error_of(text);                           \
    EXPECT_NE(message.find(fragment), std::string::npos) << message;      \
  } while (false)

Guardrail rule(GuardrailMetric metric, GuardrailBound bound, double threshold) {
  Guardrail g;
  g.metric = metric;
  g.bound = bound;
  g.threshold = threshold;
  return g;
}

TEST(CanaryPlanTest, the_shipped_seed_003_plan_is_the_seed_text) {
  EXPECT_EQ(kSeed003CanaryPlanYaml, kSeedCanary);
}

TEST(CanaryPlanTest, seed_003_canary_yaml_loads_as_written_with_every_field) {
  const CanaryPlan plan = parse_canary_plan(kSeedCanary);
  EXPECT_EQ(plan.name, "fraud-detector");
  EXPECT_EQ(plan.model, "fraud-detector");  // the deployment's name when no model is given
  EXPECT_EQ(plan.candidate_version, 12);
  EXPECT_EQ(plan.stable_version, std::nullopt);
  EXPECT_EQ(plan.strategy, RolloutStrategy::kCanary);
  const std::vector<CanaryStep> want = {
      CanaryStep::set_weight(5),
      CanaryStep::pause(1h, {rule(GuardrailMetric::kErrorRate,
                                  GuardrailBound::kIncreaseOverStable, 0.005),
                             rule(GuardrailMetric::kLatencyP99,
                                  GuardrailBound::kIncreaseOverStable, 20.0)}),
      CanaryStep::set_weight(25),
      CanaryStep::pause(4h, {rule(GuardrailMetric::kAccuracy, GuardrailBound::kDropBelowStable,
                                  0.01)}),
      CanaryStep::set_weight(50),
      CanaryStep::pause(12h),
      CanaryStep::set_weight(100),
      CanaryStep::pause(24h),
  };
  EXPECT_EQ(plan.steps, want);
  EXPECT_EQ(plan.steps[1].guardrails[0].key(), "error_rate_increase");
  EXPECT_EQ(plan.steps[1].guardrails[1].key(), "latency_p99_increase");
  EXPECT_EQ(plan.steps[3].guardrails[0].key(), "accuracy_drop");
  // Defaults of everything the seed does not say.
  EXPECT_EQ(plan.interval, 1min);
  EXPECT_EQ(plan.failure_limit, 0u);
  EXPECT_EQ(plan.consecutive_failure_limit, std::nullopt);
  EXPECT_EQ(plan.min_samples, 0u);
  EXPECT_TRUE(plan.guardrails.empty());
  EXPECT_EQ(plan.hooks, RolloutHooks{});
  EXPECT_TRUE(plan.auto_promote);
  EXPECT_EQ(plan.keep_previous_for, std::nullopt);
  EXPECT_EQ(plan.experiment, std::nullopt);
}

TEST(CanaryPlanTest, seed_003_experiment_yaml_loads_as_written_with_every_field) {
  const CanaryPlan plan = parse_canary_plan(kSeedExperiment);
  EXPECT_EQ(plan.name, "recommendation-model-v7");
  EXPECT_EQ(plan.model, "recommendation-v7");  // the treatment's model
  EXPECT_EQ(plan.strategy, RolloutStrategy::kExperiment);
  EXPECT_EQ(plan.candidate_version, 0);  // the seed names models, not versions
  EXPECT_EQ(plan.stable_version, std::nullopt);
  EXPECT_FALSE(plan.auto_promote);
  ASSERT_TRUE(plan.experiment);
  const ExperimentPlan& e = *plan.experiment;
  EXPECT_EQ(e.control, (ExperimentPlanArm{"recommendation-v6", 0, 0.5}));
  EXPECT_EQ(e.treatment, (ExperimentPlanArm{"recommendation-v7", 0, 0.5}));
  EXPECT_EQ(e.primary.name, "conversion_rate");
  EXPECT_EQ(e.primary.kind, MetricKind::kBinary);
  EXPECT_EQ(e.primary.direction, MetricDirection::kAuto);
  ASSERT_EQ(e.guardrails.size(), 2u);
  EXPECT_EQ(e.guardrails[0].name, "latency_p99");
  EXPECT_EQ(e.guardrails[0].kind, MetricKind::kLatency);
  EXPECT_EQ(e.guardrails[1].name, "error_rate");
  EXPECT_EQ(e.guardrails[1].kind, MetricKind::kBinary);
  EXPECT_EQ(e.guardrails[1].direction, MetricDirection::kLowerIsBetter);
  EXPECT_EQ(e.duration, std::chrono::hours(24 * 14));
  EXPECT_EQ(e.min_sample_size, 10000u);
  EXPECT_EQ(e.mode, AnalysisMode::kFixedHorizon);
  // The treatment's share at once, held for the duration or until the experiment decides.
  EXPECT_EQ(plan.steps, (std::vector<CanaryStep>{CanaryStep::set_weight(50),
                                                 CanaryStep::pause(std::chrono::hours(24 * 14))}));
}

TEST(CanaryPlanTest, units_read_durations_percentages_and_format_back) {
  EXPECT_EQ(parse_duration("1h"), Duration(1h));
  EXPECT_EQ(parse_duration("30m"), Duration(30min));
  EXPECT_EQ(parse_duration("45s"), Duration(45s));
  EXPECT_EQ(parse_duration("20ms"), Duration(20ms));
  EXPECT_EQ(parse_duration("14d"), Duration(std::chrono::hours(24 * 14)));
  EXPECT_EQ(parse_duration("-5s"), Duration(-5s));
  for (const char* bad : {"", "h", "1", "1.5h", "1 h", "1w", "99999999999999999999d", "1hh"}) {
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parse_percentage("0.5%"), 0.005);
  EXPECT_EQ(parse_percentage("1%"), 0.01);
  for (const char* bad : {"1 %", "%", "1", "abc%", "1%%", "inf%"}) {
    EXPECT_EQ(parse_percentage(bad), std::nullopt) << bad;
  }
  for (Duration d : {Duration(0), Duration(90min), Duration(1500ms), Duration(36h), Duration(7ns),
                     Duration(std::chrono::hours(24 * 3650)), Duration(-2s)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
  EXPECT_EQ(format_duration(90min), "90m");
  EXPECT_EQ(format_duration(48h), "2d");
}

TEST(CanaryPlanTest, argo_style_steps_with_pauses_analysis_settings_and_hooks) {
  const CanaryPlan plan = parse_canary_plan(R"(
deployment:
  name: fraud-detector
  model: fraud-detection
  canary:
    model_version: 13
    stable_version: 12
    interval: 30s
    failure_limit: 2
    consecutive_failure_limit: 1
    min_samples: 200
    rollback_if: {error_rate: 2%, latency_p99: 250ms, prediction_drift: 0.2}
    hooks:
      pre_rollout: smoke-test
      confirm_promotion: [owner-sign-off, load-check]
      on_rollback: page-oncall
    auto_promote: false
    keep_previous_for: 1h
    steps:
      - set_weight: 1
      - pause: 10m
      - set_weight: 10%
      - analysis:
          metrics:
            latency_p99_increase: 50%
            accuracy_drop: {threshold: 0.5%, min_samples: 1000}
          min_samples: 500
          duration: 30m
      - set_weight: 50
      - pause: {}
      - set_weight: 100
      - pause:
)");
  EXPECT_EQ(plan.model, "fraud-detection");
  EXPECT_EQ(plan.candidate_version, 13);
  EXPECT_EQ(plan.stable_version, 12);
  EXPECT_EQ(plan.interval, 30s);
  EXPECT_EQ(plan.failure_limit, 2u);
  EXPECT_EQ(plan.consecutive_failure_limit, 1u);
  EXPECT_EQ(plan.min_samples, 200u);
  EXPECT_EQ(plan.guardrails,
            (std::vector<Guardrail>{rule(GuardrailMetric::kErrorRate, GuardrailBound::kAtMost, 0.02),
                                    rule(GuardrailMetric::kLatencyP99, GuardrailBound::kAtMost, 250),
                                    rule(GuardrailMetric::kPredictionDrift,
                                         GuardrailBound::kAtMost, 0.2)}));
  EXPECT_EQ(plan.hooks.pre_rollout, std::vector<std::string>{"smoke-test"});
  EXPECT_EQ(plan.hooks.confirm_promotion,
            (std::vector<std::string>{"owner-sign-off", "load-check"}));
  EXPECT_TRUE(plan.hooks.post_rollout.empty());
  EXPECT_EQ(plan.hooks.on_rollback, std::vector<std::string>{"page-oncall"});
  EXPECT_FALSE(plan.auto_promote);
  EXPECT_EQ(plan.keep_previous_for, Duration(1h));

  Guardrail relative_p99 =
      rule(GuardrailMetric::kLatencyP99, GuardrailBound::kIncreaseOverStable, 0.5);
  relative_p99.relative = true;
  Guardrail accuracy = rule(GuardrailMetric::kAccuracy, GuardrailBound::kDropBelowStable, 0.005);
  accuracy.min_samples = 1000;
  const std::vector<CanaryStep> want = {
      CanaryStep::set_weight(1),
      CanaryStep::pause(10min),
      CanaryStep::set_weight(10),
      CanaryStep::analysis({relative_p99, accuracy}, 500, 30min),
      CanaryStep::set_weight(50),
      CanaryStep::pause(std::nullopt),
      CanaryStep::set_weight(100),
      CanaryStep::pause(std::nullopt),
  };
  EXPECT_EQ(plan.steps, want);
}

TEST(CanaryPlanTest, rules_are_judged_sequentially_unless_the_plan_asks_per_window) {
  const CanaryPlan seed = parse_canary_plan(kSeedCanary);
  EXPECT_EQ(seed.judgement, RuleJudgement::kSequential);
  EXPECT_DOUBLE_EQ(seed.judgement_alpha, 0.01);
  const CanaryPlan naive = parse_canary_plan(
      replaced(kSeedCanary, "    stages:", "    judgement: per_window\n    stages:"));
  EXPECT_EQ(naive.judgement, RuleJudgement::kPerWindow);
  EXPECT_EQ(parse_canary_plan(plan_to_json(naive)), naive);
  const CanaryPlan strict = parse_canary_plan(
      replaced(kSeedCanary, "    stages:", "    judgement_alpha: 0.2%\n    stages:"));
  EXPECT_DOUBLE_EQ(strict.judgement_alpha, 0.002);
  EXPECT_EQ(parse_canary_plan(plan_to_json(strict)), strict);
  EXPECT_STREQ(to_string(RuleJudgement::kPerWindow), "per_window");
  EXPECT_ERROR(replaced(kSeedCanary, "    stages:", "    judgement: naive\n    stages:"),
               "deployment.canary.judgement: must be sequential or per_window, got 'naive'");
  EXPECT_ERROR(replaced(kSeedCanary, "    stages:", "    judgement_alpha: 0%\n    stages:"),
               "deployment.canary.judgement_alpha: must be above 0% and at most 50%, got '0%'");
  EXPECT_ERROR(replaced(kSeedCanary, "    stages:", "    judgement_alpha: 60%\n    stages:"),
               "deployment.canary.judgement_alpha: must be above 0% and at most 50%");
  CanaryPlan bad = seed;
  bad.judgement_alpha = 0.0;
  EXPECT_THROW(bad.validate(), InvalidArgument);
}

TEST(CanaryPlanTest, guardrail_keys_map_onto_metric_and_bound_in_the_metrics_unit) {
  struct Case {
    const char* entry;
    GuardrailMetric metric;
    GuardrailBound bound;
    double threshold;
    bool relative;
  };
  const Case cases[] = {
      {"error_rate: 0.1%", GuardrailMetric::kErrorRate, GuardrailBound::kAtMost, 0.001, false},
      {"error_rate_max: 0.002", GuardrailMetric::kErrorRate, GuardrailBound::kAtMost, 0.002, false},
      {"error_rate_increase: 0.5%", GuardrailMetric::kErrorRate,
       GuardrailBound::kIncreaseOverStable, 0.005, false},
      {"latency_p99: 1.5s", GuardrailMetric::kLatencyP99, GuardrailBound::kAtMost, 1500, false},
      {"latency_p99_increase: 20ms", GuardrailMetric::kLatencyP99,
       GuardrailBound::kIncreaseOverStable, 20, false},
      {"latency_p99_increase: 50%", GuardrailMetric::kLatencyP99,
       GuardrailBound::kIncreaseOverStable, 0.5, true},
      {"accuracy: 85%", GuardrailMetric::kAccuracy, GuardrailBound::kAtLeast, 0.85, false},
      {"accuracy_min: 0.8", GuardrailMetric::kAccuracy, GuardrailBound::kAtLeast, 0.8, false},
      {"accuracy_drop: 1%", GuardrailMetric::kAccuracy, GuardrailBound::kDropBelowStable, 0.01,
       false},
      {"prediction_drift: 0.1", GuardrailMetric::kPredictionDrift, GuardrailBound::kAtMost, 0.1,
       false},
      {"queue_depth_increase: 3", GuardrailMetric::kCustom, GuardrailBound::kIncreaseOverStable,
       3, false},
      {"queue_depth: -1", GuardrailMetric::kCustom, GuardrailBound::kAtMost, -1, false},
  };
  CanaryPlanParseOptions options;
  options.custom_metrics = {"queue_depth"};
  for (const Case& c : cases) {
    const std::string text =
        replaced(kSeedCanary, "accuracy_drop: 1%", c.entry);
    const CanaryPlan plan = parse_canary_plan(text, options);
    ASSERT_EQ(plan.steps[3].guardrails.size(), 1u) << c.entry;
    const Guardrail& g = plan.steps[3].guardrails[0];
    EXPECT_EQ(g.metric, c.metric) << c.entry;
    EXPECT_EQ(g.bound, c.bound) << c.entry;
    EXPECT_DOUBLE_EQ(g.threshold, c.threshold) << c.entry;
    EXPECT_EQ(g.relative, c.relative) << c.entry;
    EXPECT_EQ(g.custom_metric, c.metric == GuardrailMetric::kCustom ? "queue_depth" : "");
    const std::string key(c.entry, std::string_view(c.entry).find(':'));
    EXPECT_EQ(g.key(), key == "error_rate_max" ? "error_rate"
                       : key == "accuracy_min" ? "accuracy"
                                               : key);
  }
}

TEST(CanaryPlanTest, flagger_step_weight_and_max_weight_generate_the_steps) {
  EXPECT_EQ(generate_weight_steps(20, 50, 1min),
            (std::vector<CanaryStep>{CanaryStep::set_weight(20), CanaryStep::pause(1min),
                                     CanaryStep::set_weight(40), CanaryStep::pause(1min),
                                     CanaryStep::set_weight(50), CanaryStep::pause(1min)}));
  // 0.1 * k, not a running sum: ten steps end exactly on 1 (a running sum gives 0.9999999999999999).
  const auto tenths = generate_weight_steps(0.1, 1, 1s);
  ASSERT_EQ(tenths.size(), 20u);
  EXPECT_EQ(tenths.back().kind, StepKind::kPause);
  EXPECT_EQ(tenths[18].weight, 1.0);
  EXPECT_THROW(generate_weight_steps(0, 50, 1min), InvalidArgument);
  EXPECT_THROW(generate_weight_steps(60, 50, 1min), InvalidArgument);
  EXPECT_THROW(generate_weight_steps(10, 101, 1min), InvalidArgument);
  EXPECT_THROW(generate_weight_steps(10, 50, 0s), InvalidArgument);
  EXPECT_THROW(generate_weight_steps(0.1, 100, 1s), InvalidArgument);  // 2,000 steps

  const CanaryPlan plan = parse_canary_plan(R"(
deployment:
  name: fraud-detector
  canary: {model_version: 12, interval: 2m, step_weight: 25, max_weight: 75}
)");
  EXPECT_EQ(plan.steps, generate_weight_steps(25, 75, 2min));
  const CanaryPlan listed = parse_canary_plan(R"(
deployment:
  name: fraud-detector
  canary: {model_version: 12, step_weights: [1, 2, 10, 80]}
)");
  EXPECT_EQ(listed.steps,
            (std::vector<CanaryStep>{CanaryStep::set_weight(1), CanaryStep::pause(1min),
                                     CanaryStep::set_weight(2), CanaryStep::pause(1min),
                                     CanaryStep::set_weight(10), CanaryStep::pause(1min),
                                     CanaryStep::set_weight(80), CanaryStep::pause(1min)}));
  const std::string both = error_of(R"(
deployment:
  name: fraud-detector
  canary: {model_version: 12, step_weight: 10, steps: [{set_weight: 5}]}
)");
  EXPECT_NE(both.find("give one of stages, steps, step_weight or step_weights"), std::string::npos)
      << both;
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, step_weight: 0}}",
               "deployment.canary.step_weight: step_weight 0");
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, step_weight: 0.01}}",
               "more than 256 steps");
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, max_weight: 50, steps: [{set_weight: 1}]}}",
               "deployment.canary.max_weight: goes with step_weight");
}

TEST(CanaryPlanTest, blue_green_switches_once_to_100_percent_after_analysis) {
  const CanaryPlan plan = parse_canary_plan(R"(
deployment:
  name: fraud-detector
  blue_green:
    model_version: 12
    stable_version: 11
    pre_promotion_analysis: {metrics: {error_rate: 1%}, min_samples: 1000}
    post_promotion_analysis: {metrics: {error_rate_increase: 0.2%}, duration: 15m}
    keep_previous_for: 30m
)");
  EXPECT_EQ(plan.strategy, RolloutStrategy::kBlueGreen);
  EXPECT_EQ(plan.candidate_version, 12);
  EXPECT_EQ(plan.stable_version, 11);
  EXPECT_EQ(plan.keep_previous_for, Duration(30min));
  const std::vector<CanaryStep> want = {
      CanaryStep::analysis({rule(GuardrailMetric::kErrorRate, GuardrailBound::kAtMost, 0.01)},
                           1000),
      CanaryStep::set_weight(100),
      CanaryStep::analysis(
          {rule(GuardrailMetric::kErrorRate, GuardrailBound::kIncreaseOverStable, 0.002)}, 0,
          15min),
  };
  EXPECT_EQ(plan.steps, want);

  // A blue/green plan built in code that moves traffic in steps is not blue/green.
  CanaryPlan stepped = plan;
  stepped.steps.insert(stepped.steps.begin() + 1, CanaryStep::set_weight(50));
  EXPECT_THROW(stepped.validate(), InvalidArgument);
}

TEST(CanaryPlanTest, canonical_json_round_trips_exactly_and_json_input_parses) {
  CanaryPlanParseOptions options;
  options.custom_metrics = {"queue_depth"};
  std::vector<CanaryPlan> plans = {parse_canary_plan(kSeedCanary),
                                   parse_canary_plan(kSeedExperiment)};
  // Every field away from its default, awkward numbers included.
  CanaryPlan full = plans[0];
  full.model = "fraud-detection";
  full.stable_version = 11;
  full.steps.insert(full.steps.begin() + 2,
                    CanaryStep::analysis({rule(GuardrailMetric::kCustom,
                                               GuardrailBound::kIncreaseOverStable, 0.1)},
                                         77, 1500ms));
  full.steps[2].guardrails[0].custom_metric = "queue_depth";
  full.steps[2].guardrails[0].relative = true;
  full.steps[2].guardrails[0].min_samples = 9;
  full.steps[0].weight = 1.0 / 3.0;
  full.interval = 7s;
  full.failure_limit = 3;
  full.consecutive_failure_limit = 0;
  full.min_samples = 123456789012;
  full.guardrails = {rule(GuardrailMetric::kLatencyP99, GuardrailBound::kAtMost, 0.1 + 0.2),
                     rule(GuardrailMetric::kAccuracy, GuardrailBound::kAtLeast, 1e-7)};
  full.hooks = {{"a"}, {"b", "c"}, {"d"}, {"e"}};
  full.auto_promote = false;
  full.keep_previous_for = 36h;
  plans.push_back(full);
  CanaryPlan experiment = plans[1];
  experiment.experiment->control.version = 6;
  experiment.experiment->treatment.version = 7;
  experiment.candidate_version = 7;
  experiment.stable_version = 6;
  experiment.experiment->mode = AnalysisMode::kSequential;
  experiment.experiment->primary.minimum_detectable_effect = 0.03;
  experiment.experiment->guardrails.push_back(
      {"revenue", MetricKind::kContinuous, MetricDirection::kHigherIsBetter, 0.0, 0.1});
  plans.push_back(experiment);

  for (const CanaryPlan& plan : plans) {
    const std::string json = plan_to_json(plan);
    const CanaryPlan back = parse_canary_plan(json, options);
    EXPECT_EQ(back, plan) << json;
    EXPECT_EQ(plan_to_json(back), json);
  }
  EXPECT_EQ(plan_to_json(plans[0]),
            R"({"rollout":{"name":"fraud-detector","model":"fraud-detector","strategy":"canary",)"
            R"("model_version":12,"steps":[{"set_weight":5},{"pause":{"duration":"1h",)"
            R"("rollback_if":{"error_rate_increase":0.005,"latency_p99_increase":"20ms"}}},)"
            R"({"set_weight":25},{"pause":{"duration":"4h","rollback_if":{"accuracy_drop":0.01}}},)"
            R"({"set_weight":50},{"pause":{"duration":"12h"}},{"set_weight":100},)"
            R"({"pause":{"duration":"1d"}}],"interval":"1m","failure_limit":0,"min_samples":0,)"
            R"("rollback_if":{},"judgement":"sequential","judgement_alpha":0.01,)"
            R"("hooks":{"pre_rollout":[],"confirm_promotion":[],)"
            R"("post_rollout":[],"on_rollback":[]},"auto_promote":true}})");

  // Seed 003's canary written by hand as JSON, in the seed's own shape.
  const CanaryPlan from_json = parse_canary_plan(R"({"deployment": {"name": "fraud-detector",
      "canary": {"model_version": 12, "stages": [
        {"traffic_percent": 5, "duration": "1h",
         "rollback_if": {"error_rate_increase": "0.5%", "latency_p99_increase": "20ms"}},
        {"traffic_percent": 25, "duration": "4h", "rollback_if": {"accuracy_drop": "1%"}},
        {"traffic_percent": 50, "duration": "12h"},
        {"traffic_percent": 100, "duration": "24h"}]}}})");
  EXPECT_EQ(from_json, plans[0]);

  // An invalid plan is not written.
  CanaryPlan broken = plans[0];
  broken.steps[2].weight = 1;
  EXPECT_THROW(plan_to_json(broken), InvalidArgument);
}

TEST(CanaryPlanTest, load_reads_yaml_and_json_files_and_names_the_path) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("switchyard-plan-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "plan.yaml") << kSeedCanary;
    std::ofstream(dir / "plan.json") << plan_to_json(parse_canary_plan(kSeedCanary));
    std::ofstream(dir / "bad.yaml") << replaced(kSeedCanary, "duration: 4h", "duration: 4 hours");
  }
  EXPECT_EQ(load_canary_plan(dir / "plan.yaml"), parse_canary_plan(kSeedCanary));
  EXPECT_EQ(load_canary_plan(dir / "plan.json"), parse_canary_plan(kSeedCanary));
  try {
    load_canary_plan(dir / "bad.yaml");
    ADD_FAILURE() << "accepted a malformed duration";
  } catch (const InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("bad.yaml: deployment.canary.stages[1].duration"), std::string::npos) << m;
  }
  {
    std::ofstream big(dir / "big.yaml");
    big << kSeedCanary << std::string(std::size_t{1} << 20, '#');
  }
  try {
    load_canary_plan(dir / "big.yaml");
    ADD_FAILURE() << "read a file over 1 MiB";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("is larger than 1048576 bytes"), std::string::npos);
  }
  EXPECT_THROW(load_canary_plan(dir / "missing.yaml"), NotFound);
  EXPECT_THROW(load_canary_plan(dir), StorageError);
  std::filesystem::remove_all(dir);
}

TEST(CanaryPlanTest, errors_name_the_stage_and_field) {
  EXPECT_ERROR(replaced(kSeedCanary, "accuracy_drop: 1%", "accuracy_drop: 1 %"),
               "deployment.canary.stages[1].rollback_if.accuracy_drop: must be a percentage such "
               "as 1% or a proportion such as 0.01, got '1 %' (line 15, column 26)");
  EXPECT_ERROR(replaced(kSeedCanary, "traffic_percent: 50", "traffic_percent: 150"),
               "deployment.canary.stages[2].traffic_percent: must be between 0 and 100");
  EXPECT_ERROR(replaced(kSeedCanary, "traffic_percent: 50", "traffic_percent: -5"),
               "deployment.canary.stages[2].traffic_percent: must be between 0 and 100");
  EXPECT_ERROR(replaced(kSeedCanary, "traffic_percent: 50", "traffic_percent: 25"),
               "deployment.canary.stages[2].traffic_percent: must be above the previous stage's "
               "25, got 25");
  EXPECT_ERROR(replaced(kSeedCanary, "traffic_percent: 50", "traffic_percent: 20"),
               "stages[2].traffic_percent: must be above");
  EXPECT_ERROR(replaced(kSeedCanary, "latency_p99_increase", "latency_p95_increase"),
               "deployment.canary.stages[0].rollback_if.latency_p95_increase: unknown metric");
  EXPECT_ERROR(replaced(kSeedCanary, "duration: 12h", "duration: -12h"),
               "deployment.canary.stages[2].duration: must not be negative, got '-12h'");
  EXPECT_ERROR(replaced(kSeedCanary, "duration: 12h", "duration: 0s"),
               "deployment.canary.stages[2].duration: must be positive");
  EXPECT_ERROR(replaced(kSeedCanary, "duration: 12h", "duration: 12"),
               "deployment.canary.stages[2].duration: must be a whole number with a unit");
  EXPECT_ERROR(replaced(kSeedCanary, "duration: 12h", "duration: 3651d"),
               "deployment.canary.stages[2].duration: must be at most 3650d");
  EXPECT_ERROR(replaced(kSeedCanary, "latency_p99_increase: 20ms", "latency_p99_increase: 20"),
               "stages[0].rollback_if.latency_p99_increase: must be milliseconds");
  EXPECT_ERROR(replaced(kSeedCanary, "latency_p99_increase: 20ms", "latency_p99_increase: -20ms"),
               "stages[0].rollback_if.latency_p99_increase: must not be negative");
  EXPECT_ERROR(replaced(kSeedCanary, "error_rate_increase: 0.5%", "error_rate_increase: 150%"),
               "stages[0].rollback_if.error_rate_increase: must be between 0% and 100%");
  EXPECT_ERROR(replaced(kSeedCanary, "error_rate_increase: 0.5%", "error_rate: 2"),
               "stages[0].rollback_if.error_rate: must be between 0% and 100%");
  EXPECT_ERROR(replaced(kSeedCanary, "          latency_p99_increase: 20ms",
                        "          error_rate_increase: 1%"),
               "stages[0].rollback_if.error_rate_increase: key appears twice");
  EXPECT_ERROR(replaced(kSeedCanary, "          latency_p99_increase: 20ms",
                        "          error_rate_increase_max: 1%"),
               "unknown metric");
  EXPECT_ERROR(replaced(kSeedCanary, "accuracy_drop: 1%", "accuracy: {threshold: 50%, relative: true}"),
               "stages[1].rollback_if.accuracy.relative: only an _increase or _drop guardrail");
  EXPECT_ERROR(replaced(kSeedCanary, "model_version: 12", "model_version: twelve"),
               "deployment.canary.model_version: must be a whole number from 1");
  EXPECT_ERROR(replaced(kSeedCanary, "model_version: 12", "model_version: 0"),
               "deployment.canary.model_version: must be a whole number from 1");
  EXPECT_ERROR(replaced(kSeedCanary, "model_version: 12", "model_version: [12]"),
               "deployment.canary.model_version: must be a single value, got a sequence");
  EXPECT_ERROR(replaced(kSeedCanary, "model_version: 12", "model_version:"),
               "deployment.canary.model_version: missing");
  EXPECT_ERROR(replaced(kSeedCanary, "  name: fraud-detector\n", ""), "deployment.name: missing");
  EXPECT_ERROR(replaced(kSeedCanary, "  name: fraud-detector", "  name: fraud detector"),
               "deployment.name: deployment name 'fraud detector' contains a character");
  EXPECT_ERROR(replaced(kSeedCanary, "      - traffic_percent: 50\n", "      - traffic_percent:\n"),
               "deployment.canary.stages[2].traffic_percent: missing");
  EXPECT_ERROR(replaced(kSeedCanary, "stages:\n", "stages: 5\nx:\n"), "unknown key");
  EXPECT_ERROR(replaced(kSeedCanary, "        duration: 4h",
                        "        duration: 4h\n        duration: 5h"),
               "deployment.canary.stages[1].duration: key appears twice");
  EXPECT_ERROR(replaced(kSeedCanary, "rollback_if:\n          accuracy_drop: 1%",
                        "rollback_if: [accuracy_drop]"),
               "deployment.canary.stages[1].rollback_if: must be a map");
}

TEST(CanaryPlanTest, unknown_keys_are_refused_at_every_level) {
  EXPECT_ERROR(replaced(kSeedCanary, "deployment:", "deployments:"),
               "(document).deployments: unknown key; expected one of deployment, experiment, rollout");
  EXPECT_ERROR(replaced(kSeedCanary, "  canary:", "  canery:"),
               "deployment.canery: unknown key");
  EXPECT_ERROR(replaced(kSeedCanary, "    stages:", "    stage:"),
               "deployment.canary.stage: unknown key");
  EXPECT_ERROR(replaced(kSeedCanary, "traffic_percent: 25", "traffic_pct: 25"),
               "deployment.canary.stages[1].traffic_pct: unknown key");
  EXPECT_ERROR(replaced(kSeedExperiment, "  control:", "  contrl:"),
               "experiment.contrl: unknown key");
  EXPECT_ERROR(replaced(kSeedExperiment, "    traffic: 50%\n  treatment",
                        "    traffic: 50%\n    weight: 1\n  treatment"),
               "experiment.control.weight: unknown key");
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, steps: [{set_weight: 5, pause: 1h}]}}",
               "deployment.canary.steps[0]: a step is exactly one of set_weight, pause or analysis");
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, steps: [{wait: 1h}]}}",
               "deployment.canary.steps[0].wait: unknown key");
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, steps: [{set_weight: 5}, "
               "{analysis: {metrics: {error_rate: 1%}, count: 3}}]}}",
               "deployment.canary.steps[1].analysis.count: unknown key");
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, hooks: {pre_deploy: x}, "
               "steps: [{set_weight: 5}]}}",
               "deployment.canary.hooks.pre_deploy: unknown key");
}

TEST(CanaryPlanTest, steps_are_checked_by_index) {
  const std::string head = "deployment: {name: a-b, canary: {model_version: 1, steps: [";
  EXPECT_ERROR(head + "{set_weight: 10}, {set_weight: 10}]}}",
               "deployment.canary.steps[1].set_weight: must be above the previous set_weight's 10");
  EXPECT_ERROR(head + "{set_weight: 101}]}}",
               "deployment.canary.steps[0].set_weight: must be between 0 and 100");
  EXPECT_ERROR(head + "{set_weight: 5}, {pause: -1m}]}}",
               "deployment.canary.steps[1].pause: must not be negative");
  EXPECT_ERROR(head + "{set_weight: 5}, {pause: {duration: 1x}}]}}",
               "deployment.canary.steps[1].pause.duration: must be a whole number with a unit");
  EXPECT_ERROR(head + "{set_weight: 5}, {analysis: {metrics: {}}}]}}",
               "deployment.canary.steps[1].analysis.metrics: must name at least one metric");
  EXPECT_ERROR(head + "{set_weight: 5}, {analysis: {min_samples: 5}}]}}",
               "deployment.canary.steps[1].analysis.metrics: missing");
  EXPECT_ERROR(head + "{set_weight: 5}, {analysis: {metrics: {error_rate: 1%}, min_samples: -5}}]}}",
               "deployment.canary.steps[1].analysis.min_samples: must be a whole number from 0");
  EXPECT_ERROR(head + "{pause: 1h}]}}", "a plan needs at least one set_weight step");
  EXPECT_ERROR(head + "]}}", "deployment.canary.steps: must list at least one steps");
  EXPECT_ERROR(head + "5]}}", "deployment.canary.steps[0]: must be a map");
  std::string many = head;
  for (int i = 0; i < 257; ++i) many += "{pause: 1s},";
  EXPECT_ERROR(many + "{set_weight: 5}]}}", "deployment.canary.steps: at most 256 steps, got 258");
  std::string stages = "deployment: {name: a-b, canary: {model_version: 1, stages: [";
  for (int i = 0; i < 129; ++i) stages += "{traffic_percent: " + std::to_string(i * 0.5) + "},";
  EXPECT_ERROR(stages + "]}}", "deployment.canary.stages: at most 128 stages, got 129");
}

TEST(CanaryPlanTest, experiment_errors_name_the_field) {
  EXPECT_ERROR(replaced(kSeedExperiment, "primary_metric: conversion_rate",
                        "primary_metric: conversions"),
               "experiment.primary_metric: unknown metric 'conversions'");
  EXPECT_ERROR(replaced(kSeedExperiment, "[latency_p99, error_rate]", "[latency_p99, latency_p99]"),
               "experiment.guardrail_metrics[1]: metric appears twice");
  EXPECT_ERROR(replaced(kSeedExperiment, "[latency_p99, error_rate]", "latency_p99"),
               "experiment.guardrail_metrics: must be a sequence");
  EXPECT_ERROR(replaced(kSeedExperiment, "    traffic: 50%\n  primary", "    traffic: 60%\n  primary"),
               "experiment: control and treatment traffic must add up to 100%, got 110%");
  EXPECT_ERROR(replaced(kSeedExperiment, "min_sample_size: 10000", "min_sample_size: 1e4"),
               "experiment.min_sample_size: must be a whole number from 0");
  EXPECT_ERROR(replaced(kSeedExperiment, "duration: 14d", "duration: 2 weeks"),
               "experiment.duration: must be a whole number with a unit");
  EXPECT_ERROR(replaced(kSeedExperiment, "model: recommendation-v7", "model: recommendation-v6"),
               "is the same model and version as the control");
}

TEST(CanaryPlanTest, experiment_metrics_as_maps_and_host_metrics) {
  CanaryPlanParseOptions options;
  options.custom_metrics = {"revenue"};
  const CanaryPlan plan = parse_canary_plan(
      replaced(kSeedExperiment, "guardrail_metrics: [latency_p99, error_rate]",
               "guardrail_metrics: [revenue, {name: dwell_ms, kind: continuous, direction: "
               "lower_is_better, minimum_detectable_effect: 2%, missing_value: 0}]\n  mode: "
               "sequential"),
      options);
  const ExperimentPlan& e = *plan.experiment;
  EXPECT_EQ(e.mode, AnalysisMode::kSequential);
  ASSERT_EQ(e.guardrails.size(), 2u);
  EXPECT_EQ(e.guardrails[0].name, "revenue");
  EXPECT_EQ(e.guardrails[0].kind, MetricKind::kContinuous);
  EXPECT_EQ(e.guardrails[1].name, "dwell_ms");
  EXPECT_EQ(e.guardrails[1].direction, MetricDirection::kLowerIsBetter);
  EXPECT_DOUBLE_EQ(e.guardrails[1].minimum_detectable_effect, 0.02);
  EXPECT_EQ(e.guardrails[1].missing_value, 0.0);
  // Without the host's declaration, "revenue" is an unknown metric.
  EXPECT_NE(error_of(replaced(kSeedExperiment, "[latency_p99, error_rate]", "[revenue]"))
                .find("experiment.guardrail_metrics[0]: unknown metric 'revenue'"),
            std::string::npos);
}

TEST(CanaryPlanTest, malformed_empty_or_several_documents_and_hostile_text_are_invalid_arguments) {
  EXPECT_ERROR("", "canary plan: the document is empty");
  EXPECT_ERROR("# nothing\n", "the document is empty");
  EXPECT_ERROR(",", "canary plan: ");  // read as an empty document; never a hang
  EXPECT_ERROR("{\"deployment\": {", "canary plan: malformed YAML");
  EXPECT_ERROR(std::string(kSeedCanary) + "---\n" + std::string(kSeedCanary),
               "more than one YAML document");
  EXPECT_ERROR("[1, 2]", "(document): must be a map, got a sequence");
  EXPECT_ERROR("deployment:", "deployment: missing");
  EXPECT_ERROR("deployment: {name: a-b}\nexperiment: {name: c-d}",
               "(document): must hold exactly one of deployment, experiment or rollout");
  EXPECT_ERROR("deployment: {name: a-b, canary: {model_version: 1, stages: *x}}",
               "canary plan: malformed YAML");
  EXPECT_ERROR("deployment: {name: a-b}", "deployment: must hold exactly one of canary or blue_green");
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "[";
  (void)error_of(deep);  // any InvalidArgument, no crash
  // Random bytes never escape as anything but InvalidArgument.
  std::mt19937 rng(3);
  const std::string seed(kSeedCanary);
  for (int round = 0; round < 300; ++round) {
    std::string text = seed;
    for (int k = 0; k < 3; ++k) {
      text[rng() % text.size()] = static_cast<char>(" :-[]{},%\n#&*!|>'\"0a"[rng() % 21]);
    }
    try {
      parse_canary_plan(text).validate();
    } catch (const InvalidArgument&) {
    }
  }
}

TEST(CanaryPlanTest, validate_refuses_plans_built_in_code_naming_the_field) {
  const CanaryPlan good = parse_canary_plan(kSeedCanary);
  auto message = [](const CanaryPlan& p) -> std::string {
    try {
      p.validate();
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "";
  };
  CanaryPlan p = good;
  p.steps[2].weight = 5;
  EXPECT_NE(message(p).find("steps[2].set_weight: must be above the previous set_weight's 5"),
            std::string::npos);
  p = good;
  p.steps[1].guardrails[1].threshold = std::nan("");
  EXPECT_NE(message(p).find("steps[1].pause.rollback_if.latency_p99_increase: threshold must be "
                            "a finite number"),
            std::string::npos)
      << message(p);
  p = good;
  p.steps[5].duration = -1s;
  EXPECT_NE(message(p).find("steps[5].pause.duration: must be positive"), std::string::npos);
  p = good;
  p.steps[0].duration = 1s;
  EXPECT_NE(message(p).find("steps[0]: a set_weight step has only a weight"), std::string::npos);
  p = good;
  p.guardrails = {rule(GuardrailMetric::kCustom, GuardrailBound::kAtMost, 1)};
  EXPECT_NE(message(p).find("custom metric name is empty"), std::string::npos) << message(p);
  p = good;
  p.guardrails = {rule(GuardrailMetric::kErrorRate, GuardrailBound::kAtMost, 0.1),
                  rule(GuardrailMetric::kErrorRate, GuardrailBound::kAtMost, 0.2)};
  EXPECT_NE(message(p).find("rollback_if.error_rate: guardrail appears twice"), std::string::npos);
  p = good;
  p.stable_version = 12;
  EXPECT_NE(message(p).find("stable_version: is the candidate version 12"), std::string::npos);
  p = good;
  p.hooks.on_rollback = {"page oncall"};
  EXPECT_NE(message(p).find("hooks.on_rollback[0]"), std::string::npos);
  p = good;
  p.experiment = parse_canary_plan(kSeedExperiment).experiment;
  EXPECT_NE(message(p).find("only an experiment plan has an experiment section"),
            std::string::npos);
  p = good;
  p.interval = Duration(0);
  EXPECT_NE(message(p).find("interval: must be positive"), std::string::npos);
  EXPECT_EQ(message(good), "");
}

}  // namespace canary_plan_test
}  // namespace
}  // namespace switchyard
