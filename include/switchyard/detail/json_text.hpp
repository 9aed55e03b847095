// SPDX-License-Identifier: Apache-2.0
// JSON text helpers shared by the hand-written JSON reports (exposition, experiments, performance).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace switchyard::detail {

/// `v` as a quoted JSON string: quote, backslash and control characters escaped, other bytes
/// (UTF-8 included) copied. Thread-safe (pure function).
inline std::string json_quote(std::string_view v) {
  std::string out = "\"";
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace switchyard::detail
