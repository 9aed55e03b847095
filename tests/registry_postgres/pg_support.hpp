// SPDX-License-Identifier: Apache-2.0
// The registry_postgres tests' view of PostgreSQL: the fixture's server URL, a fresh database per
// test, raw SQL for what no Switchyard would write, and a second throwaway server a test may stop.
#pragma once

#include <libpq-fe.h>
#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace switchyard::pg_test {

/// The fixture server's URL: SWITCHYARD_PG_URL when set, else the file the ctest fixture wrote.
inline std::string server_url() {
  if (const char* env = std::getenv("SWITCHYARD_PG_URL"); env && *env) return env;
  std::ifstream in(SWITCHYARD_PG_URL_FILE);
  std::string url;
  if (!(in >> url)) {
    throw std::runtime_error(std::string("no PostgreSQL server: set SWITCHYARD_PG_URL or run "
                                         "through ctest (the fixture writes ") +
                             SWITCHYARD_PG_URL_FILE + ")");
  }
  return url;
}

/// `url` with its database replaced by `dbname`, as keyword=value pairs.
inline std::string with_database(const std::string& url, const std::string& dbname) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (!options) {
    std::string message = error ? error : "out of memory";
    PQfreemem(error);
    throw std::runtime_error("bad PostgreSQL URL " + url + ": " + message);
  }
  std::string out;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    const std::string keyword = o->keyword;
    if (keyword == "dbname" || !o->val || !*o->val) continue;
    out += keyword + "='" + o->val + "' ";
  }
  PQconninfoFree(options);
  return out + "dbname='" + dbname + "'";
}

/// Runs `sql` on a connection of its own; throws std::runtime_error with the server's message.
inline void exec_sql(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string failure;
  if (PQstatus(conn) != CONNECTION_OK) {
    failure = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    const ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) failure = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(conn);
  if (!failure.empty()) throw std::runtime_error(sql + ": " + failure);
}

inline std::string random_suffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

/// A database of its own on a server, dropped on destruction (so tests running in parallel
/// share neither rows nor notifications).
class TempDatabase {
 public:
  explicit TempDatabase(std::string url = server_url())
      : url_(std::move(url)), name_("switchyard_test_" + random_suffix()) {
    exec_sql(url_, "CREATE DATABASE " + name_);
  }
  ~TempDatabase() {
    try {
      exec_sql(url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // The server may be gone (a test stopped it); nothing to clean up then.
    }
  }
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;

  const std::string& name() const { return name_; }
  /// keyword=value connection string of this database.
  std::string conninfo() const { return with_database(url_, name_); }

 private:
  std::string url_;
  std::string name_;
};

/// A second throwaway server (pg_server.sh) that a test may stop and start again.
class ThrowawayServer {
 public:
  ThrowawayServer() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/switchyard-pg.XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    dir_ = pattern;
    start();
  }
  ~ThrowawayServer() { (void)std::system(command("destroy").c_str()); }
  ThrowawayServer(const ThrowawayServer&) = delete;
  ThrowawayServer& operator=(const ThrowawayServer&) = delete;

  /// pg_server.sh start: returns once the server accepts connections (pg_ctl -w).
  void start() { run("start"); }
  /// pg_server.sh stop (fast shutdown: open sessions are cut off).
  void stop() { run("stop"); }
  std::string url() const { return "postgresql:///postgres?host=" + dir_ + "&user=postgres"; }

 private:
  std::string command(const std::string& verb) const {
    return std::string("bash '") + SWITCHYARD_PG_SERVER_SCRIPT + "' " + verb + " '" + dir_ + "'";
  }
  void run(const std::string& verb) {
    if (std::system(command(verb).c_str()) != 0) {
      throw std::runtime_error("pg_server.sh " + verb + " " + dir_ + " failed");
    }
  }
  std::string dir_;
};

}  // namespace switchyard::pg_test
