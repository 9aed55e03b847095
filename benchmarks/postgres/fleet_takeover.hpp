// SPDX-License-Identifier: Apache-2.0
// Leader takeover on PostgreSQL, shared by fleet_takeover_bench and the registry_postgres test:
// replica processes (forked), each with its own store, registry, registry-bound Deployment,
// CanaryController, RolloutFollower and RolloutStandby on one database. One starts a canary; the
// parent SIGKILLs whichever replica leads, forks a fresh replica in its place, and times (on the
// machine's monotonic clock, shared by every process) the kill until another replica reports
// that it resumed the rollout. After the last kill the plan runs to its end, and the decisions
// the store holds are checked against the plan: one advance per step in order, then the
// promotion (no step replayed, none skipped).
//
// Real time on purpose: these are processes on a real clock; the unit tests of the same logic
// run on a ManualClock (tests/rollout/rollout_fleet_test.cpp).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/rollout/canary_controller.hpp>
#include <switchyard/rollout/canary_metrics.hpp>
#include <switchyard/rollout/rollout_follower.hpp>
#include <switchyard/rollout/rollout_standby.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <switchyard/serving/registry_follower.hpp>

namespace switchyard::fleet_takeover {

inline constexpr const char* kModel = "fraud-detection";

/// What a run does. Durations are wall-clock.
struct Config {
  std::string conninfo;  ///< a database of its own (the run registers versions in it)
  /// The replicas' ArtifactStore directory (the models' artifacts are small enough to live in
  /// the database; the registry needs one all the same). Empty: run() makes a temporary one.
  std::string artifact_dir;
  int replicas = 3;
  int kills = 2;
  std::chrono::milliseconds lease_ttl{1000};
  std::chrono::milliseconds heartbeat{250};
  std::chrono::milliseconds tick{20};           ///< each standby's tick
  std::chrono::milliseconds pause_step{1000};   ///< each pause step of the plan
  /// A leader is killed once it has written this many records of its own (a step, a decision).
  int writes_before_kill = 1;
  /// Then up to this much longer (uniformly at random), so kills land anywhere between two
  /// heartbeats. 0: at once.
  std::chrono::milliseconds kill_jitter{0};
  std::chrono::milliseconds takeover_timeout{10'000};
  std::chrono::milliseconds finish_timeout{120'000};
};

/// What a run measured and found.
struct Result {
  std::vector<double> takeover_ms;  ///< per kill: SIGKILL to another replica's resume
  RolloutStatus final_status = RolloutStatus::kRunning;
  std::int64_t plan_steps = 0;
  /// The decisions as the store holds them, "action@step", and what the plan calls for.
  std::vector<std::string> decisions, expected;
  std::vector<std::int64_t> resumed_at_step;  ///< the step each takeover resumed at
  std::vector<std::int64_t> step_at_kill;     ///< the stored step when each leader was killed
  std::int64_t final_revision = 0;            ///< the final record's revision (generation)
  /// The generation each live replica serves once the plan ended (all equal final_revision when
  /// every replica converged to the leader's final table).
  std::vector<std::int64_t> final_applied;
};

// ---- messages from the replicas: fixed-size writes to one pipe (atomic below PIPE_BUF) ---------

/// kApplied carries the routing generation (record revision) a replica's follower serves in
/// `step`.
enum class Kind : std::int32_t { kReady, kLeading, kTookOver, kFailed, kApplied };
struct Message {
  std::int32_t replica = 0;
  Kind kind = Kind::kReady;
  std::int64_t monotonic_ns = 0;
  std::int64_t step = 0;
};

inline std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void send(int fd, const Message& m) {
  if (::write(fd, &m, sizeof m) != static_cast<ssize_t>(sizeof m)) std::_Exit(3);
}

/// The next message within `timeout`, or nullopt.
inline std::optional<Message> receive(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  Message m;
  if (::read(fd, &m, sizeof m) != static_cast<ssize_t>(sizeof m)) return std::nullopt;
  return m;
}

inline std::unique_ptr<PostgresRegistryStore> open_store(const std::string& conninfo) {
  return std::make_unique<PostgresRegistryStore>(PostgresRegistryStore::Options{
      .conninfo = conninfo, .busy_timeout = std::chrono::milliseconds(30'000)});
}

inline Artifact model_artifact(double seed) {
  Eigen::MatrixXd w(3, 1);
  w << 0.5 * seed, -0.25, 1.0 / (1.0 + seed);
  Eigen::VectorXd b(1);
  b << 0.1 * seed;
  return {std::string(kLinearFormat), LogisticModel(w, b, {"legit", "fraud"}).to_artifact()};
}

/// The plan: enough set_weight / pause pairs to outlast the kills, then the promotion.
inline CanaryPlan plan(const Config& c, std::int64_t candidate) {
  CanaryPlan p;
  p.name = kModel;
  p.model = kModel;
  p.candidate_version = candidate;
  const int pairs = std::max(4, 2 * c.kills + 3);
  for (int i = 1; i <= pairs; ++i) {
    p.steps.push_back(CanaryStep::set_weight(std::round(90.0 * i / pairs)));
    p.steps.push_back(CanaryStep::pause(std::chrono::duration_cast<Duration>(c.pause_step)));
  }
  p.interval = std::chrono::milliseconds(50);
  p.guardrails = {};  // the pauses pass by time: what is measured is leadership, not judgement
  return p;
}

/// "start@0", "advance@0" ... "advance@<steps>", "promote@<steps>": what an uninterrupted run of
/// plan() records.
inline std::vector<std::string> expected_story(std::int64_t steps) {
  std::vector<std::string> out{"start@0"};
  for (std::int64_t s = 0; s <= steps; ++s) out.push_back("advance@" + std::to_string(s));
  out.push_back("promote@" + std::to_string(steps));
  return out;
}

/// Registers a Production version and a Staging candidate (artifacts kept in the database);
/// returns the candidate. Before any fork: no connection crosses one.
inline std::int64_t prepare(const std::string& conninfo, const std::string& artifact_dir) {
  auto store = open_store(conninfo);
  ArtifactStore artifacts(artifact_dir);
  ModelRegistry registry({.store = store.get(), .artifacts = &artifacts});
  const auto stable = registry.register_version(kModel, model_artifact(1.0), {}, {.actor = "ci"});
  registry.transition(kModel, stable->version, Stage::kStaging, {.actor = "ci"});
  registry.transition(kModel, stable->version, Stage::kProduction, {.actor = "ci"});
  const auto candidate = registry.register_version(kModel, model_artifact(2.0), {}, {.actor = "ci"});
  registry.transition(kModel, candidate->version, Stage::kStaging, {.actor = "ci"});
  return candidate->version;
}

/// One replica process; `start` makes it start the rollout. Never returns.
[[noreturn]] inline void run_replica(const Config& c, int id, std::int64_t candidate, bool start,
                                     int report) {
  try {
    auto store = open_store(c.conninfo);
    ArtifactStore artifacts(c.artifact_dir);
    ModelRegistry registry({.store = store.get(), .artifacts = &artifacts});
    Deployment deployment({.model = kModel, .source = &registry});
    RegistryBinding binding({.registry = &registry, .deployment = &deployment});
    const std::int64_t stable = registry.in_stage(kModel, Stage::kProduction)->version;
    auto metrics = std::make_shared<CanaryMetrics>(
        CanaryMetrics::Options{.versions = {stable, candidate}});
    deployment.add_observer(metrics);
    CanaryController controller({.deployment = &deployment,
                                 .registry = &registry,
                                 .metrics = metrics.get(),
                                 .owner = "replica-" + std::to_string(id),
                                 .lease_ttl = std::chrono::duration_cast<Duration>(c.lease_ttl)});
    PostgresRegistryStore* s = store.get();
    RegistryFollower registry_follower(
        {.registry = &registry,
         .wait_for_change = [s](std::chrono::milliseconds t) { return s->wait_for_change(t); }});
    RolloutFollower follower({.registry = &registry,
                              .deployment = &deployment,
                              .controller = &controller,
                              .binding = &binding});
    RolloutStandby standby({.controller = &controller,
                            .registry = &registry,
                            .follower = &follower,
                            .heartbeat = std::chrono::duration_cast<Duration>(c.heartbeat),
                            .background = true,
                            .tick_interval = c.tick});
    send(report, {id, Kind::kReady, monotonic_ns(), 0});
    if (start) {
      standby.start(plan(c, candidate));
      send(report, {id, Kind::kLeading, monotonic_ns(), 0});
    }
    std::uint64_t seen = 0;
    std::int64_t applied = -1;
    for (;;) {  // until the parent kills this process
      standby.wait_until([&](const RolloutStandbyStatus& st) { return st.takeovers > seen; },
                         std::chrono::milliseconds(20));
      if (const std::int64_t now_applied = follower.applied_revision(); now_applied != applied) {
        applied = now_applied;
        send(report, {id, Kind::kApplied, monotonic_ns(), applied});
      }
      const RolloutStandbyStatus st = standby.status();
      if (st.takeovers > seen) {
        seen = st.takeovers;
        const auto r = controller.record();
        send(report, {id, Kind::kTookOver, monotonic_ns(), r ? r->step : -1});
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "replica %d: %s\n", id, e.what());
    send(report, {id, Kind::kFailed, monotonic_ns(), 0});
    std::_Exit(2);
  }
}

/// Runs the whole scenario; throws std::runtime_error when a replica fails or a takeover or the
/// plan's end does not come within its timeout. Every replica process is gone when it returns.
inline Result run(Config c) {
  std::string made_dir;
  if (c.artifact_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "switchyard-takeover.XXXXXX");
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    c.artifact_dir = made_dir = pattern;
  }
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } remove_dir{made_dir};
  const std::int64_t candidate = prepare(c.conninfo, c.artifact_dir);
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::map<int, pid_t> alive;  // replica id -> pid
  int next_id = 0;
  auto spawn = [&](bool start) {
    const int id = next_id++;
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::close(fds[0]);
      run_replica(c, id, candidate, start, fds[1]);
    }
    alive[id] = pid;
    return id;
  };
  auto kill_all = [&] {
    for (auto& [id, pid] : alive) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    alive.clear();
    ::close(fds[0]);
    ::close(fds[1]);
  };
  Result result;
  std::map<int, std::int64_t> applied;  // replica id -> the generation it last reported
  try {
    auto expect = [&](Kind kind, std::chrono::milliseconds timeout, const char* what) {
      const auto until = std::chrono::steady_clock::now() + timeout;
      for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw std::runtime_error(std::string("timed out waiting for ") + what);
        auto m = receive(fds[0], left);
        if (!m) continue;
        if (m->kind == Kind::kFailed) {
          throw std::runtime_error("replica " + std::to_string(m->replica) + " failed");
        }
        if (m->kind == Kind::kApplied) applied[m->replica] = m->step;
        if (m->kind == kind) return *m;
      }
    };
    for (int i = 1; i < c.replicas; ++i) spawn(false);
    for (int i = 1; i < c.replicas; ++i) expect(Kind::kReady, std::chrono::seconds(30), "ready");
    int leader = spawn(true);
    expect(Kind::kReady, std::chrono::seconds(30), "ready");
    expect(Kind::kLeading, std::chrono::seconds(30), "the first leader");
    auto reader = open_store(c.conninfo);
    std::mt19937_64 rng(std::random_device{}());
    // Waits on the store's notifications until the record's revision passes `revision`.
    auto progress_after = [&](std::int64_t revision) {
      const auto until = std::chrono::steady_clock::now() + c.finish_timeout;
      for (;;) {
        auto r = reader->load_rollout(kModel);
        if (r && r->revision > revision) return *r;
        if (std::chrono::steady_clock::now() > until) {
          throw std::runtime_error("the rollout made no progress in time");
        }
        (void)reader->wait_for_change(std::chrono::milliseconds(100));
      }
    };
    std::int64_t revision = 0;
    for (int k = 0; k < c.kills; ++k) {
      // The leader leads a while: it writes records of its own before it is killed.
      std::optional<RolloutRecord> before;
      for (int w = 0; w < c.writes_before_kill; ++w) {
        before = progress_after(revision);
        revision = before->revision;
      }
      if (c.kill_jitter.count() > 0) {
        // Waits on the store's notifications (heartbeats) until a random moment has passed.
        std::uniform_int_distribution<std::int64_t> pick(0, c.kill_jitter.count());
        const auto at = std::chrono::steady_clock::now() + std::chrono::milliseconds(pick(rng));
        while (std::chrono::steady_clock::now() < at) {
          (void)reader->wait_for_change(std::chrono::duration_cast<std::chrono::milliseconds>(
              at - std::chrono::steady_clock::now()));
        }
        before = reader->load_rollout(kModel);
      }
      if (is_final(before->status)) throw std::runtime_error("the plan ended too early");
      result.step_at_kill.push_back(before->step);
      const std::int64_t killed_at = monotonic_ns();
      ::kill(alive.at(leader), SIGKILL);
      ::waitpid(alive.at(leader), nullptr, 0);
      alive.erase(leader);
      spawn(false);  // the fleet keeps its size; the newcomer is a standby like the others
      const Message m = expect(Kind::kTookOver, c.takeover_timeout, "a takeover");
      result.takeover_ms.push_back(static_cast<double>(m.monotonic_ns - killed_at) / 1e6);
      result.resumed_at_step.push_back(m.step);
      leader = m.replica;
      revision = reader->load_rollout(kModel)->revision;
    }
    std::optional<RolloutRecord> last = reader->load_rollout(kModel);
    while (!is_final(last->status)) last = progress_after(last->revision);
    // Every live replica serves the final generation (each reports its follower's).
    result.final_revision = last->revision;
    auto all_final = [&] {
      for (const auto& [id, pid] : alive) {
        auto it = applied.find(id);
        if (it == applied.end() || it->second != last->revision) return false;
      }
      return true;
    };
    while (!all_final()) expect(Kind::kApplied, c.takeover_timeout, "every replica's generation");
    for (const auto& [id, pid] : alive) result.final_applied.push_back(applied[id]);
    result.final_status = last->status;
    result.plan_steps = static_cast<std::int64_t>(plan(c, candidate).steps.size());
    for (const auto& d : last->decisions) {
      result.decisions.push_back(d.action + "@" + std::to_string(d.step));
    }
    result.expected = expected_story(result.plan_steps);
  } catch (...) {
    kill_all();
    throw;
  }
  kill_all();
  return result;
}

}  // namespace switchyard::fleet_takeover
