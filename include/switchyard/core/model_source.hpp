// SPDX-License-Identifier: Apache-2.0
// ModelSource: where the serving layer gets a loaded model for (name, version).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <switchyard/core/error.hpp>
#include <switchyard/core/model.hpp>

namespace switchyard {

/// Supplies loaded models to routers. ModelRegistry is the usual source (it loads and verifies
/// artifacts); StaticModelSource serves models a host built in code.
/// Thread-safety: implementations must allow load() from any thread.
class ModelSource {
 public:
  virtual ~ModelSource() = default;
  /// The model of `name` version `version`, loaded and ready to serve. Throws NotFound for an
  /// unknown version, LoadError/IntegrityError when it cannot be loaded. Control plane: may do I/O.
  virtual ModelPtr load(std::string_view name, std::int64_t version) = 0;
};

/// A ModelSource over models added in code (tests, examples, hosts without a registry).
/// Thread-safe: add() and load() may be called concurrently.
class StaticModelSource final : public ModelSource {
 public:
  void add(std::string name, std::int64_t version, ModelPtr model) {
    std::lock_guard lk(mu_);
    models_[{std::move(name), version}] = std::move(model);
  }
  ModelPtr load(std::string_view name, std::int64_t version) override {
    std::lock_guard lk(mu_);
    auto it = models_.find({std::string(name), version});
    if (it == models_.end()) {
      throw NotFound("model '" + std::string(name) + "' version " + std::to_string(version) +
                     " is not in this source");
    }
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, std::int64_t>, ModelPtr> models_;
};

}  // namespace switchyard
