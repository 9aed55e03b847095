# Install rules: headers, the library, exported targets (switchyard::), the CMake package files
# and the pkg-config files. Every installed file locates its prefix relative to itself, so the
# installed tree can be moved (tests/consumers checks both).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SWITCHYARD_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/switchyard"
    CACHE STRING "Where switchyardConfig.cmake is installed, relative to the prefix")
set(SWITCHYARD_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where switchyard.pc is installed, relative to the prefix")

# Public headers with their -inl parts (switchyard_header_only compiles those into the consumer).
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/switchyard"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT switchyard_development
        FILES_MATCHING PATTERN "*.hpp")

install(TARGETS switchyard switchyard_header_only
        EXPORT switchyardTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_development
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_runtime
                NAMELINK_COMPONENT switchyard_development
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT switchyard_runtime)

# The `switchyard` command-line tool, when built (not exported: nothing links an executable).
if(TARGET switchyard_cli)
  install(TARGETS switchyard_cli
          RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT switchyard_runtime)
endif()

install(EXPORT switchyardTargets
        NAMESPACE switchyard::
        FILE switchyardTargets.cmake
        DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}"
        COMPONENT switchyard_development)

# The optional adapters that were built, each in its own export set with a component file that
# finds its dependencies: find_package(switchyard COMPONENTS xgboost torch postgres) loads only
# what it names, and a consumer of the core never needs XGBoost, LibTorch or libpq.
foreach(adapter xgboost torch postgres)
  if(TARGET switchyard_${adapter})
    install(TARGETS switchyard_${adapter}
            EXPORT switchyard_${adapter}Targets
            ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_development
            LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT switchyard_runtime
                    NAMELINK_COMPONENT switchyard_development
            RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT switchyard_runtime)
    install(EXPORT switchyard_${adapter}Targets
            NAMESPACE switchyard::
            FILE switchyard_${adapter}Targets.cmake
            DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}"
            COMPONENT switchyard_development)
    install(FILES "${PROJECT_SOURCE_DIR}/cmake/switchyard_${adapter}-component.cmake"
            DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}"
            COMPONENT switchyard_development)
  endif()
endforeach()

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/switchyardConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/packaging/switchyardConfig.cmake"
  INSTALL_DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}")
# The compiled library is tied to the architecture, so no ARCH_INDEPENDENT here.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/packaging/switchyardConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/packaging/switchyardConfig.cmake"
              "${PROJECT_BINARY_DIR}/packaging/switchyardConfigVersion.cmake"
        DESTINATION "${SWITCHYARD_INSTALL_CMAKEDIR}"
        COMPONENT switchyard_development)

# pkg-config: prefix=${pcfiledir}/<relative path back to the prefix>, as vcpkg_fixup_pkgconfig
# writes it, so the .pc files survive `cmake --install --prefix` and a moved prefix.
function(switchyard_relative_to_prefix out_var path)
  if(IS_ABSOLUTE "${path}")
    set(${out_var} "${path}" PARENT_SCOPE)
  else()
    set(${out_var} "\${prefix}/${path}" PARENT_SCOPE)
  endif()
endfunction()
if(IS_ABSOLUTE "${SWITCHYARD_INSTALL_PKGCONFIGDIR}")
  set(SWITCHYARD_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _switchyard_up "/prefix/${SWITCHYARD_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _switchyard_up "${_switchyard_up}")
  set(SWITCHYARD_PC_PREFIX "\${pcfiledir}/${_switchyard_up}")
  unset(_switchyard_up)
endif()
switchyard_relative_to_prefix(SWITCHYARD_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
switchyard_relative_to_prefix(SWITCHYARD_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")

# The static library needs SQLite, libcrypto and yaml-cpp at link time, so they are plain Requires
# and a `pkg-config --libs switchyard` works without --static; the shared library hides them.
set(SWITCHYARD_PC_REQUIRES "eigen3 xtensor")
set(SWITCHYARD_PC_CFLAGS "")
if(BUILD_SHARED_LIBS)
  set(SWITCHYARD_PC_REQUIRES_PRIVATE "sqlite3 libcrypto yaml-cpp")
  set(SWITCHYARD_PC_CFLAGS " -DSWITCHYARD_SHARED")
else()
  string(APPEND SWITCHYARD_PC_REQUIRES " sqlite3 libcrypto yaml-cpp")
  set(SWITCHYARD_PC_REQUIRES_PRIVATE "")
endif()
foreach(pc switchyard switchyard_header_only)
  configure_file("${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in"
                 "${PROJECT_BINARY_DIR}/packaging/${pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/packaging/${pc}.pc"
          DESTINATION "${SWITCHYARD_INSTALL_PKGCONFIGDIR}"
          COMPONENT switchyard_development)
endforeach()

install(FILES "${PROJECT_SOURCE_DIR}/CHANGELOG.md"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}"
        COMPONENT switchyard_development)
