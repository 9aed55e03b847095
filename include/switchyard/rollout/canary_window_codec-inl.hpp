// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of canary_window_codec.hpp.
#pragma once

#include <cereal/archives/portable_binary.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <istream>
#include <limits>
#include <set>
#include <sstream>
#include <streambuf>
#include <utility>

#include <switchyard/core/error.hpp>
#include <switchyard/detail/sha256.hpp>
#include <switchyard/detail/view_streambuf.hpp>
#include <switchyard/rollout/canary_window_codec.hpp>

namespace switchyard {

// ---- binary format --------------------------------------------------------------------------
//
//   4 bytes   magic "SYCW"
//   1 byte    format version (1)
//   cereal portable binary archive, little-endian:
//     u8      cereal's byte-order flag (1)
//     u64 index   i64 start_ns   i64 end_ns   u64 ignored   u64 unmatched   u64 duplicate
//     u32 n, figures[n] (window)      u32 n, figures[n] (cumulative)
//   figures:
//     i64 version   u64 requests errors fallbacks labelled correct
//     u64 count sum min max   u32 n, (u32 bucket, u64 count)[n]  (non-zero buckets, ascending)
//     u32 n, f64[n] latency sample
//     u32 n, metric[n]: u32 length, name bytes, u64 count, f64 sum, f64 sum_squares
//   32 bytes  SHA-256 of everything before it
namespace detail::canary_codec {

inline constexpr std::array<char, 4> kMagic = {'S', 'Y', 'C', 'W'};
inline constexpr std::size_t kChecksumSize = 32;
inline constexpr std::uint32_t kMaxVersions = 1024;
inline constexpr std::uint32_t kMaxSample = 1'000'000;  // CanaryMetrics' own cap
inline constexpr std::uint32_t kMaxMetrics = 1024;
inline constexpr std::uint32_t kMaxNameBytes = 4096;

using Out = cereal::PortableBinaryOutputArchive;

inline void save_figures(Out& ar, const CanaryVersionFigures& f) {
  ar(f.version, f.requests, f.errors, f.fallbacks, f.labelled, f.correct);
  const LatencyHistogram& h = f.latency;
  ar(h.count(), h.sum(), h.min(), h.max());
  std::uint32_t buckets = 0;
  for (std::size_t b = 0; b < LatencyBuckets::kCount; ++b) buckets += h.bucket_count(b) != 0;
  ar(buckets);
  for (std::size_t b = 0; b < LatencyBuckets::kCount; ++b) {
    if (const std::uint64_t n = h.bucket_count(b)) ar(static_cast<std::uint32_t>(b), n);
  }
  ar(static_cast<std::uint32_t>(f.latency_sample_ns.size()));
  for (double v : f.latency_sample_ns) ar(v);
  ar(static_cast<std::uint32_t>(f.metrics.size()));
  for (const MetricMoments& m : f.metrics) {
    ar(static_cast<std::uint32_t>(m.name.size()));
    ar(cereal::binary_data(m.name.data(), m.name.size()));
    ar(m.count, m.sum, m.sum_squares);
  }
}

using switchyard::detail::ViewStreamBuf;

// Bounded reads: every length is checked against its cap and the bytes left before allocating.
// Not thread-safe: one per decode, on its thread.
class Reader {
 public:
  Reader(std::string_view body, std::string what)
      : buf_(body), stream_(&buf_), archive_(stream_), what_(std::move(what)) {}

  [[noreturn]] void corrupt(const std::string& why) const {
    throw CorruptStore(what_ + ": " + why);
  }
  std::size_t remaining() const noexcept { return buf_.remaining(); }
  void need(std::uint64_t bytes, const char* field) const {
    if (bytes > remaining()) {
      corrupt(std::string("truncated: ") + field + " needs " + std::to_string(bytes) +
              " bytes but only " + std::to_string(remaining()) + " remain");
    }
  }
  template <class T>
  T scalar(const char* field) {
    need(sizeof(T), field);
    T v{};
    archive_(v);
    return v;
  }
  std::uint32_t length(const char* field, std::uint32_t cap, std::size_t min_entry_bytes) {
    const auto n = scalar<std::uint32_t>(field);
    if (n > cap) {
      corrupt(std::string(field) + " claims " + std::to_string(n) + " entries (at most " +
              std::to_string(cap) + ")");
    }
    need(std::uint64_t{n} * min_entry_bytes, field);
    return n;
  }
  std::string text(std::uint32_t n) {
    std::string s(n, '\0');
    if (n) archive_(cereal::binary_data(s.data(), s.size()));
    return s;
  }

 private:
  ViewStreamBuf buf_;
  std::istream stream_;
  cereal::PortableBinaryInputArchive archive_;
  std::string what_;
};

inline CanaryVersionFigures read_figures(Reader& r, const char* list) {
  CanaryVersionFigures f;
  f.version = r.scalar<std::int64_t>("a version number");
  const std::string who = std::string(list) + " figures of version " + std::to_string(f.version);
  f.requests = r.scalar<std::uint64_t>("requests");
  f.errors = r.scalar<std::uint64_t>("errors");
  f.fallbacks = r.scalar<std::uint64_t>("fallbacks");
  f.labelled = r.scalar<std::uint64_t>("labelled");
  f.correct = r.scalar<std::uint64_t>("correct");
  if (f.errors > f.requests) {
    r.corrupt(who + ": " + std::to_string(f.errors) + " errors of " +
              std::to_string(f.requests) + " requests");
  }
  if (f.correct > f.labelled) {
    r.corrupt(who + ": " + std::to_string(f.correct) + " correct of " +
              std::to_string(f.labelled) + " labelled");
  }
  const auto count = r.scalar<std::uint64_t>("the latency count");
  const auto sum = r.scalar<std::uint64_t>("the latency sum");
  const auto min = r.scalar<std::uint64_t>("the latency minimum");
  const auto max = r.scalar<std::uint64_t>("the latency maximum");
  const std::uint32_t buckets = r.length("the latency buckets", LatencyBuckets::kCount, 12);
  std::uint64_t total = 0;
  std::int64_t previous = -1;
  for (std::uint32_t i = 0; i < buckets; ++i) {
    const auto b = r.scalar<std::uint32_t>("a bucket index");
    const auto n = r.scalar<std::uint64_t>("a bucket count");
    if (b >= LatencyBuckets::kCount || static_cast<std::int64_t>(b) <= previous || n == 0) {
      r.corrupt(who + ": latency bucket " + std::to_string(b) + " (count " + std::to_string(n) +
                ") is out of range, out of order or empty");
    }
    previous = b;
    f.latency.add_bucket(b, n);
    total += n;
  }
  if (total != count) {
    r.corrupt(who + ": the latency buckets hold " + std::to_string(total) +
              " values but the histogram counts " + std::to_string(count));
  }
  if (count > 0 && (min > max || count > f.requests)) {
    r.corrupt(who + ": latency minimum " + std::to_string(min) + ", maximum " +
              std::to_string(max) + " and count " + std::to_string(count) + " of " +
              std::to_string(f.requests) + " requests do not fit together");
  }
  if (count == 0 && sum != 0) {
    r.corrupt(who + ": an empty latency histogram with sum " + std::to_string(sum));
  }
  // A window's histogram keeps its stream's maximum even when empty (LatencyHistogram::subtract).
  f.latency.set_totals(count, sum, count > 0 ? min : std::numeric_limits<std::uint64_t>::max(),
                       max);
  const std::uint32_t samples = r.length("the latency sample", kMaxSample, sizeof(double));
  f.latency_sample_ns.resize(samples);
  for (std::uint32_t i = 0; i < samples; ++i) {
    const double v = r.scalar<double>("a latency sample value");
    if (!std::isfinite(v) || v < 0.0) {
      r.corrupt(who + ": latency sample value " + std::to_string(i) + " is not a finite " +
                "non-negative number");
    }
    f.latency_sample_ns[i] = v;
  }
  const std::uint32_t metrics = r.length("the host metrics", kMaxMetrics, 28);
  std::set<std::string, std::less<>> names;
  f.metrics.resize(metrics);
  for (MetricMoments& m : f.metrics) {
    const std::uint32_t n = r.length("a metric name", kMaxNameBytes, 1);
    if (n == 0) r.corrupt(who + ": a host metric has an empty name");
    m.name = r.text(n);
    if (!names.insert(m.name).second) r.corrupt(who + ": host metric '" + m.name + "' twice");
    m.count = r.scalar<std::uint64_t>("a metric count");
    m.sum = r.scalar<double>("a metric sum");
    m.sum_squares = r.scalar<double>("a metric sum of squares");
    if (!std::isfinite(m.sum) || !std::isfinite(m.sum_squares) || m.sum_squares < 0.0) {
      r.corrupt(who + ": host metric '" + m.name + "' has a sum or sum of squares that is not "
                "finite (or a negative sum of squares)");
    }
  }
  return f;
}

inline std::vector<CanaryVersionFigures> read_list(Reader& r, const char* list) {
  // A version's figures take at least 92 bytes: ten 8-byte fields and three 4-byte lengths.
  const std::uint32_t n = r.length(list, kMaxVersions, 92);
  std::vector<CanaryVersionFigures> out;
  out.reserve(n);
  std::set<std::int64_t> seen;
  for (std::uint32_t i = 0; i < n; ++i) {
    out.push_back(read_figures(r, list));
    if (!seen.insert(out.back().version).second) {
      r.corrupt(std::string(list) + " figures hold version " +
                std::to_string(out.back().version) + " twice");
    }
  }
  return out;
}

}  // namespace detail::canary_codec

SWITCHYARD_INLINE std::string encode_canary_window(const CanaryWindow& w) {
  namespace cc = detail::canary_codec;
  std::ostringstream os(std::ios::binary);
  os.write(cc::kMagic.data(), cc::kMagic.size());
  os.put(static_cast<char>(kCanaryWindowFormatVersion));
  {
    cc::Out ar(os, cc::Out::Options::LittleEndian());
    ar(w.index, to_unix_nanos(w.start), to_unix_nanos(w.end), w.ignored_requests,
       w.labels_unmatched, w.labels_duplicate);
    for (const auto* list : {&w.window, &w.cumulative}) {
      ar(static_cast<std::uint32_t>(list->size()));
      for (const auto& f : *list) cc::save_figures(ar, f);
    }
  }
  std::string bytes = std::move(os).str();
  bytes += detail::sha256_raw(bytes);
  return bytes;
}

SWITCHYARD_INLINE CanaryWindow decode_canary_window(std::string_view bytes,
                                                    std::string_view what) {
  namespace cc = detail::canary_codec;
  const std::string who(what);
  const std::string_view magic(cc::kMagic.data(), cc::kMagic.size());
  if (bytes.size() < magic.size() + 1 || bytes.substr(0, magic.size()) != magic) {
    throw CorruptStore(who + ": not canary window figures (" + std::to_string(bytes.size()) +
                       " bytes, without the magic \"SYCW\")");
  }
  const auto version = static_cast<std::uint8_t>(bytes[magic.size()]);
  if (version > kCanaryWindowFormatVersion) {
    throw SchemaTooNew(who + ": canary window figures of format version " +
                       std::to_string(version) + "; this Switchyard reads versions up to " +
                       std::to_string(kCanaryWindowFormatVersion));
  }
  if (version == 0) throw CorruptStore(who + ": canary window figures of format version 0");
  if (bytes.size() < magic.size() + 2 + cc::kChecksumSize) {
    throw CorruptStore(who + ": truncated: " + std::to_string(bytes.size()) +
                       " bytes, no room for the checksum");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - cc::kChecksumSize);
  if (detail::sha256_raw(body) != bytes.substr(body.size())) {
    throw CorruptStore(who + ": checksum mismatch: the " + std::to_string(bytes.size()) +
                       " bytes are damaged or truncated");
  }
  const std::string_view payload = body.substr(magic.size() + 1);
  if (static_cast<unsigned char>(payload.front()) != 1) {
    throw CorruptStore(who + ": byte-order flag " +
                       std::to_string(static_cast<unsigned char>(payload.front())) +
                       ", not little-endian (1)");
  }
  try {
    cc::Reader r(payload, who);
    CanaryWindow w;
    w.index = r.scalar<std::uint64_t>("the window index");
    w.start = from_unix_nanos(r.scalar<std::int64_t>("the start"));
    w.end = from_unix_nanos(r.scalar<std::int64_t>("the end"));
    if (w.end < w.start) r.corrupt("the window ends before it starts");
    w.ignored_requests = r.scalar<std::uint64_t>("ignored requests");
    w.labels_unmatched = r.scalar<std::uint64_t>("unmatched labels");
    w.labels_duplicate = r.scalar<std::uint64_t>("duplicate labels");
    w.window = cc::read_list(r, "window");
    w.cumulative = cc::read_list(r, "cumulative");
    if (r.remaining() != 0) {
      r.corrupt(std::to_string(r.remaining()) + " unexpected bytes after the figures");
    }
    return w;
  } catch (const cereal::Exception& e) {
    // Unreachable while the bounds above hold; kept so a parsing slip reports, not crashes.
    throw CorruptStore(who + ": could not be parsed: " + e.what());
  }
}

}  // namespace switchyard
