// SPDX-License-Identifier: Apache-2.0
// Out-of-line part of version.hpp: the version compiled into the library.
#pragma once

#include <switchyard/version.hpp>

namespace switchyard {

SWITCHYARD_INLINE std::string_view library_version() noexcept { return SWITCHYARD_VERSION_STRING; }

}  // namespace switchyard
