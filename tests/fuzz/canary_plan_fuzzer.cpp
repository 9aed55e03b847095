// SPDX-License-Identifier: Apache-2.0
// Fuzz target: rollout plan YAML or JSON (parse_canary_plan). The input is the text itself, read
// with one host-declared custom metric ("queue_depth"). Every input either parses into a plan
// that validate()s and survives the canonical JSON round trip unchanged, or throws
// InvalidArgument with a message; any other exception, a yaml-cpp one included, is a crash.
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <switchyard/rollout/canary_plan.hpp>
#include <typeinfo>

#include "fuzz_support.hpp"

namespace switchyard::fuzz {
namespace {

const CanaryPlanParseOptions& options() {
  static const CanaryPlanParseOptions o{{"queue_depth"}};
  return o;
}

void check(const CanaryPlan& plan) {
  try {
    plan.validate();
  } catch (const Error& e) {
    fail(std::string("parse_canary_plan returned a plan validate() refuses: ") + e.what());
  }
  SWITCHYARD_FUZZ_CHECK(!plan.steps.empty() && plan.steps.size() <= kMaxCanarySteps,
                        std::to_string(plan.steps.size()) + " steps");
  std::string json;
  try {
    json = plan_to_json(plan);
  } catch (const Error& e) {
    fail(std::string("plan_to_json refused a parsed plan: ") + e.what());
  }
  CanaryPlan back;
  try {
    back = parse_canary_plan(json, options());
  } catch (const Error& e) {
    fail(std::string("the canonical JSON does not parse: ") + e.what() + "\n" + json);
  }
  SWITCHYARD_FUZZ_CHECK(back == plan, "the JSON round trip changed the plan: " + json);
  SWITCHYARD_FUZZ_CHECK(plan_to_json(back) == json, "the JSON round trip is not stable");
}

}  // namespace
}  // namespace switchyard::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace switchyard;
  using namespace switchyard::fuzz;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CanaryPlan plan;
  try {
    plan = parse_canary_plan(text, options());
  } catch (const Error& e) {
    expect_error<InvalidArgument>(e, "parse_canary_plan");
    SWITCHYARD_FUZZ_CHECK(*e.what() != '\0', "an error without a message");
    return 0;
  } catch (const std::exception& e) {
    fail(std::string("parse_canary_plan let a foreign ") + typeid(e).name() +
         " escape: " + e.what());
  }
  check(plan);
  return 0;
}
