// SPDX-License-Identifier: Apache-2.0
// ViewStreamBuf: a read-only std::streambuf over bytes the caller keeps alive.
#pragma once

#include <cstddef>
#include <streambuf>
#include <string_view>

namespace switchyard::detail {

/// Lets a cereal archive (or any std::istream) read caller memory in place, so decoding an
/// artifact, a profile or a stored blob never copies it first. The bytes must outlive the buffer;
/// the get area is only ever read. Thread-safety: not thread-safe; one reader, on its thread.
class ViewStreamBuf final : public std::streambuf {
 public:
  explicit ViewStreamBuf(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());  // the get area is only ever read
    setg(p, p, p + bytes.size());
  }
  /// Bytes not read yet.
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(egptr() - gptr()); }
};

}  // namespace switchyard::detail
