// SPDX-License-Identifier: Apache-2.0
// Compiled part of rollout: a fleet's canary figures (the window codec, the cluster-wide merge).
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/rollout_cluster.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/rollout/canary_window_codec-inl.hpp>
#include <switchyard/rollout/cluster_canary_metrics-inl.hpp>
