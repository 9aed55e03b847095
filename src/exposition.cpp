// SPDX-License-Identifier: Apache-2.0
// Compiled part of monitoring: Prometheus and JSON exposition.
#include <switchyard/monitoring/exposition-inl.hpp>
