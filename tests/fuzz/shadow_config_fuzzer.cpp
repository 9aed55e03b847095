// SPDX-License-Identifier: Apache-2.0
// Fuzz target: shadow deployment YAML (parse_shadow_config). The input is the YAML text itself.
// Every input either parses into a config that keeps each documented guarantee (non-empty names,
// positive versions, shares in [0, 1], positive bounded durations, 1 to 8 distinct shadows, known
// metrics listed once, criteria that validate()) or throws InvalidArgument with a message; any
// other exception, a yaml-cpp one included, is a crash.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <switchyard/shadow/shadow_config.hpp>
#include <typeinfo>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

constexpr Duration kMaxDuration = std::chrono::hours(24 * 3650);

bool valid_share(double share) { return std::isfinite(share) && share >= 0.0 && share <= 1.0; }

bool valid_duration(const std::optional<Duration>& d) {
  return !d || (d->count() > 0 && *d <= kMaxDuration);
}

void check(const ShadowDeploymentConfig& c) {
  SWITCHYARD_FUZZ_CHECK(!c.name.empty(), "accepted an empty name");
  SWITCHYARD_FUZZ_CHECK(!c.primary.model.empty(), "accepted an empty primary model");
  SWITCHYARD_FUZZ_CHECK(c.primary.version >= 1,
                        "primary version " + std::to_string(c.primary.version));
  SWITCHYARD_FUZZ_CHECK(valid_share(c.primary.traffic),
                        "primary traffic " + std::to_string(c.primary.traffic));
  SWITCHYARD_FUZZ_CHECK(!c.shadows.empty() && c.shadows.size() <= 8,
                        std::to_string(c.shadows.size()) + " shadows");
  for (std::size_t i = 0; i < c.shadows.size(); ++i) {
    const ShadowVersionOptions& s = c.shadows[i];
    SWITCHYARD_FUZZ_CHECK(!s.model.empty(), "accepted an empty shadow model");
    SWITCHYARD_FUZZ_CHECK(s.version >= 1, "shadow version " + std::to_string(s.version));
    SWITCHYARD_FUZZ_CHECK(valid_share(s.share), "shadow share " + std::to_string(s.share));
    SWITCHYARD_FUZZ_CHECK(!std::signbit(s.share), "a share of -0");
    SWITCHYARD_FUZZ_CHECK(
        s.sampling == ShadowSampling::kSticky || s.sampling == ShadowSampling::kRandom,
        "sampling outside its enumeration");
    SWITCHYARD_FUZZ_CHECK(valid_duration(s.duration), "shadow duration out of range");
    for (std::size_t j = 0; j < i; ++j) {
      SWITCHYARD_FUZZ_CHECK(c.shadows[j].model != s.model || c.shadows[j].version != s.version,
                            "two shadows with one (model, version)");
    }
  }
  SWITCHYARD_FUZZ_CHECK(valid_duration(c.comparison.duration), "comparison duration out of range");
  for (std::size_t i = 0; i < c.comparison.metrics.size(); ++i) {
    SWITCHYARD_FUZZ_CHECK(std::string_view(to_string(c.comparison.metrics[i])) != "unknown",
                          "a metric outside its enumeration");
    for (std::size_t j = 0; j < i; ++j) {
      SWITCHYARD_FUZZ_CHECK(c.comparison.metrics[j] != c.comparison.metrics[i],
                            "a metric listed twice");
    }
  }
  if (c.criteria) {
    try {
      c.criteria->validate();
    } catch (const Error& e) {
      fail(std::string("accepted criteria that validate() refuses: ") + e.what());
    }
  }

  // What a ShadowPredictor is given: one per shadow, the comparison duration filling the gaps.
  const auto options = c.shadow_versions();
  SWITCHYARD_FUZZ_CHECK(options.size() == c.shadows.size(), "shadow_versions() lost a shadow");
  for (std::size_t i = 0; i < options.size(); ++i) {
    const auto want = c.shadows[i].duration ? c.shadows[i].duration : c.comparison.duration;
    SWITCHYARD_FUZZ_CHECK(options[i].duration == want, "shadow_versions() duration");
    SWITCHYARD_FUZZ_CHECK(options[i].model == c.shadows[i].model &&
                              options[i].version == c.shadows[i].version &&
                              options[i].share == c.shadows[i].share,
                          "shadow_versions() changed a shadow");
  }
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  using namespace switchyard::fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check(parse_shadow_config(text));
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, "parse_shadow_config");
    SWITCHYARD_FUZZ_CHECK(*e.what() != '\0', "an error without a message");
  } catch (const std::exception& e) {
    fail(std::string("parse_shadow_config let a foreign ") + typeid(e).name() +
         " escape: " + e.what());
  }
  return 0;
}
