# switchyard-server's own dependencies (header-only; Debian: libboost-dev for Boost.Beast,
# nlohmann-json3-dev). Build-time only, like the CLI's. Included only when SWITCHYARD_BUILD_SERVER
# is on; outside CI a missing one turns the server off with a message.
find_package(nlohmann_json 3.10 CONFIG QUIET)
include(CheckIncludeFileCXX)
set(CMAKE_REQUIRED_QUIET ON)
get_target_property(_switchyard_boost_includes Boost::headers INTERFACE_INCLUDE_DIRECTORIES)
set(CMAKE_REQUIRED_INCLUDES ${_switchyard_boost_includes})
check_include_file_cxx(boost/beast/http.hpp SWITCHYARD_HAVE_BEAST)
unset(CMAKE_REQUIRED_INCLUDES)
unset(CMAKE_REQUIRED_QUIET)
if(NOT SWITCHYARD_HAVE_BEAST OR NOT TARGET nlohmann_json::nlohmann_json)
  if("$ENV{CI}" STREQUAL "true")
    message(FATAL_ERROR "switchyard-server needs Boost.Beast and nlohmann-json "
                        "(Debian: libboost-dev nlohmann-json3-dev; scripts/install-deps.sh)")
  endif()
  message(STATUS "switchyard-server not built: Boost.Beast or nlohmann-json not found "
                 "(Debian: libboost-dev nlohmann-json3-dev)")
  set(SWITCHYARD_BUILD_SERVER OFF)
endif()
