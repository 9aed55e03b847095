# Finds Switchyard's dependencies (all from Debian packages; see scripts/install-deps.sh).
include(GNUInstallDirs)
find_package(Threads REQUIRED)
find_package(Eigen3 3.3 REQUIRED NO_MODULE)
find_package(xtensor 0.24 REQUIRED)
find_package(cereal REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
if(NOT TARGET cereal::cereal AND TARGET cereal)
  add_library(cereal::cereal ALIAS cereal)
endif()

# yaml-cpp 0.7 or later reads shadow deployment files (shadow/shadow_config-inl.hpp; 0.7 is the
# first with a nesting limit, so hostile YAML cannot overflow the parser's stack). Only the
# compiled part includes it: the library links it PRIVATE, switchyard_header_only INTERFACE.
# yaml-cpp 0.8, vcpkg and Conan name the target yaml-cpp::yaml-cpp; Debian 12's 0.7.0 names it
# yaml-cpp, which is then wrapped in the new name. cmake/switchyardConfig.cmake.in repeats this.
find_package(yaml-cpp 0.7 CONFIG REQUIRED)
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp INTERFACE IMPORTED)
  set_target_properties(yaml-cpp::yaml-cpp PROPERTIES INTERFACE_LINK_LIBRARIES yaml-cpp)
endif()

# xxHash 0.8 (XXH64, and XXH3 whose output is stable from 0.8.0 on), used header-only:
# serving/bucketing.hpp includes <xxhash.h> with XXH_INLINE_ALL, so only the header is needed.
# vcpkg and Conan ship xxHash's CMake package (target xxHash::xxhash); Debian's libxxhash-dev ships
# the header and a .pc file only, so without the package the header is found and wrapped in the
# same target name. cmake/switchyardConfig.cmake.in repeats this for consumers.
find_package(xxHash 0.8 CONFIG QUIET)
if(NOT TARGET xxHash::xxhash)
  find_path(SWITCHYARD_XXHASH_INCLUDE_DIR xxhash.h)
  if(SWITCHYARD_XXHASH_INCLUDE_DIR)
    file(STRINGS "${SWITCHYARD_XXHASH_INCLUDE_DIR}/xxhash.h" _switchyard_xxh_version
         REGEX "^#define XXH_VERSION_(MAJOR|MINOR) +[0-9]+")
  endif()
  if(NOT _switchyard_xxh_version MATCHES "MAJOR +0;.*MINOR +([89]|[1-9][0-9])")
    message(FATAL_ERROR "Switchyard needs the xxHash 0.8 header xxhash.h (Debian: libxxhash-dev, "
                        "vcpkg: xxhash, Conan: xxhash/0.8.x); found "
                        "'${SWITCHYARD_XXHASH_INCLUDE_DIR}'")
  endif()
  add_library(xxHash::xxhash INTERFACE IMPORTED)
  set_target_properties(xxHash::xxhash PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${SWITCHYARD_XXHASH_INCLUDE_DIR}")
endif()
