// SPDX-License-Identifier: Apache-2.0
// Tests for ModelLoader, and the whole pipeline: model -> artifact -> store -> loader -> predict.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/models/model_loader.hpp>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace switchyard {
namespace {

using testing::error_message;

LinearModel small_linear() {
  Eigen::MatrixXd w(2, 1);
  w << 2.0, -1.0;
  return LinearModel(w, Eigen::VectorXd::Constant(1, 0.5));
}

TEST(ModelLoaderTest, builtin_linear_format_is_registered) {
  const ModelLoader loader;
  EXPECT_TRUE(loader.has_format("switchyard.linear"));
  EXPECT_EQ(loader.formats(), std::vector<std::string>{"switchyard.linear"});
  const ModelPtr model = loader.load("switchyard.linear", small_linear().to_artifact());
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->format(), "switchyard.linear");
  const std::array<double, 2> row = {3.0, 2.0};
  EXPECT_DOUBLE_EQ(model->predict(TensorView(row.data(), {1, 2})).values(0, 0), 4.5);
}

TEST(ModelLoaderTest, builtin_format_loads_logistic_models_too) {
  const ModelLoader loader;
  const LogisticModel original(Eigen::MatrixXd::Identity(2, 2), Eigen::VectorXd::Zero(2),
                               {"no", "yes"});
  const ModelPtr model = loader.load("switchyard.linear", original.to_artifact());
  const auto* logistic = dynamic_cast<const LogisticModel*>(model.get());
  ASSERT_NE(logistic, nullptr);
  EXPECT_EQ(*logistic, original);
}

TEST(ModelLoaderTest, unknown_format_is_not_found_naming_it) {
  const ModelLoader loader;
  const std::string message = error_message<NotFound>([&] { loader.load("onnx", "bytes"); });
  EXPECT_NE(message.find("'onnx'"), std::string::npos) << message;
}

TEST(ModelLoaderTest, corrupt_builtin_artifact_names_format_and_cause) {
  const ModelLoader loader;
  std::string bytes = small_linear().to_artifact();
  bytes.resize(bytes.size() / 2);
  const std::string message =
      error_message<LoadError>([&] { loader.load("switchyard.linear", bytes); });
  EXPECT_NE(message.find("format 'switchyard.linear'"), std::string::npos) << message;
  EXPECT_NE(message.find("checksum"), std::string::npos) << message;
}

TEST(ModelLoaderTest, any_factory_exception_becomes_load_error_with_the_cause_nested) {
  ModelLoader loader;
  loader.register_format("acme.std", [](std::string_view) -> ModelPtr {
    throw std::out_of_range("tree 7 has no root");
  });
  loader.register_format("acme.int", [](std::string_view) -> ModelPtr { throw 42; });
  loader.register_format("acme.null", [](std::string_view) -> ModelPtr { return nullptr; });

  try {
    loader.load("acme.std", "");
    ADD_FAILURE() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("format 'acme.std': tree 7 has no root"),
              std::string::npos)
        << e.what();
    EXPECT_THROW(std::rethrow_if_nested(e), std::out_of_range);
  }
  EXPECT_NE(error_message<LoadError>([&] { loader.load("acme.int", ""); }).find("non-standard"),
            std::string::npos);
  EXPECT_NE(error_message<LoadError>([&] { loader.load("acme.null", ""); }).find("no model"),
            std::string::npos);
}

TEST(ModelLoaderTest, registration_is_checked_and_replaceable) {
  ModelLoader loader;
  auto factory = [](std::string_view bytes) -> ModelPtr { return load_linear_artifact(bytes); };
  EXPECT_THROW(loader.register_format("", factory), InvalidArgument);
  EXPECT_THROW(loader.register_format("x", ModelLoader::Factory{}), InvalidArgument);
  EXPECT_NE(error_message<AlreadyExists>([&] {
              loader.register_format("switchyard.linear", factory);
            }).find("'switchyard.linear'"),
            std::string::npos);

  EXPECT_TRUE(loader.unregister_format("switchyard.linear"));
  EXPECT_FALSE(loader.unregister_format("switchyard.linear"));
  EXPECT_THROW(loader.load("switchyard.linear", small_linear().to_artifact()), NotFound);
  std::atomic<int> calls{0};
  loader.register_format("switchyard.linear", [&](std::string_view bytes) {
    ++calls;
    return load_linear_artifact(bytes);
  });
  loader.load("switchyard.linear", small_linear().to_artifact());
  EXPECT_EQ(calls.load(), 1);
}

TEST(ModelLoaderTest, a_factory_may_use_the_loader_itself) {
  ModelLoader loader;
  loader.register_format("wrapped.linear", [&loader](std::string_view bytes) {
    return loader.load("switchyard.linear", bytes);  // would deadlock if load held the lock
  });
  EXPECT_NE(loader.load("wrapped.linear", small_linear().to_artifact()), nullptr);
}

TEST(ModelLoaderTest, registration_and_loading_may_race) {
  ModelLoader loader;
  const std::string bytes = small_linear().to_artifact();
  constexpr int kLoaders = 3;
  std::latch start(kLoaders + 1);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    start.arrive_and_wait();
    for (int i = 0; i < 500; ++i) {
      const std::string name = "host.format." + std::to_string(i % 7);
      if (!loader.unregister_format(name)) {
        loader.register_format(name, [](std::string_view b) { return load_linear_artifact(b); });
      }
    }
  });
  for (int t = 0; t < kLoaders; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < 200; ++i) {
        try {
          if (loader.load("switchyard.linear", bytes) == nullptr) ++failures;
          loader.load("host.format.3", bytes);  // present or absent, never anything else
        } catch (const NotFound&) {
        } catch (...) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ModelLoaderTest, model_survives_the_whole_artifact_pipeline) {
  testing::TempDir dir;
  ArtifactStore store(dir.path());
  const ModelLoader loader;
  LogisticModel original(Eigen::MatrixXd::Identity(3, 3), Eigen::VectorXd::Zero(3),
                         {"red", "green", "blue"});

  const ArtifactRef ref = store.put(original.to_artifact(), std::string(original.format()));
  const ModelPtr loaded = loader.load(ref.format, store.read(ref));

  const std::array<double, 3> row = {0.0, std::log(2.0), std::log(5.0)};
  const Prediction a = original.predict(TensorView(row.data(), {1, 3}));
  const Prediction b = loaded->predict(TensorView(row.data(), {1, 3}));
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.confidence, b.confidence);
  EXPECT_EQ(loaded->signature(), original.signature());
}

}  // namespace
}  // namespace switchyard
