// SPDX-License-Identifier: Apache-2.0
// Promotion evidence: transitions carry it into the audit trail (SQLite and in memory, across a
// reopen and an export), a PromotionPolicy requires it for Staging -> Production, malformed
// evidence changes nothing, a version 2 SQLite store migrates to version 3 keeping every row, and
// evidence rows written behind the store's back are CorruptStore.
#include <switchyard/registry/promotion_policy.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <sstream>

#include <cereal/archives/json.hpp>

#include <switchyard/registry/in_memory_registry_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/serialization.hpp>

#include "support/raw_db.hpp"
#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace promotion_evidence_test {

namespace fs = std::filesystem;
using testing::RawDb;

constexpr const char* kModel = "fraud-detection";

PromotionEvidence shadow(bool passed) {
  return {.kind = "shadow",
          .passed = passed,
          .summary = passed ? "7 days, agreement 99.3%, p99 +1.8 ms" : "agreement 91%",
          .detail_json = R"({"requests": 1200000, "agreement": 0.993, "notes": "a \"quoted\" line"})"};
}
PromotionEvidence ab_test(bool passed) {
  return {.kind = "ab_test", .passed = passed, .summary = "+2.1% conversion, p = 0.003",
          .detail_json = R"({"lift": 0.021, "p_value": 0.003})"};
}
PromotionEvidence sign_off(bool passed = true) {
  return {.kind = "sign_off", .passed = passed, .summary = "owner risk-team approves",
          .detail_json = ""};
}

// A registry on the SQLite store; reopen() is a restart on the same file.
struct SqliteBackend {
  testing::RegistryFixture f;
  ModelRegistry& registry() { return *f.registry; }
  ManualClock& clock() { return f.clock; }
  void reopen() { f.reopen(); }
  static constexpr bool kDurable = true;
};

// A registry on the in-memory store; reopen() is a new registry on another connection.
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
  ManualClock& clock() { return clock_; }
  void reopen() {
    r.reset();
    connection = data->connect();
    r = make();
  }
  static constexpr bool kDurable = false;
};

template <class Backend>
class PromotionEvidenceTest : public ::testing::Test {
 protected:
  // Registers a version and moves it to Staging; returns its number.
  std::int64_t staged(double seed = 1.0) {
    VersionMetadata m;
    m.metrics = {{"auc", 0.9}};
    m.owner = "risk-team";
    const auto v = registry()
                       .register_version(kModel, testing::logistic_artifact(seed), m,
                                         {.actor = "ci"})
                       ->version;
    registry().transition(kModel, v, Stage::kStaging, {.actor = "ci"});
    return v;
  }
  ModelRegistry& registry() { return b_.registry(); }

  // Promotion policies are held by the registry instance, not the store: a host sets them again
  // at startup, as reopen() does here.
  void set_policy(PromotionPolicy policy) {
    policy_ = policy;
    registry().set_promotion_policy(kModel, std::move(policy));
  }
  void reopen() {
    b_.reopen();
    if (policy_) registry().set_promotion_policy(kModel, *policy_);
  }

  // The whole registry as text: anything a failed call might have changed shows here.
  std::string everything() { return registry().export_json(); }

  // Expects `call` to throw E whose message contains every one of `parts`, changing nothing.
  template <class E, class Call>
  void refused(Call&& call, std::initializer_list<std::string> parts) {
    const std::string before = everything();
    try {
      call();
      ADD_FAILURE() << "accepted; expected an error naming " << *parts.begin();
    } catch (const E& e) {
      for (const auto& part : parts) {
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
            << "'" << part << "' not in: " << e.what();
      }
    }
    EXPECT_EQ(everything(), before) << "a refused call changed the registry";
    reopen();
    EXPECT_EQ(everything(), before) << "a refused call changed the store";
  }

  Backend b_;
  std::optional<PromotionPolicy> policy_;
};

using Backends = ::testing::Types<SqliteBackend, InMemoryBackend>;
TYPED_TEST_SUITE(PromotionEvidenceTest, Backends);

TYPED_TEST(PromotionEvidenceTest, evidence_is_recorded_with_the_transition_and_read_back) {
  auto& r = this->registry();
  const auto v1 = this->staged(1);
  r.transition(kModel, v1, Stage::kProduction, {.actor = "alice"});
  const auto v2 = this->staged(2);
  const std::vector<PromotionEvidence> evidence = {shadow(false), ab_test(true), sign_off()};
  r.transition(kModel, v2, Stage::kProduction,
               {.actor = "alice", .reason = "beats v1", .evidence = evidence});

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    const auto history = this->registry().history(kModel);
    ASSERT_GE(history.size(), 2u);
    const AuditRecord& promoted = history.back();
    EXPECT_EQ(promoted.version, v2);
    EXPECT_EQ(promoted.to_stage, Stage::kProduction);
    EXPECT_EQ(promoted.reason, "beats v1");
    EXPECT_EQ(promoted.evidence, evidence) << "every piece, passed or not, in the order given";
    const AuditRecord& archived = history[history.size() - 2];
    EXPECT_EQ(archived.version, v1);
    EXPECT_EQ(archived.to_stage, Stage::kArchived);
    EXPECT_TRUE(archived.evidence.empty()) << "the archived version's row carries none";
    for (std::size_t i = 0; i + 2 < history.size(); ++i) {
      EXPECT_TRUE(history[i].evidence.empty()) << "row " << i;
    }
    // Every form of the audit query returns the same rows, evidence included.
    const auto by_version = this->registry().audit({.model = kModel, .version = v2});
    ASSERT_FALSE(by_version.empty());
    EXPECT_EQ(by_version.back(), promoted);
    const auto limited = this->registry().audit(
        {.after_sequence = promoted.sequence - 1, .limit = 1});
    ASSERT_EQ(limited.size(), 1u);
    EXPECT_EQ(limited[0], promoted);
    EXPECT_EQ(this->registry().audit({}).back(), promoted);
    // A limit that stops before the promotion reads none of its evidence.
    const auto before = this->registry().audit({.model = kModel, .limit = history.size() - 1});
    EXPECT_EQ(before, std::vector<AuditRecord>(history.begin(), history.end() - 1));
  };
  check("as written");
  this->reopen();
  check("after a reopen");

  // An export carries it, and an import restores it.
  const std::string exported = this->registry().export_json();  // `r` went with the reopen
  EXPECT_NE(exported.find("\"detail_json\""), std::string::npos);
  InMemoryBackend other;
  // The artifacts of this test are in the store (small), so they travel inside the export.
  other.registry().import_json(exported);
  EXPECT_EQ(other.registry().history(kModel), this->registry().history(kModel));
  EXPECT_EQ(other.registry().export_json(), exported);
}

TYPED_TEST(PromotionEvidenceTest, evidence_on_other_transitions_is_recorded_and_not_required) {
  auto& r = this->registry();
  r.set_promotion_policy(kModel, {.require_any_of = {"shadow"}, .require_sign_off = true});
  VersionMetadata m;
  m.metrics = {{"auc", 0.9}};
  const auto v = r.register_version(kModel, testing::logistic_artifact(1), m)->version;
  const PromotionEvidence review{.kind = "review", .passed = true, .summary = "code review"};
  r.transition(kModel, v, Stage::kStaging, {.evidence = {review}});
  EXPECT_EQ(r.history(kModel).back().evidence, std::vector<PromotionEvidence>{review});
  r.transition(kModel, v, Stage::kArchived);
  EXPECT_EQ(r.get(kModel, v)->stage, Stage::kArchived) << "only Staging -> Production is checked";
}

TYPED_TEST(PromotionEvidenceTest, a_policy_requires_passed_shadow_or_ab_test_evidence) {
  this->set_policy({.require_any_of = {"shadow", "ab_test"}});
  auto& r = this->registry();
  EXPECT_EQ(r.promotion_policy(kModel).require_any_of,
            (std::vector<std::string>{"shadow", "ab_test"}));
  EXPECT_EQ(r.promotion_policy("other-model"), PromotionPolicy{}) << "default: nothing required";
  const auto v = this->staged();

  this->template refused<InvalidTransition>(
      [&] { this->registry().transition(kModel, v, Stage::kProduction, {.actor = "alice"}); },
      {"version " + std::to_string(v), "Staging to Production", "'shadow' or 'ab_test'",
       "no evidence"});
  this->template refused<InvalidTransition>(
      [&] {
        this->registry().transition(kModel, v, Stage::kProduction,
                                    {.evidence = {shadow(false), ab_test(false)}});
      },
      {"'shadow' or 'ab_test'", "shadow (not passed)", "ab_test (not passed)"});
  this->template refused<InvalidTransition>(
      [&] {
        this->registry().transition(kModel, v, Stage::kProduction,
                                    {.evidence = {{.kind = "canary", .passed = true}}});
      },
      {"'shadow' or 'ab_test'", "canary (passed)"});
  EXPECT_EQ(this->registry().get(kModel, v)->stage, Stage::kStaging);

  this->registry().transition(kModel, v, Stage::kProduction,
                              {.actor = "alice", .evidence = {shadow(false), ab_test(true)}});
  EXPECT_EQ(this->registry().get(kModel, v)->stage, Stage::kProduction);
  EXPECT_EQ(this->registry().history(kModel).back().evidence,
            (std::vector<PromotionEvidence>{shadow(false), ab_test(true)}));
}

TYPED_TEST(PromotionEvidenceTest, a_policy_can_require_a_sign_off) {
  this->set_policy({.require_any_of = {"shadow", "ab_test"}, .require_sign_off = true});
  const auto v = this->staged();
  this->template refused<InvalidTransition>(
      [&] {
        this->registry().transition(kModel, v, Stage::kProduction, {.evidence = {shadow(true)}});
      },
      {"a passed 'sign_off'", "shadow (passed)"});
  this->template refused<InvalidTransition>(
      [&] {
        this->registry().transition(kModel, v, Stage::kProduction,
                                    {.evidence = {shadow(true), sign_off(false)}});
      },
      {"a passed 'sign_off'", "sign_off (not passed)"});
  this->template refused<InvalidTransition>(
      [&] {
        this->registry().transition(kModel, v, Stage::kProduction, {.evidence = {sign_off()}});
      },
      {"requires passed evidence of kind 'shadow' or 'ab_test'; given: sign_off (passed)"});
  this->registry().transition(kModel, v, Stage::kProduction,
                              {.evidence = {sign_off(), shadow(true)}});
  EXPECT_EQ(this->registry().get(kModel, v)->stage, Stage::kProduction);

  // A sign-off alone, when that is all the policy asks.
  this->set_policy({.require_sign_off = true});
  const auto w = this->staged(2);
  this->template refused<InvalidTransition>(
      [&] { this->registry().transition(kModel, w, Stage::kProduction); }, {"'sign_off'"});
  this->registry().transition(kModel, w, Stage::kProduction, {.evidence = {sign_off()}});
  EXPECT_EQ(this->registry().get(kModel, w)->stage, Stage::kProduction);

  // Replacing the policy with the default lifts the requirement; rollbacks are never checked.
  this->set_policy({.require_any_of = {"shadow"}});
  EXPECT_EQ(this->registry().rollback(kModel, {.actor = "oncall"})->version, v);
  this->set_policy({});
  const auto x = this->staged(3);
  this->registry().transition(kModel, x, Stage::kProduction);
  EXPECT_EQ(this->registry().get(kModel, x)->stage, Stage::kProduction);
}

TYPED_TEST(PromotionEvidenceTest, malformed_evidence_is_refused_naming_the_field) {
  const auto v = this->staged();
  auto with = [&](std::vector<PromotionEvidence> evidence) {
    return [this, v, evidence] {
      this->registry().transition(kModel, v, Stage::kProduction, {.evidence = evidence});
    };
  };
  auto detail = [](std::string json) {
    return PromotionEvidence{.kind = "shadow", .passed = true, .detail_json = std::move(json)};
  };
  const std::string ref = "model 'fraud-detection' version " + std::to_string(v) + ": ";
  this->template refused<InvalidArgument>(with({{.kind = "", .passed = true}}),
                                          {ref + "evidence[0].kind is empty"});
  this->template refused<InvalidArgument>(with({shadow(true), {.kind = "ab test", .passed = true}}),
                                          {"evidence[1].kind 'ab test'", "contains a character"});
  this->template refused<InvalidArgument>(with({{.kind = "../shadow", .passed = true}}),
                                          {"evidence[0].kind"});
  this->template refused<InvalidArgument>(with({{.kind = std::string(65, 'k'), .passed = true}}),
                                          {"evidence[0].kind", "longer than 64"});
  this->template refused<InvalidArgument>(with({detail("{\"a\": ")}),
                                          {"evidence[0].detail_json JSON is malformed at byte"});
  this->template refused<InvalidArgument>(with({detail("[1, 2]")}),
                                          {"evidence[0].detail_json", "must be an object"});
  this->template refused<InvalidArgument>(with({detail("\"text\"")}),
                                          {"evidence[0].detail_json", "must be an object"});
  this->template refused<InvalidArgument>(with({detail("{} {}")}),
                                          {"evidence[0].detail_json", "text follows"});
  this->template refused<InvalidArgument>(with({detail(std::string("{}\0x", 4))}),
                                          {"evidence[0].detail_json holds a NUL"});
  // Just over the limit, as valid JSON: refused by size, not syntax.
  const std::string filler(kMaxEvidenceDetailBytes - 8, 'x');
  this->template refused<InvalidArgument>(
      with({detail("{\"a\": \"" + filler + "\"}")}),
      {"evidence[0].detail_json is " + std::to_string(kMaxEvidenceDetailBytes + 1) + " bytes",
       "limit of " + std::to_string(kMaxEvidenceDetailBytes)});
  this->template refused<InvalidArgument>(
      with({{.kind = "shadow", .passed = true, .summary = "two\nlines"}}),
      {"evidence[0].summary", "line break"});
  this->template refused<InvalidArgument>(
      with({{.kind = "shadow", .passed = true,
             .summary = std::string(kMaxEvidenceSummaryBytes + 1, 's')}}),
      {"evidence[0].summary is"});
  this->template refused<InvalidArgument>(
      with(std::vector<PromotionEvidence>(kMaxEvidencePerTransition + 1, sign_off())),
      {"evidence has " + std::to_string(kMaxEvidencePerTransition + 1) + " entries"});
  EXPECT_EQ(this->registry().get(kModel, v)->stage, Stage::kStaging);

  // At the limits exactly, it is accepted and read back whole.
  const std::string exact(kMaxEvidenceDetailBytes - 9, 'x');
  const std::vector<PromotionEvidence> largest(
      1, detail("{\"a\": \"" + exact + "\"}"));
  ASSERT_EQ(largest[0].detail_json.size(), kMaxEvidenceDetailBytes);
  this->registry().transition(kModel, v, Stage::kProduction, {.evidence = largest});
  this->reopen();
  EXPECT_EQ(this->registry().history(kModel).back().evidence, largest);
}

TYPED_TEST(PromotionEvidenceTest, policies_are_checked) {
  auto& r = this->registry();
  EXPECT_THROW(r.set_promotion_policy("no_dash", {}), InvalidArgument);
  try {
    r.set_promotion_policy(kModel, {.require_any_of = {"shadow", "a/b"}});
    ADD_FAILURE() << "a policy with a bad kind was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("require_any_of[1] 'a/b'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(r.promotion_policy(kModel), PromotionPolicy{}) << "a refused policy is not set";

  // Held by the registry instance, in memory, like the validation policy: not in the store.
  r.set_promotion_policy(kModel, {.require_sign_off = true});
  EXPECT_TRUE(r.promotion_policy(kModel).require_sign_off);
  this->b_.reopen();
  EXPECT_EQ(this->registry().promotion_policy(kModel), PromotionPolicy{});
}

// ---- what the stores refuse and read back -----------------------------------------------------

TEST(PromotionEvidenceStoreTest, both_stores_refuse_evidence_they_could_not_read_back) {
  InMemoryRegistryStore memory;
  testing::TempDir dir;
  SqliteRegistryStore sqlite({.path = (dir.path() / "registry.db").string()});
  for (RegistryStore* store : {static_cast<RegistryStore*>(&memory),
                               static_cast<RegistryStore*>(&sqlite)}) {
    SCOPED_TRACE(store->describe());
    AuditRecord r;
    r.model = kModel;
    r.version = 1;
    r.action = "transition";
    r.evidence = {sign_off(), {.kind = "shadow", .detail_json = "not json"}};
    {
      auto tx = store->begin();
      try {
        tx->append_audit(r);
        ADD_FAILURE() << "appended malformed evidence";
      } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("audit evidence[1].detail_json"), std::string::npos)
            << e.what();
      }
      r.evidence.pop_back();
      tx->append_audit(r);
      tx->commit();
    }
    const auto rows = store->audit({});
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].evidence, std::vector<PromotionEvidence>{sign_off()});
  }
}

class EvidenceRowsTest : public ::testing::Test {
 protected:
  // A store with one promotion carrying two pieces of evidence (sequence 4).
  EvidenceRowsTest() {
    f_.add(kModel, 0.9);
    f_.registry->transition(kModel, 1, Stage::kStaging);
    f_.registry->transition(kModel, 1, Stage::kProduction,
                            {.evidence = {shadow(true), sign_off()}});
    promoted_ = f_.registry->history(kModel).back().sequence;
    f_.registry.reset();
    f_.store.reset();
  }

  // The CorruptStore message of reading the audit trail after `sql`, "" when none.
  std::string after(const std::string& sql) {
    RawDb(f_.db_path()).exec(sql);
    auto store = testing::open_store(f_.db_path());
    try {
      (void)store->audit({});
    } catch (const CorruptStore& e) {
      const std::string message = e.what();
      // The transaction's read of the same rows (rollback reads the history) agrees.
      auto tx = store->begin();
      EXPECT_THROW((void)tx->history(kModel), CorruptStore);
      return message;
    }
    return "";
  }

  testing::RegistryFixture f_;
  std::int64_t promoted_ = 0;
};

TEST_F(EvidenceRowsTest, hostile_evidence_rows_are_corrupt_store_naming_the_row) {
  const std::string seq = std::to_string(promoted_);
  const std::string row = "audit_evidence row (sequence " + seq + ", position ";
  struct Case {
    std::string sql;
    std::string expected;
  };
  const Case cases[] = {
      {"UPDATE audit_evidence SET passed = 2 WHERE position = 0",
       row + "0): column 'passed' holds 2, not 0 or 1"},
      {"UPDATE audit_evidence SET passed = 'yes' WHERE position = 0",
       row + "0): column 'passed' holds text, not an integer"},
      {"UPDATE audit_evidence SET kind = 'no such/kind' WHERE position = 1",
       row + "1): column 'kind' is not valid: kind 'no such/kind'"},
      {"UPDATE audit_evidence SET detail_json = '{\"a\":' WHERE position = 0",
       row + "0): column 'detail_json' is not valid: detail_json JSON is malformed"},
      {"UPDATE audit_evidence SET detail_json = '[]' WHERE position = 0",
       row + "0): column 'detail_json' is not valid"},
      {"UPDATE audit_evidence SET detail_json = x'7b7d' WHERE position = 0",
       row + "0): column 'detail_json' holds a blob, not text"},
      {"UPDATE audit_evidence SET detail_json = printf('{\"a\":\"%.*c\"}', 1100000, 'x') "
       "WHERE position = 0",
       row + "0): column 'detail_json' holds 1100008 bytes, over the limit of 1048576"},
      {"UPDATE audit_evidence SET summary = 'two' || char(10) || 'lines' WHERE position = 0",
       row + "0): column 'summary' is not valid"},
      {"DELETE FROM audit_evidence WHERE position = 0",
       row + "1): column 'position' holds 1, expected 0"},
      {"UPDATE audit_evidence SET position = 7 WHERE position = 1",
       row + "7): column 'position' holds 7, expected 1"},
  };
  const fs::path pristine = f_.dir.path() / "pristine.db";
  fs::copy_file(f_.db_path(), pristine);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.sql);
    fs::copy_file(pristine, f_.db_path(), fs::copy_options::overwrite_existing);
    fs::remove(f_.db_path().string() + "-wal");
    fs::remove(f_.db_path().string() + "-shm");
    const std::string message = after(c.sql);
    EXPECT_NE(message.find(c.expected), std::string::npos)
        << "got: " << (message.empty() ? "no CorruptStore" : message);
    EXPECT_NE(message.find(f_.db_path().string()), std::string::npos) << message;
  }
}

TEST_F(EvidenceRowsTest, evidence_rows_in_the_way_of_a_new_audit_row_are_corrupt_store) {
  // Written with foreign keys off, for an audit row that does not exist yet: the second row
  // after the promotion (the first is the next registration).
  const std::string next = std::to_string(promoted_ + 2);
  RawDb(f_.db_path()).exec("INSERT INTO audit_evidence VALUES (" + next +
                           ", 0, 'shadow', 1, '', '', '')");
  f_.reopen();
  EXPECT_EQ(f_.registry->history(kModel).back().evidence.size(), 2u) << "orphans are not read";
  f_.add(kModel, 0.9, 2);
  const std::string before = f_.registry->export_json();
  try {
    f_.registry->transition(kModel, 2, Stage::kStaging, {.evidence = {sign_off()}});
    ADD_FAILURE() << "evidence written over an orphaned row";
  } catch (const CorruptStore& e) {
    EXPECT_NE(std::string(e.what()).find("audit_evidence already holds a row"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(f_.registry->export_json(), before);
}

// ---- schema version 3 ----------------------------------------------------------------------------

TEST(PromotionEvidenceMigrationTest, a_version_2_store_migrates_to_version_3_keeping_every_row) {
  testing::RegistryFixture f;
  // A registry's worth of rows: versions in every stage, aliases, a rollback, store artifacts.
  f.add_production(kModel, 0.9, 1);
  f.add_production(kModel, 0.91, 2);
  f.registry->rollback(kModel, {.actor = "oncall", .reason = "latency"});
  f.add(kModel, 0.5, 3);
  f.registry->transition(kModel, 3, Stage::kRejected);
  f.registry->set_alias(kModel, "champion", 1);
  f.add("churn-model", 0.7, 4);
  const std::string before = f.registry->export_json();
  const auto history = f.registry->history(kModel);
  f.registry.reset();
  f.store.reset();
  {
    RawDb raw(f.db_path());  // what schema version 2 looked like
    testing::downgrade_schema(raw, 2);
  }
  try {
    SqliteRegistryStore read_only({.path = f.db_path().string(), .read_only = true});
    ADD_FAILURE() << "a read-only store was opened without its migration";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 2 and must be migrated to " +
                                           std::to_string(kSqliteSchemaVersion)),
              std::string::npos)
        << e.what();
  }
  f.reopen();
  EXPECT_EQ(RawDb(f.db_path()).text("PRAGMA user_version"), std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(RawDb(f.db_path()).text("SELECT count(*) FROM audit_evidence"), "0");
  EXPECT_EQ(f.registry->export_json(), before) << "every row kept";
  EXPECT_EQ(f.registry->history(kModel), history);

  // The migrated store takes evidence, and opening it again migrates nothing.
  const auto v = f.add(kModel, 0.92, 5);
  f.registry->transition(kModel, v, Stage::kStaging);
  f.registry->transition(kModel, v, Stage::kProduction, {.evidence = {ab_test(true)}});
  const std::string after = f.registry->export_json();
  f.reopen();
  EXPECT_EQ(RawDb(f.db_path()).text("PRAGMA user_version"), std::to_string(kSqliteSchemaVersion));
  EXPECT_EQ(f.registry->export_json(), after);
  EXPECT_EQ(f.registry->history(kModel).back().evidence,
            std::vector<PromotionEvidence>{ab_test(true)});
}

// ---- JSON ---------------------------------------------------------------------------------------

AuditRecord record_with_evidence() {
  AuditRecord r;
  r.sequence = 9;
  r.at = from_unix_nanos(1'700'000'000'000'000'000);
  r.actor = "alice";
  r.model = kModel;
  r.version = 3;
  r.action = "transition";
  r.from_stage = Stage::kStaging;
  r.to_stage = Stage::kProduction;
  r.evidence = {shadow(false), ab_test(true), sign_off()};
  return r;
}

TEST(PromotionEvidenceJsonTest, audit_records_carry_evidence_both_ways) {
  const AuditRecord r = record_with_evidence();
  for (JsonStyle style : {JsonStyle::kPretty, JsonStyle::kCompact}) {
    const std::string text = to_json(r, style);
    EXPECT_NE(text.find("\"passed\": false"), std::string::npos) << text;
    EXPECT_EQ(from_json<AuditRecord>(text), r) << text;
  }
  // Through a host's own cereal archive too.
  std::ostringstream os;
  {
    cereal::JSONOutputArchive ar(os);
    ar(cereal::make_nvp("record", r));
  }
  AuditRecord back;
  {
    std::istringstream is(os.str());
    cereal::JSONInputArchive ar(is);
    ar(cereal::make_nvp("record", back));
  }
  EXPECT_EQ(back, r);
}

TEST(PromotionEvidenceJsonTest, a_record_written_before_evidence_existed_reads_without_it) {
  AuditRecord r = record_with_evidence();
  r.evidence.clear();
  std::string text = to_json(r, JsonStyle::kCompact);
  const std::string member = ",\"evidence\": []";
  ASSERT_NE(text.find(member), std::string::npos) << text;
  text.erase(text.find(member), member.size());
  EXPECT_EQ(from_json<AuditRecord>(text), r);
  std::istringstream is("{\"record\": " + text + "}");
  cereal::JSONInputArchive ar(is);
  AuditRecord back = record_with_evidence();
  ar(cereal::make_nvp("record", back));
  EXPECT_EQ(back, r);
}

TEST(PromotionEvidenceJsonTest, mistyped_evidence_is_refused_naming_the_field) {
  const std::string text = to_json(record_with_evidence(), JsonStyle::kCompact);
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string out = text;
    out.replace(out.find(from), from.size(), to);
    return out;
  };
  const std::pair<std::string, std::string> cases[] = {
      {replaced("\"passed\": false", "\"passed\": \"no\""),
       "field 'evidence[0].passed' must be true or false"},
      {replaced("\"passed\": false", "\"passed\": 0"),
       "field 'evidence[0].passed' must be true or false"},
      {replaced("\"kind\": \"ab_test\"", "\"kind\": 7"), "field 'evidence[1].kind' must be a string"},
      {replaced("\"evidence\": [", "\"evidence\": 5,\"unused\": ["),
       "field 'evidence' must be an array"},
  };
  for (const auto& [json, expected] : cases) {
    SCOPED_TRACE(json);
    try {
      (void)from_json<AuditRecord>(json);
      ADD_FAILURE() << "accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

}  // namespace promotion_evidence_test
}  // namespace
}  // namespace switchyard
