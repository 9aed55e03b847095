// SPDX-License-Identifier: Apache-2.0
// RequestObserver: how parts above serving (shadow, drift) see each answered request.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <switchyard/core/attribute.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/core/model.hpp>

namespace switchyard {

/// One request as a Deployment answered it, handed to each RequestObserver. Everything is a view,
/// valid only during the on_request() call: an observer that needs the features later (a shadow
/// queue) copies what it samples.
struct ObservedRequest {
  std::string_view model;                   ///< interned; valid as long as the Deployment
  std::int64_t version = 0;                 ///< the version that answered (0 when none did)
  std::string_view variant;                 ///< the arm that answered ("control", "pinned", ...)
  std::string_view key;                     ///< the sticky routing key
  std::string_view request_id;
  const ModelInput* input = nullptr;        ///< the request's features (never null)
  std::span<const Attribute> attributes;
  const Prediction* prediction = nullptr;   ///< the answer; null when !ok
  bool ok = true;
  ErrorCode error = ErrorCode::kInvalidArgument;  ///< meaningful when !ok
  bool fell_back = false;                   ///< the routed version failed; `version` is the fallback
  std::int64_t failed_version = 0;          ///< the version that failed, when fell_back
  std::int64_t latency_ns = 0;              ///< of the call that produced `prediction`
};

/// Implemented by the parts that watch live traffic without being on its critical path:
/// ShadowPredictor (mirrors a sample to candidate versions), DriftMonitor (bins the features).
/// Serving knows only this interface, so it never depends on them.
///
/// Contract: on_request() runs on the request thread after the answer is final and before
/// Deployment::predict() returns, so it must be cheap (copy or count, then return), must not
/// block, and must not call back into the same Deployment. It should not throw: a Deployment
/// catches and counts what escapes (Deployment::observer_errors()) and the answer stands, but the
/// unwinding costs the request time.
///
/// Thread-safety: on_request() is called from every request thread at once.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void on_request(const ObservedRequest& request) = 0;
};

}  // namespace switchyard
