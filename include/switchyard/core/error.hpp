// SPDX-License-Identifier: Apache-2.0
// The exception hierarchy thrown by control-plane calls, each with a stable error code.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace switchyard {

/// Stable, machine-readable error codes. Values never change meaning; new codes are appended.
enum class ErrorCode : int {
  kInvalidArgument = 1,    ///< a name, version, weight, tensor or option is malformed
  kNotFound = 2,           ///< an unknown model, version, alias or file
  kAlreadyExists = 3,      ///< a create collided with an existing object
  kInvalidTransition = 4,  ///< a stage change the lifecycle forbids
  kValidationFailed = 5,   ///< a validation gate rejected a version
  kStorage = 6,            ///< the store could not read or write (I/O, disk full, locked)
  kCorruptStore = 7,       ///< the store file is damaged, foreign or holds impossible rows
  kSchemaTooNew = 8,       ///< the store was written by a newer Switchyard
  kIntegrity = 9,          ///< an artifact's bytes do not match its SHA-256
  kLoadFailed = 10,        ///< a model artifact could not be turned into a Model
  kNoActiveModel = 11,     ///< nothing is configured to serve
  kModelFailed = 12,       ///< the host's model threw while predicting
  kLeaseHeld = 13,         ///< another controller holds the lease on what was to be driven
};

/// The name of an error code, e.g. "not_found".
constexpr std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kInvalidTransition: return "invalid_transition";
    case ErrorCode::kValidationFailed: return "validation_failed";
    case ErrorCode::kStorage: return "storage";
    case ErrorCode::kCorruptStore: return "corrupt_store";
    case ErrorCode::kSchemaTooNew: return "schema_too_new";
    case ErrorCode::kIntegrity: return "integrity";
    case ErrorCode::kLoadFailed: return "load_failed";
    case ErrorCode::kNoActiveModel: return "no_active_model";
    case ErrorCode::kModelFailed: return "model_failed";
    case ErrorCode::kLeaseHeld: return "lease_held";
  }
  return "unknown";
}

/// Base of every exception Switchyard throws. The message names the model, version and field
/// involved; code() is stable and meant for programs. Thread-safe: immutable after construction.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

#define SWITCHYARD_DEFINE_ERROR(Type, Code)                                           \
  class Type : public Error {                                                         \
   public:                                                                            \
    explicit Type(const std::string& message) : Error(ErrorCode::Code, message) {} \
  }

/// Malformed input: a name, version string, weight, tensor shape, option.
SWITCHYARD_DEFINE_ERROR(InvalidArgument, kInvalidArgument);
/// An unknown model, version, alias, format or file.
SWITCHYARD_DEFINE_ERROR(NotFound, kNotFound);
/// The object to create exists already.
SWITCHYARD_DEFINE_ERROR(AlreadyExists, kAlreadyExists);
/// A stage transition the lifecycle forbids (skipping a gate, a second Production version, ...).
SWITCHYARD_DEFINE_ERROR(InvalidTransition, kInvalidTransition);
/// A validation gate rejected a version; the message lists the failed checks.
SWITCHYARD_DEFINE_ERROR(ValidationFailed, kValidationFailed);
/// The store failed to read or write; nothing was changed.
SWITCHYARD_DEFINE_ERROR(StorageError, kStorage);
/// The store file is damaged, not a Switchyard store, or holds impossible values.
SWITCHYARD_DEFINE_ERROR(CorruptStore, kCorruptStore);
/// The store was written by a newer schema than this build understands.
SWITCHYARD_DEFINE_ERROR(SchemaTooNew, kSchemaTooNew);
/// An artifact's content does not match its recorded SHA-256.
SWITCHYARD_DEFINE_ERROR(IntegrityError, kIntegrity);
/// An artifact could not be deserialised into a Model.
SWITCHYARD_DEFINE_ERROR(LoadError, kLoadFailed);
/// Nothing is configured to serve a model name.
SWITCHYARD_DEFINE_ERROR(NoActiveModel, kNoActiveModel);

#undef SWITCHYARD_DEFINE_ERROR

}  // namespace switchyard
