// SPDX-License-Identifier: Apache-2.0
// ModelRegistry: lookups, lifecycle, gates, rollback, aliases, audit, persistence, sharing a store.
#include <switchyard/registry/model_registry.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <latch>
#include <set>
#include <thread>

#include <switchyard/core/events.hpp>
#include <switchyard/detail/base64.hpp>

#include "support/raw_db.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace model_registry_test {

using testing::RegistryFixture;
using namespace std::chrono_literals;

constexpr const char* kModel = "fraud-detection";

TEST(ModelRegistryTest, versions_count_from_one_per_name_and_keep_metadata) {
  RegistryFixture f;
  VersionMetadata m;
  m.semver = "1.0.0";
  m.run_id = "run-17";
  m.dataset_version = "2026-11-01";
  m.metrics = {{"auc", 0.91}, {"precision", 0.8}};
  m.dependencies = {{"eigen", "3.4"}};
  m.owner = "risk-team";
  m.changelog = "first";
  m.description = "baseline";
  m.tags = {{"team", "risk"}};
  auto v1 = f.registry->register_version(kModel, testing::logistic_artifact(1), m, {.actor = "ci"});
  EXPECT_EQ(v1->version, 1);
  EXPECT_EQ(v1->stage, Stage::kDevelopment);
  EXPECT_EQ(v1->created_at, f.clock.now());
  EXPECT_EQ(v1->artifact.sha256.size(), 64u);
  EXPECT_EQ(v1->signature.inputs.at(0).name, "features") << "signature taken from the model";
  EXPECT_EQ(v1->run_id, "run-17");
  EXPECT_EQ(f.add(kModel, 0.92, 2), 2);
  EXPECT_EQ(f.add("churn-predictor", 0.7), 1);
  EXPECT_EQ(f.registry->models(), (std::vector<std::string>{"churn-predictor", kModel}));
}

TEST(ModelRegistryTest, every_lookup_form_finds_the_same_version) {
  RegistryFixture f;
  VersionMetadata m;
  m.semver = "2.1.0";
  f.add_production(kModel, 0.9);
  auto v2 = f.registry->register_version(kModel, testing::logistic_artifact(2), m)->version;
  f.registry->set_alias(kModel, "challenger", v2);
  auto& r = *f.registry;
  EXPECT_EQ(r.get(kModel, 2)->version, 2);
  EXPECT_EQ(r.latest(kModel)->version, 2);
  EXPECT_EQ(r.by_alias(kModel, "challenger")->version, 2);
  EXPECT_EQ(r.by_semver(kModel, "2.1.0")->version, 2);
  EXPECT_EQ(r.in_stage(kModel, Stage::kProduction)->version, 1);
  EXPECT_EQ(r.find(kModel, "latest")->version, 2);
  EXPECT_EQ(r.find(kModel, "1")->version, 1);
  EXPECT_EQ(r.find(kModel, "@challenger")->version, 2);
  EXPECT_EQ(r.find(kModel, "challenger")->version, 2);
  EXPECT_EQ(r.find(kModel, "production")->version, 1);
  EXPECT_EQ(r.find(kModel, "2.1.0")->version, 2);
  EXPECT_EQ(r.resolve("models:/fraud-detection/2")->version, 2);
  EXPECT_EQ(r.resolve("models:/fraud-detection/latest")->version, 2);
  EXPECT_EQ(r.resolve("models:/fraud-detection/Production")->version, 1);
  EXPECT_EQ(r.resolve("models:/fraud-detection@challenger")->version, 2);
  EXPECT_EQ(r.versions(kModel).size(), 2u);
  EXPECT_EQ(r.versions(kModel, Stage::kDevelopment).size(), 1u);
}

TEST(ModelRegistryTest, bad_lookups_give_typed_errors_naming_what_was_wrong) {
  RegistryFixture f;
  f.add(kModel, 0.9);
  auto& r = *f.registry;
  auto expect = [](auto&& fn, auto error_type, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "no error for " << needle;
    } catch (const decltype(error_type)& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect([&] { r.get(kModel, 9); }, NotFound(""), "version 9");
  expect([&] { r.latest("unknown-model"); }, NotFound(""), "unknown-model");
  expect([&] { r.by_alias(kModel, "champion"); }, NotFound(""), "champion");
  expect([&] { r.in_stage(kModel, Stage::kProduction); }, NotFound(""), "Production");
  expect([&] { r.find(kModel, "1.2"); }, InvalidArgument(""), "1.2");
  expect([&] { r.find(kModel, "9.9.9"); }, NotFound(""), "9.9.9");
  expect([&] { r.resolve("runs:/abc/model"); }, InvalidArgument(""), "models:/");
  expect([&] { r.resolve("models:/fraud-detection"); }, InvalidArgument(""), "malformed");
  expect([&] { r.resolve("models:/fraud-detection/Champion"); }, InvalidArgument(""), "selector");
  expect([&] { r.resolve("models:/../etc/1"); }, InvalidArgument(""), "..");
  expect([&] { r.resolve("models:/fraud-detection/1/2"); }, InvalidArgument(""), "selector");
}

TEST(ModelRegistryTest, hostile_names_and_metadata_are_rejected_and_nothing_is_stored) {
  RegistryFixture f;
  auto art = testing::logistic_artifact(1);
  for (std::string name : std::vector<std::string>{"", "fraud", "../fraud-detection", "fraud/detection", "fraud-detection\n",
                           std::string("fraud-\0x", 8), "fraud detection", "-fraud-detection",
                           std::string(200, 'a') + "-b", "fraud..-x"}) {
    EXPECT_THROW(f.registry->register_version(name, art, {}), InvalidArgument) << name;
  }
  VersionMetadata nan_metric;
  nan_metric.metrics = {{"auc", std::nan("")}};
  EXPECT_THROW(f.registry->register_version(kModel, art, nan_metric), InvalidArgument);
  VersionMetadata bad_semver;
  bad_semver.semver = "1.02.3";
  EXPECT_THROW(f.registry->register_version(kModel, art, bad_semver), InvalidArgument);
  EXPECT_THROW(f.registry->register_version(kModel, {"switchyard.linear", "garbage"}, {}),
               LoadError);
  EXPECT_THROW(f.registry->register_version(kModel, {"no.such.format", art.bytes}, {}), NotFound);
  EXPECT_TRUE(f.registry->models().empty());
  EXPECT_TRUE(f.registry->history(kModel).empty());
  VersionMetadata semver;
  semver.semver = "1.0.0";
  f.registry->register_version(kModel, art, semver);
  EXPECT_THROW(f.registry->register_version(kModel, testing::logistic_artifact(2), semver),
               AlreadyExists);
  // A second registry on the same file (another process, say) whose snapshot has not seen the
  // version: the store still refuses the duplicate, naming the version that holds it.
  auto other_store = testing::open_store(f.db_path());
  ModelRegistry other({.store = other_store.get(), .artifacts = f.artifacts.get()});
  semver.semver = "1.1.0";
  f.registry->register_version(kModel, testing::logistic_artifact(3), semver);
  try {
    other.register_version(kModel, testing::logistic_artifact(4), semver);
    FAIL() << "a duplicate semantic version was registered from a stale snapshot";
  } catch (const AlreadyExists& e) {
    EXPECT_NE(std::string(e.what()).find("'1.1.0' (version 2)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.registry->versions(kModel).size(), 2u);
}

TEST(ModelRegistryTest, every_legal_and_illegal_transition) {
  const Stage all[] = {Stage::kDevelopment, Stage::kStaging, Stage::kProduction, Stage::kArchived,
                       Stage::kRejected};
  // Expected table: from -> set of allowed destinations.
  std::map<Stage, std::set<Stage>> allowed = {
      {Stage::kDevelopment, {Stage::kStaging, Stage::kArchived, Stage::kRejected}},
      {Stage::kStaging,
       {Stage::kProduction, Stage::kDevelopment, Stage::kArchived, Stage::kRejected}},
      {Stage::kProduction, {Stage::kArchived}},
      {Stage::kArchived, {Stage::kStaging}},
      {Stage::kRejected, {Stage::kArchived}},
  };
  // Paths that bring a fresh version into each stage.
  std::map<Stage, std::vector<Stage>> path = {
      {Stage::kDevelopment, {}},
      {Stage::kStaging, {Stage::kStaging}},
      {Stage::kProduction, {Stage::kStaging, Stage::kProduction}},
      {Stage::kArchived, {Stage::kArchived}},
      {Stage::kRejected, {Stage::kRejected}},
  };
  for (Stage from : all) {
    for (Stage to : all) {
      RegistryFixture f;
      auto v = f.add(kModel, 0.9);
      for (Stage step : path[from]) f.registry->transition(kModel, v, step);
      ASSERT_EQ(f.registry->get(kModel, v)->stage, from);
      auto history_before = f.registry->history(kModel).size();
      if (allowed[from].count(to)) {
        EXPECT_EQ(f.registry->transition(kModel, v, to, {.actor = "bob", .reason = "why"})->stage,
                  to)
            << to_string(from) << " -> " << to_string(to);
        auto h = f.registry->history(kModel);
        ASSERT_EQ(h.size(), history_before + 1);
        EXPECT_EQ(h.back().actor, "bob");
        EXPECT_EQ(h.back().reason, "why");
        EXPECT_EQ(h.back().from_stage, from);
        EXPECT_EQ(h.back().to_stage, to);
      } else {
        EXPECT_THROW(f.registry->transition(kModel, v, to), InvalidTransition)
            << to_string(from) << " -> " << to_string(to);
        EXPECT_EQ(f.registry->get(kModel, v)->stage, from);
        EXPECT_EQ(f.registry->history(kModel).size(), history_before);
      }
    }
  }
}

TEST(ModelRegistryTest, promotion_archives_the_previous_production_version_unless_asked) {
  RegistryFixture f;
  auto v1 = f.add_production(kModel, 0.90);
  auto v2 = f.add_production(kModel, 0.91, 2);
  EXPECT_EQ(f.registry->get(kModel, v1)->stage, Stage::kArchived);
  EXPECT_EQ(f.registry->versions(kModel, Stage::kProduction).size(), 1u);
  auto v3 = f.add(kModel, 0.92, 3);
  f.registry->transition(kModel, v3, Stage::kStaging);
  f.registry->transition(kModel, v3, Stage::kProduction, {.keep_existing_production = true});
  EXPECT_EQ(f.registry->get(kModel, v2)->stage, Stage::kProduction);
  EXPECT_EQ(f.registry->versions(kModel, Stage::kProduction).size(), 2u);
}

TEST(ModelRegistryTest, gates_report_every_check_and_failures_reject_the_version) {
  RegistryFixture f;
  ValidationPolicy p;
  p.thresholds = {{"auc", 0.85}};
  p.regressions = {{"auc", true, 0.01}};
  p.groups = {{"recall", 0.6, 1.0, 0.1}};
  f.registry->set_validation_policy(kModel, p);
  // v1 has no groups: the group gap check fails, so give it groups.
  VersionMetadata good;
  good.metrics = {{"auc", 0.90}};
  good.group_metrics = {{"age<30", {{"recall", 0.80}}}, {"age>=30", {{"recall", 0.75}}}};
  auto v1 = f.registry->register_version(kModel, testing::logistic_artifact(1), good)->version;
  f.registry->transition(kModel, v1, Stage::kStaging);
  f.registry->transition(kModel, v1, Stage::kProduction);

  VersionMetadata worse = good;
  worse.metrics = {{"auc", 0.87}};  // passes the threshold, regresses 0.03 > 0.01
  worse.group_metrics = {{"age<30", {{"recall", 0.9}}}, {"age>=30", {{"recall", 0.55}}}};
  auto v2 = f.registry->register_version(kModel, testing::logistic_artifact(2), worse)->version;
  auto report = f.registry->validate(kModel, v2);
  EXPECT_FALSE(report.passed());
  std::map<std::string, bool> by_check;
  for (const auto& c : report.checks) by_check[c.gate + ":" + c.subject] = c.passed;
  EXPECT_TRUE(by_check.at("threshold:auc"));
  EXPECT_FALSE(by_check.at("regression:auc"));
  EXPECT_TRUE(by_check.at("group:age<30.recall"));
  EXPECT_FALSE(by_check.at("group:age>=30.recall"));
  EXPECT_FALSE(by_check.at("group:recall gap"));
  EXPECT_TRUE(by_check.at("signature:"));
  EXPECT_EQ(f.registry->get(kModel, v2)->stage, Stage::kDevelopment) << "validate changes nothing";

  try {
    f.registry->transition(kModel, v2, Stage::kStaging, {.actor = "ci"});
    FAIL() << "gates should have failed";
  } catch (const ValidationFailed& e) {
    EXPECT_NE(std::string(e.what()).find("regression auc"), std::string::npos) << e.what();
  }
  EXPECT_EQ(f.registry->get(kModel, v2)->stage, Stage::kRejected);
  auto h = f.registry->history(kModel);
  EXPECT_EQ(h.back().action, "reject");
  EXPECT_NE(h.back().reason.find("regression auc"), std::string::npos);
  EXPECT_THROW(f.registry->transition(kModel, v2, Stage::kStaging), InvalidTransition);
}

TEST(ModelRegistryTest, signature_gate_catches_an_incompatible_candidate) {
  RegistryFixture f;
  f.add_production(kModel, 0.9);
  Eigen::MatrixXd w = Eigen::MatrixXd::Ones(4, 1);  // 4 features instead of 3
  LogisticModel wider(w, Eigen::VectorXd::Zero(1));
  auto v2 = f.registry
                ->register_version(kModel, {std::string(kLinearFormat), wider.to_artifact()}, {})
                ->version;
  auto report = f.registry->validate(kModel, v2, ValidationPolicy{});
  ASSERT_FALSE(report.passed());
  EXPECT_NE(report.failures().find("shape"), std::string::npos) << report.failures();
}

// The latency gate times predict() with an injected clock; this model advances it by a known
// amount per call, so the p99 is exact and the test never depends on the machine's speed.
TEST(ModelRegistryTest, latency_gate_measures_p99_with_an_injected_timer) {
  RegistryFixture f;
  auto v = f.add(kModel, 0.9);
  class TickingClock final : public Clock {
   public:
    TimePoint now() const noexcept override {
      // Each call pair (before, after) spans 1 ms except every 50th pair, which spans 5 ms.
      auto n = calls_.fetch_add(1);
      std::int64_t pair = n / 2;
      std::int64_t base = pair * 10'000'000;
      return from_unix_nanos(base + (n % 2 == 0 ? 0 : (pair % 50 == 49 ? 5'000'000 : 1'000'000)));
    }
    mutable std::atomic<std::int64_t> calls_{0};
  } timer;
  ValidationPolicy p;
  p.latency = LatencyGate{.max_p99 = 2ms, .iterations = 100, .batch = 4, .timer = &timer};
  auto report = f.registry->validate(kModel, v, p);
  // 2 of 100 calls took 5 ms: p99 (the 99th smallest) is 5 ms > 2 ms.
  ASSERT_EQ(report.checks.size(), 1u);
  EXPECT_FALSE(report.checks[0].passed) << report.checks[0].detail;
  EXPECT_NE(report.checks[0].detail.find("5000000 ns"), std::string::npos) << report.checks[0].detail;
  timer.calls_ = 0;
  p.latency->max_p99 = 6ms;
  EXPECT_TRUE(f.registry->validate(kModel, v, p).passed());
}

TEST(ModelRegistryTest, rollback_restores_the_last_known_good_version) {
  RegistryFixture f;
  auto v1 = f.add_production(kModel, 0.90, 1);
  auto v2 = f.add_production(kModel, 0.91, 2);
  auto v3 = f.add(kModel, 0.95, 3);  // never in Production: not a rollback target
  f.registry->transition(kModel, v3, Stage::kStaging);
  std::vector<RegistryEvent> rolled;
  f.registry->events().rolled_back.connect([&](const RegistryEvent& e) { rolled.push_back(e); });
  f.clock.advance(1h);
  auto restored = f.registry->rollback(kModel, {.actor = "oncall", .reason = "p99 doubled"});
  EXPECT_EQ(restored->version, v1);
  EXPECT_EQ(restored->stage, Stage::kProduction);
  EXPECT_EQ(f.registry->get(kModel, v2)->stage, Stage::kArchived);
  EXPECT_EQ(f.registry->get(kModel, v3)->stage, Stage::kStaging);
  ASSERT_EQ(rolled.size(), 1u);
  EXPECT_EQ(rolled[0].version, v1);
  EXPECT_EQ(rolled[0].reason, "p99 doubled");
  EXPECT_EQ(rolled[0].actor, "oncall");
  auto h = f.registry->history(kModel);
  ASSERT_GE(h.size(), 2u);
  EXPECT_EQ(h.back().action, "rollback");
  EXPECT_EQ(h.back().actor, "oncall");
  // Rolling back again returns to v2 (now the most recent archived Production version).
  EXPECT_EQ(f.registry->rollback(kModel, {.actor = "oncall"})->version, v2);
  // An explicit target must have served before.
  EXPECT_THROW(f.registry->rollback(kModel, {}, v3), InvalidTransition);
  EXPECT_EQ(f.registry->rollback(kModel, {}, v1)->version, v1);
  // Archived versions stay loadable for audit and rollback.
  EXPECT_NE(f.registry->load(kModel, v2), nullptr);
}

// A rollback's one event names both versions and the reason: a subscriber (the on-call channel,
// a deployment) learns what was restored and what was taken out without reading the audit trail.
TEST(ModelRegistryTest, rolled_back_event_carries_both_versions_and_the_reason) {
  RegistryFixture f;
  auto v1 = f.add_production(kModel, 0.90, 1);
  auto v2 = f.add_production(kModel, 0.91, 2);
  std::vector<RegistryEvent> rolled;
  f.registry->events().rolled_back.connect([&](const RegistryEvent& e) { rolled.push_back(e); });
  f.registry->rollback(kModel, {.actor = "oncall", .reason = "error rate 4x"});
  ASSERT_EQ(rolled.size(), 1u);
  const RegistryEvent& e = rolled[0];
  EXPECT_EQ(e.kind, RegistryEvent::Kind::kRolledBack);
  EXPECT_EQ(e.model, kModel);
  EXPECT_EQ(e.version, v1) << "the restored version";
  EXPECT_EQ(e.previous_version, v2) << "the version taken out of Production";
  EXPECT_EQ(e.to_stage, Stage::kProduction);
  EXPECT_EQ(e.reason, "error rate 4x");
  EXPECT_EQ(e.actor, "oncall");
  EXPECT_EQ(e.sequence, f.registry->history(kModel).back().sequence);
  // Back the other way: the roles swap.
  f.registry->rollback(kModel, {.actor = "oncall", .reason = "false alarm"}, v2);
  ASSERT_EQ(rolled.size(), 2u);
  EXPECT_EQ(rolled[1].version, v2);
  EXPECT_EQ(rolled[1].previous_version, v1);
  EXPECT_EQ(rolled[1].reason, "false alarm");
}

// A timer for latency gates whose first reading blocks until the test releases it, so a gate
// can be held running while the test acts.
class LatchedClock final : public Clock {
 public:
  TimePoint now() const noexcept override {
    if (calls_.fetch_add(1) == 0) {
      entered.count_down();
      release.wait();
    }
    return TimePoint{};
  }
  mutable std::atomic<int> calls_{0};
  mutable std::latch entered{1};
  mutable std::latch release{1};
};

// Starts `v`'s Development -> Staging transition on another thread, gated by a latency gate whose
// timer is `timer`: the gate holds until the test releases it.
std::future<VersionRef> start_gated_staging(RegistryFixture& f, std::int64_t v,
                                            LatchedClock& timer) {
  return std::async(std::launch::async, [&f, v, &timer] {
    ValidationPolicy p;
    p.latency = LatencyGate{.max_p99 = 1ms, .iterations = 3, .batch = 1, .timer = &timer};
    return f.registry->transition(kModel, v, Stage::kStaging, {.actor = "ci", .policy = p});
  });
}

// A slow gate (here a latency gate whose timer blocks until released) holds no registry lock:
// while it runs, a read of the gated model and another model's register both complete. The
// transition then commits, because nothing it was gated on changed.
TEST(ModelRegistryTest, a_slow_gate_blocks_neither_reads_nor_other_models_writes) {
  RegistryFixture f;
  auto v = f.add(kModel, 0.9);
  LatchedClock timer;
  auto gated = start_gated_staging(f, v, timer);
  timer.entered.wait();  // the gate is running and will not return until released
  auto others = std::async(std::launch::async, [&] {
    EXPECT_EQ(f.registry->get(kModel, v)->stage, Stage::kDevelopment);
    return f.add("churn-predictor", 0.7);
  });
  const bool finished = others.wait_for(30s) == std::future_status::ready;
  timer.release.count_down();
  ASSERT_TRUE(finished) << "a read or another model's write waited for the gate";
  EXPECT_EQ(others.get(), 1);
  EXPECT_EQ(gated.get()->stage, Stage::kStaging);
}

// The gates ran on a snapshot; if the version changed before the transition could take the write
// lock, their verdict is stale and the transition is refused rather than committed.
TEST(ModelRegistryTest, a_version_changed_while_its_gates_ran_is_not_transitioned) {
  RegistryFixture f;
  auto v = f.add(kModel, 0.9);
  LatchedClock timer;
  auto gated = start_gated_staging(f, v, timer);
  timer.entered.wait();
  f.registry->transition(kModel, v, Stage::kArchived, {.actor = "alice"});
  timer.release.count_down();
  EXPECT_THROW(gated.get(), InvalidTransition);
  EXPECT_EQ(f.registry->get(kModel, v)->stage, Stage::kArchived);
}

// Lookups scale across threads: the VersionRef a thread gets is counted in a control block of its
// own, so two threads reading one version write no shared reference count. The ref still keeps
// the version alive after the snapshot moved on, and repeated lookups on one thread reuse it.
TEST(ModelRegistryTest, lookups_on_two_threads_do_not_share_a_reference_count) {
  RegistryFixture f;
  auto v = f.add(kModel, 0.9);
  f.registry->set_alias(kModel, "champion", v);
  auto same_block = [](const VersionRef& a, const VersionRef& b) {
    return !a.owner_before(b) && !b.owner_before(a);
  };
  VersionRef here = f.registry->by_alias(kModel, "champion");
  VersionRef there;
  std::thread([&] { there = f.registry->by_alias(kModel, "champion"); }).join();
  ASSERT_EQ(here.get(), there.get()) << "one version object";
  EXPECT_FALSE(same_block(here, there)) << "each thread counts its own references";
  EXPECT_TRUE(same_block(here, f.registry->latest(kModel))) << "one block per thread and version";
  EXPECT_TRUE(same_block(here, f.registry->resolve("models:/fraud-detection@champion")));
  // The thread that made `there` has exited; the version outlives both the thread and the
  // snapshot that held it.
  f.registry->transition(kModel, v, Stage::kArchived);
  EXPECT_EQ(f.registry->get(kModel, v)->stage, Stage::kArchived);
  EXPECT_EQ(there->stage, Stage::kDevelopment);
  EXPECT_EQ(here->version, v);
}

TEST(ModelRegistryTest, rollback_without_history_is_refused) {
  RegistryFixture f;
  EXPECT_THROW(f.registry->rollback(kModel, {}), InvalidTransition);
  f.add_production(kModel, 0.9);
  EXPECT_THROW(f.registry->rollback(kModel, {}), InvalidTransition);
  EXPECT_EQ(f.registry->in_stage(kModel, Stage::kProduction)->version, 1);
}

TEST(ModelRegistryTest, aliases_move_are_removed_and_reserved_names_refused) {
  RegistryFixture f;
  auto v1 = f.add(kModel, 0.9);
  auto v2 = f.add(kModel, 0.91, 2);
  f.registry->set_alias(kModel, "champion", v1, {.actor = "alice"});
  f.registry->set_alias(kModel, "champion", v2, {.actor = "alice"});
  EXPECT_EQ(f.registry->by_alias(kModel, "champion")->version, v2);
  EXPECT_EQ(f.registry->history(kModel).back().reason, "moved from version 1");
  EXPECT_THROW(f.registry->set_alias(kModel, "champion", 9), NotFound);
  EXPECT_THROW(f.registry->set_alias(kModel, "latest", v1), InvalidArgument);
  EXPECT_THROW(f.registry->set_alias(kModel, "Production", v1), InvalidArgument);
  EXPECT_THROW(f.registry->set_alias(kModel, "42", v1), InvalidArgument);
  EXPECT_THROW(f.registry->set_alias(kModel, "a/b", v1), InvalidArgument);
  f.registry->remove_alias(kModel, "champion");
  EXPECT_THROW(f.registry->by_alias(kModel, "champion"), NotFound);
  EXPECT_THROW(f.registry->remove_alias(kModel, "champion"), NotFound);
}

TEST(ModelRegistryTest, audit_answers_which_version_was_in_production_at_time_t) {
  RegistryFixture f;
  const TimePoint t0 = f.clock.now();
  f.clock.advance(1h);
  f.add_production(kModel, 0.9, 1);  // v1 Production from t0+1h
  const TimePoint t1 = f.clock.now();
  f.clock.advance(1h);
  f.add_production(kModel, 0.91, 2);  // v2 from t0+2h
  const TimePoint t2 = f.clock.now();
  f.clock.advance(1h);
  f.registry->rollback(kModel, {.actor = "oncall", .reason = "bad"});  // v1 again from t0+3h
  const TimePoint t3 = f.clock.now();
  EXPECT_TRUE(f.registry->production_at(kModel, t0).empty());
  EXPECT_EQ(f.registry->production_at(kModel, t1), std::vector<std::int64_t>{1});
  EXPECT_EQ(f.registry->production_at(kModel, t2), std::vector<std::int64_t>{2});
  EXPECT_EQ(f.registry->production_at(kModel, t3), std::vector<std::int64_t>{1});
  AuditQuery q;
  q.model = kModel;
  q.from = t2;
  q.until = t2;
  for (const auto& r : f.registry->audit(q)) EXPECT_EQ(r.at, t2);
  EXPECT_FALSE(f.registry->audit(q).empty());
}

TEST(ModelRegistryTest, everything_survives_a_reopen) {
  RegistryFixture f;
  f.add_production(kModel, 0.9);
  f.add(kModel, 0.91, 2);
  f.registry->set_alias(kModel, "challenger", 2);
  auto exported = f.registry->export_json();
  f.reopen();
  EXPECT_EQ(f.registry->export_json(), exported);
  EXPECT_EQ(f.registry->by_alias(kModel, "challenger")->version, 2);
  EXPECT_EQ(f.registry->in_stage(kModel, Stage::kProduction)->version, 1);
  auto model = f.registry->load(kModel, 1);
  const double x[3] = {1, 2, 3};
  auto p = model->predict(TensorView(x, Shape{1, 3}));
  EXPECT_EQ(p.labels.size(), 1u);
  EXPECT_EQ(f.add(kModel, 0.92, 3), 3);
}

TEST(ModelRegistryTest, tampered_artifact_is_detected_on_load) {
  // A file in the artifact directory (limit 0), and a row in the store (the default).
  for (std::size_t store_limit :
       {std::size_t{0}, ModelRegistry::Options{}.max_store_artifact_bytes}) {
    SCOPED_TRACE(store_limit);
    RegistryFixture f(store_limit);
    auto v = f.registry->register_version(kModel, testing::logistic_artifact(1), {});
    ASSERT_EQ(v->artifact.in_store(), store_limit > 0);
    EXPECT_EQ(f.registry->read_artifact(kModel, 1), testing::logistic_artifact(1).bytes);
    f.reopen();  // drop the loaded-model cache
    if (v->artifact.in_store()) {
      EXPECT_FALSE(std::filesystem::exists(f.artifact_root() / "sha256"));
      testing::RawDb(f.db_path()).exec("UPDATE artifacts SET bytes = randomblob(length(bytes))");
    } else {
      std::fstream file(f.artifact_root() / v->artifact.uri,
                        std::ios::in | std::ios::out | std::ios::binary);
      file.seekp(10);
      file.put('\x7f');
    }
    try {
      f.registry->load(kModel, 1);
      FAIL() << "tampering went unnoticed";
    } catch (const IntegrityError& e) {
      EXPECT_NE(std::string(e.what()).find(v->artifact.sha256.substr(0, 16)), std::string::npos)
          << e.what();
    }
    EXPECT_THROW((void)f.registry->read_artifact(kModel, 1), IntegrityError);
  }
}

TEST(ModelRegistryTest, a_store_artifact_of_the_wrong_size_or_missing_is_named) {
  RegistryFixture f;
  auto v = f.registry->register_version(kModel, testing::logistic_artifact(1), {});
  testing::RawDb(f.db_path()).exec("UPDATE artifacts SET bytes = randomblob(length(bytes) + 1)");
  try {
    (void)f.registry->read_artifact(kModel, 1);
    FAIL() << "a longer artifact was accepted";
  } catch (const IntegrityError& e) {
    EXPECT_NE(std::string(e.what()).find("expected " + std::to_string(v->artifact.size)),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find(f.db_path().string()), std::string::npos) << e.what();
  }
  testing::RawDb(f.db_path()).exec("DELETE FROM artifacts");
  EXPECT_THROW((void)f.registry->load(kModel, 1), NotFound);
}

TEST(ModelRegistryTest, artifacts_up_to_the_limit_are_kept_in_the_store_and_larger_ones_as_files) {
  const std::string small = testing::logistic_artifact(1).bytes;
  RegistryFixture f(small.size());
  auto in_store = f.registry->register_version(kModel, testing::logistic_artifact(1), {});
  EXPECT_TRUE(in_store->artifact.in_store());
  EXPECT_EQ(in_store->artifact.uri, "store:sha256/" + in_store->artifact.sha256);
  EXPECT_TRUE(f.artifacts->list().empty()) << "a store artifact also became a file";

  // One byte over the limit: a file named by its SHA-256.
  f.store_limit = small.size() - 1;
  f.reopen();
  auto as_file = f.registry->register_version(kModel, testing::logistic_artifact(1), {});
  EXPECT_FALSE(as_file->artifact.in_store());
  EXPECT_EQ(as_file->artifact.uri, ArtifactStore::uri_of(as_file->artifact.sha256));
  EXPECT_EQ(f.artifacts->list(), std::vector<std::string>{as_file->artifact.sha256});

  // Both load after a restart, wherever they are kept, and the same content is one row.
  f.reopen();
  EXPECT_EQ(f.registry->read_artifact(kModel, 1), small);
  EXPECT_EQ(f.registry->read_artifact(kModel, 2), small);
  EXPECT_NE(f.registry->load(kModel, 1), nullptr);
  f.store_limit = small.size();
  f.reopen();
  EXPECT_TRUE(
      f.registry->register_version(kModel, testing::logistic_artifact(1), {})->artifact.in_store());
  EXPECT_EQ(testing::RawDb(f.db_path()).text("SELECT count(*) FROM artifacts"), "1");
  EXPECT_THROW(ModelRegistry({.store = f.store.get(),
                              .artifacts = f.artifacts.get(),
                              .max_store_artifact_bytes = kMaxStoreArtifactBytes + 1}),
               InvalidArgument);
}

TEST(ModelRegistryTest, export_import_round_trip_is_exact) {
  // Artifact files travel beside the JSON: without them the import is refused whole.
  RegistryFixture a(0);
  a.add_production(kModel, 0.9);
  a.add(kModel, 0.91, 2);
  a.registry->set_alias(kModel, "challenger", 2);
  a.add("churn-predictor", 0.7);
  const std::string json = a.registry->export_json();
  EXPECT_NE(json.find("\"challenger\""), std::string::npos);

  RegistryFixture b(0);
  EXPECT_THROW(b.registry->import_json(json), NotFound);
  EXPECT_TRUE(b.registry->models().empty());
  std::filesystem::copy(a.artifact_root(), b.artifact_root(),
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::overwrite_existing);
  b.registry->import_json(json);
  EXPECT_EQ(b.registry->export_json(), json);
  EXPECT_EQ(b.registry->by_alias(kModel, "challenger")->version, 2);
  EXPECT_THROW(b.registry->import_json(json), AlreadyExists);
  EXPECT_THROW(b.registry->import_json("{\"format\": \"something-else\"}"), InvalidArgument);
  EXPECT_THROW(b.registry->import_json("not json"), InvalidArgument);
}

TEST(ModelRegistryTest, artifacts_kept_in_the_store_travel_inside_the_export) {
  RegistryFixture a;
  a.add_production(kModel, 0.9);
  a.add(kModel, 0.91, 2);
  a.add(kModel, 0.92, 2);  // same bytes as version 2: carried once
  a.add("churn-predictor", 0.7);
  const std::string json = a.registry->export_json();
  const std::string carried = detail::base64_encode(testing::logistic_artifact(2).bytes);
  EXPECT_NE(json.find(carried), std::string::npos);
  EXPECT_EQ(json.find(carried), json.rfind(carried)) << "an artifact was exported twice";

  RegistryFixture b;  // nothing copied: the export is the whole backup
  b.registry->import_json(json);
  EXPECT_EQ(b.registry->export_json(), json);
  for (std::int64_t v : {1, 2, 3}) {
    EXPECT_EQ(b.registry->read_artifact(kModel, v), a.registry->read_artifact(kModel, v));
  }
  EXPECT_NE(b.registry->load("churn-predictor", 1), nullptr);
}

TEST(ModelRegistryTest, two_instances_on_one_file_see_each_others_commits) {
  RegistryFixture f;
  auto other_store = testing::open_store(f.db_path());
  ModelRegistry other({.store = other_store.get(), .artifacts = f.artifacts.get(), .clock = &f.clock});
  f.add_production(kModel, 0.9);
  EXPECT_THROW(other.latest(kModel), NotFound) << "reads never touch the store";
  EXPECT_TRUE(other.refresh());
  EXPECT_FALSE(other.refresh()) << "nothing new";
  EXPECT_EQ(other.in_stage(kModel, Stage::kProduction)->version, 1);
  // The other instance writes; its version number follows the store, not its snapshot.
  auto v2 = other.register_version(kModel, testing::logistic_artifact(2), {})->version;
  EXPECT_EQ(v2, 2);
  auto v3 = f.add(kModel, 0.93, 3);  // f has not refreshed: it still gets a fresh number
  EXPECT_EQ(v3, 3);
  EXPECT_EQ(f.registry->get(kModel, 2)->version, 2) << "writer re-read what it missed";
  other.refresh();
  EXPECT_EQ(other.latest(kModel)->version, 3);
  EXPECT_EQ(other.export_json(), f.registry->export_json());
}

TEST(ModelRegistryTest, concurrent_registrations_from_two_instances_never_share_a_number) {
  RegistryFixture f;
  auto other_store = testing::open_store(f.db_path());
  ModelRegistry other({.store = other_store.get(), .artifacts = f.artifacts.get(), .clock = &f.clock});
  constexpr int kEach = 40;
  std::vector<std::int64_t> a, b;
  std::thread t1([&] {
    for (int i = 0; i < kEach; ++i) a.push_back(f.add(kModel, 0.9, 1 + i));
  });
  std::thread t2([&] {
    for (int i = 0; i < kEach; ++i) {
      b.push_back(other.register_version(kModel, testing::logistic_artifact(100 + i), {})->version);
    }
  });
  t1.join();
  t2.join();
  std::set<std::int64_t> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 2u * kEach);
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), 2 * kEach);
  f.registry->refresh();
  EXPECT_EQ(f.registry->versions(kModel).size(), 2u * kEach);
}

TEST(ModelRegistryTest, readers_never_block_or_see_half_applied_changes) {
  RegistryFixture f;
  f.add_production(kModel, 0.9);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto prod = f.registry->versions(kModel, Stage::kProduction);
      if (prod.size() != 1) bad.fetch_add(1);  // a promotion archives in the same transaction
      auto latest = f.registry->latest(kModel);
      if (latest->version < 1) bad.fetch_add(1);
    }
  });
  for (int i = 2; i <= 20; ++i) f.add_production(kModel, 0.9, i);
  stop = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(ModelRegistryTest, events_fire_after_commit_and_a_throwing_slot_breaks_nothing) {
  RegistryFixture f;
  std::vector<std::string> seen;
  int errors = 0;
  f.registry->events().set_error_handler([&](std::string_view, const std::exception&) { ++errors; });
  f.registry->events().version_registered.connect(
      [&](const RegistryEvent&) { throw std::runtime_error("faulty slot"); });
  f.registry->events().version_registered.connect(
      [&](const RegistryEvent& e) { seen.push_back("registered " + std::to_string(e.version)); });
  f.registry->events().stage_changed.connect([&](const RegistryEvent& e) {
    // The change is visible to readers by the time the event fires.
    EXPECT_EQ(f.registry->get(e.model, e.version)->stage, *e.to_stage);
    seen.push_back(std::string(to_string(*e.to_stage)));
  });
  f.add_production(kModel, 0.9);
  EXPECT_EQ(seen, (std::vector<std::string>{"registered 1", "Staging", "Production"}));
  EXPECT_EQ(errors, 1);
}

}  // namespace model_registry_test
using namespace model_registry_test;  // the tests after this anonymous namespace use its helpers
}  // namespace
}  // namespace switchyard

namespace switchyard {
namespace {

// A model's versions are shared between snapshots in chunks of 64 and a change copies only the
// chunk it touches: changes land in the right chunk, and a reader of an older snapshot never sees
// a chunk written under it (a write in place is a data race ThreadSanitizer reports here).
TEST(ModelRegistryTest, changes_across_version_chunks_never_write_under_a_reader) {
  testing::RegistryFixture f;
  constexpr int kVersions = 150;  // three chunks
  for (int i = 1; i <= kVersions; ++i) f.add(kModel, 0.5 + i * 1e-3);
  const auto before = f.registry->versions(kModel);
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      for (std::int64_t v = 1; v <= kVersions; ++v) {
        auto ref = f.registry->get(kModel, v);
        if (ref->version != v) ADD_FAILURE() << "get(" << v << ") returned " << ref->version;
      }
      reads.fetch_add(1);
    }
  });
  for (std::int64_t v : {3, 64, 65, 130}) f.registry->transition(kModel, v, Stage::kStaging);
  f.registry->transition(kModel, 130, Stage::kProduction);
  f.add(kModel, 0.9);
  while (reads.load() < 2) std::this_thread::yield();
  stop = true;
  reader.join();

  const auto after = f.registry->versions(kModel);
  ASSERT_EQ(after.size(), static_cast<std::size_t>(kVersions + 1));
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i]->version, static_cast<std::int64_t>(i + 1));
  }
  for (std::int64_t v : {3, 64, 65}) EXPECT_EQ(f.registry->get(kModel, v)->stage, Stage::kStaging);
  EXPECT_EQ(f.registry->get(kModel, 66)->stage, Stage::kDevelopment);
  EXPECT_EQ(f.registry->in_stage(kModel, Stage::kProduction)->version, 130);
  EXPECT_EQ(f.registry->latest(kModel)->version, kVersions + 1);
  for (const auto& v : before) EXPECT_EQ(v->stage, Stage::kDevelopment);

  const std::string exported = f.registry->export_json();
  f.reopen();  // the snapshot the changes built equals the one loaded from the store
  EXPECT_EQ(f.registry->export_json(), exported);
  EXPECT_EQ(f.registry->get(kModel, 130)->stage, Stage::kProduction);
}

}  // namespace
}  // namespace switchyard
