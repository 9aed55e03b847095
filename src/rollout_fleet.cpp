// SPDX-License-Identifier: Apache-2.0
// Compiled part of rollout: a fleet's replicas following one rollout, and leader takeover.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/rollout_fleet.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/rollout/rollout_follower-inl.hpp>
#include <switchyard/rollout/rollout_standby-inl.hpp>
