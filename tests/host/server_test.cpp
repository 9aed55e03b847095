// SPDX-License-Identifier: Apache-2.0
// RestApi, the routes of switchyard-server, called directly (no socket): seed 002's API, every
// error case with its status and field, the token checks, restarts on the same data directory,
// and the sentiment model it trains.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <switchyard/registry/in_memory_registry_store.hpp>

#include "dashboard.hpp"
#include "rest_api.hpp"
#include "text_classifier.hpp"

namespace server_test {

namespace fs = std::filesystem;
using nlohmann::json;
using switchyard::server::HttpRequest;
using switchyard::server::HttpResponse;
using switchyard::server::RestApi;

struct Answer {
  int status = 0;
  json body;
  HttpResponse raw;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("switchyard_server_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    api_.reset();
    fs::remove_all(dir_);
  }

  RestApi& api(const std::string& token = "") {
    if (!api_) {
      api_ = std::make_unique<RestApi>(
          RestApi::Options{.data_dir = dir_,
                           .token = token,
                           .clock = clock_option_,
                           .prediction_log = prediction_log_,
                           .store = store_option_,
                           .follow_store = follow_store_,
                           .registry_status = registry_status_,
                           .max_staleness = max_staleness_});
    }
    return *api_;
  }
  void restart(const std::string& token = "") {
    api_.reset();
    api(token);
  }

  Answer call(std::string_view method, std::string_view target, std::string_view body = "",
              std::vector<std::pair<std::string_view, std::string_view>> headers = {}) {
    HttpRequest r{method, target, std::move(headers), body};
    Answer a;
    a.raw = api().handle(r);
    a.status = a.raw.status;
    if (a.raw.content_type == "application/json") a.body = json::parse(a.raw.body);
    return a;
  }
  Answer post(std::string_view target, const json& body,
              std::vector<std::pair<std::string_view, std::string_view>> headers = {}) {
    const std::string text = body.dump();
    return call("POST", target, text, std::move(headers));
  }
  std::string register_model(const std::string& name, const std::string& version) {
    const Answer a = post("/models", {{"name", name}, {"version", version}, {"accuracy", 0.9}});
    EXPECT_EQ(a.status, 201) << a.raw.body;
    return a.body.value("model_id", "");
  }
  static void expect_error(const Answer& a, int status, const json& field) {
    EXPECT_EQ(a.status, status) << a.raw.body;
    ASSERT_TRUE(a.body.is_object()) << a.raw.body;
    EXPECT_TRUE(a.body["error"].is_string()) << a.raw.body;
    EXPECT_EQ(a.body["field"], field) << a.raw.body;
  }

  // Registers v1 and v2 of "sentiment", v1 in Production with all the traffic, v2 in Staging.
  std::pair<std::string, std::string> stable_and_candidate() {
    const std::string v1 = register_model("sentiment", "1.0.0");
    const std::string v2 = register_model("sentiment", "2.0.0");
    EXPECT_EQ(post("/models/" + v1 + "/transition", {{"stage", "Staging"}}).status, 200);
    EXPECT_EQ(post("/models/" + v1 + "/transition", {{"stage", "Production"}}).status, 200);
    EXPECT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
    EXPECT_EQ(post("/models/" + v2 + "/transition", {{"stage", "Staging"}}).status, 200);
    return {v1, v2};
  }
  int traffic_of(const std::string& model_id) {
    const Answer list = call("GET", "/models");
    for (const auto& m : list.body["models"]) {
      if (m["model_id"] == model_id) return m["traffic_percent"].get<int>();
    }
    return -1;
  }

  fs::path dir_;
  switchyard::ManualClock clock_;
  const switchyard::Clock* clock_option_ = nullptr;  // tests of time set it to &clock_
  // GET /health's registry freshness: a follower on the store, or a fake status source.
  switchyard::RegistryStore* store_option_ = nullptr;
  std::function<bool(std::chrono::milliseconds)> follow_store_;
  std::function<switchyard::FollowerStatus()> registry_status_;
  std::chrono::milliseconds max_staleness_{30'000};
  bool prediction_log_ = false;
  std::unique_ptr<RestApi> api_;
};

// ---- seed 002's walkthrough ------------------------------------------------------------------

TEST_F(ServerTest, register_answers_as_seed_002_shows) {
  const Answer a = post("/models", {{"name", "sentiment-model"},
                                    {"version", "1.0.0"},
                                    {"accuracy", 0.85},
                                    {"description", "Initial production model"}});
  ASSERT_EQ(a.status, 201) << a.raw.body;
  EXPECT_TRUE(a.body["model_id"].get<std::string>().starts_with("model-"));
  EXPECT_EQ(a.body["name"], "sentiment-model");
  EXPECT_EQ(a.body["version"], "1.0.0");
  EXPECT_EQ(a.body["status"], "inactive");
  EXPECT_EQ(a.body["traffic_percent"], 0);
  EXPECT_EQ(a.body["registry_version"], 1);
  EXPECT_EQ(a.body["stage"], "Development");
  EXPECT_DOUBLE_EQ(a.body["accuracy"].get<double>(), 0.85);
}

TEST_F(ServerTest, seed_002_walkthrough_splits_pins_and_reports) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  ASSERT_NE(v1, v2);
  // Seed 002's testing loop sends activate without a Content-Type header: none is needed here.
  EXPECT_EQ(call("POST", "/models/" + v1 + "/activate", R"({"traffic_percent": 70})").status, 200);
  const Answer act = call("POST", "/models/" + v2 + "/activate", R"({"traffic_percent": 30})");
  ASSERT_EQ(act.status, 200) << act.raw.body;
  EXPECT_EQ(act.body["status"], "active");
  EXPECT_EQ(act.body["traffic_percent"], 30);

  std::map<std::string, int> served;
  for (int i = 0; i < 1000; ++i) {
    const Answer p = post("/predict", {{"text", "Great product!"}});
    ASSERT_EQ(p.status, 200) << p.raw.body;
    EXPECT_EQ(p.body["prediction"], "positive");
    EXPECT_GT(p.body["confidence"].get<double>(), 0.5);
    EXPECT_EQ(p.body["model_id"], p.body["model_version"] == "1.0.0" ? v1 : v2);
    ++served[p.body["model_version"].get<std::string>()];
  }
  // Random (non-sticky) routing at 70/30: Binomial(1000, 0.7) has sd 14.5; 700 +- 73 is 5 sd.
  EXPECT_NEAR(served["1.0.0"], 700, 73);
  EXPECT_EQ(served["1.0.0"] + served["2.0.0"], 1000);

  // Pinned, whatever the split says.
  for (int i = 0; i < 20; ++i) {
    const Answer p = post("/predict", {{"text", "Great product!"}, {"model_version", "1.0.0"}});
    ASSERT_EQ(p.status, 200);
    EXPECT_EQ(p.body["model_version"], "1.0.0");
    EXPECT_EQ(p.body["model_id"], v1);
  }

  const Answer perf = call("GET", "/models/performance");
  ASSERT_EQ(perf.status, 200);
  ASSERT_EQ(perf.body["models"].size(), 2u) << perf.raw.body;
  std::uint64_t total = 0;
  for (const auto& m : perf.body["models"]) {
    total += m["request_count"].get<std::uint64_t>();
    EXPECT_GT(m["avg_confidence"].get<double>(), 0.5);
    EXPECT_GE(m["avg_latency_ms"].get<double>(), 0.0);
  }
  EXPECT_EQ(total, 1020u);
  const std::string rec = perf.body["recommendation"];
  EXPECT_NE(rec.find("sentiment: "), std::string::npos) << rec;
  EXPECT_NE(rec.find(v1), std::string::npos) << rec;  // names model ids, not registry numbers

  const Answer active = call("GET", "/models?status=active");
  ASSERT_EQ(active.status, 200);
  EXPECT_EQ(active.body["models"].size(), 2u);
  EXPECT_EQ(call("GET", "/models?status=inactive").body["models"].size(), 0u);
  EXPECT_EQ(call("GET", "/models").body["models"].size(), 2u);
}

TEST_F(ServerTest, a_key_routes_sticky_and_sends_no_key_at_random) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 50}}).status, 200);
  ASSERT_EQ(post("/models/" + v2 + "/activate", {{"traffic_percent", 50}}).status, 200);
  for (const char* field : {"key", "user_id"}) {
    const std::string first =
        post("/predict", {{"text", "fine"}, {field, "user-42"}}).body["model_version"];
    for (int i = 0; i < 30; ++i) {
      EXPECT_EQ(post("/predict", {{"text", "fine"}, {field, "user-42"}}).body["model_version"],
                first);
    }
  }
  std::map<std::string, int> served;
  for (int i = 0; i < 60; ++i) ++served[post("/predict", {{"text", "fine"}}).body["model_version"]];
  EXPECT_EQ(served.size(), 2u);  // P(all 60 on one arm) = 2^-59
}

TEST_F(ServerTest, one_active_version_takes_all_traffic_and_zero_deactivates) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 80}}).status, 200);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(post("/predict", {{"text", "ok"}}).body["model_id"], v1);
  ASSERT_EQ(post("/models/" + v2 + "/activate", {{"traffic_percent", 20}}).status, 200);
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 0}}).status, 200);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(post("/predict", {{"text", "ok"}}).body["model_id"], v2);
  const Answer inactive = call("GET", "/models?status=inactive");
  ASSERT_EQ(inactive.body["models"].size(), 1u);
  EXPECT_EQ(inactive.body["models"][0]["model_id"], v1);
}

TEST_F(ServerTest, the_sentiment_models_tell_positive_from_negative) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  ASSERT_EQ(post("/models/" + v2 + "/activate", {{"traffic_percent", 100}}).status, 200);
  for (const char* version : {"1.0.0", "2.0.0"}) {
    EXPECT_EQ(
        post("/predict", {{"text", "I love it, excellent quality"}, {"model_version", version}})
            .body["prediction"],
        "positive");
    EXPECT_EQ(post("/predict", {{"text", "Terrible, it broke and support was rude"},
                                {"model_version", version}})
                  .body["prediction"],
              "negative");
  }
  const auto [small, full] = api().training_accuracy();
  EXPECT_GE(small, 0.75);  // trained on half the set, measured on all of it
  EXPECT_GE(full, 0.95);
}

TEST_F(ServerTest, registry_and_split_survive_a_restart) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 70}}).status, 200);
  ASSERT_EQ(post("/models/" + v2 + "/activate", {{"traffic_percent", 30}}).status, 200);
  restart();
  const Answer list = call("GET", "/models?status=active");
  ASSERT_EQ(list.body["models"].size(), 2u) << list.raw.body;
  EXPECT_EQ(list.body["models"][0]["model_id"], v1);
  EXPECT_EQ(list.body["models"][0]["traffic_percent"], 70);
  EXPECT_EQ(post("/predict", {{"text", "good"}, {"model_version", "2.0.0"}}).body["model_id"], v2);
  EXPECT_EQ(post("/predict", {{"text", "good"}}).status, 200);
}

TEST_F(ServerTest, a_fresh_data_directory_starts_empty) {
  EXPECT_EQ(call("GET", "/models").body["models"].size(), 0u);
  expect_error(post("/predict", {{"text", "hello"}}), 503, nullptr);
  EXPECT_EQ(call("GET", "/ready").status, 503);
  EXPECT_EQ(call("GET", "/models/performance").body["models"].size(), 0u);
}

TEST_F(ServerTest, predictions_run_concurrently_with_activations) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 70}}).status, 200);
  ASSERT_EQ(post("/models/" + v2 + "/activate", {{"traffic_percent", 30}}).status, 200);
  RestApi& server = api();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      const std::string body = R"({"text": "Great product!"})";
      for (int i = 0; i < kPerThread; ++i) {
        const HttpResponse r = server.handle({"POST", "/predict", {}, body});
        if (r.status != 200) failed.fetch_add(1);
      }
    });
  }
  // Swing the split back and forth while they run (each step keeps the total at most 100).
  for (int i = 0; i < 10; ++i) {
    const bool to_v2 = i % 2 == 0;
    EXPECT_EQ(post("/models/" + (to_v2 ? v1 : v2) + "/activate", {{"traffic_percent", 30}}).status,
              200);
    EXPECT_EQ(post("/models/" + (to_v2 ? v2 : v1) + "/activate", {{"traffic_percent", 70}}).status,
              200);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  std::uint64_t total = 0;
  const Answer perf = call("GET", "/models/performance");
  ASSERT_EQ(perf.status, 200) << perf.raw.body;
  for (const auto& m : perf.body["models"]) {
    total += m["request_count"].get<std::uint64_t>();
  }
  EXPECT_EQ(total, static_cast<std::uint64_t>(kThreads * kPerThread));
}

// ---- errors -------------------------------------------------------------------------------------

TEST_F(ServerTest, bad_registrations_name_their_field) {
  expect_error(call("POST", "/models", "{\"name\": "), 400, nullptr);
  expect_error(call("POST", "/models", "[1, 2]"), 400, nullptr);
  expect_error(post("/models", {{"version", "1.0.0"}}), 400, "name");
  expect_error(post("/models", {{"name", 7}, {"version", "1.0.0"}}), 400, "name");
  expect_error(post("/models", {{"name", "bad name/x"}, {"version", "1.0.0"}}), 400, "name");
  expect_error(post("/models", {{"name", "sentiment"}}), 400, "version");
  expect_error(post("/models", {{"name", "sentiment"}, {"version", "one"}}), 400, "version");
  expect_error(post("/models", {{"name", "sentiment"}, {"version", "1.0.0"}, {"accuracy", "high"}}),
               400, "accuracy");
  expect_error(post("/models", {{"name", "sentiment"}, {"version", "1.0.0"}, {"accuracy", 1.5}}),
               400, "accuracy");
  expect_error(
      post("/models", {{"name", "sentiment"}, {"version", "1.0.0"}, {"description", false}}), 400,
      "description");
  register_model("sentiment", "1.0.0");
  expect_error(post("/models", {{"name", "sentiment"}, {"version", "1.0.0"}}), 409, "version");
  EXPECT_EQ(call("GET", "/models").body["models"].size(), 1u);  // nothing half-written
}

TEST_F(ServerTest, bad_activations_name_their_field) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  expect_error(post("/models/model-nope/activate", {{"traffic_percent", 10}}), 404, "model_id");
  expect_error(call("POST", "/models/" + v1 + "/activate", "{"), 400, nullptr);
  expect_error(post("/models/" + v1 + "/activate", json::object()), 400, "traffic_percent");
  expect_error(post("/models/" + v1 + "/activate", {{"traffic_percent", "70"}}), 400,
               "traffic_percent");
  expect_error(post("/models/" + v1 + "/activate", {{"traffic_percent", -1}}), 400,
               "traffic_percent");
  expect_error(post("/models/" + v1 + "/activate", {{"traffic_percent", 101}}), 400,
               "traffic_percent");
  expect_error(post("/models/" + v1 + "/activate", {{"traffic_percent", 12.5}}), 400,
               "traffic_percent");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 80}}).status, 200);
  const Answer over = post("/models/" + v2 + "/activate", {{"traffic_percent", 30}});
  expect_error(over, 400, "traffic_percent");
  EXPECT_NE(over.body["error"].get<std::string>().find("110%"), std::string::npos);
  // The refused change left the split as it was.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(post("/predict", {{"text", "ok"}}).body["model_id"], v1);
}

TEST_F(ServerTest, bad_predictions_name_their_field) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  expect_error(post("/predict", {{"text", "hi"}}), 503, nullptr);  // registered, not active
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
  expect_error(call("POST", "/predict", "{\"text\": \"unterminated"), 400, nullptr);
  expect_error(call("POST", "/predict", "\"text\""), 400, nullptr);
  expect_error(post("/predict", json::object()), 400, "text");
  expect_error(post("/predict", {{"text", 42}}), 400, "text");
  expect_error(post("/predict", {{"text", ""}}), 400, "text");
  expect_error(post("/predict", {{"text", "hi"}, {"model_version", 1}}), 400, "model_version");
  expect_error(post("/predict", {{"text", "hi"}, {"model_version", "9.9.9"}}), 404,
               "model_version");
  expect_error(post("/predict", {{"text", "hi"}, {"model", "nope"}}), 404, "model");
  expect_error(post("/predict", {{"text", "hi"}, {"key", 5}}), 400, "key");
  EXPECT_EQ(post("/predict", {{"text", "hi"}, {"model", "sentiment"}}).status, 200);
}

TEST_F(ServerTest, oversized_bodies_unknown_routes_and_methods) {
  const std::string big(2u << 20, 'x');
  expect_error(call("POST", "/predict", big), 413, "body");
  expect_error(call("GET", "/nope"), 404, nullptr);
  expect_error(call("GET", "/models/x/activate"), 405, nullptr);
  expect_error(call("DELETE", "/models"), 405, nullptr);
  expect_error(call("GET", "/models?status=paused"), 400, "status");
  expect_error(call("GET", "/models/%zz/activate"), 400, nullptr);
}

TEST_F(ServerTest, transitions_report_gates_and_refuse_illegal_moves) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  expect_error(post("/models/" + v1 + "/transition", {{"stage", "Production"}}), 409, "stage");
  expect_error(post("/models/" + v1 + "/transition", {{"stage", "Live"}}), 400, "stage");
  const Answer staging = post("/models/" + v1 + "/transition", {{"stage", "Staging"}});
  ASSERT_EQ(staging.status, 200) << staging.raw.body;
  EXPECT_EQ(staging.body["stage"], "Staging");
  EXPECT_EQ(staging.body["status"], "testing");
  EXPECT_TRUE(staging.body["gate_report"]["passed"].get<bool>());
  EXPECT_EQ(call("GET", "/models?status=testing").body["models"].size(), 1u);
  const Answer prod = post("/models/" + v1 + "/transition", {{"stage", "Production"}});
  ASSERT_EQ(prod.status, 200) << prod.raw.body;
  EXPECT_EQ(prod.body["stage"], "Production");
}

TEST_F(ServerTest, rollback_restores_the_last_production_version_with_its_traffic) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  for (const auto& id : {v1, v2}) {
    ASSERT_EQ(post("/models/" + id + "/transition", {{"stage", "Staging"}}).status, 200);
    ASSERT_EQ(post("/models/" + id + "/transition", {{"stage", "Production"}}).status, 200);
  }
  ASSERT_EQ(post("/models/" + v2 + "/activate", {{"traffic_percent", 100}}).status, 200);
  expect_error(post("/models/nope/rollback", json::object()), 404, "name");
  const Answer r = post("/models/sentiment/rollback", {{"reason", "v2 misbehaves"}});
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["model_id"], v1);
  EXPECT_EQ(r.body["stage"], "Production");
  EXPECT_EQ(r.body["traffic_percent"], 100);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(post("/predict", {{"text", "ok"}}).body["model_id"], v1);
}

TEST_F(ServerTest, feedback_labels_a_prediction_once) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
  const std::string id = post("/predict", {{"text", "Great product!"}}).body["request_id"];
  const Answer f = post("/feedback", {{"request_id", id}, {"label", "positive"}});
  ASSERT_EQ(f.status, 200) << f.raw.body;
  EXPECT_TRUE(f.body["correct"].get<bool>());
  expect_error(post("/feedback", {{"request_id", id}, {"label", "positive"}}), 409, "request_id");
  expect_error(post("/feedback", {{"request_id", "nope"}, {"label", "positive"}}), 404,
               "request_id");
  expect_error(post("/feedback", {{"request_id", id}, {"label", "meh"}}), 400, "label");
  const Answer perf = call("GET", "/models/performance");
  EXPECT_EQ(perf.body["models"][0]["labeled"], 1);
  EXPECT_DOUBLE_EQ(perf.body["models"][0]["accuracy"].get<double>(), 1.0);
}

TEST_F(ServerTest, health_ready_and_prometheus_metrics) {
  const Answer h = call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "healthy");
  const std::string v1 = register_model("sentiment", "1.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
  EXPECT_EQ(call("GET", "/ready").status, 200);
  ASSERT_EQ(post("/predict", {{"text", "nice"}}).status, 200);
  const Answer m = call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_TRUE(m.raw.content_type.starts_with("text/plain; version=0.0.4"));
  EXPECT_NE(m.raw.body.find("switchyard_requests_total{model=\"sentiment\",version=\"1\""),
            std::string::npos)
      << m.raw.body;
}

TEST_F(ServerTest, health_without_a_follower_names_the_store_and_stays_healthy) {
  const Answer h = call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "healthy");
  ASSERT_TRUE(h.body["registry"].is_object()) << h.raw.body;
  EXPECT_NE(h.body["registry"]["store"].get<std::string>().find("registry.db"), std::string::npos)
      << h.raw.body;
  EXPECT_FALSE(h.body["registry"].contains("reachable")) << "no follower, no freshness to report";
}

// A registry store whose writes fail while `down` (a shared database that went away): every
// read and write is passed to an in-memory store otherwise. Thread-safety: `down` is atomic;
// the rest is the in-memory store's.
class UnreachableStore final : public switchyard::RegistryStore {
 public:
  std::atomic<bool> down{false};
  std::unique_ptr<switchyard::RegistryTransaction> begin() override {
    if (down.load()) {
      throw switchyard::StorageError(describe() + ": connection refused (is the server running?)");
    }
    return inner_.begin();
  }
  switchyard::StoreState load() override { return inner_.load(); }
  switchyard::StoreState load_models(const std::vector<std::string>& models) override {
    return inner_.load_models(models);
  }
  std::pair<std::vector<std::string>, std::int64_t> changes_since(std::int64_t s) override {
    return inner_.changes_since(s);
  }
  std::pair<std::vector<std::string>, switchyard::StoreState> load_changes_since(
      std::int64_t s) override {
    return inner_.load_changes_since(s);
  }
  bool may_have_changed() override { return inner_.may_have_changed(); }
  std::vector<switchyard::AuditRecord> audit(const switchyard::AuditQuery& q) override {
    return inner_.audit(q);
  }
  std::optional<std::string> read_artifact(std::string_view sha256) override {
    return inner_.read_artifact(sha256);
  }
  std::optional<switchyard::RolloutRecord> load_rollout(std::string_view d) override {
    return inner_.load_rollout(d);
  }
  std::vector<switchyard::WindowFigures> load_window_figures(std::string_view rollout,
                                                             std::int64_t first,
                                                             std::int64_t last) override {
    return inner_.load_window_figures(rollout, first, last);
  }
  std::string describe() const override { return "postgresql://db.internal:5432/registry"; }

 private:
  switchyard::InMemoryRegistryStore inner_;
};

TEST_F(ServerTest, a_registry_store_that_cannot_be_reached_answers_503_and_keeps_serving) {
  UnreachableStore store;
  store_option_ = &store;
  const auto [v1, v2] = stable_and_candidate();
  const Answer before = post("/predict", {{"text", "a wonderful film"}});
  ASSERT_EQ(before.status, 200) << before.raw.body;

  store.down = true;
  const json v3 = {{"name", "sentiment"}, {"version", "3.0.0"}, {"accuracy", 0.9}};
  const Answer refused = post("/models", v3);
  expect_error(refused, 503, nullptr);
  const std::string message = refused.body["error"].get<std::string>();
  EXPECT_NE(message.find("postgresql://db.internal:5432/registry"), std::string::npos) << message;
  // Reads and predictions are served from the snapshot meanwhile.
  EXPECT_EQ(call("GET", "/models").status, 200);
  const Answer during = post("/predict", {{"text", "a wonderful film"}});
  EXPECT_EQ(during.status, 200) << during.raw.body;
  EXPECT_EQ(during.body["model_id"], before.body["model_id"]);

  // Back: the same call succeeds, and nothing of the refused one was kept.
  store.down = false;
  const Answer models = call("GET", "/models");
  EXPECT_EQ(models.raw.body.find("3.0.0"), std::string::npos) << models.raw.body;
  EXPECT_EQ(post("/models", v3).status, 201);
}

TEST_F(ServerTest, health_reports_the_registry_followers_status_and_degrades_but_stays_200) {
  std::mutex mu;
  switchyard::FollowerStatus fake;  // what the follower would say, under mu
  auto set = [&](bool reachable, double staleness, std::uint64_t failures, std::string error) {
    std::lock_guard lock(mu);
    fake.reachable = reachable;
    fake.staleness_seconds = staleness;
    fake.consecutive_failures = failures;
    fake.error = std::move(error);
  };
  registry_status_ = [&] {
    std::lock_guard lock(mu);
    return fake;
  };
  max_staleness_ = std::chrono::milliseconds(5'000);

  set(true, 0.25, 0, "");
  Answer h = call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "healthy") << h.raw.body;
  const json& r = h.body["registry"];
  EXPECT_TRUE(r["store"].is_string());
  EXPECT_EQ(r["reachable"], true);
  EXPECT_DOUBLE_EQ(r["staleness_seconds"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(r["max_staleness_seconds"].get<double>(), 5.0);
  EXPECT_EQ(r["consecutive_failures"], 0);
  EXPECT_TRUE(r["last_error"].is_null()) << h.raw.body;

  // Reachable but further behind than allowed: degraded, still serving.
  set(true, 5.5, 0, "");
  h = call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "degraded") << h.raw.body;

  // The database is down: degraded at once, whatever the staleness, with the follower's error.
  const std::string error = "postgresql://db.internal:5432/registry: connection refused";
  set(false, 0.5, 3, error);
  h = call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "degraded");
  EXPECT_EQ(h.body["registry"]["reachable"], false);
  EXPECT_EQ(h.body["registry"]["consecutive_failures"], 3);
  EXPECT_EQ(h.body["registry"]["last_error"], error);
  ASSERT_TRUE(api().registry_status().has_value());
  EXPECT_EQ(api().registry_status()->consecutive_failures, 3u);

  // Back: healthy again.
  set(true, 0.0, 0, "");
  h = call("GET", "/health");
  EXPECT_EQ(h.body["status"], "healthy");
  EXPECT_TRUE(h.body["registry"]["last_error"].is_null());
}

TEST_F(ServerTest, health_reports_a_follower_running_on_the_servers_own_store) {
  follow_store_ = [](std::chrono::milliseconds) { return false; };  // poll the SQLite store
  clock_option_ = &clock_;
  const Answer h = call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body["status"], "healthy") << h.raw.body;
  EXPECT_EQ(h.body["registry"]["reachable"], true) << h.raw.body;
  EXPECT_DOUBLE_EQ(h.body["registry"]["staleness_seconds"].get<double>(), 0.0)
      << "the manual clock has not moved";
  EXPECT_TRUE(api().registry_status().has_value());
  const Answer m = call("GET", "/metrics");
  EXPECT_NE(m.raw.body.find("switchyard_registry_reachable{store=\""), std::string::npos)
      << m.raw.body;
}

// ---- security
// ------------------------------------------------------------------------------------

TEST_F(ServerTest, a_token_guards_the_control_plane_only) {
  api("s3cret");
  const json reg = {{"name", "sentiment"}, {"version", "1.0.0"}};
  expect_error(post("/models", reg), 401, "Authorization");
  expect_error(post("/models", reg, {{"Authorization", "Bearer wrong!"}}), 401, "Authorization");
  expect_error(post("/models", reg, {{"Authorization", "Bearer s3cre"}}), 401, "Authorization");
  expect_error(post("/models", reg, {{"Authorization", "Basic s3cret"}}), 401, "Authorization");
  const Answer denied = post("/models", reg);
  ASSERT_FALSE(denied.raw.headers.empty());
  EXPECT_EQ(denied.raw.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(call("GET", "/models").body["models"].size(), 0u);  // nothing registered

  const Answer ok =
      post("/models", reg, {{"authorization", "Bearer s3cret"}, {"X-Switchyard-Actor", "alice"}});
  ASSERT_EQ(ok.status, 201) << ok.raw.body;
  const std::string id = ok.body["model_id"];
  expect_error(post("/models/" + id + "/activate", {{"traffic_percent", 100}}), 401,
               "Authorization");
  expect_error(post("/models/" + id + "/transition", {{"stage", "Staging"}}), 401, "Authorization");
  expect_error(post("/models/sentiment/rollback", json::object()), 401, "Authorization");
  ASSERT_EQ(post("/models/" + id + "/activate", {{"traffic_percent", 100}},
                 {{"Authorization", "Bearer s3cret"}})
                .status,
            200);
  // Reads and predictions stay open.
  EXPECT_EQ(post("/predict", {{"text", "good"}}).status, 200);
  EXPECT_EQ(call("GET", "/models").status, 200);
  EXPECT_EQ(call("GET", "/models/performance").status, 200);

  // Every control-plane call is audited with its actor, refused ones too.
  std::ifstream in(dir_ / "audit.log");
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0]["status"], 401);
  EXPECT_EQ(lines[5]["actor"], "token:alice");
  EXPECT_EQ(lines[5]["status"], 201);
  EXPECT_EQ(lines[9]["target"], "/models/" + id + "/activate");
  EXPECT_EQ(lines[9]["status"], 200);
}

// ---- aliases, shadows, canary rollouts, drift ------------------------------------------------

TEST_F(ServerTest, aliases_point_at_versions_and_move) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  const Answer set = call("PUT", "/models/sentiment/aliases/champion", R"({"version": "1.0.0"})");
  ASSERT_EQ(set.status, 200) << set.raw.body;
  EXPECT_EQ(set.body["model_id"], v1);
  EXPECT_EQ(set.body["registry_version"], 1);
  // Moved by model id; read back one and all.
  ASSERT_EQ(call("PUT", "/models/sentiment/aliases/champion", json{{"version", v2}}.dump()).status,
            200);
  ASSERT_EQ(call("PUT", "/models/sentiment/aliases/challenger", R"({"version": 1})").status, 200);
  const Answer one = call("GET", "/models/sentiment/aliases/champion");
  ASSERT_EQ(one.status, 200) << one.raw.body;
  EXPECT_EQ(one.body["model_id"], v2);
  EXPECT_EQ(one.body["alias"], "champion");
  const Answer all = call("GET", "/models/sentiment/aliases");
  ASSERT_EQ(all.body["aliases"].size(), 2u) << all.raw.body;
  EXPECT_EQ(all.body["aliases"][0]["alias"], "challenger");
  EXPECT_EQ(all.body["aliases"][0]["model_id"], v1);
  // Every error names its field.
  expect_error(call("PUT", "/models/sentiment/aliases/champion", "{}"), 400, "version");
  expect_error(call("PUT", "/models/sentiment/aliases/champion", R"({"version": true})"), 400,
               "version");
  expect_error(call("PUT", "/models/sentiment/aliases/champion", R"({"version": "9.9.9"})"), 404,
               "version");
  expect_error(call("PUT", "/models/sentiment/aliases/champion", R"({"version": 7})"), 404,
               "version");
  expect_error(call("PUT", "/models/sentiment/aliases/Not%20An%20Alias", R"({"version": 1})"), 400,
               "alias");
  expect_error(call("PUT", "/models/nope/aliases/champion", R"({"version": 1})"), 404, "name");
  expect_error(call("PUT", "/models/sentiment/aliases/champion", "{"), 400, nullptr);
  expect_error(call("GET", "/models/nope/aliases"), 404, "name");
  expect_error(call("POST", "/models/sentiment/aliases/champion", "{}"), 405, nullptr);
  const Answer del = call("DELETE", "/models/sentiment/aliases/champion");
  ASSERT_EQ(del.status, 200) << del.raw.body;
  EXPECT_TRUE(del.body["removed"].get<bool>());
  expect_error(call("DELETE", "/models/sentiment/aliases/champion"), 404, "alias");
  expect_error(call("GET", "/models/sentiment/aliases/champion"), 404, "alias");
}

TEST_F(ServerTest, alias_and_shadow_writes_need_the_token_and_are_audited) {
  api("s3cret");
  const std::vector<std::pair<std::string_view, std::string_view>> auth = {
      {"Authorization", "Bearer s3cret"}};
  ASSERT_EQ(post("/models", {{"name", "sentiment"}, {"version", "1.0.0"}}, auth).status, 201);
  ASSERT_EQ(post("/models", {{"name", "sentiment"}, {"version", "2.0.0"}}, auth).status, 201);
  expect_error(call("PUT", "/models/sentiment/aliases/champion", R"({"version": 1})"), 401,
               "Authorization");
  expect_error(call("DELETE", "/models/sentiment/aliases/champion"), 401, "Authorization");
  expect_error(post("/models/sentiment/shadows", {{"version", 2}}), 401, "Authorization");
  expect_error(call("DELETE", "/models/sentiment/shadows/2"), 401, "Authorization");
  expect_error(post("/models/sentiment/canary", {{"candidate", 2}}), 401, "Authorization");
  expect_error(call("POST", "/models/sentiment/canary/abort"), 401, "Authorization");
  EXPECT_EQ(call("PUT", "/models/sentiment/aliases/champion", R"({"version": 1})", auth).status,
            200);
  EXPECT_EQ(call("GET", "/models/sentiment/aliases").status, 200);  // reads stay open
  EXPECT_EQ(call("GET", "/models/sentiment/shadows").status, 200);
  std::ifstream in(dir_ / "audit.log");
  std::string line;
  std::vector<json> lines;
  while (std::getline(in, line)) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines[2]["target"], "/models/sentiment/aliases/champion");
  EXPECT_EQ(lines[2]["status"], 401);
  EXPECT_EQ(lines[6]["target"], "/models/sentiment/canary");
  EXPECT_EQ(lines[8]["method"], "PUT");
  EXPECT_EQ(lines[8]["status"], 200);
  EXPECT_EQ(lines[8]["actor"], "token:api");
}

TEST_F(ServerTest, a_shadow_sees_the_live_requests_and_reports_agreement) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  register_model("sentiment", "2.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
  const Answer added = post("/models/sentiment/shadows", {{"version", "2.0.0"}, {"share", 1.0}});
  ASSERT_EQ(added.status, 201) << added.raw.body;
  EXPECT_EQ(added.body["shadow_versions"], json::array({2}));

  const std::vector<std::string> texts = {"Great product!", "Terrible, broke in a day",
                                          "works fine", "not good at all", "love it"};
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    const Answer p = post("/predict", {{"text", texts[i % texts.size()]}});
    ASSERT_EQ(p.status, 200);
    EXPECT_EQ(p.body["model_id"], v1);  // the shadow never answers
    ids.push_back(p.body["request_id"]);
  }
  ASSERT_EQ(post("/feedback", {{"request_id", ids[0]}, {"label", "positive"}}).status, 200);
  const Answer r = call("GET", "/models/sentiment/shadows?settle=true");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["state"], "running");
  ASSERT_EQ(r.body["versions"].size(), 1u);
  const json& v = r.body["versions"][0];
  EXPECT_EQ(v["version"], 2);
  EXPECT_EQ(v["sampled"], 50);  // share 1: every request
  EXPECT_EQ(v["mirrored"].get<int>() + v["dropped"]["queue_full"].get<int>() +
                v["dropped"]["over_budget"].get<int>() + v["dropped"]["stopped"].get<int>(),
            50);
  EXPECT_EQ(v["completed"], v["mirrored"]);
  EXPECT_EQ(v["compared_rows"], v["completed"]);
  const double agreed = v["agreed_rows"].get<double>();
  EXPECT_DOUBLE_EQ(v["agreement_rate"].get<double>(), agreed / v["compared_rows"].get<double>());
  EXPECT_EQ(r.body["labels_received"], 1);

  // Errors, then detach: the report keeps nothing mirrored afterwards.
  expect_error(post("/models/sentiment/shadows", {{"version", "2.0.0"}}), 409, "version");
  expect_error(post("/models/sentiment/shadows", {{"share", 0.5}}), 400, "version");
  expect_error(post("/models/sentiment/shadows", {{"version", "3.0.0"}}), 404, "version");
  expect_error(post("/models/sentiment/shadows", {{"version", 2}, {"share", 1.5}}), 400, "share");
  expect_error(post("/models/sentiment/shadows", {{"version", 2}, {"sampling", "odd"}}), 400,
               "sampling");
  expect_error(post("/models/sentiment/shadows", {{"version", 2}, {"duration", "soon"}}), 400,
               "duration");
  expect_error(post("/models/nope/shadows", {{"version", 2}}), 404, "name");
  expect_error(call("GET", "/models/nope/shadows"), 404, "name");
  expect_error(call("GET", "/models/sentiment/shadows?settle=maybe"), 400, "settle");
  expect_error(call("PUT", "/models/sentiment/shadows", "{}"), 405, nullptr);
  expect_error(call("DELETE", "/models/sentiment/shadows/3.0.0"), 404, "version");
  ASSERT_EQ(call("DELETE", "/models/sentiment/shadows/2.0.0").status, 200);
  expect_error(call("DELETE", "/models/sentiment/shadows/2"), 404, "version");
}

TEST_F(ServerTest, a_shadow_attaches_from_seed_003_yaml) {
  const std::string v1 = register_model("sentiment", "1.0.0");
  register_model("sentiment", "2.0.0");
  const std::string yaml = R"(deployment:
  name: sentiment
  primary: {model: sentiment, version: 1}
  shadow:
    model: sentiment
    version: 2
    traffic: 25%
  comparison:
    metrics: [accuracy, latency_p99, prediction_distribution]
    duration: 7d
)";
  const Answer a = call("POST", "/models/sentiment/shadows", yaml);
  ASSERT_EQ(a.status, 201) << a.raw.body;
  const Answer r = call("GET", "/models/sentiment/shadows");
  ASSERT_EQ(r.body["versions"].size(), 1u);
  EXPECT_DOUBLE_EQ(r.body["versions"][0]["share"].get<double>(), 0.25);
  std::string other = yaml;
  other.replace(other.find("primary: {model: sentiment"), 26, "primary: {model: fraud-det");
  expect_error(call("POST", "/models/sentiment/shadows", other), 400, "deployment.primary.model");
  expect_error(call("POST", "/models/sentiment/shadows", "deployment: [1, 2"), 400, "body");
  std::string missing = yaml;
  missing.replace(missing.find("version: 2"), 10, "version: 9");
  expect_error(call("POST", "/models/sentiment/shadows", missing), 404,
               "deployment.shadow.version");
}

// A plan short enough to run through on the manual clock: 20 %, a minute, 50 %, a minute.
constexpr std::string_view kShortPlan = R"(deployment:
  name: sentiment
  canary:
    model_version: 2
    interval: 10s
    steps:
      - set_weight: 20
      - pause: 1m
      - set_weight: 50
      - pause: 1m
)";

TEST_F(ServerTest, a_canary_steps_pauses_resumes_and_promotes_on_the_clock) {
  clock_option_ = &clock_;
  const auto [v1, v2] = stable_and_candidate();
  const Answer started = call("POST", "/models/sentiment/canary", kShortPlan);
  ASSERT_EQ(started.status, 201) << started.raw.body;
  EXPECT_EQ(started.body["status"], "running");
  EXPECT_EQ(started.body["step_count"], 4);
  EXPECT_EQ(started.body["stable"]["model_id"], v1);
  EXPECT_EQ(started.body["candidate"]["model_id"], v2);
  EXPECT_DOUBLE_EQ(started.body["weights"]["canary"].get<double>(), 20.0);
  EXPECT_EQ(traffic_of(v1), 80);
  EXPECT_EQ(traffic_of(v2), 20);
  int to_candidate = 0;
  for (int i = 0; i < 200; ++i) to_candidate += post("/predict", {{"text", "ok"}}).body["model_id"] == v2;
  EXPECT_GT(to_candidate, 10);  // 20 % of 200 is 40; binomial sd 5.7
  EXPECT_LT(to_candidate, 80);
  // The split belongs to the rollout while it is live.
  expect_error(post("/models/" + v1 + "/activate", {{"traffic_percent", 50}}), 409, "model_id");
  expect_error(post("/models/sentiment/rollback", json::object()), 409, "name");
  expect_error(call("POST", "/models/sentiment/canary", kShortPlan), 409, "name");

  // Paused, the clock passing the pause's minute changes nothing.
  const Answer paused = post("/models/sentiment/canary/pause", {{"reason", "looking"}});
  ASSERT_EQ(paused.status, 200) << paused.raw.body;
  EXPECT_EQ(paused.body["status"], "paused");
  expect_error(post("/models/sentiment/canary/pause", json::object()), 409, nullptr);
  clock_.advance(std::chrono::minutes(2));
  api().tick();
  EXPECT_EQ(call("GET", "/models/sentiment/canary").body["status"], "paused");
  const Answer resumed = call("POST", "/models/sentiment/canary/resume");
  ASSERT_EQ(resumed.status, 200) << resumed.raw.body;
  EXPECT_EQ(resumed.body["status"], "running");

  // Each minute and tick moves a pause on: 50 %, then promotion.
  const auto step_on = [&] {
    clock_.advance(std::chrono::seconds(61));
    api().tick();
    return call("GET", "/models/sentiment/canary").body;
  };
  json s = step_on();
  for (int i = 0; i < 3 && s["weights"]["canary"] != 50.0; ++i) s = step_on();
  EXPECT_EQ(s["status"], "running");
  EXPECT_DOUBLE_EQ(s["weights"]["canary"].get<double>(), 50.0) << s.dump();
  EXPECT_EQ(traffic_of(v2), 50);
  for (int i = 0; i < 3 && s["status"] == "running"; ++i) s = step_on();
  EXPECT_EQ(s["status"], "promoted") << s.dump();
  EXPECT_FALSE(s["live"].get<bool>());
  EXPECT_EQ(s["candidate"]["stage"], "Production");
  EXPECT_EQ(traffic_of(v2), 100);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(post("/predict", {{"text", "ok"}}).body["model_id"], v2);
  bool resumed_by_api = false;
  for (const auto& d : s["decisions"]) resumed_by_api |= d["action"] == "resume" && d["actor"] == "api";
  EXPECT_TRUE(resumed_by_api) << s["decisions"].dump();
  expect_error(call("POST", "/models/sentiment/canary/abort"), 409, "name");
}

TEST_F(ServerTest, an_aborted_canary_gives_stable_its_traffic_back) {
  clock_option_ = &clock_;
  const auto [v1, v2] = stable_and_candidate();
  ASSERT_EQ(post("/models/sentiment/canary", {{"plan", kShortPlan}, {"candidate", "2.0.0"}}).status,
            201);
  const Answer aborted = post("/models/sentiment/canary/abort", {{"reason", "enough"}});
  ASSERT_EQ(aborted.status, 200) << aborted.raw.body;
  EXPECT_EQ(aborted.body["status"], "aborted");
  EXPECT_EQ(traffic_of(v1), 100);
  EXPECT_EQ(traffic_of(v2), 0);
  expect_error(call("POST", "/models/sentiment/canary/resume"), 409, "name");
  // Ended, a new rollout may start (seed 003's plan by default, the candidate named).
  const Answer again = post("/models/sentiment/canary", {{"candidate", v2}});
  ASSERT_EQ(again.status, 201) << again.raw.body;
  EXPECT_EQ(again.body["step_count"], 8);  // seed 003's four stages, each a weight and a pause
  EXPECT_DOUBLE_EQ(again.body["weights"]["canary"].get<double>(), 5.0);
}

TEST_F(ServerTest, a_live_canary_survives_a_restart) {
  clock_option_ = &clock_;
  const auto [v1, v2] = stable_and_candidate();
  ASSERT_EQ(call("POST", "/models/sentiment/canary", kShortPlan).status, 201);
  restart();
  const Answer s = call("GET", "/models/sentiment/canary");
  ASSERT_EQ(s.status, 200) << s.raw.body;
  EXPECT_EQ(s.body["status"], "running");
  EXPECT_EQ(traffic_of(v2), 20);
  expect_error(post("/models/" + v1 + "/activate", {{"traffic_percent", 50}}), 409, "model_id");
}

TEST_F(ServerTest, bad_canary_starts_name_their_field) {
  clock_option_ = &clock_;
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  expect_error(call("GET", "/models/sentiment/canary"), 404, "name");
  expect_error(call("POST", "/models/sentiment/canary/pause"), 404, "name");
  expect_error(call("GET", "/models/nope/canary"), 404, "name");
  expect_error(call("POST", "/models/nope/canary", kShortPlan), 404, "name");
  expect_error(call("POST", "/models/sentiment/canary", ""), 400, "plan");
  expect_error(call("POST", "/models/sentiment/canary", "deployment: {name: x"), 400, "plan");
  expect_error(post("/models/sentiment/canary", {{"candidate", 2}, {"speed", "fast"}}), 400,
               "speed");
  expect_error(post("/models/sentiment/canary", {{"plan", kShortPlan}, {"candidate", "9.0.0"}}),
               404, "candidate");
  // No Production version to compare with.
  expect_error(post("/models/sentiment/canary", {{"plan", kShortPlan}}), 409, "stable");
  ASSERT_EQ(post("/models/" + v1 + "/transition", {{"stage", "Staging"}}).status, 200);
  ASSERT_EQ(post("/models/" + v1 + "/transition", {{"stage", "Production"}}).status, 200);
  expect_error(post("/models/sentiment/canary", {{"plan", kShortPlan}, {"candidate", 1}}), 400,
               "candidate");
  // The candidate must be in Staging: the controller's InvalidTransition.
  const Answer dev = post("/models/sentiment/canary", {{"plan", kShortPlan}});
  EXPECT_EQ(dev.status, 409) << dev.raw.body;
  expect_error(call("PUT", "/models/sentiment/canary", "{}"), 405, nullptr);
  expect_error(call("GET", "/models/sentiment/canary/pause"), 405, nullptr);
  (void)v2;
}

TEST_F(ServerTest, an_experiment_reports_the_split_with_feedback_labels) {
  clock_option_ = &clock_;
  const std::string v1 = register_model("sentiment", "1.0.0");
  const std::string v2 = register_model("sentiment", "2.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
  // One version with traffic is no A/B split.
  expect_error(post("/experiments", {{"name", "ab"}, {"model", "sentiment"}}), 409, "model");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 50}}).status, 200);
  ASSERT_EQ(post("/models/" + v2 + "/activate", {{"traffic_percent", 50}}).status, 200);
  const Answer started = post("/experiments", {{"name", "ab"}, {"model", "sentiment"}});
  ASSERT_EQ(started.status, 201) << started.raw.body;
  EXPECT_EQ(started.body["arms"].size(), 2u);
  int labelled = 0;
  for (int i = 0; i < 100; ++i) {
    const Answer p = post("/predict", {{"text", i % 2 ? "Great product!" : "awful, broke"}});
    ASSERT_EQ(p.status, 200);
    if (i % 4 == 0) {
      ASSERT_EQ(post("/feedback", {{"request_id", p.body["request_id"]},
                                   {"label", i % 2 ? "positive" : "negative"}})
                    .status,
                200);
      ++labelled;
    }
  }
  const Answer r = call("GET", "/experiments/ab");
  ASSERT_EQ(r.status, 200) << r.raw.body;
  EXPECT_EQ(r.body["model"], "sentiment");
  int exposures = 0;
  for (const auto& a : r.body["arms"]) exposures += a["exposures"].get<int>();
  EXPECT_EQ(exposures, 100);
  EXPECT_EQ(r.body["joins"]["labels_joined"], labelled) << r.body["joins"].dump();
  EXPECT_TRUE(r.body["decision"]["kind"].is_string());
  EXPECT_EQ(call("GET", "/experiments").body["experiments"].size(), 1u);

  expect_error(post("/experiments", {{"name", "ab"}, {"model", "sentiment"}}), 409, "name");
  expect_error(post("/experiments", {{"model", "sentiment"}}), 400, "name");
  expect_error(post("/experiments", {{"name", "x"}, {"model", "nope"}}), 404, "model");
  expect_error(post("/experiments", {{"name", "x"}, {"model", "sentiment"}, {"primary_metric", "ctr"}}),
               400, "primary_metric");
  expect_error(post("/experiments", {{"name", "x"}, {"model", "sentiment"}, {"mode", "bayes"}}),
               400, "mode");
  expect_error(call("GET", "/experiments/nope"), 404, "name");
  expect_error(call("PUT", "/experiments/ab", "{}"), 405, nullptr);
  ASSERT_EQ(call("DELETE", "/experiments/ab").status, 200);
  expect_error(call("DELETE", "/experiments/ab"), 404, "name");
}

TEST_F(ServerTest, the_prediction_log_keeps_every_prediction_and_its_label) {
  prediction_log_ = true;
  clock_option_ = &clock_;
  const std::string v1 = register_model("sentiment", "1.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
  std::vector<std::string> ids, said;
  for (int i = 0; i < 20; ++i) {
    const Answer p = post("/predict", {{"text", i % 2 ? "Great product!" : "awful, broke"}});
    ASSERT_EQ(p.status, 200);
    ids.push_back(p.body["request_id"]);
    said.push_back(p.body["prediction"]);
  }
  ASSERT_EQ(post("/feedback", {{"request_id", ids[0]}, {"label", "negative"}}).status, 200);
  ASSERT_EQ(post("/feedback", {{"request_id", ids[1]}, {"label", "negative"}}).status, 200);
  EXPECT_NE(call("GET", "/metrics").raw.body.find("switchyard_prediction_log_dropped_total 0"),
            std::string::npos);
  restart();  // the log writes what is queued before it closes

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "predictions.db").c_str(), &db), SQLITE_OK);
  // Seed 002's aggregation, per version, with the accuracy of the labelled rows.
  const char* sql =
      "SELECT model_id, model_version, COUNT(*), COUNT(label), SUM(correct), AVG(latency_ms) > 0 "
      "FROM predictions GROUP BY model_id, model_version";
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), v1);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))), "1.0.0");
  EXPECT_EQ(sqlite3_column_int(st, 2), 20);
  EXPECT_EQ(sqlite3_column_int(st, 3), 2);
  EXPECT_EQ(sqlite3_column_int(st, 4), (said[0] == "negative") + (said[1] == "negative"));
  EXPECT_EQ(sqlite3_column_int(st, 5), 1);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  const std::string one = "SELECT prediction, label, at FROM predictions WHERE request_id = '" +
                          ids[1] + "'";
  ASSERT_EQ(sqlite3_prepare_v2(db, one.c_str(), -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), said[1]);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 1))), "negative");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 2))),
            "2023-11-14T22:13:20Z");  // the manual clock's start
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(ServerTest, drift_compares_the_texts_with_the_training_set) {
  clock_option_ = &clock_;
  const std::string v1 = register_model("sentiment", "1.0.0");
  ASSERT_EQ(post("/models/" + v1 + "/activate", {{"traffic_percent", 100}}).status, 200);
  const Answer none = call("GET", "/models/sentiment/drift");
  ASSERT_EQ(none.status, 200) << none.raw.body;
  EXPECT_TRUE(none.body["report"].is_null());
  EXPECT_EQ(none.body["features"],
            json::array({"characters", "words", "unknown_word_share"}));
  EXPECT_EQ(none.body["reference_rows"], 100);  // the second half of the 200 sentences
  // A minute of words the training set never had: their unknown share drifts.
  for (int i = 0; i < 60; ++i) {
    ASSERT_EQ(post("/predict", {{"text", "zorblax quintessential flimflam " + std::to_string(i)}})
                  .status,
              200);
  }
  clock_.advance(std::chrono::seconds(61));
  const Answer d = call("GET", "/models/sentiment/drift");
  ASSERT_EQ(d.status, 200) << d.raw.body;
  ASSERT_TRUE(d.body["report"].is_object()) << d.raw.body;
  EXPECT_EQ(d.body["report"]["rows"], 60);
  bool unknown_drifted = false;
  for (const auto& f : d.body["report"]["features"]) {
    if (f["name"] == "unknown_word_share") unknown_drifted = f["drift"].get<bool>();
  }
  EXPECT_TRUE(unknown_drifted) << d.raw.body;
  expect_error(call("GET", "/models/nope/drift"), 404, "name");
  expect_error(call("POST", "/models/sentiment/drift", "{}"), 405, nullptr);
}

// ---- the dashboard -----------------------------------------------------------------------------

static std::string header_of(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

// The text inside every <tag>...</tag> of `page`.
static std::vector<std::string> inline_blocks(const std::string& page, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (auto at = page.find(open); at != std::string::npos; at = page.find(open, at)) {
    const auto end = page.find(close, at);
    if (end == std::string::npos) break;
    out.push_back(page.substr(at + open.size(), end - at - open.size()));
    at = end;
  }
  return out;
}

// What every rendering of the page must hold: one HTML document, a policy that lets exactly its
// inline style and scripts run (by hash, no 'unsafe-inline') and talk to this server only, and
// nothing loaded from elsewhere.
static void expect_strict_page(const HttpResponse& r) {
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  const std::string csp = header_of(r, "Content-Security-Policy");
  EXPECT_EQ(csp.rfind("default-src 'none'; ", 0), 0u) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("base-uri 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("http"), std::string::npos) << csp;
  EXPECT_EQ(header_of(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header_of(r, "Cache-Control"), "no-store");
  const std::string& page = r.body;
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  for (const auto& script : inline_blocks(page, "script")) {
    EXPECT_NE(csp.find("script-src"), std::string::npos);
    EXPECT_NE(csp.find(switchyard::server::csp_hash(script)), std::string::npos)
        << "a script the policy does not allow";
  }
  const auto styles = inline_blocks(page, "style");
  ASSERT_EQ(styles.size(), 1u);
  EXPECT_NE(csp.find("style-src " + switchyard::server::csp_hash(styles[0])), std::string::npos);
  // No external URL: nothing outside Chart.js's licence banner names a scheme, and nothing is
  // loaded by src or href.
  std::string own = page;
  const std::string_view chartjs = switchyard::server::embedded_chartjs();
  if (const auto at = own.find(chartjs); !chartjs.empty() && at != std::string::npos) {
    own.erase(at, chartjs.size());
  }
  EXPECT_EQ(own.find("http:"), std::string::npos);
  EXPECT_EQ(own.find("https:"), std::string::npos);
  EXPECT_EQ(own.find("//cdn"), std::string::npos);
  EXPECT_EQ(page.find(" src="), std::string::npos);
  EXPECT_EQ(page.find(" href="), std::string::npos);
  for (const char* canvas : {"rate-chart", "latency-chart", "error-chart"}) {
    EXPECT_NE(page.find(std::string("<canvas id=\"") + canvas + "\""), std::string::npos);
  }
}

TEST_F(ServerTest, the_dashboard_is_one_page_under_a_strict_policy) {
  api("dashboard-secret");
  const Answer a = call("GET", "/dashboard");  // no token needed to look
  expect_strict_page(a.raw);
  // The token is typed into the page, never written into it.
  EXPECT_EQ(a.raw.body.find("dashboard-secret"), std::string::npos);
  EXPECT_NE(a.raw.body.find("<input id=\"token\" type=\"password\""), std::string::npos);
  const std::string_view chartjs = switchyard::server::embedded_chartjs();
  if (!chartjs.empty()) {  // Chart.js (libjs-chart.js) was there when the build was configured
    EXPECT_NE(a.raw.body.find("<body data-charts=\"available\">"), std::string::npos);
    EXPECT_NE(a.raw.body.find(chartjs), std::string::npos) << "Chart.js is not inlined whole";
    EXPECT_NE(chartjs.find("Chart.js v"), std::string::npos);
    EXPECT_EQ(inline_blocks(a.raw.body, "script").size(), 2u);
  } else {
    EXPECT_NE(a.raw.body.find("<body data-charts=\"unavailable\">"), std::string::npos);
  }
  EXPECT_EQ(call("HEAD", "/dashboard").status, 200);
  expect_error(call("POST", "/dashboard", "{}"), 405, nullptr);

  const Answer root = call("GET", "/");
  EXPECT_EQ(root.status, 302);
  EXPECT_EQ(header_of(root.raw, "Location"), "/dashboard");
  expect_error(call("POST", "/", "{}"), 405, nullptr);
}

TEST(DashboardTest, without_chartjs_the_page_shows_tables_and_says_so) {
  const HttpResponse r = switchyard::server::render_dashboard("");
  expect_strict_page(r);
  EXPECT_NE(r.body.find("<body data-charts=\"unavailable\">"), std::string::npos);
  EXPECT_NE(r.body.find("Charts are unavailable"), std::string::npos);
  EXPECT_NE(r.body.find("<table id=\"latest\">"), std::string::npos);
  ASSERT_EQ(inline_blocks(r.body, "script").size(), 1u);  // the dashboard's own script only
  // A Chart.js that could end its <script> element early is refused, not inlined.
  const HttpResponse odd = switchyard::server::render_dashboard("var s = '</script><b>';");
  EXPECT_NE(odd.body.find("<body data-charts=\"unavailable\">"), std::string::npos);
  EXPECT_EQ(odd.body.find("<b>"), std::string::npos);
}

TEST(DashboardTest, csp_hashes_match_a_reference) {
  // printf 'abc' | openssl dgst -sha256 -binary | base64
  EXPECT_EQ(switchyard::server::csp_hash("abc"),
            "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='");
}

TEST(TextFeaturizerTest, features_have_unit_length_and_ignore_case_and_punctuation) {
  switchyard::server::TextFeaturizer f(64);
  std::vector<double> a(64), b(64), empty(64, 1.0);
  f.featurize("Great product!", a);
  f.featurize("great   PRODUCT", b);
  EXPECT_EQ(a, b);
  double norm = 0;
  for (double x : a) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-12);
  f.featurize("!!! ...", empty);
  for (double x : empty) EXPECT_EQ(x, 0.0);
}

TEST(TextFeaturizerTest, the_reused_row_equals_the_dense_features) {
  switchyard::server::TextFeaturizer f;
  switchyard::server::FeatureRow row;
  std::vector<double> dense(f.buckets());
  for (const char* text : {"Great product!", "not good, not good at all", "", "Terrible"}) {
    f.featurize(text, row);
    f.featurize(text, dense);
    ASSERT_EQ(row.values.size(), dense.size());
    for (std::size_t i = 0; i < dense.size(); ++i) ASSERT_NEAR(row.values[i], dense[i], 1e-15);
  }
}

TEST(TextFeaturizerTest, training_sets_are_checked_line_by_line) {
  using switchyard::server::parse_training_set;
  EXPECT_EQ(parse_training_set("# c\npositive\tgood\n\nnegative\tbad\n").size(), 2u);
  EXPECT_THROW(parse_training_set("positive\tgood\nneutral\tmeh\n"), switchyard::InvalidArgument);
  EXPECT_THROW(parse_training_set("positive\tgood\n"), switchyard::InvalidArgument);
  EXPECT_GE(parse_training_set(switchyard::server::embedded_training_set()).size(), 200u);
}

}  // namespace server_test
