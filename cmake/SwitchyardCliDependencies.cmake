# The switchyard CLI's own dependencies (header-only; Debian: libcli11-dev, nlohmann-json3-dev).
# Build-time only: the installed library never needs them, so they stay out of
# SwitchyardDependencies.cmake, whose list the installed package file must repeat. Included only
# when SWITCHYARD_BUILD_CLI is on; outside CI a missing one turns the CLI off with a message.
find_package(CLI11 2.1 CONFIG QUIET)
find_package(nlohmann_json 3.10 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11 OR NOT TARGET nlohmann_json::nlohmann_json)
  if("$ENV{CI}" STREQUAL "true")
    message(FATAL_ERROR "The switchyard CLI needs CLI11 and nlohmann-json "
                        "(Debian: libcli11-dev nlohmann-json3-dev; scripts/install-deps.sh)")
  endif()
  message(STATUS "switchyard CLI not built: CLI11 or nlohmann-json not found "
                 "(Debian: libcli11-dev nlohmann-json3-dev)")
  set(SWITCHYARD_BUILD_CLI OFF)
endif()
