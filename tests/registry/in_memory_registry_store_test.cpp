// SPDX-License-Identifier: Apache-2.0
// The RegistryStore contract (registry/store_contract.hpp) run against InMemoryRegistryStore and
// SqliteRegistryStore, plus what only the in-memory store has. SQLite-only behaviour (files,
// processes, corruption) is in sqlite_registry_store_test.cpp; the PostgreSQL store runs the same
// contract in registry_postgres_tests.
#include <switchyard/registry/in_memory_registry_store.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <switchyard/registry/sqlite_registry_store.hpp>

#include "registry/store_contract.hpp"

namespace switchyard {
namespace {
namespace in_memory_registry_store_test {

using store_contract::make_audit;
using store_contract::make_version;

using std::chrono::milliseconds;

// Each factory opens connections to one shared store: a second connection stands in for another
// process (SQLite: another store object on the same file).
// Writers wait `timeout` for each other: short, so that tests of the timeout stay fast.
struct InMemoryStores {
  std::shared_ptr<InMemoryRegistryStore> first;
  std::unique_ptr<RegistryStore> open(milliseconds timeout = milliseconds(50)) {
    if (!first) {
      first = std::make_shared<InMemoryRegistryStore>(
          InMemoryRegistryStore::Options{.name = "contract", .busy_timeout = timeout});
    }
    return first->connect();
  }
  static std::pair<std::vector<std::string>, StoreState> load_changes(RegistryStore& s,
                                                                      std::int64_t sequence) {
    return static_cast<InMemoryRegistryStore&>(s).load_changes_since(sequence);
  }
};

struct SqliteStores {
  std::filesystem::path dir = [] {
    std::random_device rd;
    auto p = std::filesystem::temp_directory_path() /
             ("switchyard-contract-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(p);
    return p;
  }();
  ~SqliteStores() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::unique_ptr<RegistryStore> open(milliseconds timeout = milliseconds(50)) {
    return std::make_unique<SqliteRegistryStore>(SqliteRegistryStore::Options{
        .path = (dir / "registry.db").string(), .busy_timeout = timeout});
  }
  static std::pair<std::vector<std::string>, StoreState> load_changes(RegistryStore& s,
                                                                      std::int64_t sequence) {
    return static_cast<SqliteRegistryStore&>(s).load_changes_since(sequence);
  }
};

// ---- in-memory only ---------------------------------------------------------------------------

TEST(InMemoryRegistryStoreTest, data_lives_while_any_connection_does) {
  auto first = std::make_unique<InMemoryRegistryStore>();
  auto second = first->connect();
  {
    auto tx = first->begin();
    tx->insert_version(make_version("m", 1));
    tx->commit();
  }
  first.reset();
  EXPECT_EQ(second->load().versions.size(), 1u);
  EXPECT_EQ(second->describe(), "memory:registry");
}

TEST(InMemoryRegistryStoreTest, a_new_connection_does_not_report_earlier_commits) {
  InMemoryRegistryStore store;
  {
    auto tx = store.begin();
    tx->insert_version(make_version("m", 1));
    tx->commit();
  }
  auto late = store.connect();
  EXPECT_FALSE(late->may_have_changed());
}

TEST(InMemoryRegistryStoreTest, loads_are_copies_unaffected_by_later_commits) {
  InMemoryRegistryStore store;
  {
    auto tx = store.begin();
    tx->insert_version(make_version("m", 1));
    tx->commit();
  }
  const StoreState before = store.load();
  {
    auto tx = store.begin();
    tx->update_version(make_version("m", 1, Stage::kRejected));
    tx->commit();
  }
  EXPECT_EQ(before.versions[0].stage, Stage::kDevelopment);
  EXPECT_EQ(store.load().versions[0].stage, Stage::kRejected);
}

}  // namespace in_memory_registry_store_test
}  // namespace

namespace store_contract {
// In the suite's namespace, as GoogleTest requires.
using LocalStores = ::testing::Types<in_memory_registry_store_test::InMemoryStores,
                                     in_memory_registry_store_test::SqliteStores>;
INSTANTIATE_TYPED_TEST_SUITE_P(Local, RegistryStoreContractTest, LocalStores);
}  // namespace store_contract
}  // namespace switchyard
