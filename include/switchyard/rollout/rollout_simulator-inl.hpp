// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of rollout_simulator.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <utility>

#include <boost/random/binomial_distribution.hpp>
#include <boost/random/normal_distribution.hpp>

#include <switchyard/core/error.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/rollout/rollout_simulator.hpp>

namespace switchyard {

namespace detail::simulator {

/// z such that P(Z <= z) = 0.99 for a standard normal.
inline constexpr double kZ99 = 2.3263478740408408;

/// A version's behaviour now. The model reads it on request threads, the simulator changes it at
/// a regression, so the fields a request reads are atomics.
struct Behaviour {
  std::int64_t version = 0;
  std::uint64_t seed = 0;
  std::atomic<double> error_rate{0.0};
  std::atomic<double> log_median{0.0};  // of nanoseconds
  double log_sigma = 0.0;               // a regression scales median and p99 alike
  std::atomic<double> accuracy{0.0};
  double labelled_fraction = 1.0;
  Duration label_delay{};
};

/// A uniform in [0, 1) from (seed, version, request, stream): every per-request decision is a
/// pure function of these, so the model, the latency overlay and the labeller agree without
/// sharing a generator, and a run is the same whatever the thread.
inline double hashed_uniform(const Behaviour& b, std::uint64_t request, std::uint64_t stream) {
  std::uint64_t z = b.seed ^ (static_cast<std::uint64_t>(b.version) * 0xD1B54A32D192ED03ull) ^
                    (request * 0x9E3779B97F4A7C15ull) ^ (stream * 0xA24BAED4963EE407ull);
  for (int round = 0; round < 2; ++round) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
  }
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

inline bool request_fails(const Behaviour& b, std::uint64_t request) {
  return hashed_uniform(b, request, 0) < b.error_rate.load(std::memory_order_relaxed);
}
/// Lognormal latency of a request in nanoseconds (Box-Muller over two hashed uniforms).
inline std::uint64_t request_latency_ns(const Behaviour& b, std::uint64_t request) {
  const double u1 = 1.0 - hashed_uniform(b, request, 1);  // (0, 1]
  const double u2 = hashed_uniform(b, request, 2);
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
  const double ns = std::exp(b.log_median.load(std::memory_order_relaxed) + b.log_sigma * z);
  return static_cast<std::uint64_t>(std::clamp(ns, 0.0, 1e15));
}
inline bool request_labelled(const Behaviour& b, std::uint64_t request) {
  return hashed_uniform(b, request, 3) < b.labelled_fraction;
}
inline bool request_correct(const Behaviour& b, std::uint64_t request) {
  return hashed_uniform(b, request, 4) < b.accuracy.load(std::memory_order_relaxed);
}

/// The simulated request number a model reads from its input: one int64 feature.
inline std::uint64_t request_number(const ModelInput& input) {
  return static_cast<std::uint64_t>(input.front().values<std::int64_t>()[0]);
}

/// A real Model whose answers follow its Behaviour: it throws on a simulated failure, else
/// answers class 1. Thread-safe.
class SimulatedModel final : public Model {
 public:
  explicit SimulatedModel(std::shared_ptr<const Behaviour> b) : behaviour_(std::move(b)) {}
  const Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return "switchyard.simulated"; }
  Prediction predict(const ModelInput& input) const override {
    if (request_fails(*behaviour_, request_number(input))) {
      throw std::runtime_error("simulated failure");
    }
    Prediction p;
    p.labels = {1};
    p.confidence = {0.9};
    return p;
  }

 private:
  std::shared_ptr<const Behaviour> behaviour_;
  Signature signature_;
};

/// Hands CanaryMetrics each request with the simulated latency of the version that answered,
/// in place of the Deployment's measured call time (see RolloutSimulator).
class LatencyOverlay final : public RequestObserver {
 public:
  LatencyOverlay(std::shared_ptr<CanaryMetrics> metrics,
                 std::vector<std::shared_ptr<Behaviour>> behaviour)
      : metrics_(std::move(metrics)), behaviour_(std::move(behaviour)) {}
  void on_request(const ObservedRequest& request) noexcept override {
    ObservedRequest seen = request;
    if (seen.ok && seen.input != nullptr) {
      for (const auto& b : behaviour_) {
        if (b->version == seen.version) {
          seen.latency_ns =
              static_cast<std::int64_t>(request_latency_ns(*b, request_number(*seen.input)));
        }
      }
    }
    metrics_->on_request(seen);
  }

 private:
  std::shared_ptr<CanaryMetrics> metrics_;
  std::vector<std::shared_ptr<Behaviour>> behaviour_;
};

/// The probability of each latency bucket under a lognormal (buckets within 6.5 sigma of the
/// median; the mass beyond, below 1e-10, goes to the end buckets).
struct BucketTable {
  std::vector<std::pair<std::size_t, double>> buckets;
};

inline BucketTable bucket_table(double log_median, double log_sigma) {
  auto cdf = [&](double x) {
    if (x <= 0.0) return 0.0;
    return 0.5 * std::erfc(-(std::log(x) - log_median) / (log_sigma * std::sqrt(2.0)));
  };
  BucketTable t;
  const double lo = std::exp(log_median - 6.5 * log_sigma);
  const double hi = std::exp(log_median + 6.5 * log_sigma);
  const std::size_t first = LatencyBuckets::index(static_cast<std::uint64_t>(lo));
  const std::size_t last =
      LatencyBuckets::index(static_cast<std::uint64_t>(std::min(hi, 1e12)));
  for (std::size_t b = first; b <= last; ++b) {
    const double p_lo = b == first ? 0.0 : cdf(static_cast<double>(LatencyBuckets::lower(b)));
    const double p_hi = b == last ? 1.0 : cdf(static_cast<double>(LatencyBuckets::upper(b)));
    if (p_hi > p_lo) t.buckets.emplace_back(b, p_hi - p_lo);
  }
  return t;
}

inline std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g%%", fraction * 100.0);
  return buf;
}

}  // namespace detail::simulator

/// Labels of one stretch of aggregate traffic, delivered as their delay passes: the stretch's
/// requests are spread evenly over [from, to), so by time T a fraction (T - delay - from) /
/// (to - from) of them is due.
struct RolloutSimulator::Engine {
  struct LabelSpan {
    Duration from{}, to{};
    std::uint64_t remaining = 0;
    double delivered = 0.0;  // fraction of the span already due
    double accuracy = 0.0;
  };
  struct PendingLabel {
    Duration due{};
    std::uint64_t request = 0;
    bool correct = false;
  };
  struct PerVersion {
    detail::simulator::BucketTable table;
    std::deque<LabelSpan> spans;       // kAggregate
    std::deque<PendingLabel> pending;  // kPerRequest
  };
  std::mt19937_64 rng;
  std::vector<PerVersion> versions;
  double carry = 0.0;  // fractional request left over from the previous stretch
  Duration next_callback{};
  LatencyHistogram histogram;
  std::vector<std::uint64_t> sample;

  std::uint64_t binomial(std::uint64_t n, double p) {
    if (n == 0 || p <= 0.0) return 0;
    if (p >= 1.0) return n;
    boost::random::binomial_distribution<std::int64_t, double> d(static_cast<std::int64_t>(n), p);
    return static_cast<std::uint64_t>(d(rng));
  }
};

namespace detail::simulator {
inline std::string request_id(std::uint64_t request) {
  char buf[24] = {'r'};
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf, request);
  (void)ec;
  return std::string(buf, end);
}
}  // namespace detail::simulator

SWITCHYARD_INLINE RolloutSimulator::RolloutSimulator(Options options)
    : options_(std::move(options)), clock_(options_.start), start_(options_.start) {
  namespace ds = detail::simulator;
  const std::string where = "rollout simulator: ";
  if (options_.versions.empty()) throw InvalidArgument(where + "versions is empty");
  if (!(options_.requests_per_second > 0.0) || !std::isfinite(options_.requests_per_second)) {
    throw InvalidArgument(where + "requests_per_second must be a positive number");
  }
  if (options_.duration <= Duration::zero()) throw InvalidArgument(where + "duration must be > 0");
  if (options_.interval <= Duration::zero()) throw InvalidArgument(where + "interval must be > 0");
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < options_.versions.size(); ++i) {
    SimulatedVersion& v = options_.versions[i];
    const std::string at = where + "version " + std::to_string(v.version) + ": ";
    if (v.version <= 0 || !seen.insert(v.version).second) {
      throw InvalidArgument(where + "versions: version " + std::to_string(v.version) +
                            " is not > 0 or is repeated");
    }
    auto fraction = [&](double x, const char* field) {
      if (!(x >= 0.0 && x <= 1.0)) {
        throw InvalidArgument(at + field + " " + std::to_string(x) + " is outside [0, 1]");
      }
    };
    fraction(v.error_rate, "error_rate");
    fraction(v.accuracy, "accuracy");
    fraction(v.labelled_fraction, "labelled_fraction");
    if (v.latency_median <= Duration::zero() || v.latency_p99 <= v.latency_median) {
      throw InvalidArgument(at + "latency_median must be > 0 and below latency_p99");
    }
    if (v.label_delay < Duration::zero()) throw InvalidArgument(at + "label_delay is negative");
    if (v.arm.empty()) {
      v.arm = i == 0 ? "stable" : i == 1 ? "canary" : "canary-" + std::to_string(v.version);
    }
  }
  for (const auto& r : options_.regressions) {
    if (!seen.count(r.version)) {
      throw InvalidArgument(where + "regressions: version " + std::to_string(r.version) +
                            " is not simulated");
    }
    if (r.at < Duration::zero()) throw InvalidArgument(where + "regressions: `at` is negative");
    if (r.error_rate && !(*r.error_rate >= 0.0 && *r.error_rate <= 1.0)) {
      throw InvalidArgument(where + "regressions: error_rate is outside [0, 1]");
    }
    if (!(r.latency_factor > 0.0) || !std::isfinite(r.latency_factor)) {
      throw InvalidArgument(where + "regressions: latency_factor must be > 0");
    }
    if (!std::isfinite(r.accuracy_change)) {
      throw InvalidArgument(where + "regressions: accuracy_change is not finite");
    }
  }
  regression_applied_.assign(options_.regressions.size(), false);

  engine_ = std::make_unique<Engine>();
  engine_->rng.seed(options_.seed);
  engine_->next_callback = options_.interval;
  Duration max_delay{};
  for (const auto& v : options_.versions) {
    auto b = std::make_shared<ds::Behaviour>();
    b->version = v.version;
    b->seed = options_.seed;
    b->error_rate.store(v.error_rate);
    b->log_median.store(std::log(static_cast<double>(v.latency_median.count())));
    b->log_sigma = std::log(static_cast<double>(v.latency_p99.count()) /
                            static_cast<double>(v.latency_median.count())) /
                   ds::kZ99;
    b->accuracy.store(v.accuracy);
    b->labelled_fraction = v.labelled_fraction;
    b->label_delay = v.label_delay;
    max_delay = std::max(max_delay, v.label_delay);
    source_.add(options_.model, v.version, std::make_shared<ds::SimulatedModel>(b));
    Engine::PerVersion pv;
    pv.table = ds::bucket_table(b->log_median.load(), b->log_sigma);
    engine_->versions.push_back(std::move(pv));
    behaviour_.push_back(std::move(b));
  }

  CanaryMetrics::Options mo;
  for (const auto& v : options_.versions) mo.versions.push_back(v.version);
  mo.metrics = options_.metrics;
  mo.latency_sample = options_.latency_sample;
  mo.clock = &clock_;
  mo.seed = options_.seed ^ 0x63616e617279ull;
  if (options_.mode == SimulationMode::kPerRequest) {
    // Room for every request waiting for its label: 4x, as 8-way sets filled by hash push some
    // out well before the table is full (1.5x lost about 1% of labels).
    const double waiting = options_.requests_per_second *
                           std::chrono::duration<double>(max_delay + options_.interval).count();
    mo.label_capacity = static_cast<std::size_t>(std::clamp(waiting * 4.0, 1024.0, 6.7e7));
  } else {
    mo.label_capacity = 0;
  }
  metrics_ = std::make_shared<CanaryMetrics>(std::move(mo));

  deployment_ = std::make_unique<Deployment>(
      Deployment::Options{.model = options_.model, .source = &source_});
  RoutingPolicy policy = options_.policy;
  if (policy.variants.empty()) {
    for (std::size_t i = 0; i < options_.versions.size(); ++i) {
      policy.variants.push_back(
          {options_.versions[i].arm, options_.versions[i].version, i == 0 ? 100.0 : 0.0});
    }
    policy.weight_style = WeightStyle::kPercent;
    policy.fallback_variant = options_.versions.front().arm;
  }
  deployment_->router().set_policy(std::move(policy));
  if (options_.mode == SimulationMode::kPerRequest) {
    latency_overlay_ = std::make_shared<ds::LatencyOverlay>(metrics_, behaviour_);
    deployment_->add_observer(latency_overlay_);
  }
  timeline_.push_back({Duration::zero(), "start", weights()});
}

SWITCHYARD_INLINE RolloutSimulator::~RolloutSimulator() = default;

SWITCHYARD_INLINE std::vector<ArmShare> RolloutSimulator::weights() const {
  std::vector<ArmShare> out;
  if (auto table = deployment_->router().table()) {
    for (const auto& arm : table->variants()) {
      if (arm.in_split) out.push_back({std::string(arm.name), arm.version, arm.share});
    }
  }
  return out;
}

SWITCHYARD_INLINE void RolloutSimulator::note(std::string what) {
  timeline_.push_back({elapsed(), std::move(what), weights()});
}

SWITCHYARD_INLINE void RolloutSimulator::apply_due_regressions(Duration until) {
  namespace ds = detail::simulator;
  for (std::size_t i = 0; i < options_.regressions.size(); ++i) {
    const SimulatedRegression& r = options_.regressions[i];
    if (regression_applied_[i] || r.at > until) continue;
    regression_applied_[i] = true;
    std::size_t vi = 0;
    while (options_.versions[vi].version != r.version) ++vi;
    ds::Behaviour& b = *behaviour_[vi];
    std::string what = "regression of version " + std::to_string(r.version) + ":";
    if (r.error_rate) {
      what += " error rate " + ds::percent(b.error_rate.load()) + " -> " + ds::percent(*r.error_rate);
      b.error_rate.store(*r.error_rate);
    }
    if (r.latency_factor != 1.0) {
      char buf[48];
      std::snprintf(buf, sizeof buf, " latency x%.3g", r.latency_factor);
      what += buf;
      b.log_median.store(b.log_median.load() + std::log(r.latency_factor));
      engine_->versions[vi].table = ds::bucket_table(b.log_median.load(), b.log_sigma);
    }
    if (r.accuracy_change != 0.0) {
      const double next = std::clamp(b.accuracy.load() + r.accuracy_change, 0.0, 1.0);
      what += " accuracy " + ds::percent(b.accuracy.load()) + " -> " + ds::percent(next);
      b.accuracy.store(next);
    }
    timeline_.push_back({r.at, std::move(what), weights()});
  }
}

SWITCHYARD_INLINE void RolloutSimulator::simulate_aggregate(Duration from, Duration to) {
  namespace ds = detail::simulator;
  Engine& e = *engine_;
  const double exact = options_.requests_per_second *
                           std::chrono::duration<double>(to - from).count() +
                       e.carry;
  const auto n = static_cast<std::uint64_t>(exact);
  e.carry = exact - static_cast<double>(n);
  requests_ += n;

  // The router's shares per simulated version (several arms may serve one version).
  std::vector<double> share(options_.versions.size(), 0.0);
  for (const ArmShare& a : weights()) {
    for (std::size_t vi = 0; vi < share.size(); ++vi) {
      if (options_.versions[vi].version == a.version) share[vi] += a.share;
    }
  }
  // Multinomial split by sequential binomials.
  std::uint64_t left = n;
  double mass = 0.0;
  for (double s : share) mass += s;
  for (std::size_t vi = 0; vi < share.size() && left > 0 && mass > 0.0; ++vi) {
    const std::uint64_t k = e.binomial(left, share[vi] / mass);
    left -= k;
    mass -= share[vi];
    if (k == 0) continue;
    const ds::Behaviour& b = *behaviour_[vi];
    Engine::PerVersion& pv = e.versions[vi];
    const std::uint64_t errors = e.binomial(k, b.error_rate.load());
    const std::uint64_t answered = k - errors;

    e.histogram = LatencyHistogram{};
    std::uint64_t rest = answered;
    double rest_p = 1.0;
    double sum = 0.0;
    std::uint64_t min_ns = std::numeric_limits<std::uint64_t>::max(), max_ns = 0;
    for (std::size_t j = 0; j < pv.table.buckets.size() && rest > 0; ++j) {
      const auto [bucket, p] = pv.table.buckets[j];
      const std::uint64_t x = j + 1 == pv.table.buckets.size()
                                  ? rest
                                  : e.binomial(rest, rest_p > 0.0 ? std::min(1.0, p / rest_p) : 1.0);
      rest -= x;
      rest_p -= p;
      if (x == 0) continue;
      e.histogram.add_bucket(bucket, x);
      const auto lo = LatencyBuckets::lower(bucket);
      const auto hi = LatencyBuckets::upper(bucket) - 1;
      sum += static_cast<double>(x) * (static_cast<double>(lo) + static_cast<double>(hi)) / 2.0;
      min_ns = std::min<std::uint64_t>(min_ns, lo);
      max_ns = hi;
    }
    e.histogram.set_totals(answered, static_cast<std::uint64_t>(sum), min_ns, max_ns);

    // A sample only as large as CanaryMetrics keeps: independent draws stand for the answers.
    const std::uint64_t m = std::min<std::uint64_t>(answered, options_.latency_sample);
    e.sample.resize(m);
    boost::random::normal_distribution<double> normal(0.0, 1.0);
    const double mu = b.log_median.load();
    for (auto& x : e.sample) {
      x = static_cast<std::uint64_t>(std::clamp(std::exp(mu + b.log_sigma * normal(e.rng)), 0.0, 1e15));
    }
    metrics_->record_batch(b.version, CanaryBatch{k, errors, &e.histogram, e.sample});

    const std::uint64_t labelled = e.binomial(answered, b.labelled_fraction);
    if (labelled > 0) pv.spans.push_back({from, to, labelled, 0.0, b.accuracy.load()});
  }
}

SWITCHYARD_INLINE void RolloutSimulator::simulate_per_request(Duration from, Duration to) {
  namespace ds = detail::simulator;
  Engine& e = *engine_;
  const double exact = options_.requests_per_second *
                           std::chrono::duration<double>(to - from).count() +
                       e.carry;
  const auto n = static_cast<std::uint64_t>(exact);
  e.carry = exact - static_cast<double>(n);
  const Duration span = to - from;
  for (std::uint64_t i = 0; i < n; ++i) {
    // Evenly spaced, at the middle of each request's share of the stretch, so no request (and
    // no label due after a whole number of intervals) falls on a callback's instant.
    const Duration at = from + Duration(static_cast<std::int64_t>(
                                   static_cast<double>(span.count()) *
                                   (static_cast<double>(i) + 0.5) / static_cast<double>(n)));
    clock_.set(start_ + at);
    deliver_labels(at);
    const std::uint64_t request = requests_++;
    const std::string id = ds::request_id(request);
    const auto feature = static_cast<std::int64_t>(request);
    PredictRequest req;
    req.key = id;
    req.request_id = id;
    req.input = ModelInput(TensorView(&feature, Shape{1, 1}));
    auto r = deployment_->predict(req);
    if (!r.ok()) continue;
    for (std::size_t vi = 0; vi < behaviour_.size(); ++vi) {
      const ds::Behaviour& b = *behaviour_[vi];
      if (b.version != r->version || !ds::request_labelled(b, request)) continue;
      e.versions[vi].pending.push_back({at + b.label_delay, request, ds::request_correct(b, request)});
    }
  }
}

SWITCHYARD_INLINE void RolloutSimulator::deliver_labels(Duration until) {
  Engine& e = *engine_;
  for (std::size_t vi = 0; vi < e.versions.size(); ++vi) {
    Engine::PerVersion& pv = e.versions[vi];
    while (!pv.pending.empty() && pv.pending.front().due <= until) {
      metrics_->record_label(detail::simulator::request_id(pv.pending.front().request),
                             pv.pending.front().correct);
      pv.pending.pop_front();
    }
    const Duration delay = behaviour_[vi]->label_delay;
    std::uint64_t labelled = 0, correct = 0;
    for (auto it = pv.spans.begin(); it != pv.spans.end();) {
      Engine::LabelSpan& s = *it;
      const double width = std::chrono::duration<double>(s.to - s.from).count();
      const double due = std::clamp(
          std::chrono::duration<double>(until - delay - s.from).count() / width, 0.0, 1.0);
      if (due <= s.delivered) break;  // later spans are due later still
      const std::uint64_t k =
          due >= 1.0 ? s.remaining : e.binomial(s.remaining, (due - s.delivered) / (1.0 - s.delivered));
      const std::uint64_t c = e.binomial(k, s.accuracy);
      labelled += k;
      correct += c;
      s.remaining -= k;
      s.delivered = due;
      if (due >= 1.0 || s.remaining == 0) {
        it = pv.spans.erase(it);
      } else {
        ++it;
      }
    }
    if (labelled > 0) metrics_->record_labels(behaviour_[vi]->version, labelled, correct);
  }
}

SWITCHYARD_INLINE SimulationResult RolloutSimulator::run(const Callback& on_interval) {
  Engine& e = *engine_;
  SimulationResult result;
  Duration t = elapsed();
  const std::uint64_t requests_before = requests_;
  while (t < options_.duration) {
    apply_due_regressions(t);
    Duration end = std::min(e.next_callback, options_.duration);
    for (std::size_t i = 0; i < options_.regressions.size(); ++i) {
      if (!regression_applied_[i] && options_.regressions[i].at > t) {
        end = std::min(end, options_.regressions[i].at);
      }
    }
    if (options_.mode == SimulationMode::kAggregate) {
      simulate_aggregate(t, end);
    } else {
      simulate_per_request(t, end);
    }
    t = end;
    clock_.set(start_ + t);
    deliver_labels(t);
    if (t == e.next_callback) {
      e.next_callback += options_.interval;
      if (on_interval) {
        const std::vector<ArmShare> before = weights();
        const SimulationAction action = on_interval(*this);
        const std::vector<ArmShare> after = weights();
        const bool moved = before.size() != after.size() ||
                           !std::equal(before.begin(), before.end(), after.begin(),
                                       [](const ArmShare& a, const ArmShare& b) {
                                         return a.arm == b.arm && a.version == b.version &&
                                                a.share == b.share;
                                       });
        if (moved) timeline_.push_back({t, "weights changed", after});
        if (action == SimulationAction::kStop) {
          timeline_.push_back({t, "stopped by the callback", after});
          result.stopped_early = true;
          break;
        }
      }
    }
  }
  if (!result.stopped_early && t >= options_.duration &&
      (timeline_.empty() || timeline_.back().what != "end")) {
    apply_due_regressions(t);
    timeline_.push_back({t, "end", weights()});
  }
  result.elapsed = t;
  result.requests = requests_ - requests_before;
  result.timeline = timeline_;
  return result;
}

SWITCHYARD_INLINE std::string format_sim_time(Duration at) {
  const auto total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(at).count();
  const long long h = total_ms / 3'600'000;
  const long long m = total_ms / 60'000 % 60;
  const long long s = total_ms / 1000 % 60;
  const long long ms = total_ms % 1000;
  char buf[48];
  if (ms != 0) {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld", h, m, s, ms);
  } else {
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", h, m, s);
  }
  return buf;
}

SWITCHYARD_INLINE std::string format_timeline(const std::vector<TimelineEvent>& timeline) {
  std::string out;
  for (const auto& e : timeline) {
    out += format_sim_time(e.at);
    out += "  ";
    out += e.what;
    out += "  [";
    for (std::size_t i = 0; i < e.weights.size(); ++i) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s%s %.4g%% (v%lld)", i ? ", " : "", e.weights[i].arm.c_str(),
                    e.weights[i].share * 100.0, static_cast<long long>(e.weights[i].version));
      out += buf;
    }
    out += "]\n";
  }
  return out;
}

}  // namespace switchyard
