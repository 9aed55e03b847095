// SPDX-License-Identifier: Apache-2.0
// The RegistryStore contract: a type-parameterised GoogleTest suite every store implementation
// passes. A test binary instantiates it with its store factories, e.g.
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, RegistryStoreContractTest, ::testing::Types<...>);
// A factory has `std::unique_ptr<RegistryStore> open(std::chrono::milliseconds timeout = 50ms)`,
// each call a new connection to one shared store (standing in for another process), and
// `static load_changes(RegistryStore&, std::int64_t)`. registry_tests runs it on the in-memory and
// SQLite stores, registry_postgres_tests on PostgreSQL.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <switchyard/registry/registry_store.hpp>

namespace switchyard::store_contract {

using std::chrono::milliseconds;

ModelVersion make_version(const std::string& name, std::int64_t version,
                          Stage stage = Stage::kDevelopment) {
  ModelVersion v;
  v.name = name;
  v.version = version;
  v.stage = stage;
  v.semver = "1." + std::to_string(version) + ".0";
  v.run_id = "run-" + std::to_string(version);
  v.metrics = {{"auc", 0.5 + 0.01 * static_cast<double>(version)}};
  v.signature.inputs = {{"x", DType::kFloat64, {-1, 3}}};
  v.tags = {{"team", "risk"}};
  v.created_at = from_unix_nanos(1'700'000'000'000'000'000 + version);
  v.stage_changed_at = v.created_at;
  v.artifact = {"switchyard.linear", std::string(64, 'b'), 123, "sha256/bb/x"};
  return v;
}

AuditRecord make_audit(const std::string& model, std::int64_t version, const std::string& action,
                       std::int64_t at_ns = 1'700'000'000'000'000'000) {
  AuditRecord r;
  r.at = from_unix_nanos(at_ns);
  r.actor = "tester";
  r.model = model;
  r.version = version;
  r.action = action;
  r.to_stage = Stage::kDevelopment;
  return r;
}

template <class Stores>
class RegistryStoreContractTest : public ::testing::Test {
 protected:
  Stores stores_;
};

TYPED_TEST_SUITE_P(RegistryStoreContractTest);

TYPED_TEST_P(RegistryStoreContractTest, empty_store_loads_empty) {
  auto store = this->stores_.open();
  const StoreState s = store->load();
  EXPECT_TRUE(s.versions.empty());
  EXPECT_TRUE(s.aliases.empty());
  EXPECT_EQ(s.last_sequence, 0);
  EXPECT_EQ(store->changes_since(0), (std::pair<std::vector<std::string>, std::int64_t>{{}, 0}));
  EXPECT_TRUE(store->audit({}).empty());
}

TYPED_TEST_P(RegistryStoreContractTest, committed_writes_are_visible_everywhere_in_order) {
  auto a = this->stores_.open();
  auto b = this->stores_.open();
  {
    auto tx = a->begin();
    tx->insert_version(make_version("zeta", 1));
    tx->insert_version(make_version("alpha", 2, Stage::kStaging));
    tx->insert_version(make_version("alpha", 1));
    tx->set_alias({"alpha", "champion", 2});
    EXPECT_EQ(tx->append_audit(make_audit("alpha", 1, "register")), 1);
    EXPECT_EQ(tx->append_audit(make_audit("alpha", 2, "register")), 2);
    EXPECT_EQ(tx->append_audit(make_audit("zeta", 1, "register")), 3);
    tx->commit();
  }
  for (auto* store : {a.get(), b.get()}) {
    const StoreState s = store->load();
    ASSERT_EQ(s.versions.size(), 3u);
    EXPECT_EQ(s.versions[0], make_version("alpha", 1));
    EXPECT_EQ(s.versions[1], make_version("alpha", 2, Stage::kStaging));
    EXPECT_EQ(s.versions[2], make_version("zeta", 1));
    EXPECT_EQ(s.aliases, (std::vector<AliasRecord>{{"alpha", "champion", 2}}));
    EXPECT_EQ(s.last_sequence, 3);
    const auto audit = store->audit({});
    ASSERT_EQ(audit.size(), 3u);
    AuditRecord expected = make_audit("alpha", 2, "register");
    expected.sequence = 2;
    EXPECT_EQ(audit[1], expected);
  }
}

TYPED_TEST_P(RegistryStoreContractTest, uncommitted_transaction_changes_nothing) {
  auto store = this->stores_.open();
  {
    auto tx = store->begin();
    tx->insert_version(make_version("m", 1));
    tx->set_alias({"m", "latest", 1});
    tx->append_audit(make_audit("m", 1, "register"));
    // destroyed without commit()
  }
  EXPECT_TRUE(store->load().versions.empty());
  EXPECT_TRUE(store->load().aliases.empty());
  EXPECT_TRUE(store->audit({}).empty());
  EXPECT_EQ(store->changes_since(0).second, 0);
  auto tx = store->begin();
  EXPECT_EQ(tx->max_version("m"), 0);
  EXPECT_FALSE(tx->find_version("m", 1));
  EXPECT_EQ(tx->append_audit(make_audit("m", 1, "register")), 1) << "sequence 1 was never used";
}

TYPED_TEST_P(RegistryStoreContractTest, artifacts_are_kept_with_their_transaction) {
  auto store = this->stores_.open();
  const std::string sha(64, 'a'), other(64, 'b');
  const std::string bytes("model\0bytes\xff", 12);  // binary, with a NUL inside
  {
    auto tx = store->begin();
    tx->put_artifact(sha, bytes);
    EXPECT_FALSE(store->read_artifact(sha)) << "visible before commit";
    // destroyed without commit()
  }
  EXPECT_FALSE(store->read_artifact(sha));
  {
    auto tx = store->begin();
    tx->put_artifact(sha, bytes);
    tx->put_artifact(other, "");
    tx->insert_version(make_version("m", 1));
    tx->commit();
  }
  EXPECT_EQ(store->read_artifact(sha), bytes);
  EXPECT_EQ(store->read_artifact(other), "");
  EXPECT_EQ(this->stores_.open()->read_artifact(sha), bytes) << "another connection";
  {
    auto tx = store->begin();  // the same key again replaces the row (how damage is repaired)
    tx->put_artifact(sha, "repaired");
    tx->commit();
  }
  EXPECT_EQ(store->read_artifact(sha), "repaired");
  EXPECT_THROW((void)store->read_artifact("../" + sha.substr(3)), InvalidArgument);
  auto tx = store->begin();
  EXPECT_THROW(tx->put_artifact(std::string(64, 'A'), bytes), InvalidArgument);
  EXPECT_THROW(tx->put_artifact(sha, std::string(kMaxStoreArtifactBytes + 1, 'x')),
               InvalidArgument);
}

TYPED_TEST_P(RegistryStoreContractTest, transaction_reads_its_own_writes_and_others_do_not) {
  auto store = this->stores_.open();
  auto other = this->stores_.open();
  {
    auto tx = store->begin();
    tx->insert_version(make_version("m", 1, Stage::kProduction));
    tx->commit();
  }
  auto tx = store->begin();
  tx->insert_version(make_version("m", 2, Stage::kStaging));
  EXPECT_EQ(tx->max_version("m"), 2);
  EXPECT_EQ(tx->find_version("m", 2), make_version("m", 2, Stage::kStaging));
  EXPECT_EQ(tx->versions_in_stage("m", Stage::kProduction), (std::vector<std::int64_t>{1}));
  ModelVersion demoted = make_version("m", 1, Stage::kArchived);
  demoted.description = "replaced by v2";
  tx->update_version(demoted);
  ModelVersion promoted = make_version("m", 2, Stage::kProduction);
  tx->update_version(promoted);
  EXPECT_EQ(tx->versions_in_stage("m", Stage::kProduction), (std::vector<std::int64_t>{2}));
  EXPECT_EQ(tx->versions_in_stage("m", Stage::kArchived), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(tx->find_version("m", 1), demoted);
  tx->set_alias({"m", "champion", 2});
  EXPECT_EQ(tx->find_alias("m", "champion"), 2);
  tx->set_alias({"m", "champion", 1});
  EXPECT_EQ(tx->find_alias("m", "champion"), 1);
  tx->remove_alias("m", "champion");
  EXPECT_FALSE(tx->find_alias("m", "champion"));
  tx->set_alias({"m", "latest", 2});
  tx->append_audit(make_audit("m", 2, "transition"));
  tx->append_audit(make_audit("other", 1, "register"));
  EXPECT_EQ(tx->history("m").size(), 1u);

  // Neither this store's reads nor another connection see any of it before commit.
  for (auto* s : {store.get(), other.get()}) {
    const StoreState before = s->load();
    ASSERT_EQ(before.versions.size(), 1u);
    EXPECT_EQ(before.versions[0].stage, Stage::kProduction);
    EXPECT_TRUE(before.aliases.empty());
    EXPECT_EQ(before.last_sequence, 0);
  }
  tx->commit();
  const StoreState after = other->load();
  ASSERT_EQ(after.versions.size(), 2u);
  EXPECT_EQ(after.versions[0], demoted);
  EXPECT_EQ(after.versions[1], promoted);
  EXPECT_EQ(after.aliases, (std::vector<AliasRecord>{{"m", "latest", 2}}));
  EXPECT_EQ(after.last_sequence, 2);
}

TYPED_TEST_P(RegistryStoreContractTest,
           collisions_and_missing_rows_throw_and_leave_the_transaction_usable) {
  auto store = this->stores_.open();
  auto tx = store->begin();
  tx->insert_version(make_version("m", 1));
  EXPECT_THROW(tx->insert_version(make_version("m", 1)), AlreadyExists);
  EXPECT_THROW(tx->update_version(make_version("m", 2)), NotFound);
  EXPECT_THROW(tx->set_alias({"m", "champion", 9}), NotFound);
  EXPECT_THROW(tx->set_alias({"nobody", "champion", 1}), NotFound);
  tx->remove_alias("m", "never-set");  // removing an absent alias does nothing
  tx->commit();
  EXPECT_EQ(store->load().versions.size(), 1u);

  auto tx2 = store->begin();
  EXPECT_THROW(tx2->insert_version(make_version("m", 1)), AlreadyExists) << "committed row";
}

TYPED_TEST_P(RegistryStoreContractTest, refuses_versions_it_could_not_store_faithfully) {
  auto store = this->stores_.open();
  auto tx = store->begin();
  ModelVersion v = make_version("m", 1);
  v.metrics["auc"] = std::nan("");
  EXPECT_THROW(tx->insert_version(v), InvalidArgument);
  EXPECT_THROW(tx->insert_version(make_version("", 1)), InvalidArgument);
  EXPECT_THROW(tx->insert_version(make_version("m", 0)), InvalidArgument);
  tx->insert_version(make_version("m", 1));
  tx->commit();
  EXPECT_EQ(store->load().versions.size(), 1u);
}

TYPED_TEST_P(RegistryStoreContractTest, max_version_is_the_highest_ever_assigned) {
  auto store = this->stores_.open();
  {
    auto tx = store->begin();
    EXPECT_EQ(tx->max_version("m"), 0);
    tx->insert_version(make_version("m", 3));
    tx->insert_version(make_version("m", 1));
    EXPECT_EQ(tx->max_version("m"), 3);
    EXPECT_EQ(tx->max_version("other"), 0);
    tx->commit();
  }
  auto tx = store->begin();
  EXPECT_EQ(tx->max_version("m"), 3);
}

TYPED_TEST_P(RegistryStoreContractTest, audit_queries_filter_and_limit_in_sequence_order) {
  auto store = this->stores_.open();
  {
    auto tx = store->begin();
    tx->insert_version(make_version("a", 1));
    tx->insert_version(make_version("b", 1));
    tx->append_audit(make_audit("a", 1, "register", 100));
    tx->append_audit(make_audit("b", 1, "register", 200));
    tx->commit();
  }
  {
    auto tx = store->begin();
    tx->insert_version(make_version("a", 2));
    tx->append_audit(make_audit("a", 2, "register", 300));
    tx->append_audit(make_audit("a", 1, "transition", 400));
    tx->commit();
  }
  auto sequences = [&](const AuditQuery& q) {
    std::vector<std::int64_t> out;
    for (const auto& r : store->audit(q)) out.push_back(r.sequence);
    return out;
  };
  using V = std::vector<std::int64_t>;
  EXPECT_EQ(sequences({}), (V{1, 2, 3, 4}));
  EXPECT_EQ(sequences({.model = "a"}), (V{1, 3, 4}));
  EXPECT_EQ(sequences({.model = "a", .version = 1}), (V{1, 4}));
  EXPECT_EQ(sequences({.version = 1}), (V{1, 2, 4}));
  EXPECT_EQ(sequences({.from = from_unix_nanos(200), .until = from_unix_nanos(300)}), (V{2, 3}));
  EXPECT_EQ(sequences({.after_sequence = 2}), (V{3, 4}));
  EXPECT_EQ(sequences({.model = "a", .limit = 2}), (V{1, 3}));
  EXPECT_EQ(sequences({.model = "nobody"}), V{});

  auto tx = store->begin();
  const auto history = tx->history("a");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[2].action, "transition");
  EXPECT_EQ(history[2].at, from_unix_nanos(400));
}

TYPED_TEST_P(RegistryStoreContractTest, changes_since_and_load_models_cover_what_changed) {
  auto store = this->stores_.open();
  {
    auto tx = store->begin();
    tx->insert_version(make_version("a", 1));
    tx->set_alias({"a", "latest", 1});
    tx->append_audit(make_audit("a", 1, "register"));
    tx->commit();
  }
  {
    auto tx = store->begin();
    tx->insert_version(make_version("b", 1));
    tx->insert_version(make_version("c", 1));
    tx->set_alias({"c", "latest", 1});
    tx->append_audit(make_audit("c", 1, "register"));
    tx->append_audit(make_audit("b", 1, "register"));
    tx->commit();
  }
  using Changes = std::pair<std::vector<std::string>, std::int64_t>;
  EXPECT_EQ(store->changes_since(0), (Changes{{"a", "b", "c"}, 3}));
  EXPECT_EQ(store->changes_since(1), (Changes{{"b", "c"}, 3}));
  EXPECT_EQ(store->changes_since(3), (Changes{{}, 3}));

  const StoreState s = store->load_models({"c", "a", "missing", "c"});
  ASSERT_EQ(s.versions.size(), 2u);
  EXPECT_EQ(s.versions[0].name, "a");
  EXPECT_EQ(s.versions[1].name, "c");
  EXPECT_EQ(s.aliases, (std::vector<AliasRecord>{{"a", "latest", 1}, {"c", "latest", 1}}));
  EXPECT_EQ(s.last_sequence, 3);

  // The same in one snapshot (proposed for the RegistryStore interface).
  const auto [models, image] = TypeParam::load_changes(*store, 1);
  EXPECT_EQ(models, (std::vector<std::string>{"b", "c"}));
  ASSERT_EQ(image.versions.size(), 2u);
  EXPECT_EQ(image.versions[0], make_version("b", 1));
  EXPECT_EQ(image.versions[1], make_version("c", 1));
  EXPECT_EQ(image.aliases, (std::vector<AliasRecord>{{"c", "latest", 1}}));
  EXPECT_EQ(image.last_sequence, 3);
  EXPECT_TRUE(TypeParam::load_changes(*store, 3).first.empty());
}

TYPED_TEST_P(RegistryStoreContractTest, may_have_changed_reports_other_connections_commits_only) {
  auto mine = this->stores_.open();
  auto theirs = this->stores_.open();
  EXPECT_FALSE(mine->may_have_changed()) << "nothing committed since it opened";
  {
    auto tx = mine->begin();
    tx->insert_version(make_version("m", 1));
    tx->commit();
  }
  EXPECT_FALSE(mine->may_have_changed()) << "its own commit";
  EXPECT_TRUE(theirs->may_have_changed());
  EXPECT_FALSE(theirs->may_have_changed()) << "already reported";
  {
    auto tx = theirs->begin();
    tx->insert_version(make_version("m", 2));
    tx->commit();
  }
  EXPECT_TRUE(mine->may_have_changed());
  EXPECT_FALSE(theirs->may_have_changed());
}

TYPED_TEST_P(RegistryStoreContractTest, second_writer_times_out_while_the_first_is_open) {
  auto a = this->stores_.open();
  auto b = this->stores_.open();
  auto tx = a->begin();
  tx->insert_version(make_version("m", 1));
  try {
    (void)b->begin();
    FAIL() << "second writer got in";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find(b->describe()), std::string::npos) << e.what();
  }
  tx->commit();
  auto tx2 = b->begin();  // free again
  EXPECT_EQ(tx2->max_version("m"), 1);
}

TYPED_TEST_P(RegistryStoreContractTest, same_thread_second_begin_fails_at_once) {
  auto store = this->stores_.open();
  auto tx = store->begin();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW((void)store->begin(), StorageError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(50))
      << "refused without waiting for the timeout";
  tx.reset();
  EXPECT_NO_THROW((void)store->begin());
}

TYPED_TEST_P(RegistryStoreContractTest, a_finished_transaction_refuses_further_use) {
  auto store = this->stores_.open();
  auto tx = store->begin();
  tx->insert_version(make_version("m", 1));
  tx->commit();
  EXPECT_THROW(tx->commit(), StorageError);
  EXPECT_THROW(tx->insert_version(make_version("m", 2)), StorageError);
  EXPECT_THROW((void)tx->max_version("m"), StorageError);
  EXPECT_EQ(store->load().versions.size(), 1u);
}

TYPED_TEST_P(RegistryStoreContractTest, concurrent_writers_never_share_a_version_number) {
  // Two connections (for SQLite: two store objects on one file), one thread each, each
  // registering 200 versions of one name as max_version + 1 inside its transaction.
  constexpr int kPerWriter = 200;
  // A writer waits for the other's commits: a timeout no busy machine reaches.
  const milliseconds patient(30'000);
  std::unique_ptr<RegistryStore> stores[2] = {this->stores_.open(patient),
                                              this->stores_.open(patient)};
  std::latch start(2);
  std::vector<std::string> failures[2];
  auto writer = [&](int w) {
    start.arrive_and_wait();
    for (int i = 0; i < kPerWriter; ++i) {
      try {
        auto tx = stores[w]->begin();
        ModelVersion v = make_version("shared", tx->max_version("shared") + 1);
        v.owner = "writer-" + std::to_string(w);
        tx->insert_version(v);
        tx->append_audit(make_audit("shared", v.version, "register"));
        tx->commit();
      } catch (const std::exception& e) {
        failures[w].push_back(e.what());
      }
    }
  };
  std::thread t0(writer, 0), t1(writer, 1);
  t0.join();
  t1.join();
  for (const auto& list : failures) {
    for (const auto& f : list) ADD_FAILURE() << f;
  }
  const StoreState s = stores[0]->load();
  std::set<std::int64_t> numbers;
  int by_writer[2] = {0, 0};
  for (const auto& v : s.versions) {
    numbers.insert(v.version);
    by_writer[v.owner == "writer-1"] += 1;
  }
  EXPECT_EQ(s.versions.size(), 2u * kPerWriter);
  EXPECT_EQ(numbers.size(), s.versions.size()) << "no version number twice";
  ASSERT_FALSE(numbers.empty());
  EXPECT_EQ(*numbers.begin(), 1);
  EXPECT_EQ(*numbers.rbegin(), 2 * kPerWriter) << "consecutive";
  EXPECT_EQ(s.last_sequence, 2 * kPerWriter);
  EXPECT_EQ(by_writer[0], kPerWriter);
  EXPECT_EQ(by_writer[1], kPerWriter);
}

WindowFigures make_figures(const std::string& rollout, std::int64_t window,
                           const std::string& replica) {
  // Binary, with a NUL inside: the store keeps the bytes as they are.
  std::string bytes("fig\0", 4);
  bytes += rollout + "/" + std::to_string(window) + "/" + replica + "\xff";
  return {rollout, window, replica, from_unix_nanos(1'700'000'000'000'000'000 + window), bytes};
}

TYPED_TEST_P(RegistryStoreContractTest, window_figures_are_kept_per_rollout_window_and_replica) {
  auto a = this->stores_.open();
  auto b = this->stores_.open();
  EXPECT_TRUE(a->load_window_figures("fraud", 0, 100).empty());
  {
    auto tx = a->begin();
    tx->put_window_figures(make_figures("fraud", 2, "replica-b"));
    tx->put_window_figures(make_figures("fraud", 1, "replica-b"));
    tx->put_window_figures(make_figures("fraud", 1, "replica-a"));
    tx->put_window_figures(make_figures("other", 1, "replica-a"));
    EXPECT_TRUE(b->load_window_figures("fraud", 0, 100).empty()) << "not committed yet";
    tx->commit();
  }
  for (auto* store : {a.get(), b.get()}) {
    const auto rows = store->load_window_figures("fraud", 0, 100);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0], make_figures("fraud", 1, "replica-a")) << "ordered by window, replica";
    EXPECT_EQ(rows[1], make_figures("fraud", 1, "replica-b"));
    EXPECT_EQ(rows[2], make_figures("fraud", 2, "replica-b"));
    EXPECT_EQ(store->load_window_figures("fraud", 2, 2),
              (std::vector<WindowFigures>{make_figures("fraud", 2, "replica-b")}));
    EXPECT_TRUE(store->load_window_figures("fraud", 3, 9).empty());
    EXPECT_EQ(store->load_window_figures("other", 0, 9).size(), 1u);
  }
  // A replica writing its window again replaces its row.
  WindowFigures again = make_figures("fraud", 1, "replica-a");
  again.figures = "rewritten";
  {
    auto tx = b->begin();
    tx->put_window_figures(again);
    tx->commit();
  }
  EXPECT_EQ(a->load_window_figures("fraud", 1, 1)[0], again);
  // Figures are not registry changes: no audit row, no version.
  EXPECT_TRUE(a->audit({}).empty());
  EXPECT_EQ(a->changes_since(0).second, 0);
}

TYPED_TEST_P(RegistryStoreContractTest, window_figures_are_pruned_by_window_and_checked) {
  auto store = this->stores_.open();
  {
    auto tx = store->begin();
    for (std::int64_t w = 0; w < 6; ++w) {
      tx->put_window_figures(make_figures("fraud", w, "a"));
      tx->put_window_figures(make_figures("fraud", w, "b"));
    }
    tx->put_window_figures(make_figures("other", 0, "a"));
    tx->commit();
  }
  {
    auto tx = store->begin();
    EXPECT_EQ(tx->prune_window_figures("fraud", 4), 8u) << "windows 0 to 3, two replicas each";
    tx->put_window_figures(make_figures("fraud", 1, "late"));
    EXPECT_EQ(tx->prune_window_figures("fraud", 4), 1u) << "sees its own write";
    // Destroyed without commit: nothing is deleted.
  }
  EXPECT_EQ(store->load_window_figures("fraud", 0, 9).size(), 12u);
  {
    auto tx = store->begin();
    EXPECT_EQ(tx->prune_window_figures("fraud", 4), 8u);
    tx->commit();
  }
  const auto rows = store->load_window_figures("fraud", 0, 9);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.front().window, 4);
  EXPECT_EQ(store->load_window_figures("other", 0, 9).size(), 1u) << "another rollout's stay";

  auto tx = store->begin();
  EXPECT_THROW(tx->put_window_figures(make_figures("", 1, "a")), InvalidArgument);
  EXPECT_THROW(tx->put_window_figures(make_figures("fraud", 1, "")), InvalidArgument);
  EXPECT_THROW(tx->put_window_figures(make_figures("fraud", -1, "a")), InvalidArgument);
  EXPECT_THROW(tx->put_window_figures(make_figures("fraud", 1, std::string("a\0b", 3))),
               InvalidArgument);
  WindowFigures huge = make_figures("fraud", 1, "a");
  huge.figures.assign(kMaxWindowFiguresBytes + 1, 'x');
  EXPECT_THROW(tx->put_window_figures(huge), InvalidArgument);
  tx->put_window_figures(make_figures("fraud", 7, "a"));  // still usable after the refusals
  tx->commit();
  EXPECT_EQ(store->load_window_figures("fraud", 7, 7).size(), 1u);
}

REGISTER_TYPED_TEST_SUITE_P(RegistryStoreContractTest,
                            window_figures_are_kept_per_rollout_window_and_replica,
                            window_figures_are_pruned_by_window_and_checked,
                            empty_store_loads_empty,
                            committed_writes_are_visible_everywhere_in_order,
                            uncommitted_transaction_changes_nothing,
                            artifacts_are_kept_with_their_transaction,
                            transaction_reads_its_own_writes_and_others_do_not,
                            collisions_and_missing_rows_throw_and_leave_the_transaction_usable,
                            refuses_versions_it_could_not_store_faithfully,
                            max_version_is_the_highest_ever_assigned,
                            audit_queries_filter_and_limit_in_sequence_order,
                            changes_since_and_load_models_cover_what_changed,
                            may_have_changed_reports_other_connections_commits_only,
                            second_writer_times_out_while_the_first_is_open,
                            same_thread_second_begin_fails_at_once,
                            a_finished_transaction_refuses_further_use,
                            concurrent_writers_never_share_a_version_number);

}  // namespace switchyard::store_contract
