// SPDX-License-Identifier: Apache-2.0
// Build configuration macros: header-only switch, symbol export and thread-safety annotations.
#pragma once

/// SWITCHYARD_HEADER_ONLY: define it (or link switchyard::switchyard_header_only) to compile the
/// library's out-of-line code into every including translation unit, the spdlog way.
#if defined(SWITCHYARD_HEADER_ONLY)
#define SWITCHYARD_INLINE inline
#define SWITCHYARD_API
#else
#define SWITCHYARD_INLINE
#if defined(SWITCHYARD_SHARED) && (defined(__GNUC__) || defined(__clang__))
#define SWITCHYARD_API __attribute__((visibility("default")))
#else
#define SWITCHYARD_API
#endif
#endif

// Clang thread-safety analysis (-Wthread-safety), in the style of abseil. No-ops elsewhere.
#if defined(__clang__)
#define SWITCHYARD_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SWITCHYARD_THREAD_ANNOTATION(x)
#endif
#define SWITCHYARD_CAPABILITY(x) SWITCHYARD_THREAD_ANNOTATION(capability(x))
#define SWITCHYARD_SCOPED_CAPABILITY SWITCHYARD_THREAD_ANNOTATION(scoped_lockable)
#define SWITCHYARD_GUARDED_BY(x) SWITCHYARD_THREAD_ANNOTATION(guarded_by(x))
#define SWITCHYARD_REQUIRES(...) SWITCHYARD_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define SWITCHYARD_ACQUIRE(...) SWITCHYARD_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define SWITCHYARD_RELEASE(...) SWITCHYARD_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define SWITCHYARD_EXCLUDES(...) SWITCHYARD_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
