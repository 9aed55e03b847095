// SPDX-License-Identifier: Apache-2.0
// Test models: constant answers, failures on demand, destruction counting, and a gate that holds a
// call in flight until the test releases it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string_view>

#include <switchyard/core/model.hpp>

namespace switchyard::testing {

/// Answers every row with a fixed label and confidence; counts calls and its own destruction.
/// Thread-safe, as the Model contract requires.
class ConstantModel : public Model {
 public:
  explicit ConstantModel(std::int32_t label = 1, double confidence = 0.9,
                         std::atomic<int>* destroyed = nullptr)
      : label_(label), confidence_(confidence), destroyed_(destroyed) {}
  ~ConstantModel() override {
    if (destroyed_) destroyed_->fetch_add(1);
  }
  const Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return "test.constant"; }
  Prediction predict(const ModelInput& input) const override {
    calls_.fetch_add(1, std::memory_order_relaxed);
    if (fail_.load(std::memory_order_relaxed)) throw std::runtime_error("constant model failure");
    Prediction p;
    std::size_t rows = input.size() ? std::max<std::size_t>(input.front().batch(), 1) : 1;
    p.labels.assign(rows, label_);
    p.confidence.assign(rows, confidence_);
    return p;
  }
  void set_failing(bool f) { fail_.store(f); }
  std::uint64_t calls() const { return calls_.load(); }
  Signature signature_;

 private:
  std::int32_t label_;
  double confidence_;
  std::atomic<int>* destroyed_;
  std::atomic<bool> fail_{false};
  mutable std::atomic<std::uint64_t> calls_{0};
};

/// A model whose predict() waits until the test opens the gate, so a call can be held in flight
/// while the control plane swaps tables. Synchronises with a condition variable, never a sleep.
class GatedModel : public Model {
 public:
  explicit GatedModel(std::atomic<int>* destroyed) : destroyed_(destroyed) {}
  ~GatedModel() override { destroyed_->fetch_add(1); }
  const Signature& signature() const noexcept override { return signature_; }
  std::string_view format() const noexcept override { return "test.gated"; }
  Prediction predict(const ModelInput&) const override {
    std::unique_lock lk(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lk, [&] { return open_; });
    Prediction p;
    p.labels = {7};
    p.confidence = {0.5};
    return p;
  }
  void wait_entered() const {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lk(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  Signature signature_;
  std::atomic<int>* destroyed_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable bool entered_ = false;
  bool open_ = false;
};

}  // namespace switchyard::testing
