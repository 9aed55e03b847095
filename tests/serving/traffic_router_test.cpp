// SPDX-License-Identifier: Apache-2.0
// TrafficRouter: stickiness, split accuracy, minimal movement, precedence, validation, blue/green.
#include <switchyard/serving/traffic_router.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "support/fake_models.hpp"

namespace switchyard {
namespace {
namespace traffic_router_test {

class CountingSource final : public ModelSource {
 public:
  ModelPtr load(std::string_view name, std::int64_t version) override {
    ++loads;
    if (version > 100) {
      throw NotFound("model '" + std::string(name) + "' version " + std::to_string(version));
    }
    return std::make_shared<testing::ConstantModel>(static_cast<std::int32_t>(version));
  }
  int loads = 0;
};

RoutingPolicy split(double a, double b, WeightStyle style = WeightStyle::kPercent) {
  RoutingPolicy p;
  p.variants = {{"control", 1, a}, {"treatment", 2, b}};
  p.weight_style = style;
  return p;
}

std::string user(int i) { return "user-" + std::to_string(i); }

// |observed - n p| <= 4.5 sd of Binomial(n, p): a bound a correct router misses with probability
// below 1e-5, while a 1-point bias at n = 100,000 (1,000 keys) exceeds it at 70/30 (sd 145).
void expect_binomial(std::size_t observed, std::size_t n, double p) {
  const double mean = n * p;
  const double sd = std::sqrt(n * p * (1 - p));
  EXPECT_LE(std::fabs(static_cast<double>(observed) - mean), 4.5 * sd)
      << "observed " << observed << " of " << n << ", expected " << mean << " +- " << 4.5 * sd;
}

TEST(TrafficRouterTest, same_key_always_gets_the_same_variant) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  router.set_policy(split(50, 50));
  std::map<std::string, std::int64_t> first;
  for (int i = 0; i < 2000; ++i) first[user(i)] = router.read()->route(user(i)).variant->version;
  router.set_policy(split(50, 50));  // a republish of the same policy changes nothing
  for (int i = 0; i < 2000; ++i) {
    EXPECT_EQ(router.read()->route(user(i)).variant->version, first[user(i)]);
  }
}

TEST(TrafficRouterTest, split_70_30_and_5_95_within_binomial_bounds_for_100000_keys) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  for (auto [a, b] : {std::pair{70.0, 30.0}, std::pair{5.0, 95.0}}) {
    router.set_policy(split(a, b));
    std::size_t control = 0;
    const std::size_t n = 100000;
    for (std::size_t i = 0; i < n; ++i) {
      control += router.read()->route(user(static_cast<int>(i))).variant->version == 1;
    }
    expect_binomial(control, n, a / 100.0);
  }
}

TEST(TrafficRouterTest, weight_change_moves_only_the_keys_it_must) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  router.set_policy(split(70, 30));
  const int n = 50000;
  std::vector<std::int64_t> before(n);
  for (int i = 0; i < n; ++i) before[i] = router.read()->route(user(i)).variant->version;
  router.set_weights({{"control", 60}, {"treatment", 40}});
  std::size_t moved = 0;
  for (int i = 0; i < n; ++i) {
    auto after = router.read()->route(user(i)).variant->version;
    if (after != before[i]) {
      ++moved;
      EXPECT_EQ(before[i], 1) << "a treatment key moved back to control";
    }
  }
  expect_binomial(moved, n, 0.10);
}

TEST(TrafficRouterTest, random_mode_splits_by_weight) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  RoutingPolicy p = split(3, 1, WeightStyle::kRelative);
  p.mode = RoutingMode::kRandom;
  router.set_policy(p);
  std::size_t control = 0;
  for (int i = 0; i < 40000; ++i) control += router.read()->route("same-key").variant->version == 1;
  expect_binomial(control, 40000, 0.75);
}

TEST(TrafficRouterTest, pinned_beats_override_beats_segment_beats_split) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  RoutingPolicy p;
  p.variants = {{"control", 1, 100}, {"treatment", 2, 0}, {"beta", 3, 0}};
  p.overrides = {{"qa-user", "treatment"}};
  p.segments = {{"country", {"DE", "AT"}, "beta"}};
  p.pinnable_versions = {7};
  router.set_policy(p);
  const Attribute de[] = {{"country", "DE"}};
  auto table = router.read();
  EXPECT_EQ(table->route("someone").variant->version, 1);
  EXPECT_EQ(table->route("someone", de).variant->version, 3);
  EXPECT_EQ(table->route("someone", de).reason, RouteReason::kSegment);
  EXPECT_EQ(table->route("qa-user", de).variant->version, 2);
  EXPECT_EQ(table->route("qa-user", de).reason, RouteReason::kOverride);
  EXPECT_EQ(table->route("qa-user", de, 7).variant->version, 7);
  EXPECT_EQ(table->route("qa-user", de, 7).reason, RouteReason::kPinned);
  EXPECT_EQ(table->route("qa-user", de, 2).variant->version, 2);
  auto unknown = table->route("someone", {}, 42);
  EXPECT_EQ(unknown.variant, nullptr);
  EXPECT_EQ(unknown.error, ErrorCode::kNotFound);
}

TEST(TrafficRouterTest, bad_policies_are_rejected_with_the_field_named_and_nothing_changes) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  router.set_policy(split(70, 30));
  auto expect_rejected = [&](RoutingPolicy p, const std::string& needle) {
    try {
      router.set_policy(std::move(p));
      ADD_FAILURE() << "accepted a policy that should fail with '" << needle << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("fraud-detection"), std::string::npos) << e.what();
    }
  };
  expect_rejected(split(-10, 110), "negative");
  expect_rejected(split(std::nan(""), 100), "finite");
  expect_rejected(split(0, 0, WeightStyle::kRelative), "add up to 0");
  expect_rejected(split(70, 20), "not 100");
  expect_rejected(RoutingPolicy{}, "no variants");
  RoutingPolicy dup = split(50, 50);
  dup.variants[1].name = "control";
  expect_rejected(dup, "appears twice");
  RoutingPolicy same_version = split(50, 50);
  same_version.variants[1].version = 1;
  expect_rejected(same_version, "two variants");
  RoutingPolicy bad_override = split(50, 50);
  bad_override.overrides = {{"k", "nope"}};
  expect_rejected(bad_override, "unknown variant 'nope'");
  RoutingPolicy bad_name = split(50, 50);
  bad_name.variants[0].name = "../etc";
  EXPECT_THROW(router.set_policy(bad_name), InvalidArgument);
  // The 70/30 table still serves.
  EXPECT_DOUBLE_EQ(router.read()->variants()[0].share, 0.7);

  RoutingPolicy normalized = split(7, 3);
  normalized.normalize = true;
  router.set_policy(normalized);
  EXPECT_DOUBLE_EQ(router.read()->variants()[0].share, 0.7);
}

TEST(TrafficRouterTest, failed_load_keeps_the_previous_table) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  router.set_policy(split(70, 30));
  auto before = router.table();
  RoutingPolicy p = split(50, 50);
  p.variants[1].version = 101;  // the source cannot load it
  EXPECT_THROW(router.set_policy(p), NotFound);
  EXPECT_EQ(router.table(), before);
}

TEST(TrafficRouterTest, blue_green_switch_keeps_both_loaded) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  router.set_policy(RoutingPolicy::blue_green(1, 2, "blue"));
  EXPECT_EQ(source.loads, 2);
  EXPECT_EQ(router.read()->route("k").variant->version, 1);
  router.switch_blue_green("green");
  EXPECT_EQ(router.read()->route("k").variant->version, 2);
  EXPECT_EQ(router.read()->fallback()->version, 1);
  router.switch_blue_green("blue");
  EXPECT_EQ(router.read()->route("k").variant->version, 1);
  EXPECT_EQ(source.loads, 2) << "switching must not reload either slot";
  EXPECT_THROW(router.switch_blue_green("purple"), InvalidArgument);
}

TEST(TrafficRouterTest, zero_weight_arm_gets_no_keys) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  router.set_policy(split(100, 0));
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(router.read()->route(user(i)).variant->version, 1);
  router.set_policy(split(0, 100));
  for (int i = 0; i < 20000; ++i) ASSERT_EQ(router.read()->route(user(i)).variant->version, 2);
}

TEST(TrafficRouterTest, rejects_invalid_model_names_and_missing_source) {
  CountingSource source;
  EXPECT_THROW(TrafficRouter({.model = "", .source = &source}), InvalidArgument);
  EXPECT_THROW(TrafficRouter({.model = "a/b", .source = &source}), InvalidArgument);
  EXPECT_THROW(TrafficRouter({.model = "bad\nname", .source = &source}), InvalidArgument);
  EXPECT_THROW(TrafficRouter({.model = "fraud-detection", .source = nullptr}), InvalidArgument);
}

// A service registers versions for months: the router must not keep statistics for all of them.
TEST(TrafficRouterTest, statistics_of_retired_versions_are_bounded_and_outlive_tables_in_flight) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source, .retired_stats = 2});
  auto only = [](std::int64_t v) {
    RoutingPolicy p;
    p.variants = {{"v" + std::to_string(v), v, 1}};
    return p;
  };
  router.set_policy(only(1));
  const auto first_table = router.table();  // a request still in flight on version 1
  router.stats(1)->record_error();
  for (std::int64_t v = 2; v <= 10; ++v) router.set_policy(only(v));
  EXPECT_EQ(router.versions_with_stats(), (std::vector<std::int64_t>{8, 9, 10}));
  EXPECT_EQ(router.stats(1), nullptr);
  // The table in flight still counts into version 1's statistics, which it keeps alive.
  first_table->variants()[0].stats->record_error();
  EXPECT_EQ(first_table->variants()[0].stats->snapshot().errors, 2u);

  // A retained version that returns keeps its counters; a dropped one starts again.
  router.stats(9)->record_error();
  router.set_policy(only(9));
  EXPECT_EQ(router.stats(9)->snapshot().errors, 1u);
  router.set_policy(only(1));
  EXPECT_EQ(router.stats(1)->snapshot().errors, 0u);
  EXPECT_EQ(router.versions_with_stats(), (std::vector<std::int64_t>{1, 9, 10}));
  router.clear();
  EXPECT_EQ(router.versions_with_stats(), (std::vector<std::int64_t>{1, 9}));
}

TEST(TrafficRouterTest, enumerations_outside_their_range_are_refused_by_field) {
  // A policy decoded from configuration can carry any integer in its enumerations.
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  auto refused = [&](RoutingPolicy p) {
    try {
      router.set_policy(p);
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  RoutingPolicy p = split(50, 50);
  p.hash = static_cast<HashScheme>(42);
  EXPECT_NE(refused(p).find("hash scheme 42 is not a HashScheme"), std::string::npos);
  p = split(50, 50);
  p.mode = static_cast<RoutingMode>(9);
  EXPECT_NE(refused(p).find("routing mode 9"), std::string::npos);
  p = split(50, 50);
  p.weight_style = static_cast<WeightStyle>(7);
  EXPECT_NE(refused(p).find("weight style 7"), std::string::npos);
  EXPECT_EQ(router.table(), nullptr) << "nothing was published";
}

TEST(TrafficRouterTest, a_bad_variant_name_names_the_model) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  RoutingPolicy p = split(50, 50);
  p.variants[1].name = "bad name/..";
  try {
    router.set_policy(p);
    ADD_FAILURE() << "a variant name holding a path was accepted";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("fraud-detection"), std::string::npos) << what;
    EXPECT_NE(what.find("variant name"), std::string::npos) << what;
  }
}

}  // namespace traffic_router_test
using namespace traffic_router_test;  // the tests after this anonymous namespace use its helpers
}  // namespace
}  // namespace switchyard

namespace switchyard {
namespace {

// Teams that already bucket users with GrowthBook or Unleash keep every user in the same arm:
// the router's assignment equals those tools' own bucketing (itself checked against their
// published vectors in bucketing_test.cpp).
TEST(TrafficRouterTest, growthbook_scheme_assigns_as_growthbook_with_coverage) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  RoutingPolicy p = split(50, 50);
  p.hash = HashScheme::kGrowthBookV2;
  p.seed = "checkout-experiment";
  p.coverage = 0.8;
  router.set_policy(p);
  const double weights[] = {0.5, 0.5};
  auto ranges = bucketing::growthbook_bucket_ranges(2, 0.8, weights);
  int outside = 0;
  for (int i = 0; i < 5000; ++i) {
    auto n = bucketing::growthbook_hash("checkout-experiment", user(i), 2);
    ASSERT_TRUE(n);
    int expected = bucketing::growthbook_choose_variation(*n, ranges);
    auto d = router.read()->route(user(i));
    if (expected < 0) {
      ++outside;
      EXPECT_EQ(d.reason, RouteReason::kOutsideCoverage);
      EXPECT_EQ(d.variant->version, 1) << "keys outside coverage get the fallback (first) arm";
    } else {
      EXPECT_EQ(d.variant->version, expected + 1) << user(i);
    }
  }
  expect_binomial(static_cast<std::size_t>(outside), 5000, 0.2);
}

TEST(TrafficRouterTest, unleash_scheme_assigns_as_unleash) {
  CountingSource source;
  TrafficRouter router({.model = "fraud-detection", .source = &source});
  RoutingPolicy p = split(70, 30);
  p.hash = HashScheme::kUnleash;
  p.seed = "fraud-model-flag";
  router.set_policy(p);
  const std::uint32_t weights[] = {700, 300};
  for (int i = 0; i < 5000; ++i) {
    auto expected = bucketing::unleash_select_variant(user(i), "fraud-model-flag", weights);
    ASSERT_TRUE(expected);
    EXPECT_EQ(router.read()->route(user(i)).variant->version,
              static_cast<std::int64_t>(*expected) + 1);
  }
}

}  // namespace
}  // namespace switchyard
