// SPDX-License-Identifier: Apache-2.0
// Seed 003's "Staging -> Production requires a successful shadow deployment", end to end: live
// traffic through a Deployment on the registry's Production version is mirrored to the Staging
// candidate (loaded from the same registry), the verdict becomes PromotionEvidence, and the
// registry's promotion policy accepts the transition only with passed evidence, which the audit
// trail keeps.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/shadow/shadow_criteria.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>

#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {

constexpr const char* kModel = "fraud-detection";

/// Mirrors `requests` requests from the Production version to `candidate` and returns its report.
ShadowReport shadow_run(ModelRegistry& registry, std::int64_t production, std::int64_t candidate,
                        int requests) {
  Deployment d{{.model = kModel, .source = &registry}};
  d.router().set_policy(RoutingPolicy::single(production, "stable"));
  ShadowPredictor::Options o;
  o.source = &registry;
  o.queue_capacity = 4096;
  auto shadow = std::make_shared<ShadowPredictor>(o);
  shadow->add_shadow({.model = kModel, .version = candidate});
  shadow->start();
  d.add_observer(shadow);
  for (int i = 0; i < requests; ++i) {
    const double row[3] = {0.1 * (i % 97) - 5.0, -0.02 * (i % 31), 0.5};
    const std::string key = "user-" + std::to_string(i);
    EXPECT_TRUE(d.predict({.key = key, .input = TensorView(row, Shape{1, 3})}).ok());
  }
  EXPECT_TRUE(shadow->drain(std::chrono::seconds(60)));
  return shadow->report();
}

TEST(ShadowPromotionTest, a_passed_shadow_verdict_carries_the_candidate_into_production) {
  testing::RegistryFixture fx;
  const std::int64_t v1 = fx.add_production(kModel, 0.90, 1.0);
  const std::int64_t v2 = fx.add(kModel, 0.91, 1.0);  // the same weights: agrees everywhere
  fx.registry->transition(kModel, v2, Stage::kStaging, {.actor = "ci"});
  fx.registry->set_promotion_policy(kModel, {.require_any_of = {"shadow"}});

  // Without evidence the policy refuses, and nothing changes.
  EXPECT_THROW(fx.registry->transition(kModel, v2, Stage::kProduction, {.actor = "alice"}),
               InvalidTransition);

  const ShadowReport report = shadow_run(*fx.registry, v1, v2, 1500);
  ShadowCriteria criteria;
  criteria.min_compared_rows = 1000;
  criteria.min_agreement = 0.99;
  criteria.max_latency_p99_ratio = 0;  // toy models: the latency ratio is noise here
  ASSERT_EQ(report.versions.size(), 1u);
  EXPECT_EQ(report.versions[0].compared_rows, 1500u);
  const PromotionEvidence evidence = to_evidence(report, report.versions[0], criteria);
  ASSERT_TRUE(evidence.passed) << evidence.summary;

  auto promoted = fx.registry->transition(kModel, v2, Stage::kProduction,
                                          {.actor = "alice", .reason = "shadow passed",
                                           .evidence = {evidence}});
  EXPECT_EQ(promoted->stage, Stage::kProduction);
  const auto history = fx.registry->history(kModel);
  ASSERT_FALSE(history.empty());
  const AuditRecord& last = history.back();
  EXPECT_EQ(last.version, v2);
  ASSERT_EQ(last.evidence.size(), 1u);
  EXPECT_EQ(last.evidence[0], evidence);
}

TEST(ShadowPromotionTest, a_failed_shadow_verdict_is_recorded_nowhere_and_refused) {
  testing::RegistryFixture fx;
  const std::int64_t v1 = fx.add_production(kModel, 0.90, 1.0);
  const std::int64_t v2 = fx.add(kModel, 0.91, 7.0);  // other weights: disagrees on some rows
  fx.registry->transition(kModel, v2, Stage::kStaging, {.actor = "ci"});
  fx.registry->set_promotion_policy(kModel, {.require_any_of = {"shadow"}});

  const ShadowReport report = shadow_run(*fx.registry, v1, v2, 1500);
  ShadowCriteria criteria;
  criteria.min_compared_rows = 1000;
  criteria.min_agreement = 0.999;
  criteria.max_latency_p99_ratio = 0;
  const PromotionEvidence evidence = to_evidence(report, report.versions[0], criteria);
  ASSERT_LT(report.versions[0].agreement_rate, 0.999);
  EXPECT_FALSE(evidence.passed);
  EXPECT_NE(evidence.summary.find("min_agreement"), std::string::npos) << evidence.summary;
  EXPECT_THROW(fx.registry->transition(kModel, v2, Stage::kProduction,
                                       {.actor = "alice", .evidence = {evidence}}),
               InvalidTransition);
  EXPECT_EQ(fx.registry->get(kModel, v2)->stage, Stage::kStaging);
}

}  // namespace
}  // namespace switchyard
