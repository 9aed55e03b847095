// SPDX-License-Identifier: Apache-2.0
// The one comparison module both rollout reports use: Holm, verdicts, wording, JSON fields.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <switchyard/rollout/comparison.hpp>
#include <vector>

namespace switchyard {
namespace {
namespace comparison_test {

ComparisonResult tested(double p, double effect) {
  ComparisonResult c;
  c.status = stats::StatStatus::kOk;
  c.p_value = c.adjusted_p_value = p;
  c.absolute_effect = effect;
  c.absolute_interval = {effect - 0.01, effect + 0.01};
  return c;
}

// Reference: statsmodels 0.13.5 multipletests([0.01, 0.03], method='holm') = [0.02, 0.03]: only
// the members whose test ran form the family; the untested one keeps its p-value.
TEST(ComparisonTest, holm_adjusts_the_tested_members_of_a_family) {
  std::vector<ComparisonResult> family = {tested(0.01, 0.1), ComparisonResult{},
                                          tested(0.03, -0.1)};
  family[1].p_value = family[1].adjusted_p_value = 0.5;
  std::vector<ComparisonResult*> members;
  for (auto& c : family) members.push_back(&c);
  detail::holm_adjust(members, 0.05);
  EXPECT_DOUBLE_EQ(family[0].adjusted_p_value, 0.02);
  EXPECT_EQ(family[1].adjusted_p_value, 0.5);
  EXPECT_DOUBLE_EQ(family[2].adjusted_p_value, 0.03);
  EXPECT_EQ(family[0].p_value, 0.01);  // the raw p-value stays
  // A family of one is left alone.
  std::vector<ComparisonResult*> one{&family[0]};
  family[0].adjusted_p_value = 0.01;
  detail::holm_adjust(one, 0.05);
  EXPECT_EQ(family[0].adjusted_p_value, 0.01);
}

TEST(ComparisonTest, judge_reads_the_metrics_direction) {
  ComparisonResult up = tested(0.01, 0.2);
  detail::judge(up, /*higher_is_better=*/true, 0.05);
  EXPECT_TRUE(up.significant && up.improvement && !up.regression);
  detail::judge(up, /*higher_is_better=*/false, 0.05);  // e.g. latency, error rate
  EXPECT_TRUE(up.significant && !up.improvement && up.regression);
  ComparisonResult weak = tested(0.2, 0.2);
  detail::judge(weak, true, 0.05);
  EXPECT_FALSE(weak.significant || weak.improvement || weak.regression);
  ComparisonResult untested;  // p = 1, status not ok
  untested.adjusted_p_value = 0.0;
  detail::judge(untested, true, 0.05);
  EXPECT_FALSE(untested.significant);
}

TEST(ComparisonTest, effect_words_prefer_the_relative_effect_then_points_or_decimals) {
  ComparisonResult c = tested(0.0004, 0.005);
  c.relative_status = stats::StatStatus::kOk;
  c.relative_effect = 0.07;
  c.relative_interval = {0.051, 0.089};
  detail::EffectWords w = detail::effect_words(c, 0.95, {});
  EXPECT_EQ(w.value, "+7.0%");
  EXPECT_EQ(w.detail, "95% CI [+5.1%, +8.9%], p < 0.001");
  w = detail::effect_words(c, 0.95, {.prefer_relative = false, .points = true});
  EXPECT_EQ(w.value, "+0.50 points");
  EXPECT_EQ(w.detail, "95% CI [-0.50, +1.50] points, p < 0.001");
  c.relative_status = stats::StatStatus::kInvalidInput;
  w = detail::effect_words(c, 0.9, {});
  EXPECT_EQ(w.value, "+0.0050");
  EXPECT_EQ(w.detail, "90% CI [-0.0050, +0.0150], p < 0.001");
}

// JSON numbers go through detail::json_number: the shortest text that reads back as the same
// double, null when not finite; an effect whose test did not run is null.
TEST(ComparisonTest, json_fields_use_the_one_number_formatter) {
  ComparisonResult c = tested(0.1, 0.1);
  c.absolute_interval = {-std::numeric_limits<double>::infinity(), 0.30000000000000004};
  const std::string json = detail::comparison_json_fields(c);
  EXPECT_NE(json.find("\"absolute_effect\": 0.1,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"absolute_interval\": [null, 0.30000000000000004]"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"relative_effect\": null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p_value\": 0.1,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"improvement\": false"), std::string::npos) << json;
  ComparisonResult failed;
  failed.reason = "control arm has no trials";
  const std::string f = detail::comparison_json_fields(failed);
  EXPECT_NE(f.find("\"status\": \"not_enough_data\""), std::string::npos) << f;
  EXPECT_NE(f.find("\"absolute_effect\": null"), std::string::npos) << f;
}

}  // namespace comparison_test
}  // namespace
}  // namespace switchyard
