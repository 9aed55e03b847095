// SPDX-License-Identifier: Apache-2.0
// Compiled part of shadow: the ShadowPredictor's queue, workers and comparison, and its report.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/shadow.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/shadow/shadow_config-inl.hpp>
#include <switchyard/shadow/shadow_criteria-inl.hpp>
#include <switchyard/shadow/shadow_predictor-inl.hpp>
#include <switchyard/shadow/shadow_report-inl.hpp>
