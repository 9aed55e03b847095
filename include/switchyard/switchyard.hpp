// SPDX-License-Identifier: Apache-2.0
// Umbrella header: every public Switchyard header in one include.
#pragma once

/// @file
/// Includes the whole public API, part by part in the order of docs/architecture.md: core,
/// models, stats, registry, monitoring, serving, rollout, shadow, drift. Convenient for small
/// programs; larger ones include the headers they use, which compiles faster (notably under
/// SWITCHYARD_HEADER_ONLY, where this pulls in every -inl file).
/// The packaging tests fail when a public header is missing here.

#include <switchyard/core/attribute.hpp>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/core/events.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/core/model_source.hpp>
#include <switchyard/core/names.hpp>
#include <switchyard/core/promotion_evidence.hpp>
#include <switchyard/core/request_observer.hpp>
#include <switchyard/core/signature.hpp>
#include <switchyard/core/stage.hpp>
#include <switchyard/core/status.hpp>
#include <switchyard/core/tensor.hpp>
#include <switchyard/core/units.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/models/model_loader.hpp>
#if defined(SWITCHYARD_WITH_XGBOOST)  // defined by the optional switchyard::xgboost target
#include <switchyard/models/xgboost_model.hpp>
#endif
#if defined(SWITCHYARD_WITH_TORCH)  // defined by the optional switchyard::torch target
#include <switchyard/models/torchscript_model.hpp>
#endif
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
#include <switchyard/stats/power.hpp>
#include <switchyard/stats/proportion_counter.hpp>
#include <switchyard/stats/paired_tests.hpp>
#include <switchyard/stats/proportion_test.hpp>
#include <switchyard/stats/result.hpp>
#include <switchyard/stats/roc_auc.hpp>
#include <switchyard/stats/running_moments.hpp>
#include <switchyard/stats/sample_ratio_mismatch.hpp>
#include <switchyard/stats/sequential_test.hpp>
#include <switchyard/stats/sharded_accumulator.hpp>
#include <switchyard/stats/stats.hpp>
#include <switchyard/stats/t_test.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/model_version.hpp>
#include <switchyard/registry/promotion_policy.hpp>
#include <switchyard/registry/registry_store.hpp>
#include <switchyard/registry/rollout_lease.hpp>
#include <switchyard/registry/rollout_record.hpp>
#include <switchyard/registry/serialization.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/registry/validation.hpp>
#if defined(SWITCHYARD_WITH_POSTGRES)  // defined by the optional switchyard::postgres target
#include <switchyard/registry/postgres_registry_store.hpp>
#endif
#include <switchyard/monitoring/exposition.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>
#include <switchyard/monitoring/variant_stats.hpp>
#include <switchyard/monitoring/version_stats.hpp>
#include <switchyard/serving/bucketing.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <switchyard/serving/registry_follower.hpp>
#include <switchyard/serving/routing_policy.hpp>
#include <switchyard/serving/routing_table.hpp>
#include <switchyard/serving/traffic_router.hpp>
#include <switchyard/shadow/shadow_config.hpp>
#include <switchyard/shadow/shadow_criteria.hpp>
#include <switchyard/shadow/shadow_predictor.hpp>
#include <switchyard/shadow/shadow_report.hpp>
#include <switchyard/drift/drift_alerts.hpp>
#include <switchyard/drift/drift_evaluation.hpp>
#include <switchyard/drift/drift_monitor.hpp>
#include <switchyard/drift/drift_report.hpp>
#include <switchyard/drift/reference_profile.hpp>
#include <switchyard/drift/reference_profile_matrix.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/canary_judge.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/rollout/canary_plan.hpp>
#include <switchyard/rollout/canary_window_codec.hpp>
#include <switchyard/rollout/cluster_canary_metrics.hpp>
#include <switchyard/rollout/comparison.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/rollout/experiment_report.hpp>
#include <switchyard/rollout/metric_spec.hpp>
#include <switchyard/rollout/pending_join_table.hpp>
#include <switchyard/rollout/performance_report.hpp>
#include <switchyard/rollout/rollout_follower.hpp>
#include <switchyard/rollout/rollout_simulator.hpp>
#include <switchyard/rollout/rollout_standby.hpp>
#include <switchyard/version.hpp>
