// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of base64.hpp.
#pragma once

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <switchyard/core/error.hpp>
#include <switchyard/detail/base64.hpp>

namespace switchyard::detail {

SWITCHYARD_INLINE std::string base64_encode(std::string_view bytes) {
  // EVP_EncodeBlock takes an int length: encode whole 3-byte groups, at most 48 MiB at a time.
  constexpr std::size_t kChunk = std::size_t{3} << 24;
  std::string out;
  out.reserve(4 * ((bytes.size() + 2) / 3) + 1);
  for (std::size_t at = 0; at < bytes.size(); at += kChunk) {
    const std::size_t n = std::min(kChunk, bytes.size() - at);
    const std::size_t old = out.size();
    out.resize(old + 4 * ((n + 2) / 3) + 1);  // EVP_EncodeBlock writes a terminating NUL
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + old),
                                        reinterpret_cast<const unsigned char*>(bytes.data() + at),
                                        static_cast<int>(n));
    out.resize(old + static_cast<std::size_t>(written));
  }
  return out;
}

SWITCHYARD_INLINE std::string base64_decode(std::string_view text, std::string_view what) {
  auto fail = [&](const std::string& why) -> void {
    throw InvalidArgument(std::string(what) + " is not padded base64: " + why);
  };
  if (text.size() % 4 != 0) {
    fail("its length " + std::to_string(text.size()) + " is not a multiple of 4");
  }
  if (text.size() > static_cast<std::size_t>(INT_MAX)) fail("it is too long");
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (alphabet && padding == 0) continue;
    if (c == '=' && i + 2 >= text.size()) {  // only the last two characters may pad
      ++padding;
      continue;
    }
    fail("character " + std::to_string(i) + " is not in the alphabet or follows padding");
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) fail("libcrypto refused it");
  out.resize(out.size() - padding);
  return out;
}

}  // namespace switchyard::detail
