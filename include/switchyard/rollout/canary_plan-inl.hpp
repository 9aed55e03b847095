// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of CanaryPlan: validation, the YAML/JSON reader on yaml-cpp, the JSON writer.
#pragma once

#include <switchyard/rollout/canary_plan.hpp>

#include <switchyard/core/error.hpp>

namespace switchyard {

SWITCHYARD_INLINE const char* to_string(RolloutStrategy strategy) noexcept {
  switch (strategy) {
    case RolloutStrategy::kCanary: return "canary";
    case RolloutStrategy::kBlueGreen: return "blue_green";
    case RolloutStrategy::kExperiment: return "experiment";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(GuardrailMetric metric) noexcept {
  switch (metric) {
    case GuardrailMetric::kErrorRate: return "error_rate";
    case GuardrailMetric::kLatencyP99: return "latency_p99";
    case GuardrailMetric::kAccuracy: return "accuracy";
    case GuardrailMetric::kPredictionDrift: return "prediction_drift";
    case GuardrailMetric::kCustom: return "custom";
  }
  return "unknown";
}

SWITCHYARD_INLINE const char* to_string(StepKind kind) noexcept {
  switch (kind) {
    case StepKind::kSetWeight: return "set_weight";
    case StepKind::kPause: return "pause";
    case StepKind::kAnalysis: return "analysis";
  }
  return "unknown";
}

}  // namespace switchyard
