// SPDX-License-Identifier: Apache-2.0
// The analysis commands of the `switchyard` CLI, which read files and need no registry:
// `ab-test analyze` (an A/B test from a CSV of outcomes), `drift report` (a current CSV against a
// reference CSV) and `canary simulate` (a rollout plan through the simulator).
#pragma once

#include <CLI/CLI.hpp>

#include "registry_commands.hpp"

namespace switchyard::cli {

/// Adds `ab-test analyze` and `drift report` to `app` (analysis_commands.cpp).
void add_analysis_commands(CLI::App& app, const GlobalOptions& global, CommandAction& action);
/// Adds `canary simulate` to `app` (canary_commands.cpp).
void add_canary_commands(CLI::App& app, const GlobalOptions& global, CommandAction& action);

}  // namespace switchyard::cli
