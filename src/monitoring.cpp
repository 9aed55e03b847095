// SPDX-License-Identifier: Apache-2.0
// Compiled part of monitoring: Prometheus and JSON exposition.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/monitoring.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/monitoring/exposition-inl.hpp>
