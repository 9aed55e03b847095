// SPDX-License-Identifier: Apache-2.0
// Compiled part of the built-in models and the artifact pipeline: SHA-256, linear models,
// base64, the artifact store and the model loader.
#include <switchyard/detail/base64-inl.hpp>
#include <switchyard/detail/sha256-inl.hpp>
#include <switchyard/models/linear_model-inl.hpp>
#include <switchyard/registry/artifact_store-inl.hpp>
#include <switchyard/registry/model_loader-inl.hpp>
