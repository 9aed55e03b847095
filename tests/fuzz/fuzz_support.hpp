// SPDX-License-Identifier: Apache-2.0
// Helpers shared by Switchyard's libFuzzer targets: a byte reader over the fuzz input (and the
// matching writer the seed generator uses), a scratch directory, and checks that abort loudly.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <switchyard/core/error.hpp>
#include <system_error>
#include <type_traits>
#include <typeinfo>

namespace switchyard::fuzz {

/// Reports a broken invariant and aborts, which libFuzzer (and the corpus replay) records as a
/// crash with this message.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "switchyard fuzz invariant broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

#define SWITCHYARD_FUZZ_CHECK(cond, what)                                           \
  do {                                                                              \
    if (!(cond)) ::switchyard::fuzz::fail(std::string(#cond " failed: ") + (what)); \
  } while (false)

/// Aborts unless `e` is one of the error types a call documents. The name of the dynamic type
/// and the message go into the crash report.
template <class... Allowed>
void expect_error(const switchyard::Error& e, const char* call) {
  if (!(... || (dynamic_cast<const Allowed*>(&e) != nullptr))) {
    fail(std::string(call) + " threw an undocumented " + typeid(e).name() + " (" +
         std::string(to_string(e.code())) + "): " + e.what());
  }
}

/// Consumes fuzz bytes front to back. Every read succeeds: past the end it yields zeros and
/// empty strings, so any input decodes to some value.
class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

  bool empty() const noexcept { return pos_ >= size_; }
  std::size_t remaining() const noexcept { return empty() ? 0 : size_ - pos_; }

  std::uint8_t byte() noexcept { return empty() ? 0 : data_[pos_++]; }
  bool boolean() noexcept { return (byte() & 1) != 0; }

  /// Little-endian integer from the next sizeof(T) bytes.
  template <class T>
  T integral() noexcept {
    static_assert(std::is_integral_v<T>);
    using U = std::make_unsigned_t<T>;
    U v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<U>(U{byte()} << (8 * i));
    return static_cast<T>(v);
  }

  /// A value in [lo, hi] from one byte (ranges up to 256 values) or eight bytes.
  std::int64_t in_range(std::int64_t lo, std::int64_t hi) noexcept {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    const std::uint64_t raw = span <= 256 ? byte() : integral<std::uint64_t>();
    return lo + static_cast<std::int64_t>(span == 0 ? raw : raw % span);
  }

  /// A double: usually one of the values that break numeric code, sometimes raw bits.
  double number() noexcept {
    static constexpr double kInteresting[] = {0.0,
                                              -0.0,
                                              1.0,
                                              -1.0,
                                              0.5,
                                              30.0,
                                              70.0,
                                              100.0,
                                              1e-9,
                                              1e-300,
                                              5e-324,
                                              1e300,
                                              std::numeric_limits<double>::max(),
                                              std::numeric_limits<double>::lowest(),
                                              std::numeric_limits<double>::infinity(),
                                              -std::numeric_limits<double>::infinity(),
                                              std::numeric_limits<double>::quiet_NaN(),
                                              99.999999999,
                                              33.333333333333336,
                                              1e18};
    const std::uint8_t pick = byte();
    if (pick < sizeof(kInteresting) / sizeof(kInteresting[0])) return kInteresting[pick];
    if (pick < 200) return static_cast<double>(pick - 100);
    const auto bits = integral<std::uint64_t>();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }

  /// Bytes up to an unescaped terminator, at most `max_length`: "\\" is a literal backslash and a
  /// backslash followed by anything else ends the string (libFuzzer's own convention, so its
  /// mutations split and join strings naturally).
  std::string string(std::size_t max_length = 64) {
    std::string out;
    while (!empty() && out.size() < max_length) {
      const char c = static_cast<char>(byte());
      if (c == '\\') {
        if (empty()) break;
        const char next = static_cast<char>(byte());
        if (next != '\\') break;
      }
      out.push_back(c);
    }
    return out;
  }

  /// Everything not read yet.
  std::string_view rest() noexcept {
    if (empty()) return {};
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), size_ - pos_);
    pos_ = size_;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// Writes what FuzzInput reads, so the seed generator can encode meaningful inputs.
class FuzzOutput {
 public:
  FuzzOutput& byte(std::uint8_t b) {
    bytes_.push_back(static_cast<char>(b));
    return *this;
  }
  FuzzOutput& boolean(bool b) { return byte(b ? 1 : 0); }
  template <class T>
  FuzzOutput& integral(T value) {
    using U = std::make_unsigned_t<T>;
    const auto u = static_cast<U>(value);
    for (std::size_t i = 0; i < sizeof(T); ++i) byte(static_cast<std::uint8_t>(u >> (8 * i)));
    return *this;
  }
  /// The inverse of FuzzInput::in_range for a value of a range of up to 256 values.
  FuzzOutput& small(std::int64_t lo, std::int64_t value) {
    return byte(static_cast<std::uint8_t>(value - lo));
  }
  /// A double as raw bits (FuzzInput::number's escape, pick 255).
  FuzzOutput& number(double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    return byte(255).integral(bits);
  }
  FuzzOutput& string(std::string_view s) {
    for (char c : s) {
      bytes_.push_back(c);
      if (c == '\\') bytes_.push_back('\\');
    }
    bytes_.push_back('\\');
    bytes_.push_back('x');
    return *this;
  }
  FuzzOutput& raw(std::string_view s) {
    bytes_.append(s);
    return *this;
  }
  const std::string& bytes() const noexcept { return bytes_; }

 private:
  std::string bytes_;
};

/// A private directory for one fuzzing process, under $SWITCHYARD_FUZZ_TMPDIR, /dev/shm when it
/// exists (file-backed targets run faster in memory) or the system temp directory; removed when
/// the process exits normally.
class ScratchDir {
 public:
  static const std::filesystem::path& path() {
    static ScratchDir dir;
    return dir.path_;
  }

 private:
  ScratchDir() {
    std::filesystem::path base;
    std::error_code ec;
    if (const char* env = std::getenv("SWITCHYARD_FUZZ_TMPDIR"); env != nullptr && *env) {
      base = env;
    } else if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0) {
      base = "/dev/shm";
    } else {
      base = std::filesystem::temp_directory_path();
    }
    std::string pattern = (base / "switchyard-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      fail("cannot create a scratch directory in " + pattern);
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::filesystem::path path_;
};

}  // namespace switchyard::fuzz
