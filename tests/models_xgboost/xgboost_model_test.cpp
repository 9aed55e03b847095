// SPDX-License-Identifier: Apache-2.0
// XgboostModel against XGBoost itself: the models and reference predictions in
// tests/data/xgboost/ were made by scripts/make_xgboost_models.py with XGBoost's Python package
// (1.7, DMatrix predict and inplace_predict agreeing); the adapter must reproduce its float32
// outputs exactly. Also: bad files, registration through ModelRegistry, serving through a
// Deployment, and concurrent predict().
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <latch>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/models/model_loader.hpp>
#include <switchyard/models/xgboost_model.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>

#include "support/registry_fixture.hpp"

namespace switchyard {
namespace xgboost_model_test {

const std::string kDir = std::string(SWITCHYARD_TEST_DATA_DIR) + "/xgboost/";
constexpr std::size_t kFeatures = 5;
constexpr std::size_t kRows = 32;

std::string read(const std::string& name) {
  std::ifstream in(kDir + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing test file " << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The columns of a CSV file with a header line, each number narrowed to float32 (the script
// writes each as the shortest text that reads back as the same float32; "nan" is missing).
std::vector<std::vector<float>> read_csv(const std::string& name) {
  std::istringstream text(read(name));
  std::string line;
  std::getline(text, line);  // header
  std::vector<std::vector<float>> rows;
  while (std::getline(text, line)) {
    std::vector<float> row;
    std::istringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) {
      row.push_back(static_cast<float>(std::strtod(cell.c_str(), nullptr)));
    }
    rows.push_back(row);
  }
  return rows;
}

// The fixed input rows, row-major float32 (kRows x kFeatures).
std::vector<float> inputs() {
  std::vector<float> flat;
  for (const auto& row : read_csv("inputs.csv")) flat.insert(flat.end(), row.begin(), row.end());
  EXPECT_EQ(flat.size(), kRows * kFeatures);
  return flat;
}

TensorView batch(const std::vector<float>& x) {
  return TensorView(x.data(), {static_cast<std::int64_t>(x.size() / kFeatures), kFeatures});
}

class XgboostReferenceTest : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Formats, XgboostReferenceTest, ::testing::Values(".json", ".ubj"));

TEST_P(XgboostReferenceTest, classifier_reproduces_xgboost_probabilities_exactly) {
  const auto model = XgboostModel::from_file(kDir + "fraud_classifier" + GetParam());
  const auto x = inputs();
  const auto expected = read_csv("classifier_predictions.csv");
  const Prediction p = model->predict(batch(x));
  ASSERT_EQ(p.values.shape()[0], kRows);
  ASSERT_EQ(p.values.shape()[1], 1u);
  for (std::size_t r = 0; r < kRows; ++r) {
    const float prob = expected[r][0];
    EXPECT_EQ(static_cast<float>(p.values(r, 0)), prob) << "row " << r;
    EXPECT_EQ(p.labels[r], prob > 0.5f ? 1 : 0) << "row " << r;
    EXPECT_DOUBLE_EQ(p.confidence[r], prob > 0.5f ? double{prob} : 1.0 - prob) << "row " << r;
  }
}

TEST_P(XgboostReferenceTest, classifier_margins_on_request_reproduce_output_margin) {
  const auto model = XgboostModel::from_file(kDir + "fraud_classifier" + GetParam(),
                                             {.output = XgboostModel::Output::kMargin});
  EXPECT_EQ(model->signature().outputs.front().name, "margin");
  const auto x = inputs();
  const auto expected = read_csv("classifier_predictions.csv");
  const Prediction p = model->predict(batch(x));
  for (std::size_t r = 0; r < kRows; ++r) {
    EXPECT_EQ(static_cast<float>(p.values(r, 0)), expected[r][1]) << "row " << r;
    EXPECT_EQ(p.labels[r], expected[r][1] > 0.0f ? 1 : 0) << "row " << r;
  }
}

TEST_P(XgboostReferenceTest, regressor_reproduces_xgboost_values_exactly) {
  const auto model = XgboostModel::from_file(kDir + "amount_regressor" + GetParam());
  EXPECT_FALSE(model->is_classifier());
  const auto x = inputs();
  const auto expected = read_csv("regressor_predictions.csv");
  const Prediction p = model->predict(batch(x));
  ASSERT_EQ(p.values.shape()[0], kRows);
  EXPECT_TRUE(p.labels.empty());
  for (std::size_t r = 0; r < kRows; ++r) {
    EXPECT_EQ(static_cast<float>(p.values(r, 0)), expected[r][0]) << "row " << r;
  }
}

TEST(XgboostModelTest, signature_comes_from_the_file) {
  const auto model = XgboostModel::from_file(kDir + "fraud_classifier.json");
  EXPECT_EQ(model->format(), kXgboostJsonFormat);
  EXPECT_EQ(model->objective(), "binary:logistic");
  EXPECT_EQ(model->feature_names(), (std::vector<std::string>{"amount", "account_age_days",
                                                              "tx_last_24h", "distance_km",
                                                              "hour"}));
  const Signature& sig = model->signature();
  ASSERT_EQ(sig.inputs.size(), 1u);
  EXPECT_EQ(sig.inputs[0], (TensorSpec{"features", DType::kFloat64, {-1, 5}}));
  ASSERT_EQ(sig.outputs.size(), 1u);
  EXPECT_EQ(sig.outputs[0], (TensorSpec{"probability", DType::kFloat64, {-1, 1}}));
  EXPECT_EQ(sig.class_names, (std::vector<std::string>{"0", "1"}));

  const auto named = XgboostModel::from_file(kDir + "fraud_classifier.ubj",
                                             {.class_names = {"legit", "fraud"}});
  EXPECT_EQ(named->format(), kXgboostUbjsonFormat);
  EXPECT_EQ(named->signature().class_names, (std::vector<std::string>{"legit", "fraud"}));
  EXPECT_EQ(XgboostModel::from_file(kDir + "amount_regressor.json")->signature().outputs[0].name,
            "value");
}

TEST(XgboostModelTest, other_dtypes_are_read_in_place_with_the_same_results) {
  // float64, int32 and int64 rows holding the same (float32-exact) numbers predict the same.
  const auto model = XgboostModel::from_file(kDir + "amount_regressor.json");
  const std::vector<float> f32 = {12.0f, 300.0f, 2.0f, 7.0f, 23.0f, 80.0f, 10.0f, 0.0f, 1.0f, 3.0f};
  const std::vector<double> f64(f32.begin(), f32.end());
  const std::vector<std::int32_t> i32(f32.begin(), f32.end());
  const std::vector<std::int64_t> i64(f32.begin(), f32.end());
  const auto want = model->predict(TensorView(f32, {2, 5})).values;
  EXPECT_EQ(model->predict(TensorView(f64, {2, 5})).values, want);
  EXPECT_EQ(model->predict(TensorView(i32, {2, 5})).values, want);
  EXPECT_EQ(model->predict(TensorView(i64, {2, 5})).values, want);
  EXPECT_EQ(model->predict(TensorView(f32.data(), {0, 5})).values.shape()[0], 0u);
}

TEST(XgboostModelTest, wrong_input_width_is_invalid_argument) {
  const auto model = XgboostModel::from_file(kDir + "fraud_classifier.json");
  const std::array<double, 4> four = {1, 2, 3, 4};
  try {
    (void)model->predict(TensorView(four.data(), {1, 4}));
    FAIL() << "a 4-column row was accepted by a 5-feature model";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("expected [n, 5]"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(model->signature().check(TensorView(four.data(), {1, 4})).ok());
}

// The message of the LoadError `call` throws ("" and a failure when it throws none).
template <class Call>
std::string load_error(Call call) {
  try {
    call();
  } catch (const LoadError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no LoadError";
  return "";
}

TEST(XgboostModelTest, bad_bytes_are_load_errors_naming_the_source) {
  const std::string json = read("fraud_classifier.json");
  const std::string ubj = read("fraud_classifier.ubj");
  const XgboostModel::Options named{.source = "fraud v7"};
  const auto load = [&](const std::string& bytes, std::string_view format) {
    return load_error([&] { (void)XgboostModel::from_bytes(bytes, format, named); });
  };
  for (const std::string& message :
       {load("not a model", kXgboostJsonFormat), load("", kXgboostUbjsonFormat),
        load(json.substr(0, json.size() / 2), kXgboostJsonFormat),
        load(ubj.substr(0, ubj.size() / 2), kXgboostUbjsonFormat),
        load(ubj.substr(0, 40), kXgboostUbjsonFormat),
        load(ubj, kXgboostJsonFormat),     // UBJSON bytes declared as JSON
        load(json, kXgboostUbjsonFormat),  // and the other way round
        load(R"({"learner": 1})", kXgboostJsonFormat)}) {
    EXPECT_NE(message.find("fraud v7"), std::string::npos) << message;
  }
  const std::string wrong_count = load_error([&] {
    (void)XgboostModel::from_bytes(json, kXgboostJsonFormat,
                                   {.source = "fraud v7", .expected_features = 4});
  });
  EXPECT_NE(wrong_count.find("has 5 features, expected 4"), std::string::npos) << wrong_count;
  const std::string file = load_error([&] {
    (void)XgboostModel::from_file(kDir + "fraud_classifier.json", {.class_names = {"only one"}});
  });
  EXPECT_NE(file.find("fraud_classifier.json"), std::string::npos) << file;
  EXPECT_THROW((void)XgboostModel::from_file(kDir + "absent.json"), NotFound);
  EXPECT_THROW((void)XgboostModel::from_bytes(json, "xgboost.bin"), InvalidArgument);
}

TEST(XgboostModelTest, ubjson_lengths_are_checked_before_xgboost_reads_them) {
  // XGBoost 1.7's UBJSON reader trusts the lengths in the file; the adapter checks them first, so
  // a file cut anywhere, or a length pointing past the end, is a LoadError and never a read past
  // the buffer.
  const std::string ubj = read("fraud_classifier.ubj");
  for (std::size_t cut = 1; cut < ubj.size(); cut += 97) {
    const std::string message = load_error(
        [&] { (void)XgboostModel::from_bytes(ubj.substr(0, cut), kXgboostUbjsonFormat); });
    EXPECT_NE(message.find("XGBoost model"), std::string::npos) << "cut at " << cut;
  }
  // The first key's length, 8 big-endian bytes after "{L", made huge.
  std::string hostile = ubj;
  hostile.replace(2, 8, std::string("\x7f\xff\xff\xff\xff\xff\xff\xff", 8));
  const std::string message =
      load_error([&] { (void)XgboostModel::from_bytes(hostile, kXgboostUbjsonFormat); });
  EXPECT_NE(message.find("exceeds the bytes left"), std::string::npos) << message;
}

TEST(XgboostModelTest, concurrent_predict_on_one_booster_gives_the_reference_answers) {
  // XGBoost documents in-place prediction as thread-safe; two threads share one booster and each
  // checks every answer (run under ThreadSanitizer too: scripts/sanitize.sh).
  const auto model = XgboostModel::from_file(kDir + "fraud_classifier.ubj");
  const auto x = inputs();
  const auto expected = read_csv("classifier_predictions.csv");
  std::latch start(2);
  std::array<int, 2> wrong{};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 200; ++i) {
        const std::size_t r = static_cast<std::size_t>(i + t) % kRows;
        const Prediction p = model->predict(TensorView(x.data() + r * kFeatures, {1, kFeatures}));
        if (static_cast<float>(p.values(0, 0)) != expected[r][0]) ++wrong[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong[0], 0);
  EXPECT_EQ(wrong[1], 0);
}

constexpr const char* kModel = "payments-fraud";

struct Registered : testing::RegistryFixture {
  ModelLoader loader;
  Registered() {
    register_xgboost_formats(loader);
    registry.reset();
    registry = std::make_unique<ModelRegistry>(ModelRegistry::Options{
        .store = store.get(), .artifacts = artifacts.get(), .loader = &loader, .clock = &clock});
  }
};

TEST(XgboostRegistryTest, formats_are_registered_once) {
  ModelLoader loader;
  register_xgboost_formats(loader);
  EXPECT_TRUE(loader.has_format("xgboost.json"));
  EXPECT_TRUE(loader.has_format("xgboost.ubj"));
  EXPECT_THROW(register_xgboost_formats(loader), AlreadyExists);
}

TEST(XgboostRegistryTest, bad_artifacts_are_not_registered) {
  Registered f;
  const std::string json = read("fraud_classifier.json");
  for (const Artifact& bad : {Artifact{"xgboost.json", "not a model"},
                              Artifact{"xgboost.json", json.substr(0, json.size() - 100)},
                              Artifact{"xgboost.ubj", json}}) {
    try {
      (void)f.registry->register_version(kModel, bad, {}, {.actor = "ci"});
      ADD_FAILURE() << "registered a bad " << bad.format << " artifact";
    } catch (const LoadError& e) {
      EXPECT_NE(std::string(e.what()).find(bad.format), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(f.registry->models().empty());
}

TEST(XgboostRegistryTest, registered_versions_serve_the_reference_predictions) {
  Registered f;
  const auto v1 = f.registry->register_version(
      kModel, {"xgboost.ubj", read("fraud_classifier.ubj")}, {.owner = "risk"}, {.actor = "ci"});
  EXPECT_EQ(v1->signature.inputs[0].shape, (std::vector<std::int64_t>{-1, 5}));
  f.registry->transition(kModel, v1->version, Stage::kStaging, {.actor = "ci"});
  f.registry->transition(kModel, v1->version, Stage::kProduction, {.actor = "ci"});

  Deployment deployment({.model = kModel, .source = f.registry.get()});
  RegistryBinding follow({.registry = f.registry.get(), .deployment = &deployment});
  const auto x = inputs();
  const auto expected = read_csv("classifier_predictions.csv");
  for (std::size_t r = 0; r < kRows; ++r) {
    // float32 rows pass the float64 signature (a lossless conversion) and are read in place.
    auto answer = deployment.predict(
        {.key = "user-" + std::to_string(r),
         .input = TensorView(x.data() + r * kFeatures, {1, kFeatures})});
    ASSERT_TRUE(answer.ok()) << answer.status().message();
    EXPECT_EQ(answer->version, v1->version);
    EXPECT_EQ(static_cast<float>(answer->prediction.values(0, 0)), expected[r][0]) << "row " << r;
  }
  const std::array<double, 4> four = {1, 2, 3, 4};
  auto rejected = deployment.predict({.key = "u", .input = TensorView(four.data(), {1, 4})});
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), ErrorCode::kInvalidArgument);

  // A second version (the v2 model) replaces it through the registry; a broken file never does.
  EXPECT_THROW((void)f.registry->register_version(kModel, {"xgboost.json", "{\"broken"}, {},
                                                  {.actor = "ci"}),
               LoadError);
  EXPECT_EQ(f.registry->versions(kModel).size(), 1u);
  const auto v2 = f.registry->register_version(
      kModel, {"xgboost.json", read("fraud_classifier_v2.json")}, {}, {.actor = "ci"});
  f.registry->transition(kModel, v2->version, Stage::kStaging, {.actor = "ci"});
  f.registry->transition(kModel, v2->version, Stage::kProduction, {.actor = "ci"});
  auto after = deployment.predict({.key = "u", .input = TensorView(x.data(), {1, kFeatures})});
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->version, v2->version);
}

TEST(XgboostRegistryTest, requests_never_fail_while_production_moves_to_a_new_version) {
  // Two request threads keep predicting while v2 is registered and promoted: every answer is
  // ok, comes from v1 or v2, and v1's answers are XGBoost's reference values.
  Registered f;
  const auto promote = [&](const char* format, const char* file) {
    const auto v = f.registry->register_version(kModel, {format, read(file)}, {}, {.actor = "ci"});
    f.registry->transition(kModel, v->version, Stage::kStaging, {.actor = "ci"});
    f.registry->transition(kModel, v->version, Stage::kProduction, {.actor = "ci"});
    return v->version;
  };
  const auto v1 = promote("xgboost.ubj", "fraud_classifier.ubj");
  Deployment deployment({.model = kModel, .source = f.registry.get()});
  RegistryBinding follow({.registry = f.registry.get(), .deployment = &deployment});
  const auto x = inputs();
  const auto expected = read_csv("classifier_predictions.csv");

  const std::int64_t v2 = v1 + 1;  // the next version number, known before it is registered
  std::latch start(3);
  std::array<int, 2> failed{}, wrong{}, after_v2{};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      // Until this thread has been answered by v2 a few times (bounded, should the swap stall).
      for (int i = 0; i < 200000 && after_v2[t] < 50; ++i) {
        const std::size_t r = static_cast<std::size_t>(i) % kRows;
        auto a = deployment.predict(
            {.key = "user", .input = TensorView(x.data() + r * kFeatures, {1, kFeatures})});
        if (!a.ok()) {
          ++failed[t];
        } else if (a->version == v1) {
          if (static_cast<float>(a->prediction.values(0, 0)) != expected[r][0]) ++wrong[t];
        } else if (a->version == v2) {
          ++after_v2[t];
        } else {
          ++wrong[t];
        }
      }
    });
  }
  start.arrive_and_wait();
  EXPECT_EQ(promote("xgboost.json", "fraud_classifier_v2.json"), v2);
  for (auto& th : threads) th.join();
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(failed[t], 0) << "thread " << t;
    EXPECT_EQ(wrong[t], 0) << "thread " << t;
    EXPECT_EQ(after_v2[t], 50) << "thread " << t;
  }
}

}  // namespace xgboost_model_test
}  // namespace switchyard
