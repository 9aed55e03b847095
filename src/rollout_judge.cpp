// SPDX-License-Identifier: Apache-2.0
// Compiled part of rollout: the canary judge.
#if defined(SWITCHYARD_HEADER_ONLY)
#error \
    "src/rollout_judge.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/rollout/canary_judge-inl.hpp>
