// SPDX-License-Identifier: Apache-2.0
// Row decoders both SQL stores share: a row's columns to a value, whatever reads the columns.
#pragma once

#include <string>

#include <switchyard/core/clock.hpp>
#include <switchyard/registry/registry_store.hpp>

namespace switchyard::detail::registry_rows {

/// A rollout_window_figures row (rollout, window_index, replica, written_at_ns, figures),
/// refusing what put_window_figures() never writes. `Row` is a store's row reader: text(),
/// integer(), blob() and corrupt() by column index and name, throwing CorruptStore that names
/// the row. Thread-safety: a pure function of the row.
template <class Row>
WindowFigures decode_window_figures(Row& row) {
  WindowFigures f;
  f.rollout = row.text(0, "rollout");
  if (f.rollout.empty()) row.corrupt("rollout", "is empty");
  f.window = row.integer(1, "window_index");
  if (f.window < 0) row.corrupt("window_index", "holds " + std::to_string(f.window) + ", < 0");
  f.replica = row.text(2, "replica");
  if (f.replica.empty()) row.corrupt("replica", "is empty");
  f.written_at = from_unix_nanos(row.integer(3, "written_at_ns"));
  f.figures = row.blob(4, "figures", kMaxWindowFiguresBytes);
  return f;
}

}  // namespace switchyard::detail::registry_rows
