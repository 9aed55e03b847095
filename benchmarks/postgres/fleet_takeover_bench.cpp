// SPDX-License-Identifier: Apache-2.0
// Leader failover on PostgreSQL: three replica processes (forked; see fleet_takeover.hpp) on one
// database run a canary; the leading replica is SIGKILLed mid-rollout again and again (a fresh
// replica replaces each one), and each kill is timed until another replica has resumed the
// rollout. Prints every takeover time, their p50 and max, and whether the plan ended promoted
// with one advance per step (nothing replayed, nothing skipped). Issue 24's target: <= 2 s.
//
// Needs SWITCHYARD_PG_URL (a database where it may create and drop databases).
// Each kill lands at a random moment up to 600 ms after a step the leader wrote, so anywhere
// between two heartbeats (SWITCHYARD_TAKEOVER_JITTER_MS=0: right after the step, when the lease
// was just renewed, the worst case). SWITCHYARD_TAKEOVER_KILLS sets the number of kills (default
// 8); SWITCHYARD_TAKEOVER_TTL_MS and SWITCHYARD_TAKEOVER_HEARTBEAT_MS the lease (default 1000)
// and heartbeat (default 250).
#include <libpq-fe.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "fleet_takeover.hpp"
#include "pg_bench_support.hpp"

namespace {

using switchyard::bench_pg::conninfo_for;
using switchyard::bench_pg::exec;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main() {
  using namespace switchyard;
  const char* url = std::getenv("SWITCHYARD_PG_URL");
  if (!url || !*url) {
    std::fprintf(stderr, "set SWITCHYARD_PG_URL to a PostgreSQL server\n");
    return 2;
  }
  std::random_device rd;
  const std::string dbname =
      "switchyard_takeover_bench_" + std::to_string(rd()) + std::to_string(rd());
  exec(url, "CREATE DATABASE " + dbname);
  int rc = 0;
  try {
    fleet_takeover::Config c;
    c.conninfo = conninfo_for(url, dbname);
    c.replicas = 3;
    c.kills = env_int("SWITCHYARD_TAKEOVER_KILLS", 8);
    c.lease_ttl = std::chrono::milliseconds(env_int("SWITCHYARD_TAKEOVER_TTL_MS", 1000));
    c.heartbeat = std::chrono::milliseconds(env_int("SWITCHYARD_TAKEOVER_HEARTBEAT_MS", 250));
    // Each kill lands at a random moment up to 600 ms after the leader's last step.
    c.kill_jitter = std::chrono::milliseconds(env_int("SWITCHYARD_TAKEOVER_JITTER_MS", 600));
    const fleet_takeover::Result r = fleet_takeover::run(c);
    std::printf("replicas %d, lease %lld ms, heartbeat %lld ms, standby tick %lld ms\n",
                c.replicas, static_cast<long long>(c.lease_ttl.count()),
                static_cast<long long>(c.heartbeat.count()),
                static_cast<long long>(c.tick.count()));
    for (std::size_t k = 0; k < r.takeover_ms.size(); ++k) {
      std::printf("kill %zu: leader killed at step %lld, resumed at step %lld after %.1f ms\n",
                  k + 1, static_cast<long long>(r.step_at_kill[k]),
                  static_cast<long long>(r.resumed_at_step[k]), r.takeover_ms[k]);
    }
    const bool story_ok = r.decisions == r.expected;
    bool steps_ok = true;
    for (std::size_t k = 0; k < r.takeover_ms.size(); ++k) {
      steps_ok = steps_ok && r.resumed_at_step[k] == r.step_at_kill[k];
    }
    std::printf("takeover over %zu kills: p50 %.1f ms, max %.1f ms (target 2000 ms)\n",
                r.takeover_ms.size(), quantile(r.takeover_ms, 0.5),
                *std::max_element(r.takeover_ms.begin(), r.takeover_ms.end()));
    std::printf("final status %s after %lld steps; decisions %s the plan (%zu), resumed %s\n",
                std::string(to_string(r.final_status)).c_str(),
                static_cast<long long>(r.plan_steps), story_ok ? "match" : "DO NOT match",
                r.decisions.size(), steps_ok ? "at the persisted step every time" : "ELSEWHERE");
    bool converged = true;
    for (std::int64_t g : r.final_applied) converged = converged && g == r.final_revision;
    std::printf("final routing generation %lld served by %zu of %zu replicas\n",
                static_cast<long long>(r.final_revision),
                static_cast<std::size_t>(std::count(r.final_applied.begin(),
                                                    r.final_applied.end(), r.final_revision)),
                r.final_applied.size());
    if (!story_ok || !steps_ok || !converged || r.final_status != RolloutStatus::kPromoted) rc = 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fleet_takeover_bench: %s\n", e.what());
    rc = 2;
  }
  try {
    exec(url, "DROP DATABASE IF EXISTS " + dbname + " WITH (FORCE)");
  } catch (const std::exception&) {
  }
  return rc;
}
