// SPDX-License-Identifier: Apache-2.0
// Registry write latency on PostgreSQL beside the SQLite store, in one run: a new version (begin,
// max_version, insert, audit row, durable commit), a stage transition (update, audit row, commit)
// and the change check a replica polls. BM_Postgres_RawCommit is the PostgreSQL baseline: libpq
// alone inserting one row of the same size and committing, on the same server; BM_Sqlite_RawCommit
// the SQLite one (the same in SQLite, WAL and synchronous=FULL). Compare medians of
// --benchmark_repetitions; the ratio store / raw is the store's overhead on each database.
//
// Needs SWITCHYARD_PG_URL (a database where it may create and drop databases). For figures that
// mean something the server must commit durably (fsync on); the tests' throwaway server does so
// with PG_SERVER_DURABLE=1 tests/registry_postgres/pg_server.sh start DIR.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include <switchyard/registry/postgres_registry_store.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>

namespace {

using namespace switchyard;
namespace fs = std::filesystem;

const std::string kPayload(900, 'p');  // about one version's metadata JSON

std::string suffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

void exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const ExecStatusType s = PQresultStatus(r);
  const bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  const std::string error = ok ? "" : PQresultErrorMessage(r);
  PQclear(r);
  if (!error.empty()) throw std::runtime_error(sql + ": " + error);
}

// A database of its own on the server SWITCHYARD_PG_URL names, dropped at exit.
struct BenchDatabase {
  std::string url;
  std::string name = "switchyard_bench_" + suffix();
  std::string conninfo;
  BenchDatabase() {
    const char* env = std::getenv("SWITCHYARD_PG_URL");
    if (!env || !*env) return;
    url = env;
    PGconn* c = PQconnectdb(url.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      PQfinish(c);
      url.clear();
      return;
    }
    exec(c, "CREATE DATABASE " + name);
    // The same server, the new database: later keywords override the URL's.
    conninfo = std::string("host=") + PQhost(c) + " port=" + PQport(c) + " user=" + PQuser(c) +
               " dbname=" + name;
    PQfinish(c);
  }
  ~BenchDatabase() {
    if (url.empty()) return;
    PGconn* c = PQconnectdb(url.c_str());
    const std::string drop = "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)";
    if (PQstatus(c) == CONNECTION_OK) PQclear(PQexec(c, drop.c_str()));
    PQfinish(c);
  }
};

BenchDatabase& database() {
  static BenchDatabase db;
  return db;
}

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("switchyard-pg-bench-" + suffix());
  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Scratch& scratch() {
  static Scratch s;
  return s;
}

ModelVersion version_of(const std::string& name, std::int64_t version) {
  ModelVersion v;
  v.name = name;
  v.version = version;
  v.semver = "1." + std::to_string(version) + ".0";
  v.description = kPayload;
  v.created_at = from_unix_nanos(1'700'000'000'000'000'000 + version);
  v.stage_changed_at = v.created_at;
  v.artifact = {"switchyard.linear", std::string(64, 'e'), 48'213, "sha256/ee/x"};
  return v;
}

std::unique_ptr<RegistryStore> open(bool postgres) {
  if (postgres) {
    return std::make_unique<PostgresRegistryStore>(
        PostgresRegistryStore::Options{.conninfo = database().conninfo});
  }
  return std::make_unique<SqliteRegistryStore>(SqliteRegistryStore::Options{
      .path = (scratch().dir / ("registry-" + suffix() + ".db")).string()});
}

bool skip_without_server(benchmark::State& state, bool postgres) {
  if (postgres && database().conninfo.empty()) {
    state.SkipWithError("set SWITCHYARD_PG_URL to a PostgreSQL server");
    return true;
  }
  return false;
}

void commit_new_version(RegistryStore& store, const std::string& name) {
  auto tx = store.begin();
  ModelVersion v = version_of(name, tx->max_version(name) + 1);
  tx->insert_version(v);
  AuditRecord r;
  r.model = name;
  r.version = v.version;
  r.action = "register";
  benchmark::DoNotOptimize(tx->append_audit(r));
  tx->commit();
}

// range(0): 0 SQLite, 1 PostgreSQL.
void BM_Store_CommitNewVersion(benchmark::State& state) {
  const bool pg = state.range(0) == 1;
  if (skip_without_server(state, pg)) return;
  auto store = open(pg);
  const std::string name = "model-" + suffix();
  for (auto _ : state) commit_new_version(*store, name);
  state.SetLabel(pg ? "postgres" : "sqlite");
}
BENCHMARK(BM_Store_CommitNewVersion)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Store_Transition(benchmark::State& state) {
  const bool pg = state.range(0) == 1;
  if (skip_without_server(state, pg)) return;
  auto store = open(pg);
  const std::string name = "model-" + suffix();
  commit_new_version(*store, name);
  bool staging = false;
  for (auto _ : state) {
    auto tx = store->begin();
    ModelVersion v = *tx->find_version(name, 1);
    const Stage from = v.stage;
    v.stage = staging ? Stage::kDevelopment : Stage::kStaging;
    staging = !staging;
    tx->update_version(v);
    AuditRecord r;
    r.model = name;
    r.version = 1;
    r.action = "transition";
    r.from_stage = from;
    r.to_stage = v.stage;
    benchmark::DoNotOptimize(tx->append_audit(r));
    tx->commit();
  }
  state.SetLabel(pg ? "postgres" : "sqlite");
}
BENCHMARK(BM_Store_Transition)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Store_MayHaveChanged(benchmark::State& state) {
  const bool pg = state.range(0) == 1;
  if (skip_without_server(state, pg)) return;
  auto store = open(pg);
  for (auto _ : state) benchmark::DoNotOptimize(store->may_have_changed());
  state.SetLabel(pg ? "postgres" : "sqlite");
}
BENCHMARK(BM_Store_MayHaveChanged)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Baseline: libpq alone, one INSERT of a row of the same size and a durable COMMIT.
void BM_Postgres_RawCommit(benchmark::State& state) {
  if (skip_without_server(state, true)) return;
  PGconn* c = PQconnectdb(database().conninfo.c_str());
  exec(c, "CREATE TABLE IF NOT EXISTS raw_rows (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)");
  const char* values[] = {kPayload.c_str()};
  for (auto _ : state) {
    PQclear(PQexec(c, "BEGIN"));
    PQclear(PQexecParams(c, "INSERT INTO raw_rows (payload) VALUES ($1)", 1, nullptr, values,
                         nullptr, nullptr, 0));
    PGresult* r = PQexec(c, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) state.SkipWithError("commit failed");
    PQclear(r);
  }
  PQfinish(c);
}
BENCHMARK(BM_Postgres_RawCommit)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Baseline: SQLite alone (WAL, synchronous=FULL), one INSERT and a durable COMMIT.
void BM_Sqlite_RawCommit(benchmark::State& state) {
  sqlite3* db = nullptr;
  sqlite3_open((scratch().dir / "raw.db").string().c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS "
               "raw_rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO raw_rows (payload) VALUES (?)", -1, &insert, nullptr);
  for (auto _ : state) {
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    sqlite3_bind_text(insert, 1, kPayload.c_str(), static_cast<int>(kPayload.size()),
                      SQLITE_STATIC);
    sqlite3_step(insert);
    sqlite3_reset(insert);
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      state.SkipWithError("commit failed");
    }
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
}
BENCHMARK(BM_Sqlite_RawCommit)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
