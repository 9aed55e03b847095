// SPDX-License-Identifier: Apache-2.0
// Compiled part of drift: reference profiles (building, the binary format, the registry), drift
// evaluation and its report.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/drift.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/drift/drift_evaluation-inl.hpp>
#include <switchyard/drift/drift_report-inl.hpp>
#include <switchyard/drift/reference_profile-inl.hpp>
