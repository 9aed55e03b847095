# The optional PostgreSQL registry store (SWITCHYARD_WITH_POSTGRES): target switchyard::postgres,
# PostgresRegistryStore on libpq's C API (Debian 12: libpq-dev 15). The core library never links
# libpq; a host whose replicas share one PostgreSQL links switchyard::postgres as well.
find_package(PostgreSQL QUIET)
if(TARGET PostgreSQL::PostgreSQL)
  set(SWITCHYARD_LIBPQ PostgreSQL::PostgreSQL)
else()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(SWITCHYARD_PC_LIBPQ QUIET IMPORTED_TARGET libpq)
  endif()
  if(TARGET PkgConfig::SWITCHYARD_PC_LIBPQ)
    set(SWITCHYARD_LIBPQ PkgConfig::SWITCHYARD_PC_LIBPQ)
  else()
    message(FATAL_ERROR "SWITCHYARD_WITH_POSTGRES is ON but libpq (PostgreSQL's client library) "
                        "was not found. Debian: apt-get install libpq-dev; elsewhere set "
                        "CMAKE_PREFIX_PATH to PostgreSQL's install prefix or PKG_CONFIG_PATH to "
                        "the directory of libpq.pc.")
  endif()
endif()
message(STATUS "PostgreSQL registry store: libpq through ${SWITCHYARD_LIBPQ}")

add_library(switchyard_postgres "${PROJECT_SOURCE_DIR}/src/registry/postgres_registry_store.cpp")
add_library(switchyard::postgres ALIAS switchyard_postgres)
target_link_libraries(switchyard_postgres
  PUBLIC switchyard::switchyard
  PRIVATE ${SWITCHYARD_LIBPQ})
set_target_properties(switchyard_postgres PROPERTIES
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  EXPORT_NAME postgres)
# The umbrella header includes postgres_registry_store.hpp only for users of this target.
target_compile_definitions(switchyard_postgres PUBLIC SWITCHYARD_WITH_POSTGRES)
switchyard_set_warnings(switchyard_postgres)
