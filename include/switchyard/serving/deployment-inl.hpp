// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of deployment.hpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <exception>
#include <limits>

#include <switchyard/core/config.hpp>
#include <switchyard/serving/deployment.hpp>

namespace switchyard {

namespace detail::deployment {
inline std::int32_t first_label(const Prediction& p) noexcept {
  return p.labels.empty() ? -1 : p.labels.front();
}
inline double first_confidence(const Prediction& p) noexcept {
  return p.confidence.empty() ? std::numeric_limits<double>::quiet_NaN() : p.confidence.front();
}
// Calls the arm's model, recording the outcome on its statistics. Returns false if it threw.
inline bool call(const TickClock& clock, const RoutedVariant& arm, const ModelInput& input,
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
inline std::string version_ref(std::string_view model, std::int64_t version) {
  return "model '" + std::string(model) + "' version " + std::to_string(version);
}
}  // namespace detail::deployment

SWITCHYARD_INLINE Deployment::Deployment(Options options)
    : metrics_published{detail::GuardedSlots{options.events, "metrics_published"}},
      router_(TrafficRouter::Options{std::move(options.model), options.source,
                                     options.retired_stats}),
      events_(options.events),
      check_signatures_(options.check_signatures),
      observers_(std::make_shared<const Observers>()) {}

SWITCHYARD_INLINE StatusOr<PredictResponse> Deployment::predict(
    const PredictRequest& request) noexcept {
  namespace dd = detail::deployment;
  try {
    auto table = router_.read();
    if (!table) {
      return fail(request, 0, {}, ErrorCode::kNoActiveModel,
                  "model '" + std::string(model()) + "' has no active version");
    }
    RouteDecision d = table->route(request.key, request.attributes, request.version);
    if (d.variant == nullptr) {
      if (d.error == ErrorCode::kNotFound) {
        const std::int64_t v = request.version.value_or(0);
        return fail(request, v, {}, ErrorCode::kNotFound,
                    dd::version_ref(model(), v) + " is not loaded in the deployment");
      }
      return fail(request, 0, {}, ErrorCode::kNoActiveModel,
                  "model '" + std::string(model()) + "' has no active version");
    }
    const RoutedVariant* arm = d.variant;
    if (check_signatures_) {
      const Signature& sig = arm->model->signature();
      if (!sig.inputs.empty()) {
        Status s = sig.check(request.input);
        if (!s.ok()) {
          return fail(request, arm->version, arm->name, s.code(),
                      dd::version_ref(model(), arm->version) + ": " + s.message());
        }
      }
    }
    PredictResponse response;
    response.model = table->model_name();
    response.reason = d.reason;
    std::uint64_t latency = 0;
    if (!dd::call(ticks_, *arm, request.input, response.prediction, latency)) {
      const RoutedVariant* fb = table->fallback();
      const bool can_fall_back = fb != nullptr && fb != arm && table->policy().fallback_on_error;
      if (!can_fall_back || !dd::call(ticks_, *fb, request.input, response.prediction, latency)) {
        return fail(request, arm->version, arm->name, ErrorCode::kModelFailed,
                    dd::version_ref(model(), arm->version) + " failed" +
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
    if ((events_ != nullptr && events_->predictions_wanted()) ||
        has_observers_.load(std::memory_order_relaxed)) [[unlikely]] {
      report_answer(request, response, latency);
    }
    return response;
  } catch (const std::exception& e) {
    // Only allocation failure can get here (models' exceptions are caught in call()).
    return Status(ErrorCode::kModelFailed, std::string("deployment error: ") + e.what());
  } catch (...) {
    return Status(ErrorCode::kModelFailed, "deployment error");
  }
}

SWITCHYARD_INLINE ObservedRequest Deployment::observed(const PredictRequest& request) const
    noexcept {
  ObservedRequest seen;
  seen.model = model();
  seen.key = request.key;
  seen.request_id = request.request_id;
  seen.input = &request.input;
  seen.attributes = request.attributes;
  return seen;
}

SWITCHYARD_INLINE Status Deployment::fail(const PredictRequest& request, std::int64_t version,
                                          std::string_view variant, ErrorCode code,
                                          std::string message) noexcept {
  ObservedRequest seen = observed(request);
  seen.version = version;
  seen.variant = variant;
  seen.ok = false;
  seen.error = code;
  report(request, seen);
  return Status(code, std::move(message));
}

SWITCHYARD_INLINE void Deployment::report_answer(const PredictRequest& request,
                                                 const PredictResponse& response,
                                                 std::uint64_t latency_ns) noexcept {
  ObservedRequest seen = observed(request);
  seen.version = response.version;
  seen.variant = response.variant;
  seen.prediction = &response.prediction;
  seen.fell_back = response.fell_back;
  seen.failed_version = response.failed_version;
  seen.latency_ns = static_cast<std::int64_t>(latency_ns);
  report(request, seen);
}

SWITCHYARD_INLINE void Deployment::report(const PredictRequest& request,
                                          const ObservedRequest& seen) noexcept {
  if (events_ != nullptr && events_->predictions_wanted()) {
    PredictionEvent e;
    e.model = seen.model;
    e.version = seen.version;
    e.variant = seen.variant;
    e.key = request.key;
    e.request_id = request.request_id;
    e.ok = seen.ok;
    e.error = seen.error;
    e.fell_back = seen.fell_back;
    e.latency_ns = seen.latency_ns;
    if (seen.prediction != nullptr) {
      e.label = detail::deployment::first_label(*seen.prediction);
      e.confidence = detail::deployment::first_confidence(*seen.prediction);
    }
    try {
      events_->prediction_served(e);  // slots' exceptions go to the hub's handler
    } catch (...) {
      // Only the signal's own allocation can throw here; the request's answer stands.
    }
  }
  if (has_observers_.load(std::memory_order_relaxed)) [[unlikely]] notify_observers(seen);
}

SWITCHYARD_INLINE void Deployment::notify_observers(const ObservedRequest& seen) noexcept {
  auto list = observers_.read();
  for (const auto& o : *list) {
    try {
      o->on_request(seen);
    } catch (...) {
      observer_errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

SWITCHYARD_INLINE void Deployment::add_observer(std::shared_ptr<RequestObserver> observer) {
  if (!observer) {
    throw InvalidArgument("deployment of model '" + std::string(model()) +
                          "': add_observer got a null observer");
  }
  detail::MutexLock lk(observers_mu_);
  auto next = std::make_shared<Observers>(*observers_.load());
  next->push_back(std::move(observer));
  observers_.publish(std::move(next));
  has_observers_.store(true, std::memory_order_release);
}

SWITCHYARD_INLINE bool Deployment::remove_observer(const RequestObserver* observer) {
  detail::MutexLock lk(observers_mu_);
  auto next = std::make_shared<Observers>(*observers_.load());
  const auto it = std::find_if(next->begin(), next->end(),
                               [&](const auto& o) { return o.get() == observer; });
  if (it == next->end()) return false;
  next->erase(it);
  const bool any = !next->empty();
  observers_.publish(std::move(next));
  has_observers_.store(any, std::memory_order_release);
  return true;
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
        vs.class_names = arm->model->signature().class_names;
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

SWITCHYARD_INLINE std::vector<VariantStats> Deployment::stats() const {
  return collect(Read::kCumulative);
}
SWITCHYARD_INLINE ModelStats Deployment::model_stats() const {
  return ModelStats{std::string(model()), collect(Read::kCumulative)};
}
SWITCHYARD_INLINE std::vector<VariantStats> Deployment::window() const {
  return collect(Read::kWindow);
}
SWITCHYARD_INLINE std::vector<VariantStats> Deployment::reset_window() {
  auto ended = collect(Read::kResetWindow);
  for (const auto& v : ended) {
    metrics_published(MetricsEvent{model(), v.version, v.variant, &v.stats});
  }
  return ended;
}

}  // namespace switchyard
