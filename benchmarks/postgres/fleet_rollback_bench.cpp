// SPDX-License-Identifier: Apache-2.0
// Fleet-wide rollback on PostgreSQL: four replica processes (forked once the database is set up,
// each with its own store, registry, registry-bound Deployment, RegistryFollower and two request
// threads counting failed requests), and rollbacks issued on a fifth registry (the controller, in
// the parent process). Each round times the rollback from the call (begin, commit, notify) and
// from its acknowledged commit until every replica's Deployment has published the rolled-back
// version; the counters are p50 and p99 over the rounds, and the failed requests of all replicas.
// Issue 24's target: p99 <= 50 ms over 1,000 rollbacks, zero failed requests.
//
// The request threads pace themselves (one request, then a 1 ms pause), so four replicas do not
// take every core from the server and the followers on a small machine.
//
// Needs SWITCHYARD_PG_URL (a database where it may create and drop databases); for durable commits
// start the tests' throwaway server with PG_SERVER_DURABLE=1 tests/registry_postgres/pg_server.sh
// start DIR. SWITCHYARD_FLEET_ROLLBACKS overrides the number of rounds (default 1,000).
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/core/clock.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <switchyard/serving/registry_follower.hpp>

#include "pg_bench_support.hpp"

namespace {

using namespace switchyard;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr int kReplicas = 4;
const std::string kModel = "fraud-detection";
const double kRow[3] = {1.0, 2.0, 3.0};

// A message from a replica: the version it published and when (CLOCK_MONOTONIC, shared by every
// process on the machine). Negative versions carry the final counts.
struct Report {
  std::int64_t version;
  std::int64_t value;
};
constexpr std::int64_t kReady = -1, kRequests = -2, kFailed = -3;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void write_report(int fd, Report r) {
  if (::write(fd, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) std::_Exit(3);
}

Report read_report(int fd) {
  Report r{};
  if (::read(fd, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) {
    throw std::runtime_error("a replica process ended early");
  }
  return r;
}

std::string suffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

using switchyard::bench_pg::conninfo_for;
using switchyard::bench_pg::exec;

Artifact model_artifact(double seed) {
  Eigen::MatrixXd w(3, 1);
  w << 0.5 * seed, -0.25, 1.0 / (1.0 + seed);
  Eigen::VectorXd b(1);
  b << 0.1 * seed;
  return {std::string(kLinearFormat), LogisticModel(w, b, {"legit", "fraud"}).to_artifact()};
}

std::unique_ptr<PostgresRegistryStore> open_store(const std::string& conninfo) {
  return std::make_unique<PostgresRegistryStore>(
      PostgresRegistryStore::Options{.conninfo = conninfo, .busy_timeout = milliseconds(30'000)});
}

// One replica process: serves until the parent closes `control`, reporting each publish.
[[noreturn]] void run_replica(const std::string& conninfo, const fs::path& artifact_dir, int report,
                              int control) {
  try {
    auto store = open_store(conninfo);
    ArtifactStore artifacts(artifact_dir);
    ModelRegistry registry({.store = store.get(), .artifacts = &artifacts});
    Deployment deployment({.model = kModel, .source = &registry});
    RegistryBinding binding({.registry = &registry, .deployment = &deployment});
    binding.published.connect([report](const BindingEvent& e) {
      write_report(report, {e.status.stable_version, now_ns()});
    });
    PostgresRegistryStore* s = store.get();
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> requests{0}, failed{0};
    std::vector<std::thread> request_threads;
    for (int t = 0; t < 2; ++t) {
      request_threads.emplace_back([&, t] {
        const std::string key = "user-" + std::to_string(t);
        while (!stop.load(std::memory_order_relaxed)) {
          auto r = deployment.predict({.key = key, .input = TensorView(kRow, Shape{1, 3})});
          requests.fetch_add(1, std::memory_order_relaxed);
          if (!r.ok()) failed.fetch_add(1, std::memory_order_relaxed);
          std::this_thread::sleep_for(milliseconds(1));  // pacing, not synchronisation
        }
      });
    }
    {
      RegistryFollower follower({.registry = &registry, .wait_for_change = [s](milliseconds t) {
                                   return s->wait_for_change(t);
                                 }});
      write_report(report, {kReady, binding.status().stable_version});
      char c;
      while (::read(control, &c, 1) > 0) {
      }  // EOF: the run is over
    }
    stop = true;
    for (auto& t : request_threads) t.join();
    write_report(report, {kRequests, requests.load()});
    write_report(report, {kFailed, failed.load()});
    std::_Exit(0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "replica %d: %s\n", static_cast<int>(::getpid()), e.what());
    std::_Exit(2);
  }
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

void BM_Fleet_RollbackServedByFourReplicas(benchmark::State& state) {
  const char* url = std::getenv("SWITCHYARD_PG_URL");
  if (!url || !*url) {
    state.SkipWithError("set SWITCHYARD_PG_URL to a PostgreSQL server");
    return;
  }
  const char* rounds_env = std::getenv("SWITCHYARD_FLEET_ROLLBACKS");
  const int rounds = rounds_env && *rounds_env ? std::atoi(rounds_env) : 1000;
  const std::string dbname = "switchyard_fleet_bench_" + suffix();
  exec(url, "CREATE DATABASE " + dbname);
  const std::string conninfo = conninfo_for(url, dbname);
  const fs::path dir = fs::temp_directory_path() / ("switchyard-fleet-bench-" + suffix());
  fs::create_directories(dir);

  // Two Production versions, v2 serving, before any replica forks (no connection crosses a fork).
  {
    auto store = open_store(conninfo);
    ArtifactStore artifacts(dir);
    ModelRegistry registry({.store = store.get(), .artifacts = &artifacts});
    for (double seed : {1.0, 2.0}) {
      const auto v =
          registry.register_version(kModel, model_artifact(seed), {}, {.actor = "bench"});
      registry.transition(kModel, v->version, Stage::kStaging, {.actor = "bench"});
      registry.transition(kModel, v->version, Stage::kProduction, {.actor = "bench"});
    }
  }

  std::array<int, kReplicas> reports{}, controls{};
  std::array<pid_t, kReplicas> pids{};
  for (int i = 0; i < kReplicas; ++i) {
    int up[2], down[2];
    if (::pipe(up) != 0 || ::pipe(down) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(up[0]);
      ::close(down[1]);
      for (int j = 0; j < i; ++j) ::close(controls[j]);  // only the parent may end a sibling
      run_replica(conninfo, dir, up[1], down[0]);
    }
    ::close(up[1]);
    ::close(down[0]);
    reports[i] = up[0];
    controls[i] = down[1];
    pids[i] = pid;
  }
  for (int i = 0; i < kReplicas; ++i) {
    while (read_report(reports[i]).version != kReady) {
    }
  }

  auto store = open_store(conninfo);
  ArtifactStore artifacts(dir);
  auto controller = std::make_unique<ModelRegistry>(
      ModelRegistry::Options{.store = store.get(), .artifacts = &artifacts});
  std::vector<double> from_call_ms, from_commit_ms;
  for (auto _ : state) {
    for (int round = 0; round < rounds; ++round) {
      const std::int64_t called = now_ns();
      const std::int64_t target =
          controller->rollback(kModel, {.actor = "bench", .reason = "round"})->version;
      const std::int64_t committed = now_ns();
      std::int64_t last = 0;
      for (int i = 0; i < kReplicas; ++i) {
        for (Report r = read_report(reports[i]);; r = read_report(reports[i])) {
          if (r.version == target) {
            last = std::max(last, r.value);
            break;
          }
        }
      }
      from_call_ms.push_back(double(last - called) / 1e6);
      from_commit_ms.push_back(double(std::max<std::int64_t>(0, last - committed)) / 1e6);
    }
  }
  std::int64_t requests = 0, failed = 0;
  for (int i = 0; i < kReplicas; ++i) {
    ::close(controls[i]);
    for (Report r = read_report(reports[i]);; r = read_report(reports[i])) {
      if (r.version == kRequests) requests += r.value;
      if (r.version == kFailed) {
        failed += r.value;
        break;
      }
    }
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    ::close(reports[i]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("a replica failed");
  }
  state.counters["rollbacks"] = double(from_call_ms.size());
  state.counters["p50_ms"] = quantile(from_commit_ms, 0.50);
  state.counters["p99_ms"] = quantile(from_commit_ms, 0.99);
  state.counters["max_ms"] = quantile(from_commit_ms, 1.0);
  state.counters["call_p50_ms"] = quantile(from_call_ms, 0.50);
  state.counters["call_p99_ms"] = quantile(from_call_ms, 0.99);
  state.counters["requests"] = double(requests);
  state.counters["failed"] = double(failed);

  controller.reset();
  store.reset();
  exec(url, "DROP DATABASE IF EXISTS " + dbname + " WITH (FORCE)");
  std::error_code ec;
  fs::remove_all(dir, ec);
}
BENCHMARK(BM_Fleet_RollbackServedByFourReplicas)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
