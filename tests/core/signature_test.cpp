// SPDX-License-Identifier: Apache-2.0
// Signature enforcement (MLflow's rules), tensor views, names, status values, clocks and events.
#include <switchyard/core/signature.hpp>

#include <gtest/gtest.h>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/core/status.hpp>
#include <switchyard/core/tensor.hpp>

namespace switchyard {
namespace {

Signature two_inputs() {
  Signature s;
  s.inputs = {{"amount", DType::kFloat64, {-1, 1}}, {"merchant", DType::kInt64, {-1, 4}}};
  return s;
}

TEST(SignatureTest, named_inputs_are_matched_by_name_and_extras_ignored) {
  const double amount[2] = {10, 20};
  const std::int64_t merchant[8] = {};
  const float extra[2] = {};
  NamedTensor in[] = {{"extra", TensorView(extra, Shape{2, 1})},
                      {"merchant", TensorView(merchant, Shape{2, 4})},
                      {"amount", TensorView(amount, Shape{2, 1})}};
  EXPECT_TRUE(two_inputs().check(ModelInput(std::span<const NamedTensor>(in))).ok());
}

TEST(SignatureTest, missing_input_is_an_error_naming_it) {
  const double amount[2] = {10, 20};
  NamedTensor in[] = {{"amount", TensorView(amount, Shape{2, 1})}};
  Status s = two_inputs().check(ModelInput(std::span<const NamedTensor>(in)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("merchant"), std::string::npos) << s.message();
  // An unnamed single tensor cannot stand for two named inputs.
  EXPECT_FALSE(two_inputs().check(TensorView(amount, Shape{2, 1})).ok());
}

TEST(SignatureTest, only_lossless_conversions_are_accepted) {
  Signature s;
  s.inputs = {{"x", DType::kFloat64, {-1, 2}}};
  const bool b[2] = {};
  const std::int32_t i32[2] = {};
  const float f32[2] = {};
  const std::int64_t i64[2] = {};
  EXPECT_TRUE(s.check(TensorView(b, Shape{1, 2})).ok());
  EXPECT_TRUE(s.check(TensorView(i32, Shape{1, 2})).ok());
  EXPECT_TRUE(s.check(TensorView(f32, Shape{1, 2})).ok());
  Status lossy = s.check(TensorView(i64, Shape{1, 2}));
  EXPECT_FALSE(lossy.ok());
  EXPECT_NE(lossy.message().find("int64"), std::string::npos);
  Signature f;
  f.inputs = {{"x", DType::kFloat32, {-1, 2}}};
  const double f64[2] = {};
  EXPECT_FALSE(f.check(TensorView(f64, Shape{1, 2})).ok()) << "float64 -> float32 loses precision";
  EXPECT_TRUE(is_lossless_conversion(DType::kInt32, DType::kInt64));
  EXPECT_FALSE(is_lossless_conversion(DType::kInt64, DType::kInt32));
}

TEST(SignatureTest, shapes_with_any_dimension) {
  Signature s;
  s.inputs = {{"x", DType::kFloat64, {-1, 3}}};
  const double x[12] = {};
  EXPECT_TRUE(s.check(TensorView(x, Shape{4, 3})).ok());
  EXPECT_TRUE(s.check(TensorView(x, Shape{1, 3})).ok());
  Status wrong = s.check(TensorView(x, Shape{3, 4}));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("[3, 4]"), std::string::npos) << wrong.message();
  EXPECT_NE(wrong.message().find("[-1, 3]"), std::string::npos) << wrong.message();
  EXPECT_FALSE(s.check(TensorView(x, Shape{12})).ok()) << "rank must match";
  EXPECT_TRUE(Signature{}.check(TensorView(x, Shape{12})).ok()) << "empty signature accepts all";
}

TEST(SignatureTest, incompatibilities_with_the_previous_version) {
  Signature old_sig;
  old_sig.inputs = {{"x", DType::kFloat32, {-1, 3}}};
  old_sig.outputs = {{"p", DType::kFloat64, {-1, 1}}};
  Signature widened = old_sig;
  widened.inputs[0].dtype = DType::kFloat64;  // float32 callers still fit
  EXPECT_TRUE(widened.incompatibilities_with(old_sig).empty());
  Signature more = old_sig;
  more.inputs.push_back({"y", DType::kFloat64, {-1, 1}});
  more.outputs.clear();
  auto problems = more.incompatibilities_with(old_sig);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("'y'"), std::string::npos);
  EXPECT_NE(problems[1].find("'p' was removed"), std::string::npos);
}

TEST(TensorViewTest, xtensor_view_reads_the_callers_memory_without_copying) {
  double data[6] = {1, 2, 3, 4, 5, 6};
  TensorView v(static_cast<const double*>(data), Shape{2, 3});
  auto x = v.as_xtensor<double, 2>();
  EXPECT_EQ(&x(0, 0), data);
  data[5] = 42;
  EXPECT_EQ(x(1, 2), 42);
  EXPECT_EQ(v.batch(), 2u);
  EXPECT_THROW((v.as_xtensor<float, 2>()), InvalidArgument);
  EXPECT_THROW((v.as_xtensor<double, 3>()), InvalidArgument);
  EXPECT_THROW((Shape{1, 2, 3, 4, 5}), InvalidArgument);
  EXPECT_EQ(dtype_from_string("int32"), DType::kInt32);
  EXPECT_THROW(dtype_from_string("complex128"), InvalidArgument);
}

TEST(NamesTest, model_names_follow_domain_task_and_reject_path_tricks) {
  EXPECT_NO_THROW(validate_model_name("fraud-detection"));
  EXPECT_NO_THROW(validate_model_name("churn-predictor.v2_eu"));
  for (const char* bad : {"", "fraud", "-fraud", "fraud-", "../x-y", "a/b-c", "a\\b-c", "a b-c",
                          "x-\x01", "x..y-z"}) {
    EXPECT_THROW(validate_model_name(bad), InvalidArgument) << bad;
  }
  EXPECT_NO_THROW(validate_model_name("sentiment", {.require_domain_task = false}));
  EXPECT_THROW(validate_model_name(std::string(129, 'a') + "-b"), InvalidArgument);
  try {
    validate_model_name("bad\nname-x");
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("\\x0a"), std::string::npos) << "control chars escaped";
  }
  EXPECT_THROW(validate_alias("123"), InvalidArgument);
  EXPECT_NO_THROW(validate_alias("champion"));
}

TEST(StatusTest, status_or_carries_a_value_or_a_typed_error) {
  StatusOr<int> ok = 7;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 7);
  StatusOr<int> bad = Status(ErrorCode::kNotFound, "model 'x' version 3");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), ErrorCode::kNotFound);
  EXPECT_THROW(bad.value(), NotFound);
  EXPECT_EQ(to_string(ErrorCode::kNoActiveModel), "no_active_model");
}

TEST(ClockTest, manual_clock_moves_only_when_told) {
  ManualClock c(from_unix_nanos(1000));
  EXPECT_EQ(to_unix_nanos(c.now()), 1000);
  c.advance(std::chrono::seconds(2));
  EXPECT_EQ(to_unix_nanos(c.now()), 2'000'001'000);
  c.set(from_unix_nanos(5));
  EXPECT_EQ(to_unix_nanos(c.now()), 5);
  EXPECT_GT(system_clock().now(), from_unix_nanos(1'700'000'000'000'000'000));
}

TEST(EventHubTest, a_throwing_slot_is_reported_and_later_slots_still_run) {
  EventHub hub;
  std::vector<std::string> errors;
  hub.set_error_handler(
      [&](std::string_view signal, const std::exception& e) {
        errors.push_back(std::string(signal) + ": " + e.what());
      });
  int after = 0;
  hub.stage_changed.connect([](const RegistryEvent&) { throw std::runtime_error("boom"); });
  hub.stage_changed.connect([](const RegistryEvent&) { throw 42; });
  hub.stage_changed.connect([&](const RegistryEvent&) { ++after; });
  RegistryEvent e;
  EXPECT_NO_THROW(hub.stage_changed(e));
  EXPECT_EQ(after, 1);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "stage_changed: boom");
  EXPECT_FALSE(hub.predictions_wanted());
  auto c = hub.connect_prediction([](const PredictionEvent&) {});
  EXPECT_TRUE(hub.predictions_wanted());
}

}  // namespace
}  // namespace switchyard
