// SPDX-License-Identifier: Apache-2.0
// Compiled part of rollout: experiments (recording, analysis, report views), performance report.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/rollout.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/rollout/experiment-inl.hpp>
#include <switchyard/rollout/experiment_report-inl.hpp>
#include <switchyard/rollout/performance_report-inl.hpp>
