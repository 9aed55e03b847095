// SPDX-License-Identifier: Apache-2.0
// Shadow deployment YAML: seed 003's file loads as written, several shadows, durations, and
// every malformed form refused with InvalidArgument naming the field and line.
#include <switchyard/shadow/shadow_config.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {
namespace {

using namespace std::chrono_literals;

// Seed 003's shadow deployment configuration, exactly as the seed writes it.
constexpr std::string_view kSeedYaml = R"(# Shadow deployment configuration
deployment:
  name: churn-predictor
  primary:
    model: churn-predictor
    version: 5
    traffic: 100%    # serves all responses
  shadow:
    model: churn-predictor
    version: 6
    traffic: 100%    # receives all requests, responses logged but not served
  comparison:
    metrics: [accuracy, latency_p99, prediction_distribution]
    duration: 7d
    auto_promote: false
)";

/// The seed's YAML with the first occurrence of `from` replaced by `to`.
std::string seed_with(std::string_view from, std::string_view to) {
  std::string text(kSeedYaml);
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

/// The seed's YAML with the shadow's traffic written as `value` (its comment kept).
std::string shadow_traffic(std::string_view value) {
  return seed_with("traffic: 100%    # receives", "traffic: " + std::string(value) + " # receives");
}

/// The message of the InvalidArgument that parsing `yaml` throws; a failure for any other outcome.
std::string error_of(std::string_view yaml) {
  try {
    parse_shadow_config(yaml);
  } catch (const InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw something other than InvalidArgument: " << e.what();
    return {};
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return {};
}

#define EXPECT_ERROR(yaml, text)                                                      \
  do {                                                                                \
    const std::string message_ = error_of(yaml);                                      \
    EXPECT_NE(message_.find(text), std::string::npos) << "message was: " << message_; \
  } while (false)

TEST(ShadowConfigTest, seed_003_yaml_loads_as_written_with_every_field) {
  const ShadowDeploymentConfig c = parse_shadow_config(kSeedYaml);
  EXPECT_EQ(c.name, "churn-predictor");
  EXPECT_EQ(c.primary.model, "churn-predictor");
  EXPECT_EQ(c.primary.version, 5);
  EXPECT_EQ(c.primary.traffic, 1.0);
  ASSERT_EQ(c.shadows.size(), 1u);
  EXPECT_EQ(c.shadows[0].model, "churn-predictor");
  EXPECT_EQ(c.shadows[0].version, 6);
  EXPECT_EQ(c.shadows[0].share, 1.0);
  EXPECT_EQ(c.shadows[0].sampling, ShadowSampling::kSticky);
  EXPECT_FALSE(c.shadows[0].duration.has_value()) << "the shadow sets no duration of its own";
  EXPECT_EQ(c.shadows[0].salt, "");
  EXPECT_EQ(c.comparison.metrics,
            (std::vector<ShadowMetric>{ShadowMetric::kAccuracy, ShadowMetric::kLatencyP99,
                                       ShadowMetric::kPredictionDistribution}));
  ASSERT_TRUE(c.comparison.duration.has_value());
  EXPECT_EQ(*c.comparison.duration, std::chrono::hours(24 * 7));
  EXPECT_FALSE(c.comparison.auto_promote);
  EXPECT_FALSE(c.criteria) << "no criteria section";

  // What a ShadowPredictor is given: the comparison's 7 days become the shadow's duration.
  const std::vector<ShadowVersionOptions> options = c.shadow_versions();
  ASSERT_EQ(options.size(), 1u);
  EXPECT_EQ(options[0].model, "churn-predictor");
  EXPECT_EQ(options[0].version, 6);
  EXPECT_EQ(options[0].share, 1.0);
  EXPECT_EQ(options[0].duration, std::optional<Duration>(std::chrono::hours(168)));
}

TEST(ShadowConfigTest, metric_names_round_trip) {
  for (const char* name :
       {"accuracy", "latency_p99", "prediction_distribution", "agreement", "error_rate"}) {
    const auto c = parse_shadow_config(seed_with("[accuracy, latency_p99, prediction_distribution]",
                                                 std::string("[") + name + "]"));
    ASSERT_EQ(c.comparison.metrics.size(), 1u);
    EXPECT_STREQ(to_string(c.comparison.metrics[0]), name);
  }
}

TEST(ShadowConfigTest, a_sequence_of_shadows_loads_each_with_its_own_options) {
  const auto c = parse_shadow_config(R"(
deployment:
  name: churn-predictor
  primary: {model: churn-predictor, version: 5}
  shadow:
    - model: churn-predictor
      version: 6
      traffic: 25%
    - model: churn-predictor
      version: 7
      traffic: 0.5
      sampling: random
      duration: 12h
    - model: churn-predictor-xgb
      version: 1
      sampling: sticky
      salt: xgb-trial
  comparison:
    metrics: [agreement, error_rate]
    duration: 3d
    auto_promote: true
)");
  EXPECT_EQ(c.primary.traffic, 1.0) << "traffic defaults to 100%";
  ASSERT_EQ(c.shadows.size(), 3u);
  EXPECT_EQ(c.shadows[0].version, 6);
  EXPECT_EQ(c.shadows[0].share, 0.25);
  EXPECT_EQ(c.shadows[1].version, 7);
  EXPECT_EQ(c.shadows[1].share, 0.5);
  EXPECT_EQ(c.shadows[1].sampling, ShadowSampling::kRandom);
  EXPECT_EQ(c.shadows[2].model, "churn-predictor-xgb");
  EXPECT_EQ(c.shadows[2].share, 1.0) << "share defaults to 100%";
  EXPECT_EQ(c.shadows[2].salt, "xgb-trial");
  EXPECT_TRUE(c.comparison.auto_promote);

  const auto options = c.shadow_versions();
  ASSERT_EQ(options.size(), 3u);
  EXPECT_EQ(options[0].duration, std::optional<Duration>(72h)) << "the comparison's duration";
  EXPECT_EQ(options[1].duration, std::optional<Duration>(12h)) << "its own duration wins";
  EXPECT_EQ(options[2].duration, std::optional<Duration>(72h));
}

TEST(ShadowConfigTest, without_a_comparison_duration_shadows_run_until_removed) {
  const auto c = parse_shadow_config(R"(
deployment:
  name: x
  primary: {model: m, version: 1}
  shadow: {model: m, version: 2}
)");
  EXPECT_TRUE(c.comparison.metrics.empty());
  EXPECT_FALSE(c.comparison.duration);
  EXPECT_FALSE(c.comparison.auto_promote);
  ASSERT_EQ(c.shadow_versions().size(), 1u);
  EXPECT_FALSE(c.shadow_versions()[0].duration);
}

TEST(ShadowConfigTest, every_duration_unit_is_read) {
  const std::pair<const char*, Duration> cases[] = {
      {"500ms", 500ms}, {"45s", 45s}, {"30m", 30min},
      {"12h", 12h},     {"7d", 168h}, {"3650d", std::chrono::hours(24 * 3650)}};
  for (const auto& [text, want] : cases) {
    const auto c = parse_shadow_config(seed_with("duration: 7d", std::string("duration: ") + text));
    EXPECT_EQ(c.comparison.duration, std::optional<Duration>(want)) << text;
  }
}

TEST(ShadowConfigTest, traffic_reads_percentages_and_fractions) {
  const std::pair<const char*, double> cases[] = {{"100%", 1.0},    {"25%", 0.25},  {"0%", 0.0},
                                                  {"12.5%", 0.125}, {"0.25", 0.25}, {"1", 1.0},
                                                  {"0", 0.0},       {"-0%", 0.0}};
  for (const auto& [text, want] : cases) {
    const auto c = parse_shadow_config(shadow_traffic(text));
    EXPECT_EQ(c.shadows[0].share, want) << text;
    EXPECT_FALSE(std::signbit(c.shadows[0].share)) << text;
  }
}

TEST(ShadowConfigTest, unknown_keys_are_refused_at_every_level) {
  EXPECT_ERROR("deployment:\n  name: x\nrollout: {}\n", "rollout: unknown key");
  EXPECT_ERROR(seed_with("  name: churn-predictor\n", "  name: churn-predictor\n  owner: ml\n"),
               "deployment.owner: unknown key; expected one of name, primary, shadow, comparison, "
               "criteria (line 4, column 3)");
  EXPECT_ERROR(seed_with("    traffic: 100%    # serves", "    weight: 100%    # serves"),
               "deployment.primary.weight: unknown key; expected one of model, version, traffic "
               "(line 7, column 5)");
  EXPECT_ERROR(seed_with("    version: 6\n", "    version: 6\n    mirror: yes\n"),
               "deployment.shadow.mirror: unknown key");
  EXPECT_ERROR(seed_with("    auto_promote: false\n", "    auto_promote: false\n    alpha: 0.05\n"),
               "deployment.comparison.alpha: unknown key; expected one of metrics, duration, "
               "auto_promote (line 16, column 5)");
  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: {min_agreement: 99%, max_p50: 2}\n",
               "deployment.criteria.max_p50: unknown key");
  EXPECT_ERROR(seed_with("  name: churn-predictor\n", "  name: churn-predictor\n  name: again\n"),
               "deployment.name: key appears twice");
}

TEST(ShadowConfigTest, traffic_outside_0_to_100_percent_or_not_a_number_is_refused) {
  EXPECT_EQ(
      error_of(shadow_traffic("120%")),
      "deployment.shadow.traffic: must be between 0% and 100%, got 120% (line 11, column 14)");
  EXPECT_ERROR(shadow_traffic("-5%"),
               "deployment.shadow.traffic: must be between 0% and 100%, got -5%");
  EXPECT_ERROR(shadow_traffic("abc"),
               "deployment.shadow.traffic: must be a percentage such as 25% or a fraction such as "
               "0.25, got 'abc'");
  EXPECT_ERROR(shadow_traffic("1.5"),
               "deployment.shadow.traffic: must be between 0 and 1 (or 0% and 100%), got 1.5");
  EXPECT_ERROR(shadow_traffic("100"), "must be between 0 and 1 (or 0% and 100%), got 100");
  for (const char* bad : {"nan%", ".nan", "inf%", "'%'", "1e999%", "[1]", "0x10%", " 5 %"}) {
    EXPECT_ERROR(shadow_traffic(bad), "deployment.shadow.traffic: must be");
  }
  EXPECT_ERROR(seed_with("traffic: 100%    # serves", "traffic: 101%    # serves"),
               "deployment.primary.traffic: must be between 0% and 100%, got 101%");
}

TEST(ShadowConfigTest, a_missing_model_version_or_section_is_named) {
  EXPECT_ERROR(seed_with("    version: 6\n", ""), "deployment.shadow.version: missing (line 9");
  EXPECT_ERROR(seed_with("    version: 5\n", ""), "deployment.primary.version: missing");
  EXPECT_ERROR(seed_with("    model: churn-predictor\n    version: 6", "    version: 6"),
               "deployment.shadow.model: missing");
  EXPECT_ERROR(seed_with("    version: 6", "    version:"), "deployment.shadow.version: missing");
  EXPECT_ERROR(seed_with("  name: churn-predictor\n", ""), "deployment.name: missing");
  EXPECT_ERROR(seed_with("  name: churn-predictor\n", "  name: ''\n"),
               "deployment.name: must not be empty");
  EXPECT_ERROR("deployment:\n  name: x\n  primary: {model: m, version: 1}\n",
               "deployment.shadow: missing");
  EXPECT_ERROR("deployment:\n  name: x\n  shadow: {model: m, version: 1}\n",
               "deployment.primary: missing");
  EXPECT_ERROR("other: 1\n", "(document).other: unknown key; expected one of deployment");
}

TEST(ShadowConfigTest, a_version_must_be_a_positive_integer) {
  EXPECT_EQ(error_of(seed_with("version: 6", "version: 0")),
            "deployment.shadow.version: must be a positive integer, got '0' (line 10, column 14)");
  for (const char* bad : {"x", "-3", "1.5", "+6", "6 6", "99999999999999999999", "0x6", "''"}) {
    EXPECT_ERROR(seed_with("version: 6", std::string("version: ") + bad),
                 "deployment.shadow.version: must be a positive integer, got");
  }
  EXPECT_ERROR(seed_with("version: 5", "version: [5]"),
               "deployment.primary.version: must be a single value, got a sequence");
}

TEST(ShadowConfigTest, negative_malformed_zero_or_huge_durations_are_refused) {
  EXPECT_EQ(error_of(seed_with("duration: 7d", "duration: -1d")),
            "deployment.comparison.duration: must not be negative, got '-1d' (line 14, column 15)");
  EXPECT_ERROR(seed_with("duration: 7d", "duration: 7x"),
               "deployment.comparison.duration: must be a whole number with a unit ms, s, m, h or "
               "d (such as 7d, 12h, 500ms), got '7x'");
  EXPECT_ERROR(seed_with("duration: 7d", "duration: ''"),
               "deployment.comparison.duration: must be a whole number with a unit");
  // A key written without a value counts as absent: no duration.
  EXPECT_FALSE(parse_shadow_config(seed_with("duration: 7d", "duration:")).comparison.duration);
  for (const char* bad : {"7", "d", "1.5h", "7 d", "7D", "1h30m", "--1d", "-d"}) {
    EXPECT_ERROR(seed_with("duration: 7d", std::string("duration: ") + bad),
                 "deployment.comparison.duration: must be a whole number with a unit");
  }
  EXPECT_ERROR(seed_with("duration: 7d", "duration: 0s"),
               "deployment.comparison.duration: must be positive, got '0s'");
  EXPECT_ERROR(seed_with("duration: 7d", "duration: 3651d"),
               "deployment.comparison.duration: must be at most 3650d, got '3651d'");
  EXPECT_ERROR(seed_with("duration: 7d", "duration: 99999999999999999999999ms"),
               "must be at most 3650d");
  EXPECT_ERROR(seed_with("    version: 6\n", "    version: 6\n    duration: -30m\n"),
               "deployment.shadow.duration: must not be negative, got '-30m'");
}

TEST(ShadowConfigTest, metrics_must_be_known_and_listed_once) {
  EXPECT_EQ(error_of(seed_with("latency_p99,", "latency_p95,")),
            "deployment.comparison.metrics[1]: unknown metric 'latency_p95'; expected accuracy, "
            "latency_p99, prediction_distribution, agreement or error_rate (line 13, column 25)");
  EXPECT_ERROR(seed_with("latency_p99,", "accuracy,"),
               "deployment.comparison.metrics[1]: metric 'accuracy' is listed twice");
  EXPECT_ERROR(seed_with("[accuracy, latency_p99, prediction_distribution]", "accuracy"),
               "deployment.comparison.metrics: must be a sequence");
  EXPECT_ERROR(seed_with("latency_p99,", "{a: 1},"),
               "deployment.comparison.metrics[1]: must be a single value, got a map");
}

TEST(ShadowConfigTest, other_fields_are_checked_by_name) {
  EXPECT_ERROR(seed_with("auto_promote: false", "auto_promote: maybe"),
               "deployment.comparison.auto_promote: must be true or false, got 'maybe'");
  EXPECT_ERROR(seed_with("    version: 6\n", "    version: 6\n    sampling: hashed\n"),
               "deployment.shadow.sampling: must be sticky or random, got 'hashed'");
  EXPECT_ERROR(seed_with("  primary:\n    model: churn-predictor\n    version: 5\n    traffic: "
                         "100%    # serves all responses\n",
                         "  primary: churn-predictor@5\n"),
               "deployment.primary: must be a map, got a single value (line 4, column 12)");
  EXPECT_ERROR("deployment: 5\n", "deployment: must be a map, got a single value");
  EXPECT_ERROR("- deployment\n", "(document): must be a map, got a sequence");
  EXPECT_ERROR(
      "deployment:\n  name: x\n  primary: {model: m, version: 1}\n"
      "  shadow: {model: m, version: 2}\n  comparison: []\n",
      "deployment.comparison: must be a map, got a sequence");
  EXPECT_ERROR("deployment:\n  name: x\n  primary: {model: m, version: 1}\n  shadow: m\n",
               "deployment.shadow: must be a map or a sequence of maps, got a single value");
  EXPECT_ERROR("deployment:\n  name: x\n  primary: {model: m, version: 1}\n  shadow: []\n",
               "deployment.shadow: must list at least one shadow version");
  EXPECT_ERROR("deployment:\n  name: x\n  primary: {model: m, version: 1}\n  shadow: [1]\n",
               "deployment.shadow[0]: must be a map, got a single value");
  EXPECT_ERROR(
      "deployment:\n  name: x\n  primary: {model: m, version: 1}\n"
      "  shadow: [{model: m, version: 2}, {model: m, version: 2}]\n",
      "deployment.shadow[1]: 'm' version 2 is listed twice");
  EXPECT_ERROR("{[a]: 1}\n", "(document): keys must be plain names, got a sequence");
}

TEST(ShadowConfigTest, more_shadows_than_a_predictor_carries_are_refused) {
  std::string yaml = "deployment:\n  name: x\n  primary: {model: m, version: 1}\n  shadow:\n";
  for (int v = 2; v <= 10; ++v) yaml += "    - {model: m, version: " + std::to_string(v) + "}\n";
  EXPECT_ERROR(yaml, "deployment.shadow: at most 8 shadow versions, got 9");
}

TEST(ShadowConfigTest, malformed_empty_or_several_documents_are_invalid_arguments) {
  EXPECT_ERROR("deployment:\n  name: [x\n", "shadow deployment: malformed YAML: ");
  EXPECT_ERROR("deployment: {name: x\n", "(line ");
  EXPECT_ERROR("deployment:\n\tname: x\n", "malformed YAML");
  EXPECT_ERROR("", "the document is empty");
  EXPECT_ERROR("# only a comment\n", "the document is empty");
  EXPECT_ERROR("~\n", "the document is empty");
  EXPECT_ERROR(std::string(kSeedYaml) + "---\n" + std::string(kSeedYaml), "holds more than one YAML document");
  // yaml-cpp 0.7's LoadAll never returns on these (jbeder/yaml-cpp#1040); found by the fuzz target.
  EXPECT_ERROR(",", "the document is empty");
  EXPECT_ERROR(",,\n", "the document is empty");
  // An empty document after the first is no second document.
  EXPECT_EQ(parse_shadow_config(std::string(kSeedYaml) + "---\n").name, "churn-predictor");
}

TEST(ShadowConfigTest, hostile_yaml_is_refused_without_a_crash_or_a_foreign_exception) {
  const std::string deep_sequence(100000, '['), deep_map = [] {
    std::string s;
    for (int i = 0; i < 20000; ++i) s += "{a: ";
    return s;
  }();
  const std::string inputs[] = {deep_sequence,
                                deep_map,
                                "&a [*a]\n",
                                "deployment: &d {shadow: *d}\n",
                                "deployment: *undefined\n",
                                std::string("deployment:\0\n", 13),
                                "\xff\xfe\x00d",
                                "!!binary deployment\n",
                                "? |\n  a\n: b\n",
                                "deployment: !<tag:yaml.org,2002:map> {}\n",
                                "%YAML 9.9\n---\na: 1\n"};
  for (const std::string& yaml : inputs) {
    try {
      parse_shadow_config(yaml);
      ADD_FAILURE() << "accepted: " << yaml.substr(0, 40);
    } catch (const InvalidArgument&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw something other than InvalidArgument: " << e.what();
    }
  }
}

TEST(ShadowConfigTest, criteria_are_read_onto_shadow_criteria_and_validated) {
  const auto c = parse_shadow_config(std::string(kSeedYaml) +
                                     "  criteria:\n"
                                     "    min_compared_rows: 10000\n"
                                     "    min_agreement: 99%\n"
                                     "    max_shadow_error_rate: 0.005\n"
                                     "    max_latency_p99_ratio: 1.2\n"
                                     "    min_labeled_rows: 0\n"
                                     "    require_not_worse: false\n"
                                     "    alpha: 0.01\n"
                                     "    max_divergence: 0.1\n");
  ASSERT_TRUE(c.criteria);
  EXPECT_EQ(c.criteria->min_compared_rows, 10000u);
  EXPECT_EQ(c.criteria->min_agreement, 0.99);
  EXPECT_EQ(c.criteria->max_shadow_error_rate, 0.005);
  EXPECT_EQ(c.criteria->max_latency_p99_ratio, 1.2);
  EXPECT_EQ(c.criteria->min_labeled_rows, 0u);
  EXPECT_FALSE(c.criteria->require_not_worse);
  EXPECT_EQ(c.criteria->alpha, 0.01);
  EXPECT_EQ(c.criteria->max_divergence, 0.1);

  // Unset keys keep ShadowCriteria's defaults.
  const auto partial =
      parse_shadow_config(std::string(kSeedYaml) + "  criteria: {min_agreement: 0.95}\n");
  ASSERT_TRUE(partial.criteria);
  EXPECT_EQ(partial.criteria->min_agreement, 0.95);
  EXPECT_EQ(partial.criteria->min_compared_rows, ShadowCriteria{}.min_compared_rows);
  EXPECT_EQ(partial.criteria->alpha, ShadowCriteria{}.alpha);

  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: {alpha: 1.5}\n",
               "deployment.criteria: ShadowCriteria.alpha must lie strictly between 0 and 1, got "
               "1.5 (line 16, column 13)");
  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: {max_latency_p99_ratio: -1}\n",
               "deployment.criteria: ShadowCriteria.max_latency_p99_ratio");
  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: {min_agreement: 101%}\n",
               "deployment.criteria.min_agreement: must be between 0% and 100%, got 101%");
  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: {min_compared_rows: -1}\n",
               "deployment.criteria.min_compared_rows: must be a whole number >= 0, got '-1'");
  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: {max_divergence: lots}\n",
               "deployment.criteria.max_divergence: must be a number such as 1.5, got 'lots'");
  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: {require_not_worse: 2}\n",
               "deployment.criteria.require_not_worse: must be true or false, got '2'");
  EXPECT_ERROR(std::string(kSeedYaml) + "  criteria: [alpha]\n",
               "deployment.criteria: must be a map, got a sequence");
}

// ---- files
// ---------------------------------------------------------------------------------------

class ShadowConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("switchyard-shadow-config-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path write(const std::string& name, std::string_view text) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ShadowConfigFileTest, a_file_loads_like_its_text) {
  const auto c = load_shadow_config(write("shadow.yaml", kSeedYaml));
  EXPECT_EQ(c.name, "churn-predictor");
  EXPECT_EQ(c.shadows.at(0).version, 6);
  EXPECT_EQ(c.comparison.duration, std::optional<Duration>(168h));
}

TEST_F(ShadowConfigFileTest, a_missing_file_is_not_found_and_a_directory_a_storage_error) {
  EXPECT_THROW(load_shadow_config(dir_ / "absent.yaml"), NotFound);
  try {
    load_shadow_config(dir_ / "absent.yaml");
  } catch (const NotFound& e) {
    EXPECT_NE(std::string(e.what()).find("absent.yaml' does not exist"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(load_shadow_config(dir_), StorageError);
}

TEST_F(ShadowConfigFileTest, a_file_over_1_mib_is_refused_before_parsing) {
  const auto path = write("huge.yaml", std::string(kSeedYaml) + std::string(1 << 20, '#'));
  try {
    load_shadow_config(path);
    ADD_FAILURE() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("is larger than 1048576 bytes"), std::string::npos)
        << e.what();
  }
}

TEST_F(ShadowConfigFileTest, an_invalid_file_names_its_path_and_the_field) {
  const auto path = write("bad.yaml", shadow_traffic("120%"));
  try {
    load_shadow_config(path);
    ADD_FAILURE() << "accepted";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(path.string() + ": ", 0), 0u) << what;
    EXPECT_NE(what.find("deployment.shadow.traffic: must be between 0% and 100%, got 120%"),
              std::string::npos)
        << what;
  }
}

}  // namespace
}  // namespace switchyard
