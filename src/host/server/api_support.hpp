// SPDX-License-Identifier: Apache-2.0
// What every route of RestApi shares: JSON answers and errors, URL and body parsing, field
// checks, the bearer-token comparison, times and ids. Internal to switchyard-server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <switchyard/core/clock.hpp>
#include <switchyard/core/error.hpp>
#include <vector>

#include "rest_api.hpp"

namespace switchyard::server {

/// An answer other than success, thrown inside a route and turned into its JSON body
/// {"error": message, "field": field or null} by RestApi::handle().
struct ApiError {
  int status;
  std::string message;
  std::string field;  ///< empty: null
};

/// Throws ApiError.
[[noreturn]] void fail(int status, std::string message, std::string field = {});

/// `body` as a response with `status`.
HttpResponse json_response(int status, const nlohmann::json& body);
/// {"error", "field"} with `status` (401 adds WWW-Authenticate: Bearer).
HttpResponse error_response(int status, const std::string& message, const std::string& field);
/// The HTTP status of a library error: 400, 404, 409, 503 (no active model, or the store could
/// not be reached or written), else 500.
int status_for(ErrorCode code) noexcept;

/// A request target split into percent-decoded path segments and query parameters.
struct Target {
  std::vector<std::string> segments;  ///< "/models/x/activate" -> {"models", "x", "activate"}
  std::map<std::string, std::string> query;
};
/// Throws ApiError 400 for a target that does not start with '/' or bad percent-encoding.
Target parse_target(std::string_view target);

/// The body as a JSON object, whatever its Content-Type (seed 002's activate calls send none).
/// Throws ApiError 400 with the parser's position for malformed JSON or a non-object.
nlohmann::json parse_object(std::string_view body);
/// A string field: absent or null -> nullopt; another type or longer than `max_length` -> 400
/// naming the field.
std::optional<std::string> optional_string(const nlohmann::json& doc, const char* field,
                                           std::size_t max_length = 4096);
/// As optional_string, and 400 naming the field when it is absent or empty.
std::string required_string(const nlohmann::json& doc, const char* field,
                            std::size_t max_length = 4096);
/// A finite number field: absent or null -> nullopt; otherwise 400 naming the field.
std::optional<double> optional_number(const nlohmann::json& doc, const char* field);

/// True when `authorization` is "Bearer <token>" (scheme case-insensitive). Compares with
/// CRYPTO_memcmp, in constant time for a token of the right length; one of another length
/// costs the same comparison.
bool token_matches(std::string_view authorization, const std::string& token);

/// "2024-05-01T12:00:00Z" (UTC, whole seconds).
std::string format_time(TimePoint t);
/// 1 to 18 decimal digits (a registry version number that cannot overflow).
bool all_digits(std::string_view s);
/// A random 64-bit number from a per-thread generator (ids, routing keys; not a secret).
std::uint64_t random_u64();
/// `bits` as 16 lower-case hex digits, and back (nullopt for anything else).
std::string hex16(std::uint64_t bits);
std::optional<std::uint64_t> parse_hex16(std::string_view s);

}  // namespace switchyard::server
