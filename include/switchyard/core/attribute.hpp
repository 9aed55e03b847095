// SPDX-License-Identifier: Apache-2.0
// Attribute: a name/value pair a request carries for segment rules and observers.
#pragma once

#include <string_view>

namespace switchyard {

/// A request attribute, e.g. {"country", "DE"}: segment rules route on it, observers (drift
/// slices, shadow filters) read it. Views the caller's strings; valid for the request.
/// Thread-safety: a value type.
struct Attribute {
  std::string_view name;
  std::string_view value;
};

}  // namespace switchyard
