// SPDX-License-Identifier: Apache-2.0
// Umbrella header of Switchyard's statistics: accumulators, tests, intervals, power, AUC, drift.
#pragma once

#include <switchyard/stats/bayesian_test.hpp>
#include <switchyard/stats/chi_square.hpp>
#include <switchyard/stats/classification_metrics.hpp>
#include <switchyard/stats/co_moments.hpp>
#include <switchyard/stats/drift_binning.hpp>
#include <switchyard/stats/drift_statistics.hpp>
#include <switchyard/stats/effect_moments.hpp>
#include <switchyard/stats/ks_test.hpp>
#include <switchyard/stats/lift_test.hpp>
#include <switchyard/stats/mann_whitney.hpp>
#include <switchyard/stats/mcnemar.hpp>
#include <switchyard/stats/multiple_comparisons.hpp>
#include <switchyard/stats/paired_tests.hpp>
#include <switchyard/stats/power.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/roc_auc.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <switchyard/stats/sequential_test.hpp>
#include <switchyard/stats/sharded_accumulator.hpp>
#include <switchyard/stats/t_test.hpp>
