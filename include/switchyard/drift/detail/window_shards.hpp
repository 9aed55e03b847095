// SPDX-License-Identifier: Apache-2.0
// WindowShards: per-thread banks of window counters and row samples, written on the request path
// and collected per sub-window by the monitor.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include <switchyard/detail/thread_slot.hpp>
#include <switchyard/monitoring/latency_histogram.hpp>

namespace switchyard::detail::drift {

/// Fixed counters at the start of every bank, before the binner's feature counters.
enum BankCounter : std::size_t {
  kRows = 0,          ///< rows binned
  kRequests = 1,      ///< requests seen (answered or failed)
  kErrors = 2,        ///< failed requests
  kTimedRequests = 3, ///< requests with a latency
  kLatencySum = 4,    ///< ns
  kBankHeader = 5,
};

/// Sizes of one bank: counters (header, features, prediction, latency buckets) and a sample of
/// whole rows (`sample_width` doubles each, at most `sample_capacity` rows).
struct BankLayout {
  std::size_t feature_counters = 0;  ///< binner counters
  std::size_t prediction_counters = 0;
  std::size_t sample_width = 0;
  std::size_t sample_capacity = 0;

  std::size_t feature_offset() const noexcept { return kBankHeader; }
  std::size_t prediction_offset() const noexcept { return kBankHeader + feature_counters; }
  std::size_t latency_offset() const noexcept { return prediction_offset() + prediction_counters; }
  std::size_t counters() const noexcept { return latency_offset() + LatencyBuckets::kCount; }
};

/// The state of one bank's row sample: a systematic sample of the owner thread's rows in the
/// bank's sub-window (rows 0, stride, 2*stride, ...), the stride doubling whenever the buffer is
/// full (every other kept row is dropped), so it is always uniform and never grows. Written by the
/// owner thread; read by the collector only after the sub-window closed.
struct SampleState {
  std::uint64_t seen = 0;    ///< rows offered
  std::uint64_t next = 0;    ///< the next row index to keep
  std::uint64_t stride = 1;
  std::uint64_t kept = 0;
};

/// One bank: the counters and sample of one thread in one sub-window (`tag`).
struct Bank {
  /// The sub-window (epoch) this bank holds; -1 when never used. Written by the owner thread,
  /// read by the collector.
  std::atomic<std::int64_t> tag{-1};
  std::atomic<std::int64_t> last_version{0};
  SampleState sample;
  std::uint64_t* counters = nullptr;  ///< layout.counters() of them
  double* rows = nullptr;             ///< sample_capacity x sample_width
};

/// Banks per thread: the open sub-window plus up to kBanks - 1 closed ones waiting for poll().
inline constexpr std::size_t kBanks = 4;

/// One thread's banks, on cache lines of its own.
struct alignas(64) Shard {
  /// Odd while the owner thread is counting a row; the collector waits for it to move on
  /// before it reads a closed bank, so a row is always whole in one window.
  std::atomic<std::uint64_t> seq{0};
  std::atomic<std::uint64_t> dropped{0};  ///< rows with no free bank (poll() lagging)
  std::int64_t current = -1;              ///< owner only: the epoch `bank` holds
  Bank* bank = nullptr;                   ///< owner only
  std::array<Bank, kBanks> banks;
  std::unique_ptr<std::uint64_t[]> counter_memory;
  std::unique_ptr<double[]> row_memory;
};

/// Every thread's shard, by thread slot (detail::thread_index()). Thread-safe: shard() from any
/// thread for itself; the collector reads shards through at().
class WindowShards {
 public:
  explicit WindowShards(BankLayout layout)
      : layout_(layout), shards_(new std::atomic<Shard*>[kMaxThreadSlots]) {
    for (std::size_t i = 0; i < kMaxThreadSlots; ++i) shards_[i].store(nullptr);
  }
  ~WindowShards() {
    for (std::size_t i = 0; i < kMaxThreadSlots; ++i) delete shards_[i].load();
  }
  WindowShards(const WindowShards&) = delete;
  WindowShards& operator=(const WindowShards&) = delete;

  const BankLayout& layout() const noexcept { return layout_; }

  /// This thread's shard, allocated on its first row (the only allocation of the request path);
  /// null for threads beyond kMaxThreadSlots or when memory is short (the row is then dropped).
  Shard* shard() noexcept {
    const std::size_t i = thread_index();
    if (i >= kMaxThreadSlots) return nullptr;
    Shard* s = shards_[i].load(std::memory_order_acquire);
    return s != nullptr ? s : allocate(i);
  }
  Shard* at(std::size_t i) const noexcept { return shards_[i].load(std::memory_order_acquire); }

 private:
  Shard* allocate(std::size_t i) noexcept {
    auto* s = new (std::nothrow) Shard();
    if (s == nullptr) return nullptr;
    const std::size_t counters = layout_.counters();
    const std::size_t doubles = layout_.sample_capacity * layout_.sample_width;
    s->counter_memory.reset(new (std::nothrow) std::uint64_t[counters * kBanks]());
    if (doubles > 0) s->row_memory.reset(new (std::nothrow) double[doubles * kBanks]);
    if (!s->counter_memory || (doubles > 0 && !s->row_memory)) {
      delete s;
      return nullptr;
    }
    for (std::size_t b = 0; b < kBanks; ++b) {
      s->banks[b].counters = s->counter_memory.get() + b * counters;
      s->banks[b].rows = doubles > 0 ? s->row_memory.get() + b * doubles : nullptr;
    }
    // Only the thread holding slot i installs it; the collector sees it through the acquire load.
    shards_[i].store(s, std::memory_order_release);
    return s;
  }

  BankLayout layout_;
  std::unique_ptr<std::atomic<Shard*>[]> shards_;
};

/// A single writer's counter increment: a relaxed load and store (a plain add on x86), readable by
/// another thread without a data race.
inline void bump(std::uint64_t* counters, std::size_t i, std::uint64_t by = 1) noexcept {
  std::atomic_ref<std::uint64_t> c(counters[i]);
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}
inline std::uint64_t read(const std::uint64_t* counters, std::size_t i) noexcept {
  std::atomic_ref<std::uint64_t> c(const_cast<std::uint64_t&>(counters[i]));
  return c.load(std::memory_order_relaxed);
}

/// Offers the current row to the bank's sample: true when the caller should write it to
/// sample_row(bank, layout) (then call kept()). Amortised O(1): halving the buffer moves
/// capacity / 2 rows once per doubling of the rows seen.
inline double* sample_slot(Bank& bank, const BankLayout& layout) noexcept {
  SampleState& st = bank.sample;
  const std::uint64_t row = st.seen++;
  if (row != st.next || layout.sample_capacity == 0) return nullptr;
  if (st.kept == layout.sample_capacity) {
    const std::size_t w = layout.sample_width;
    for (std::uint64_t j = 1; 2 * j < st.kept; ++j) {
      std::memcpy(bank.rows + j * w, bank.rows + 2 * j * w, w * sizeof(double));
    }
    st.kept = (st.kept + 1) / 2;
    st.stride *= 2;
    if (row % st.stride != 0) {
      st.next = row + st.stride / 2;
      return nullptr;
    }
  }
  st.next = row + st.stride;
  return bank.rows + (st.kept++) * layout.sample_width;
}

}  // namespace switchyard::detail::drift
