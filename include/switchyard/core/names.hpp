// SPDX-License-Identifier: Apache-2.0
// Validation of model names, aliases and variant names: the first line of defence against hostile input.
#pragma once

#include <string>
#include <string_view>

#include <switchyard/core/error.hpp>

namespace switchyard {

/// Rules for model names. The default follows seed 003's `<domain>-<task>` convention.
/// The validators below are pure functions: thread-safe.
struct NameRules {
  /// Require at least one '-' between two non-empty parts ("fraud-detection").
  bool require_domain_task = true;
  std::size_t max_length = 128;
};

namespace detail {
inline std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 64)) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 64) out += "...";
  return out;
}
inline bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}
inline bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
inline void check_identifier(std::string_view what, std::string_view s, std::size_t max_length) {
  if (s.empty()) throw InvalidArgument(std::string(what) + " is empty");
  if (s.size() > max_length) {
    throw InvalidArgument(std::string(what) + " '" + printable(s) + "' is longer than " +
                          std::to_string(max_length) + " characters");
  }
  for (char c : s) {
    if (!is_name_char(c)) {
      throw InvalidArgument(std::string(what) + " '" + printable(s) +
                            "' contains a character other than letters, digits, '-', '_' and '.'");
    }
  }
  if (!is_alnum(s.front())) {
    throw InvalidArgument(std::string(what) + " '" + printable(s) +
                          "' must start with a letter or digit");
  }
  if (s.find("..") != std::string_view::npos) {
    throw InvalidArgument(std::string(what) + " '" + printable(s) + "' contains '..'");
  }
}
}  // namespace detail

/// Throws InvalidArgument naming the problem unless `name` is a valid model name: letters, digits,
/// '-', '_', '.', starting with a letter or digit, no "..", at most max_length characters, and
/// (by default) `<domain>-<task>`. Control characters, '/', spaces and empty names are rejected.
inline void validate_model_name(std::string_view name, const NameRules& rules = {}) {
  detail::check_identifier("model name", name, rules.max_length);
  if (rules.require_domain_task) {
    auto dash = name.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) {
      throw InvalidArgument("model name '" + detail::printable(name) +
                            "' does not follow <domain>-<task> (e.g. fraud-detection)");
    }
  }
}

/// Throws InvalidArgument unless `alias` is a valid alias or variant name (same characters as a
/// model name, at most 64, and not all digits so it can never be mistaken for a version number).
inline void validate_alias(std::string_view alias, std::string_view what = "alias") {
  detail::check_identifier(what, alias, 64);
  bool digits = true;
  for (char c : alias) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    throw InvalidArgument(std::string(what) + " '" + std::string(alias) +
                          "' is all digits and would read as a version number");
  }
}

}  // namespace switchyard
