// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of detail/postgres_schema.hpp: naming the server without credentials, and
// creating or migrating the schema when a store opens. Included by postgres_registry_store-inl.hpp
// only.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <switchyard/core/error.hpp>
#include <switchyard/registry/detail/postgres_connection.hpp>
#include <switchyard/registry/detail/postgres_schema.hpp>

namespace switchyard::detail::postgres {

/// `postgresql://host:port/dbname` from a conninfo, without user or password (libpq's defaults
/// fill what it leaves out). A Unix socket directory as host is percent-encoded.
inline std::string describe_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
  if (!parsed) {
    std::string message = error ? error : "out of memory";
    PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw InvalidArgument("PostgresRegistryStore: the connection string is not valid: " + message);
  }
  PQconninfoOption* defaults = PQconndefaults();
  auto value = [&](const char* keyword) -> std::string {
    for (PQconninfoOption* o = parsed; o->keyword; ++o) {
      if (std::string_view(o->keyword) == keyword && o->val && *o->val) return o->val;
    }
    for (PQconninfoOption* o = defaults; o && o->keyword; ++o) {
      if (std::string_view(o->keyword) == keyword && o->val && *o->val) return o->val;
    }
    return "";
  };
  std::string host = value("host");
  if (host.empty()) host = value("hostaddr");
  std::string port = value("port");
  std::string db = value("dbname");
  if (db.empty()) db = value("user");
  PQconninfoFree(parsed);
  if (defaults) PQconninfoFree(defaults);
  if (host.empty()) host = "localhost";
  if (port.empty()) port = "5432";
  std::string encoded;
  for (char ch : host) {
    if (ch == '/') {
      encoded += "%2F";
    } else {
      encoded += ch;
    }
  }
  return "postgresql://" + encoded + ":" + port + "/" + db;
}

/// Creates or migrates the schema of the database `c` is connected to, under the writer lock, in
/// one transaction; checks every table the store reads. Throws SchemaTooNew for a newer schema
/// and CorruptStore for tables that are not Switchyard's.
inline void open_schema(Connection& c) {
  c.exec("BEGIN ISOLATION LEVEL READ COMMITTED", "beginning the schema check");
  try {
    Params lock;
    lock.integer(kPostgresWriterLockKey);
    c.run(kLockWriters, lock, "waiting for the writer lock to check the schema");
    ResultPtr exists = c.run(kSchemaTableExists, "looking for the schema table");
    const bool has_schema = std::string_view(PQgetvalue(exists.get(), 0, 0)) == "t";
    const bool has_tables = std::string_view(PQgetvalue(exists.get(), 0, 1)) == "t";
    std::int64_t from = 0;
    if (has_schema) {
      ResultPtr r = c.run(kReadSchema, "reading the schema version");
      if (PQntuples(r.get()) != 1) {
        throw CorruptStore(c.where() + ": switchyard_schema holds " +
                           std::to_string(PQntuples(r.get())) + " rows, expected 1");
      }
      RowReader row(r.get(), 0, c.where(),
                    [](const PGresult*, int) { return std::string("switchyard_schema row"); });
      if (row.text(0, "application") != "switchyard") {
        row.corrupt("application", "does not name Switchyard");
      }
      from = row.integer(1, "version");
      if (from > kPostgresSchemaVersion) {
        throw SchemaTooNew(c.where() + ": the store has schema version " + std::to_string(from) +
                           " but this Switchyard understands versions up to " +
                           std::to_string(kPostgresSchemaVersion) +
                           "; upgrade Switchyard to open it");
      }
      if (from < 0) row.corrupt("version", "holds " + std::to_string(from));
    } else if (has_tables) {
      throw CorruptStore(c.where() +
                         ": not a Switchyard registry store: the database has a model_versions "
                         "table but no switchyard_schema table");
    } else {
      c.exec(kCreateSchemaTable, "creating the schema table");
      Params p;
      p.integer(0);
      c.run(kInsertSchema, p, "recording schema version 0");
    }
    for (const auto& m : kMigrations) {
      if (m.version <= from) continue;
      c.exec(m.sql, "migrating the schema to version " + std::to_string(m.version));
      Params p;
      p.integer(m.version);
      c.run(kUpdateSchema, p, "recording schema version " + std::to_string(m.version));
    }
    for (const char* sql : kCheckSchema) c.exec(sql, "checking the schema");
    c.exec("COMMIT", "committing the schema");
  } catch (...) {
    c.rollback();
    throw;
  }
}

}  // namespace switchyard::detail::postgres
