// SPDX-License-Identifier: Apache-2.0
// The reliability suite's two-writer and kill tests (tests/reliability/two_process_test.cpp,
// crash_consistency_test.cpp), on PostgreSQL and with several processes: forked writers each open
// their own store on one database and register at once, acknowledging every registration through
// a pipe. Numbers are unique and consecutive, the audit trail is gapless and every acknowledged
// registration is present under the number its writer was told. Then one writer is killed with
// SIGKILL while its transaction holds the writer lock: the server rolls that transaction back and
// releases the lock with the session, the other writers (waiting on that lock) carry on, and the
// store passes the integrity checks below. Synchronised on pipes and on the server's own view of
// who waits for the lock, never on timed waits.
//
// SWITCHYARD_PG_WRITER_OPS sets the registrations per writer (default 30).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/postgres_registry_store.hpp>

#include "registry_postgres/pg_support.hpp"
#include "reliability/reliability_support.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace fleet_writers_test {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testing::WorkerMessage;

constexpr const char* kModel = "shared-model";
constexpr std::int64_t kReadyOp = -1;    // a writer's first message: its store is open
constexpr std::int64_t kHoldingOp = -2;  // the victim's message: its transaction holds the lock

/// A forked writer and the pipe it reports through.
struct Writer {
  pid_t pid = -1;
  std::unique_ptr<testing::Pipe> pipe = std::make_unique<testing::Pipe>();
  std::vector<WorkerMessage> messages;
  std::string how;  // how it ended ("exit 0", "signal 9")
};

/// Reads one message from `w`; false at end of file.
bool next_message(Writer& w) {
  WorkerMessage m;
  if (!testing::read_all(w.pipe->read_end(), &m, sizeof m)) return false;
  w.messages.push_back(m);
  return true;
}

/// Reads every writer's messages until each one closed its pipe, whichever writes first (a full
/// pipe would stop a writer).
void drain_all(std::vector<Writer>& writers) {
  std::vector<pollfd> fds;
  for (auto& w : writers) fds.push_back({w.pipe->read_end(), POLLIN, 0});
  std::size_t open = fds.size();
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll failed");
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      if (!next_message(writers[i])) {
        fds[i].fd = -1;
        --open;
      }
    }
  }
}

VersionMetadata metadata(int writer, std::int64_t op) {
  VersionMetadata m;
  m.metrics = {{"auc", 0.9}};
  m.owner = "writer-" + std::to_string(writer);
  m.tags = {{"op", std::to_string(op)}};
  return m;
}

/// The body of a forked writer: opens its store, reports ready, waits for `go` to close, then
/// registers `ops` versions, acknowledging each. With `hold_fd` (the victim), it then starts a
/// transition of its last version whose transaction reports kHoldingOp and blocks reading
/// `hold_fd`, which the parent never writes to nor closes: it is killed there, holding the lock.
[[noreturn]] void writer_main(const std::string& conninfo, const fs::path& artifacts_dir,
                              int writer, std::int64_t ops, int report_fd, int go_fd,
                              int hold_fd) {
  std::int64_t op = 0;
  try {
    PostgresRegistryStore store({.conninfo = conninfo, .busy_timeout = milliseconds(60'000)});
    ArtifactStore artifacts(artifacts_dir);
    ModelRegistry registry({.store = &store, .artifacts = &artifacts});
    WorkerMessage ready;
    ready.op = kReadyOp;
    if (!testing::write_all(report_fd, &ready, sizeof ready)) ::_exit(4);
    char byte;
    while (::read(go_fd, &byte, 1) > 0) {
    }
    std::int64_t last = 0;
    for (op = 0; op < ops; ++op) {
      last = registry
                 .register_version(
                     kModel, testing::logistic_artifact(static_cast<double>(writer * 100000 + op)),
                     metadata(writer, op), {.actor = "writer-" + std::to_string(writer)})
                 ->version;
      WorkerMessage ack;
      ack.op = op;
      ack.value = last;
      if (!testing::write_all(report_fd, &ack, sizeof ack)) ::_exit(4);
    }
    if (hold_fd >= 0) {
      registry.transition(
          kModel, last, Stage::kStaging,
          {.actor = "victim",
           .in_transaction = [&](RegistryTransaction&) {
             WorkerMessage holding;
             holding.op = kHoldingOp;
             holding.value = last;
             if (!testing::write_all(report_fd, &holding, sizeof holding)) ::_exit(4);
             while (::read(hold_fd, &byte, 1) > 0) {
             }
             ::_exit(5);  // the parent never lets go: it kills this process
           }});
    }
    ::_exit(0);
  } catch (const std::exception& e) {
    const WorkerMessage m = WorkerMessage::failure(op, e.what());
    testing::write_all(report_fd, &m, sizeof m);
  }
  ::_exit(3);
}

/// The integrity checks: the store loads; versions are numbered 1..N with no gap; audit
/// sequences are 1..M with no gap; every version has exactly one "register" row; every
/// transition row names an existing version; every alias names an existing version; every
/// artifact reads back (its SHA-256 verified). Returns the first violation, or "".
std::string integrity_violation(const std::string& conninfo, const fs::path& artifacts_dir) {
  PostgresRegistryStore store({.conninfo = conninfo});
  ArtifactStore artifacts(artifacts_dir);
  ModelRegistry registry({.store = &store, .artifacts = &artifacts});
  const StoreState state = store.load();
  const std::vector<AuditRecord> audit = store.audit({});
  std::set<std::int64_t> versions;
  for (std::size_t i = 0; i < state.versions.size(); ++i) {
    const auto& v = state.versions[i];
    if (v.version != static_cast<std::int64_t>(i) + 1) {
      return "version " + std::to_string(v.version) + " at position " + std::to_string(i + 1);
    }
    versions.insert(v.version);
  }
  std::map<std::int64_t, int> register_rows;
  for (std::size_t i = 0; i < audit.size(); ++i) {
    const auto& r = audit[i];
    if (r.sequence != static_cast<std::int64_t>(i) + 1) {
      return "audit sequence " + std::to_string(r.sequence) + " at position " +
             std::to_string(i + 1);
    }
    if (!versions.count(r.version)) {
      return "audit row " + std::to_string(r.sequence) + " names missing version " +
             std::to_string(r.version);
    }
    if (r.action == "register") ++register_rows[r.version];
  }
  for (const std::int64_t v : versions) {
    if (register_rows[v] != 1) {
      return "version " + std::to_string(v) + " has " + std::to_string(register_rows[v]) +
             " register rows";
    }
  }
  for (const auto& a : state.aliases) {
    if (!versions.count(a.version)) return "alias " + a.alias + " names a missing version";
  }
  for (const auto& v : registry.versions(kModel)) {
    try {
      (void)registry.read_artifact(kModel, v->version);
    } catch (const Error& e) {
      return "version " + std::to_string(v->version) + ": " + e.what();
    }
  }
  return {};
}

/// Forks writer `index`; `hold` set makes it the victim. The child closes every pipe end it does
/// not use (`unrelated` pipes entirely), so each pipe's end of file means what it says.
Writer fork_writer(const std::string& conninfo, const fs::path& artifacts_dir, int index,
                   std::int64_t ops, std::vector<Writer>& others, testing::Pipe& go,
                   testing::Pipe* hold, const std::vector<testing::Pipe*>& unrelated = {}) {
  Writer w;
  w.pid = ::fork();
  if (w.pid < 0) throw std::runtime_error("fork failed");
  if (w.pid == 0) {
    for (auto& o : others) o.pipe->close_read();
    w.pipe->close_read();
    go.close_write();
    if (hold) hold->close_write();
    for (testing::Pipe* p : unrelated) {
      p->close_read();
      p->close_write();
    }
    writer_main(conninfo, artifacts_dir, index, ops, w.pipe->write_end(), go.read_end(),
                hold ? hold->read_end() : -1);
  }
  w.pipe->close_write();
  return w;
}

/// Sessions of this database waiting for an advisory lock (Switchyard's writer lock), as the
/// server sees them.
int sessions_waiting_for_a_lock(const std::string& conninfo, const std::string& dbname) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  int n = -1;
  if (PQstatus(conn) == CONNECTION_OK) {
    const std::string sql =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '" + dbname +
        "' AND wait_event_type = 'Lock' AND wait_event = 'advisory'";
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK) n = std::atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
  }
  PQfinish(conn);
  return n;
}

/// Checks each survivor's acknowledgements: `ops` of them, no failure, exit 0; returns
/// version -> writer.
std::map<std::int64_t, int> acknowledged(std::vector<Writer>& writers, std::int64_t ops) {
  std::map<std::int64_t, int> owner;
  for (std::size_t w = 0; w < writers.size(); ++w) {
    std::int64_t acks = 0;
    for (const auto& m : writers[w].messages) {
      EXPECT_EQ(m.failed, 0) << "writer " << w << " failed at operation " << m.op << ": "
                             << m.text;
      if (m.op < 0) continue;
      ++acks;
      EXPECT_TRUE(owner.emplace(m.value, static_cast<int>(w)).second)
          << "version " << m.value << " was acknowledged to two writers";
    }
    EXPECT_EQ(acks, ops) << "writer " << w;
    EXPECT_EQ(writers[w].how, "exit 0") << "writer " << w;
  }
  return owner;
}

void expect_present(const std::string& conninfo, const fs::path& artifacts_dir,
                    const std::map<std::int64_t, int>& owner) {
  PostgresRegistryStore store({.conninfo = conninfo});
  ArtifactStore artifacts(artifacts_dir);
  ModelRegistry registry({.store = &store, .artifacts = &artifacts});
  for (const auto& [version, w] : owner) {
    EXPECT_EQ(registry.get(kModel, version)->owner, "writer-" + std::to_string(w))
        << "version " << version << " holds another writer's metadata";
  }
}

TEST(FleetWritersTest, concurrent_writer_processes_get_consecutive_numbers_and_lose_nothing) {
  const std::int64_t ops = testing::env_count("SWITCHYARD_PG_WRITER_OPS", 30);
  constexpr int kWriters = 4;
  pg_test::TempDatabase db;
  testing::TempDir dir;
  const std::string conninfo = db.conninfo();
  const fs::path artifacts_dir = dir.path() / "artifacts";

  testing::Pipe go;
  std::vector<Writer> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.push_back(fork_writer(conninfo, artifacts_dir, i, ops, writers, go, nullptr));
  }
  go.close_read();
  // Every writer has opened its store (the first ones racing to create the schema) before any
  // registers, so the registrations overlap.
  for (auto& w : writers) {
    ASSERT_TRUE(next_message(w)) << "a writer ended before opening its store";
    ASSERT_EQ(w.messages.back().failed, 0) << w.messages.back().text;
  }
  const auto started = std::chrono::steady_clock::now();
  go.close_write();
  drain_all(writers);
  for (auto& w : writers) w.how = testing::wait_for(w.pid);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  const auto owner = acknowledged(writers, ops);
  ASSERT_EQ(static_cast<std::int64_t>(owner.size()), kWriters * ops);
  EXPECT_EQ(owner.begin()->first, 1);
  EXPECT_EQ(owner.rbegin()->first, kWriters * ops) << "numbers are not consecutive";
  expect_present(conninfo, artifacts_dir, owner);
  EXPECT_EQ(integrity_violation(conninfo, artifacts_dir), "");
  std::cout << "[ writers  ] " << kWriters << " processes, " << kWriters * ops
            << " registrations in " << seconds << " s" << std::endl;
}

TEST(FleetWritersTest, a_writer_killed_holding_the_lock_is_rolled_back_and_the_others_continue) {
  const std::int64_t ops = testing::env_count("SWITCHYARD_PG_WRITER_OPS", 30);
  constexpr int kSurvivors = 3;
  constexpr std::int64_t kVictimOps = 5;
  pg_test::TempDatabase db;
  testing::TempDir dir;
  const std::string conninfo = db.conninfo();
  const fs::path artifacts_dir = dir.path() / "artifacts";

  // Every writer opens its store first (opening takes the writer lock for the schema check).
  testing::Pipe victim_go, go, hold;
  std::vector<Writer> writers;
  for (int i = 0; i < kSurvivors; ++i) {
    writers.push_back(fork_writer(conninfo, artifacts_dir, i, ops, writers, go, nullptr,
                                  {&victim_go, &hold}));
  }
  Writer victim =
      fork_writer(conninfo, artifacts_dir, 99, kVictimOps, writers, victim_go, &hold, {&go});
  victim_go.close_read();
  go.close_read();
  hold.close_read();
  std::vector<Writer*> everyone{&victim};
  for (auto& w : writers) everyone.push_back(&w);
  for (Writer* w : everyone) {
    ASSERT_TRUE(next_message(*w)) << "a writer ended before opening its store";
    ASSERT_EQ(w->messages.back().failed, 0) << w->messages.back().text;
  }
  // The victim registers, then holds the lock inside a transition's transaction.
  victim_go.close_write();
  for (std::int64_t i = 0; i <= kVictimOps; ++i) {
    ASSERT_TRUE(next_message(victim)) << "the victim ended early";
    ASSERT_EQ(victim.messages.back().failed, 0) << victim.messages.back().text;
  }
  ASSERT_EQ(victim.messages.back().op, kHoldingOp);
  const std::int64_t held_version = victim.messages.back().value;
  // The survivors start now: each of them waits for the victim's lock.
  go.close_write();
  // The server's own view is the condition: every survivor is waiting for the victim's lock.
  std::int64_t checks = 0;
  for (int waiting = 0; waiting < kSurvivors; ++checks) {
    waiting = sessions_waiting_for_a_lock(conninfo, db.name());
    ASSERT_GE(waiting, 0) << "pg_stat_activity unreadable";
  }

  ::kill(victim.pid, SIGKILL);
  victim.how = testing::wait_for(victim.pid);
  EXPECT_EQ(victim.how, "signal 9");
  const auto killed_at = std::chrono::steady_clock::now();
  drain_all(writers);
  for (auto& w : writers) w.how = testing::wait_for(w.pid);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();

  // The survivors' registrations, all present, numbered after the victim's.
  auto owner = acknowledged(writers, ops);
  ASSERT_EQ(static_cast<std::int64_t>(owner.size()), kSurvivors * ops);
  EXPECT_EQ(owner.begin()->first, kVictimOps + 1);
  EXPECT_EQ(owner.rbegin()->first, kVictimOps + kSurvivors * ops);
  expect_present(conninfo, artifacts_dir, owner);
  // The victim's acknowledged registrations stay; its transition never happened.
  {
    PostgresRegistryStore store({.conninfo = conninfo});
    ArtifactStore artifacts(artifacts_dir);
    ModelRegistry registry({.store = &store, .artifacts = &artifacts});
    for (std::int64_t v = 1; v <= kVictimOps; ++v) {
      EXPECT_EQ(registry.get(kModel, v)->owner, "writer-99");
    }
    EXPECT_EQ(registry.get(kModel, held_version)->stage, Stage::kDevelopment)
        << "the killed transaction's transition was not rolled back";
    for (const auto& r : registry.history(kModel)) {
      EXPECT_NE(r.actor, "victim") << "an audit row of the killed transaction survived";
    }
    // The lock went with the victim's session: a new writer takes it at once.
    const auto v = registry.register_version(kModel, testing::logistic_artifact(7.0),
                                             metadata(7, 0), {.actor = "after"});
    EXPECT_EQ(v->version, kVictimOps + kSurvivors * ops + 1);
  }
  EXPECT_EQ(integrity_violation(conninfo, artifacts_dir), "");
  std::cout << "[ kill     ] victim killed holding the writer lock with " << kSurvivors
            << " writers waiting (" << checks << " checks of pg_stat_activity); they finished "
            << kSurvivors * ops << " registrations " << seconds << " s after the kill"
            << std::endl;
}

}  // namespace fleet_writers_test
}  // namespace
}  // namespace switchyard
