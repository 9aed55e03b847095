// SPDX-License-Identifier: Apache-2.0
// RestApi, the routes of switchyard-server, called directly (no socket): seed 002's API, every
// error case with its status and field, the token checks, restarts on the same data directory,
// and the sentiment model it trains.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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
    if (!api_) api_ = std::make_unique<RestApi>(RestApi::Options{.data_dir = dir_, .token = token});
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

  fs::path dir_;
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
