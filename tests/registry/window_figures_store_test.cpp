// SPDX-License-Identifier: Apache-2.0
// The rollout_window_figures table (schema version 5) in the SQLite store: a version 4 store gains
// it keeping every row, and rows written behind the store's back are CorruptStore naming the row.
// The behaviour every store shares is in the contract suite (store_contract.hpp).
#include <switchyard/registry/sqlite_registry_store.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/raw_db.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace window_figures_store_test {

using testing::RawDb;

WindowFigures figures(std::int64_t window, const std::string& replica) {
  return {"fraud-detection", window, replica, from_unix_nanos(1'700'000'000'000'000'000),
          std::string("figures\0of ", 11) + replica};
}

TEST(WindowFiguresSqlite, a_version_4_store_gains_the_table_keeping_its_rows) {
  testing::RegistryFixture f;
  f.add_production("fraud-detection", 0.9, 1);
  {
    auto tx = f.store->begin();
    tx->put_rollout({.deployment = "fraud-detection", .model = "fraud-detection"});
    tx->commit();
  }
  const std::string before = f.registry->export_json();
  const auto rollout = f.store->load_rollout("fraud-detection");
  f.registry.reset();
  f.store.reset();
  {
    RawDb raw(f.db_path());
    testing::downgrade_schema(raw, 4);
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name = 'rollout_window_figures'"),
              "0");
  }
  f.reopen();
  EXPECT_EQ(RawDb(f.db_path()).text("PRAGMA user_version"), "5");
  EXPECT_EQ(RawDb(f.db_path()).text("SELECT count(*) FROM rollout_window_figures"), "0");
  EXPECT_EQ(f.registry->export_json(), before) << "every row kept";
  EXPECT_EQ(f.store->load_rollout("fraud-detection"), rollout);
  {
    auto tx = f.store->begin();
    tx->put_window_figures(figures(3, "b"));
    tx->commit();
  }
  f.reopen();  // opening the migrated store again migrates nothing
  EXPECT_EQ(f.store->load_window_figures("fraud-detection", 0, 9),
            (std::vector<WindowFigures>{figures(3, "b")}));
}

TEST(WindowFiguresSqlite, rows_written_behind_the_stores_back_are_corrupt_store_naming_them) {
  testing::RegistryFixture f;
  {
    auto tx = f.store->begin();
    tx->put_window_figures(figures(1, "a"));
    tx->commit();
  }
  const struct {
    const char* sql;
    const char* expected;
  } cases[] = {
      {"UPDATE rollout_window_figures SET figures = 'text'", "column 'figures' holds text"},
      {"UPDATE rollout_window_figures SET window_index = -4", "column 'window_index' holds -4"},
      {"UPDATE rollout_window_figures SET replica = ''", "column 'replica' is empty"},
      {"UPDATE rollout_window_figures SET written_at_ns = 'soon'",
       "column 'written_at_ns' holds text"},
  };
  for (const auto& c : cases) {
    f.registry.reset();
    f.store.reset();
    {
      RawDb raw(f.db_path());
      raw.exec("DELETE FROM rollout_window_figures");
      raw.exec("INSERT INTO rollout_window_figures VALUES ('fraud-detection', 1, 'a', 5, x'00')");
      raw.exec(c.sql);
    }
    f.reopen();
    try {
      (void)f.store->load_window_figures("fraud-detection", -10, 10);
      ADD_FAILURE() << "read a damaged row: " << c.sql;
    } catch (const CorruptStore& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("rollout_window_figures row (rollout 'fraud-detection'"),
                std::string::npos)
          << what;
      EXPECT_NE(what.find(c.expected), std::string::npos) << what;
    }
  }
}

}  // namespace window_figures_store_test
}  // namespace
}  // namespace switchyard
