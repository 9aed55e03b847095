// SPDX-License-Identifier: Apache-2.0
// Base64 (RFC 4648, standard alphabet, padded) on libcrypto's EVP block codec.
#pragma once

#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>

namespace switchyard::detail {

/// `bytes` as padded standard base64 (RFC 4648 section 4), no line breaks. Thread-safe.
SWITCHYARD_API std::string base64_encode(std::string_view bytes);

/// The bytes of strict padded standard base64: the length must be a multiple of 4, only the
/// alphabet A-Z a-z 0-9 + / may appear, and at most two '=' only at the end. Anything else
/// (whitespace, URL-safe characters, missing padding) throws InvalidArgument naming `what` and
/// the offending position. Thread-safe.
SWITCHYARD_API std::string base64_decode(std::string_view text, std::string_view what);

}  // namespace switchyard::detail

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/detail/base64-inl.hpp>
#endif
