// SPDX-License-Identifier: Apache-2.0
// Fuzz target: routing policies. A RoutingPolicy decoded from the input goes through
// TrafficRouter::set_policy (through a Deployment) and set_weights; a refused policy must leave
// the previous table serving, an accepted one must route every key to a loaded arm and serve it.
//
// Input (FuzzInput): variant count, then per variant name/version/weight; mode, hash scheme,
// weight style, normalize, seed, coverage, overrides, segments, fallback, pinnable versions; then
// keys to route, and a weight change.
#include <Eigen/Core>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/core/model_source.hpp>
#include <switchyard/serving/traffic_router.hpp>
#include <vector>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

constexpr const char* kModel = "fraud-detection";
constexpr std::int64_t kLoadedVersions = 6;  // versions 1..6 exist; 7 and up are NotFound

StaticModelSource& source() {
  static StaticModelSource s;
  static const bool filled = [] {
    for (std::int64_t v = 1; v <= kLoadedVersions; ++v) {
      Eigen::MatrixXd w(2, 1);
      w << static_cast<double>(v), -1.0;
      s.add(kModel, v, std::make_shared<const LinearModel>(w, Eigen::VectorXd::Zero(1)));
    }
    return true;
  }();
  (void)filled;
  return s;
}

// A name: usually one of a few real arm names so references line up, sometimes anything.
std::string pick_name(FuzzInput& in, const std::vector<std::string>& arms) {
  static const char* const kNames[] = {"control", "canary", "blue", "green", "treatment", ""};
  const std::uint8_t pick = in.byte();
  if (pick < 128 && !arms.empty()) return arms[pick % arms.size()];
  if (pick < 200) return kNames[pick % 6];
  return in.string(80);
}

std::int64_t pick_version(FuzzInput& in) {
  const std::uint8_t pick = in.byte();
  if (pick < 240) return static_cast<std::int64_t>(pick % 9) - 1;  // -1..7
  return in.integral<std::int64_t>();
}

RoutingPolicy decode(FuzzInput& in) {
  RoutingPolicy p;
  const auto n = in.in_range(0, 5);
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < n; ++i) {
    VariantSpec v;
    v.name = pick_name(in, {});
    v.version = pick_version(in);
    v.weight = in.number();
    names.push_back(v.name);
    p.variants.push_back(std::move(v));
  }
  // Enumerations take any value of their underlying type, as a host decoding a config might.
  p.mode = static_cast<RoutingMode>(in.byte() % 3);
  p.hash = static_cast<HashScheme>(in.byte() % 7);  // 6 schemes and one value that names none
  p.weight_style = static_cast<WeightStyle>(in.byte() % 3);
  p.normalize = in.boolean();
  p.seed = in.string();
  p.coverage = in.boolean() ? 1.0 : in.number();
  for (auto i = in.in_range(0, 3); i > 0; --i) p.overrides[in.string()] = pick_name(in, names);
  for (auto i = in.in_range(0, 2); i > 0; --i) {
    SegmentRule rule;
    rule.attribute = in.string();
    for (auto j = in.in_range(0, 3); j > 0; --j) rule.values.push_back(in.string());
    rule.variant = pick_name(in, names);
    p.segments.push_back(std::move(rule));
  }
  if (in.boolean()) p.fallback_variant = pick_name(in, names);
  p.fallback_on_error = in.boolean();
  for (auto i = in.in_range(0, 3); i > 0; --i) p.pinnable_versions.push_back(pick_version(in));
  return p;
}

// Every decision points into the table, and only at arms that may take it.
void check_routes(const RoutingTable& table, FuzzInput& in) {
  const auto arms = table.variants();
  auto inside = [&](const RoutedVariant* v) {
    return v >= arms.data() && v < arms.data() + arms.size();
  };
  for (int k = 0; k < 4; ++k) {
    const std::string key = in.string();
    const std::string attr_name = in.string(), attr_value = in.string();
    const Attribute attributes[] = {{attr_name, attr_value}};
    std::optional<std::int64_t> pinned;
    if (in.boolean()) pinned = pick_version(in);
    const RouteDecision d = table.route(key, attributes, pinned);
    if (d.variant == nullptr) {
      SWITCHYARD_FUZZ_CHECK(pinned || d.reason == RouteReason::kOutsideCoverage,
                            "an unpinned key in coverage got no arm");
      continue;
    }
    SWITCHYARD_FUZZ_CHECK(inside(d.variant), "a decision points outside the table");
    SWITCHYARD_FUZZ_CHECK(d.variant->model != nullptr, "a routed arm has no model");
    if (pinned) {
      SWITCHYARD_FUZZ_CHECK(d.variant->version == *pinned, "pinned to another version");
    }
    if (d.reason == RouteReason::kWeighted) {
      SWITCHYARD_FUZZ_CHECK(d.variant->in_split && d.variant->share > 0.0,
                            "the weighted split chose an arm with no share");
      if (table.policy().mode == RoutingMode::kSticky) {
        const RouteDecision again = table.route(key, attributes, pinned);
        SWITCHYARD_FUZZ_CHECK(again.variant == d.variant, "a sticky key changed arms");
      }
    }
  }
  double total = 0.0;
  for (const auto& a : arms) {
    SWITCHYARD_FUZZ_CHECK(a.share >= 0.0 && a.share <= 1.0, "a share outside [0, 1]");
    total += a.share;
  }
  SWITCHYARD_FUZZ_CHECK(total > 0.999999 && total < 1.000001,
                        "shares add up to " + std::to_string(total));
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  using namespace switchyard::fuzz;
  FuzzInput in(data, size);
  Deployment deployment({.model = kModel, .source = &source()});
  TrafficRouter& router = deployment.router();
  // A known-good table first, so a refused policy has something to keep serving.
  router.set_policy(RoutingPolicy::single(1, "stable"));
  const auto before = router.table();

  RoutingPolicy policy = decode(in);
  try {
    router.set_policy(policy);
  } catch (const Error& e) {
    expect_error<InvalidArgument, NotFound, LoadError>(e, "TrafficRouter::set_policy");
    SWITCHYARD_FUZZ_CHECK(router.table() == before, "a refused policy replaced the table");
    return 0;
  }
  const auto table = router.table();
  SWITCHYARD_FUZZ_CHECK(table != nullptr && table != before,
                        "an accepted policy was not published");
  check_routes(*table, in);

  // Serving never throws, and with models that never fail every routed request is answered.
  double row[] = {1.0, 2.0};
  const std::string key = in.string();
  auto r = deployment.predict({.key = key, .input = TensorView(row, Shape{1, 2})});
  if (!r.ok()) {
    SWITCHYARD_FUZZ_CHECK(r.code() == ErrorCode::kNoActiveModel,
                          "predict failed with " + r.status().message());
  }

  // A weight change: refused ones keep the table, accepted ones still route.
  std::map<std::string, double, std::less<>> weights;
  for (auto i = in.in_range(0, 2); i > 0; --i) {
    weights[pick_name(in, {})] = in.number();
  }
  if (!policy.variants.empty() && in.boolean()) weights[policy.variants[0].name] = in.number();
  try {
    router.set_weights(weights);
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, "TrafficRouter::set_weights");
    SWITCHYARD_FUZZ_CHECK(router.table() == table, "refused weights replaced the table");
    return 0;
  }
  check_routes(*router.table(), in);
  return 0;
}
