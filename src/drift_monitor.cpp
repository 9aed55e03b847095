// SPDX-License-Identifier: Apache-2.0
// Compiled part of drift: the DriftMonitor's windows and evaluation, and its alerts.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/drift_monitor.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/drift/drift_alerts-inl.hpp>
#include <switchyard/drift/drift_monitor-inl.hpp>
