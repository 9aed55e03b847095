# Overlay port built from the Switchyard checkout that holds it:
#   vcpkg install switchyard --overlay-ports=<checkout>/ports
# A port in a registry would fetch a tagged release instead (vcpkg_from_github with REF
# "v${VERSION}" and its SHA512); everything after SOURCE_PATH stays the same.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

if(VCPKG_TARGET_IS_WINDOWS)
  # SWITCHYARD_API marks exports for GCC and Clang only; Windows DLLs would export nothing.
  vcpkg_check_linkage(ONLY_STATIC_LIBRARY)
endif()

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
  FEATURES
    examples SWITCHYARD_BUILD_EXAMPLES
)

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    ${FEATURE_OPTIONS}
    -DSWITCHYARD_BUILD_TESTS=OFF
    -DSWITCHYARD_BUILD_BENCHMARKS=OFF
    -DSWITCHYARD_BUILD_CLI=OFF
    -DSWITCHYARD_INSTALL=ON
    -DSWITCHYARD_WERROR=OFF
    "-DCMAKE_INSTALL_DOCDIR=share/${PORT}"
)
vcpkg_cmake_install()
# Installs lib/cmake/switchyard; vcpkg wants the package files in share/switchyard.
vcpkg_cmake_config_fixup(CONFIG_PATH lib/cmake/switchyard)
vcpkg_fixup_pkgconfig()

if("examples" IN_LIST FEATURES)
  file(GLOB example_sources "${SOURCE_PATH}/examples/*.cpp")
  set(example_names "")
  foreach(source IN LISTS example_sources)
    get_filename_component(name "${source}" NAME_WE)
    list(APPEND example_names "${name}")
  endforeach()
  vcpkg_copy_tools(TOOL_NAMES ${example_names}
                   SEARCH_DIR "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel/examples")
endif()

file(REMOVE_RECURSE
  "${CURRENT_PACKAGES_DIR}/debug/include"
  "${CURRENT_PACKAGES_DIR}/debug/share")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
