// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of model_loader.hpp.
#pragma once

#include <exception>
#include <switchyard/core/error.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/models/model_loader.hpp>
#include <utility>

namespace switchyard {

SWITCHYARD_INLINE ModelLoader::ModelLoader() {
  register_format(std::string(kLinearFormat), &load_linear_artifact);
}

SWITCHYARD_INLINE void ModelLoader::register_format(std::string format, Factory factory) {
  if (format.empty()) throw InvalidArgument("model format name is empty");
  if (!factory) throw InvalidArgument("model format '" + format + "' has an empty factory");
  auto shared = std::make_shared<const Factory>(std::move(factory));
  detail::MutexLock lk(mu_);
  if (factories_.count(format) != 0) {
    throw AlreadyExists("model format '" + format + "' is already registered");
  }
  factories_.emplace(std::move(format), std::move(shared));
}

SWITCHYARD_INLINE bool ModelLoader::unregister_format(std::string_view format) {
  std::shared_ptr<const Factory> removed;  // destroyed after the lock is released
  detail::MutexLock lk(mu_);
  auto it = factories_.find(format);
  if (it == factories_.end()) return false;
  removed = std::move(it->second);
  factories_.erase(it);
  return true;
}

SWITCHYARD_INLINE bool ModelLoader::has_format(std::string_view format) const {
  detail::MutexLock lk(mu_);
  return factories_.find(format) != factories_.end();
}

SWITCHYARD_INLINE std::vector<std::string> ModelLoader::formats() const {
  std::vector<std::string> names;
  detail::MutexLock lk(mu_);
  for (const auto& entry : factories_) names.push_back(entry.first);
  return names;
}

SWITCHYARD_INLINE ModelPtr ModelLoader::load(std::string_view format,
                                             std::string_view bytes) const {
  std::shared_ptr<const Factory> factory;
  {
    detail::MutexLock lk(mu_);
    auto it = factories_.find(format);
    if (it != factories_.end()) factory = it->second;
  }
  if (!factory) {
    throw NotFound("no loader is registered for model format '" + std::string(format) + "'");
  }
  const std::string prefix = "cannot load model of format '" + std::string(format) + "': ";
  ModelPtr model;
  try {
    model = (*factory)(bytes);
  } catch (const std::exception& e) {
    std::throw_with_nested(LoadError(prefix + e.what()));
  } catch (...) {
    std::throw_with_nested(LoadError(prefix + "the factory threw a non-standard exception"));
  }
  if (!model) throw LoadError(prefix + "the factory returned no model");
  return model;
}

}  // namespace switchyard
