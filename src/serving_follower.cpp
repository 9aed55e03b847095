// SPDX-License-Identifier: Apache-2.0
// Compiled part of serving: the registry follower (a replica following its shared store).
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/serving_follower.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/serving/registry_follower-inl.hpp>
