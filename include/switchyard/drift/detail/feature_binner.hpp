// SPDX-License-Identifier: Apache-2.0
// FeatureBinner: a reference profile's slots compiled for the request path (a few ns per value).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <switchyard/drift/reference_profile.hpp>

// x86-64 with GCC or Clang: an AVX2 path for equally spaced edges, chosen at run time.
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SWITCHYARD_DRIFT_AVX2 1
#endif

namespace switchyard::detail::drift {

inline constexpr double kInf = std::numeric_limits<double>::infinity();

/// Counts rows of a ReferenceProfile's features into a flat array of counters, the slots of
/// FeatureProfile::slot_of() plus one counter for missing values (NaN, +-inf) after each
/// feature's slots. Three compiled forms, chosen per feature when built and run in groups so a row
/// costs no per-feature dispatch:
/// - equally spaced histogram edges: an arithmetic slot (one multiply), taken as is when the value
///   is inside the edges and not within 1e-5 of a step of one, else corrected against the two
///   neighbouring edges, so the slot is exactly the one the edges decide. On x86-64 CPUs with
///   AVX2 four features at a time (about 3x the scalar loop's rows per second);
/// - other histogram edges: a branchless binary search over the edges padded with +inf to a power
///   of two (5 steps for up to 32 edges);
/// - a value layout (categories, two-valued and few-valued features): a direct index when the
///   values are consecutive integers (category codes 0..K-1), else a branchless search, then an
///   equality check (anything else is the "other" slot).
/// Thread-safe: immutable after construction; count() may be called from many threads, each on
/// its own counters.
class FeatureBinner {
 public:
  FeatureBinner() = default;
  /// `vectorize` false keeps count() on its scalar loops even where the CPU has AVX2 (the tests
  /// compare both paths).
  explicit FeatureBinner(const ReferenceProfile& profile, bool vectorize = true) {
    std::uint32_t offset = 0;
    offsets_.reserve(profile.features.size());
    for (std::size_t f = 0; f < profile.features.size(); ++f) {
      const FeatureProfile& p = profile.features[f];
      offsets_.push_back(offset);
      add_feature(static_cast<std::uint32_t>(f), p, offset);
      offset += static_cast<std::uint32_t>(p.slots() + 1);
    }
    counters_ = offset;
#if defined(SWITCHYARD_DRIFT_AVX2)
    // The vector path adds slots to 32-bit bases.
    avx2_ = vectorize && counters_ < (std::size_t{1} << 31) && __builtin_cpu_supports("avx2") &&
            __builtin_cpu_supports("fma");
#else
    (void)vectorize;
#endif
  }

  std::size_t features() const noexcept { return offsets_.size(); }
  /// Counters one row needs: per feature its slots and its missing counter.
  std::size_t counters() const noexcept { return counters_; }
  /// Where feature f's first slot is; its missing counter follows its last slot.
  std::size_t offset(std::size_t f) const noexcept { return offsets_[f]; }

  /// Adds one to the counter of every value of `row` (features() values in profile order).
  /// Counters are a single writer's: a relaxed load and store each, so a reader on another thread
  /// may read them at any time without a data race.
  template <class T>
  void count(const T* row, std::uint64_t* counters) const noexcept {
    std::size_t done = 0;
#if defined(SWITCHYARD_DRIFT_AVX2)
    if (avx2_) done = count_uniform_avx2(row, counters);
#endif
    for (std::size_t i = done; i < uniform_.size(); ++i) {
      const Uniform& u = uniform_[i];
      const double x = static_cast<double>(row[u.column]);
      // Inside the edges and not within kEdgeMargin of one, the arithmetic slot is the one the
      // edges decide: no load of an edge. Everything else (outer slots, the closed last edge,
      // values next to an edge, NaN and infinities) takes the exact path.
      const double t = (x - u.lo) * u.inv_step + 1.0;
      const double n = static_cast<double>(u.edges);
      if (t >= 1.0 && t < n) [[likely]] {
        const auto s = static_cast<std::int64_t>(t);  // signed: one instruction
        const double frac = t - static_cast<double>(s);
        if (std::fabs(frac - 0.5) < 0.5 - kEdgeMargin) [[likely]] {
          bump(counters, u.base + static_cast<std::size_t>(s));
          continue;
        }
      }
      bump(counters, u.base + uniform_slot(u, x));
    }
    for (const Searched& s : searched_) {
      const double x = static_cast<double>(row[s.column]);
      bump(counters, s.base + searched_slot(s, x));
    }
    for (const Valued& v : valued_) {
      const double x = static_cast<double>(row[v.column]);
      bump(counters, v.base + valued_slot(v, x));
    }
  }

  /// The counter index (relative to the feature's offset) a value of feature f lands in: its slot,
  /// or slots() for a missing value. For tests; count() is the request path.
  std::size_t slot_of(std::size_t f, double x) const noexcept {
    for (const Uniform& u : uniform_) {
      if (u.column == f) return uniform_slot(u, x);
    }
    for (const Searched& s : searched_) {
      if (s.column == f) return searched_slot(s, x);
    }
    for (const Valued& v : valued_) {
      if (v.column == f) return valued_slot(v, x);
    }
    return 0;
  }

 private:
  // Histogram edges e[0..n-1]: slot s in [0, n] covers [P[s], P[s+1]) with P[0] = -inf,
  // P[1..n] = e, P[n+1] = +inf; x == e[n-1] belongs to slot n-1 (numpy closes the last bin).
  struct Uniform {
    std::uint32_t column = 0;
    std::uint32_t base = 0;   // counter of slot 0
    std::uint32_t edges = 0;  // n
    double lo = 0.0;
    double inv_step = 0.0;
    double last = 0.0;
    const double* padded = nullptr;  // P
  };
  struct Searched {
    std::uint32_t column = 0;
    std::uint32_t base = 0;
    std::uint32_t edges = 0;
    std::uint32_t half = 0;  // padded size / 2
    double last = 0.0;
    const double* padded = nullptr;  // e then +inf up to a power of two
  };
  struct Valued {
    std::uint32_t column = 0;
    std::uint32_t base = 0;
    std::uint32_t values = 0;  // K; slot K is "other"
    std::uint32_t half = 0;    // 0: direct index (consecutive integers from `first`)
    double first = 0.0;
    const double* padded = nullptr;  // values then a NaN (direct) or +inf (search) tail
  };

  // How close (in steps) to an edge a value must be for the arithmetic slot to need the edges'
  // check: far above the guess's rounding (n ulps) and the edges' allowed spacing error
  // (equally_spaced(): 1e-6 of a step).
  static constexpr double kEdgeMargin = 1e-5;

  static void bump(std::uint64_t* counters, std::size_t i) noexcept {
    std::atomic_ref<std::uint64_t> c(counters[i]);
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

#if defined(SWITCHYARD_DRIFT_AVX2)
  // The arithmetic slot of four equally spaced features at once, on CPUs with AVX2 (checked
  // once at construction): the scalar loop's test lane by lane, the indices stored and bumped
  // one by one; a lane that fails the test takes the exact path. Returns how many uniform
  // features it counted (a multiple of four; count() does the rest).
  template <class T>
  __attribute__((target("avx2,fma"))) std::size_t count_uniform_avx2(
      const T* row, std::uint64_t* counters) const noexcept {
    const std::size_t quads = uniform_.size() / 4;
    const std::uint32_t* column = uniform_column_.data();
    const double* lo = uniform_lo_.data();
    const double* inv = uniform_inv_.data();
    const double* edges = uniform_n_.data();
    const std::int32_t* base = uniform_base_.data();
    const bool consecutive = uniform_consecutive_;
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256d half = _mm256_set1_pd(0.5);
    const __m256d inner = _mm256_set1_pd(0.5 - kEdgeMargin);
    const __m256d magnitude = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffff));
    alignas(16) std::int32_t slot[4];
    for (std::size_t i = 0; i < 4 * quads; i += 4) {
      __m256d x;
      if constexpr (std::is_same_v<T, double>) {
        x = consecutive ? _mm256_loadu_pd(row + column[i])
                        : _mm256_set_pd(row[column[i + 3]], row[column[i + 2]],
                                        row[column[i + 1]], row[column[i]]);
      } else {
        x = _mm256_set_pd(static_cast<double>(row[column[i + 3]]),
                          static_cast<double>(row[column[i + 2]]),
                          static_cast<double>(row[column[i + 1]]),
                          static_cast<double>(row[column[i]]));
      }
      const __m256d t =
          _mm256_fmadd_pd(_mm256_sub_pd(x, _mm256_loadu_pd(lo + i)), _mm256_loadu_pd(inv + i), one);
      const __m128i s = _mm256_cvttpd_epi32(t);  // an out-of-range lane fails the test below
      const __m256d away =
          _mm256_and_pd(_mm256_sub_pd(_mm256_sub_pd(t, _mm256_cvtepi32_pd(s)), half), magnitude);
      const __m256d ok = _mm256_and_pd(
          _mm256_and_pd(_mm256_cmp_pd(t, one, _CMP_GE_OQ),
                        _mm256_cmp_pd(t, _mm256_loadu_pd(edges + i), _CMP_LT_OQ)),
          _mm256_cmp_pd(away, inner, _CMP_LT_OQ));
      const int mask = _mm256_movemask_pd(ok);
      _mm_store_si128(reinterpret_cast<__m128i*>(slot),
                      _mm_add_epi32(s, _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + i))));
      if (mask == 0xf) [[likely]] {
        bump(counters, static_cast<std::size_t>(slot[0]));
        bump(counters, static_cast<std::size_t>(slot[1]));
        bump(counters, static_cast<std::size_t>(slot[2]));
        bump(counters, static_cast<std::size_t>(slot[3]));
        continue;
      }
      for (std::size_t j = 0; j < 4; ++j) {
        const Uniform& u = uniform_[i + j];
        bump(counters, (mask >> j) & 1 ? static_cast<std::size_t>(slot[j])
                                       : u.base + uniform_slot(u, static_cast<double>(row[u.column])));
      }
    }
    return 4 * quads;
  }
#endif

  // finite: x - x == 0 is false for NaN and +-inf. Selects compile to conditional moves.
  static std::size_t uniform_slot(const Uniform& u, double x) noexcept {
    const bool finite = (x - x) == 0.0;
    const double v = finite ? x : u.lo;
    const double n = static_cast<double>(u.edges);
    double t = (v - u.lo) * u.inv_step + 1.0;
    t = t < 0.0 ? 0.0 : t;
    t = t > n ? n : t;
    auto s = static_cast<std::size_t>(t);
    // The guess is at most one slot off (the edges are equally spaced to 1e-9 of a step), so
    // one correction each way, from two independent loads, decides it.
    const double* p = u.padded;
    const double below = p[s], above = p[s + 1];
    s = s - static_cast<std::size_t>(v < below) + static_cast<std::size_t>(v >= above);
    s -= static_cast<std::size_t>(v == u.last);
    return finite ? s : u.edges + 1;
  }

  static std::size_t searched_slot(const Searched& s, double x) noexcept {
    const bool finite = (x - x) == 0.0;
    const double* e = s.padded;
    std::size_t pos = 0;
    for (std::size_t step = s.half; step != 0; step >>= 1) {
      pos += (e[pos + step - 1] <= x) ? step : 0;  // pos = edges <= x
    }
    pos -= static_cast<std::size_t>(x == s.last);
    return finite ? pos : s.edges + 1;
  }

  static std::size_t valued_slot(const Valued& v, double x) noexcept {
    const bool finite = (x - x) == 0.0;
    const double k = static_cast<double>(v.values);
    std::size_t pos;
    if (v.half == 0) {
      double t = finite ? x - v.first : k;
      t = t < 0.0 ? k : t;
      t = t > k ? k : t;
      pos = static_cast<std::size_t>(t);  // the tail entry is NaN: never equal
    } else {
      pos = 0;
      for (std::size_t step = v.half; step != 0; step >>= 1) {
        pos += (v.padded[pos + step - 1] < x) ? step : 0;  // lower bound
      }
    }
    const bool hit = v.padded[pos] == x;
    return !finite ? v.values + 1 : hit ? pos : v.values;
  }

  void add_feature(std::uint32_t column, const FeatureProfile& p, std::uint32_t base) {
    if (p.histogram()) {
      const auto n = static_cast<std::uint32_t>(p.edges.size());
      const double lo = p.edges.front();
      const double step = (p.edges.back() - lo) / static_cast<double>(n - 1);
      if (n >= 3 && equally_spaced(p.edges, step)) {
        std::vector<double> padded;
        padded.reserve(n + 2);
        padded.push_back(-kInf);
        padded.insert(padded.end(), p.edges.begin(), p.edges.end());
        padded.push_back(kInf);
        uniform_.push_back({column, base, n, lo, 1.0 / step, p.edges.back(), keep(padded)});
        uniform_consecutive_ =
            uniform_consecutive_ &&
            (uniform_column_.empty() || column == uniform_column_.front() + uniform_column_.size());
        uniform_column_.push_back(column);
        uniform_lo_.push_back(lo);
        uniform_inv_.push_back(1.0 / step);
        uniform_n_.push_back(static_cast<double>(n));
        uniform_base_.push_back(static_cast<std::int32_t>(base));
        return;
      }
      // At least one +inf after the edges, so the search's position never passes n.
      const std::size_t size = std::bit_ceil(static_cast<std::size_t>(n) + 1);
      std::vector<double> padded(p.edges);
      padded.resize(size, kInf);
      searched_.push_back(
          {column, base, n, static_cast<std::uint32_t>(size / 2), p.edges.back(), keep(padded)});
      return;
    }
    const auto k = static_cast<std::uint32_t>(p.values.size());
    bool consecutive = k > 0;
    for (std::size_t i = 0; consecutive && i < k; ++i) {
      consecutive = p.values[i] == p.values.front() + static_cast<double>(i);
    }
    if (consecutive) {
      std::vector<double> padded(p.values);
      padded.push_back(std::numeric_limits<double>::quiet_NaN());
      valued_.push_back({column, base, k, 0, p.values.front(), keep(padded)});
      return;
    }
    // Lower bound over a power-of-two table ending in at least one +inf.
    const std::size_t size = std::bit_ceil(static_cast<std::size_t>(k) + 1);
    std::vector<double> padded(p.values);
    padded.resize(size, kInf);
    valued_.push_back({column, base, k, static_cast<std::uint32_t>(size / 2), 0.0, keep(padded)});
  }

  // Tolerance as FeatureProfile::index_edges(); the corrections make the slot exact anyway,
  // provided the guess is at most two bins off, which this bound guarantees by far.
  static bool equally_spaced(const std::vector<double>& e, double step) noexcept {
    if (!(step > 0.0) || !std::isfinite(step) || !std::isfinite(1.0 / step)) return false;
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (std::fabs(e.front() + static_cast<double>(i) * step - e[i]) > step * 1e-6) return false;
    }
    return true;
  }

  const double* keep(std::vector<double>& table) {
    tables_.push_back(std::move(table));
    return tables_.back().data();  // vectors own heap buffers: moving the outer vector keeps them
  }

  std::vector<Uniform> uniform_;
  // The uniform features' parameters again, one array each, for two-at-a-time loads.
  std::vector<std::uint32_t> uniform_column_;
  std::vector<double> uniform_lo_, uniform_inv_, uniform_n_;
  std::vector<std::int32_t> uniform_base_;
  bool uniform_consecutive_ = true;  // uniform_column_[i] == uniform_column_[0] + i
#if defined(SWITCHYARD_DRIFT_AVX2)
  bool avx2_ = false;
#endif
  std::vector<Searched> searched_;
  std::vector<Valued> valued_;
  std::vector<std::vector<double>> tables_;
  std::vector<std::uint32_t> offsets_;
  std::size_t counters_ = 0;
};

}  // namespace switchyard::detail::drift
