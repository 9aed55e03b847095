// SPDX-License-Identifier: Apache-2.0
// Exit codes, tables, times and KEY=VALUE parsing for the `switchyard` CLI.
#include "cli_support.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace switchyard::cli {

ExitCode exit_code_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument: return ExitCode::kUsage;
    case ErrorCode::kNotFound: return ExitCode::kNotFound;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kInvalidTransition:
    case ErrorCode::kValidationFailed:
    case ErrorCode::kLeaseHeld: return ExitCode::kRejected;
    case ErrorCode::kStorage:
    case ErrorCode::kCorruptStore:
    case ErrorCode::kSchemaTooNew:
    case ErrorCode::kIntegrity: return ExitCode::kStorage;
    case ErrorCode::kLoadFailed: return ExitCode::kLoadFailed;
    case ErrorCode::kNoActiveModel:
    case ErrorCode::kModelFailed: return ExitCode::kInternal;
  }
  return ExitCode::kInternal;
}

std::string TextTable::render() const {
  std::vector<std::size_t> widths(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  measure(header_);
  for (const auto& row : rows_) measure(row);
  std::string out;
  auto append = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      line += cell;
      if (i + 1 < widths.size()) line.append(widths[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  };
  append(header_);
  for (const auto& row : rows_) append(row);
  return out;
}

std::string format_time(TimePoint t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{sys_days(day)};
  const auto since_midnight = t - day;
  const auto secs = duration_cast<seconds>(since_midnight);
  const auto nanos = duration_cast<nanoseconds>(since_midnight - secs).count();
  const hh_mm_ss<seconds> hms{secs};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  std::string out = buf;
  if (nanos != 0) {
    std::snprintf(buf, sizeof buf, ".%09lld", static_cast<long long>(nanos));
    std::string fraction = buf;
    while (fraction.back() == '0') fraction.pop_back();
    out += fraction;
  }
  return out + 'Z';
}

namespace {

// Reads exactly `n` digits at `pos`; false when they are not there.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > text.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}

}  // namespace

TimePoint parse_time(std::string_view text, std::string_view option) {
  using namespace std::chrono;
  const auto fail = [&]() -> TimePoint {
    throw InvalidArgument(std::string(option) + " '" + std::string(text) +
                          "': not a time; expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[.fraction]Z "
                          "(UTC) or now");
  };
  if (text == "now") return time_point_cast<nanoseconds>(system_clock::now());
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!read_digits(text, pos, 4, y) || !expect(text, pos, '-') || !read_digits(text, pos, 2, mo) ||
      !expect(text, pos, '-') || !read_digits(text, pos, 2, d)) {
    return fail();
  }
  std::int64_t nanos = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') return fail();
    ++pos;
    if (!read_digits(text, pos, 2, h) || !expect(text, pos, ':') || !read_digits(text, pos, 2, mi) ||
        !expect(text, pos, ':') || !read_digits(text, pos, 2, s)) {
      return fail();
    }
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      std::int64_t scale = 100'000'000;
      std::size_t digits = 0;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (digits++ >= 9) return fail();
        nanos += (text[pos++] - '0') * scale;
        scale /= 10;
      }
      if (digits == 0) return fail();
    }
    if (pos < text.size() && text[pos] == 'Z') ++pos;
    if (pos != text.size()) return fail();
  }
  const year_month_day ymd{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return fail();
  const auto t = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + nanoseconds(nanos);
  return TimePoint(duration_cast<nanoseconds>(t.time_since_epoch()));
}

std::pair<std::string, std::string> split_key_value(std::string_view text,
                                                    std::string_view option) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw InvalidArgument(std::string(option) + " '" + std::string(text) +
                          "': expected KEY=VALUE, e.g. " + std::string(option) + " auc=0.91");
  }
  return {std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

std::map<std::string, double> parse_numbers(const std::vector<std::string>& values,
                                            std::string_view option) {
  std::map<std::string, double> out;
  for (const auto& text : values) {
    auto [key, value] = split_key_value(text, option);
    double number = 0;
    const char* first = value.data();
    const char* last = value.data() + value.size();
    const auto [end, ec] = std::from_chars(first, last, number);
    const std::string where = std::string(option) + " '" + text + "': ";
    if (value.empty() || ec != std::errc() || end != last) {
      throw InvalidArgument(where + "value '" + value + "' of '" + key + "' is not a number");
    }
    if (!std::isfinite(number)) {
      throw InvalidArgument(where + "value of '" + key + "' must be finite");
    }
    if (!out.emplace(key, number).second) {
      throw InvalidArgument(where + "'" + key + "' is given twice");
    }
  }
  return out;
}

std::map<std::string, std::string> parse_strings(const std::vector<std::string>& values,
                                                 std::string_view option) {
  std::map<std::string, std::string> out;
  for (const auto& text : values) {
    auto [key, value] = split_key_value(text, option);
    if (!out.emplace(key, value).second) {
      throw InvalidArgument(std::string(option) + " '" + text + "': '" + key + "' is given twice");
    }
  }
  return out;
}

std::string format_number(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

std::string format_metrics(const std::map<std::string, double>& metrics) {
  std::string out;
  for (const auto& [key, value] : metrics) {
    if (!out.empty()) out += ", ";
    out += key + "=" + format_number(value);
  }
  return out;
}

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NotFound(std::string(what) + " '" + path + "': cannot be opened");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw StorageError(std::string(what) + " '" + path + "': read failed");
  return std::move(bytes).str();
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw StorageError("output file '" + path + "': cannot be created");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) throw StorageError("output file '" + path + "': write failed");
}

}  // namespace switchyard::cli
