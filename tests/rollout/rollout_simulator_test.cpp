// SPDX-License-Identifier: Apache-2.0
// RolloutSimulator: the same seed gives the same run; simulated error rates, latency quantiles and
// accuracy match the configured distributions (tolerances from their sampling error); regressions
// start at their time; labels arrive after their delay; the router's weights decide the split; the
// callback can move weights and stop the run. Both modes (aggregate draws, per-request predict()).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <switchyard/rollout/rollout_simulator.hpp>

namespace switchyard {
namespace {
namespace rollout_simulator_test {

using namespace std::chrono_literals;

RolloutSimulator::Options canary_at(double canary_percent, SimulationMode mode) {
  RolloutSimulator::Options o;
  o.versions = {{.version = 1}, {.version = 2}};
  o.mode = mode;
  RoutingPolicy p;
  p.variants = {{"stable", 1, 100.0 - canary_percent}, {"canary", 2, canary_percent}};
  p.weight_style = WeightStyle::kPercent;
  p.fallback_variant = "stable";
  o.policy = p;
  return o;
}

// Rolls a window at every callback and keeps it.
struct Recorder {
  std::vector<CanaryWindow> windows;
  RolloutSimulator::Callback callback() {
    return [this](RolloutSimulator& s) {
      windows.push_back(s.metrics().roll_window());
      return SimulationAction::kContinue;
    };
  }
};

TEST(RolloutSimulatorTest, the_same_seed_gives_the_same_run) {
  for (SimulationMode mode : {SimulationMode::kAggregate, SimulationMode::kPerRequest}) {
    auto options = [&](std::uint64_t seed) {
      auto o = canary_at(10, mode);
      o.seed = seed;
      o.duration = mode == SimulationMode::kAggregate ? 2h : 3min;
      o.requests_per_second = mode == SimulationMode::kAggregate ? 1000 : 200;
      o.versions[1].error_rate = 0.02;
      return o;
    };
    Recorder a, b, c;
    RolloutSimulator(options(7)).run(a.callback());
    RolloutSimulator(options(7)).run(b.callback());
    RolloutSimulator(options(8)).run(c.callback());
    ASSERT_EQ(a.windows.size(), b.windows.size());
    bool differs = false;
    for (std::size_t i = 0; i < a.windows.size(); ++i) {
      for (std::size_t v = 0; v < 2; ++v) {
        const auto& x = a.windows[i].window[v];
        const auto& y = b.windows[i].window[v];
        EXPECT_EQ(x.requests, y.requests);
        EXPECT_EQ(x.errors, y.errors);
        EXPECT_EQ(x.labelled, y.labelled);
        EXPECT_EQ(x.correct, y.correct);
        EXPECT_EQ(x.latency.sum(), y.latency.sum());
        EXPECT_EQ(x.latency_sample_ns, y.latency_sample_ns);
        differs |= x.errors != c.windows[i].window[v].errors ||
                   x.latency.sum() != c.windows[i].window[v].latency.sum();
      }
    }
    EXPECT_TRUE(differs) << "another seed should give other draws";
  }
}

// One version taking all traffic for `duration`; the cumulative figures at the end.
CanaryVersionFigures run_single(SimulationMode mode, Duration duration, double rps) {
  RolloutSimulator::Options o;
  o.versions = {{.version = 1,
                 .error_rate = 0.02,
                 .latency_median = 20ms,
                 .latency_p99 = 60ms,
                 .accuracy = 0.9,
                 .labelled_fraction = 0.5,
                 .label_delay = 1min}};
  o.mode = mode;
  o.duration = duration;
  o.requests_per_second = rps;
  o.seed = 3;
  RolloutSimulator sim(o);
  sim.run();
  return sim.metrics().snapshot().cumulative[0];
}

void expect_configured_distributions(const CanaryVersionFigures& f, double n, double quantile_tol,
                                     Duration duration) {
  EXPECT_EQ(static_cast<double>(f.requests), n);
  // Binomial error count: sd of the rate sqrt(0.02 * 0.98 / n); 5 sd.
  EXPECT_NEAR(f.error_rate(), 0.02, 5 * std::sqrt(0.02 * 0.98 / n));
  // Lognormal through median 20 ms and p99 60 ms: the histogram's quantiles (0.8% buckets plus
  // the sampling error of a quantile, below 1% at these counts).
  EXPECT_NEAR(f.latency.quantile(0.5), 20e6, 20e6 * quantile_tol);
  EXPECT_NEAR(f.p99_ns(), 60e6, 60e6 * quantile_tol);
  // Half the answers are labelled, and all but the last minute's labels have arrived; 90% are
  // correct.
  const double answered = static_cast<double>(f.requests - f.errors);
  const double arrived = 1.0 - std::chrono::duration<double>(1min) / duration;
  EXPECT_NEAR(static_cast<double>(f.labelled) / answered, 0.5 * arrived, 0.01);
  EXPECT_NEAR(f.accuracy(), 0.9, 5 * std::sqrt(0.9 * 0.1 / static_cast<double>(f.labelled)));
}

TEST(RolloutSimulatorTest, aggregate_figures_follow_the_configured_distributions) {
  const auto f = run_single(SimulationMode::kAggregate, 2h, 1000);
  expect_configured_distributions(f, 7.2e6, 0.015, 2h);
}

TEST(RolloutSimulatorTest, per_request_figures_follow_the_configured_distributions) {
  const auto f = run_single(SimulationMode::kPerRequest, 10min, 500);
  expect_configured_distributions(f, 3e5, 0.03, 10min);
}

TEST(RolloutSimulatorTest, the_routers_weights_decide_the_split) {
  for (SimulationMode mode : {SimulationMode::kAggregate, SimulationMode::kPerRequest}) {
    auto o = canary_at(5, mode);
    o.duration = mode == SimulationMode::kAggregate ? 1h : 5min;
    RolloutSimulator sim(o);
    sim.run();
    const CanaryWindow w = sim.metrics().snapshot();
    const double n = static_cast<double>(sim.requests());
    const double share = static_cast<double>(w.find_cumulative(2)->requests) / n;
    // Multinomial share: sd sqrt(0.05 * 0.95 / n); 5 sd (sticky hashing of distinct keys
    // behaves the same).
    EXPECT_NEAR(share, 0.05, 5 * std::sqrt(0.05 * 0.95 / n)) << static_cast<int>(mode);
    EXPECT_EQ(w.find_cumulative(1)->requests + w.find_cumulative(2)->requests,
              sim.requests());
  }
}

TEST(RolloutSimulatorTest, a_regression_starts_at_its_time) {
  for (SimulationMode mode : {SimulationMode::kAggregate, SimulationMode::kPerRequest}) {
    auto o = canary_at(50, mode);
    o.duration = 10min;
    o.requests_per_second = mode == SimulationMode::kAggregate ? 1000 : 400;
    o.versions[1].error_rate = 0.001;
    // 5 minutes 30 seconds in: the sixth window is half regressed.
    o.regressions = {{.version = 2, .at = 330s, .error_rate = 0.2, .latency_factor = 2.0}};
    Recorder r;
    RolloutSimulator sim(o);
    const SimulationResult result = sim.run(r.callback());
    ASSERT_EQ(r.windows.size(), 10u);
    for (std::size_t i = 0; i < 10; ++i) {
      const auto* c = r.windows[i].find(2);
      const double expected = i < 5 ? 0.001 : i == 5 ? 0.1005 : 0.2;
      const double n = static_cast<double>(c->requests);
      EXPECT_NEAR(c->error_rate(), expected, 5 * std::sqrt(0.25 / n) * (i < 5 ? 0.1 : 1.0) + 1e-3)
          << "window " << i;
      // A window's p99 from 12,000 answers or more: sampling sd below 1.7% (sd of a quantile,
      // sqrt(p (1 - p) / n) / density), 5 sd plus the histogram's 0.8%.
      if (i < 5) {
        EXPECT_NEAR(c->p99_ns(), 60e6, 60e6 * 0.09) << "window " << i;
      } else if (i > 5) {
        EXPECT_NEAR(c->p99_ns(), 120e6, 120e6 * 0.09) << "window " << i;
      }
    }
    bool logged = false;
    for (const auto& e : result.timeline) {
      if (e.what.find("regression of version 2") != std::string::npos) {
        EXPECT_EQ(e.at, 330s);
        logged = true;
      }
    }
    EXPECT_TRUE(logged) << format_timeline(result.timeline);
  }
}

TEST(RolloutSimulatorTest, labels_arrive_after_their_delay) {
  for (SimulationMode mode : {SimulationMode::kAggregate, SimulationMode::kPerRequest}) {
    auto o = canary_at(0, mode);
    o.versions[0].label_delay = 5min;
    o.versions[0].accuracy = 0.8;
    o.duration = 8min;
    o.requests_per_second = 100;
    Recorder r;
    RolloutSimulator sim(o);
    sim.run(r.callback());
    ASSERT_EQ(r.windows.size(), 8u);
    // Requests of minute k are labelled in minute k + 5.
    for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(r.windows[i].find(1)->labelled, 0u) << i;
    for (std::size_t i = 5; i < 8; ++i) {
      const auto* f = r.windows[i].find(1);
      // About 6000 answers a minute (0.1% fail); the window edges move a few in or out.
      EXPECT_NEAR(static_cast<double>(f->labelled), 6000.0, 120.0) << i;
      EXPECT_NEAR(f->accuracy(), 0.8, 5 * std::sqrt(0.16 / 6000.0)) << i;
    }
    EXPECT_EQ(r.windows.back().labels_unmatched, 0u);
  }
}

TEST(RolloutSimulatorTest, the_callback_moves_weights_and_stops_the_run) {
  auto o = canary_at(0, SimulationMode::kAggregate);
  o.duration = 24h;
  RolloutSimulator sim(o);
  const SimulationResult result = sim.run([](RolloutSimulator& s) {
    if (s.elapsed() == 5min) s.deployment().router().set_weights({{"stable", 95}, {"canary", 5}});
    if (s.elapsed() == 10min) {
      s.deployment().router().set_weights({{"stable", 100}, {"canary", 0}});
      s.note("rolled back");
      return SimulationAction::kStop;
    }
    return SimulationAction::kContinue;
  });
  EXPECT_TRUE(result.stopped_early);
  EXPECT_EQ(result.elapsed, 10min);
  EXPECT_EQ(result.requests, 600'000u);
  std::vector<std::string> what;
  for (const auto& e : result.timeline) what.push_back(format_sim_time(e.at) + " " + e.what);
  EXPECT_EQ(what, (std::vector<std::string>{"00:00:00 start", "00:05:00 weights changed",
                                            "00:10:00 rolled back", "00:10:00 weights changed",
                                            "00:10:00 stopped by the callback"}));
  ASSERT_EQ(result.timeline[1].weights.size(), 2u);
  EXPECT_DOUBLE_EQ(result.timeline[1].weights[1].share, 0.05);
  // The canary served only between minutes 5 and 10: 5% of 300,000.
  const double canary = static_cast<double>(sim.metrics().snapshot().find_cumulative(2)->requests);
  EXPECT_NEAR(canary, 15000.0, 5 * std::sqrt(300000 * 0.05 * 0.95));
  // A second run continues from the stop to the end.
  const SimulationResult rest = sim.run();
  EXPECT_FALSE(rest.stopped_early);
  EXPECT_EQ(rest.elapsed, 24h);
  EXPECT_EQ(rest.timeline.back().what, "end");
  EXPECT_NE(format_timeline(rest.timeline).find("00:05:00  weights changed  [stable 95% (v1), "
                                                "canary 5% (v2)]"),
            std::string::npos)
      << format_timeline(rest.timeline);
}

TEST(RolloutSimulatorTest, options_are_checked_by_name) {
  auto fails_with = [](RolloutSimulator::Options o, const std::string& text) {
    try {
      RolloutSimulator s(std::move(o));
      ADD_FAILURE() << "accepted; expected: " << text;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  fails_with({}, "versions is empty");
  fails_with({.versions = {{.version = 1, .error_rate = 1.5}}}, "error_rate 1.5");
  fails_with({.versions = {{.version = 1, .latency_median = 50ms, .latency_p99 = 40ms}}},
             "latency_median");
  fails_with({.versions = {{.version = 1}}, .requests_per_second = 0}, "requests_per_second");
  fails_with({.versions = {{.version = 1}}, .regressions = {{.version = 3}}},
             "version 3 is not simulated");
  fails_with({.versions = {{.version = 1}, {.version = 1}}}, "repeated");
}

}  // namespace rollout_simulator_test
}  // namespace
}  // namespace switchyard
