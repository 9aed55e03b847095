// SPDX-License-Identifier: Apache-2.0
// ShadowReport rendered as JSON, a table and Prometheus text (checked with promtool), and
// ShadowCriteria judging hand-built reports: each criterion failing alone, passing, invalid bounds.
#include <switchyard/shadow/shadow_criteria.hpp>
#include <switchyard/shadow/shadow_report.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/core/promotion_evidence.hpp>
#include <switchyard/stats/mcnemar.hpp>

#include "support/json.hpp"

namespace switchyard {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

LatencyHistogram latencies(std::uint64_t ns, int n) {
  LatencyHistogram h;
  for (int i = 0; i < n; ++i) h.record(ns);
  return h;
}

/// A classifier shadow that clears the default criteria: 5000 compared rows, 99% agreement, no
/// errors, equal latencies, 1200 labeled rows on which it is slightly (not significantly) better.
ShadowVersionReport good_classifier() {
  ShadowVersionReport v;
  v.model = "fraud-detection";
  v.version = 2;
  v.share = 0.5;
  v.sampled = 5010;
  v.mirrored = 5000;
  v.dropped_queue_full = 6;
  v.dropped_over_budget = 3;
  v.dropped_stopped = 1;
  v.skipped_paused = 7;
  v.discarded = 0;
  v.completed = 5000;
  v.compared_rows = 5000;
  v.agreed_rows = 4950;
  v.agreement_rate = 0.99;
  v.confusion = {{0, 0, 3960}, {0, 1, 30}, {1, 0, 20}, {1, 1, 990}};
  v.shadow_latency = latencies(2000, 100);
  v.primary_latency = latencies(2000, 100);
  v.distribution.labels = {{0, 3980, 3990}, {1, 1020, 1010}};
  v.distribution.divergence.status = stats::StatStatus::kOk;
  v.distribution.divergence.method = stats::DriftMethod::kJensenShannon;
  v.distribution.divergence.value = 0.01;
  v.distribution.divergence.threshold = 0.1;
  LabeledComparison& l = v.labeled;
  l.labels_joined = 1200;
  l.rows = 1200;
  l.primary_correct = 1100;
  l.shadow_correct = 1110;
  l.primary_accuracy = 1100.0 / 1200.0;
  l.shadow_accuracy = 1110.0 / 1200.0;
  // A = shadow, B = primary: the shadow is right on 30 rows the primary gets wrong, and 20 reverse.
  l.mcnemar = stats::mcnemar_test({.a_right_b_wrong = 30, .a_wrong_b_right = 20},
                                  stats::McNemarMethod::kExact, 1200);
  return v;
}

/// A regressor shadow with labels: paired tests on absolute errors, no label counts.
ShadowVersionReport regressor() {
  ShadowVersionReport v;
  v.model = "eta";
  v.version = 7;
  v.share = 0.25;
  v.sampling = ShadowSampling::kRandom;
  v.active = false;
  v.sampled = 400;
  v.mirrored = 400;
  v.completed = 398;
  v.shadow_errors = 2;
  v.primary_errors = 1;
  v.shadow_error_rate = 2.0 / 400.0;
  v.primary_error_rate = 1.0 / 400.0;
  v.compared_rows = 398;
  v.agreed_rows = 300;
  v.agreement_rate = 300.0 / 398.0;
  v.absolute_difference = {.count = 398, .mean = 0.5, .max = 3.0, .p50 = 0.4, .p90 = 1.1, .p99 = 2.5};
  v.relative_difference = {.count = 398, .mean = 0.05, .max = 0.3, .p50 = 0.04, .p90 = 0.1, .p99 = 0.25};
  v.shadow_latency = latencies(40000, 398);
  v.primary_latency = latencies(20000, 398);
  v.distribution.divergence.status = stats::StatStatus::kOk;
  v.distribution.divergence.method = stats::DriftMethod::kJensenShannon;
  v.distribution.divergence.value = 0.2;
  v.distribution.divergence.drift = true;
  v.labeled.labels_joined = 150;
  v.labeled.rows = 150;
  v.labeled.primary_mae = 1.25;
  v.labeled.shadow_mae = 1.5;
  v.labeled.paired_t.status = stats::StatStatus::kOk;
  v.labeled.paired_t.statistic = 2.5;
  v.labeled.paired_t.p_value = 0.0134;
  v.labeled.paired_t.p_value_less = 0.9933;
  v.labeled.paired_t.p_value_greater = 0.0067;
  v.labeled.paired_t.effect = 0.25;
  v.labeled.wilcoxon.status = stats::StatStatus::kZeroVariance;
  v.labeled.wilcoxon.reason = "every difference is zero";
  v.disagreements = {{"user-\"1\"", "req-9", 0, 3.5, 1.0}};
  return v;
}

ShadowReport two_version_report() {
  ShadowReport r;
  r.generated_at = TimePoint(std::chrono::nanoseconds(1700000000123456789));
  r.state = ShadowState::kRunning;
  r.queue_capacity = 1024;
  r.queue_depth = 3;
  r.byte_budget = 16777216;
  r.bytes_queued = 4096;
  r.labels_received = 1400;
  r.labels_unmatched = 50;
  r.versions = {good_classifier(), regressor()};
  return r;
}

// ---------------------------------------------------------------------------------------------
// JSON and table

TEST(ShadowReportTest, json_parses_and_carries_every_field) {
  const ShadowReport r = two_version_report();
  const std::string text = r.to_json();
  testing::json::Document doc;
  doc.Parse(text.c_str());
  ASSERT_FALSE(doc.HasParseError()) << text;
  for (const char* key : {"generated_at_ns", "state", "queue_capacity", "queue_depth",
                          "byte_budget", "bytes_queued", "labels_received", "labels_unmatched",
                          "versions"}) {
    EXPECT_TRUE(doc.HasMember(key)) << key;
  }
  EXPECT_EQ(doc["generated_at_ns"].GetInt64(), 1700000000123456789);
  EXPECT_STREQ(doc["state"].GetString(), "running");
  EXPECT_EQ(doc["labels_received"].GetUint64(), 1400u);
  EXPECT_EQ(doc["labels_unmatched"].GetUint64(), 50u);
  ASSERT_EQ(doc["versions"].Size(), 2u);

  const auto& c = doc["versions"][0];
  for (const char* key :
       {"model", "version", "share", "sampling", "active", "sampled", "mirrored", "dropped",
        "skipped_paused", "discarded", "completed", "shadow_errors", "primary_errors",
        "shadow_error_rate", "primary_error_rate", "compared_rows", "agreed_rows",
        "agreement_rate", "confusion", "absolute_difference", "relative_difference",
        "shadow_latency", "primary_latency", "distribution", "labeled", "disagreements"}) {
    EXPECT_TRUE(c.HasMember(key)) << key;
  }
  EXPECT_EQ(c["dropped"]["queue_full"].GetUint64(), 6u);
  EXPECT_EQ(c["dropped"]["over_budget"].GetUint64(), 3u);
  EXPECT_EQ(c["dropped"]["stopped"].GetUint64(), 1u);
  const auto& labels = c["distribution"]["labels"];
  ASSERT_EQ(labels.Size(), 2u);
  EXPECT_EQ(labels[1]["label"].GetInt(), 1);
  EXPECT_EQ(labels[1]["primary"].GetUint64(), 1020u);
  EXPECT_EQ(labels[1]["shadow"].GetUint64(), 1010u);
  const auto& div = c["distribution"]["divergence"];
  EXPECT_STREQ(div["method"].GetString(), "jensenshannon");
  EXPECT_STREQ(div["status"].GetString(), "ok");
  EXPECT_DOUBLE_EQ(div["value"].GetDouble(), 0.01);
  EXPECT_DOUBLE_EQ(div["threshold"].GetDouble(), 0.1);
  EXPECT_FALSE(div["drift"].GetBool());
  EXPECT_TRUE(div.HasMember("reason"));
  EXPECT_TRUE(div.HasMember("unexpected_categories"));

  const auto& l = c["labeled"];
  for (const char* key : {"labels_joined", "rows", "primary_correct", "shadow_correct",
                          "primary_accuracy", "shadow_accuracy", "mcnemar", "primary_mae",
                          "shadow_mae", "paired_t", "wilcoxon"}) {
    EXPECT_TRUE(l.HasMember(key)) << key;
  }
  EXPECT_EQ(l["rows"].GetUint64(), 1200u);
  EXPECT_DOUBLE_EQ(l["shadow_accuracy"].GetDouble(), 1110.0 / 1200.0);
  const stats::McNemarResult expected = good_classifier().labeled.mcnemar;
  EXPECT_STREQ(l["mcnemar"]["status"].GetString(), "ok");
  EXPECT_DOUBLE_EQ(l["mcnemar"]["statistic"].GetDouble(), expected.statistic);
  EXPECT_DOUBLE_EQ(l["mcnemar"]["p_value"].GetDouble(), expected.p_value);
  EXPECT_DOUBLE_EQ(l["mcnemar"]["p_value_less"].GetDouble(), expected.p_value_less);
  EXPECT_DOUBLE_EQ(l["mcnemar"]["p_value_greater"].GetDouble(), expected.p_value_greater);
  EXPECT_DOUBLE_EQ(l["mcnemar"]["effect"].GetDouble(), expected.effect);
  EXPECT_EQ(l["mcnemar"]["discordant"].GetUint64(), 50u);
  EXPECT_STREQ(l["paired_t"]["status"].GetString(), "not_enough_data");

  const auto& g = doc["versions"][1];
  EXPECT_STREQ(g["sampling"].GetString(), "random");
  EXPECT_FALSE(g["active"].GetBool());
  EXPECT_DOUBLE_EQ(g["shadow_error_rate"].GetDouble(), 0.005);
  EXPECT_DOUBLE_EQ(g["primary_error_rate"].GetDouble(), 0.0025);
  EXPECT_DOUBLE_EQ(g["labeled"]["primary_mae"].GetDouble(), 1.25);
  EXPECT_DOUBLE_EQ(g["labeled"]["shadow_mae"].GetDouble(), 1.5);
  const auto& t = g["labeled"]["paired_t"];
  EXPECT_STREQ(t["status"].GetString(), "ok");
  EXPECT_DOUBLE_EQ(t["statistic"].GetDouble(), 2.5);
  EXPECT_DOUBLE_EQ(t["p_value"].GetDouble(), 0.0134);
  EXPECT_DOUBLE_EQ(t["p_value_greater"].GetDouble(), 0.0067);
  EXPECT_DOUBLE_EQ(t["effect"].GetDouble(), 0.25);
  EXPECT_STREQ(g["labeled"]["wilcoxon"]["status"].GetString(), "zero_variance");
  EXPECT_STREQ(g["labeled"]["wilcoxon"]["reason"].GetString(), "every difference is zero");
  EXPECT_STREQ(g["disagreements"][0]["key"].GetString(), "user-\"1\"");
}

TEST(ShadowReportTest, json_of_an_empty_report_parses) {
  const std::string text = ShadowReport{}.to_json();
  testing::json::Document doc;
  doc.Parse(text.c_str());
  ASSERT_FALSE(doc.HasParseError()) << text;
  EXPECT_EQ(doc["versions"].Size(), 0u);
  EXPECT_STREQ(doc["state"].GetString(), "idle");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(ShadowReportTest, table_has_one_row_per_version_in_each_section) {
  const ShadowReport r = two_version_report();
  const std::string table = r.to_table();
  int classifier_rows = 0, regressor_rows = 0;
  for (const std::string& line : lines_of(table)) {
    classifier_rows += line.rfind("fraud-detection/v2 ", 0) == 0;
    regressor_rows += line.rfind("eta/v7 ", 0) == 0;
  }
  // Three sections (traffic, predictions, labels), one row per version in each.
  EXPECT_EQ(classifier_rows, 3) << table;
  EXPECT_EQ(regressor_rows, 3) << table;
  EXPECT_NE(table.find("labels 1400 received, 50 unmatched"), std::string::npos) << table;
  EXPECT_NE(table.find("jensenshannon"), std::string::npos) << table;
  EXPECT_NE(table.find("0:3980/3990 1:1020/1010"), std::string::npos) << table;
  EXPECT_NE(table.find("zero_variance"), std::string::npos) << table;       // wilcoxon, eta
  EXPECT_NE(table.find("2.5 p=0.0134 e=+0.25"), std::string::npos) << table;  // paired t, eta
  EXPECT_NE(table.find("0.500%"), std::string::npos) << table;  // eta's shadow error rate
  EXPECT_NE(table.find("92.50%"), std::string::npos) << table;  // shadow accuracy
}

// ---------------------------------------------------------------------------------------------
// Prometheus

/// A small report whose exposition is checked line by line.
ShadowReport small_report() {
  ShadowReport r;
  r.state = ShadowState::kPaused;
  r.queue_capacity = 8;
  r.queue_depth = 2;
  r.byte_budget = 1000;
  r.bytes_queued = 300;
  r.labels_received = 5;
  r.labels_unmatched = 1;
  ShadowVersionReport v;
  v.model = "m";
  v.version = 12;
  v.share = 0.25;
  v.sampled = 10;
  v.mirrored = 4;
  v.dropped_queue_full = 3;
  v.dropped_over_budget = 2;
  v.dropped_stopped = 1;
  v.skipped_paused = 9;
  v.discarded = 1;
  v.completed = 2;
  v.shadow_errors = 1;
  v.primary_errors = 0;
  v.compared_rows = 2;
  v.agreed_rows = 1;
  v.agreement_rate = 0.5;
  v.shadow_latency = latencies(2000, 3);  // 2 us
  v.shadow_latency.record(40000);         // 40 us
  v.primary_latency = latencies(900, 1);  // wholly below 1 us (buckets are 1/64 wide)
  v.distribution.labels = {{0, 1, 1}, {1, 1, 1}};
  v.distribution.divergence.status = stats::StatStatus::kOk;
  v.distribution.divergence.method = stats::DriftMethod::kPsi;
  v.distribution.divergence.value = 0.125;
  v.labeled.labels_joined = 4;
  v.labeled.rows = 4;
  v.labeled.primary_accuracy = 0.75;
  v.labeled.shadow_accuracy = 0.5;
  r.versions = {v};
  return r;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(ShadowReportTest, prometheus_lines_for_a_small_report) {
  const std::string text = small_report().to_prometheus();
  const std::string mv = "model=\"m\",version=\"12\"";
  for (const std::string& line : std::vector<std::string>{
           "# HELP switchyard_shadow_sampled_total Requests chosen for the version.",
           "# TYPE switchyard_shadow_sampled_total counter",
           "switchyard_shadow_sampled_total{" + mv + "} 10",
           "switchyard_shadow_mirrored_total{" + mv + "} 4",
           "switchyard_shadow_dropped_total{" + mv + ",reason=\"queue_full\"} 3",
           "switchyard_shadow_dropped_total{" + mv + ",reason=\"over_budget\"} 2",
           "switchyard_shadow_dropped_total{" + mv + ",reason=\"stopped\"} 1",
           "switchyard_shadow_skipped_paused_total{" + mv + "} 9",
           "switchyard_shadow_discarded_total{" + mv + "} 1",
           "switchyard_shadow_completed_total{" + mv + "} 2",
           "switchyard_shadow_errors_total{" + mv + ",side=\"shadow\"} 1",
           "switchyard_shadow_errors_total{" + mv + ",side=\"primary\"} 0",
           "switchyard_shadow_compared_rows_total{" + mv + "} 2",
           "switchyard_shadow_agreed_rows_total{" + mv + "} 1",
           "# TYPE switchyard_shadow_agreement_ratio gauge",
           "switchyard_shadow_agreement_ratio{" + mv + "} 0.5",
           "switchyard_shadow_share{" + mv + "} 0.25",
           "switchyard_shadow_active{" + mv + "} 1",
           "# TYPE switchyard_shadow_latency_seconds histogram",
           "switchyard_shadow_latency_seconds_bucket{" + mv + ",side=\"shadow\",le=\"1e-06\"} 0",
           "switchyard_shadow_latency_seconds_bucket{" + mv + ",side=\"shadow\",le=\"2.5e-06\"} 3",
           "switchyard_shadow_latency_seconds_bucket{" + mv + ",side=\"shadow\",le=\"2.5e-05\"} 3",
           "switchyard_shadow_latency_seconds_bucket{" + mv + ",side=\"shadow\",le=\"5e-05\"} 4",
           "switchyard_shadow_latency_seconds_bucket{" + mv + ",side=\"shadow\",le=\"+Inf\"} 4",
           "switchyard_shadow_latency_seconds_sum{" + mv + ",side=\"shadow\"} 4.6e-05",
           "switchyard_shadow_latency_seconds_count{" + mv + ",side=\"shadow\"} 4",
           "switchyard_shadow_latency_seconds_bucket{" + mv + ",side=\"primary\",le=\"1e-06\"} 1",
           "switchyard_shadow_latency_seconds_count{" + mv + ",side=\"primary\"} 1",
           "# TYPE switchyard_shadow_queue_depth gauge",
           "switchyard_shadow_queue_depth 2",
           "switchyard_shadow_queue_capacity 8",
           "switchyard_shadow_bytes_queued 300",
           "switchyard_shadow_byte_budget 1000",
           "# TYPE switchyard_shadow_labels_received_total counter",
           "switchyard_shadow_labels_received_total 5",
           "switchyard_shadow_labels_unmatched_total 1",
           "switchyard_shadow_state{state=\"paused\"} 1",
           "switchyard_shadow_state{state=\"running\"} 0",
           "switchyard_shadow_prediction_divergence{" + mv + ",method=\"psi\"} 0.125",
           "switchyard_shadow_labels_joined_total{" + mv + "} 4",
           "switchyard_shadow_labeled_accuracy{" + mv + ",side=\"shadow\"} 0.5",
           "switchyard_shadow_labeled_accuracy{" + mv + ",side=\"primary\"} 0.75",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
  // Every bucket bound prints as written, cumulative counts, +Inf last.
  std::string les;
  for (const std::string& line : lines_of(text)) {
    const std::string prefix =
        "switchyard_shadow_latency_seconds_bucket{" + mv + ",side=\"primary\",le=\"";
    if (line.rfind(prefix, 0) != 0) continue;
    les += line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size()) + " ";
  }
  EXPECT_EQ(les,
            "1e-06 2.5e-06 5e-06 1e-05 2.5e-05 5e-05 1e-04 0.00025 5e-04 0.001 0.0025 0.005 "
            "0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf ");
  // A classifier reports no MAE series.
  EXPECT_EQ(text.find("switchyard_shadow_labeled_mean_absolute_error{"), std::string::npos);
}

/// The metric family a sample line belongs to: its name, less a histogram suffix when the
/// family without it is a declared histogram.
std::string family_of(const std::string& sample, const std::map<std::string, std::string>& types) {
  std::string name = sample.substr(0, sample.find_first_of("{ "));
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

TEST(ShadowReportTest, prometheus_families_are_declared_once_before_their_samples) {
  const std::string text = two_version_report().to_prometheus();
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  std::size_t samples = 0;
  for (const std::string& line : lines_of(text)) {
    ASSERT_FALSE(line.empty()) << text;
    if (line.rfind("# HELP ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helps.insert(name).second) << "HELP twice: " << name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream in(line.substr(7));
      std::string name, type;
      in >> name >> type;
      EXPECT_TRUE(types.emplace(name, type).second) << "TYPE twice: " << name;
      EXPECT_TRUE(helps.count(name)) << "TYPE before HELP: " << name;
      EXPECT_EQ(name.rfind("switchyard_shadow_", 0), 0u) << name;
      if (type == "counter") {
        EXPECT_TRUE(name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0)
            << "counter without _total: " << name;
      } else {
        EXPECT_TRUE(name.find("_total") == std::string::npos) << type << " named _total: " << name;
      }
      continue;
    }
    ++samples;
    const std::string family = family_of(line, types);
    EXPECT_TRUE(types.count(family)) << "sample before its family: " << line;
  }
  EXPECT_GT(samples, 100u);
  // Two versions: one model/version label set per version on a per-version family.
  EXPECT_TRUE(has_line(text, "switchyard_shadow_sampled_total{model=\"fraud-detection\","
                             "version=\"2\"} 5010"));
  EXPECT_TRUE(has_line(text, "switchyard_shadow_sampled_total{model=\"eta\",version=\"7\"} 400"));
  // The regressor has MAEs, the classifier accuracies.
  EXPECT_TRUE(has_line(text, "switchyard_shadow_labeled_mean_absolute_error{model=\"eta\","
                             "version=\"7\",side=\"shadow\"} 1.5"));
  EXPECT_TRUE(has_line(text, "switchyard_shadow_labeled_accuracy{model=\"fraud-detection\","
                             "version=\"2\",side=\"shadow\"} 0.925"));
}

TEST(ShadowReportTest, prometheus_omits_a_divergence_not_computed_and_escapes_label_values) {
  ShadowReport r = small_report();
  r.versions[0].distribution.divergence = stats::DriftResult{};  // not_enough_data
  // Names are validated before they reach a report; the exposition escapes regardless.
  r.versions[0].model = "a\"b\\c";
  const std::string text = r.to_prometheus();
  EXPECT_TRUE(has_line(text, "# TYPE switchyard_shadow_prediction_divergence gauge")) << text;
  EXPECT_EQ(text.find("switchyard_shadow_prediction_divergence{"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "switchyard_shadow_sampled_total{model=\"a\\\"b\\\\c\","
                             "version=\"12\"} 10"))
      << text;
}

TEST(ShadowReportTest, promtool_accepts_the_exposition) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    // CI installs promtool (scripts/install-deps.sh --with-tools): there a missing one is a broken
    // install step, not a reason to skip.
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true") FAIL() << "promtool not found with CI=true";
    GTEST_SKIP() << "promtool not installed (scripts/install-deps.sh --with-tools installs it)";
  }
  for (const ShadowReport& r : {two_version_report(), small_report(), ShadowReport{}}) {
    const std::string path = ::testing::TempDir() + "/switchyard_shadow_metrics.prom";
    {
      std::ofstream f(path);
      f << r.to_prometheus();
    }
    const std::string cmd = "promtool check metrics < " + path + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char buf[256];
    while (fgets(buf, sizeof buf, p)) output += buf;
    const int rc = pclose(p);
    EXPECT_EQ(rc, 0) << output;
    EXPECT_EQ(output, "") << "promtool reported lint problems";
  }
}

// ---------------------------------------------------------------------------------------------
// Criteria

/// The one failure of `verdict`, which must name `criterion` first and contain each of `parts`.
void expect_single_failure(const ShadowVerdict& verdict, const std::string& criterion,
                           const std::vector<std::string>& parts) {
  EXPECT_FALSE(verdict.passed);
  ASSERT_EQ(verdict.failures.size(), 1u) << ::testing::PrintToString(verdict.failures);
  const std::string& f = verdict.failures[0];
  EXPECT_EQ(f.rfind(criterion + ": ", 0), 0u) << f;
  for (const std::string& part : parts) EXPECT_NE(f.find(part), std::string::npos) << f;
  EXPECT_NE(verdict.summary.find("failed (" + criterion + ")"), std::string::npos)
      << verdict.summary;
}

TEST(ShadowCriteriaTest, a_good_shadow_passes_the_defaults_and_strict_criteria) {
  const ShadowVersionReport v = good_classifier();
  ShadowVerdict verdict = evaluate(v, ShadowCriteria{});
  EXPECT_TRUE(verdict.passed) << ::testing::PrintToString(verdict.failures);
  EXPECT_TRUE(verdict.failures.empty());
  EXPECT_EQ(verdict.summary.rfind("fraud-detection v2 passed: 5000 compared rows", 0), 0u)
      << verdict.summary;
  EXPECT_EQ(verdict.summary.find('\n'), std::string::npos);

  ShadowCriteria strict;
  strict.min_compared_rows = 5000;
  strict.min_agreement = 0.99;
  strict.max_shadow_error_rate = 0.0;
  strict.max_latency_p99_ratio = 1.0;
  strict.min_labeled_rows = 1200;
  strict.max_divergence = 0.01;
  verdict = evaluate(v, strict);
  EXPECT_TRUE(verdict.passed) << ::testing::PrintToString(verdict.failures);
  EXPECT_NE(verdict.summary.find("1200 labeled rows"), std::string::npos) << verdict.summary;
  EXPECT_NE(verdict.summary.find("jensenshannon 0.01"), std::string::npos) << verdict.summary;
}

TEST(ShadowCriteriaTest, too_few_compared_rows_fail) {
  ShadowVersionReport v = good_classifier();
  v.compared_rows = 812;
  expect_single_failure(evaluate(v, ShadowCriteria{}), "min_compared_rows",
                        {"compared_rows 812", "< 1000"});
}

TEST(ShadowCriteriaTest, low_agreement_fails_only_when_checked) {
  ShadowVersionReport v = good_classifier();
  v.agreement_rate = 0.97;
  EXPECT_TRUE(evaluate(v, ShadowCriteria{}).passed);  // min_agreement 0: not checked
  ShadowCriteria c;
  c.min_agreement = 0.98;
  expect_single_failure(evaluate(v, c), "min_agreement", {"agreement_rate 0.97", "< 0.98"});
}

TEST(ShadowCriteriaTest, shadow_errors_above_the_rate_fail) {
  ShadowVersionReport v = good_classifier();
  v.shadow_errors = 100;
  v.shadow_error_rate = 0.02;
  expect_single_failure(evaluate(v, ShadowCriteria{}), "max_shadow_error_rate",
                        {"shadow_error_rate 0.02", "> 0.01"});
}

TEST(ShadowCriteriaTest, a_slow_shadow_fails_the_latency_ratio) {
  ShadowVersionReport v = good_classifier();
  v.shadow_latency = latencies(4000, 100);  // 2x the primary's 2 us
  expect_single_failure(evaluate(v, ShadowCriteria{}), "max_latency_p99_ratio",
                        {"shadow p99 / primary p99 2 ", "> 1.5"});
  ShadowCriteria off;
  off.max_latency_p99_ratio = 0.0;
  EXPECT_TRUE(evaluate(v, off).passed);
}

TEST(ShadowCriteriaTest, unmeasured_latency_fails_the_latency_ratio) {
  ShadowVersionReport v = good_classifier();
  v.primary_latency = LatencyHistogram{};
  expect_single_failure(evaluate(v, ShadowCriteria{}), "max_latency_p99_ratio",
                        {"not measured", "primary latencies 0", "bound 1.5"});
}

TEST(ShadowCriteriaTest, too_few_labeled_rows_fail) {
  ShadowVersionReport v = good_classifier();
  ShadowCriteria c;
  c.min_labeled_rows = 2000;
  expect_single_failure(evaluate(v, c), "min_labeled_rows", {"labeled rows 1200", "< 2000"});
  v.labeled = LabeledComparison{};
  expect_single_failure(evaluate(v, c), "min_labeled_rows", {"labeled rows 0", "< 2000"});
}

TEST(ShadowCriteriaTest, a_significantly_less_accurate_classifier_fails_mcnemar) {
  ShadowVersionReport v = good_classifier();
  // The shadow is right on 10 rows the primary gets wrong and wrong on 40 the primary gets right.
  v.labeled.mcnemar = stats::mcnemar_test({.a_right_b_wrong = 10, .a_wrong_b_right = 40},
                                          stats::McNemarMethod::kExact, 1200);
  ASSERT_LT(v.labeled.mcnemar.p_value_less, 0.05);
  char p[32];
  std::snprintf(p, sizeof p, "%.6g", v.labeled.mcnemar.p_value_less);
  expect_single_failure(evaluate(v, ShadowCriteria{}), "require_not_worse",
                        {"mcnemar p_value_less " + std::string(p), "< alpha 0.05"});
  ShadowCriteria lenient;
  lenient.alpha = v.labeled.mcnemar.p_value_less / 2;  // not significant at this level
  EXPECT_TRUE(evaluate(v, lenient).passed);
  ShadowCriteria off;
  off.require_not_worse = false;
  EXPECT_TRUE(evaluate(v, off).passed);
}

TEST(ShadowCriteriaTest, a_more_accurate_classifier_passes_mcnemar) {
  ShadowVersionReport v = good_classifier();
  v.labeled.mcnemar = stats::mcnemar_test({.a_right_b_wrong = 40, .a_wrong_b_right = 10},
                                          stats::McNemarMethod::kExact, 1200);
  ASSERT_LT(v.labeled.mcnemar.p_value_greater, 0.05);  // significantly *better*
  EXPECT_TRUE(evaluate(v, ShadowCriteria{}).passed);
}

/// Makes `t` a computed test whose one-sided p-values are the given ones (PairedTTestResult and
/// WilcoxonResult alike).
template <class Result>
void set_test(Result& t, double p_value_greater, double p_value_less) {
  t = Result{};
  t.status = stats::StatStatus::kOk;
  t.p_value_greater = p_value_greater;
  t.p_value_less = p_value_less;
}

TEST(ShadowCriteriaTest, larger_regression_errors_fail_either_paired_test) {
  ShadowVersionReport v = good_classifier();
  v.labeled.mcnemar = stats::McNemarResult{};  // a regressor: no McNemar
  v.labeled.primary_mae = 1.25;
  v.labeled.shadow_mae = 1.5;

  set_test(v.labeled.paired_t, 0.004, 0.996);  // the shadow's absolute errors are larger
  expect_single_failure(evaluate(v, ShadowCriteria{}), "require_not_worse",
                        {"paired_t p_value_greater 0.004", "< alpha 0.05", "shadow mae 1.5"});
  v.labeled.paired_t = {};
  set_test(v.labeled.wilcoxon, 0.004, 0.996);
  expect_single_failure(evaluate(v, ShadowCriteria{}), "require_not_worse",
                        {"wilcoxon p_value_greater 0.004", "< alpha 0.05"});
  // Both: two failures, one criterion in the summary.
  set_test(v.labeled.paired_t, 0.004, 0.996);
  const ShadowVerdict both = evaluate(v, ShadowCriteria{});
  EXPECT_EQ(both.failures.size(), 2u);
  EXPECT_NE(both.summary.find("failed (require_not_worse)"), std::string::npos) << both.summary;
  // Smaller errors (p_value_less small) pass.
  set_test(v.labeled.paired_t, 0.996, 0.004);
  set_test(v.labeled.wilcoxon, 0.996, 0.004);
  EXPECT_TRUE(evaluate(v, ShadowCriteria{}).passed);
}

TEST(ShadowCriteriaTest, without_labels_not_worse_is_not_checked) {
  ShadowVersionReport v = good_classifier();
  v.labeled = LabeledComparison{};
  v.labeled.mcnemar = stats::mcnemar_test({.a_right_b_wrong = 0, .a_wrong_b_right = 40});
  EXPECT_TRUE(evaluate(v, ShadowCriteria{}).passed);
}

TEST(ShadowCriteriaTest, divergence_above_the_bound_or_unmeasured_fails) {
  ShadowVersionReport v = good_classifier();
  v.distribution.divergence.value = 0.31;
  EXPECT_TRUE(evaluate(v, ShadowCriteria{}).passed);  // max_divergence 0: not checked
  ShadowCriteria c;
  c.max_divergence = 0.2;
  expect_single_failure(evaluate(v, c), "max_divergence", {"jensenshannon 0.31", "> 0.2"});
  v.distribution.divergence = stats::DriftResult{};
  v.distribution.divergence.reason = "current_proportions is empty or all zero";
  expect_single_failure(evaluate(v, c), "max_divergence",
                        {"not measured (not_enough_data: current_proportions is empty",
                         "bound 0.2"});
}

TEST(ShadowCriteriaTest, several_failures_are_all_listed) {
  ShadowVersionReport v = good_classifier();
  v.compared_rows = 10;
  v.shadow_error_rate = 0.5;
  v.primary_latency = LatencyHistogram{};
  const ShadowVerdict verdict = evaluate(v, ShadowCriteria{});
  ASSERT_EQ(verdict.failures.size(), 3u);
  EXPECT_NE(verdict.summary.find(
                "failed (min_compared_rows, max_shadow_error_rate, max_latency_p99_ratio)"),
            std::string::npos)
      << verdict.summary;
}

TEST(ShadowCriteriaTest, invalid_criteria_are_rejected_naming_the_field) {
  struct Case {
    const char* field;
    void (*set)(ShadowCriteria&);
  };
  const Case cases[] = {
      {"min_agreement", [](ShadowCriteria& c) { c.min_agreement = -0.1; }},
      {"min_agreement", [](ShadowCriteria& c) { c.min_agreement = 1.5; }},
      {"min_agreement", [](ShadowCriteria& c) { c.min_agreement = kNaN; }},
      {"max_shadow_error_rate", [](ShadowCriteria& c) { c.max_shadow_error_rate = -0.01; }},
      {"max_shadow_error_rate", [](ShadowCriteria& c) { c.max_shadow_error_rate = 2.0; }},
      {"max_shadow_error_rate", [](ShadowCriteria& c) { c.max_shadow_error_rate = kNaN; }},
      {"max_latency_p99_ratio", [](ShadowCriteria& c) { c.max_latency_p99_ratio = -1.0; }},
      {"max_latency_p99_ratio", [](ShadowCriteria& c) { c.max_latency_p99_ratio = kNaN; }},
      {"max_latency_p99_ratio", [](ShadowCriteria& c) { c.max_latency_p99_ratio = kInf; }},
      {"max_divergence", [](ShadowCriteria& c) { c.max_divergence = -0.5; }},
      {"max_divergence", [](ShadowCriteria& c) { c.max_divergence = kNaN; }},
      {"alpha", [](ShadowCriteria& c) { c.alpha = 0.0; }},
      {"alpha", [](ShadowCriteria& c) { c.alpha = 1.0; }},
      {"alpha", [](ShadowCriteria& c) { c.alpha = -0.05; }},
      {"alpha", [](ShadowCriteria& c) { c.alpha = kNaN; }},
  };
  const ShadowVersionReport v = good_classifier();
  for (const Case& k : cases) {
    ShadowCriteria c;
    k.set(c);
    try {
      (void)evaluate(v, c);
      ADD_FAILURE() << k.field << ": accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(std::string("ShadowCriteria.") + k.field + " "),
                std::string::npos)
          << e.what();
    }
    EXPECT_THROW(c.validate(), InvalidArgument) << k.field;
  }
  EXPECT_NO_THROW(ShadowCriteria{}.validate());
}

TEST(ShadowCriteriaTest, verdict_and_criteria_render_as_json) {
  ShadowVersionReport v = good_classifier();
  v.compared_rows = 1;
  v.model = "quote\"d";  // a summary is JSON-quoted whatever it holds
  ShadowCriteria c;
  c.min_labeled_rows = 7000;
  for (const std::string& text : {to_json(evaluate(v, c)), to_json(c)}) {
    testing::json::Document doc;
    doc.Parse(text.c_str());
    ASSERT_FALSE(doc.HasParseError()) << text;
  }
  testing::json::Document verdict;
  verdict.Parse(to_json(evaluate(v, c)).c_str());
  EXPECT_FALSE(verdict["passed"].GetBool());
  EXPECT_EQ(verdict["failures"].Size(), 2u);
  testing::json::Document criteria;
  criteria.Parse(to_json(c).c_str());
  EXPECT_EQ(criteria["min_labeled_rows"].GetUint64(), 7000u);
  EXPECT_TRUE(criteria["require_not_worse"].GetBool());
  EXPECT_DOUBLE_EQ(criteria["alpha"].GetDouble(), 0.05);
}


// ---------------------------------------------------------------------------------------------
// Promotion evidence

TEST(ShadowEvidenceTest, evidence_carries_the_verdict_and_the_version_report) {
  const ShadowReport r = two_version_report();
  const PromotionEvidence passed = to_evidence(r, r.versions[0], ShadowCriteria{});
  EXPECT_EQ(passed.kind, "shadow");
  EXPECT_TRUE(passed.passed);
  EXPECT_EQ(passed.summary, evaluate(r.versions[0], ShadowCriteria{}).summary);
  testing::json::Document doc;
  doc.Parse(passed.detail_json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << passed.detail_json;
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["generated_at_ns"].GetInt64(), 1700000000123456789);
  EXPECT_EQ(doc["labels_received"].GetUint64(), 1400u);
  EXPECT_STREQ(doc["version"]["model"].GetString(), "fraud-detection");
  EXPECT_EQ(doc["version"]["version"].GetInt64(), 2);
  EXPECT_EQ(doc["version"]["labeled"]["rows"].GetUint64(), 1200u);
  EXPECT_EQ(doc["criteria"]["min_compared_rows"].GetUint64(), 1000u);
  EXPECT_TRUE(doc["verdict"]["passed"].GetBool());
  EXPECT_FALSE(doc.HasMember("versions"));  // one version, not the whole report

  const PromotionEvidence failed = to_evidence(r, r.versions[1], ShadowCriteria{});
  EXPECT_FALSE(failed.passed);
  EXPECT_EQ(failed.summary.find('\n'), std::string::npos);
  testing::json::Document f;
  f.Parse(failed.detail_json.c_str());
  ASSERT_FALSE(f.HasParseError());
  EXPECT_EQ(f["verdict"]["failures"].Size(), 3u);
  EXPECT_EQ(f["version"]["disagreements"].Size(), 1u);

  ShadowCriteria invalid;
  invalid.alpha = 2;
  EXPECT_THROW((void)to_evidence(r, r.versions[0], invalid), InvalidArgument);
}

TEST(ShadowEvidenceTest, evidence_stays_within_the_registry_limits) {
  ShadowReport r = two_version_report();
  ShadowVersionReport& v = r.versions[0];
  v.disagreements.assign(40, ShadowDisagreement{std::string(40000, 'k'), "req", 0, 1.0, 0.0});
  const PromotionEvidence e = to_evidence(r, v, ShadowCriteria{});
  EXPECT_LE(e.detail_json.size(), kMaxEvidenceDetailBytes);
  EXPECT_LE(e.summary.size(), kMaxEvidenceSummaryBytes);
  testing::json::Document doc;
  doc.Parse(e.detail_json.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_EQ(doc["version"]["disagreements"].Size(), 0u);
  EXPECT_EQ(doc["version"]["disagreements_omitted"].GetUint64(), 40u);
}

}  // namespace
}  // namespace switchyard
