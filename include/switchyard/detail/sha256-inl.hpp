// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of sha256.hpp.
#pragma once

#include <openssl/err.h>
#include <openssl/evp.h>

#include <stdexcept>
#include <switchyard/core/error.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/detail/sha256.hpp>

namespace switchyard::detail {

SWITCHYARD_INLINE std::string sha256_raw(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1 ||
      length != 32) {
    char reason[256] = "unknown error";
    if (unsigned long code = ERR_get_error(); code != 0) {
      ERR_error_string_n(code, reason, sizeof(reason));
    }
    throw std::runtime_error(std::string("libcrypto could not compute SHA-256: ") + reason);
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

SWITCHYARD_INLINE std::string sha256_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string raw = sha256_raw(bytes);
  std::string hex(kSha256HexLength, '0');
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto b = static_cast<unsigned char>(raw[i]);
    hex[2 * i] = kHex[b >> 4];
    hex[2 * i + 1] = kHex[b & 0x0f];
  }
  return hex;
}

SWITCHYARD_INLINE void require_sha256_hex(std::string_view text, std::string_view context) {
  if (!is_sha256_hex(text)) {
    throw InvalidArgument(std::string(context) + "artifact sha256 '" + printable(text) +
                          "' is not 64 lowercase hex characters");
  }
}

}  // namespace switchyard::detail
