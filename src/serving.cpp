// SPDX-License-Identifier: Apache-2.0
// Compiled part of the serving layer: routing tables, routers and deployments.
#include <switchyard/serving/deployment-inl.hpp>
#include <switchyard/serving/routing_table-inl.hpp>
#include <switchyard/serving/traffic_router-inl.hpp>
