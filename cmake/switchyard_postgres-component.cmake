# Component `postgres` of the switchyard CMake package (installed beside switchyardConfig.cmake
# when Switchyard was built with SWITCHYARD_WITH_POSTGRES): switchyard::postgres, the PostgreSQL
# registry store.
#   find_package(switchyard CONFIG REQUIRED COMPONENTS postgres)
#   target_link_libraries(app PRIVATE switchyard::postgres)
# The library links libpq through the imported target it was built with (CMake's FindPostgreSQL,
# else pkg-config's libpq), which is found again here (Debian: libpq-dev). The consumer compiles no
# libpq header through Switchyard's (unless it defines SWITCHYARD_HEADER_ONLY).
include(CMakeFindDependencyMacro)
find_package(PostgreSQL QUIET)
if(NOT TARGET PostgreSQL::PostgreSQL)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(SWITCHYARD_PC_LIBPQ QUIET IMPORTED_TARGET GLOBAL libpq)
  endif()
endif()
if(TARGET PostgreSQL::PostgreSQL OR TARGET PkgConfig::SWITCHYARD_PC_LIBPQ)
  include("${CMAKE_CURRENT_LIST_DIR}/switchyard_postgresTargets.cmake")
  set(switchyard_postgres_FOUND TRUE)
endif()
