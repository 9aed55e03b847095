// SPDX-License-Identifier: Apache-2.0
// What every route of RestApi shares: JSON answers and errors, URL and body parsing, field
// checks, the bearer-token comparison, times and ids.
#include "api_support.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>

namespace switchyard::server {

using nlohmann::json;

namespace {

int hex_value_of(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of one path segment or query component ('+' is a space in a query).
std::string url_decode(std::string_view s, bool query) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      const int hi = i + 2 < s.size() ? hex_value_of(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value_of(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) fail(400, "malformed percent-encoding in the URL");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (query && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

// ---- errors and responses ----------------------------------------------------------------------

void fail(int status, std::string message, std::string field) {
  throw ApiError{status, std::move(message), std::move(field)};
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

HttpResponse error_response(int status, const std::string& message, const std::string& field) {
  HttpResponse r = json_response(
      status, {{"error", message}, {"field", field.empty() ? json(nullptr) : json(field)}});
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// The HTTP status of a library error.
int status_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kInvalidTransition:
    case ErrorCode::kValidationFailed:
    case ErrorCode::kLeaseHeld:
      return 409;
    case ErrorCode::kNoActiveModel:
    // The store could not be reached or written (a shared database down): the server still
    // serves from its snapshot, and the same call may succeed once the store is back.
    case ErrorCode::kStorage:
      return 503;
    default:
      return 500;
  }
}

// ---- request parsing
// -----------------------------------------------------------------------------

Target parse_target(std::string_view target) {
  Target t;
  const std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path.empty() || path.front() != '/') fail(400, "the request target must start with '/'");
  while (!path.empty()) {
    path.remove_prefix(1);
    const std::size_t slash = path.find('/');
    const std::string_view seg = path.substr(0, slash);
    if (!seg.empty()) t.segments.push_back(url_decode(seg, false));
    if (slash == std::string_view::npos) break;
    path = path.substr(slash);
  }
  if (q != std::string_view::npos) {
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      const std::size_t eq = pair.find('=');
      if (!pair.empty()) {
        t.query[url_decode(pair.substr(0, eq), true)] =
            eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1), true);
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return t;
}

// The body as a JSON object. Any Content-Type is accepted (seed 002's activate calls send none).
json parse_object(std::string_view body) {
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::parse_error& e) {
    fail(400, std::string("malformed JSON body: ") + e.what());
  }
  if (!doc.is_object()) fail(400, "the body must be a JSON object");
  return doc;
}

std::optional<std::string> optional_string(const json& doc, const char* field,
                                           std::size_t max_length) {
  const auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail(400, std::string(field) + " must be a string", field);
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_length) {
    fail(400, std::string(field) + " is longer than " + std::to_string(max_length) + " bytes",
         field);
  }
  return s;
}

std::string required_string(const json& doc, const char* field, std::size_t max_length) {
  auto s = optional_string(doc, field, max_length);
  if (!s) fail(400, std::string(field) + " is required", field);
  if (s->empty()) fail(400, std::string(field) + " must not be empty", field);
  return *s;
}

std::optional<double> optional_number(const json& doc, const char* field) {
  const auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) fail(400, std::string(field) + " must be a number", field);
  const double v = it->get<double>();
  if (!std::isfinite(v)) fail(400, std::string(field) + " must be finite", field);
  return v;
}

// "Bearer <token>" against the configured token, in constant time for equal lengths.
bool token_matches(std::string_view authorization, const std::string& token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char a = authorization[i];
    const char b = kScheme[i];
    if ((a | 0x20) != (b | 0x20)) return false;
  }
  const std::string_view given = authorization.substr(kScheme.size());
  if (given.size() != token.size()) {
    // Same work as a match, so the time taken says nothing about how close the guess was.
    (void)CRYPTO_memcmp(token.data(), token.data(), token.size());
    return false;
  }
  return CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

std::string format_time(TimePoint t) {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() < 19 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::uint64_t random_u64() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return gen();
}

// `bits` as 16 lower-case hex digits.
std::string hex16(std::uint64_t bits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, bits >>= 4) out[static_cast<std::size_t>(i)] = kHex[bits & 15];
  return out;
}

// 16 hex digits back to their number; nullopt for anything else.
std::optional<std::uint64_t> parse_hex16(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    const int d = hex_value_of(c);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
  return v;
}

}  // namespace switchyard::server
