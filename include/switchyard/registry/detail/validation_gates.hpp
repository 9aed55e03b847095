// SPDX-License-Identifier: Apache-2.0
// The five validation gates of ValidationPolicy, one function each: threshold, regression, group,
// signature and latency. ModelRegistry::run_gates lists them; none touches the registry's lock.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/registry/model_version.hpp>
#include <switchyard/registry/validation.hpp>

namespace switchyard::detail::registry {

/// A number in a gate's detail text (six significant digits: people read these, no program
/// parses them, so this is not JSON and keeps the report's established wording).
inline std::string fmt(double v) {
  std::ostringstream os;
  os.precision(6);
  os << v;
  return os.str();
}

/// What the gates of one version compare it with: the version itself, the model's Production
/// version (other than this one; null when none), and a lookup of any other version by number.
/// Thread-safety: a view over immutable snapshot data; used by one thread.
struct GateSubject {
  const ModelVersion& version;
  VersionRef production;
  std::function<VersionRef(std::int64_t)> find_version;
};

/// Threshold gate: each metric must be recorded and lie in [min, max].
inline void check_thresholds(const GateSubject& s, const std::vector<MetricThreshold>& thresholds,
                             std::vector<GateCheck>& out) {
  for (const auto& t : thresholds) {
    GateCheck c{"threshold", t.metric, false, ""};
    auto it = s.version.metrics.find(t.metric);
    if (it == s.version.metrics.end()) {
      c.detail = "metric not recorded";
    } else if (it->second < t.min) {
      c.detail = fmt(it->second) + " < min " + fmt(t.min);
    } else if (it->second > t.max) {
      c.detail = fmt(it->second) + " > max " + fmt(t.max);
    } else {
      c.passed = true;
      c.detail = fmt(it->second) + " within [" + fmt(t.min) + ", " + fmt(t.max) + "]";
    }
    out.push_back(std::move(c));
  }
}

/// Regression gate: no metric may be worse than the baseline's (a named version, else the
/// Production version; with neither the check passes and says so) by more than its tolerance.
inline void check_regressions(const GateSubject& s, const std::vector<RegressionCheck>& checks,
                              std::vector<GateCheck>& out) {
  for (const auto& r : checks) {
    GateCheck c{"regression", r.metric, false, ""};
    VersionRef base = s.production;
    if (r.baseline_version) {
      base = s.find_version(*r.baseline_version);
      if (!base) {
        c.detail = "baseline version " + std::to_string(*r.baseline_version) + " does not exist";
        out.push_back(std::move(c));
        continue;
      }
    }
    auto mine = s.version.metrics.find(r.metric);
    if (!base) {
      c.passed = true;
      c.detail = "no Production baseline to compare with";
    } else if (mine == s.version.metrics.end()) {
      c.detail = "metric not recorded";
    } else if (auto theirs = base->metrics.find(r.metric); theirs == base->metrics.end()) {
      c.detail = "baseline version " + std::to_string(base->version) + " lacks the metric";
    } else {
      double delta = r.higher_is_better ? theirs->second - mine->second
                                        : mine->second - theirs->second;
      c.passed = delta <= r.tolerance;
      c.detail = fmt(mine->second) + " vs baseline v" + std::to_string(base->version) + " " +
                 fmt(theirs->second) + (c.passed ? " (within" : " (worse than") + " tolerance " +
                 fmt(r.tolerance) + ")";
    }
    out.push_back(std::move(c));
  }
}

/// Group (bias) gate: every group's metric within [min, max], then the spread between the best
/// and the worst group within max_gap.
inline void check_groups(const GateSubject& s, const std::vector<GroupThreshold>& groups,
                         std::vector<GateCheck>& out) {
  for (const auto& g : groups) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    std::size_t seen = 0;
    for (const auto& [group, metrics] : s.version.group_metrics) {
      auto it = metrics.find(g.metric);
      if (it == metrics.end()) continue;
      ++seen;
      lo = std::min(lo, it->second);
      hi = std::max(hi, it->second);
      GateCheck c{"group", group + "." + g.metric, it->second >= g.min && it->second <= g.max, ""};
      c.detail = fmt(it->second) + (c.passed ? " within [" : " outside [") + fmt(g.min) + ", " +
                 fmt(g.max) + "]";
      out.push_back(std::move(c));
    }
    GateCheck gap{"group", g.metric + " gap", false, ""};
    if (seen == 0) {
      gap.detail = "no group recorded the metric";
    } else {
      gap.passed = hi - lo <= g.max_gap;
      gap.detail = "spread " + fmt(hi - lo) + (gap.passed ? " <= " : " > ") + fmt(g.max_gap);
    }
    out.push_back(std::move(gap));
  }
}

/// Signature gate: the candidate must accept what the Production version's callers send. Runs
/// only when there is a Production version.
inline void check_signature(const GateSubject& s, std::vector<GateCheck>& out) {
  if (!s.production) return;
  auto problems = s.version.signature.incompatibilities_with(s.production->signature);
  GateCheck c{"signature", "", problems.empty(), ""};
  if (problems.empty()) {
    c.detail = "accepts the inputs of Production version " + std::to_string(s.production->version);
  } else {
    for (const auto& p : problems) c.detail += (c.detail.empty() ? "" : "; ") + p;
  }
  out.push_back(std::move(c));
}

/// Zero-filled inputs shaped by a signature, for the latency gate.
struct SyntheticInput {
  std::vector<std::vector<double>> f64;
  std::vector<std::vector<float>> f32;
  std::vector<std::vector<std::int32_t>> i32;
  std::vector<std::vector<std::int64_t>> i64;
  std::vector<std::unique_ptr<bool[]>> b;
  std::vector<NamedTensor> named;
  std::vector<std::string> names;

  SyntheticInput(const Signature& sig, std::int64_t batch) {
    names.reserve(sig.inputs.size());
    for (const auto& spec : sig.inputs) {
      std::vector<std::int64_t> dims = spec.shape.empty() ? std::vector<std::int64_t>{batch, 1}
                                                          : spec.shape;
      for (std::size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] < 0) dims[i] = i == 0 ? batch : 1;
      }
      Shape shape;
      switch (dims.size()) {
        case 1: shape = Shape{dims[0]}; break;
        case 2: shape = Shape{dims[0], dims[1]}; break;
        case 3: shape = Shape{dims[0], dims[1], dims[2]}; break;
        default: shape = Shape{dims[0], dims[1], dims[2], dims[3]}; break;
      }
      std::size_t n = shape.elements();
      const void* data = nullptr;
      switch (spec.dtype) {
        case DType::kFloat64: data = f64.emplace_back(n, 0.0).data(); break;
        case DType::kFloat32: data = f32.emplace_back(n, 0.0f).data(); break;
        case DType::kInt32: data = i32.emplace_back(n, 0).data(); break;
        case DType::kInt64: data = i64.emplace_back(n, 0).data(); break;
        case DType::kBool: data = b.emplace_back(new bool[n]()).get(); break;
      }
      names.push_back(spec.name);
      named.push_back({names.back(), TensorView(spec.dtype, data, shape)});
    }
  }
  ModelInput input() const {
    return named.size() == 1 ? ModelInput(named[0].tensor)
                             : ModelInput(std::span<const NamedTensor>(named));
  }
};

/// The steady clock as a Clock, the latency gate's default timer.
class SteadyClock final : public Clock {
 public:
  TimePoint now() const noexcept override {
    return TimePoint(std::chrono::duration_cast<Duration>(
        std::chrono::steady_clock::now().time_since_epoch()));
  }
};

/// Latency gate: loads the model (`load`), calls it `iterations` times on zeros shaped by its
/// signature and requires the p99 to be at most max_p99. The slow gate: the caller must not hold
/// a lock other writers need. A model that cannot be loaded or called fails the check.
inline void check_latency(const GateSubject& s, const LatencyGate& gate,
                          const std::function<ModelPtr()>& load, std::vector<GateCheck>& out) {
  GateCheck c{"latency", "p99", false, ""};
  try {
    ModelPtr m = load();
    SteadyClock steady;
    const Clock& timer = gate.timer ? *gate.timer : steady;
    SyntheticInput in(m->signature().inputs.empty() ? s.version.signature : m->signature(),
                      std::max<std::int64_t>(gate.batch, 1));
    std::vector<std::int64_t> ns;
    const std::size_t n = std::max<std::size_t>(gate.iterations, 1);
    ns.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      TimePoint t0 = timer.now();
      (void)m->predict(in.input());
      ns.push_back((timer.now() - t0).count());
    }
    std::sort(ns.begin(), ns.end());
    std::size_t rank = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(n)));
    std::int64_t p99 = ns[std::clamp<std::size_t>(rank, 1, n) - 1];
    c.passed = p99 <= gate.max_p99.count();
    c.detail = "p99 " + std::to_string(p99) + " ns over " + std::to_string(n) + " calls" +
               (c.passed ? " <= " : " > ") + std::to_string(gate.max_p99.count()) + " ns";
  } catch (const std::exception& e) {
    c.detail = std::string("model could not be benchmarked: ") + e.what();
  }
  out.push_back(std::move(c));
}

}  // namespace switchyard::detail::registry
