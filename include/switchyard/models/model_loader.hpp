// SPDX-License-Identifier: Apache-2.0
// ModelLoader: turns artifact bytes into a Model through a registry of format factories.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <switchyard/core/config.hpp>
#include <switchyard/core/model.hpp>
#include <switchyard/detail/mutex.hpp>
#include <vector>

namespace switchyard {

/// Maps an artifact format name (ArtifactRef::format) to the factory that builds a Model from
/// the artifact's bytes. "switchyard.linear" (LinearModel and LogisticModel) is registered on
/// construction; hosts add their own formats (ONNX, XGBoost, ...).
///
/// Thread-safe: any member may be called concurrently. load() takes the current table under a
/// short lock and runs the factory outside it, so a slow factory never blocks registration and
/// a factory may itself use the loader. Neither copyable nor movable.
///
/// @code
/// switchyard::ModelLoader loader;
/// loader.register_format("acme.tree", [](std::string_view bytes) -> switchyard::ModelPtr {
///   return std::make_shared<const AcmeTree>(AcmeTree::parse(bytes));
/// });
/// switchyard::ModelPtr m = loader.load(ref.format, store.read(ref));
/// @endcode
class SWITCHYARD_API ModelLoader {
 public:
  /// Builds a model from artifact bytes; the bytes are valid only during the call. May throw:
  /// load() reports any exception as LoadError.
  using Factory = std::function<ModelPtr(std::string_view bytes)>;

  /// A loader with the built-in formats registered.
  ModelLoader();
  ModelLoader(const ModelLoader&) = delete;
  ModelLoader& operator=(const ModelLoader&) = delete;

  /// Adds a format. Throws InvalidArgument for an empty name or an empty factory, AlreadyExists
  /// when the name is taken (unregister_format() it first to replace it).
  void register_format(std::string format, Factory factory);
  /// Removes a format; returns false when it was not registered.
  bool unregister_format(std::string_view format);
  /// True when `format` has a factory.
  bool has_format(std::string_view format) const;
  /// Registered format names, sorted.
  std::vector<std::string> formats() const;

  /// Runs the factory of `format` on `bytes`. Throws NotFound naming the format when none is
  /// registered, and LoadError naming the format and the cause when the factory throws (the
  /// original exception is nested: std::rethrow_if_nested) or returns no model.
  ModelPtr load(std::string_view format, std::string_view bytes) const;

 private:
  using Table = std::map<std::string, std::shared_ptr<const Factory>, std::less<>>;
  mutable detail::Mutex mu_;
  Table factories_ SWITCHYARD_GUARDED_BY(mu_);
};

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/models/model_loader-inl.hpp>
#endif
