// SPDX-License-Identifier: Apache-2.0
// CsvTable: a CSV file read whole (RFC 4180: a header row, commas, double-quoted fields with ""
// for a quote, LF or CRLF line ends), with errors that name the file, line, row and column.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::cli {

/// One CSV file: its header and its data rows as text. The CLI's analysis commands read
/// outcomes and feature columns from it. A value type for the CLI's single thread.
class CsvTable {
 public:
  /// Reads and parses `path`. Throws NotFound when the file cannot be read, InvalidArgument
  /// naming the file and line for an empty file, an empty or repeated header name, an unclosed
  /// quote, or a row whose field count differs from the header's.
  static CsvTable read(const std::string& path);
  /// Parses `text`; `file` names it in errors.
  static CsvTable parse(std::string_view text, std::string file);

  const std::string& file() const noexcept { return file_; }
  const std::vector<std::string>& header() const noexcept { return header_; }
  std::size_t rows() const noexcept { return rows_.size(); }
  const std::string& cell(std::size_t row, std::size_t column) const {
    return rows_[row][column];
  }

  /// The index of column `name`, if the header has it.
  std::optional<std::size_t> find_column(std::string_view name) const noexcept;
  /// The index of column `name`; throws InvalidArgument naming the file, the column, what asked
  /// for it (`why`, e.g. "--variant-column") and the columns there are.
  std::size_t column(std::string_view name, std::string_view why) const;

  /// "outcomes.csv line 18 (row 17), column 'label'": where a cell is, for error messages.
  std::string where(std::size_t row, std::size_t column) const;
  /// True when the cell is empty (after trimming spaces).
  bool empty_cell(std::size_t row, std::size_t column) const;
  /// The cell as a number, or nullopt when it is not one (empty cells are not numbers).
  std::optional<double> try_number(std::size_t row, std::size_t column) const;
  /// The cell as a finite number; throws InvalidArgument at where() when it is empty, not a
  /// number, or not finite.
  double number(std::size_t row, std::size_t column) const;
  /// The cell as an integer; throws InvalidArgument at where() otherwise.
  long long integer(std::size_t row, std::size_t column) const;

 private:
  std::string file_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> lines_;  // the line each row starts on (1-based; the header is line 1)
};

}  // namespace switchyard::cli
