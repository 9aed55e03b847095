// SPDX-License-Identifier: Apache-2.0
// PostgreSQL stopped and restarted under load, three replicas: each replica (its own store,
// registry, registry-bound Deployment and RegistryFollower, in this process) answers requests
// continuously from its own thread while a writer registers and promotes versions on a fifth
// connection set. The test stops the server (fast shutdown, cutting every session), keeps
// predicting, starts it again and lets the followers catch up. It checks that no prediction
// failed, that every follower reported the outage (unreachable, staleness growing on the injected
// clock), that every replica afterwards holds every acknowledged registration and nothing
// half-applied, and that the replicas agree on Production. It prints the predictions served
// during the outage and the time from the restart to every replica serving the first version
// promoted after it. Synchronised on the followers' attempts and condition variables only.
//
// SWITCHYARD_OUTAGE_OPS sets the registrations before and after the outage (default 20 each).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <switchyard/serving/registry_follower.hpp>

#include "registry_postgres/pg_support.hpp"
#include "reliability/reliability_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace fleet_outage_test {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

constexpr auto kPatience = milliseconds(60'000);  // only a broken follower waits this long
constexpr int kReplicas = 3;
constexpr std::int64_t kOutageAttempts = 25;  // writer calls that fail while the server is down
const double kRow[3] = {1.0, 2.0, 3.0};
const std::string kModel = "fraud-detection";

enum class Phase { kBefore, kDown, kAfter };

/// One replica of the fleet: store, registry, Deployment bound to Production, follower pushed by
/// the store's notifications, and one request thread predicting until told to stop.
struct Replica {
  PostgresRegistryStore store;
  ModelRegistry registry;
  Deployment deployment{{.model = kModel, .source = &registry}};
  RegistryBinding binding{{.registry = &registry, .deployment = &deployment}};
  RegistryFollower follower;
  std::atomic<std::int64_t> served{0};
  std::atomic<std::int64_t> served_while_down{0};
  std::atomic<std::int64_t> failed{0};
  std::string first_failure;  // written by the request thread before it stops
  std::jthread requests;

  Replica(const std::string& conninfo, ArtifactStore& artifacts, const Clock& clock)
      : store({.conninfo = conninfo, .busy_timeout = milliseconds(30'000)}),
        registry({.store = &store, .artifacts = &artifacts, .clock = &clock}),
        follower({.registry = &registry,
                  .wait_for_change = [this](milliseconds t) { return store.wait_for_change(t); },
                  .clock = &clock}) {}

  void start_requests(const std::atomic<Phase>& phase) {
    requests = std::jthread([this, &phase](std::stop_token stop) {
      std::int64_t n = 0;
      while (!stop.stop_requested()) {
        const std::string key = "user-" + std::to_string(n++ % 1000);
        const auto r = deployment.predict({.key = key, .input = TensorView(kRow, Shape{1, 3})});
        if (!r.ok()) {
          if (failed.fetch_add(1) == 0) first_failure = r.status().message();
          continue;
        }
        served.fetch_add(1, std::memory_order_relaxed);
        if (phase.load(std::memory_order_relaxed) == Phase::kDown) {
          served_while_down.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
};

/// What the writer was told: registrations that returned (acknowledged) and calls that threw.
struct WriterLog {
  std::mutex mu;
  std::condition_variable changed;
  std::map<std::int64_t, std::int64_t> acknowledged;  // op -> version
  std::vector<std::int64_t> threw;                    // ops whose registration threw
  std::int64_t attempts_while_down = 0;  // calls that threw while the server was down
  std::int64_t acknowledged_while_down = 0;
  std::int64_t acknowledged_after = 0;  // registrations acknowledged after the restart
  std::int64_t promoted_after = 0;      // the first version promoted after the restart
  Steady::time_point promoted_after_at{};
  bool done = false;
  bool abandon = false;  // the test failed early: stop now
};

/// Lets the writer go when the test returns early (a failed assertion), so joining it never
/// hangs.
struct AbandonOnExit {
  WriterLog& log;
  ~AbandonOnExit() {
    std::lock_guard lock(log.mu);
    log.abandon = true;
    log.changed.notify_all();
  }
};

VersionMetadata metadata(std::int64_t op) {
  VersionMetadata m;
  m.metrics = {{"auc", 0.9}};
  m.owner = "writer";
  m.tags = {{"op", std::to_string(op)}};
  return m;
}

/// Registers versions one after another and promotes every fourth (and the first after the
/// restart), recording each outcome. Once the server is stopped it goes on until kOutageAttempts
/// calls have failed, then waits for the restart; after it, `after_ops` more registrations.
void write(ModelRegistry& registry, WriterLog& log, const std::atomic<Phase>& phase,
           std::int64_t after_ops) {
  bool promote_next = true;  // the first registration after the restart is promoted
  for (std::int64_t op = 0;; ++op) {
    Phase now;
    {
      std::unique_lock lock(log.mu);
      log.changed.wait(lock, [&] {
        return log.abandon || phase.load() != Phase::kDown ||
               log.attempts_while_down < kOutageAttempts;
      });
      now = phase.load();
      if (log.abandon || (now == Phase::kAfter && log.acknowledged_after >= after_ops)) break;
    }
    const bool after = now == Phase::kAfter;
    const bool promote = after ? std::exchange(promote_next, false) : op % 4 == 3;
    std::int64_t version = 0;
    try {
      version = registry.register_version(kModel, testing::logistic_artifact(1.0 + op),
                                          metadata(op), {.actor = "writer"})
                    ->version;
    } catch (const Error&) {
      std::lock_guard lock(log.mu);
      log.threw.push_back(op);
      if (now == Phase::kDown) ++log.attempts_while_down;
      if (after) promote_next = true;
      log.changed.notify_all();
      continue;
    }
    bool promoted = false;
    if (promote) {
      try {
        registry.transition(kModel, version, Stage::kStaging, {.actor = "writer"});
        registry.transition(kModel, version, Stage::kProduction, {.actor = "writer"});
        promoted = true;
      } catch (const Error&) {
        if (after) promote_next = true;  // the version stays registered; promote a later one
      }
    }
    std::lock_guard lock(log.mu);
    log.acknowledged[op] = version;
    if (now == Phase::kDown) ++log.acknowledged_while_down;  // before the shutdown took effect
    if (after) {
      ++log.acknowledged_after;
      if (promoted && log.promoted_after == 0) {
        log.promoted_after = version;
        log.promoted_after_at = Steady::now();
      }
    }
    log.changed.notify_all();
  }
  std::lock_guard lock(log.mu);
  log.done = true;
  log.changed.notify_all();
}

double ms_since(Steady::time_point start, Steady::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

TEST(FleetOutageTest,
     three_replicas_keep_serving_through_a_restart_and_keep_every_acknowledged_registration) {
  const std::int64_t ops = testing::env_count("SWITCHYARD_OUTAGE_OPS", 20);
  pg_test::ThrowawayServer server;
  pg_test::TempDatabase db(server.url());
  testing::TempDir dir;
  ManualClock clock;
  ArtifactStore artifacts(dir.path() / "artifacts");

  // The writer's own connections, registry and first Production version.
  PostgresRegistryStore writer_store({.conninfo = db.conninfo(),
                                      .busy_timeout = milliseconds(30'000),
                                      .connect_timeout = seconds(5)});
  ModelRegistry writer({.store = &writer_store, .artifacts = &artifacts, .clock = &clock});
  {
    const auto v = writer.register_version(kModel, testing::logistic_artifact(0.5), metadata(-1),
                                           {.actor = "writer"});
    writer.transition(kModel, v->version, Stage::kStaging, {.actor = "writer"});
    writer.transition(kModel, v->version, Stage::kProduction, {.actor = "writer"});
  }

  std::atomic<Phase> phase{Phase::kBefore};
  std::vector<std::unique_ptr<Replica>> fleet;
  for (int i = 0; i < kReplicas; ++i) {
    fleet.push_back(std::make_unique<Replica>(db.conninfo(), artifacts, clock));
    ASSERT_NE(fleet.back()->binding.status().stable_version, 0);
    fleet.back()->start_requests(phase);
  }

  WriterLog log;
  std::jthread writer_thread([&] { write(writer, log, phase, ops); });
  const AbandonOnExit abandon_on_exit{log};
  {
    std::unique_lock lock(log.mu);
    ASSERT_TRUE(log.changed.wait_for(lock, kPatience, [&] {
      return static_cast<std::int64_t>(log.acknowledged.size()) >= ops;
    }));
  }

  // Down: the writer is mid-stream, so a call may be cut off in flight. The outage counts from
  // the stop command (fast shutdown cuts every session at once).
  const Steady::time_point down_at = Steady::now();
  phase = Phase::kDown;
  server.stop();
  for (auto& r : fleet) {
    ASSERT_TRUE(r->follower.wait_until(
        [](const FollowerStatus& s) { return !s.reachable && s.consecutive_failures >= 1; },
        kPatience));
    const FollowerStatus first = r->follower.status();
    clock.advance(seconds(10));
    // A later failed attempt, staleness grown by the clock's advance, and the replica still
    // answering requests in between.
    const std::int64_t served_then = r->served_while_down.load();
    ASSERT_TRUE(r->follower.wait_until(
        [&](const FollowerStatus& s) {
          return !s.reachable && s.consecutive_failures > first.consecutive_failures &&
                 r->served_while_down.load() > served_then;
        },
        kPatience));
    const FollowerStatus later = r->follower.status();
    EXPECT_GE(later.staleness_seconds, first.staleness_seconds + 10.0);
    EXPECT_TRUE(later.error.find(r->store.describe()) != std::string::npos) << later.error;
  }
  {
    std::unique_lock lock(log.mu);
    ASSERT_TRUE(log.changed.wait_for(lock, kPatience,
                                     [&] { return log.attempts_while_down >= kOutageAttempts; }));
  }
  std::chrono::milliseconds backoff_at_restart{0};
  for (auto& r : fleet) {
    backoff_at_restart = std::max(backoff_at_restart, r->follower.status().retry_in);
  }

  // Up again: nobody calls retry_now(), so each follower comes back after its backoff.
  server.start();
  const Steady::time_point restarted_at = Steady::now();
  {
    std::lock_guard lock(log.mu);
    phase = Phase::kAfter;
    log.changed.notify_all();
  }
  std::int64_t promoted_after = 0;
  Steady::time_point promoted_at{};
  {
    std::unique_lock lock(log.mu);
    ASSERT_TRUE(log.changed.wait_for(lock, kPatience,
                                     [&] { return log.promoted_after != 0 || log.done; }));
    promoted_after = log.promoted_after;
    promoted_at = log.promoted_after_at;
  }
  ASSERT_NE(promoted_after, 0) << "no promotion succeeded after the restart";
  for (auto& r : fleet) {
    ASSERT_TRUE(r->follower.wait_until(
        [&](const FollowerStatus& s) {
          return s.reachable && r->binding.status().stable_version >= promoted_after;
        },
        kPatience));
  }
  const Steady::time_point caught_up_at = Steady::now();
  writer_thread.join();

  // The final state, read fresh; every replica converges on it.
  writer.reload();
  const std::int64_t last = writer.latest(kModel)->version;
  const std::int64_t production = writer.in_stage(kModel, Stage::kProduction)->version;
  for (auto& r : fleet) {
    ASSERT_TRUE(r->follower.wait_until(
        [&](const FollowerStatus&) {
          return r->registry.latest(kModel)->version == last &&
                 r->binding.status().stable_version == production;
        },
        kPatience));
  }
  std::int64_t served = 0, served_while_down = 0;
  for (auto& r : fleet) {
    r->requests.request_stop();
    r->requests.join();
    EXPECT_EQ(r->failed.load(), 0) << "first failure: " << r->first_failure;
    EXPECT_GT(r->served_while_down.load(), 0);
    served += r->served.load();
    served_while_down += r->served_while_down.load();
  }

  // Every acknowledged registration is on every replica, under the number its writer was told,
  // with its own metadata.
  for (auto& r : fleet) {
    EXPECT_EQ(r->registry.in_stage(kModel, Stage::kProduction)->version, production)
        << "the replicas disagree on Production";
    for (const auto& [op, v] : log.acknowledged) {
      const VersionRef got = r->registry.get(kModel, v);
      EXPECT_EQ(got->tags.at("op"), std::to_string(op)) << "version " << v;
    }
  }
  // A call that threw is whole or absent: at most one version carries its op, with its audit row.
  const StoreState state = writer_store.load();
  const std::vector<AuditRecord> audit = writer_store.audit({});
  std::set<std::int64_t> registered;
  for (std::size_t i = 0; i < audit.size(); ++i) {
    EXPECT_EQ(audit[i].sequence, static_cast<std::int64_t>(i) + 1) << "audit sequence gap";
    if (audit[i].action == "register") registered.insert(audit[i].version);
  }
  std::map<std::string, int> carriers;  // op tag -> versions carrying it
  for (std::size_t i = 0; i < state.versions.size(); ++i) {
    const auto& v = state.versions[i];
    EXPECT_EQ(v.version, static_cast<std::int64_t>(i) + 1) << "version numbers are not dense";
    EXPECT_TRUE(registered.count(v.version)) << "version " << v.version << " has no audit row";
    ++carriers[v.tags.at("op")];
    EXPECT_NO_THROW((void)writer.read_artifact(kModel, v.version));
  }
  std::int64_t threw_present = 0;
  for (const std::int64_t op : log.threw) {
    const auto it = carriers.find(std::to_string(op));
    const int n = it == carriers.end() ? 0 : it->second;
    EXPECT_LE(n, 1) << "op " << op << " applied twice";
    threw_present += n;
  }
  for (const auto& [tag, n] : carriers) EXPECT_EQ(n, 1) << "op " << tag;

  std::cout << "[ outage   ] " << kReplicas << " replicas, " << served
            << " predictions served, 0 failed expected, " << served_while_down
            << " served while the server was stopping or stopped ("
            << ms_since(down_at, restarted_at) << " ms outage)" << std::endl;
  std::cout << "[ outage   ] writer: " << log.acknowledged.size() << " registrations acknowledged, "
            << log.threw.size() << " calls threw (" << threw_present
            << " of them committed all the same), " << log.acknowledged_while_down
            << " acknowledged after the stop was issued" << std::endl;
  std::cout << "[ outage   ] restart to the first promotion acknowledged: "
            << ms_since(restarted_at, promoted_at)
            << " ms; restart to every replica serving it: " << ms_since(restarted_at, caught_up_at)
            << " ms (follower backoffs in force at the restart: up to " << backoff_at_restart.count()
            << " ms)" << std::endl;
  ::testing::Test::RecordProperty("served_while_down", static_cast<int>(served_while_down));
  ::testing::Test::RecordProperty("catch_up_ms",
                                  static_cast<int>(ms_since(restarted_at, caught_up_at)));
}

}  // namespace fleet_outage_test
}  // namespace
}  // namespace switchyard
