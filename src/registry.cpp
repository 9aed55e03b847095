// SPDX-License-Identifier: Apache-2.0
// Compiled part of registry: ModelRegistry, the artifact store, JSON serialization, the SQLite
// store.
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/registry.cpp belongs to the compiled library; header-only builds include the -inl files"
#endif
#include <switchyard/registry/artifact_store-inl.hpp>
#include <switchyard/registry/model_registry-inl.hpp>
#include <switchyard/registry/serialization-inl.hpp>
#include <switchyard/registry/sqlite_registry_store-inl.hpp>
