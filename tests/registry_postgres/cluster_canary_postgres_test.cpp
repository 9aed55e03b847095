// SPDX-License-Identifier: Apache-2.0
// Cluster-wide canary figures on PostgreSQL: a version 4 database gains the window-figures table
// (schema 5) keeping its rows, three replicas (each its own store connection) flush a window and
// the leader's merge equals one CanaryMetrics fed all their traffic, and a damaged row is a
// CorruptStore naming the replica. Time runs on a ManualClock; the server is the fixture's.
#include <switchyard/registry/postgres_registry_store.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <switchyard/rollout/cluster_canary_metrics.hpp>

#include "registry_postgres/pg_support.hpp"

namespace switchyard {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<PostgresRegistryStore> open_pg(const std::string& conninfo) {
  return std::make_unique<PostgresRegistryStore>(
      PostgresRegistryStore::Options{.conninfo = conninfo});
}

TEST(ClusterCanaryPostgresTest, a_version_4_database_gains_the_window_figures_table) {
  pg_test::TempDatabase db;
  {
    auto store = open_pg(db.conninfo());
    auto tx = store->begin();
    tx->put_rollout({.deployment = "fraud-detection", .model = "fraud-detection"});
    tx->commit();
  }
  pg_test::exec_sql(db.conninfo(),
                    "DROP TABLE rollout_window_figures; UPDATE switchyard_schema SET version = 4");
  auto store = open_pg(db.conninfo());  // migrates to 5
  EXPECT_EQ(store->load_rollout("fraud-detection")->model, "fraud-detection") << "rows kept";
  const WindowFigures row{"fraud-detection", 2, "b", from_unix_nanos(7), std::string("x\0y", 3)};
  {
    auto tx = store->begin();
    tx->put_window_figures(row);
    tx->commit();
  }
  EXPECT_EQ(open_pg(db.conninfo())->load_window_figures("fraud-detection", 0, 9),
            std::vector<WindowFigures>{row});
  // Version 5 now: the table exists (migrating again would fail on CREATE TABLE).
  pg_test::exec_sql(db.conninfo(), "SELECT figures FROM rollout_window_figures");
}

struct LatencyStream {
  std::uint64_t state;
  std::uint64_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return 10'000 + (state >> 33) % 20'000'000;
  }
};

TEST(ClusterCanaryPostgresTest, three_replicas_merge_into_the_fleets_figures) {
  pg_test::TempDatabase db;
  ManualClock clock;
  const TimePoint origin = clock.now();
  const CanaryMetrics::Options mo{.versions = {1, 2}, .metrics = {"cost"}, .clock = &clock};
  CanaryMetrics all(mo);
  struct Replica {
    std::unique_ptr<PostgresRegistryStore> store;
    std::unique_ptr<CanaryMetrics> metrics;
    std::unique_ptr<ClusterCanaryMetrics> cluster;
  };
  std::vector<Replica> fleet;
  for (const char* name : {"a", "b", "c"}) {
    Replica r;
    r.store = open_pg(db.conninfo());
    r.metrics = std::make_unique<CanaryMetrics>(mo);
    r.cluster = std::make_unique<ClusterCanaryMetrics>(ClusterCanaryMetrics::Options{
        .store = r.store.get(), .metrics = r.metrics.get(), .rollout = "fraud-detection",
        .replica = name, .clock = &clock, .origin = origin, .interval = 1min});
    fleet.push_back(std::move(r));
  }
  // Replica i serves 600 * (i + 1) requests; the candidate fails on c only.
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    LatencyStream lat{i + 1};
    for (int n = 0; n < 600 * static_cast<int>(i + 1); ++n) {
      const std::int64_t version = 1 + n % 2;
      const bool ok = !(i == 2 && version == 2 && n % 5 == 1);
      const std::uint64_t ns = lat.next();
      for (CanaryMetrics* m : {fleet[i].metrics.get(), &all}) {
        ASSERT_TRUE(m->record_request(version, ok, ns));
        ASSERT_TRUE(m->record(version, "cost", static_cast<double>(n % 13)));
      }
    }
  }
  clock.advance(1min + 3s);
  EXPECT_EQ(fleet[1].cluster->flush(), 0);
  EXPECT_EQ(fleet[2].cluster->flush(), 0);
  const CanaryWindow merged = fleet[0].cluster->next_window();  // the leader, replica a
  const CanaryWindow expected = all.roll_window();
  EXPECT_NE(merged.sources.find("merged from 3 replicas (a, b, c)"), std::string::npos)
      << merged.sources;
  for (std::int64_t version : {1, 2}) {
    const CanaryVersionFigures& m = *merged.find(version);
    const CanaryVersionFigures& e = *expected.find(version);
    EXPECT_EQ(m.requests, e.requests);
    EXPECT_EQ(m.errors, e.errors);
    EXPECT_EQ(m.latency.count(), e.latency.count());
    EXPECT_EQ(m.latency.sum(), e.latency.sum());
    for (double q : {0.5, 0.9, 0.99, 0.999}) {
      EXPECT_EQ(m.latency.quantile(q), e.latency.quantile(q)) << "version " << version;
    }
    EXPECT_EQ(m.metric("cost")->count, e.metric("cost")->count);
    EXPECT_NEAR(m.metric("cost")->sum, e.metric("cost")->sum, 1e-9);
    EXPECT_EQ(m.latency_sample_ns.size(), std::min<std::size_t>(2000, e.latency.count()));
  }
  EXPECT_GT(merged.find(2)->errors, 0u) << "replica c's, judged by the leader on replica a";

  pg_test::exec_sql(db.conninfo(),
                    "UPDATE rollout_window_figures SET figures = "
                    "set_byte(figures, 40, get_byte(figures, 40) # 1) WHERE replica = 'c'");
  try {
    (void)fleet[0].cluster->merged(0, 0);
    FAIL() << "a damaged row was merged";
  } catch (const CorruptStore& e) {
    EXPECT_NE(std::string(e.what()).find("window 0, replica 'c'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace switchyard
