// SPDX-License-Identifier: Apache-2.0
// TorchScriptModel against PyTorch itself: the modules and reference predictions in
// tests/data/torch/ were made by scripts/make_torch_models.py with PyTorch's Python package (1.13,
// one intra-op thread, forward() on the 32 rows as one batch, each module reloaded and checked
// to give the same outputs). Also: bad files, a module that throws, registration through
// ModelRegistry, a hot swap under load through a Deployment, and concurrent predict().
//
// Tolerance: the adapter runs the same LibTorch kernels on the same float32 rows, and on the
// machine that made the references the outputs are bit-identical (PyTorch itself gives the same
// bits for one row at a time as for the 32-row batch). The tests still allow 4 float32 ulps
// relative (5e-7 |ref|, at least 1e-7): LibTorch picks its kernels by CPU (AVX2, AVX-512), and
// another kernel may sum a dot product in another order.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <latch>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <switchyard/models/model_loader.hpp>
#include <switchyard/models/torchscript_model.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <thread>
#include <vector>

#include "support/registry_fixture.hpp"

namespace switchyard {
namespace torchscript_model_test {

const std::string kDir = std::string(SWITCHYARD_TEST_DATA_DIR) + "/torch/";
constexpr std::size_t kFeatures = 5;
constexpr std::size_t kRows = 32;

std::string read(const std::string& name) {
  std::ifstream in(kDir + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing test file " << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const nlohmann::json& reference() {
  static const nlohmann::json json = nlohmann::json::parse(read("predictions.json"));
  return json;
}

// The fixed input rows, row-major float32 (kRows x kFeatures).
std::vector<float> inputs() {
  std::vector<float> flat;
  for (const auto& row : reference().at("inputs")) {
    for (const auto& v : row) flat.push_back(v.get<float>());
  }
  EXPECT_EQ(flat.size(), kRows * kFeatures);
  return flat;
}

// PyTorch's float32 output of `model` for row r, column c.
float expected(const char* model, std::size_t r, std::size_t c) {
  return reference().at(model).at(r).at(c).get<float>();
}

double tolerance(float ref) { return std::max(5e-7 * std::abs(ref), 1e-7); }

TensorView row(const std::vector<float>& x, std::size_t r) {
  return TensorView(x.data() + r * kFeatures, {1, kFeatures});
}

// True when a one-row prediction's values are PyTorch's for row r of `model`.
bool matches(const Prediction& p, const char* model, std::size_t r) {
  for (std::size_t c = 0; c < p.values.shape()[1]; ++c) {
    const float ref = expected(model, r, c);
    if (std::abs(p.values(0, c) - ref) > tolerance(ref)) return false;
  }
  return true;
}

TEST(TorchScriptReferenceTest, scripted_classifier_reproduces_pytorch_probabilities) {
  const auto model = TorchScriptModel::from_file(kDir + "fraud_classifier.pt");
  const auto x = inputs();
  const Prediction p = model->predict(TensorView(x.data(), {kRows, kFeatures}));
  ASSERT_EQ(p.values.shape()[0], kRows);
  ASSERT_EQ(p.values.shape()[1], 2u);
  ASSERT_EQ(p.labels.size(), kRows);
  for (std::size_t r = 0; r < kRows; ++r) {
    const float legit = expected("fraud_classifier", r, 0);
    const float fraud = expected("fraud_classifier", r, 1);
    EXPECT_NEAR(p.values(r, 0), legit, tolerance(legit)) << "row " << r;
    EXPECT_NEAR(p.values(r, 1), fraud, tolerance(fraud)) << "row " << r;
    EXPECT_EQ(p.labels[r], fraud > legit ? 1 : 0) << "row " << r;
    EXPECT_NEAR(p.confidence[r], std::max(legit, fraud), tolerance(fraud)) << "row " << r;
  }
  // One row at a time (another matrix-multiply shape) gives the same within the tolerance.
  for (std::size_t r = 0; r < kRows; ++r) {
    EXPECT_TRUE(matches(model->predict(row(x, r)), "fraud_classifier", r)) << "row " << r;
  }
}

TEST(TorchScriptReferenceTest, traced_regressor_reproduces_pytorch_values) {
  // A traced module keeps no attributes: its feature count comes from the options.
  const auto model = TorchScriptModel::from_file(kDir + "amount_regressor.pt", {.n_features = 5});
  EXPECT_FALSE(model->is_classifier());
  const auto x = inputs();
  const Prediction p = model->predict(TensorView(x.data(), {kRows, kFeatures}));
  ASSERT_EQ(p.values.shape()[1], 1u);
  EXPECT_TRUE(p.labels.empty());
  for (std::size_t r = 0; r < kRows; ++r) {
    const float ref = expected("amount_regressor", r, 0);
    EXPECT_NEAR(p.values(r, 0), ref, tolerance(ref)) << "row " << r;
  }
}

TEST(TorchScriptModelTest, signature_comes_from_the_module_or_the_options) {
  const auto model = TorchScriptModel::from_file(kDir + "fraud_classifier.pt");
  EXPECT_EQ(model->format(), kTorchScriptFormat);
  EXPECT_EQ(model->feature_names(),
            (std::vector<std::string>{"amount", "account_age_days", "tx_last_24h", "distance_km",
                                      "hour"}));
  const Signature& sig = model->signature();
  ASSERT_EQ(sig.inputs.size(), 1u);
  EXPECT_EQ(sig.inputs[0], (TensorSpec{"features", DType::kFloat64, {-1, 5}}));
  ASSERT_EQ(sig.outputs.size(), 1u);
  EXPECT_EQ(sig.outputs[0], (TensorSpec{"probabilities", DType::kFloat64, {-1, 2}}));
  EXPECT_EQ(sig.class_names, (std::vector<std::string>{"legit", "fraud"}));

  const auto regressor = TorchScriptModel::from_file(
      kDir + "amount_regressor.pt", {.n_features = 5, .feature_names = {"a", "b", "c", "d", "e"}});
  EXPECT_EQ(regressor->signature().outputs[0], (TensorSpec{"value", DType::kFloat64, {-1, 1}}));
  EXPECT_EQ(regressor->feature_names()[4], "e");
  // The regressor's one column read as a logit: a binary classifier with default class names.
  const auto as_logit = TorchScriptModel::from_file(
      kDir + "amount_regressor.pt", {.output = TorchScriptModel::Output::kLogits, .n_features = 5});
  EXPECT_EQ(as_logit->signature().outputs[0].name, "logits");
  EXPECT_EQ(as_logit->signature().class_names, (std::vector<std::string>{"0", "1"}));
  const auto x = inputs();
  const Prediction p = as_logit->predict(row(x, 0));
  const double prob = 1.0 / (1.0 + std::exp(-p.values(0, 0)));
  EXPECT_EQ(p.labels[0], prob > 0.5 ? 1 : 0);
  EXPECT_DOUBLE_EQ(p.confidence[0], prob > 0.5 ? prob : 1.0 - prob);
}

TEST(TorchScriptModelTest, other_dtypes_are_converted_with_the_same_results) {
  // float32 rows are a view; float64 and int32 rows holding the same (float32-exact) numbers are
  // converted to the module's float32 and predict the same.
  const auto model = TorchScriptModel::from_file(kDir + "fraud_classifier.pt");
  const std::vector<float> f32 = {12.0f, 3.0f, 2.0f, 7.0f, 23.0f, 1.0f, 0.0f, 0.0f, 1.0f, 3.0f};
  const std::vector<double> f64(f32.begin(), f32.end());
  const std::vector<std::int32_t> i32(f32.begin(), f32.end());
  const auto want = model->predict(TensorView(f32, {2, 5})).values;
  EXPECT_EQ(model->predict(TensorView(f64, {2, 5})).values, want);
  EXPECT_EQ(model->predict(TensorView(i32, {2, 5})).values, want);
  EXPECT_EQ(model->predict(TensorView(f32.data(), {0, 5})).values.shape()[0], 0u);
  const std::array<double, 4> four = {1, 2, 3, 4};
  EXPECT_THROW((void)model->predict(TensorView(four.data(), {1, 4})), InvalidArgument);
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

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(TorchScriptModelTest, bad_files_are_load_errors_naming_the_source) {
  const std::string pt = read("fraud_classifier.pt");
  const auto load = [&](const std::string& bytes) {
    return load_error([&] { (void)TorchScriptModel::from_bytes(bytes, {.source = "fraud v7"}); });
  };
  const std::string not_zip = load("not a model");
  EXPECT_TRUE(contains(not_zip, "fraud v7 (torchscript): the bytes are not a TorchScript archive"))
      << not_zip;
  EXPECT_TRUE(contains(load(""), "fraud v7")) << load("");
  // torch.save of a state_dict is a zip too, but no module.
  const std::string state_dict = load(read("state_dict.pt"));
  EXPECT_TRUE(contains(state_dict, "fraud v7 (torchscript): LibTorch cannot load it"))
      << state_dict;
  // Cut anywhere: never loads, never crashes.
  for (std::size_t cut = 1; cut < pt.size(); cut += 61) {
    EXPECT_TRUE(contains(load(pt.substr(0, cut)), "fraud v7")) << "cut at " << cut;
  }
  const std::string file = load_error([&] {
    (void)TorchScriptModel::from_file(kDir + "fraud_classifier.pt", {.class_names = {"one"}});
  });
  EXPECT_TRUE(contains(file, "fraud_classifier.pt (torchscript): 1 class names for 2 classes"))
      << file;
  EXPECT_THROW((void)TorchScriptModel::from_file(kDir + "absent.pt"), NotFound);
  EXPECT_THROW((void)TorchScriptModel::from_bytes(pt, {.threads = 0}), InvalidArgument);
}

TEST(TorchScriptModelTest, flipped_bits_give_a_load_error_or_a_model_never_a_crash) {
  // LibTorch does not check the archive's CRCs, so some damaged files still load (with other
  // weights: the registry's SHA-256 catches a stored artifact that changed); the rest must be
  // LoadErrors. 150 files with 3 flipped bits each, fixed seed.
  const std::string pt = read("fraud_classifier.pt");
  std::mt19937 gen(25);
  std::uniform_int_distribution<std::size_t> byte(0, pt.size() - 1);
  std::uniform_int_distribution<int> bit(0, 7);
  int loaded = 0, refused = 0;
  for (int i = 0; i < 150; ++i) {
    std::string damaged = pt;
    for (int k = 0; k < 3; ++k) damaged[byte(gen)] ^= static_cast<char>(1 << bit(gen));
    try {
      const auto model = TorchScriptModel::from_bytes(damaged, {.source = "flipped"});
      const auto x = inputs();
      try {
        (void)model->predict(row(x, 0));
      } catch (const Error& e) {  // a forward() that now fails, or another declared width
        EXPECT_TRUE(e.code() == ErrorCode::kModelFailed || e.code() == ErrorCode::kInvalidArgument)
            << e.what();
      }
      ++loaded;
    } catch (const LoadError& e) {
      EXPECT_TRUE(contains(e.what(), "flipped (torchscript)")) << e.what();
      ++refused;
    }
  }
  EXPECT_EQ(loaded + refused, 150);
  EXPECT_GT(refused, 0);
}

TEST(TorchScriptModelTest, feature_counts_that_disagree_with_the_signature_are_load_errors) {
  // The module declares 5 features; the options say 4.
  const std::string declared = load_error(
      [&] { (void)TorchScriptModel::from_file(kDir + "fraud_classifier.pt", {.n_features = 4}); });
  EXPECT_TRUE(contains(declared,
                       "fraud_classifier.pt (torchscript): the module declares 5 "
                       "features, expected 4"))
      << declared;
  // A traced module declares nothing: without a count it cannot load, and with a wrong one its
  // forward() fails on the row of zeros the load runs.
  const std::string unknown =
      load_error([&] { (void)TorchScriptModel::from_file(kDir + "amount_regressor.pt"); });
  EXPECT_TRUE(contains(unknown, "declares no n_features attribute")) << unknown;
  const std::string wrong = load_error(
      [&] { (void)TorchScriptModel::from_file(kDir + "amount_regressor.pt", {.n_features = 4}); });
  EXPECT_TRUE(contains(wrong,
                       "amount_regressor.pt (torchscript): forward() fails on a row of 4 "
                       "zeros"))
      << wrong;
  const std::string names = load_error([&] {
    (void)TorchScriptModel::from_file(kDir + "amount_regressor.pt",
                                      {.n_features = 5, .feature_names = {"a", "b"}});
  });
  EXPECT_TRUE(contains(names, "2 feature names for 5 features")) << names;
}

TEST(TorchScriptModelTest, a_module_that_throws_is_a_model_failure_naming_the_source) {
  const auto model = TorchScriptModel::from_file(kDir + "nan_guard.pt", {.source = "guard v2"});
  auto x = inputs();
  EXPECT_TRUE(matches(model->predict(row(x, 3)), "nan_guard", 3));
  x[3 * kFeatures + 1] = std::numeric_limits<float>::quiet_NaN();
  try {
    (void)model->predict(row(x, 3));
    FAIL() << "forward() raised but predict() returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelFailed);
    EXPECT_TRUE(contains(e.what(), "guard v2: forward() threw")) << e.what();
    EXPECT_TRUE(contains(e.what(), "NanGuard: a feature is NaN")) << e.what();
  }
  EXPECT_TRUE(matches(model->predict(row(x, 4)), "nan_guard", 4));  // and it keeps serving
}

TEST(TorchScriptModelTest, two_request_threads_predict_at_once_with_the_reference_answers) {
  const auto model = TorchScriptModel::from_file(kDir + "fraud_classifier.pt");
  const auto x = inputs();
  std::latch start(2);
  std::array<int, 2> wrong{};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 200; ++i) {
        const std::size_t r = static_cast<std::size_t>(i + t) % kRows;
        if (!matches(model->predict(row(x, r)), "fraud_classifier", r)) ++wrong[t];
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
    register_torchscript_format(loader);
    registry.reset();
    registry = std::make_unique<ModelRegistry>(ModelRegistry::Options{
        .store = store.get(), .artifacts = artifacts.get(), .loader = &loader, .clock = &clock});
  }
  std::int64_t promote(const std::string& bytes) {
    const auto v = registry->register_version(kModel, {"torchscript", bytes}, {}, {.actor = "ci"});
    registry->transition(kModel, v->version, Stage::kStaging, {.actor = "ci"});
    registry->transition(kModel, v->version, Stage::kProduction, {.actor = "ci"});
    return v->version;
  }
};

TEST(TorchScriptRegistryTest, format_is_registered_once) {
  ModelLoader loader;
  register_torchscript_format(loader);
  EXPECT_TRUE(loader.has_format("torchscript"));
  EXPECT_THROW(register_torchscript_format(loader), AlreadyExists);
}

TEST(TorchScriptRegistryTest, a_failed_load_never_replaces_the_serving_version) {
  Registered f;
  const auto v1 = f.promote(read("fraud_classifier.pt"));
  Deployment deployment({.model = kModel, .source = f.registry.get()});
  RegistryBinding follow({.registry = f.registry.get(), .deployment = &deployment});
  const auto x = inputs();
  const std::string pt = read("fraud_classifier_v2.pt");
  // Not a module, truncated, a traced module with no declared feature count: none registers.
  for (const std::string& bad : {std::string("not a model"), pt.substr(0, pt.size() / 2),
                                 read("amount_regressor.pt"), read("state_dict.pt")}) {
    try {
      (void)f.registry->register_version(kModel, {"torchscript", bad}, {}, {.actor = "ci"});
      ADD_FAILURE() << "registered a bad artifact";
    } catch (const LoadError& e) {
      EXPECT_TRUE(contains(e.what(), "torchscript")) << e.what();
    }
  }
  EXPECT_EQ(f.registry->versions(kModel).size(), 1u);
  for (std::size_t r = 0; r < kRows; ++r) {
    auto answer = deployment.predict({.key = "user-" + std::to_string(r), .input = row(x, r)});
    ASSERT_TRUE(answer.ok()) << answer.status().message();
    EXPECT_EQ(answer->version, v1);
    EXPECT_TRUE(matches(answer->prediction, "fraud_classifier", r)) << "row " << r;
  }
  const std::array<double, 4> four = {1, 2, 3, 4};
  auto rejected = deployment.predict({.key = "u", .input = TensorView(four.data(), {1, 4})});
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.status().code(), ErrorCode::kInvalidArgument);
}

TEST(TorchScriptRegistryTest, requests_never_fail_while_production_moves_to_a_new_version) {
  // Two request threads keep predicting while v2 is registered and promoted: every answer is
  // ok, comes from v1 or v2, and each version's answers are PyTorch's reference values.
  Registered f;
  const auto v1 = f.promote(read("fraud_classifier.pt"));
  Deployment deployment({.model = kModel, .source = f.registry.get()});
  RegistryBinding follow({.registry = f.registry.get(), .deployment = &deployment});
  const auto x = inputs();
  const std::string v2_bytes = read("fraud_classifier_v2.pt");

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
        auto a = deployment.predict({.key = "user", .input = row(x, r)});
        if (!a.ok()) {
          ++failed[t];
        } else if (a->version == v1) {
          if (!matches(a->prediction, "fraud_classifier", r)) ++wrong[t];
        } else if (a->version == v2) {
          if (!matches(a->prediction, "fraud_classifier_v2", r)) ++wrong[t];
          ++after_v2[t];
        } else {
          ++wrong[t];
        }
      }
    });
  }
  start.arrive_and_wait();
  EXPECT_EQ(f.promote(v2_bytes), v2);
  for (auto& th : threads) th.join();
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ(failed[t], 0) << "thread " << t;
    EXPECT_EQ(wrong[t], 0) << "thread " << t;
    EXPECT_EQ(after_v2[t], 50) << "thread " << t;
  }
}

}  // namespace torchscript_model_test
}  // namespace switchyard
