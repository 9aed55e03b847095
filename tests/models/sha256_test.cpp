// SPDX-License-Identifier: Apache-2.0
// Tests for detail::sha256_hex against the FIPS 180-2 test vectors, and for the base64 codec
// against RFC 4648's.
#include <gtest/gtest.h>

#include <string>
#include <switchyard/core/error.hpp>
#include <switchyard/detail/base64.hpp>
#include <switchyard/detail/sha256.hpp>

namespace switchyard::detail {
namespace {

// Expected digests: FIPS 180-2, Appendix B (B.1 "abc", B.2 the 448-bit message, B.3 one
// million 'a'); the empty-message digest is the well-known SHA-256 of zero bytes, as printed by
// `sha256sum /dev/null` (GNU coreutils 9.1).
TEST(Sha256Test, matches_fips_180_2_one_block_message) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, matches_empty_message_digest) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, matches_fips_180_2_multi_block_448_bit_message) {
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, matches_fips_180_2_long_message) {
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, hashes_embedded_nul_bytes) {
  const std::string with_nul("a\0b", 3);
  EXPECT_NE(sha256_hex(with_nul), sha256_hex("a"));
  EXPECT_EQ(sha256_raw(with_nul).size(), 32u);
}

TEST(Sha256Test, recognises_only_lowercase_hex_names) {
  EXPECT_TRUE(is_sha256_hex(sha256_hex("abc")));
  EXPECT_FALSE(is_sha256_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
  EXPECT_FALSE(is_sha256_hex("ba7816bf"));
  EXPECT_FALSE(is_sha256_hex("../../../../../../../../../../../../../../../../../../etc/passwd"));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a') + "/"));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a') + std::string(1, '\0')));
}

// RFC 4648, section 10 (test vectors), standard alphabet with padding.
TEST(Base64Test, matches_rfc_4648_test_vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded) << plain;
    EXPECT_EQ(base64_decode(encoded, "test"), plain) << encoded;
  }
}

TEST(Base64Test, round_trips_every_byte_value) {
  std::string bytes;
  for (int i = 0; i < 256 * 3 + 1; ++i) bytes.push_back(static_cast<char>(i % 256));
  EXPECT_EQ(base64_decode(base64_encode(bytes), "test"), bytes);
}

TEST(Base64Test, refuses_anything_but_strict_padded_base64) {
  for (const char* bad : {"Zg", "Zg=", "Z===", "Zm9v\n", " Zm9v", "Zm9v====", "Zg==Zg==", "Zm-_",
                          "Zm9=v", "=Zm9", "Zm\x80v"}) {
    try {
      (void)base64_decode(bad, "artifact x");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("artifact x is not padded base64"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace switchyard::detail
