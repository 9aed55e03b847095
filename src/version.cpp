// SPDX-License-Identifier: Apache-2.0
// Compiled part of version.hpp: the version this library was built from.
#include <switchyard/version-inl.hpp>
