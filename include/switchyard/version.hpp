// SPDX-License-Identifier: Apache-2.0
// Switchyard's version; CMakeLists.txt refuses to configure when it differs from project(VERSION).
#pragma once

#include <string_view>
#include <switchyard/core/config.hpp>

/// Version of these headers. A new major version may break source or binary compatibility; the
/// installed CMake package accepts any request with the same major (SameMajorVersion).
#define SWITCHYARD_VERSION_MAJOR 0
#define SWITCHYARD_VERSION_MINOR 1
#define SWITCHYARD_VERSION_PATCH 0
/// MAJOR * 10000 + MINOR * 100 + PATCH, for preprocessor comparisons (`#if SWITCHYARD_VERSION >=`).
#define SWITCHYARD_VERSION \
  (SWITCHYARD_VERSION_MAJOR * 10000 + SWITCHYARD_VERSION_MINOR * 100 + SWITCHYARD_VERSION_PATCH)
/// "MAJOR.MINOR.PATCH".
#define SWITCHYARD_VERSION_STRING "0.1.0"

namespace switchyard {

/// The version of the headers this translation unit was compiled against, e.g. "0.1.0".
inline constexpr std::string_view kHeaderVersion = SWITCHYARD_VERSION_STRING;

/// The version the linked Switchyard library was compiled from. Equal to kHeaderVersion unless a
/// program picked up headers and a (shared) library from different installations; hosts can
/// compare the two at start-up. Under SWITCHYARD_HEADER_ONLY both always agree. Never throws.
/// Thread-safe.
SWITCHYARD_API std::string_view library_version() noexcept;

}  // namespace switchyard

#if defined(SWITCHYARD_HEADER_ONLY)
#include <switchyard/version-inl.hpp>
#endif
