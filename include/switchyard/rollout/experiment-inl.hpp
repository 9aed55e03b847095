// SPDX-License-Identifier: Apache-2.0
// Experiment's recording side: validation, the shared state, exposures, outcomes and labels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/rollout/experiment.hpp>
#include <switchyard/rollout/detail/experiment_state.hpp>
#include <switchyard/rollout/experiment_analysis-inl.hpp>
#include <switchyard/serving/routing_policy.hpp>
#include <utility>
#include <vector>

namespace switchyard {
namespace detail {

inline constexpr std::size_t kMaxExperimentMetrics = 31;  // bit 31 of a join mask is the label

/// Throws InvalidArgument naming `field` unless 0 < v < 1.
inline void validate_unit(double v, const std::string& experiment, const char* field) {
  if (!(v > 0.0 && v < 1.0)) {
    throw InvalidArgument("experiment '" + experiment + "': " + field +
                          " must lie strictly between 0 and 1, got " + std::to_string(v));
  }
}

/// The arms: at least 2, named, unique, weighted as validate_weights() (the routing policies'
/// one validation) accepts, and a control among them.
inline void validate_arms(const Experiment::Options& o) {
  const std::string& n = o.name;
  if (o.arms.size() < 2) {
    throw InvalidArgument("experiment '" + n + "': arms needs at least 2 variants, got " +
                          std::to_string(o.arms.size()));
  }
  std::vector<NamedWeight> weights;
  for (std::size_t i = 0; i < o.arms.size(); ++i) {
    const ExperimentArm& a = o.arms[i];
    if (a.variant.empty()) {
      throw InvalidArgument("experiment '" + n + "': arms[" + std::to_string(i) +
                            "].variant is empty");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (o.arms[j].variant == a.variant) {
        throw InvalidArgument("experiment '" + n + "': variant '" + a.variant +
                              "' appears twice in arms");
      }
    }
    weights.push_back(NamedWeight{a.variant, a.weight});
  }
  validate_weights(weights, "experiment '" + n + "': ");
  if (!o.control.empty()) {
    bool found = false;
    for (const auto& a : o.arms) found = found || a.variant == o.control;
    if (!found) {
      throw InvalidArgument("experiment '" + n + "': control '" + o.control +
                            "' is not one of the arms");
    }
  }
}

/// The metrics: at most 31, named, unique, with a positive MDE and a sensible missing_value.
inline void validate_metrics(const Experiment::Options& o) {
  const std::string& n = o.name;
  if (1 + o.guardrails.size() > kMaxExperimentMetrics) {
    throw InvalidArgument("experiment '" + n + "': at most " +
                          std::to_string(kMaxExperimentMetrics) + " metrics, got " +
                          std::to_string(1 + o.guardrails.size()));
  }
  std::vector<const MetricSpec*> all{&o.primary};
  for (const auto& g : o.guardrails) all.push_back(&g);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const MetricSpec& m = *all[i];
    const std::string where =
        i == 0 ? std::string("primary metric") : "guardrails[" + std::to_string(i - 1) + "]";
    if (m.name.empty()) throw InvalidArgument("experiment '" + n + "': " + where + " has no name");
    for (std::size_t j = 0; j < i; ++j) {
      if (all[j]->name == m.name) {
        throw InvalidArgument("experiment '" + n + "': metric '" + m.name + "' appears twice");
      }
    }
    if (!(m.minimum_detectable_effect > 0.0) || !std::isfinite(m.minimum_detectable_effect)) {
      throw InvalidArgument("experiment '" + n + "': metric '" + m.name +
                            "' minimum_detectable_effect must be positive and finite, got " +
                            std::to_string(m.minimum_detectable_effect));
    }
    if (m.missing_value &&
        (m.kind != MetricKind::kContinuous || !std::isfinite(*m.missing_value))) {
      throw InvalidArgument("experiment '" + n + "': metric '" + m.name +
                            "' missing_value needs a continuous metric and a finite value");
    }
  }
}

/// Every option, field by field; throws InvalidArgument naming the first bad one.
inline void validate_experiment(const Experiment::Options& o) {
  const std::string& n = o.name;
  validate_arms(o);
  validate_metrics(o);
  validate_unit(o.confidence, n, "confidence");
  validate_unit(o.power, n, "power");
  validate_unit(o.srm_threshold, n, "srm_threshold");
  if (!(o.sequential_tuning > 0.0) || !std::isfinite(o.sequential_tuning)) {
    throw InvalidArgument("experiment '" + n + "': sequential_tuning must be positive, got " +
                          std::to_string(o.sequential_tuning));
  }
  if (o.max_pending == 0) throw InvalidArgument("experiment '" + n + "': max_pending is 0");
  if (o.join_stripes == 0) throw InvalidArgument("experiment '" + n + "': join_stripes is 0");
  if (o.pending_ttl <= Duration::zero()) {
    throw InvalidArgument("experiment '" + n + "': pending_ttl must be positive");
  }
}

}  // namespace detail

SWITCHYARD_INLINE Experiment::Experiment(Options options) {
  detail::validate_experiment(options);
  state_ = std::make_shared<detail::ExperimentState>(std::move(options));
}

SWITCHYARD_INLINE Experiment::~Experiment() { detach(); }

SWITCHYARD_INLINE std::vector<ExperimentArm> Experiment::arms_of(const RoutingPolicy& policy) {
  std::vector<ExperimentArm> arms;
  arms.reserve(policy.variants.size());
  for (const auto& v : policy.variants) arms.push_back({v.name, v.weight});
  return arms;
}

SWITCHYARD_INLINE void Experiment::attach(EventHub& hub) {
  using Slot = EventHub::Signal<PredictionEvent>::slot_type;
  detail::ExperimentState* s = state_.get();
  Slot slot([s](const PredictionEvent& e) { s->on_prediction(e); });
  // Signals2 locks the tracked state for the duration of each call, so destroying the experiment
  // while a request thread is inside the slot leaves that call a live state.
  slot.track_foreign(std::weak_ptr<detail::ExperimentState>(state_));
  boost::signals2::connection c = hub.connect_prediction(slot);
  detail::MutexLock lk(mu_);
  connections_.push_back(std::move(c));
}

SWITCHYARD_INLINE void Experiment::detach() {
  detail::MutexLock lk(mu_);
  for (auto& c : connections_) c.disconnect();
  connections_.clear();
}

SWITCHYARD_INLINE bool Experiment::expose(const Exposure& exposure) {
  return state_->expose(exposure);
}

SWITCHYARD_INLINE JoinResult Experiment::record_outcome(std::string_view request_id,
                                                        std::string_view metric, double value) {
  detail::ExperimentState& s = *state_;
  std::size_t idx = s.metrics.size();
  for (std::size_t i = 0; i < s.metrics.size(); ++i) {
    if (s.metrics[i].spec.name == metric) idx = i;
  }
  if (idx == s.metrics.size()) {
    throw NotFound("experiment '" + s.options.name + "' has no metric '" + std::string(metric) +
                   "'");
  }
  const MetricKind kind = s.metrics[idx].spec.kind;
  if (!detail::metric_joins_outcome(kind)) {
    throw InvalidArgument("experiment '" + s.options.name + "': metric '" + std::string(metric) +
                          "' is a " + std::string(to_string(kind)) +
                          " metric; only binary and continuous metrics take outcomes");
  }
  if (!std::isfinite(value)) {
    s.invalid_values.add();
    return JoinResult::kInvalidValue;
  }
  detail::JoinedPrediction p;
  const JoinResult r = s.joins.join(request_id, 1u << idx, p);
  if (r != JoinResult::kJoined) return r;
  if (kind == MetricKind::kBinary) {
    if (value != 0.0) s.arms[p.arm]->metrics[idx].add(1.0);  // successes; trials are exposures
  } else {
    s.arms[p.arm]->metrics[idx].add(value);
  }
  return r;
}

SWITCHYARD_INLINE JoinResult Experiment::record_label(std::string_view request_id,
                                                      std::int32_t label) {
  detail::ExperimentState& s = *state_;
  if (s.label_metrics.empty()) return JoinResult::kNotTracked;
  detail::JoinedPrediction p;
  const JoinResult r = s.joins.join(request_id, detail::kLabelBit, p);
  if (r != JoinResult::kJoined) return r;
  bool unusable = false;
  const bool binary_label = label == 0 || label == 1;
  const bool scored = p.score >= 0.0 && p.score <= 1.0;  // false for NaN
  for (std::size_t i : s.label_metrics) {
    auto& acc = s.arms[p.arm]->metrics[i];
    switch (s.metrics[i].spec.kind) {
      case MetricKind::kAccuracy:
        if (p.predicted_label >= 0) {
          acc.add(p.predicted_label == label ? 1.0 : 0.0);
        } else {
          unusable = true;
        }
        break;
      case MetricKind::kBrierScore:
        if (binary_label && scored) {
          const double d = static_cast<double>(label) - p.score;
          acc.add(d * d);
        } else {
          unusable = true;
        }
        break;
      case MetricKind::kLogLoss:
        if (binary_label && scored) {
          // scikit-learn 1.2 log_loss: clip to [eps, 1 - eps], eps = machine epsilon.
          constexpr double eps = std::numeric_limits<double>::epsilon();
          const double q = std::clamp(p.score, eps, 1.0 - eps);
          acc.add(-std::log(label == 1 ? q : 1.0 - q));
        } else {
          unusable = true;
        }
        break;
      default:
        break;
    }
  }
  if (unusable) s.unusable_labels.add();
  return r;
}

SWITCHYARD_INLINE void Experiment::expire_pending() { state_->joins.sweep(); }

SWITCHYARD_INLINE JoinCounters Experiment::join_counters() const {
  const detail::ExperimentState& s = *state_;
  const auto t = s.joins.tally();
  JoinCounters c;
  c.pending = t.pending;
  c.tracked = t.tracked;
  c.labels_joined = t.labels_joined;
  c.outcomes_joined = t.outcomes_joined;
  c.completed = t.completed;
  c.evicted = t.evicted;
  c.expired = t.expired;
  c.expired_unlabeled = t.expired_unlabeled;
  c.unmatched = t.unmatched;
  c.duplicate_joins = t.duplicate_joins;
  c.duplicate_ids = t.duplicate_ids;
  c.missing_ids = s.missing_ids.snapshot().n;
  c.unknown_variants = s.unknown_variants.snapshot().n;
  c.invalid_values = s.invalid_values.snapshot().n;
  c.unusable_labels = s.unusable_labels.snapshot().n;
  return c;
}

SWITCHYARD_INLINE const Experiment::Options& Experiment::options() const noexcept {
  return state_->options;
}

SWITCHYARD_INLINE ExperimentReport Experiment::analyze() const {
  detail::ExperimentState& s = *state_;
  s.joins.sweep();
  const detail::ArmSnapshot data = detail::read_arms(s);
  ExperimentReport rep = detail::report_header(s.options, s.clock.now());
  detail::check_sample_ratio(rep, s.options, data.exposures);
  for (std::size_t m = 0; m < s.metrics.size(); ++m) {
    rep.metrics.push_back(detail::analyze_metric(s, m, data.metrics[m]));
  }
  rep.joins = join_counters();
  rep.decision = detail::decide(rep, s.options);
  return rep;
}

}  // namespace switchyard
