// SPDX-License-Identifier: Apache-2.0
// Rollout state in the registry store: rollout rows and leases in both stores, written in the same
// transaction as a stage transition (or not at all), aliases moved by a transition, the Staging ->
// Production gate's load check and owner sign-off, a version 3 SQLite store migrated to version 4
// keeping every row, and rollout rows written behind the store's back read as CorruptStore.
#include <switchyard/registry/rollout_lease.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/serialization.hpp>

#include "support/raw_db.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace rollout_state_store_test {

using namespace std::chrono_literals;
using testing::RawDb;

constexpr const char* kModel = "fraud-detection";

RolloutRecord sample_record(std::string deployment = kModel) {
  RolloutRecord r;
  r.deployment = std::move(deployment);
  r.model = kModel;
  r.stable_version = 3;
  r.candidate_version = 4;
  r.plan_json = R"({"rollout": {"name": "fraud-detection", "steps": [{"set_weight": 5}]}})";
  r.status = RolloutStatus::kRunning;
  r.step = 2;
  r.started_at = from_unix_nanos(1'700'000'000'000'000'000);
  r.step_started_at = from_unix_nanos(1'700'000'060'000'000'000);
  r.updated_at = from_unix_nanos(1'700'000'061'000'000'000);
  r.weights = {{"stable", 95.0}, {"canary", 5.0}};
  r.failures = 1;
  r.consecutive_failures = 0;
  r.revision = 7;
  r.decisions = {{r.started_at, 0, "start", "controller-a", "plan loaded"},
                 {r.step_started_at, 1, "advance", "controller-a", "analysis passed: score 100"}};
  return r;
}

struct SqliteBackend {
  testing::RegistryFixture f;
  ModelRegistry& registry() { return *f.registry; }
  RegistryStore& store() { return *f.store; }
  ManualClock& clock() { return f.clock; }
  void reopen() { f.reopen(); }
};

struct InMemoryBackend {
  testing::TempDir dir;
  ManualClock clock_;
  std::shared_ptr<InMemoryRegistryStore> data = std::make_shared<InMemoryRegistryStore>();
  std::unique_ptr<InMemoryRegistryStore> connection = data->connect();
  ArtifactStore artifacts{dir.path() / "artifacts"};
  std::unique_ptr<ModelRegistry> r = make();

  std::unique_ptr<ModelRegistry> make() {
    return std::make_unique<ModelRegistry>(ModelRegistry::Options{
        .store = connection.get(), .artifacts = &artifacts, .clock = &clock_});
  }
  ModelRegistry& registry() { return *r; }
  RegistryStore& store() { return *connection; }
  ManualClock& clock() { return clock_; }
  void reopen() {
    r.reset();
    connection = data->connect();
    r = make();
  }
};

template <class Backend>
class RolloutStateStoreTest : public ::testing::Test {
 protected:
  std::int64_t add(double seed, const std::string& owner = "alice, bob") {
    VersionMetadata m;
    m.metrics = {{"auc", 0.9}};
    m.owner = owner;
    return b.registry()
        .register_version(kModel, testing::logistic_artifact(seed), m, {.actor = "ci"})
        ->version;
  }
  std::int64_t add_staging(double seed, const std::string& owner = "alice, bob") {
    const auto v = add(seed, owner);
    b.registry().transition(kModel, v, Stage::kStaging, {.actor = "ci"});
    return v;
  }
  Backend b;
};

using Backends = ::testing::Types<SqliteBackend, InMemoryBackend>;
TYPED_TEST_SUITE(RolloutStateStoreTest, Backends);

TYPED_TEST(RolloutStateStoreTest, a_rollout_row_is_kept_only_once_committed) {
  RegistryStore& store = this->b.store();
  EXPECT_FALSE(store.load_rollout(kModel));
  {
    auto tx = store.begin();
    tx->put_rollout(sample_record());
    EXPECT_EQ(tx->find_rollout(kModel), sample_record()) << "a transaction reads its own write";
    // destroyed without commit
  }
  EXPECT_FALSE(store.load_rollout(kModel));
  auto tx = store.begin();
  tx->put_rollout(sample_record());
  tx->put_rollout(sample_record("other-deployment"));
  tx->commit();
  EXPECT_EQ(store.load_rollout(kModel), sample_record());
  this->b.reopen();
  EXPECT_EQ(this->b.store().load_rollout(kModel), sample_record());
  EXPECT_EQ(this->b.store().load_rollout("other-deployment"), sample_record("other-deployment"));

  RolloutRecord next = sample_record();
  next.step = 3;
  next.revision = 8;
  next.status = RolloutStatus::kPaused;
  auto tx2 = this->b.store().begin();
  tx2->put_rollout(next);
  tx2->commit();
  EXPECT_EQ(this->b.store().load_rollout(kModel), next) << "replaced, not duplicated";
}

TYPED_TEST(RolloutStateStoreTest, malformed_rollout_rows_are_refused_and_change_nothing) {
  auto tx = this->b.store().begin();
  RolloutRecord no_key = sample_record();
  no_key.deployment.clear();
  EXPECT_THROW(tx->put_rollout(no_key), InvalidArgument);
  RolloutRecord nan_weight = sample_record();
  nan_weight.weights["canary"] = std::numeric_limits<double>::quiet_NaN();
  try {
    tx->put_rollout(nan_weight);
    FAIL() << "a NaN weight was stored";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("weights.canary"), std::string::npos) << e.what();
  }
  RolloutRecord nul = sample_record();
  nul.decisions[0].reason = std::string("a\0b", 3);
  EXPECT_THROW(tx->put_rollout(nul), InvalidArgument);
  EXPECT_THROW(tx->put_lease({kModel, "", from_unix_nanos(1), 1}), InvalidArgument);
  tx->commit();
  EXPECT_FALSE(this->b.store().load_rollout(kModel));
}

TYPED_TEST(RolloutStateStoreTest, one_controller_holds_the_lease_until_it_expires) {
  RegistryStore& store = this->b.store();
  const TimePoint t0 = from_unix_nanos(1'700'000'000'000'000'000);
  const RolloutLease a = acquire_rollout_lease(store, kModel, "controller-a", t0, 30s);
  EXPECT_EQ(a, (RolloutLease{kModel, "controller-a", t0 + 30s, 1}));
  try {
    (void)acquire_rollout_lease(store, kModel, "controller-b", t0 + 10s, 30s);
    FAIL() << "a second controller took a held lease";
  } catch (const LeaseHeld& e) {
    EXPECT_EQ(e.holder(), "controller-a");
    EXPECT_EQ(e.expires_at(), t0 + 30s);
    EXPECT_EQ(e.code(), ErrorCode::kLeaseHeld);
    EXPECT_NE(std::string(e.what()).find("'controller-a'"), std::string::npos) << e.what();
  }
  // The holder renews and keeps its token.
  const RolloutLease renewed = acquire_rollout_lease(store, kModel, "controller-a", t0 + 20s, 30s);
  EXPECT_EQ(renewed.token, 1);
  EXPECT_EQ(renewed.expires_at, t0 + 50s);
  {
    auto tx = store.begin();
    EXPECT_NO_THROW(require_rollout_lease(*tx, renewed, t0 + 49s));
    EXPECT_THROW(require_rollout_lease(*tx, renewed, t0 + 50s), LeaseHeld) << "expired";
    // An expired lease nobody took over is still its holder's to renew.
    EXPECT_EQ(renew_rollout_lease(*tx, renewed, t0 + 50s, 30s).expires_at, t0 + 80s);
  }
  // Expired: another controller takes over with a larger token, which fences the first one out.
  const RolloutLease taken = acquire_rollout_lease(store, kModel, "controller-b", t0 + 50s, 30s);
  EXPECT_EQ(taken.token, 2);
  {
    auto tx = store.begin();
    try {
      require_rollout_lease(*tx, renewed, t0 + 51s);
      FAIL() << "the fenced-out controller may still write";
    } catch (const LeaseHeld& e) {
      EXPECT_EQ(e.holder(), "controller-b");
    }
    EXPECT_NO_THROW(require_rollout_lease(*tx, taken, t0 + 51s));
    EXPECT_THROW((void)renew_rollout_lease(*tx, renewed, t0 + 51s, 30s), LeaseHeld);
  }
  EXPECT_FALSE(release_rollout_lease(store, renewed)) << "only the holder releases";
  EXPECT_TRUE(release_rollout_lease(store, taken));
  const RolloutLease c = acquire_rollout_lease(store, kModel, "controller-c", t0 + 52s, 30s);
  EXPECT_EQ(c.token, 1) << "a released lease starts over (the row is gone)";
  EXPECT_THROW((void)acquire_rollout_lease(store, kModel, "controller-d", t0, 0s), InvalidArgument);
}

TYPED_TEST(RolloutStateStoreTest, rollout_state_commits_with_the_transition_or_not_at_all) {
  const auto v = this->add_staging(1.0);
  RolloutRecord promoted = sample_record();
  promoted.candidate_version = v;
  promoted.status = RolloutStatus::kPromoted;
  // A hook that fails aborts the whole transition.
  EXPECT_THROW(this->b.registry().transition(
                   kModel, v, Stage::kProduction,
                   {.actor = "controller",
                    .move_aliases = {"champion"},
                    .in_transaction =
                        [&](RegistryTransaction& tx) {
                          tx.put_rollout(promoted);
                          throw LeaseHeld("lost the lease", "other", TimePoint{});
                        }}),
               LeaseHeld);
  EXPECT_EQ(this->b.registry().get(kModel, v)->stage, Stage::kStaging);
  EXPECT_TRUE(this->b.registry().aliases(kModel).empty());
  EXPECT_FALSE(this->b.store().load_rollout(kModel));
  const auto rows = this->b.registry().history(kModel).size();

  this->b.registry().transition(kModel, v, Stage::kProduction,
                                {.actor = "controller",
                                 .reason = "canary completed",
                                 .move_aliases = {"champion"},
                                 .in_transaction = [&](RegistryTransaction& tx) {
                                   tx.put_rollout(promoted);
                                 }});
  EXPECT_EQ(this->b.registry().get(kModel, v)->stage, Stage::kProduction);
  EXPECT_EQ(this->b.registry().by_alias(kModel, "champion")->version, v);
  EXPECT_EQ(this->b.store().load_rollout(kModel), promoted);
  const auto history = this->b.registry().history(kModel);
  ASSERT_EQ(history.size(), rows + 2);
  EXPECT_EQ(history[rows].action, "transition");
  EXPECT_EQ(history[rows + 1].action, "alias");
  EXPECT_EQ(history[rows + 1].alias, "champion");
  this->b.reopen();
  EXPECT_EQ(this->b.registry().by_alias(kModel, "champion")->version, v);
  EXPECT_EQ(this->b.store().load_rollout(kModel), promoted);

  // A rejection moves no alias.
  const auto w = this->add_staging(2.0);
  EXPECT_THROW(this->b.registry().transition(kModel, w, Stage::kRejected,
                                             {.move_aliases = {"champion"}}),
               InvalidArgument);
  EXPECT_THROW(this->b.registry().transition(kModel, w, Stage::kProduction,
                                             {.move_aliases = {"Production"}}),
               InvalidArgument);
  EXPECT_EQ(this->b.registry().get(kModel, w)->stage, Stage::kStaging);
}

// Seed 003: "Staging -> Production requires a successful shadow deployment or A/B test, load
// testing, and sign-off from the model owner."
TYPED_TEST(RolloutStateStoreTest, the_production_gate_wants_evidence_a_load_check_and_an_owner) {
  ModelRegistry& r = this->b.registry();
  r.set_promotion_policy(kModel, {.require_any_of = {"shadow", "ab_test", "canary"},
                                  .require_all_of = {"load_test"},
                                  .require_owner_sign_off = true});
  const auto v = this->add_staging(1.0, "alice, bob");
  const PromotionEvidence canary{.kind = "canary", .passed = true, .summary = "5-25-50-100 %"};
  const PromotionEvidence load{.kind = "load_test", .passed = true, .summary = "2k rps, p99 41ms"};
  const PromotionEvidence by_carol{
      .kind = "sign_off", .passed = true, .summary = "looks good", .actor = "carol"};
  const PromotionEvidence by_bob{
      .kind = "sign_off", .passed = true, .summary = "approved", .actor = "bob"};
  try {
    r.transition(kModel, v, Stage::kProduction, {.evidence = {canary, by_carol}});
    FAIL() << "promoted without a load check or an owner's sign-off";
  } catch (const InvalidTransition& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("passed evidence of kind 'load_test'"), std::string::npos) << m;
    EXPECT_NE(m.find("whose actor is one of the owners (alice, bob)"), std::string::npos) << m;
    EXPECT_NE(m.find("sign_off by carol (passed)"), std::string::npos) << m;
  }
  EXPECT_THROW(r.transition(kModel, v, Stage::kProduction, {.evidence = {load, by_bob}}),
               InvalidTransition);
  EXPECT_EQ(r.get(kModel, v)->stage, Stage::kStaging);
  r.transition(kModel, v, Stage::kProduction,
               {.actor = "bob", .evidence = {canary, load, by_bob}});
  this->b.reopen();
  const auto row = this->b.registry().history(kModel).back();
  EXPECT_EQ(row.to_stage, Stage::kProduction);
  EXPECT_EQ(row.evidence, (std::vector<PromotionEvidence>{canary, load, by_bob}))
      << "every piece, the signer included, is in the audit trail";
  EXPECT_EQ(owners_of(" alice,bob ,, carol"), (std::vector<std::string>{"alice", "bob", "carol"}));
}

TEST(RolloutRecordJson, round_trips_and_names_what_is_wrong) {
  const RolloutRecord r = sample_record();
  EXPECT_EQ(from_json<RolloutRecord>(to_json(r)), r);
  EXPECT_EQ(from_json<RolloutRecord>(to_json(r, JsonStyle::kCompact)), r);
  std::string bad = to_json(r);
  bad.replace(bad.find("\"running\""), 9, "\"sideways\"");
  try {
    (void)from_json<RolloutRecord>(bad);
    FAIL() << "an unknown status was read";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown rollout status 'sideways'"), std::string::npos)
        << e.what();
  }
  for (auto s : {RolloutStatus::kRunning, RolloutStatus::kPaused, RolloutStatus::kPromoted,
                 RolloutStatus::kRolledBack, RolloutStatus::kAborted}) {
    EXPECT_EQ(rollout_status_from_string(to_string(s)), s);
  }
  EXPECT_TRUE(is_final(RolloutStatus::kRolledBack));
  EXPECT_FALSE(is_final(RolloutStatus::kPaused));
}

TEST(RolloutStateSqlite, a_version_3_store_gains_rollouts_leases_and_signers_keeping_its_rows) {
  testing::RegistryFixture f;
  f.add_production(kModel, 0.9, 1);
  const auto v = f.add(kModel, 0.91, 2);
  f.registry->transition(kModel, v, Stage::kStaging);
  f.registry->transition(
      kModel, v, Stage::kProduction,
      {.evidence = {{.kind = "shadow", .passed = true, .summary = "7 days"}}});
  const std::string before = f.registry->export_json();
  f.registry.reset();
  f.store.reset();
  {
    RawDb raw(f.db_path());
    testing::downgrade_schema(raw, 3);
  }
  f.reopen();
  EXPECT_EQ(RawDb(f.db_path()).text("PRAGMA user_version"),
            std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(RawDb(f.db_path()).text("SELECT count(*) FROM rollouts"), "0");
  EXPECT_EQ(RawDb(f.db_path()).text("SELECT actor FROM audit_evidence"), "")
      << "evidence written before version 4 was signed by nobody";
  EXPECT_EQ(f.registry->export_json(), before) << "every row kept";
  auto tx = f.store->begin();
  tx->put_rollout(sample_record());
  tx->commit();
  f.reopen();  // opening the migrated store again migrates nothing
  EXPECT_EQ(f.store->load_rollout(kModel), sample_record());
}

TEST(RolloutStateSqlite, rollout_rows_written_behind_the_stores_back_are_corrupt_store) {
  testing::RegistryFixture f;
  auto tx = f.store->begin();
  tx->put_rollout(sample_record());
  tx->put_lease({kModel, "controller-a", from_unix_nanos(5), 1});
  tx->commit();
  auto expect_corrupt = [&](const std::string& sql, const std::string& needle) {
    SCOPED_TRACE(sql);
    f.store.reset();
    f.registry.reset();
    {
      RawDb raw(f.db_path());
      raw.exec("UPDATE rollouts SET record = '" + to_json(sample_record(), JsonStyle::kCompact) +
               "', deployment = 'fraud-detection'");
      raw.exec("UPDATE rollout_leases SET token = 1");
      raw.exec(sql);
    }
    f.reopen();
    try {
      (void)f.store->load_rollout(kModel);
      auto t = f.store->begin();
      (void)t->find_lease(kModel);
      FAIL() << "read a damaged row";
    } catch (const CorruptStore& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_corrupt("UPDATE rollouts SET record = 'not json'",
                 "rollouts row (deployment 'fraud-detection'): column 'record'");
  expect_corrupt("UPDATE rollouts SET record = replace(record, '\"fraud-detection\",\"model\"', "
                 "'\"other\",\"model\"')",
                 "names deployment 'other'");
  expect_corrupt("UPDATE rollout_leases SET token = 0", "rollout_leases row");
}

}  // namespace rollout_state_store_test
}  // namespace
}  // namespace switchyard
