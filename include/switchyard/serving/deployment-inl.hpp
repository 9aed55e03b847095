// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of deployment.hpp.
#pragma once

#include <chrono>
#include <exception>
#include <limits>

#include <switchyard/core/config.hpp>
#include <switchyard/serving/deployment.hpp>

namespace switchyard {

namespace deployment_detail {
inline std::int32_t first_label(const Prediction& p) noexcept {
  return p.labels.empty() ? -1 : p.labels.front();
}
inline double first_confidence(const Prediction& p) noexcept {
  return p.confidence.empty() ? std::numeric_limits<double>::quiet_NaN() : p.confidence.front();
}
// Calls the arm's model, recording the outcome on its statistics. Returns false if it threw.
inline bool call(const detail::TickClock& clock, const RoutedVariant& arm, const ModelInput& input,
                 Prediction& out, std::uint64_t& latency_ns) noexcept {
  const std::uint64_t start = clock.now();
  try {
    out = arm.model->predict(input);
  } catch (...) {
    arm.stats->record_error();
    return false;
  }
  const std::uint64_t elapsed = clock.to_ns(clock.now() - start);
  latency_ns = elapsed;
  // Record every row of a batch's labels and confidences would cost per row; the first row
  // stands for the request, which is what per-request statistics count.
  arm.stats->record_success(elapsed, first_label(out), first_confidence(out));
  return true;
}
}  // namespace deployment_detail

SWITCHYARD_INLINE Deployment::Deployment(Options options)
    : router_(TrafficRouter::Options{std::move(options.model), options.source,
                                     options.retired_stats}),
      events_(options.events),
      check_signatures_(options.check_signatures) {}

SWITCHYARD_INLINE StatusOr<PredictResponse> Deployment::predict(
    const PredictRequest& request) noexcept {
  try {
    auto table = router_.read();
    if (!table) {
      return Status(ErrorCode::kNoActiveModel,
                    "model '" + std::string(model()) + "' has no active version");
    }
    RouteDecision d = table->route(request.key, request.attributes, request.version);
    if (d.variant == nullptr) {
      if (d.error == ErrorCode::kNotFound) {
        return Status(ErrorCode::kNotFound, "model '" + std::string(model()) + "' version " +
                                                std::to_string(request.version.value_or(0)) +
                                                " is not loaded in the deployment");
      }
      return Status(ErrorCode::kNoActiveModel,
                    "model '" + std::string(model()) + "' has no active version");
    }
    const RoutedVariant* arm = d.variant;
    if (check_signatures_) {
      const Signature& sig = arm->model->signature();
      if (!sig.inputs.empty()) {
        Status s = sig.check(request.input);
        if (!s.ok()) {
          return Status(s.code(), "model '" + std::string(model()) + "' version " +
                                      std::to_string(arm->version) + ": " + s.message());
        }
      }
    }
    PredictResponse response;
    response.model = table->model_name();
    response.reason = d.reason;
    std::uint64_t latency = 0;
    if (!deployment_detail::call(ticks_, *arm, request.input, response.prediction, latency)) {
      const RoutedVariant* fb = table->fallback();
      const bool can_fall_back = fb != nullptr && fb != arm && table->policy().fallback_on_error;
      if (!can_fall_back ||
          !deployment_detail::call(ticks_, *fb, request.input, response.prediction, latency)) {
        return Status(ErrorCode::kModelFailed,
                      "model '" + std::string(model()) + "' version " +
                          std::to_string(arm->version) + " failed" +
                          (can_fall_back ? " and so did fallback version " +
                                               std::to_string(fb->version)
                                         : std::string()));
      }
      fb->stats->record_fallback();
      response.fell_back = true;
      response.failed_version = arm->version;
      arm = fb;
    }
    response.version = arm->version;
    response.variant = arm->name;
    if (events_ != nullptr && events_->predictions_wanted()) {
      PredictionEvent e;
      e.model = response.model;
      e.version = response.version;
      e.variant = response.variant;
      e.key = request.key;
      e.request_id = request.request_id;
      e.fell_back = response.fell_back;
      e.latency_ns = static_cast<std::int64_t>(latency);
      e.label = deployment_detail::first_label(response.prediction);
      e.confidence = deployment_detail::first_confidence(response.prediction);
      events_->prediction_served(e);
    }
    return response;
  } catch (const std::exception& e) {
    // Only allocation failure can get here (models' exceptions are caught in call()).
    return Status(ErrorCode::kModelFailed, std::string("deployment error: ") + e.what());
  } catch (...) {
    return Status(ErrorCode::kModelFailed, "deployment error");
  }
}

SWITCHYARD_INLINE void Deployment::record_outcome(std::int64_t version, bool correct) {
  // A version that never served, or retired long ago, has no statistics to count it in.
  if (auto s = router_.stats(version)) s->record_outcome(correct);
}

SWITCHYARD_INLINE std::vector<VariantStats> Deployment::collect(Read mode) const {
  auto table = router_.table();
  std::vector<VariantStats> out;
  for (std::int64_t v : router_.versions_with_stats()) {
    VariantStats vs;
    vs.version = v;
    if (table) {
      if (const RoutedVariant* arm = table->find_version(v)) {
        vs.variant = std::string(arm->name);
        vs.share = arm->share;
      }
    }
    const auto s = router_.stats(v);
    if (!s) continue;  // dropped since versions_with_stats()
    vs.stats = mode == Read::kCumulative ? s->snapshot()
               : mode == Read::kWindow   ? s->window()
                                         : s->reset_window();
    out.push_back(std::move(vs));
  }
  return out;
}

SWITCHYARD_INLINE std::vector<VariantStats> Deployment::stats() const { return collect(Read::kCumulative); }
SWITCHYARD_INLINE std::vector<VariantStats> Deployment::window() const { return collect(Read::kWindow); }
SWITCHYARD_INLINE std::vector<VariantStats> Deployment::reset_window() {
  auto ended = collect(Read::kResetWindow);
  if (events_ != nullptr) {
    for (const auto& v : ended) {
      events_->metrics_published(MetricsEvent{model(), v.version, v.variant, &v.stats});
    }
  }
  return ended;
}

}  // namespace switchyard
