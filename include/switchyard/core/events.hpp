// SPDX-License-Identifier: Apache-2.0
// EventHub: the Boost.Signals2 signals through which a host observes registry and serving events.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <optional>
#include <stdexcept>
#include <utility>

#include <boost/signals2/signal.hpp>

#include <switchyard/core/clock.hpp>
#include <switchyard/core/error.hpp>
#include <switchyard/core/stage.hpp>

namespace switchyard {

/// What happened in a registry; one struct for every kind, fields unused by a kind stay empty.
struct RegistryEvent {
  enum class Kind : std::uint8_t {
    kVersionRegistered,
    kStageChanged,
    kAliasMoved,
    kAliasRemoved,
    kRolledBack,
    kVersionRejected,
    kRefreshed,
  };
  Kind kind{};
  std::string model;
  std::int64_t version = 0;
  /// kRolledBack: the version taken out of Production (the failed one); `version` is the one
  /// restored. 0 for other kinds.
  std::int64_t previous_version = 0;
  std::optional<Stage> from_stage;
  std::optional<Stage> to_stage;
  std::string alias;
  std::string actor;
  std::string reason;
  TimePoint at{};
  std::int64_t sequence = 0;  ///< the audit sequence number of the change
};

/// One request, answered or failed, emitted only when a slot is connected (see
/// EventHub::prediction_served). Views are valid during the slot call.
struct PredictionEvent {
  std::string_view model;
  std::int64_t version = 0;     ///< the version that answered, or the one that failed; 0 if none
  std::string_view variant;
  std::string_view key;
  std::string_view request_id;
  std::int64_t latency_ns = 0;
  bool ok = true;
  ErrorCode error = ErrorCode::kInvalidArgument;  ///< meaningful when !ok
  bool fell_back = false;
  std::int32_t label = -1;
  double confidence = 0.0;
};

class EventHub;

namespace detail {
/// Signals2 combiner that calls every slot and routes what one throws to the hub's error handler,
/// so one faulty slot neither breaks the emitter nor starves the slots after it.
struct GuardedSlots {
  using result_type = void;
  const EventHub* hub = nullptr;
  const char* name = "";
  template <class It>
  void operator()(It first, It last) const;
};
}  // namespace detail

/// The signals a host connects to. Emission never breaks the emitter: a slot that throws is
/// reported to the error handler (by default: ignored) and the remaining slots still run.
///
/// Thread-safe: connecting, disconnecting and emitting may happen concurrently from any thread
/// (Boost.Signals2's default mutex policy). Slots run on the emitting thread; a slot connected to
/// prediction_served runs on the request path and must be fast.
///
/// @code
/// registry.events().stage_changed.connect([](const switchyard::RegistryEvent& e) {
///   std::cout << e.model << " v" << e.version << " -> " << to_string(*e.to_stage) << "\n";
/// });
/// @endcode
class EventHub {
 public:
  template <class Event>
  using Signal = boost::signals2::signal<void(const Event&), detail::GuardedSlots>;
  using ErrorHandler = std::function<void(std::string_view signal, const std::exception&)>;

  Signal<RegistryEvent> version_registered{detail::GuardedSlots{this, "version_registered"}};
  Signal<RegistryEvent> stage_changed{detail::GuardedSlots{this, "stage_changed"}};
  Signal<RegistryEvent> alias_moved{detail::GuardedSlots{this, "alias_moved"}};
  Signal<RegistryEvent> rolled_back{detail::GuardedSlots{this, "rolled_back"}};
  /// A registry's refresh() or reload() picked up commits made elsewhere (another registry
  /// instance or process on the same store). `model` is empty; `sequence` is the newest change
  /// seen. Registry-bound deployments re-resolve on it.
  Signal<RegistryEvent> refreshed{detail::GuardedSlots{this, "refreshed"}};
  /// Per-request; opt-in. Connect through connect_prediction() so the request path knows to emit:
  /// with nothing connected that way, serving pays one relaxed load per request and nothing else.
  Signal<PredictionEvent> prediction_served{detail::GuardedSlots{this, "prediction_served"}};

  EventHub() = default;
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  /// Connects a per-prediction slot and turns per-request emission on.
  template <class Slot>
  boost::signals2::connection connect_prediction(Slot&& slot) {
    auto c = prediction_served.connect(std::forward<Slot>(slot));
    predictions_wanted_.store(true, std::memory_order_release);
    return c;
  }
  /// True once any slot was connected through connect_prediction().
  bool predictions_wanted() const noexcept {
    return predictions_wanted_.load(std::memory_order_relaxed);
  }

  /// Replaces the handler that receives exceptions thrown by slots. Set it before connecting
  /// slots; it is not synchronised with emission.
  void set_error_handler(ErrorHandler handler) { error_handler_ = std::move(handler); }

  /// Called by the combiner with what a slot threw. Never throws.
  void report(std::string_view name, const std::exception& e) const noexcept {
    if (!error_handler_) return;
    try {
      error_handler_(name, e);
    } catch (...) {
    }
  }

 private:
  ErrorHandler error_handler_;
  std::atomic<bool> predictions_wanted_{false};
};

template <class It>
void detail::GuardedSlots::operator()(It first, It last) const {
  for (; first != last; ++first) {
    try {
      *first;
    } catch (const std::exception& e) {
      if (hub) hub->report(name, e);
    } catch (...) {
      if (hub) hub->report(name, std::runtime_error("non-standard exception"));
    }
  }
}

}  // namespace switchyard
