// SPDX-License-Identifier: Apache-2.0
// ShardedAccumulator: per-thread shards of a mergeable accumulator, read without a shared lock.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <new>
#include <switchyard/detail/mutex.hpp>
#include <switchyard/detail/thread_slot.hpp>
#include <thread>
#include <type_traits>
#include <utility>

namespace switchyard::stats {

/// Many threads adding to one logical accumulator (RunningMoments, ProportionCounter, CoMoments or
/// any trivially copyable type with add() and merge()), with no lock and no shared cache line on
/// the write path.
///
/// Each thread writes its own lazily allocated shard, chosen by
/// ::switchyard::detail::thread_index(). After each add the shard republishes its state under a
/// per-shard sequence lock, so snapshot() reads every shard consistently (never a count from one
/// update and a mean from another) and merges them with the accumulator's merge(). Threads beyond
/// ::switchyard::detail::kMaxThreadSlots share one mutex-guarded shard. A shard outlives its
/// thread: a later thread reusing the index keeps adding to it, so nothing recorded is lost.
///
/// @code
///   ShardedAccumulator<RunningMoments> latency;      // shared by all request threads
///   latency.add(ms);                                  // request path, lock-free
///   SampleSummary s = latency.snapshot().summary();   // control path
/// @endcode
///
/// Thread-safe: add() and snapshot() may be called concurrently from any threads. Not copyable or
/// movable.
template <class Accumulator>
class ShardedAccumulator {
  static_assert(std::is_trivially_copyable_v<Accumulator>,
                "ShardedAccumulator publishes shards word by word");
  static_assert(sizeof(Accumulator) % sizeof(std::uint64_t) == 0,
                "the accumulator's size must be a whole number of 64-bit words");
  static constexpr std::size_t kWords = sizeof(Accumulator) / sizeof(std::uint64_t);
  using Words = std::array<std::uint64_t, kWords>;

 public:
  ShardedAccumulator() = default;
  ~ShardedAccumulator() {
    for (auto& s : shards_) delete s.load(std::memory_order_acquire);
  }
  ShardedAccumulator(const ShardedAccumulator&) = delete;
  ShardedAccumulator& operator=(const ShardedAccumulator&) = delete;

  /// Forwards to Accumulator::add on this thread's shard.
  template <class... Args>
  void add(Args&&... args) {
    const std::size_t i = ::switchyard::detail::thread_index();
    Shard* s = i < ::switchyard::detail::kMaxThreadSlots
                   ? shards_[i].load(std::memory_order_acquire)
                   : nullptr;
    if (s == nullptr) [[unlikely]] {
      s = i < ::switchyard::detail::kMaxThreadSlots ? allocate(i) : nullptr;
      if (s == nullptr) {
        ::switchyard::detail::MutexLock lk(overflow_mu_);
        overflow_.add(std::forward<Args>(args)...);
        return;
      }
    }
    s->local.add(std::forward<Args>(args)...);
    s->publish();
  }

  /// The merge of every shard, each read at one consistent point.
  Accumulator snapshot() const {
    Accumulator out{};
    for (const auto& p : shards_) {
      if (const Shard* s = p.load(std::memory_order_acquire)) out.merge(s->read());
    }
    ::switchyard::detail::MutexLock lk(overflow_mu_);
    out.merge(overflow_);
    return out;
  }

 private:
  struct alignas(64) Shard {
    Accumulator local{};  // touched only by the thread that owns the slot
    std::atomic<std::uint64_t> seq{0};
    std::array<std::atomic<std::uint64_t>, kWords> published{};

    // Sequence lock without standalone fences (which ThreadSanitizer cannot model): the words are
    // stored with release and loaded with acquire. A reader that sees any word of a write in
    // progress therefore also sees that write's odd sequence number when it re-reads the
    // sequence, and retries. On x86 these are plain moves.
    void publish() noexcept {
      const Words w = std::bit_cast<Words>(local);
      const std::uint64_t s = seq.load(std::memory_order_relaxed);  // single writer
      seq.store(s + 1, std::memory_order_relaxed);
      for (std::size_t k = 0; k < kWords; ++k) published[k].store(w[k], std::memory_order_release);
      seq.store(s + 2, std::memory_order_release);
    }
    Accumulator read() const noexcept {
      Words w{};
      for (;;) {
        const std::uint64_t s1 = seq.load(std::memory_order_acquire);
        if ((s1 & 1u) == 0) {
          for (std::size_t k = 0; k < kWords; ++k)
            w[k] = published[k].load(std::memory_order_acquire);
          if (seq.load(std::memory_order_relaxed) == s1) break;
        }
        std::this_thread::yield();
      }
      return std::bit_cast<Accumulator>(w);
    }
  };

  Shard* allocate(std::size_t i) noexcept {
    // Only the thread holding index i installs slot i; readers see it through the acquire load.
    Shard* s = new (std::nothrow) Shard();
    if (s != nullptr) shards_[i].store(s, std::memory_order_release);
    return s;
  }

  std::array<std::atomic<Shard*>, ::switchyard::detail::kMaxThreadSlots> shards_{};
  mutable ::switchyard::detail::Mutex overflow_mu_;
  Accumulator overflow_ SWITCHYARD_GUARDED_BY(overflow_mu_){};
};

}  // namespace switchyard::stats
