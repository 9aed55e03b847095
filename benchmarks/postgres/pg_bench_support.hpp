// SPDX-License-Identifier: Apache-2.0
// What the PostgreSQL benchmarks share: raw SQL on a connection of its own, and a database of the
// server SWITCHYARD_PG_URL names.
#pragma once

#include <libpq-fe.h>

#include <stdexcept>
#include <string>

namespace switchyard::bench_pg {

/// Runs `sql` on a connection of its own; throws std::runtime_error with the server's message.
inline void exec(const std::string& conninfo, const std::string& sql) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string error;
  if (PQstatus(c) != CONNECTION_OK) {
    error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  if (!error.empty()) throw std::runtime_error(sql + ": " + error);
}

/// The same server as `url` (host, port and user as libpq resolved them), database `dbname`.
inline std::string conninfo_for(const std::string& url, const std::string& dbname) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string error = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("cannot connect to SWITCHYARD_PG_URL: " + error);
  }
  const std::string out = std::string("host=") + PQhost(c) + " port=" + PQport(c) +
                          " user=" + PQuser(c) + " dbname=" + dbname;
  PQfinish(c);
  return out;
}

}  // namespace switchyard::bench_pg
