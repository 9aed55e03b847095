// SPDX-License-Identifier: Apache-2.0
// StringHash: the one transparent string hash of Switchyard's unordered containers.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace switchyard::detail {

/// Hashes std::string, std::string_view and const char* alike, so unordered containers keyed by
/// std::string can be searched with a string_view without building a string (heterogeneous
/// lookup; pair with std::equal_to<>). Not for bucketing: routing hashes live in
/// serving/bucketing.hpp, where their values are part of the contract.
/// Thread-safe (stateless).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

}  // namespace switchyard::detail
