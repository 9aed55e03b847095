// SPDX-License-Identifier: Apache-2.0
// SHA-256 digests (OpenSSL libcrypto's EVP API) as lowercase hex, the names of artifacts.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>

namespace switchyard::detail {

/// Length of a SHA-256 digest written as hex.
inline constexpr std::size_t kSha256HexLength = 64;

/// The SHA-256 digest of `bytes` as 64 lowercase hex characters (FIPS 180-4), computed with
/// libcrypto's EVP interface. Thread-safe. Throws std::runtime_error only if libcrypto itself
/// fails (out of memory, or no provider supplies SHA-256).
SWITCHYARD_API std::string sha256_hex(std::string_view bytes);

/// The raw 32-byte SHA-256 digest of `bytes`; same guarantees as sha256_hex().
SWITCHYARD_API std::string sha256_raw(std::string_view bytes);

/// True when `text` is exactly 64 lowercase hex characters: the only form Switchyard accepts as
/// an artifact name, so a name can never carry a path ("../", "/", NUL...).
constexpr bool is_sha256_hex(std::string_view text) noexcept {
  if (text.size() != kSha256HexLength) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

/// Throws InvalidArgument ("<context>artifact sha256 '<text>' is not 64 lowercase hex
/// characters") unless is_sha256_hex(text).
SWITCHYARD_API void require_sha256_hex(std::string_view text, std::string_view context = {});

}  // namespace switchyard::detail

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/detail/sha256-inl.hpp>
#endif
