// SPDX-License-Identifier: Apache-2.0
// JSON serialization: exact round trips, the documented layout, and errors that name the field.
#include <switchyard/registry/serialization.hpp>

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include <cereal/archives/json.hpp>

namespace switchyard {
namespace {
namespace serialization_test {

constexpr std::int64_t kTwoTo53Plus1 = (std::int64_t{1} << 53) + 1;

ModelVersion full_version() {
  ModelVersion v;
  v.name = "fraud-detection";
  v.version = kTwoTo53Plus1;
  v.semver = "2.1.0-rc.1+build.7";
  v.stage = Stage::kProduction;
  v.run_id = "run-0123456789abcdef";
  v.dataset_version = "transactions@2024-01-31";
  v.metrics = {{"auc", 0.1},
               {"tiny", 1e-300},
               {"negative_zero", -0.0},
               {"denormal", 5e-324},
               {"largest", std::numeric_limits<double>::max()},
               {"two_to_53_plus_1", 9007199254740993.0},  // rounds to 2^53 as a double
               {"third", 1.0 / 3.0}};
  v.group_metrics = {{"age<30", {{"auc", 0.89}, {"recall", 0.7}}},
                     {"age>=30", {{"auc", 0.93}}},
                     {"empty group", {}}};
  v.signature.inputs = {{"features", DType::kFloat32, {-1, 32}}, {"mask", DType::kBool, {-1}}};
  v.signature.outputs = {{"score", DType::kFloat64, {-1, 1}}, {"ids", DType::kInt64, {}}};
  v.signature.class_names = {"legit", "fraud"};
  v.dependencies = {{"xgboost", "2.0.3"}, {"numpy", "1.26.4"}};
  v.owner = "risk-team";
  v.changelog =
      "Line one\nLine \"two\" with a tab\t and a backslash \\ and unicode \xc3\xa9\xe2\x82\xac";
  v.description = "";
  v.tags = {{"team", "risk"}, {"", "empty key"}, {"quote\"key", "v"}};
  v.created_at = from_unix_nanos(1'700'000'000'123'456'789);
  v.stage_changed_at = from_unix_nanos(-kTwoTo53Plus1);  // before 1970 is still exact
  v.artifact = {"switchyard.linear", std::string(64, 'a'),
                static_cast<std::uint64_t>(kTwoTo53Plus1), "sha256/aa/" + std::string(64, 'a')};
  return v;
}

AuditRecord full_audit() {
  AuditRecord r;
  r.sequence = kTwoTo53Plus1;
  r.at = from_unix_nanos(1'700'000'000'000'000'001);
  r.actor = "ci@example";
  r.model = "fraud-detection";
  r.version = 7;
  r.action = "transition";
  r.from_stage = Stage::kStaging;
  r.to_stage = std::nullopt;
  r.alias = "champion";
  r.reason = "guardrails passed";
  return r;
}

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

TEST(SerializationTest, model_version_round_trips_exactly_in_both_styles) {
  const ModelVersion v = full_version();
  for (JsonStyle style : {JsonStyle::kPretty, JsonStyle::kCompact}) {
    const ModelVersion back = from_json<ModelVersion>(to_json(v, style));
    EXPECT_EQ(back, v);
    // operator== treats 0.0 and -0.0 alike; the bits must survive too.
    for (const auto& [name, value] : v.metrics) {
      EXPECT_TRUE(same_bits(back.metrics.at(name), value)) << name;
    }
  }
}

TEST(SerializationTest, every_record_type_round_trips) {
  const TensorSpec spec{"x", DType::kInt32, {-1, 4, 4}};
  EXPECT_EQ(from_json<TensorSpec>(to_json(spec)), spec);
  const Signature sig = full_version().signature;
  EXPECT_EQ(from_json<Signature>(to_json(sig)), sig);
  const ArtifactRef art = full_version().artifact;
  EXPECT_EQ(from_json<ArtifactRef>(to_json(art)), art);
  AuditRecord audit = full_audit();
  EXPECT_EQ(from_json<AuditRecord>(to_json(audit)), audit);
  audit.from_stage.reset();
  audit.to_stage = Stage::kRejected;
  EXPECT_EQ(from_json<AuditRecord>(to_json(audit, JsonStyle::kCompact)), audit);
  const AliasRecord alias{"fraud-detection", "champion", 3};
  EXPECT_EQ(from_json<AliasRecord>(to_json(alias)), alias);

  StoreState state;
  state.versions = {full_version(), ModelVersion{}};
  state.versions[1].name = "churn";
  state.versions[1].version = 1;
  state.aliases = {alias, {"churn", "latest", 1}};
  state.last_sequence = kTwoTo53Plus1;
  const StoreState back = from_json<StoreState>(to_json(state));
  EXPECT_EQ(back.versions, state.versions);
  EXPECT_EQ(back.aliases, state.aliases);
  EXPECT_EQ(back.last_sequence, state.last_sequence);
}

TEST(SerializationTest, random_doubles_round_trip_bit_for_bit) {
  // Every finite double, not only "nice" ones: random bit patterns cover all exponents.
  std::mt19937_64 rng(20240131);
  ModelVersion v;
  int checked = 0;
  while (checked < 20000) {
    const double d = std::bit_cast<double>(rng());
    if (!std::isfinite(d)) continue;
    v.metrics["m" + std::to_string(checked++)] = d;
  }
  const ModelVersion back = from_json<ModelVersion>(to_json(v, JsonStyle::kCompact));
  ASSERT_EQ(back.metrics.size(), v.metrics.size());
  for (const auto& [name, value] : v.metrics) {
    ASSERT_TRUE(same_bits(back.metrics.at(name), value)) << name << " = " << value;
  }
}

TEST(SerializationTest, layout_uses_names_arrays_objects_and_integer_nanoseconds) {
  ModelVersion v;
  v.name = "fraud-detection";
  v.version = 3;
  v.stage = Stage::kStaging;
  v.metrics = {{"auc", 0.91}};
  v.signature.inputs = {{"x", DType::kFloat64, {-1, 4}}};
  v.created_at = from_unix_nanos(1'700'000'000'000'000'000);
  const std::string json = to_json(v, JsonStyle::kCompact);
  EXPECT_NE(json.find(R"("stage": "Staging")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("dtype": "float64")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("shape": [-1,4])"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("metrics": {"auc": 0.91})"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("created_at_ns": 1700000000000000000)"), std::string::npos) << json;
  EXPECT_EQ(json.find('\n'), std::string::npos) << "compact output is one line";
  EXPECT_NE(to_json(v).find("\n    \"name\": \"fraud-detection\""), std::string::npos);

  AuditRecord r;
  r.to_stage = Stage::kArchived;
  const std::string audit = to_json(r, JsonStyle::kCompact);
  EXPECT_NE(audit.find(R"("from_stage": null)"), std::string::npos) << audit;
  EXPECT_NE(audit.find(R"("to_stage": "Archived")"), std::string::npos) << audit;
}

TEST(SerializationTest, stage_names_are_read_case_insensitively) {
  std::string json = to_json(ModelVersion{});
  const auto at = json.find("\"Development\"");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 13, "\"production\"");
  EXPECT_EQ(from_json<ModelVersion>(json).stage, Stage::kProduction);
}

// Replaces the first occurrence of `from` in `json`, failing the test when it is absent.
std::string edit(std::string json, const std::string& from, const std::string& to) {
  const auto at = json.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) json.replace(at, from.size(), to);
  return json;
}

template <class T>
std::string error_of(const std::string& json) {
  try {
    (void)from_json<T>(json);
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no InvalidArgument thrown";
}

TEST(SerializationTest, bad_values_throw_invalid_argument_naming_the_field) {
  ModelVersion v = full_version();
  v.metrics = {{"auc", 0.5}};
  v.group_metrics = {{"g", {{"auc", 0.5}}}};
  v.tags = {{"team", "risk"}};
  v.signature.inputs = {{"x", DType::kFloat64, {-1, 4}}};
  v.signature.outputs.clear();
  const std::string good = to_json(v, JsonStyle::kCompact);

  struct Case {
    std::string from, to, expect;
  };
  const Case cases[] = {
      {R"("stage": "Production")", R"("stage": "Live")", "field 'stage' has unknown stage 'Live'"},
      {R"("dtype": "float64")", R"("dtype": "float128")",
       "field 'signature.inputs[0].dtype' has unknown dtype 'float128'"},
      {R"("name": "fraud-detection",)", "", "field 'name' is missing"},
      {R"("version": 9007199254740993)", R"("version": 1.5)", "field 'version' must be an integer"},
      {R"("version": 9007199254740993)", R"("version": 9223372036854775808)",
       "field 'version' must be an integer in the signed 64-bit range"},
      {R"("size": 9007199254740993)", R"("size": -1)",
       "field 'artifact.size' must be a non-negative"},
      {R"("auc": 0.5})", R"("auc": "high"})", "field 'metrics.auc' must be a number"},
      {R"("group_metrics": {"g": {"auc": 0.5}})", R"("group_metrics": {"g": [1]})",
       "field 'group_metrics.g' must be an object"},
      {R"("tags": {"team": "risk"})", R"("tags": ["risk"])", "field 'tags' must be an object"},
      {R"("shape": [-1,4])", R"("shape": [-1,"4"])",
       "field 'signature.inputs[0].shape[1]' must be an integer"},
      {R"("inputs": [)", R"("inputs": {"a": 1}, "x": [)",
       "field 'signature.inputs' must be an array"},
      {R"("owner": "risk-team")", R"("owner": null)", "field 'owner' must be a string"},
      {R"("owner": "risk-team")", R"("owner": "a\u0000b")", "field 'owner' holds a NUL character"},
      {R"("tags": {"team": "risk"})", R"("tags": {"team": "risk", "team": "ops"})",
       "field 'tags.team' is a duplicate key"},
      {R"("auc": 0.5})", R"("auc": NaN})", "ModelVersion JSON is malformed at byte"},
      {R"("auc": 0.5})", R"("auc": 1e400})", "number too large"},
  };
  for (const auto& c : cases) {
    const std::string message = error_of<ModelVersion>(edit(good, c.from, c.to));
    EXPECT_NE(message.find(c.expect), std::string::npos)
        << "edit " << c.from << " -> " << c.to << "\n  got: " << message;
  }
  EXPECT_NE(error_of<ModelVersion>(good.substr(0, good.size() / 2)).find("malformed at byte"),
            std::string::npos);
  EXPECT_NE(error_of<ModelVersion>("").find("the document is empty"), std::string::npos);
  EXPECT_NE(error_of<ModelVersion>("[1, 2]").find("the value must be an object"),
            std::string::npos);
  EXPECT_NE(error_of<ModelVersion>(good + "x").find("text follows the document"),
            std::string::npos);
  EXPECT_NE(error_of<AuditRecord>(edit(to_json(full_audit()), "\"Staging\"", "3"))
                .find("field 'from_stage' must be a string"),
            std::string::npos);
}

TEST(SerializationTest, hostile_nesting_is_refused_without_exhausting_the_stack) {
  const std::string deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
  EXPECT_NE(error_of<ModelVersion>(deep).find("must be an object"), std::string::npos);
  const std::string nested_metric = R"({"name": "m", "metrics": )" + deep + "}";
  EXPECT_NE(error_of<ModelVersion>(nested_metric).find("field 'version' is missing"),
            std::string::npos);
}

TEST(SerializationTest, unknown_members_are_ignored_for_forward_compatibility) {
  std::string json = to_json(full_version(), JsonStyle::kCompact);
  json = edit(json, R"({"name")", R"({"added_in_v2": {"x": [1, 2]}, "name")");
  EXPECT_EQ(from_json<ModelVersion>(json), full_version());
}

TEST(SerializationTest, values_json_cannot_carry_are_refused_when_writing) {
  ModelVersion v = full_version();
  v.metrics["auc"] = std::nan("");
  try {
    (void)to_json(v);
    FAIL() << "NaN metric accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("field 'metrics.auc' is NaN"), std::string::npos)
        << e.what();
  }
  v = full_version();
  v.group_metrics["g"]["recall"] = -std::numeric_limits<double>::infinity();
  EXPECT_THROW((void)to_json(v), InvalidArgument);
  v = full_version();
  v.description = std::string("a\0b", 3);
  try {
    (void)to_json(v, JsonStyle::kCompact);
    FAIL() << "NUL accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("field 'description' holds a NUL"), std::string::npos)
        << e.what();
  }
  v = full_version();
  v.tags[std::string("k\0", 2)] = "v";
  EXPECT_THROW((void)to_json(v), InvalidArgument);
  v = full_version();
  v.signature.inputs[1].name = std::string("\0", 1);
  try {
    (void)to_json(v.signature);
    FAIL() << "NUL accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("field 'inputs[1].name'"), std::string::npos) << e.what();
  }
}

TEST(SerializationTest, metadata_json_carries_only_the_non_column_fields) {
  const ModelVersion v = full_version();
  const std::string json = detail::version_metadata_to_json(v);
  EXPECT_EQ(json.find("\"name\": \"fraud-detection\""), std::string::npos);
  EXPECT_EQ(json.find("created_at_ns"), std::string::npos);
  EXPECT_EQ(json.find("artifact"), std::string::npos);
  ModelVersion back;
  back.name = "kept";
  back.version = 42;
  detail::version_metadata_from_json(json, back);
  EXPECT_EQ(back.name, "kept");
  EXPECT_EQ(back.version, 42);
  EXPECT_EQ(back.metrics, v.metrics);
  EXPECT_EQ(back.group_metrics, v.group_metrics);
  EXPECT_EQ(back.signature, v.signature);
  EXPECT_EQ(back.tags, v.tags);
  EXPECT_EQ(back.changelog, v.changelog);
  EXPECT_THROW(detail::version_metadata_from_json("[]", back), InvalidArgument);
}

// A host's own document that embeds Switchyard values through cereal.
struct HostDocument {
  std::string title;
  ModelVersion version;
  AuditRecord audit;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(cereal::make_nvp("title", title), cereal::make_nvp("version", version),
       cereal::make_nvp("audit", audit));
  }
};

TEST(SerializationTest, cereal_hooks_nest_values_in_a_host_archive) {
  HostDocument doc{"nightly", full_version(), full_audit()};
  std::ostringstream os;
  {
    cereal::JSONOutputArchive ar(os);
    ar(cereal::make_nvp("doc", doc));
  }
  const std::string text = os.str();
  EXPECT_NE(text.find("\"version\": {"), std::string::npos) << text;

  HostDocument back;
  {
    std::istringstream is(text);
    cereal::JSONInputArchive ar(is);
    ar(cereal::make_nvp("doc", back));
  }
  EXPECT_EQ(back.title, doc.title);
  EXPECT_EQ(back.version, doc.version);
  EXPECT_EQ(back.audit, doc.audit);

  // The cereal reader reports errors like from_json, naming the field inside the value.
  const std::string bad = edit(text, "\"float32\"", "\"float16\"");
  std::istringstream is(bad);
  cereal::JSONInputArchive ar(is);
  try {
    ar(cereal::make_nvp("doc", back));
    FAIL() << "unknown dtype accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("field 'signature.inputs[0].dtype' has unknown dtype"),
              std::string::npos)
        << e.what();
  }
}

TEST(SerializationTest, cereal_reader_refuses_wrong_types_and_missing_fields) {
  const std::string good = "{\"doc\": " + to_json(full_version(), JsonStyle::kCompact) + "}";
  struct Case {
    std::string from, to, expect;
  };
  const Case cases[] = {
      {R"("tags": {)", R"("tags": [1], "x": {)", "field 'tags' must be an object"},
      {R"("inputs": [)", R"("inputs": {"a": 1}, "x": [)",
       "field 'signature.inputs' must be an array"},
      {R"("owner": "risk-team",)", "", "field 'owner' is missing"},
      {R"("version": 9007199254740993)", R"("version": 1.5)", "field 'version' must be an integer"},
      {R"("auc": 0.1)", R"("auc": "x")", "field 'metrics.auc' must be a number"},
      {R"("auc": 0.1)", R"("auc": NaN)", "field 'metrics.auc' is NaN"},
  };
  for (const auto& c : cases) {
    std::istringstream is(edit(good, c.from, c.to));
    cereal::JSONInputArchive ar(is);
    ModelVersion v;
    std::string message = "no InvalidArgument thrown";
    try {
      ar(cereal::make_nvp("doc", v));
    } catch (const InvalidArgument& e) {
      message = e.what();
    }
    EXPECT_NE(message.find(c.expect), std::string::npos)
        << "edit " << c.from << " -> " << c.to << "\n  got: " << message;
  }
}

}  // namespace serialization_test
}  // namespace
}  // namespace switchyard
