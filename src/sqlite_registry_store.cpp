// SPDX-License-Identifier: Apache-2.0
// Compiled part of the registry's storage: JSON serialization and the SQLite store.
#include <switchyard/registry/serialization-inl.hpp>
#include <switchyard/registry/sqlite_registry_store-inl.hpp>
