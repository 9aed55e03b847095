// SPDX-License-Identifier: Apache-2.0
// Runs the built `switchyard` executable in a temporary registry directory: every command, its
// --json output, its exit codes and its error messages.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include <switchyard/models/linear_model.hpp>
#include <switchyard/rollout/canary_plan.hpp>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
  json doc() const { return json::parse(out); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("switchyard_cli_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    data_ = (dir_ / "registry").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `switchyard --data <data> <args...>` and captures stdout, stderr and the exit code.
  CliRun run(const std::vector<std::string>& args, const std::string& data = "") {
    std::string cmd = quote(SWITCHYARD_CLI_PATH) + " --data " + quote(data.empty() ? data_ : data);
    for (const auto& a : args) cmd += " " + quote(a);
    const fs::path err = dir_ / "stderr.txt";
    cmd += " 2>" + quote(err.string());
    CliRun r;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    EXPECT_NE(pipe, nullptr);
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
    const int status = ::pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = slurp(err);
    return r;
  }

  // Writes `text` to a file in the test's directory and returns its path.
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  // A LogisticModel over three features, written as a switchyard.linear model file.
  std::string model_file(const std::string& name, double bias = -1.0) {
    Eigen::VectorXd w(3);
    w << 0.5, -0.25, 1.0;
    switchyard::LogisticModel m(w, bias, {"legit", "fraud"});
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << m.to_artifact();
    return p.string();
  }

  CliRun register_model(const std::string& auc, const std::string& semver) {
    return run({"register", model_file("m" + semver + ".bin"), "--name", "fraud-detection",
                "--semver", semver, "--metric", "auc=" + auc, "--owner", "risk-team", "--json"});
  }

  fs::path dir_;
  std::string data_;
};

TEST_F(CliTest, register_list_and_show_print_json_for_scripts) {
  CliRun r = register_model("0.91", "1.0.0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json v = r.doc();
  EXPECT_EQ(v["name"], "fraud-detection");
  EXPECT_EQ(v["version"], 1);
  EXPECT_EQ(v["stage"], "Development");
  EXPECT_DOUBLE_EQ(v["metrics"]["auc"].get<double>(), 0.91);
  EXPECT_EQ(v["owner"], "risk-team");
  EXPECT_EQ(v["artifact"]["format"], "switchyard.linear");

  r = run({"list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.doc()["models"].size(), 1u);
  EXPECT_EQ(r.doc()["models"][0]["name"], "fraud-detection");
  EXPECT_EQ(r.doc()["models"][0]["latest"], 1);

  r = run({"list", "fraud-detection", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.doc()["versions"].size(), 1u);
  EXPECT_EQ(r.doc()["versions"][0]["semver"], "1.0.0");

  r = run({"show", "fraud-detection", "1.0.0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["version"], 1);

  // Readable tables by default.
  r = run({"list", "fraud-detection"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("VERSION"), std::string::npos);
  EXPECT_NE(r.out.find("Development"), std::string::npos);
  EXPECT_NE(r.out.find("auc=0.91"), std::string::npos);
}

TEST_F(CliTest, transition_prints_the_gate_report_and_a_failed_gate_exits_3) {
  ASSERT_EQ(register_model("0.91", "1.0.0").exit_code, 0);
  CliRun r = run({"transition", "fraud-detection", "1", "Staging", "--min", "auc=0.85", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["from"], "Development");
  EXPECT_EQ(r.doc()["to"], "Staging");
  EXPECT_TRUE(r.doc()["gate_report"]["passed"].get<bool>());
  r = run({"transition", "fraud-detection", "1", "Production", "--reason", "first", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.doc()["gate_report"].is_null());

  ASSERT_EQ(register_model("0.80", "1.1.0").exit_code, 0);
  r = run({"transition", "fraud-detection", "2", "Staging", "--min", "auc=0.85", "--json"});
  EXPECT_EQ(r.exit_code, 3);
  json doc = r.doc();
  EXPECT_EQ(doc["error"]["code"], "validation_failed");
  EXPECT_FALSE(doc["gate_report"]["passed"].get<bool>());
  bool named_auc = false;
  for (const auto& c : doc["gate_report"]["checks"]) {
    if (!c["passed"].get<bool>() && c["subject"] == "auc") named_auc = true;
  }
  EXPECT_TRUE(named_auc) << r.out;
  EXPECT_EQ(run({"show", "fraud-detection", "2", "--json"}).doc()["stage"], "Rejected");

  // Text mode lists the failures too.
  ASSERT_EQ(register_model("0.70", "1.2.0").exit_code, 0);
  r = run({"transition", "fraud-detection", "3", "Staging", "--min", "auc=0.85"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.out.find("FAIL"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("auc"), std::string::npos) << r.err;

  // A transition the lifecycle forbids.
  r = run({"transition", "fraud-detection", "3", "Production"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(CliTest, transition_records_evidence_and_sign_off_that_history_prints) {
  ASSERT_EQ(register_model("0.91", "1.0.0").exit_code, 0);
  ASSERT_EQ(run({"transition", "fraud-detection", "1", "Staging"}).exit_code, 0);
  const fs::path report = dir_ / "shadow.json";
  std::ofstream(report) << R"({"passed": true, "summary": "agreement 99.2% on 50000 requests",
                              "agreement": 0.992})";
  CliRun r = run({"--actor", "alice", "transition", "fraud-detection", "1", "Production",
                  "--evidence", "shadow=" + report.string(), "--sign-off", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = run({"history", "fraud-detection", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json promoted;
  const json history = r.doc();  // a named copy: the loop must not range over a temporary's member
  for (const auto& rec : history["history"]) {
    if (rec["to_stage"] == "Production") promoted = rec;
  }
  ASSERT_TRUE(promoted.is_object()) << r.out;
  ASSERT_EQ(promoted["evidence"].size(), 2u) << promoted.dump();
  EXPECT_EQ(promoted["evidence"][0]["kind"], "shadow");
  EXPECT_EQ(promoted["evidence"][0]["passed"], true);
  EXPECT_EQ(promoted["evidence"][0]["summary"], "agreement 99.2% on 50000 requests");
  EXPECT_DOUBLE_EQ(promoted["evidence"][0]["detail"]["agreement"].get<double>(), 0.992);
  EXPECT_EQ(promoted["evidence"][1]["kind"], "sign_off");
  EXPECT_EQ(promoted["evidence"][1]["actor"], "alice");
  EXPECT_EQ(promoted["actor"], "alice");

  // A report without a boolean "passed", or not JSON at all, is a usage error naming the file;
  // nothing moves.
  ASSERT_EQ(register_model("0.93", "1.1.0").exit_code, 0);
  ASSERT_EQ(run({"transition", "fraud-detection", "2", "Staging"}).exit_code, 0);
  std::ofstream(dir_ / "bad.json") << R"({"summary": "no verdict"})";
  r = run({"transition", "fraud-detection", "2", "Production", "--evidence",
           "shadow=" + (dir_ / "bad.json").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("passed"), std::string::npos) << r.err;
  r = run({"transition", "fraud-detection", "2", "Production", "--evidence", "shadow"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run({"show", "fraud-detection", "2", "--json"});
  EXPECT_EQ(r.doc()["stage"], "Staging");
}

TEST_F(CliTest, alias_rollback_and_history_answer_what_was_in_production) {
  ASSERT_EQ(register_model("0.91", "1.0.0").exit_code, 0);
  ASSERT_EQ(register_model("0.93", "1.1.0").exit_code, 0);
  for (const char* v : {"1", "2"}) {
    ASSERT_EQ(run({"transition", "fraud-detection", v, "Staging"}).exit_code, 0);
    ASSERT_EQ(run({"transition", "fraud-detection", v, "Production"}).exit_code, 0);
  }
  CliRun r = run({"alias", "set", "fraud-detection", "champion", "Production", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["version"], 2);
  r = run({"show", "fraud-detection", "@champion", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["aliases"], json::array({"champion"}));
  r = run({"alias", "remove", "fraud-detection", "champion", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(run({"alias", "remove", "fraud-detection", "champion"}).exit_code, 2);

  r = run({"rollback", "fraud-detection", "--reason", "auc dropped", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["production"], 1);
  EXPECT_EQ(r.doc()["previous_production"], json::array({2}));

  r = run({"history", "fraud-detection", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string promoted_v2_at;
  bool saw_rollback = false;
  const json history = r.doc();
  for (const auto& rec : history["history"]) {
    if (rec["version"] == 2 && rec["to_stage"] == "Production") {
      promoted_v2_at = rec["at"].get<std::string>();
    }
    if (rec["action"] == "rollback") saw_rollback = rec["reason"] == "auc dropped";
  }
  EXPECT_TRUE(saw_rollback) << r.out;
  ASSERT_FALSE(promoted_v2_at.empty()) << r.out;

  r = run({"history", "fraud-detection", "--at", promoted_v2_at, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["production"], json::array({2}));
  r = run({"history", "fraud-detection", "--at", "2001-01-01", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["production"], json::array());
  r = run({"history", "fraud-detection", "--at", "now", "--json"});
  EXPECT_EQ(r.doc()["production"], json::array({1}));
  r = run({"history", "fraud-detection", "--at", "yesterday"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--at 'yesterday'"), std::string::npos) << r.err;
}

TEST_F(CliTest, export_and_import_move_a_registry) {
  ASSERT_EQ(register_model("0.91", "1.0.0").exit_code, 0);
  ASSERT_EQ(run({"transition", "fraud-detection", "1", "Staging"}).exit_code, 0);
  const std::string file = (dir_ / "export.json").string();
  CliRun r = run({"export", "--output", file, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["models"], json::array({"fraud-detection"}));
  EXPECT_TRUE(json::accept(slurp(file)));
  r = run({"export"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json::accept(r.out));

  const std::string other = (dir_ / "other").string();
  r = run({"import", file, "--json"}, other);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run({"show", "fraud-detection", "1", "--json"}, other);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["stage"], "Staging");
  // A second import into a registry that is no longer empty is refused.
  EXPECT_NE(run({"import", file}, other).exit_code, 0);
  // A file that is not an export names the file.
  std::ofstream(dir_ / "bad.json") << "{not json";
  r = run({"import", (dir_ / "bad.json").string()}, (dir_ / "third").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bad.json"), std::string::npos) << r.err;
}

TEST_F(CliTest, errors_name_the_file_and_field_and_map_to_exit_codes) {
  // A model file that is not a model: exit 5, the message names the file.
  std::ofstream(dir_ / "garbage.bin") << "this is not a model";
  CliRun r = run({"register", (dir_ / "garbage.bin").string(), "--name", "fraud-detection", "--json"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("garbage.bin"), std::string::npos) << r.err;
  EXPECT_EQ(r.doc()["error"]["code"], "load_failed");
  // A missing model file: not found.
  r = run({"register", (dir_ / "missing.bin").string(), "--name", "fraud-detection"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("missing.bin"), std::string::npos) << r.err;
  // A bad --metric value: usage, naming the option, the metric and the value.
  r = run({"register", model_file("m.bin"), "--name", "fraud-detection", "--metric", "auc=abc"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--metric 'auc=abc'"), std::string::npos) << r.err;
  EXPECT_EQ(run({"register", model_file("m.bin"), "--name", "fraud-detection", "--metric", "auc"})
                .exit_code,
            1);
  // No registry: not found, naming the registry file.
  r = run({"list"}, (dir_ / "nowhere").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("registry.db"), std::string::npos) << r.err;

  ASSERT_EQ(register_model("0.91", "1.0.0").exit_code, 0);
  // Unknown model and version: not found.
  r = run({"show", "fraud-scoring", "1", "--json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.doc()["error"]["code"], "not_found");
  EXPECT_EQ(run({"show", "fraud-detection", "7"}).exit_code, 2);
  EXPECT_EQ(run({"history", "fraud-scoring"}).exit_code, 2);
  EXPECT_EQ(run({"transition", "fraud-detection", "1", "Live"}).exit_code, 1);
  // Usage errors.
  EXPECT_EQ(run({"frobnicate"}).exit_code, 1);
  EXPECT_EQ(run({"register", model_file("m.bin")}).exit_code, 1);  // --name missing
  // A registry file that is not a registry: storage.
  const fs::path corrupt = dir_ / "corrupt";
  fs::create_directories(corrupt);
  std::ofstream(corrupt / "registry.db") << std::string(4096, 'x');
  EXPECT_EQ(run({"list"}, corrupt.string()).exit_code, 4);
}

TEST_F(CliTest, every_command_has_help) {
  for (std::vector<std::string> cmd :
       {std::vector<std::string>{}, {"register"}, {"list"}, {"show"}, {"transition"}, {"promote"},
        {"validate"}, {"alias"}, {"alias", "set"}, {"alias", "remove"}, {"rollback"}, {"history"},
        {"export"}, {"import"}, {"ab-test"}, {"ab-test", "analyze"}, {"drift"},
        {"drift", "report"}, {"canary"}, {"canary", "simulate"}}) {
    cmd.push_back("--help");
    CliRun r = run(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd.front();
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
}

}  // namespace

namespace {

TEST_F(CliTest, deploy_script_registers_gates_and_promotes) {
  const std::string cmd = "SWITCHYARD=" + quote(SWITCHYARD_CLI_PATH) + " bash " +
                          quote(SWITCHYARD_DEPLOY_SCRIPT) + " --data " + quote(data_) +
                          " --name fraud-detection --file " + quote(model_file("m.bin")) +
                          " --metric auc=0.9 --min auc=0.85 >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  CliRun r = run({"show", "fraud-detection", "Production", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["version"], 1);
}

}  // namespace

namespace {

TEST_F(CliTest, validate_reports_the_gates_and_changes_nothing) {
  ASSERT_EQ(register_model("0.91", "1.0.0").exit_code, 0);
  CliRun r = run({"validate", "fraud-detection", "1", "--min", "auc=0.95", "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_FALSE(r.doc()["gate_report"]["passed"].get<bool>());
  EXPECT_EQ(r.doc()["error"]["code"], "validation_failed");
  EXPECT_NE(r.err.find("fails its validation gates"), std::string::npos) << r.err;
  r = run({"validate", "fraud-detection", "--min", "auc=0.85"});  // latest by default
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("passed"), std::string::npos) << r.out;
  // Neither call moved the version.
  EXPECT_EQ(run({"show", "fraud-detection", "1", "--json"}).doc()["stage"], "Development");
}

TEST_F(CliTest, promote_takes_a_version_through_the_gates_to_production) {
  ASSERT_EQ(register_model("0.91", "1.0.0").exit_code, 0);
  // A failing gate stops at Staging's door: exit 3, the version is Rejected, nothing serves.
  ASSERT_EQ(register_model("0.70", "1.1.0").exit_code, 0);
  CliRun r = run({"promote", "fraud-detection", "2", "--min", "auc=0.85", "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(run({"show", "fraud-detection", "2", "--json"}).doc()["stage"], "Rejected");

  r = run({"promote", "fraud-detection", "1", "--min", "auc=0.85", "--reason", "beats baseline",
           "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["stage"], "Production");
  ASSERT_EQ(r.doc()["steps"].size(), 2u);
  EXPECT_EQ(r.doc()["steps"][0]["to"], "Staging");
  EXPECT_TRUE(r.doc()["steps"][0]["gate_report"]["passed"].get<bool>());
  EXPECT_EQ(r.doc()["steps"][1]["to"], "Production");
  // Promoting what already serves is an illegal transition.
  r = run({"promote", "fraud-detection", "1", "--json"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.doc()["error"]["code"], "invalid_transition");

  // From Staging it is one step, and the old Production version is archived.
  ASSERT_EQ(register_model("0.93", "1.2.0").exit_code, 0);
  ASSERT_EQ(run({"transition", "fraud-detection", "3", "Staging"}).exit_code, 0);
  r = run({"promote", "fraud-detection", "1.2.0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["steps"].size(), 1u);
  EXPECT_EQ(run({"show", "fraud-detection", "Production", "--json"}).doc()["version"], 3);
  EXPECT_EQ(run({"show", "fraud-detection", "1", "--json"}).doc()["stage"], "Archived");
}

TEST_F(CliTest, analysis_commands_need_no_registry_but_registry_commands_do) {
  // No --data and no SWITCHYARD_DATA: the registry commands say what is missing (exit 1).
  const std::string cmd = "env -u SWITCHYARD_DATA " + quote(SWITCHYARD_CLI_PATH) +
                          " list 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::array<char, 4096> buf{};
  std::string out(buf.data(), std::fread(buf.data(), 1, buf.size(), pipe));
  const int status = ::pclose(pipe);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(out.find("--data DIR"), std::string::npos) << out;
}

// One labelled prediction per row: `correct` of `n` right in each arm, every tenth converted.
std::string ab_csv(int n_a, int correct_a, int n_b, int correct_b) {
  std::string csv = "request_id,variant,label,prediction,converted\n";
  auto arm = [&](const char* variant, int n, int correct) {
    for (int i = 0; i < n; ++i) {
      const int label = i % 2;
      const int prediction = i < correct ? label : 1 - label;
      csv += std::string(variant) + "-" + std::to_string(i) + "," + variant + "," +
             std::to_string(label) + "," + std::to_string(prediction) + "," +
             (i % 10 == 0 ? "1" : "0") + "\n";
    }
  };
  arm("v1", n_a, correct_a);
  arm("v2", n_b, correct_b);
  return csv;
}

TEST_F(CliTest, ab_test_analyze_reads_outcomes_and_decides) {
  // Seed 000's `ab_testing.py --model-a v1 --model-b v2 --split 50` on a file of outcomes.
  const std::string file = write("outcomes.csv", ab_csv(1000, 800, 1000, 860));
  CliRun r = run({"ab-test", "analyze", file, "--model-a", "v1", "--model-b", "v2", "--split",
                  "50", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc = r.doc();
  EXPECT_EQ(doc["input"]["rows"], 2000);
  EXPECT_EQ(doc["decision"]["kind"], "ship_treatment");
  EXPECT_EQ(doc["winner"], "v2");
  ASSERT_EQ(doc["metrics"][0]["name"], "accuracy");  // the primary, from label and prediction
  EXPECT_DOUBLE_EQ(doc["metrics"][0]["variants"][0]["mean"].get<double>(), 0.80);
  EXPECT_DOUBLE_EQ(doc["metrics"][0]["variants"][1]["mean"].get<double>(), 0.86);
  EXPECT_EQ(doc["metrics"][0]["variants"][1]["n"], 1000);
  EXPECT_EQ(doc["metrics"][1]["name"], "converted");  // a 0/1 column: a rate guardrail
  EXPECT_EQ(doc["metrics"][1]["kind"], "binary");
  // The table is readable and names the decision.
  r = run({"ab-test", "analyze", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ship_treatment"), std::string::npos) << r.out;

  // --split 80 says 80 % went to v1: 1000 / 1000 is a sample ratio mismatch, nothing decides.
  r = run({"ab-test", "analyze", file, "--model-a", "v1", "--model-b", "v2", "--split", "80",
           "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["decision"]["kind"], "invalid");
  EXPECT_TRUE(r.doc()["winner"].is_null());

  // No difference: not decided for the treatment.
  r = run({"ab-test", "analyze", write("same.csv", ab_csv(300, 240, 300, 240)), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.doc()["decision"]["kind"], "ship_treatment");
}

TEST_F(CliTest, ab_test_analyze_errors_name_the_file_row_and_field) {
  std::string csv = ab_csv(5, 4, 5, 4);
  csv.replace(csv.find("v2-3,v2,1,"), 10, "v2-3,v2,x,");
  CliRun r = run({"ab-test", "analyze", write("bad.csv", csv), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.doc()["error"]["code"], "invalid_argument");
  EXPECT_NE(r.err.find("bad.csv line 10 (row 9), column 'label': 'x' is not an integer"),
            std::string::npos)
      << r.err;
  r = run({"ab-test", "analyze", write("short.csv", "variant,converted\nv1,1\nv2\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("short.csv line 3 (row 2): 1 fields, the header has 2"), std::string::npos)
      << r.err;
  r = run({"ab-test", "analyze", write("arms.csv", "arm,converted\nv1,1\nv2,0\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no column 'variant' (--variant-column); its columns are arm, converted"),
            std::string::npos)
      << r.err;
  r = run({"ab-test", "analyze", write("one.csv", "variant,converted\nv1,1\nv1,0\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs at least two"), std::string::npos) << r.err;
  const std::string good = write("good.csv", ab_csv(5, 4, 5, 4));
  EXPECT_EQ(run({"ab-test", "analyze", good, "--primary", "revenue"}).exit_code, 1);
  EXPECT_EQ(run({"ab-test", "analyze", good, "--model-a", "v9"}).exit_code, 1);
  EXPECT_EQ(run({"ab-test", "analyze", good, "--split", "50"}).exit_code, 1);  // needs a and b
  EXPECT_EQ(run({"ab-test", "analyze", (dir_ / "missing.csv").string()}).exit_code, 2);
  r = run({"ab-test", "analyze", write("quote.csv", "variant,converted\n\"v1,1\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("quote.csv line 2: a quoted field is never closed"), std::string::npos)
      << r.err;
}

// Two columns, 40 reference rows and 30 current ones, from formulas so that the reference
// numbers can be recomputed: scipy 1.10.1, as Evidently calls it for these sizes,
//   stats.ks_2samp(ref_amount, cur_amount).pvalue                    -> 0.0762046102472055
//   stats.chisquare(cur_counts, ref_counts * 30 / 40).pvalue  (DE, FR, US) -> 0.01623023982560877
// with ref_amount[i] = 100 + ((37 i) mod 41 - 20) * 1.5, cur_amount[i] = 112 + ((23 i) mod 29
// - 14) * 1.7 (one decimal), country DE/FR/US by i mod 3 (reference) and DE DE DE FR US by
// i mod 5 (current).
std::string amount_csv(bool current) {
  std::string csv = "amount,country\n";
  const int n = current ? 30 : 40;
  for (int i = 0; i < n; ++i) {
    const double amount = current ? 112 + ((i * 23) % 29 - 14) * 1.7 : 100 + ((i * 37) % 41 - 20) * 1.5;
    char cell[32];
    std::snprintf(cell, sizeof cell, "%.1f", amount);
    const char* country = current ? (i % 5 < 3 ? "DE" : i % 5 == 3 ? "FR" : "US")
                                  : (i % 3 == 0 ? "DE" : i % 3 == 1 ? "FR" : "US");
    csv += std::string(cell) + "," + country + "\n";
  }
  return csv;
}

TEST_F(CliTest, drift_report_matches_scipy_on_two_csv_files) {
  const std::string ref = write("reference.csv", amount_csv(false));
  const std::string cur = write("current.csv", amount_csv(true));
  CliRun r = run({"drift", "report", ref, cur, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc = r.doc();
  ASSERT_EQ(doc["features"].size(), 2u);
  EXPECT_EQ(doc["features"][0]["name"], "amount");
  EXPECT_EQ(doc["features"][0]["test"], "ks");
  EXPECT_NEAR(doc["features"][0]["score"].get<double>(), 0.0762046102472055, 1e-12);
  EXPECT_FALSE(doc["features"][0]["drift"].get<bool>());
  EXPECT_EQ(doc["features"][1]["kind"], "categorical");  // text cells
  EXPECT_EQ(doc["features"][1]["test"], "chisquare");
  EXPECT_NEAR(doc["features"][1]["score"].get<double>(), 0.01623023982560877, 1e-12);
  EXPECT_TRUE(doc["features"][1]["drift"].get<bool>());
  EXPECT_EQ(doc["reference"]["rows"], 40);
  // One of two drifted: the default share 0.5 calls it dataset drift; --fail-on-drift exits 3
  // and still prints the report.
  EXPECT_TRUE(doc["dataset_drift"].get<bool>());
  r = run({"drift", "report", ref, cur, "--fail-on-drift"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.out.find("amount"), std::string::npos) << r.out;
  EXPECT_EQ(run({"drift", "report", ref, cur, "--drift-share", "0.9", "--fail-on-drift"}).exit_code,
            0);
  // Seed 003's rule: PSI for every feature.
  r = run({"drift", "report", ref, cur, "--seed-003", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["features"][0]["test"], "psi");
}

TEST_F(CliTest, drift_report_errors_name_the_file_row_and_column) {
  const std::string ref = write("reference.csv", amount_csv(false));
  std::string text = amount_csv(true);
  text.replace(text.find("\n") + 1, 0, "12O.5,DE\n");  // a letter O for a zero, on line 2
  CliRun r = run({"drift", "report", ref, write("typo.csv", text)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("typo.csv line 2 (row 1), column 'amount': '12O.5' is not a number"),
            std::string::npos)
      << r.err;
  r = run({"drift", "report", ref, write("narrow.csv", "amount\n1\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("narrow.csv: no column 'country'"), std::string::npos) << r.err;
  EXPECT_EQ(run({"drift", "report", ref, ref, "--test", "magic"}).exit_code, 1);
  EXPECT_EQ(run({"drift", "report", ref, ref, "--categorical", "nope"}).exit_code, 1);
  EXPECT_EQ(run({"drift", "report", ref, write("empty.csv", "")}).exit_code, 1);
}

TEST_F(CliTest, canary_simulate_runs_seed_003s_plan_through_the_simulator) {
  const std::string plan = write("canary.yaml", std::string(switchyard::kSeed003CanaryPlanYaml));
  // A candidate as good as stable: promoted after the plan's 1 + 4 + 12 + 24 hours.
  CliRun r = run({"canary", "simulate", plan, "--expect", "promoted", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc = r.doc();
  EXPECT_EQ(doc["outcome"], "promoted");
  EXPECT_EQ(doc["decided_at"], "41:00:00");
  EXPECT_EQ(doc["candidate_version"], 12);
  EXPECT_EQ(doc["stable_version"], 11);
  EXPECT_GT(doc["requests"].get<std::uint64_t>(), 41u * 3600u * 900u);  // ~1,000 per second
  // A candidate failing 1 % of requests (stable 0.1 %) is rolled back within the first stage.
  r = run({"canary", "simulate", plan, "--candidate-error-rate", "0.01", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["outcome"], "rolled_back");
  EXPECT_LE(r.doc()["decided_at_seconds"].get<double>(), 3600.0);
  EXPECT_NE(r.doc()["reason"].get<std::string>().find("error"), std::string::npos);
  // The same with --expect promoted fails the way CI wants: exit 3, the report still printed.
  r = run({"canary", "simulate", plan, "--candidate-error-rate", "0.01", "--expect", "promoted"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.out.find("ROLLED BACK"), std::string::npos) << r.out;
  // What the simulator is for: seed 003's plan checks the error rate only in its 5 % stage, so a
  // candidate that starts failing 2 % of requests two hours in (at 25 %) is promoted anyway.
  r = run({"canary", "simulate", plan, "--break-at", "2h", "--break-error-rate", "0.02", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["outcome"], "promoted");
  // Its accuracy falling 5 points two hours in is caught by the 25 % stage's accuracy_drop rule.
  // The progress bar goes to stderr.
  r = run({"canary", "simulate", plan, "--break-at", "2h", "--break-accuracy-change", "-0.05",
           "--progress", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.doc()["outcome"], "rolled_back");
  EXPECT_GE(r.doc()["decided_at_seconds"].get<double>(), 7200.0);
  EXPECT_LE(r.doc()["decided_at_seconds"].get<double>(), 5.0 * 3600.0);
  EXPECT_NE(r.err.find("[#-"), std::string::npos) << r.err;  // 2:23 of the plan's 41 hours
  EXPECT_NE(r.err.find("rolled_back"), std::string::npos) << r.err;
}

TEST_F(CliTest, canary_simulate_errors_name_the_plan_and_field) {
  std::string yaml(switchyard::kSeed003CanaryPlanYaml);
  yaml.replace(yaml.find("traffic_percent: 25"), 19, "traffic_percent: 250");
  CliRun r = run({"canary", "simulate", write("bad.yaml", yaml)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.yaml"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stages[1]"), std::string::npos) << r.err;
  EXPECT_EQ(run({"canary", "simulate", (dir_ / "none.yaml").string()}).exit_code, 2);
  const std::string plan = write("canary.yaml", std::string(switchyard::kSeed003CanaryPlanYaml));
  r = run({"canary", "simulate", plan, "--duration", "soon"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--duration 'soon'"), std::string::npos) << r.err;
  EXPECT_EQ(run({"canary", "simulate", plan, "--candidate-error-rate", "2"}).exit_code, 1);
  EXPECT_EQ(run({"canary", "simulate", plan, "--expect", "maybe"}).exit_code, 1);
}

}  // namespace
