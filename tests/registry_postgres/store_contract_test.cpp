// SPDX-License-Identifier: Apache-2.0
// The RegistryStore contract (registry/store_contract.hpp) run against PostgresRegistryStore: each
// test on a database of its own on the fixture's throwaway server; a second store object on the
// same database stands in for another replica.
#include <switchyard/registry/postgres_registry_store.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "registry/store_contract.hpp"
#include "registry_postgres/pg_support.hpp"

namespace switchyard {
namespace {

struct PostgresStores {
  pg_test::TempDatabase db;
  std::unique_ptr<RegistryStore> open(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(50)) {
    return std::make_unique<PostgresRegistryStore>(
        PostgresRegistryStore::Options{.conninfo = db.conninfo(), .busy_timeout = timeout});
  }
  static std::pair<std::vector<std::string>, StoreState> load_changes(RegistryStore& s,
                                                                      std::int64_t sequence) {
    return s.load_changes_since(sequence);
  }
};

}  // namespace

namespace store_contract {
// In the suite's namespace, as GoogleTest requires.
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, RegistryStoreContractTest,
                               ::testing::Types<PostgresStores>);
}  // namespace store_contract
}  // namespace switchyard
