// SPDX-License-Identifier: Apache-2.0
// Status and StatusOr: the request path's error values, shaped like abseil's.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <switchyard/core/error.hpp>

namespace switchyard {

/// The outcome of a request-path call that produces no value. Expected failures (unknown version,
/// no active model, the model threw) are values, not exceptions.
/// Thread-safe: a value type; distinct objects may be used concurrently.
class Status {
 public:
  Status() = default;  ///< OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const noexcept { return !code_.has_value(); }
  /// The error code; only meaningful when !ok().
  ErrorCode code() const noexcept { return code_.value_or(ErrorCode::kInvalidArgument); }
  const std::string& message() const noexcept { return message_; }
  /// Throws the matching switchyard::Error when !ok(); does nothing otherwise.
  void throw_if_error() const;

 private:
  std::optional<ErrorCode> code_;
  std::string message_;
};

/// Either a T or a non-OK Status. Thread-safe: a value type.
template <class T>
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}  // NOLINT: implicit, like absl::StatusOr
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "StatusOr needs a non-OK status or a value");
  }

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  /// OK when a value is held.
  Status status() const { return ok() ? Status{} : std::get<Status>(v_); }
  ErrorCode code() const noexcept { return ok() ? ErrorCode{} : std::get<Status>(v_).code(); }

  /// The value; throws the held error when !ok().
  T& value() & {
    if (!ok()) std::get<Status>(v_).throw_if_error();
    return std::get<T>(v_);
  }
  const T& value() const& {
    if (!ok()) std::get<Status>(v_).throw_if_error();
    return std::get<T>(v_);
  }
  T&& value() && {
    if (!ok()) std::get<Status>(v_).throw_if_error();
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return std::get<T>(v_); }
  const T& operator*() const& { return std::get<T>(v_); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

inline void Status::throw_if_error() const {
  if (ok()) return;
  switch (*code_) {
    case ErrorCode::kInvalidArgument: throw InvalidArgument(message_);
    case ErrorCode::kNotFound: throw NotFound(message_);
    case ErrorCode::kAlreadyExists: throw AlreadyExists(message_);
    case ErrorCode::kInvalidTransition: throw InvalidTransition(message_);
    case ErrorCode::kValidationFailed: throw ValidationFailed(message_);
    case ErrorCode::kStorage: throw StorageError(message_);
    case ErrorCode::kCorruptStore: throw CorruptStore(message_);
    case ErrorCode::kSchemaTooNew: throw SchemaTooNew(message_);
    case ErrorCode::kIntegrity: throw IntegrityError(message_);
    case ErrorCode::kLoadFailed: throw LoadError(message_);
    case ErrorCode::kNoActiveModel: throw NoActiveModel(message_);
    case ErrorCode::kModelFailed: throw Error(*code_, message_);
    case ErrorCode::kLeaseHeld: throw Error(*code_, message_);  // LeaseHeld needs its holder
  }
  throw Error(*code_, message_);
}

}  // namespace switchyard
