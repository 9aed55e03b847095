// SPDX-License-Identifier: Apache-2.0
// Compiled part of rollout: the canary metrics and the rollout simulator.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/rollout_simulator.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/rollout/canary_metrics-inl.hpp>
#include <switchyard/rollout/rollout_simulator-inl.hpp>
