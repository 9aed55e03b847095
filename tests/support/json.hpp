// SPDX-License-Identifier: Apache-2.0
// The rapidjson that cereal uses, for tests that parse JSON: upstream cereal bundles it; Debian's
// libcereal-dev uses the system copy from rapidjson-dev instead.
#pragma once

#if __has_include(<cereal/external/rapidjson/document.h>)
#include <cereal/external/rapidjson/document.h>
#include <cereal/external/rapidjson/error/en.h>
#define SWITCHYARD_TEST_RAPIDJSON CEREAL_RAPIDJSON_NAMESPACE
#else
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#define SWITCHYARD_TEST_RAPIDJSON RAPIDJSON_NAMESPACE
#endif

namespace switchyard::testing {
namespace json = SWITCHYARD_TEST_RAPIDJSON;
}  // namespace switchyard::testing
