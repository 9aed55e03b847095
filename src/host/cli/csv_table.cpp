// SPDX-License-Identifier: Apache-2.0
#include "csv_table.hpp"

#include <charconv>
#include <cmath>
#include <set>

#include <switchyard/core/error.hpp>

#include "cli_support.hpp"

namespace switchyard::cli {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

CsvTable CsvTable::read(const std::string& path) {
  return parse(read_file(path, "CSV file"), path);
}

CsvTable CsvTable::parse(std::string_view text, std::string file) {
  CsvTable t;
  t.file_ = std::move(file);
  std::vector<std::vector<std::string>> records;
  std::vector<std::size_t> lines;
  std::vector<std::string> record;
  std::string field;
  std::size_t line = 1;
  std::size_t record_line = 1;
  bool in_quotes = false;
  bool quoted = false;  // the current field was quoted: only spaces may follow the closing quote
  auto end_field = [&] {
    record.push_back(quoted ? field : std::string(trim(field)));
    field.clear();
    quoted = false;
  };
  auto end_record = [&] {
    end_field();
    // A line with nothing on it (e.g. the last line end) is no record.
    if (!(record.size() == 1 && record[0].empty())) {
      records.push_back(std::move(record));
      lines.push_back(record_line);
    }
    record.clear();
  };
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 byte order mark
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      if (!trim(field).empty() || quoted) {
        throw InvalidArgument(t.file_ + " line " + std::to_string(line) +
                              ": a quote inside an unquoted field (quote the whole field and "
                              "double the quote: \"a \"\"b\"\"\")");
      }
      field.clear();
      in_quotes = true;
      quoted = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
      record_line = line;
    } else if (quoted) {
      if (c != ' ' && c != '\t') {
        throw InvalidArgument(t.file_ + " line " + std::to_string(line) +
                              ": text after a closing quote");
      }
    } else {
      field += c;
    }
  }
  if (in_quotes) {
    throw InvalidArgument(t.file_ + " line " + std::to_string(record_line) +
                          ": a quoted field is never closed");
  }
  end_record();
  if (records.empty()) throw InvalidArgument(t.file_ + ": empty file (expected a header row)");
  t.header_ = std::move(records.front());
  std::set<std::string, std::less<>> seen;
  for (std::size_t c = 0; c < t.header_.size(); ++c) {
    if (t.header_[c].empty()) {
      throw InvalidArgument(t.file_ + " line " + std::to_string(lines.front()) + ": column " +
                            std::to_string(c + 1) + " has no name in the header");
    }
    if (!seen.insert(t.header_[c]).second) {
      throw InvalidArgument(t.file_ + " line " + std::to_string(lines.front()) + ": column '" +
                            t.header_[c] + "' appears twice in the header");
    }
  }
  for (std::size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != t.header_.size()) {
      throw InvalidArgument(t.file_ + " line " + std::to_string(lines[r]) + " (row " +
                            std::to_string(r) + "): " + std::to_string(records[r].size()) +
                            " fields, the header has " + std::to_string(t.header_.size()));
    }
    t.rows_.push_back(std::move(records[r]));
    t.lines_.push_back(lines[r]);
  }
  return t;
}

std::optional<std::size_t> CsvTable::find_column(std::string_view name) const noexcept {
  for (std::size_t c = 0; c < header_.size(); ++c) {
    if (header_[c] == name) return c;
  }
  return std::nullopt;
}

std::size_t CsvTable::column(std::string_view name, std::string_view why) const {
  if (auto c = find_column(name)) return *c;
  std::string names;
  for (const auto& h : header_) names += (names.empty() ? "" : ", ") + h;
  throw InvalidArgument(file_ + ": no column '" + std::string(name) + "' (" + std::string(why) +
                        "); its columns are " + names);
}

std::string CsvTable::where(std::size_t row, std::size_t column) const {
  return file_ + " line " + std::to_string(lines_[row]) + " (row " + std::to_string(row + 1) +
         "), column '" + header_[column] + "'";
}

bool CsvTable::empty_cell(std::size_t row, std::size_t column) const {
  return trim(rows_[row][column]).empty();
}

std::optional<double> CsvTable::try_number(std::size_t row, std::size_t column) const {
  const std::string_view s = trim(rows_[row][column]);
  if (s.empty()) return std::nullopt;
  double value = 0.0;
  const char* first = s.data();
  if (*first == '+') ++first;
  const auto [ptr, ec] = std::from_chars(first, s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

double CsvTable::number(std::size_t row, std::size_t column) const {
  if (empty_cell(row, column)) throw InvalidArgument(where(row, column) + ": empty, expected a number");
  const auto value = try_number(row, column);
  if (!value) {
    throw InvalidArgument(where(row, column) + ": '" + rows_[row][column] + "' is not a number");
  }
  if (!std::isfinite(*value)) {
    throw InvalidArgument(where(row, column) + ": '" + rows_[row][column] + "' is not finite");
  }
  return *value;
}

long long CsvTable::integer(std::size_t row, std::size_t column) const {
  const std::string_view s = trim(rows_[row][column]);
  long long value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    throw InvalidArgument(where(row, column) + ": '" + rows_[row][column] +
                          "' is not an integer");
  }
  return value;
}

}  // namespace switchyard::cli
