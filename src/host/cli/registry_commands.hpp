// SPDX-License-Identifier: Apache-2.0
// The registry commands of the `switchyard` CLI: register, list, show, transition, promote,
// validate, alias, rollback, history, export, import.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_support.hpp"

namespace switchyard::cli {

/// Options every command accepts (before or after the command name). A plain value, read by the
/// CLI's single thread.
struct GlobalOptions {
  std::string data;             ///< the registry directory: registry.db and artifacts/
  bool json = false;            ///< print JSON instead of tables
  std::string actor = "cli";    ///< recorded in the audit trail
};

/// The command chosen on the command line, run after parsing so that its errors map to exit codes.
using CommandAction = std::function<CommandResult()>;

/// Makes `run(global, *options)` the action once `command` is parsed. `options` are the
/// command's own, bound to its CLI11 options; `global` and `action` must outlive the parse.
template <class Options, class Run>
void on_parse(CLI::App* command, const GlobalOptions& global, CommandAction& action,
              std::shared_ptr<Options> options, Run run) {
  command->callback([&global, &action, options, run] {
    action = [&global, options, run] { return run(global, *options); };
  });
}

/// Adds the registry commands to `app`. When one of them is parsed, `action` is set to run it;
/// `global` and the command's own options must outlive the action.
void add_registry_commands(CLI::App& app, const GlobalOptions& global, CommandAction& action);

}  // namespace switchyard::cli
