// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of drift_monitor.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <utility>

#include <switchyard/core/error.hpp>
#include <switchyard/drift/drift_monitor.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/stats/roc_auc.hpp>

namespace switchyard {

namespace detail::drift {

inline std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// The smallest and largest value a merged latency histogram can hold, from its buckets, so its
// quantiles are not clamped to [0, 0].
inline void finish_latency(LatencyHistogram& h, std::uint64_t count, std::uint64_t sum) {
  std::uint64_t lo = 0, hi = 0;
  bool any = false;
  for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) {
    if (h.bucket_count(i) == 0) continue;
    if (!any) lo = LatencyBuckets::lower(i);
    hi = LatencyBuckets::upper(i) - 1;
    any = true;
  }
  h.set_totals(count, sum, lo, hi);
}

}  // namespace detail::drift

SWITCHYARD_INLINE DriftMonitor::DriftMonitor(Options options)
    : drift_detected{detail::GuardedSlots{options.events, "drift_detected"}},
      quality_degraded{detail::GuardedSlots{options.events, "quality_degraded"}},
      alert_cleared{detail::GuardedSlots{options.events, "alert_cleared"}},
      retraining_recommended{detail::GuardedSlots{options.events, "retraining_recommended"}},
      window_evaluated{detail::GuardedSlots{options.events, "window_evaluated"}},
      options_(std::move(options)),
      origin_ns_(options_.clock ? to_unix_nanos(options_.clock->now()) : 0),
      sub_ns_(options_.sub_windows > 0
                  ? options_.window.count() / static_cast<std::int64_t>(options_.sub_windows)
                  : 0),
      alerts_(options_.alerts) {
  auto bad = [](const char* field, const std::string& why) {
    throw InvalidArgument(std::string("DriftMonitor option '") + field + "' " + why);
  };
  if (!options_.profile) bad("profile", "is null");
  if (options_.clock == nullptr) bad("clock", "is null");
  if (options_.sub_windows == 0 || options_.sub_windows > 1024) {
    bad("sub_windows", "must be in [1, 1024]");
  }
  if (options_.window.count() <= 0 || sub_ns_ <= 0) {
    bad("window", "must be positive and at least sub_windows nanoseconds");
  }
  if (options_.history == 0) bad("history", "must be at least 1");
  if (options_.version < 0) bad("version", "must not be negative");
  const ReferenceProfile& profile = *options_.profile;
  // Validates the drift options and the profile's shape against an empty window (throws
  // InvalidArgument naming the field).
  (void)evaluate_drift(profile, CurrentWindow::for_profile(profile), options_.drift);

  binner_ = detail::drift::FeatureBinner(profile);
  if (profile.prediction) prediction_slots_ = profile.prediction->slots() + 1;
  for (std::size_t f = 0; f < profile.features.size(); ++f) {
    if (profile.features[f].histogram()) sampled_features_.push_back(f);
  }
  sample_prediction_ = profile.prediction && profile.prediction->histogram();
  layout_.feature_counters = binner_.counters();
  layout_.prediction_counters = prediction_slots_;
  layout_.sample_width = sampled_features_.size() + (sample_prediction_ ? 1 : 0);
  layout_.sample_capacity = layout_.sample_width > 0 ? options_.sample_rows : 0;
  shards_ = std::make_unique<detail::drift::WindowShards>(layout_);

  baseline_accuracy_ = options_.baseline_accuracy;
  baseline_auc_ = options_.baseline_auc;
  if (options_.registry != nullptr && options_.version > 0) {
    VersionRef v = options_.registry->get(options_.model, options_.version);  // NotFound
    if (!baseline_accuracy_) {
      if (auto it = v->metrics.find("accuracy"); it != v->metrics.end()) baseline_accuracy_ = it->second;
    }
    if (!baseline_auc_) {
      if (auto it = v->metrics.find("auc"); it != v->metrics.end()) baseline_auc_ = it->second;
    }
    dataset_version_ = v->dataset_version;
    datasets_seen_.insert(dataset_version_);
  }
  if (options_.retraining_period) {
    if (options_.retraining_period->count() <= 0) bad("retraining_period", "must be positive");
    next_schedule_ns_ = origin_ns_ + options_.retraining_period->count();
  }
}

SWITCHYARD_INLINE DriftMonitor::~DriftMonitor() = default;

// ---- request path ---------------------------------------------------------------------------

SWITCHYARD_INLINE std::int64_t DriftMonitor::epoch_of(std::int64_t now_ns) const noexcept {
  return now_ns <= origin_ns_ ? 0 : (now_ns - origin_ns_) / sub_ns_;
}

SWITCHYARD_INLINE std::int64_t DriftMonitor::advance_epoch(std::int64_t now_ns) noexcept {
  const std::int64_t target = epoch_of(now_ns);
  std::int64_t cur = epoch_.load(std::memory_order_seq_cst);
  while (cur < target && !epoch_.compare_exchange_weak(cur, target, std::memory_order_seq_cst)) {
  }
  return std::max(cur, target);
}

SWITCHYARD_INLINE detail::drift::Bank* DriftMonitor::open_bank(detail::drift::Shard& shard,
                                                                std::int64_t epoch) noexcept {
  detail::drift::Bank& b = shard.banks[static_cast<std::size_t>(epoch) % detail::drift::kBanks];
  const std::int64_t tag = b.tag.load(std::memory_order_relaxed);  // this thread wrote it
  if (tag != epoch) {
    // A bank whose sub-window poll() has not collected yet is never overwritten: the row is
    // dropped instead (counted), so a collected window is never torn.
    if (tag >= 0 && tag >= collected_.load(std::memory_order_acquire)) return nullptr;
    std::memset(b.counters, 0, layout_.counters() * sizeof(std::uint64_t));
    b.sample = {};
    b.last_version.store(0, std::memory_order_relaxed);
    b.tag.store(epoch, std::memory_order_release);
  }
  shard.current = epoch;
  shard.bank = &b;
  return &b;
}

template <class T>
bool DriftMonitor::observe_row(const T* row, std::size_t columns, double prediction,
                               RowKind kind, std::int64_t version,
                               std::int64_t latency_ns) noexcept {
  namespace dd = detail::drift;
  const bool count_request = kind != RowKind::kBatchRow;
  if (row != nullptr && columns != binner_.features()) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  dd::Shard* s = shards_->shard();
  if (s == nullptr) {
    overflow_dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // The row is "in flight" from here: a poll() that closed this sub-window waits for it.
  const std::uint64_t seq = s->seq.load(std::memory_order_relaxed);
  s->seq.store(seq + 1, std::memory_order_seq_cst);
  const std::int64_t now = to_unix_nanos(options_.clock->now());
  std::int64_t e = epoch_.load(std::memory_order_seq_cst);
  if (now - origin_ns_ >= (e + 1) * sub_ns_) [[unlikely]] {
    e = advance_epoch(now);
  }
  dd::Bank* b = s->current == e ? s->bank : open_bank(*s, e);
  if (b != nullptr) [[likely]] {
    std::uint64_t* c = b->counters;
    if (count_request) {
      dd::bump(c, dd::kRequests);
      if (kind == RowKind::kFailedRequest) dd::bump(c, dd::kErrors);
      if (latency_ns >= 0) {
        dd::bump(c, dd::kTimedRequests);
        dd::bump(c, dd::kLatencySum, static_cast<std::uint64_t>(latency_ns));
        dd::bump(c, layout_.latency_offset() +
                        LatencyBuckets::index(static_cast<std::uint64_t>(latency_ns)));
      }
    }
    if (row != nullptr) {
      dd::bump(c, dd::kRows);
      binner_.count(row, c + layout_.feature_offset());
      if (prediction_slots_ != 0) {
        const FeatureProfile& p = *options_.profile->prediction;
        const std::size_t slot =
            std::isfinite(prediction) ? p.slot_of(prediction) : prediction_slots_ - 1;
        dd::bump(c, layout_.prediction_offset() + slot);
      }
      if (double* dst = dd::sample_slot(*b, layout_)) {
        std::size_t k = 0;
        for (std::size_t f : sampled_features_) dst[k++] = static_cast<double>(row[f]);
        if (sample_prediction_) dst[k] = prediction;
      }
      b->last_version.store(version, std::memory_order_relaxed);
    }
  } else {
    s->dropped.fetch_add(1, std::memory_order_relaxed);
  }
  s->seq.store(seq + 2, std::memory_order_release);
  return b != nullptr;
}

SWITCHYARD_INLINE bool DriftMonitor::observe(std::span<const double> features,
                                             double prediction) noexcept {
  return observe_row(features.data(), features.size(), prediction, RowKind::kRequest,
                     options_.version, -1);
}

SWITCHYARD_INLINE bool DriftMonitor::observe(std::span<const float> features,
                                             double prediction) noexcept {
  return observe_row(features.data(), features.size(), prediction, RowKind::kRequest,
                     options_.version, -1);
}

template <class T>
void DriftMonitor::observe_tensor(const ObservedRequest& request, const TensorView& t) noexcept {
  const Shape& shape = t.shape();
  std::size_t rows = 1, columns = 0;
  if (shape.rank() == 1) {
    columns = static_cast<std::size_t>(shape[0]);
  } else if (shape.rank() == 2) {
    rows = static_cast<std::size_t>(shape[0]);
    columns = static_cast<std::size_t>(shape[1]);
  } else {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const T* data = static_cast<const T*>(t.data());
  const Prediction* p = request.prediction;
  const bool use_labels = p != nullptr && !p->labels.empty() && options_.profile->prediction &&
                          !options_.profile->prediction->histogram();
  for (std::size_t r = 0; r < rows; ++r) {
    double prediction = kNoPrediction;
    if (use_labels && r < p->labels.size()) {
      prediction = static_cast<double>(p->labels[r]);
    } else if (p != nullptr && p->values.dimension() == 2 && r < p->values.shape()[0] &&
               p->values.shape()[1] > 0) {
      prediction = p->values(r, 0);
    }
    observe_row(data + r * columns, columns, prediction,
                r == 0 ? RowKind::kRequest : RowKind::kBatchRow, request.version,
                r == 0 ? request.latency_ns : -1);
  }
}

SWITCHYARD_INLINE void DriftMonitor::on_request(const ObservedRequest& request) noexcept {
  if (request.model != options_.model) return;
  // The watched version failing (and a fallback answering) is a failure of the watched version.
  const bool watched_failed = request.fell_back && request.failed_version == options_.version;
  if (options_.version != 0 && request.version != options_.version && !watched_failed) return;
  if (!request.ok || watched_failed || request.input == nullptr || request.input->size() == 0) {
    observe_row<double>(nullptr, 0, kNoPrediction, RowKind::kFailedRequest,
                        watched_failed ? options_.version : request.version, -1);
    return;
  }
  const TensorView& t = request.input->front();
  switch (t.dtype()) {
    case DType::kFloat64: observe_tensor<double>(request, t); break;
    case DType::kFloat32: observe_tensor<float>(request, t); break;
    case DType::kInt64: observe_tensor<std::int64_t>(request, t); break;
    case DType::kInt32: observe_tensor<std::int32_t>(request, t); break;
    case DType::kBool: observe_tensor<bool>(request, t); break;
  }
}

// ---- labels ---------------------------------------------------------------------------------

SWITCHYARD_INLINE bool DriftMonitor::record_label(double label, double predicted, double score) {
  if (!std::isfinite(label)) return false;
  const std::int64_t e = epoch_of(to_unix_nanos(options_.clock->now()));
  detail::MutexLock lk(labels_mu_);
  LabelEpoch& le = labels_[e];
  ++le.labels;
  if (std::isfinite(predicted)) {
    ++le.predicted;
    le.correct += predicted == label ? 1 : 0;
  }
  if (options_.label_profile) {
    if (le.label_window.counts.empty()) {
      le.label_window = FeatureWindow::for_feature(*options_.label_profile);
    }
    le.label_window.add(*options_.label_profile, label,
                        le.label_window.sample.size() < options_.max_scored_labels);
  }
  if (std::isfinite(score) && (label == 0.0 || label == 1.0) &&
      le.scores.size() < options_.max_scored_labels) {
    le.classes.push_back(static_cast<int>(label));
    le.scores.push_back(score);
  }
  return true;
}

// ---- off the request path -------------------------------------------------------------------

SWITCHYARD_INLINE DriftMonitor::SubWindow DriftMonitor::collect(std::int64_t epoch) {
  namespace dd = detail::drift;
  SubWindow w;
  w.epoch = epoch;
  w.counters.assign(layout_.counters(), 0);
  const std::size_t width = layout_.sample_width;
  for (std::size_t i = 0; i < detail::kMaxThreadSlots; ++i) {
    dd::Shard* s = shards_->at(i);
    if (s == nullptr) continue;
    // epoch_ is past `epoch` already: a row still in flight may belong to it, so wait for that
    // one row to finish (rows started later go to a later sub-window).
    const std::uint64_t q = s->seq.load(std::memory_order_seq_cst);
    if (q & 1u) {
      while (s->seq.load(std::memory_order_acquire) == q) std::this_thread::yield();
    }
    dd::Bank& b = s->banks[static_cast<std::size_t>(epoch) % dd::kBanks];
    if (b.tag.load(std::memory_order_acquire) != epoch) continue;
    for (std::size_t k = 0; k < w.counters.size(); ++k) w.counters[k] += dd::read(b.counters, k);
    if (b.sample.kept > 0) {
      SubWindow::Part part;
      part.stride = b.sample.stride;
      part.kept = b.sample.kept;
      part.rows.assign(b.rows, b.rows + b.sample.kept * width);
      w.samples.push_back(std::move(part));
    }
    if (const std::int64_t v = b.last_version.load(std::memory_order_relaxed); v != 0) {
      w.last_version = v;
    }
  }
  return w;
}

SWITCHYARD_INLINE CurrentWindow DriftMonitor::merge_window(
    const std::vector<const SubWindow*>& parts, std::uint64_t& stride, LatencyHistogram& latency,
    std::uint64_t& requests, std::uint64_t& errors, std::int64_t& last_version) const {
  namespace dd = detail::drift;
  const ReferenceProfile& profile = *options_.profile;
  std::vector<std::uint64_t> total(layout_.counters(), 0);
  for (const SubWindow* p : parts) {
    for (std::size_t k = 0; k < total.size(); ++k) total[k] += p->counters[k];
    if (p->last_version != 0) last_version = p->last_version;
  }
  CurrentWindow cw = CurrentWindow::for_profile(profile);
  for (std::size_t f = 0; f < profile.features.size(); ++f) {
    const std::size_t base = layout_.feature_offset() + binner_.offset(f);
    FeatureWindow& fw = cw.features[f];
    const std::size_t slots = profile.features[f].slots();
    for (std::size_t s = 0; s < slots; ++s) fw.counts[s] = total[base + s];
    fw.missing = total[base + slots];
  }
  if (prediction_slots_ != 0) {
    cw.has_prediction = true;
    cw.prediction = FeatureWindow::for_feature(*profile.prediction);
    const std::size_t base = layout_.prediction_offset();
    for (std::size_t s = 0; s + 1 < prediction_slots_; ++s) cw.prediction.counts[s] = total[base + s];
    cw.prediction.missing = total[base + prediction_slots_ - 1];
  }
  cw.rows = total[dd::kRows];
  requests = total[dd::kRequests];
  errors = total[dd::kErrors];
  for (std::size_t i = 0; i < LatencyBuckets::kCount; ++i) {
    if (const std::uint64_t n = total[layout_.latency_offset() + i]) latency.add_bucket(i, n);
  }
  dd::finish_latency(latency, total[dd::kTimedRequests], total[dd::kLatencySum]);

  // One stride for every thread's and sub-window's sample, so each row had the same chance;
  // doubled until the window's sample fits sample_rows.
  std::uint64_t s = 1;
  for (const SubWindow* p : parts) {
    for (const auto& part : p->samples) s = std::max(s, part.stride);
  }
  auto kept_at = [&](std::uint64_t stride_) {
    std::uint64_t n = 0;
    for (const SubWindow* p : parts) {
      for (const auto& part : p->samples) {
        const std::uint64_t r = stride_ / part.stride;
        n += (part.kept + r - 1) / r;
      }
    }
    return n;
  };
  while (kept_at(s) > options_.sample_rows) s *= 2;
  stride = s;
  const std::size_t width = layout_.sample_width;
  for (const SubWindow* p : parts) {
    for (const auto& part : p->samples) {
      const std::uint64_t r = s / part.stride;
      for (std::uint64_t j = 0; j < part.kept; j += r) {
        const double* row = part.rows.data() + j * width;
        for (std::size_t k = 0; k < sampled_features_.size(); ++k) {
          if (std::isfinite(row[k])) cw.features[sampled_features_[k]].sample.push_back(row[k]);
        }
        if (sample_prediction_ && std::isfinite(row[width - 1])) {
          cw.prediction.sample.push_back(row[width - 1]);
        }
      }
    }
  }
  return cw;
}

SWITCHYARD_INLINE WindowEvaluation DriftMonitor::evaluate_window(std::int64_t last_epoch) {
  const auto k = static_cast<std::int64_t>(options_.sub_windows);
  std::vector<const SubWindow*> parts;
  for (const SubWindow& sw : recent_) parts.push_back(&sw);
  WindowEvaluation w;
  LatencyHistogram latency;
  std::uint64_t requests = 0, errors = 0;
  std::int64_t last_version = 0;
  CurrentWindow cw = merge_window(parts, w.sample_stride, latency, requests, errors, last_version);
  cw.start = from_unix_nanos(origin_ns_ + (last_epoch - k + 1) * sub_ns_);
  cw.end = from_unix_nanos(origin_ns_ + (last_epoch + 1) * sub_ns_);
  w.drift = evaluate_drift(*options_.profile, cw, options_.drift);
  w.drift.model = options_.model;
  w.drift.version = options_.version != 0 ? options_.version : last_version;
  w.drift.window_start = cw.start;
  w.drift.window_end = cw.end;
  w.drift.rows = cw.rows;

  WindowQuality& q = w.quality;
  q.requests = requests;
  q.errors = errors;
  q.error_rate = requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0.0;
  if (latency.count() > 0) q.latency_p99_ns = latency.quantile(0.99);
  q.baseline_accuracy = baseline_accuracy_;
  q.baseline_auc = baseline_auc_;

  // Labels of the window's sub-windows; the ones no later window needs are dropped.
  LabelEpoch merged;
  if (options_.label_profile) {
    merged.label_window = FeatureWindow::for_feature(*options_.label_profile);
  }
  {
    detail::MutexLock lk(labels_mu_);
    for (auto it = labels_.begin(); it != labels_.end() && it->first <= last_epoch;) {
      const LabelEpoch& le = it->second;
      if (it->first > last_epoch - k) {
        merged.labels += le.labels;
        merged.correct += le.correct;
        merged.predicted += le.predicted;
        if (options_.label_profile && !le.label_window.counts.empty()) {
          for (std::size_t s = 0; s < le.label_window.counts.size(); ++s) {
            merged.label_window.counts[s] += le.label_window.counts[s];
          }
          merged.label_window.missing += le.label_window.missing;
          merged.label_window.sample.insert(merged.label_window.sample.end(),
                                            le.label_window.sample.begin(),
                                            le.label_window.sample.end());
        }
        merged.classes.insert(merged.classes.end(), le.classes.begin(), le.classes.end());
        merged.scores.insert(merged.scores.end(), le.scores.begin(), le.scores.end());
      }
      it = it->first <= last_epoch - k + 1 ? labels_.erase(it) : std::next(it);
    }
  }
  q.labels = merged.labels;
  if (merged.predicted > 0) {
    q.accuracy = static_cast<double>(merged.correct) / static_cast<double>(merged.predicted);
  }
  if (!merged.scores.empty()) {
    const stats::AucResult auc = stats::roc_auc(merged.classes, merged.scores);
    if (auc.ok()) q.auc = auc.auc;
  }
  if (options_.label_profile && merged.labels > 0) {
    w.label_drift = evaluate_feature(*options_.label_profile, merged.label_window,
                                     options_.drift.prediction, options_.drift.exact_when_complete);
    w.label_drift->name = "label";
  }

  // Volume: the newest sub-window against the trailing ones (measurements() compares).
  if (volumes_.size() >= options_.alerts.volume_min_windows) {
    double mean = 0.0;
    for (auto v : volumes_) mean += static_cast<double>(v);
    mean /= static_cast<double>(volumes_.size());
    double ss = 0.0;
    for (auto v : volumes_) ss += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
    q.volume_mean = mean;
    q.volume_std = std::sqrt(ss / static_cast<double>(volumes_.size() - 1));
  }
  return w;
}

SWITCHYARD_INLINE std::vector<AlertMeasurement> DriftMonitor::measurements(
    const WindowEvaluation& w) const {
  using detail::drift::format_number;
  const AlertPolicy& policy = options_.alerts;
  std::vector<AlertMeasurement> out;
  const std::string rows = " (" + std::to_string(w.drift.rows) + " rows)";
  auto drift_of = [&](AlertCondition c, const FeatureDrift& fd, std::string subject,
                      const std::string& what) {
    if (fd.status != stats::StatStatus::kOk) return;
    AlertMeasurement m;
    m.condition = c;
    m.subject = std::move(subject);
    m.value = fd.score;
    m.threshold = fd.threshold;
    m.lower_is_worse = is_p_value_test(fd.test);
    m.breached = fd.drift;
    m.evidence = what + ": " + to_string(fd.test) + " " + format_number(fd.score) +
                 (fd.drift ? (m.lower_is_worse ? " < " : " >= ") : (m.lower_is_worse ? " >= " : " < ")) +
                 format_number(fd.threshold) +
                 (fd.unseen ? ", " + std::to_string(fd.unseen) + " unseen values" : "") + rows;
    out.push_back(std::move(m));
  };
  if (policy.feature_alerts) {
    for (const FeatureDrift& fd : w.drift.features) {
      drift_of(AlertCondition::kFeatureDrift, fd, fd.name, "feature '" + fd.name + "'");
    }
  }
  if (w.drift.features.size() > w.drift.features_unknown) {
    AlertMeasurement m;
    m.condition = AlertCondition::kDatasetDrift;
    m.value = w.drift.drift_share;
    m.threshold = w.drift.drift_share_threshold;
    m.breached = w.drift.dataset_drift;
    m.evidence = std::to_string(w.drift.features_drifted) + " of " +
                 std::to_string(w.drift.features.size() - w.drift.features_unknown) +
                 " features drifted, share " + format_number(m.value) + " vs " +
                 format_number(m.threshold) + rows;
    out.push_back(std::move(m));
  }
  if (w.drift.has_prediction) {
    drift_of(AlertCondition::kPredictionDrift, w.drift.prediction, "", "prediction");
  }
  if (w.label_drift) drift_of(AlertCondition::kLabelDrift, *w.label_drift, "", "labels");

  const WindowQuality& q = w.quality;
  auto add = [&](AlertCondition c, double value, double threshold, std::string evidence) {
    AlertMeasurement m;
    m.condition = c;
    m.value = value;
    m.threshold = threshold;
    m.breached = value > threshold;
    m.evidence = std::move(evidence);
    out.push_back(std::move(m));
  };
  if (q.accuracy && q.baseline_accuracy && q.labels >= policy.min_labels) {
    const double drop = *q.baseline_accuracy - *q.accuracy;
    add(AlertCondition::kAccuracyDrop, drop, policy.accuracy_drop,
        "accuracy " + format_number(*q.accuracy) + " vs baseline " +
            format_number(*q.baseline_accuracy) + " (" + std::to_string(q.labels) + " labels)");
  }
  if (q.auc && q.baseline_auc && q.labels >= policy.min_labels) {
    add(AlertCondition::kAucDrop, *q.baseline_auc - *q.auc, policy.auc_drop,
        "AUC " + format_number(*q.auc) + " vs baseline " + format_number(*q.baseline_auc) + " (" +
            std::to_string(q.labels) + " labels)");
  }
  if (policy.latency_sla && q.latency_p99_ns) {
    const double sla = static_cast<double>(policy.latency_sla->count());
    add(AlertCondition::kLatencyP99, *q.latency_p99_ns, sla,
        "p99 " + format_number(*q.latency_p99_ns / 1e6) + " ms vs SLA " +
            format_number(sla / 1e6) + " ms (" + std::to_string(q.requests) + " requests)");
  }
  if (q.requests >= policy.min_requests) {
    add(AlertCondition::kErrorRate, q.error_rate, policy.error_rate,
        std::to_string(q.errors) + " errors in " + std::to_string(q.requests) +
            " requests, rate " + format_number(q.error_rate));
  }
  if (q.volume_mean) {
    const double n = static_cast<double>(recent_.back().counters[detail::drift::kRequests]);
    const double sd = std::max(*q.volume_std, std::sqrt(*q.volume_mean));
    const double sigmas = sd > 0.0 ? std::fabs(n - *q.volume_mean) / sd : (n == 0.0 ? 0.0 : 1e9);
    add(AlertCondition::kTrafficVolume, sigmas, policy.volume_sigmas,
        format_number(n) + " requests vs trailing mean " + format_number(*q.volume_mean) +
            " (sd " + format_number(*q.volume_std) + "), " + format_number(sigmas) + " sigma");
  }
  return out;
}

SWITCHYARD_INLINE void DriftMonitor::check_triggers(std::int64_t now_ns,
                                                    std::vector<RetrainingRecommendation>& out) {
  if (options_.retraining_period && now_ns >= next_schedule_ns_) {
    RetrainingRecommendation r;
    r.trigger = RetrainingTrigger::kScheduled;
    r.model = options_.model;
    r.version = options_.version;
    r.at = from_unix_nanos(now_ns);
    r.reason = "scheduled retraining is due (every " +
               std::to_string(options_.retraining_period->count() / 1'000'000'000) + " s)";
    out.push_back(std::move(r));
    const std::int64_t period = options_.retraining_period->count();
    next_schedule_ns_ += ((now_ns - next_schedule_ns_) / period + 1) * period;
  }
  if (options_.registry != nullptr && options_.version > 0) {
    for (const VersionRef& v : options_.registry->versions(options_.model)) {
      if (v->version <= options_.version || v->dataset_version.empty()) continue;
      if (!datasets_seen_.insert(v->dataset_version).second) continue;
      RetrainingRecommendation r;
      r.trigger = RetrainingTrigger::kNewDatasetVersion;
      r.model = options_.model;
      r.version = options_.version;
      r.at = from_unix_nanos(now_ns);
      r.dataset_version = v->dataset_version;
      r.dataset_model_version = v->version;
      r.reason = "version " + std::to_string(v->version) + " was registered with dataset_version '" +
                 v->dataset_version + "' (watched version " + std::to_string(options_.version) +
                 ": '" + dataset_version_ + "')";
      out.push_back(std::move(r));
    }
  }
}

SWITCHYARD_INLINE std::vector<WindowEvaluation> DriftMonitor::poll() {
  detail::MutexLock lk(poll_mu_);
  const std::int64_t now = to_unix_nanos(options_.clock->now());
  advance_epoch(now);
  const std::int64_t current = epoch_.load(std::memory_order_seq_cst);
  std::int64_t next = collected_.load(std::memory_order_relaxed);
  const auto lag_limit = static_cast<std::int64_t>(detail::drift::kBanks);
  if (current - next > lag_limit) {
    skipped_windows_.fetch_add(static_cast<std::uint64_t>(current - lag_limit - next),
                               std::memory_order_relaxed);
    next = current - lag_limit;
    collected_.store(next, std::memory_order_release);
    recent_.clear();  // the sliding window restarts
  }
  std::vector<WindowEvaluation> out;
  for (std::int64_t e = next; e < current; ++e) {
    recent_.push_back(collect(e));
    collected_.store(e + 1, std::memory_order_release);  // its banks may be reused now
    while (recent_.size() > options_.sub_windows) recent_.pop_front();
    if (recent_.size() < options_.sub_windows) continue;

    WindowEvaluation w = evaluate_window(e);
    const std::vector<AlertMeasurement> ms = measurements(w);
    DriftAlerts::WindowInfo info{options_.model, w.drift.version, w.drift.window_start,
                                 w.drift.window_end, w.drift.rows};
    DriftAlerts::Transitions t = alerts_.update(info, ms);
    w.raised = std::move(t.raised);
    w.cleared = std::move(t.cleared);
    volumes_.push_back(recent_.back().counters[detail::drift::kRequests]);
    while (volumes_.size() > options_.alerts.volume_windows) volumes_.pop_front();

    // Drift and performance triggers: the first alert of their kind while none was active.
    const std::vector<DriftAlert> active = alerts_.active();
    auto any_active = [&](auto pred) {
      return std::any_of(active.begin(), active.end(),
                         [&](const DriftAlert& a) { return pred(a.condition); });
    };
    auto is_performance = [](AlertCondition c) {
      return c == AlertCondition::kAccuracyDrop || c == AlertCondition::kAucDrop;
    };
    for (const DriftAlert& a : w.raised) {
      const bool drift = is_drift_condition(a.condition);
      const bool perf = is_performance(a.condition);
      if ((drift && drift_active_) || (perf && performance_active_) || (!drift && !perf)) continue;
      (drift ? drift_active_ : performance_active_) = true;
      RetrainingRecommendation r;
      r.trigger = drift ? RetrainingTrigger::kDrift : RetrainingTrigger::kPerformance;
      r.model = options_.model;
      r.version = w.drift.version;
      r.at = w.drift.window_end;
      r.reason = std::string(to_string(a.condition)) + ": " + a.evidence;
      r.alert = a;
      w.retraining.push_back(std::move(r));
    }
    drift_active_ = any_active(is_drift_condition);
    performance_active_ = any_active(is_performance);
    {
      detail::MutexLock state(state_mu_);
      active_ = active;
      history_.push_back(w);
      while (history_.size() > options_.history) history_.pop_front();
    }
    out.push_back(std::move(w));
  }
  std::vector<RetrainingRecommendation> triggers;
  check_triggers(now, triggers);

  for (const WindowEvaluation& w : out) {
    for (const DriftAlert& a : w.raised) {
      (is_drift_condition(a.condition) ? drift_detected : quality_degraded)(a);
    }
    for (const DriftAlert& a : w.cleared) alert_cleared(a);
    for (const RetrainingRecommendation& r : w.retraining) retraining_recommended(r);
    window_evaluated(w);
  }
  for (const RetrainingRecommendation& r : triggers) retraining_recommended(r);
  if (!out.empty()) {
    out.back().retraining.insert(out.back().retraining.end(), triggers.begin(), triggers.end());
  }
  return out;
}

SWITCHYARD_INLINE std::vector<WindowEvaluation> DriftMonitor::history() const {
  detail::MutexLock lk(state_mu_);
  return {history_.begin(), history_.end()};
}

SWITCHYARD_INLINE std::vector<DriftAlert> DriftMonitor::active_alerts() const {
  detail::MutexLock lk(state_mu_);
  return active_;
}

SWITCHYARD_INLINE std::uint64_t DriftMonitor::rows_dropped() const noexcept {
  std::uint64_t n = rejected_.load(std::memory_order_relaxed) +
                    overflow_dropped_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < detail::kMaxThreadSlots; ++i) {
    if (const detail::drift::Shard* s = shards_->at(i)) {
      n += s->dropped.load(std::memory_order_relaxed);
    }
  }
  return n;
}

}  // namespace switchyard
