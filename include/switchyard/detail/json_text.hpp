// SPDX-License-Identifier: Apache-2.0
// JSON text helpers: the one string quoter and the one number formatter of every JSON Switchyard writes.
#pragma once

#include <charconv>
#include <cmath>
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

/// `v` as the shortest text that reads back as the same double (std::to_chars round-trip form);
/// "null" for NaN and infinities, which JSON cannot spell. The one JSON number formatter: every
/// report, exposition and export goes through it, so equal values print equally everywhere.
/// Thread-safe (pure function).
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace switchyard::detail
