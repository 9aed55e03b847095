// SPDX-License-Identifier: Apache-2.0
// Prometheus and JSON exposition of statistics rows; the text is checked with promtool.
#include <switchyard/monitoring/exposition.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <switchyard/serving/deployment.hpp>

#include "support/fake_models.hpp"
#include "support/json.hpp"

namespace switchyard {
namespace {

struct Served {
  StaticModelSource source;
  std::shared_ptr<testing::ConstantModel> v1 = std::make_shared<testing::ConstantModel>(1, 0.75);
  std::shared_ptr<testing::ConstantModel> v2 = std::make_shared<testing::ConstantModel>(0, 0.5);
  std::unique_ptr<Deployment> d;
  Served() {
    v1->signature_.class_names = {"legit", "fraud \"quoted\""};
    source.add("fraud-detection", 1, v1);
    source.add("fraud-detection", 2, v2);
    d = std::make_unique<Deployment>(Deployment::Options{.model = "fraud-detection", .source = &source});
    RoutingPolicy p;
    p.variants = {{"control", 1, 100}, {"treatment", 2, 0}};
    p.pinnable_versions = {};
    d->router().set_policy(p);
    const double x[2] = {1, 2};
    for (int i = 0; i < 10; ++i) {
      (void)d->predict({.key = "u" + std::to_string(i), .input = TensorView(x, Shape{1, 2})});
    }
    (void)d->predict({.key = "u", .input = TensorView(x, Shape{1, 2}), .version = 2});
    d->record_outcome(1, true);
  }
};

TEST(ExpositionTest, prometheus_text_has_every_family_with_labels) {
  Served s;
  const ModelStats all[] = {s.d->model_stats()};
  std::string text = prometheus_text(all);
  EXPECT_NE(text.find("# TYPE switchyard_requests_total counter"), std::string::npos);
  EXPECT_NE(text.find("switchyard_requests_total{model=\"fraud-detection\",version=\"1\","
                      "variant=\"control\"} 10\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("class=\"fraud \\\"quoted\\\"\"} 10"), std::string::npos) << text;
  EXPECT_NE(text.find("switchyard_prediction_latency_seconds_count{model=\"fraud-detection\","
                      "version=\"1\",variant=\"control\"} 10"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"+Inf\"} 10"), std::string::npos);
  EXPECT_NE(text.find("switchyard_outcomes_total{model=\"fraud-detection\",version=\"1\","
                      "variant=\"control\",correct=\"true\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("switchyard_traffic_share{model=\"fraud-detection\",version=\"1\","
                      "variant=\"control\"} 1"),
            std::string::npos);
}

TEST(ExpositionTest, promtool_accepts_the_text) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    // CI installs promtool (scripts/install-deps.sh --with-tools): there, a missing promtool is a
    // broken install step, not a reason to skip the check.
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") FAIL() << "promtool not found with CI=true";
    GTEST_SKIP() << "promtool not installed (scripts/install-deps.sh --with-tools installs it)";
  }
  Served s;
  const ModelStats all[] = {s.d->model_stats()};
  std::string path = ::testing::TempDir() + "/switchyard_metrics.prom";
  {
    std::ofstream f(path);
    f << prometheus_text(all);
  }
  std::string cmd = "promtool check metrics < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) output += buf;
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << "promtool reported lint problems";
}

TEST(ExpositionTest, json_parses_and_carries_the_numbers) {
  Served s;
  const ModelStats all[] = {s.d->model_stats()};
  std::string json = metrics_json(all);
  testing::json::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  const auto& versions = doc["deployments"][0]["versions"];
  ASSERT_EQ(versions.Size(), 2u);
  EXPECT_EQ(versions[0]["version"].GetInt(), 1);
  EXPECT_EQ(versions[0]["requests"].GetUint64(), 10u);
  EXPECT_DOUBLE_EQ(versions[0]["mean_confidence"].GetDouble(), 0.75);
  EXPECT_DOUBLE_EQ(versions[0]["accuracy"].GetDouble(), 1.0);
  EXPECT_EQ(versions[0]["classes"]["fraud \"quoted\""].GetInt(), 10);
  EXPECT_EQ(versions[1]["requests"].GetUint64(), 1u);
  EXPECT_TRUE(versions[1]["accuracy"].IsNull());
}

TEST(ExpositionTest, rows_need_no_deployment_and_numbers_round_trip) {
  // Monitoring reads rows, whoever collected them: a host or a test can expose its own.
  ModelStats m;
  m.model = "ranking-search";
  VariantStats v;
  v.version = 7;
  v.variant = "control";
  v.share = 0.1;  // not exactly representable: %.17g would print 0.10000000000000001
  v.stats.requests = 3;
  v.stats.latency.record(1500);
  m.versions.push_back(v);
  const ModelStats all[] = {m};
  const std::string text = prometheus_text(all);
  EXPECT_NE(text.find("switchyard_traffic_share{model=\"ranking-search\",version=\"7\","
                      "variant=\"control\"} 0.1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("le=\"1e-06\""), std::string::npos) << text;
  const std::string json = metrics_json(all);
  EXPECT_NE(json.find("\"share\": 0.1,"), std::string::npos) << json;
  testing::json::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_EQ(doc["deployments"][0]["model"].GetString(), std::string("ranking-search"));
  EXPECT_EQ(doc["deployments"][0]["versions"][0]["requests"].GetUint64(), 3u);
}

}  // namespace
}  // namespace switchyard
