// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of ShadowDeploymentConfig: the YAML reader, on yaml-cpp.
#pragma once

#include <switchyard/shadow/shadow_config.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <switchyard/core/error.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/detail/yaml_reader.hpp>

namespace switchyard {

namespace detail::shadow_config {

/// The longest duration accepted, so that now + duration never overflows the clock's int64 ns.
inline constexpr std::int64_t kMaxDurationDays = 3650;
/// The largest file load_shadow_config reads (a config, not a data set).
inline constexpr std::size_t kMaxFileBytes = std::size_t{1} << 20;

inline constexpr std::array<std::pair<std::string_view, ShadowMetric>, 5> kMetrics{{
    {"accuracy", ShadowMetric::kAccuracy},
    {"latency_p99", ShadowMetric::kLatencyP99},
    {"prediction_distribution", ShadowMetric::kPredictionDistribution},
    {"agreement", ShadowMetric::kAgreement},
    {"error_rate", ShadowMetric::kErrorRate},
}};

// The strict YAML reading every configuration shares (field paths, line and column in errors,
// unknown and repeated keys refused, one document only).
using detail::yaml::fail;
using detail::yaml::Fields;
using detail::yaml::in_quotes;
using detail::yaml::kind_of;
using detail::yaml::scalar;

inline std::string non_empty(const YAML::Node& node, const std::string& path) {
  const std::string& text = scalar(node, path);
  if (text.empty()) fail(path, "must not be empty", node.Mark());
  return text;
}

/// A whole number >= `least` (0 or 1) written in decimal digits.
inline std::int64_t whole_number(const YAML::Node& node, const std::string& path,
                                 std::int64_t least) {
  const std::string& text = scalar(node, path);
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end || value < least) {
    fail(path,
         std::string(least > 0 ? "must be a positive integer" : "must be a whole number >= 0") +
             ", got " + in_quotes(text),
         node.Mark());
  }
  return value;
}

inline std::int64_t positive_integer(const YAML::Node& node, const std::string& path) {
  return whole_number(node, path, 1);
}

/// A finite decimal number, the whole text.
inline bool finite_number(std::string_view text, double& out) {
  if (text.empty()) return false;
  const auto [stop, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && stop == text.data() + text.size() && std::isfinite(out);
}

/// "25%" or 0.25 -> 0.25; within [0, 1].
inline double fraction(const YAML::Node& node, const std::string& path) {
  const std::string& text = scalar(node, path);
  const bool percent = !text.empty() && text.back() == '%';
  double value = 0.0;
  if (!finite_number(std::string_view(text).substr(0, text.size() - (percent ? 1 : 0)), value)) {
    fail(path,
         "must be a percentage such as 25% or a fraction such as 0.25, got " + in_quotes(text),
         node.Mark());
  }
  if (percent) {
    if (!(value >= 0.0 && value <= 100.0)) {
      fail(path, "must be between 0% and 100%, got " + printable(text), node.Mark());
    }
    return value / 100.0 + 0.0;  // + 0.0: -0% is 0
  }
  if (!(value >= 0.0 && value <= 1.0)) {
    fail(path, "must be between 0 and 1 (or 0% and 100%), got " + printable(text), node.Mark());
  }
  return value + 0.0;
}

/// "<digits><unit>", unit ms, s, m, h or d: positive and at most kMaxDurationDays.
inline Duration duration(const YAML::Node& node, const std::string& path) {
  const std::string& text = scalar(node, path);
  std::string_view rest(text);
  const bool negative = !rest.empty() && rest.front() == '-';
  if (negative) rest.remove_prefix(1);
  std::size_t digits = 0;
  while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
  const std::string_view unit = rest.substr(digits);
  std::int64_t unit_ns = 0;
  if (unit == "ms") unit_ns = 1'000'000;
  if (unit == "s") unit_ns = 1'000'000'000;
  if (unit == "m") unit_ns = 60'000'000'000;
  if (unit == "h") unit_ns = 3'600'000'000'000;
  if (unit == "d") unit_ns = 86'400'000'000'000;
  if (digits == 0 || unit_ns == 0) {
    fail(path,
         "must be a whole number with a unit ms, s, m, h or d (such as 7d, 12h, 500ms), got " +
             in_quotes(text),
         node.Mark());
  }
  if (negative) fail(path, "must not be negative, got " + in_quotes(text), node.Mark());
  constexpr std::int64_t kMaxNs = kMaxDurationDays * 86'400'000'000'000;
  std::int64_t count = 0;
  const auto [stop, ec] = std::from_chars(rest.data(), rest.data() + digits, count);
  if (ec != std::errc() || count > kMaxNs / unit_ns) {
    fail(path, "must be at most " + std::to_string(kMaxDurationDays) + "d, got " + in_quotes(text),
         node.Mark());
  }
  if (count == 0) fail(path, "must be positive, got " + in_quotes(text), node.Mark());
  return Duration(count * unit_ns);
}

using detail::yaml::boolean;

inline ShadowSampling sampling(const YAML::Node& node, const std::string& path) {
  const std::string& text = scalar(node, path);
  if (text == "sticky") return ShadowSampling::kSticky;
  if (text == "random") return ShadowSampling::kRandom;
  fail(path, "must be sticky or random, got " + in_quotes(text), node.Mark());
}

inline std::vector<ShadowMetric> metrics(const YAML::Node& node, const std::string& path) {
  if (!node.IsSequence()) {
    fail(path, "must be a sequence such as [accuracy, latency_p99], got " + kind_of(node),
         node.Mark());
  }
  std::vector<ShadowMetric> out;
  std::size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    const YAML::Node item = *it;
    const std::string name = scalar(item, item_path);
    const ShadowMetric* found = nullptr;
    for (const auto& [text, metric] : kMetrics) {
      if (text == name) found = &metric;
    }
    if (found == nullptr) {
      fail(item_path,
           "unknown metric " + in_quotes(name) +
               "; expected accuracy, latency_p99, prediction_distribution, agreement or error_rate",
           item.Mark());
    }
    for (ShadowMetric m : out) {
      if (m == *found)
        fail(item_path, "metric " + in_quotes(name) + " is listed twice", item.Mark());
    }
    out.push_back(*found);
  }
  return out;
}

inline ShadowPrimaryConfig primary(const YAML::Node& node, const std::string& path) {
  const Fields f(node, path, {"model", "version", "traffic"});
  ShadowPrimaryConfig out;
  out.model = non_empty(f.require("model"), f.child("model"));
  out.version = positive_integer(f.require("version"), f.child("version"));
  if (const YAML::Node* n = f.find("traffic")) out.traffic = fraction(*n, f.child("traffic"));
  return out;
}

inline ShadowVersionOptions shadow(const YAML::Node& node, const std::string& path) {
  const Fields f(node, path, {"model", "version", "traffic", "sampling", "duration", "salt"});
  ShadowVersionOptions out;
  out.model = non_empty(f.require("model"), f.child("model"));
  out.version = positive_integer(f.require("version"), f.child("version"));
  if (const YAML::Node* n = f.find("traffic")) out.share = fraction(*n, f.child("traffic"));
  if (const YAML::Node* n = f.find("sampling")) out.sampling = sampling(*n, f.child("sampling"));
  if (const YAML::Node* n = f.find("duration")) out.duration = duration(*n, f.child("duration"));
  if (const YAML::Node* n = f.find("salt")) out.salt = scalar(*n, f.child("salt"));
  return out;
}

/// `shadow:` as one map or a sequence of 1 to kMaxShadows maps, distinct by (model, version).
inline std::vector<ShadowVersionOptions> shadows(const YAML::Node& node, const std::string& path) {
  std::vector<ShadowVersionOptions> out;
  if (node.IsMap()) {
    out.push_back(shadow(node, path));
    return out;
  }
  if (!node.IsSequence()) {
    fail(path, "must be a map or a sequence of maps, got " + kind_of(node), node.Mark());
  }
  if (node.size() == 0) fail(path, "must list at least one shadow version", node.Mark());
  if (node.size() > detail::shadow::kMaxShadows) {
    fail(path,
         "at most " + std::to_string(detail::shadow::kMaxShadows) + " shadow versions, got " +
             std::to_string(node.size()),
         node.Mark());
  }
  std::size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    const YAML::Node item = *it;
    ShadowVersionOptions next = shadow(item, item_path);
    for (const auto& earlier : out) {
      if (earlier.model == next.model && earlier.version == next.version) {
        fail(
            item_path,
            in_quotes(next.model) + " version " + std::to_string(next.version) + " is listed twice",
            item.Mark());
      }
    }
    out.push_back(std::move(next));
  }
  return out;
}

inline ShadowComparisonConfig comparison(const YAML::Node& node, const std::string& path) {
  const Fields f(node, path, {"metrics", "duration", "auto_promote"});
  ShadowComparisonConfig out;
  if (const YAML::Node* n = f.find("metrics")) out.metrics = metrics(*n, f.child("metrics"));
  if (const YAML::Node* n = f.find("duration")) out.duration = duration(*n, f.child("duration"));
  if (const YAML::Node* n = f.find("auto_promote")) {
    out.auto_promote = boolean(*n, f.child("auto_promote"));
  }
  return out;
}

/// A finite decimal number such as 1.5 (its range is ShadowCriteria::validate()'s to check).
inline double number(const YAML::Node& node, const std::string& path) {
  const std::string& text = scalar(node, path);
  double value = 0.0;
  if (!finite_number(text, value)) {
    fail(path, "must be a number such as 1.5, got " + in_quotes(text), node.Mark());
  }
  return value + 0.0;
}

/// `criteria:` onto ShadowCriteria, one key per field; unset fields keep their defaults.
/// ShadowCriteria::validate() is the one check of the bounds, its message put after the path.
inline ShadowCriteria criteria(const YAML::Node& node, const std::string& path) {
  const Fields f(node, path,
                 {"min_compared_rows", "min_agreement", "max_shadow_error_rate",
                  "max_latency_p99_ratio", "min_labeled_rows", "require_not_worse", "alpha",
                  "max_divergence"});
  ShadowCriteria out;
  auto count = [&](const char* key, std::uint64_t& field) {
    if (const YAML::Node* n = f.find(key)) {
      field = static_cast<std::uint64_t>(whole_number(*n, f.child(key), 0));
    }
  };
  auto rate = [&](const char* key, double& field) {
    if (const YAML::Node* n = f.find(key)) field = fraction(*n, f.child(key));
  };
  auto bound = [&](const char* key, double& field) {
    if (const YAML::Node* n = f.find(key)) field = number(*n, f.child(key));
  };
  count("min_compared_rows", out.min_compared_rows);
  rate("min_agreement", out.min_agreement);
  rate("max_shadow_error_rate", out.max_shadow_error_rate);
  bound("max_latency_p99_ratio", out.max_latency_p99_ratio);
  count("min_labeled_rows", out.min_labeled_rows);
  if (const YAML::Node* n = f.find("require_not_worse")) {
    out.require_not_worse = boolean(*n, f.child("require_not_worse"));
  }
  bound("alpha", out.alpha);
  bound("max_divergence", out.max_divergence);
  try {
    out.validate();
  } catch (const InvalidArgument& e) {
    fail(path, e.what(), f.mark());
  }
  return out;
}

inline ShadowDeploymentConfig document(const YAML::Node& root) {
  if (root.IsNull()) {
    throw InvalidArgument(
        "shadow deployment: the document is empty; expected a map with the "
        "key 'deployment'");
  }
  const Fields top(root, "(document)", {"deployment"});
  const Fields d(top.require("deployment"), "deployment",
                 {"name", "primary", "shadow", "comparison", "criteria"});
  ShadowDeploymentConfig out;
  out.name = non_empty(d.require("name"), d.child("name"));
  out.primary = primary(d.require("primary"), d.child("primary"));
  out.shadows = shadows(d.require("shadow"), d.child("shadow"));
  if (const YAML::Node* n = d.find("comparison")) {
    out.comparison = comparison(*n, d.child("comparison"));
  }
  if (const YAML::Node* n = d.find("criteria")) out.criteria = criteria(*n, d.child("criteria"));
  return out;
}

}  // namespace detail::shadow_config

SWITCHYARD_INLINE const char* to_string(ShadowMetric metric) noexcept {
  for (const auto& [text, m] : detail::shadow_config::kMetrics) {
    if (m == metric) return text.data();  // literals: NUL-terminated
  }
  return "unknown";
}

SWITCHYARD_INLINE std::vector<ShadowVersionOptions> ShadowDeploymentConfig::shadow_versions()
    const {
  std::vector<ShadowVersionOptions> out = shadows;
  for (auto& options : out) {
    if (!options.duration) options.duration = comparison.duration;
  }
  return out;
}

SWITCHYARD_INLINE ShadowDeploymentConfig parse_shadow_config(std::string_view yaml_text) {
  return detail::yaml::read_document(yaml_text, "shadow deployment",
                                     detail::shadow_config::document);
}

SWITCHYARD_INLINE ShadowDeploymentConfig load_shadow_config(const std::filesystem::path& path) {
  const std::string text =
      detail::yaml::read_config_file(path, "shadow deployment file '" + path.string() + "'",
                                     detail::shadow_config::kMaxFileBytes);
  try {
    return parse_shadow_config(text);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(path.string() + ": " + e.what());
  }
}

}  // namespace switchyard
