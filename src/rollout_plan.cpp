// SPDX-License-Identifier: Apache-2.0
// Compiled part of rollout plans: CanaryPlan's validation, YAML/JSON reader and JSON writer.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/rollout_plan.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/rollout/canary_plan-inl.hpp>
