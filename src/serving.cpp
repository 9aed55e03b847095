// SPDX-License-Identifier: Apache-2.0
// Compiled part of serving: routing tables, routers, deployments and their registry binding.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/serving.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/serving/deployment-inl.hpp>
#include <switchyard/serving/routing_table-inl.hpp>
#include <switchyard/serving/traffic_router-inl.hpp>
#include <switchyard/serving/registry_binding-inl.hpp>
