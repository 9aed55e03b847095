// SPDX-License-Identifier: Apache-2.0
// Compiled part of models: SHA-256 and base64 (libcrypto), the linear models, the model loader.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/models.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/detail/base64-inl.hpp>
#include <switchyard/detail/sha256-inl.hpp>
#include <switchyard/models/linear_model-inl.hpp>
#include <switchyard/models/model_loader-inl.hpp>
