// SPDX-License-Identifier: Apache-2.0
// Tests for the "switchyard.linear" artifact format: round trips, and damaged or hostile bytes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/models/linear_model.hpp>

#include "test_support.hpp"

namespace switchyard {
namespace {

using testing::error_message;

// Offsets in a version-1 artifact (layout documented in linear_model-inl.hpp): 8 bytes of magic,
// cereal's byte-order flag, the u64 length and 17 bytes of "switchyard.linear", the u32 version,
// the u8 kind, then the u64 feature and output counts and the weights.
constexpr std::size_t kFlagOffset = 8;
constexpr std::size_t kNameLengthOffset = 9;
constexpr std::size_t kVersionOffset = 34;
constexpr std::size_t kKindOffset = 38;
constexpr std::size_t kFeaturesOffset = 39;
constexpr std::size_t kOutputsOffset = 47;
constexpr std::size_t kWeightsOffset = 55;
constexpr std::size_t kChecksumSize = 32;

template <class T>
void put_le(std::string& bytes, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    bytes[offset + i] = static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff);
  }
}

// Recomputes the trailing checksum, so a test can reach the parser with deliberately bad fields.
std::string reseal(std::string bytes) {
  const std::string body = bytes.substr(0, bytes.size() - kChecksumSize);
  return body + detail::sha256_raw(body);
}

LinearModel sample_linear() {
  Eigen::MatrixXd w(3, 2);
  // Values chosen to catch lossy encodings: non-terminating binary fractions, -0.0, a
  // subnormal, and the largest finite double.
  w << 0.1, -0.0, 1.0 / 3.0, std::numeric_limits<double>::denorm_min(),
      std::numeric_limits<double>::max(), -2.5e-300;
  Eigen::VectorXd b(2);
  b << 0.7, -1e10;
  return LinearModel(w, b);
}

LogisticModel sample_logistic() {
  Eigen::MatrixXd w(2, 3);
  w << 0.25, -0.5, 1.75, 3.0, 0.0, -1.0;
  LogisticModel m(w, Eigen::VectorXd::Constant(3, 0.125), {"low", "medium", "high"});
  Signature s = m.signature();
  s.inputs[0].name = "applicant";
  m.set_signature(s);
  return m;
}

TEST(LinearArtifactTest, linear_round_trip_is_bit_exact) {
  const LinearModel original = sample_linear();
  const std::string bytes = original.to_artifact();
  const LinearModel loaded = LinearModel::from_artifact(bytes);
  EXPECT_EQ(loaded, original);
  EXPECT_EQ(loaded.signature(), original.signature());
  EXPECT_TRUE(std::signbit(loaded.weights()(0, 1))) << "-0.0 must survive";
  EXPECT_EQ(loaded.weights()(1, 1), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(loaded.to_artifact(), bytes) << "re-serialising must give the same bytes";
}

TEST(LinearArtifactTest, logistic_round_trip_keeps_class_names_and_renamed_signature) {
  const LogisticModel original = sample_logistic();
  const LogisticModel loaded = LogisticModel::from_artifact(original.to_artifact());
  EXPECT_EQ(loaded, original);
  EXPECT_EQ(loaded.signature().class_names, (std::vector<std::string>{"low", "medium", "high"}));
  EXPECT_EQ(loaded.signature().inputs[0].name, "applicant");
}

TEST(LinearArtifactTest, equal_models_give_equal_bytes_with_magic_and_format_name) {
  const std::string a = sample_linear().to_artifact();
  EXPECT_EQ(a, sample_linear().to_artifact());
  EXPECT_EQ(a.substr(0, 8), std::string("\x89SWY\r\n\x1a\n", 8));
  EXPECT_EQ(a.substr(17, 17), "switchyard.linear");
  EXPECT_EQ(static_cast<unsigned char>(a[kKindOffset]), 0u);
  EXPECT_EQ(static_cast<unsigned char>(sample_logistic().to_artifact()[kKindOffset]), 1u);
}

TEST(LinearArtifactTest, load_linear_artifact_returns_the_stored_kind) {
  const ModelPtr linear = load_linear_artifact(sample_linear().to_artifact());
  const ModelPtr logistic = load_linear_artifact(sample_logistic().to_artifact());
  ASSERT_NE(dynamic_cast<const LinearModel*>(linear.get()), nullptr);
  ASSERT_NE(dynamic_cast<const LogisticModel*>(logistic.get()), nullptr);
  EXPECT_EQ(*dynamic_cast<const LogisticModel*>(logistic.get()), sample_logistic());
}

TEST(LinearArtifactTest, from_artifact_of_the_other_kind_names_it) {
  const std::string logistic = sample_logistic().to_artifact();
  EXPECT_NE(error_message<LoadError>([&] {
              LinearModel::from_artifact(logistic);
            }).find("holds a LogisticModel, not a LinearModel"),
            std::string::npos);
  const std::string linear = sample_linear().to_artifact();
  EXPECT_NE(error_message<LoadError>([&] {
              LogisticModel::from_artifact(linear);
            }).find("holds a LinearModel, not a LogisticModel"),
            std::string::npos);
}

TEST(LinearArtifactTest, foreign_bytes_are_rejected_as_not_an_artifact) {
  for (const std::string& foreign :
       {std::string("hello world, this is not a model at all"), std::string("{\"w\": [1, 2]}"),
        std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), std::string(100, '\0')}) {
    EXPECT_NE(
        error_message<LoadError>([&] { load_linear_artifact(foreign); }).find("not a Switchyard"),
        std::string::npos)
        << foreign;
  }
  EXPECT_NE(error_message<LoadError>([] { load_linear_artifact(""); }).find("truncated"),
            std::string::npos);
}

TEST(LinearArtifactTest, every_truncation_throws_load_error) {
  const std::string bytes = sample_logistic().to_artifact();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const std::string message =
        error_message<LoadError>([&] { load_linear_artifact(bytes.substr(0, n)); });
    EXPECT_TRUE(message.find("truncated") != std::string::npos ||
                message.find("checksum") != std::string::npos)
        << "prefix of " << n << " bytes: " << message;
  }
}

TEST(LinearArtifactTest, every_flipped_byte_throws_load_error) {
  const std::string bytes = sample_logistic().to_artifact();
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ mask);
      EXPECT_THROW(load_linear_artifact(damaged), LoadError) << "byte " << i << " mask " << +mask;
    }
  }
}

// With the checksum recomputed, flips reach the parser itself: each must give a LoadError or a
// valid model that serialises back to exactly the bytes it came from (never a crash, never
// another exception, never a silently different reading).
TEST(LinearArtifactTest, resealed_flips_give_load_error_or_a_faithful_model) {
  const std::string bytes = sample_logistic().to_artifact();
  int rejected = 0;
  int accepted = 0;
  for (std::size_t i = kFlagOffset; i < bytes.size() - kChecksumSize; ++i) {
    for (unsigned char mask : {0x01, 0x40, 0xff}) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ mask);
      damaged = reseal(damaged);
      try {
        const ModelPtr m = load_linear_artifact(damaged);
        const auto* logistic = dynamic_cast<const LogisticModel*>(m.get());
        const auto* linear = dynamic_cast<const LinearModel*>(m.get());
        ASSERT_TRUE(logistic != nullptr || linear != nullptr);
        EXPECT_EQ(logistic ? logistic->to_artifact() : linear->to_artifact(), damaged)
            << "byte " << i << " mask " << +mask;
        ++accepted;
      } catch (const LoadError&) {
        ++rejected;
      }
    }
  }
  // Both paths were exercised: header damage is rejected, most weight flips stay valid models.
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

TEST(LinearArtifactTest, hostile_dimensions_never_allocate_and_name_the_problem) {
  const std::string bytes = sample_linear().to_artifact();
  std::string huge = bytes;
  put_le<std::uint64_t>(huge, kFeaturesOffset, std::uint64_t{1} << 40);
  put_le<std::uint64_t>(huge, kOutputsOffset, std::uint64_t{1} << 40);
  EXPECT_NE(
      error_message<LoadError>([&] { load_linear_artifact(reseal(huge)); }).find("weights of"),
      std::string::npos);

  // Within the element cap but far beyond the bytes present: refused before allocating.
  std::string long_claim = bytes;
  put_le<std::uint64_t>(long_claim, kFeaturesOffset, 100'000'000);
  put_le<std::uint64_t>(long_claim, kOutputsOffset, 1);
  const std::string message =
      error_message<LoadError>([&] { load_linear_artifact(reseal(long_claim)); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("800000008 bytes"), std::string::npos) << message;

  std::string zero = bytes;
  put_le<std::uint64_t>(zero, kOutputsOffset, 0);
  EXPECT_NE(error_message<LoadError>([&] { load_linear_artifact(reseal(zero)); }).find("x 0"),
            std::string::npos);

  std::string name_length = bytes;
  put_le<std::uint64_t>(name_length, kNameLengthOffset, std::uint64_t{1} << 62);
  EXPECT_NE(error_message<LoadError>([&] { load_linear_artifact(name_length); }).find("claims"),
            std::string::npos);
}

TEST(LinearArtifactTest, newer_format_version_is_refused_by_number) {
  std::string bytes = sample_linear().to_artifact();
  put_le<std::uint32_t>(bytes, kVersionOffset, 2);
  const std::string message =
      error_message<LoadError>([&] { load_linear_artifact(reseal(bytes)); });
  EXPECT_NE(message.find("format version 2"), std::string::npos) << message;
  EXPECT_NE(message.find("versions 1 to 1"), std::string::npos) << message;
}

TEST(LinearArtifactTest, other_format_name_is_named) {
  std::string bytes = sample_linear().to_artifact();
  bytes[33] = 'X';  // "switchyard.lineaX"
  EXPECT_NE(error_message<LoadError>([&] {
              load_linear_artifact(bytes);
            }).find("artifact format is 'switchyard.lineaX'"),
            std::string::npos);
}

TEST(LinearArtifactTest, bad_kind_flag_and_trailing_bytes_are_corruption) {
  const std::string bytes = sample_linear().to_artifact();
  std::string kind = bytes;
  kind[kKindOffset] = 7;
  EXPECT_NE(
      error_message<LoadError>([&] { load_linear_artifact(reseal(kind)); }).find("model kind 7"),
      std::string::npos);

  std::string flag = bytes;
  flag[kFlagOffset] = 2;
  EXPECT_NE(error_message<LoadError>([&] { load_linear_artifact(flag); }).find("byte-order flag"),
            std::string::npos);

  std::string trailing = bytes.substr(0, bytes.size() - kChecksumSize) + "extra";
  trailing += std::string(kChecksumSize, '\0');
  EXPECT_NE(error_message<LoadError>([&] {
              load_linear_artifact(reseal(trailing));
            }).find("5 unexpected bytes"),
            std::string::npos);
}

TEST(LinearArtifactTest, nan_weight_in_artifact_is_an_invalid_model) {
  std::string bytes = sample_linear().to_artifact();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::uint64_t bits = 0;
  std::memcpy(&bits, &nan, sizeof(bits));
  put_le<std::uint64_t>(bytes, kWeightsOffset + 8, bits);  // weights(1, 0)
  const std::string message =
      error_message<LoadError>([&] { load_linear_artifact(reseal(bytes)); });
  EXPECT_NE(message.find("invalid model"), std::string::npos) << message;
  EXPECT_NE(message.find("weights(1, 0) is NaN"), std::string::npos) << message;
}

}  // namespace
}  // namespace switchyard
