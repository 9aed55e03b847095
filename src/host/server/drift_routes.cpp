// SPDX-License-Identifier: Apache-2.0
// RestApi's drift route: the texts /predict receives, against a reference profile of the training
// set built at startup, as a DriftMonitor per model (windows of Options::drift_window on RestApi's clock).
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <switchyard/detail/string_hash.hpp>
#include <switchyard/drift/drift_monitor.hpp>
#include <switchyard/drift/reference_profile.hpp>
#include <unordered_set>

#include "rest_api_state.hpp"

namespace switchyard::server {

/// The reference of the texts and a monitor per model. `profile` and `vocabulary` are immutable
/// after construction; `monitors` is guarded by RestApi::State::control_mu.
struct DriftWatch {
  std::shared_ptr<const ReferenceProfile> profile;
  std::unordered_set<std::string, detail::StringHash, std::equal_to<>> vocabulary;
  std::map<std::string, std::shared_ptr<DriftMonitor>> monitors;
};

namespace {

// The features of a text the drift report watches, in the profile's order: its length in bytes,
// its words (lower-cased runs of [A-Za-z0-9'], as the featurizer splits them) and the share of
// those words the vocabulary lacks (NaN, i.e. missing, for a text without words).
template <class Vocabulary>
std::array<double, 3> text_features(std::string_view text, const Vocabulary& vocabulary) {
  std::size_t words = 0, unknown = 0;
  std::string word;
  auto end_word = [&] {
    if (word.empty()) return;
    ++words;
    if (!vocabulary.contains(std::string_view(word))) ++unknown;
    word.clear();
  };
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '\'') {
      word += static_cast<char>(std::tolower(u));
    } else {
      end_word();
    }
  }
  end_word();
  return {static_cast<double>(text.size()), static_cast<double>(words),
          words ? static_cast<double>(unknown) / static_cast<double>(words)
                : std::numeric_limits<double>::quiet_NaN()};
}

}  // namespace

// The vocabulary comes from the first half of the training set and the reference rows from the
// second, so that the unknown-word share of the reference is what unseen text shows, not zero.
void RestApi::State::build_drift_reference(std::span<const LabelledText> examples) {
  auto watch = std::make_shared<DriftWatch>();
  const std::size_t half = examples.size() / 2;
  for (std::size_t i = 0; i < half; ++i) {
    std::string word;
    for (const char c : examples[i].text + " ") {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) != 0 || c == '\'') {
        word += static_cast<char>(std::tolower(u));
      } else if (!word.empty()) {
        watch->vocabulary.insert(word);
        word.clear();
      }
    }
  }
  ReferenceProfileBuilder builder(
      {{.name = "characters"}, {.name = "words"}, {.name = "unknown_word_share"}},
      ReferenceProfileBuilder::Options{.with_prediction = false});
  for (std::size_t i = half; i < examples.size(); ++i) {
    const auto row = text_features(examples[i].text, watch->vocabulary);
    builder.add_row(row);
  }
  watch->profile = std::make_shared<const ReferenceProfile>(builder.build());
  drift = std::move(watch);
}

DriftMonitor* RestApi::State::drift_monitor_locked(const std::string& name) {
  if (!drift) return nullptr;
  auto& monitor = drift->monitors[name];
  if (!monitor) {
    monitor = std::make_shared<DriftMonitor>(DriftMonitor::Options{
        .model = name, .profile = drift->profile, .clock = clock, .window = options.drift_window});
  }
  return monitor.get();
}

void RestApi::State::observe_drift(const ModelView& model, std::string_view text) noexcept {
  if (model.drift == nullptr) return;
  const auto row = text_features(text, drift->vocabulary);
  model.drift->observe(std::span<const double>(row));
}

HttpResponse RestApi::State::drift_report(const Target& t) {
  const std::string& name = t.segments[1];
  std::lock_guard lock(control_mu);
  require_model(name);
  DriftMonitor* monitor = drift_monitor_locked(name);
  if (monitor == nullptr) fail(503, "no reference profile for drift");
  monitor->poll();
  const auto history = monitor->history();
  json features = json::array();
  for (const auto& f : drift->profile->features) features.push_back(f.name);
  json out = {{"model", name},
              {"window_s", options.drift_window.count()},
              {"reference_rows", drift->profile->rows},
              {"features", features}};
  json alerts = json::array();
  for (const auto& a : monitor->active_alerts()) alerts.push_back(json::parse(a.to_json()));
  out["active_alerts"] = alerts;
  if (history.empty()) {
    out["report"] = nullptr;
    out["reason"] = "no window has closed yet";
  } else {
    out["report"] = json::parse(history.back().drift.to_json());
    out["requests"] = history.back().quality.requests;
  }
  return json_response(200, out);
}

}  // namespace switchyard::server
