// SPDX-License-Identifier: Apache-2.0
// Deployment's observers (the interface shadow and drift implement) and failed-request reporting.
#include <switchyard/serving/deployment.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/fake_models.hpp"

namespace switchyard {
namespace {
namespace request_observer_test {

using testing::ConstantModel;

const double kRow[3] = {1.0, 2.0, 3.0};
TensorView row() { return TensorView(kRow, Shape{1, 3}); }

struct Seen {
  std::int64_t version;
  std::string variant;
  std::string key;
  bool ok;
  ErrorCode error;
  bool fell_back;
  std::int32_t label;
  double first_feature;
  std::string country;
};

// Copies what it is handed, as a shadow queue would.
class Recorder final : public RequestObserver {
 public:
  void on_request(const ObservedRequest& r) override {
    Seen s{r.version, std::string(r.variant), std::string(r.key), r.ok, r.error, r.fell_back,
           r.prediction ? r.prediction->labels.at(0) : -1,
           r.input->front().values<double>()[0], ""};
    for (const auto& a : r.attributes) {
      if (a.name == "country") s.country = std::string(a.value);
    }
    seen.push_back(s);
  }
  std::vector<Seen> seen;
};

class Throwing final : public RequestObserver {
 public:
  void on_request(const ObservedRequest&) override { throw std::runtime_error("observer bug"); }
};

struct Fixture {
  StaticModelSource source;
  std::shared_ptr<ConstantModel> v1 = std::make_shared<ConstantModel>(0, 0.8);
  std::shared_ptr<ConstantModel> v2 = std::make_shared<ConstantModel>(1, 0.6);
  Deployment d{{.model = "fraud-detection", .source = &source}};
  Fixture() {
    source.add("fraud-detection", 1, v1);
    source.add("fraud-detection", 2, v2);
    RoutingPolicy p;
    p.variants = {{"stable", 1, 1}, {"canary", 2, 0}};
    p.fallback_variant = "canary";
    d.router().set_policy(p);
  }
};

TEST(RequestObserverTest, observers_see_answers_failures_and_the_request) {
  Fixture f;
  auto rec = std::make_shared<Recorder>();
  f.d.add_observer(rec);
  const Attribute attrs[] = {{"country", "DE"}};
  ASSERT_TRUE(f.d.predict({.key = "u1", .input = row(), .attributes = attrs}).ok());
  ASSERT_FALSE(f.d.predict({.key = "u2", .input = row(), .version = 9}).ok());
  f.v1->set_failing(true);
  auto fb = f.d.predict({.key = "u3", .input = row()});
  ASSERT_TRUE(fb.ok());
  ASSERT_EQ(rec->seen.size(), 3u);
  EXPECT_EQ(rec->seen[0].version, 1);
  EXPECT_EQ(rec->seen[0].variant, "stable");
  EXPECT_EQ(rec->seen[0].key, "u1");
  EXPECT_TRUE(rec->seen[0].ok);
  EXPECT_EQ(rec->seen[0].label, 0);
  EXPECT_EQ(rec->seen[0].first_feature, 1.0);
  EXPECT_EQ(rec->seen[0].country, "DE");
  EXPECT_FALSE(rec->seen[1].ok);
  EXPECT_EQ(rec->seen[1].error, ErrorCode::kNotFound);
  EXPECT_EQ(rec->seen[1].version, 9);
  EXPECT_TRUE(rec->seen[2].ok);
  EXPECT_TRUE(rec->seen[2].fell_back);
  EXPECT_EQ(rec->seen[2].version, 2);
  EXPECT_EQ(rec->seen[2].label, 1);
}

TEST(RequestObserverTest, a_throwing_observer_changes_no_answer_and_is_counted) {
  Fixture f;
  auto rec = std::make_shared<Recorder>();
  f.d.add_observer(std::make_shared<Throwing>());
  f.d.add_observer(rec);
  auto r = f.d.predict({.key = "u", .input = row()});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(f.d.observer_errors(), 1u);
  EXPECT_EQ(rec->seen.size(), 1u) << "the observer after the throwing one still runs";
}

TEST(RequestObserverTest, removed_observers_are_not_called_and_stay_alive_while_held) {
  Fixture f;
  auto rec = std::make_shared<Recorder>();
  f.d.add_observer(rec);
  EXPECT_EQ(rec.use_count(), 2);
  ASSERT_TRUE(f.d.predict({.key = "u", .input = row()}).ok());
  EXPECT_TRUE(f.d.remove_observer(rec.get()));
  EXPECT_FALSE(f.d.remove_observer(rec.get()));
  ASSERT_TRUE(f.d.predict({.key = "u", .input = row()}).ok());
  EXPECT_EQ(rec->seen.size(), 1u);
  EXPECT_THROW(f.d.add_observer(nullptr), InvalidArgument);
}

TEST(RequestObserverTest, prediction_served_reports_failed_requests_with_ok_false) {
  Fixture f;
  EventHub hub;
  Deployment d({.model = "fraud-detection", .source = &f.source, .events = &hub});
  RoutingPolicy p = RoutingPolicy::single(1);
  p.fallback_on_error = false;
  d.router().set_policy(p);
  std::vector<std::pair<bool, ErrorCode>> events;
  hub.connect_prediction(
      [&](const PredictionEvent& e) { events.emplace_back(e.ok, e.error); });
  ASSERT_TRUE(d.predict({.key = "u", .input = row()}).ok());
  f.v1->set_failing(true);
  EXPECT_EQ(d.predict({.key = "u", .input = row()}).status().code(), ErrorCode::kModelFailed);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].first);
  EXPECT_FALSE(events[1].first);
  EXPECT_EQ(events[1].second, ErrorCode::kModelFailed);
}

}  // namespace request_observer_test
}  // namespace
}  // namespace switchyard
