# Checks that include/switchyard/version.hpp states project(VERSION): the header is what
# consumers compile against, the project version is what the package files declare.
function(switchyard_read_header_version header out_var)
  file(STRINGS "${header}" lines REGEX "^#define SWITCHYARD_VERSION_(MAJOR|MINOR|PATCH) ")
  foreach(part MAJOR MINOR PATCH)
    set(${part} "")
    foreach(line IN LISTS lines)
      if(line MATCHES "^#define SWITCHYARD_VERSION_${part} +([0-9]+) *$")
        set(${part} "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    if(${part} STREQUAL "")
      message(FATAL_ERROR "${header}: no '#define SWITCHYARD_VERSION_${part} <number>' line")
    endif()
  endforeach()
  set(${out_var} "${MAJOR}.${MINOR}.${PATCH}" PARENT_SCOPE)
endfunction()

switchyard_read_header_version("${PROJECT_SOURCE_DIR}/include/switchyard/version.hpp"
                               SWITCHYARD_HEADER_VERSION)
file(STRINGS "${PROJECT_SOURCE_DIR}/include/switchyard/version.hpp" _switchyard_version_string
     REGEX "^#define SWITCHYARD_VERSION_STRING ")
if(NOT SWITCHYARD_HEADER_VERSION STREQUAL PROJECT_VERSION OR
   NOT _switchyard_version_string STREQUAL "#define SWITCHYARD_VERSION_STRING \"${PROJECT_VERSION}\"")
  message(FATAL_ERROR "include/switchyard/version.hpp says ${SWITCHYARD_HEADER_VERSION} "
                      "(${_switchyard_version_string}) but project(VERSION) is ${PROJECT_VERSION}; "
                      "change both together")
endif()
unset(_switchyard_version_string)
