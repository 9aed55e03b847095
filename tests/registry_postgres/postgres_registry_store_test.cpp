// SPDX-License-Identifier: Apache-2.0
// What only the PostgreSQL store has: a server named without credentials, the schema version
// check, and a fleet of replicas (ModelRegistry instances, each with its own store and so its own
// connections) sharing one database: notifications, unique version numbers under concurrent
// registration, a server that stops and comes back, artifacts damaged behind the store's back.
#include <switchyard/registry/postgres_registry_store.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <latch>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/registry/model_registry.hpp>

#include "registry_postgres/pg_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<PostgresRegistryStore> open_store(const std::string& conninfo) {
  return std::make_unique<PostgresRegistryStore>(
      PostgresRegistryStore::Options{.conninfo = conninfo, .busy_timeout = milliseconds(30'000)});
}

/// One replica: its own store (connections) and registry, over a shared artifact directory.
struct Replica {
  std::unique_ptr<PostgresRegistryStore> store;
  std::unique_ptr<ModelRegistry> registry;
  Replica(const std::string& conninfo, ArtifactStore& artifacts, const Clock& clock)
      : store(open_store(conninfo)),
        registry(std::make_unique<ModelRegistry>(ModelRegistry::Options{
            .store = store.get(), .artifacts = &artifacts, .clock = &clock})) {}

  std::int64_t add(const std::string& name, double seed = 1.0) {
    VersionMetadata m;
    m.metrics = {{"auc", 0.9}};
    m.owner = "test";
    return registry->register_version(name, testing::logistic_artifact(seed), m, {.actor = "ci"})
        ->version;
  }
};

/// A database of its own plus what replicas share besides it (artifact directory, clock).
struct Fleet {
  pg_test::TempDatabase db;
  testing::TempDir dir;
  ManualClock clock;
  ArtifactStore artifacts{dir.path() / "artifacts"};

  Fleet() = default;
  explicit Fleet(const std::string& server_url) : db(server_url) {}
  std::unique_ptr<Replica> replica() {
    return std::make_unique<Replica>(db.conninfo(), artifacts, clock);
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(PostgresRegistryStoreTest, describe_names_the_server_without_credentials) {
  pg_test::TempDatabase db;
  auto store = open_store(db.conninfo() + " password='hunter2'");
  const std::string where = store->describe();
  EXPECT_EQ(where.rfind("postgresql://", 0), 0u) << where;
  EXPECT_TRUE(contains(where, ":5432/" + db.name()) || contains(where, "/" + db.name())) << where;
  EXPECT_FALSE(contains(where, "hunter2")) << where;
  EXPECT_FALSE(contains(where, "password")) << where;
}

TEST(PostgresRegistryStoreTest, connection_string_comes_from_options_or_the_environment) {
  pg_test::TempDatabase db;
  const char* before = std::getenv("SWITCHYARD_PG_URL");
  const std::optional<std::string> saved =
      before ? std::optional<std::string>(before) : std::nullopt;
  ::setenv("SWITCHYARD_PG_URL", db.conninfo().c_str(), 1);
  {
    PostgresRegistryStore store({});
    EXPECT_TRUE(contains(store.describe(), db.name())) << store.describe();
  }
  ::unsetenv("SWITCHYARD_PG_URL");
  EXPECT_THROW(PostgresRegistryStore({}), InvalidArgument);
  if (saved) ::setenv("SWITCHYARD_PG_URL", saved->c_str(), 1);
}

TEST(PostgresRegistryStoreTest, unreachable_server_throws_storage_error_naming_it) {
  try {
    PostgresRegistryStore store(
        {.conninfo = "host=/nonexistent-switchyard-socket dbname=registry"});
    FAIL() << "connected to nothing";
  } catch (const StorageError& e) {
    EXPECT_TRUE(contains(e.what(), "postgresql://%2Fnonexistent-switchyard-socket:5432/registry"))
        << e.what();
  }
}

TEST(PostgresRegistryStoreTest, newer_schema_and_foreign_tables_are_refused) {
  pg_test::TempDatabase db;
  open_store(db.conninfo());  // creates the schema
  const std::string newer = std::to_string(kPostgresSchemaVersion + 1);
  pg_test::exec_sql(db.conninfo(), "UPDATE switchyard_schema SET version = " + newer);
  try {
    open_store(db.conninfo());
    FAIL() << "opened a newer schema";
  } catch (const SchemaTooNew& e) {
    EXPECT_TRUE(contains(e.what(), "schema version " + newer)) << e.what();
  }

  pg_test::TempDatabase foreign;
  pg_test::exec_sql(foreign.conninfo(), "CREATE TABLE model_versions (id INTEGER)");
  EXPECT_THROW(open_store(foreign.conninfo()), CorruptStore);
  // Refused without a change: still no schema table.
  EXPECT_THROW(pg_test::exec_sql(foreign.conninfo(), "SELECT * FROM switchyard_schema"),
               std::runtime_error);
}

TEST(PostgresRegistryStoreTest, an_older_schema_is_migrated_on_open) {
  pg_test::TempDatabase db;
  open_store(db.conninfo());
  // What a version-1 store holds: the tables of migration 1 only.
  pg_test::exec_sql(db.conninfo(),
                    "DROP TABLE rollout_window_figures, rollouts, rollout_leases, audit_evidence, "
                    "artifacts; "
                    "UPDATE switchyard_schema SET version = 1");
  auto store = open_store(db.conninfo());
  {
    auto tx = store->begin();
    tx->put_artifact(std::string(64, 'a'), "bytes");
    tx->commit();
  }
  EXPECT_EQ(store->read_artifact(std::string(64, 'a')), "bytes");
}

TEST(PostgresRegistryStoreTest, text_with_a_nul_byte_is_refused_and_the_transaction_stays_usable) {
  pg_test::TempDatabase db;
  auto store = open_store(db.conninfo());
  auto tx = store->begin();
  ModelVersion v;
  v.name = "m";
  v.version = 1;
  v.semver = "1.0.0";
  tx->insert_version(v);
  AuditRecord r;
  r.actor = "ci";
  r.model = "m";
  r.version = 1;
  r.action = "register";
  r.reason = std::string("a\0b", 3);
  EXPECT_THROW(tx->append_audit(r), InvalidArgument);
  EXPECT_THROW(tx->set_alias({"m", std::string("x\0y", 3), 1}), InvalidArgument);
  r.reason = "ab";
  EXPECT_EQ(tx->append_audit(r), 1);
  tx->commit();
  ASSERT_EQ(store->audit({}).size(), 1u);
  EXPECT_EQ(store->audit({})[0].reason, "ab");
}

TEST(PostgresRegistryStoreTest, hostile_rows_are_corrupt_store_naming_the_row) {
  pg_test::TempDatabase db;
  auto store = open_store(db.conninfo());
  {
    auto tx = store->begin();
    ModelVersion v;
    v.name = "m";
    v.version = 1;
    v.semver = "1.0.0";
    tx->insert_version(v);
    AuditRecord r;
    r.actor = "ci";
    r.model = "m";
    r.version = 1;
    r.action = "transition";
    r.evidence = {{.kind = "canary", .passed = true, .summary = "ok"}};
    tx->append_audit(r);
    tx->commit();
  }
  auto expect_corrupt = [&](const std::string& sql, auto read, const std::string& names) {
    pg_test::exec_sql(db.conninfo(), "BEGIN; " + sql + "; COMMIT");
    try {
      read();
      ADD_FAILURE() << "read a row no Switchyard writes: " << sql;
    } catch (const CorruptStore& e) {
      EXPECT_TRUE(contains(e.what(), names)) << e.what();
      EXPECT_TRUE(contains(e.what(), store->describe())) << e.what();
    }
  };
  expect_corrupt(
      "UPDATE model_versions SET stage = 99", [&] { store->load(); },
      "model_versions row (name 'm', version '1'): column 'stage' holds 99");
  expect_corrupt(
      "UPDATE model_versions SET stage = 0, metadata = 'not json'",
      [&] { store->load_models({"m"}); }, "column 'metadata' is not valid");
  expect_corrupt(
      "UPDATE model_versions SET metadata = '{}'; UPDATE audit_evidence SET passed = 2",
      [&] { store->audit({}); },
      "audit_evidence row (sequence '1', position '0'): column 'passed' holds 2");
  expect_corrupt(
      "UPDATE audit_evidence SET passed = 1; UPDATE audit SET from_stage = -3",
      [&] { store->audit({}); }, "audit row (sequence '1'): column 'from_stage'");
}

TEST(PostgresRegistryStoreTest, registry_on_postgres_keeps_one_production_version) {
  Fleet fleet;
  auto a = fleet.replica();
  const auto v1 = a->add("fraud-detection", 1.0);
  const auto v2 = a->add("fraud-detection", 2.0);
  for (auto v : {v1, v2}) {
    a->registry->transition("fraud-detection", v, Stage::kStaging, {.actor = "ci"});
    a->registry->transition("fraud-detection", v, Stage::kProduction,
                            {.actor = "alice", .reason = "ship"});
  }
  const auto production = a->registry->versions("fraud-detection", Stage::kProduction);
  ASSERT_EQ(production.size(), 1u);
  EXPECT_EQ(production[0]->version, v2);
  // A replica opened afterwards reads the same from the database.
  auto b = fleet.replica();
  EXPECT_EQ(b->registry->in_stage("fraud-detection", Stage::kProduction)->version, v2);
  EXPECT_EQ(b->registry->history("fraud-detection"), a->registry->history("fraud-detection"));
}

TEST(PostgresRegistryStoreTest, replicas_follow_each_other_through_notifications) {
  Fleet fleet;
  auto a = fleet.replica();
  auto b = fleet.replica();
  EXPECT_FALSE(b->registry->refresh()) << "nothing committed yet";
  const auto v1 = a->add("churn-model");
  EXPECT_FALSE(a->store->may_have_changed()) << "its own commit";
  // The notification is there already: the wait returns at once.
  EXPECT_TRUE(b->store->wait_for_change(milliseconds(10'000)));
  EXPECT_TRUE(b->registry->refresh());
  EXPECT_EQ(b->registry->get("churn-model", v1)->stage, Stage::kDevelopment);
  EXPECT_FALSE(b->registry->refresh()) << "already caught up";
  EXPECT_FALSE(b->store->wait_for_change(milliseconds(1))) << "nothing new";

  b->registry->transition("churn-model", v1, Stage::kStaging, {.actor = "ci"});
  EXPECT_TRUE(a->registry->refresh());
  EXPECT_EQ(a->registry->get("churn-model", v1)->stage, Stage::kStaging);

  // A waiter in another thread is woken by a commit.
  std::latch waiting(1);
  std::thread waiter([&] {
    waiting.count_down();
    EXPECT_TRUE(b->store->wait_for_change(milliseconds(30'000)));
  });
  waiting.wait();
  a->add("churn-model", 2.0);
  waiter.join();
  EXPECT_TRUE(b->registry->refresh());
  EXPECT_EQ(b->registry->latest("churn-model")->version, 2);
}

TEST(PostgresRegistryStoreTest, concurrent_registration_from_two_replicas_never_shares_a_version) {
  Fleet fleet;
  std::unique_ptr<Replica> replicas[2] = {fleet.replica(), fleet.replica()};
  constexpr int kThreadsPerReplica = 2;
  constexpr int kPerThread = 10;
  std::latch start(2 * kThreadsPerReplica);
  std::vector<std::thread> threads;
  std::vector<std::string> failures[2 * kThreadsPerReplica];
  for (int t = 0; t < 2 * kThreadsPerReplica; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        try {
          replicas[t % 2]->add("shared-model", 1.0 + t * 100 + i);
        } catch (const std::exception& e) {
          failures[t].push_back(e.what());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& list : failures) {
    for (const auto& f : list) ADD_FAILURE() << f;
  }
  constexpr int kTotal = 2 * kThreadsPerReplica * kPerThread;
  for (auto& r : replicas) {
    r->registry->refresh();
    std::set<std::int64_t> numbers;
    for (const auto& v : r->registry->versions("shared-model")) numbers.insert(v->version);
    EXPECT_EQ(numbers.size(), static_cast<std::size_t>(kTotal));
    ASSERT_FALSE(numbers.empty());
    EXPECT_EQ(*numbers.begin(), 1);
    EXPECT_EQ(*numbers.rbegin(), kTotal);
  }
  const auto audit = replicas[0]->store->audit({});
  ASSERT_EQ(audit.size(), static_cast<std::size_t>(kTotal));
  for (std::size_t i = 0; i < audit.size(); ++i) {
    EXPECT_EQ(audit[i].sequence, static_cast<std::int64_t>(i + 1)) << "gapless, in order";
  }
}

TEST(PostgresRegistryStoreTest, a_damaged_artifact_row_is_caught_by_the_hash) {
  Fleet fleet;
  auto a = fleet.replica();
  const auto v1 = a->add("fraud-detection");
  const std::string good = a->registry->read_artifact("fraud-detection", v1);
  const std::string sha = a->registry->get("fraud-detection", v1)->artifact.sha256;
  EXPECT_EQ(a->store->read_artifact(sha), good) << "kept in the database, round trip exact";
  pg_test::exec_sql(fleet.db.conninfo(),
                    "UPDATE artifacts SET bytes = overlay(bytes placing '\\x00'::bytea from 10)");
  EXPECT_THROW((void)fleet.replica()->registry->read_artifact("fraud-detection", v1),
               IntegrityError);
}

TEST(PostgresRegistryStoreTest, server_down_keeps_the_snapshot_and_a_restart_catches_up) {
  pg_test::ThrowawayServer server;
  Fleet fleet(server.url());
  auto a = fleet.replica();
  const auto v1 = a->add("fraud-detection");
  const std::string where = a->store->describe();
  const ModelPtr serving = a->registry->load("fraud-detection", v1);  // what a deployment holds

  server.stop();
  try {
    a->add("fraud-detection", 2.0);
    FAIL() << "registered with the server down";
  } catch (const StorageError& e) {
    EXPECT_TRUE(contains(e.what(), where)) << e.what();
  }
  try {
    a->registry->refresh();
    FAIL() << "refreshed with the server down";
  } catch (const StorageError& e) {
    EXPECT_TRUE(contains(e.what(), where)) << e.what();
  }
  // Serving reads the last snapshot and the models it holds: no I/O, no error.
  EXPECT_EQ(a->registry->latest("fraud-detection")->version, v1);
  EXPECT_EQ(a->registry->load("fraud-detection", v1), serving);

  server.start();
  // Another replica commits before `a` has reconnected: `a` hears no notification of it, and
  // catches up from the audit sequence.
  auto b = fleet.replica();
  const auto v2 = b->add("fraud-detection", 2.0);
  EXPECT_EQ(v2, 2) << "the failed registration left nothing behind";
  EXPECT_TRUE(a->store->wait_for_change(milliseconds(0)))
      << "listening again: may have missed some";
  EXPECT_TRUE(a->registry->refresh());
  EXPECT_EQ(a->registry->latest("fraud-detection")->version, v2);
  const auto v3 = a->add("fraud-detection", 3.0);
  EXPECT_EQ(v3, 3);
  std::vector<std::int64_t> sequences;
  for (const auto& r : a->registry->history("fraud-detection")) sequences.push_back(r.sequence);
  EXPECT_EQ(sequences, (std::vector<std::int64_t>{1, 2, 3}));
}

}  // namespace
}  // namespace switchyard
