// SPDX-License-Identifier: Apache-2.0
// Compiled part of the registry: ModelRegistry.
#include <switchyard/registry/model_registry-inl.hpp>
