// SPDX-License-Identifier: Apache-2.0
// `switchyard`: the command-line face of the model registry. Parses the command line, runs the
// chosen command and maps its errors to the documented exit codes (docs/cli.md).
#include <cstdlib>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli_support.hpp"
#include "analysis_commands.hpp"
#include "registry_commands.hpp"

namespace {

using switchyard::cli::CommandResult;
using switchyard::cli::ExitCode;

constexpr const char* kExitCodes =
    "Exit codes: 0 ok, 1 usage or invalid value, 2 not found, 3 rejected (invalid transition, "
    "failed gate, already exists), 4 storage (unreadable, corrupt or tampered registry), "
    "5 model file does not load, 6 internal error.";

void print_result(const CommandResult& result, bool json) {
  if (json) {
    std::cout << result.json.dump(2) << '\n';
  } else {
    std::cout << result.text;
    if (!result.text.empty() && result.text.back() != '\n') std::cout << '\n';
  }
}

// Errors go to stderr as "switchyard: error (code): message"; with --json, stdout also gets
// {"error": {"code", "exit_code", "message"}} so that scripts read one document either way.
int report_error(std::string_view code, ExitCode exit, const std::string& message, bool json,
                 const CommandResult* report) {
  std::cerr << "switchyard: error (" << code << "): " << message << '\n';
  if (json) {
    nlohmann::json doc = report ? report->json : nlohmann::json::object();
    doc["error"] = {{"code", code}, {"exit_code", static_cast<int>(exit)}, {"message", message}};
    std::cout << doc.dump(2) << '\n';
  } else if (report) {
    std::cout << report->text;
  }
  return static_cast<int>(exit);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"switchyard: register, promote, roll back and audit ML model versions; analyse A/B tests, "
                "drift and rollout plans", "switchyard"};
  app.footer(kExitCodes);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the command name

  switchyard::cli::GlobalOptions global;
  if (const char* user = std::getenv("USER"); user && *user) global.actor = user;
  app.add_option("--data", global.data,
                 "Registry directory holding registry.db and artifacts/ (env SWITCHYARD_DATA); the "
                 "registry commands need it")
      ->envname("SWITCHYARD_DATA");
  app.add_flag("--json", global.json, "Print JSON for scripts instead of tables");
  app.add_option("--actor", global.actor, "Who makes the change, for the audit trail ($USER)");

  switchyard::cli::CommandAction action;
  switchyard::cli::add_registry_commands(app, global, action);
  switchyard::cli::add_analysis_commands(app, global, action);
  switchyard::cli::add_canary_commands(app, global, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ExitCode::kUsage);
  }

  try {
    print_result(action(), global.json);
    return 0;
  } catch (const switchyard::cli::ReportedError& e) {
    return report_error(switchyard::to_string(e.code()), switchyard::cli::exit_code_for(e.code()),
                        e.what(), global.json, &e.report());
  } catch (const switchyard::Error& e) {
    return report_error(switchyard::to_string(e.code()), switchyard::cli::exit_code_for(e.code()),
                        e.what(), global.json, nullptr);
  } catch (const std::exception& e) {
    return report_error("internal", ExitCode::kInternal, e.what(), global.json, nullptr);
  }
}
