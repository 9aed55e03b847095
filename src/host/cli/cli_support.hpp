// SPDX-License-Identifier: Apache-2.0
// What every `switchyard` command shares: exit codes, command results, tables, times, KEY=VALUE.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/error.hpp>

namespace switchyard::cli {

/// The documented exit codes (docs/cli.md). Scripts rely on them: values never change meaning.
enum class ExitCode : int {
  kOk = 0,
  kUsage = 1,         ///< bad command line or malformed value (ErrorCode::kInvalidArgument)
  kNotFound = 2,      ///< unknown model, version, alias, file or registry
  kRejected = 3,      ///< invalid transition, failed validation gate, already exists
  kStorage = 4,       ///< registry store or artifact unreadable, corrupt, too new, tampered
  kLoadFailed = 5,    ///< a model file that is not a valid model in its format
  kInternal = 6,      ///< anything else (a bug: please report it)
};

/// The exit code a library error maps to.
ExitCode exit_code_for(ErrorCode code) noexcept;

/// What a command prints: `json` with --json, otherwise `text` (a table or a few lines).
/// The types here are plain values for the CLI's single thread: not thread-safe.
struct CommandResult {
  nlohmann::json json;
  std::string text;
};

/// A failure that carries a report to print (e.g. the gate report of a rejected transition) next
/// to the error itself.
class ReportedError : public Error {
 public:
  ReportedError(ErrorCode code, const std::string& message, CommandResult report)
      : Error(code, message), report_(std::move(report)) {}
  const CommandResult& report() const noexcept { return report_; }

 private:
  CommandResult report_;
};

/// A plain-text table: a header row and columns padded to their widest cell. Not thread-safe
/// (build one per command, on one thread).
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const noexcept { return rows_.empty(); }
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// "2024-05-01T12:00:00.5Z": UTC, fraction of a second only when there is one.
std::string format_time(TimePoint t);
/// Parses "now", "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.fraction][Z]" (also with a space for the T),
/// read as UTC. Throws InvalidArgument naming `option` and the text.
TimePoint parse_time(std::string_view text, std::string_view option);

/// Splits "KEY=VALUE"; throws InvalidArgument naming `option` when there is no '=' or no key.
std::pair<std::string, std::string> split_key_value(std::string_view text,
                                                    std::string_view option);
/// Parses repeated "KEY=NUMBER" values (metrics, thresholds); throws InvalidArgument naming the
/// option, the value and what is wrong with it (not a number, not finite, a repeated key).
std::map<std::string, double> parse_numbers(const std::vector<std::string>& values,
                                            std::string_view option);
/// Parses repeated "KEY=VALUE" strings; throws InvalidArgument as parse_numbers.
std::map<std::string, std::string> parse_strings(const std::vector<std::string>& values,
                                                 std::string_view option);

/// A number as the tables show it: up to 6 significant digits.
std::string format_number(double value);
/// "auc=0.91, f1=0.8".
std::string format_metrics(const std::map<std::string, double>& metrics);

/// The whole content of a file; throws NotFound naming the file when it cannot be read.
std::string read_file(const std::string& path, std::string_view what);
/// Writes a whole file; throws StorageError naming the file.
void write_file(const std::string& path, std::string_view bytes);

}  // namespace switchyard::cli
