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
       {std::vector<std::string>{}, {"register"}, {"list"}, {"show"}, {"transition"}, {"alias"},
        {"alias", "set"}, {"alias", "remove"}, {"rollback"}, {"history"}, {"export"},
        {"import"}}) {
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
