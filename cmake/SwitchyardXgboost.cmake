# The optional XGBoost adapter (SWITCHYARD_WITH_XGBOOST): target switchyard::xgboost, on
# XGBoost's C API (Debian 12: libxgboost-dev 1.7) and nlohmann-json. The core library never
# links XGBoost; a host that serves XGBoost models links switchyard::xgboost as well.
find_path(SWITCHYARD_XGBOOST_INCLUDE_DIR xgboost/c_api.h)
find_library(SWITCHYARD_XGBOOST_LIBRARY NAMES xgboost)
find_package(nlohmann_json 3.10 CONFIG QUIET)
if(NOT SWITCHYARD_XGBOOST_INCLUDE_DIR OR NOT SWITCHYARD_XGBOOST_LIBRARY)
  message(FATAL_ERROR "SWITCHYARD_WITH_XGBOOST is ON but XGBoost's C API was not found "
                      "(xgboost/c_api.h: '${SWITCHYARD_XGBOOST_INCLUDE_DIR}', libxgboost: "
                      "'${SWITCHYARD_XGBOOST_LIBRARY}'). Debian: apt-get install libxgboost-dev; "
                      "elsewhere set CMAKE_PREFIX_PATH to XGBoost's install prefix.")
endif()
if(NOT TARGET nlohmann_json::nlohmann_json)
  message(FATAL_ERROR "SWITCHYARD_WITH_XGBOOST needs nlohmann-json (Debian: nlohmann-json3-dev)")
endif()
message(STATUS "XGBoost adapter: ${SWITCHYARD_XGBOOST_LIBRARY}")

add_library(switchyard_xgboost "${PROJECT_SOURCE_DIR}/src/models/xgboost_model.cpp")
add_library(switchyard::xgboost ALIAS switchyard_xgboost)
target_include_directories(switchyard_xgboost SYSTEM PRIVATE "${SWITCHYARD_XGBOOST_INCLUDE_DIR}")
target_link_libraries(switchyard_xgboost
  PUBLIC switchyard::switchyard
  PRIVATE "${SWITCHYARD_XGBOOST_LIBRARY}" nlohmann_json::nlohmann_json)
set_target_properties(switchyard_xgboost PROPERTIES
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  EXPORT_NAME xgboost)
# The umbrella header includes xgboost_model.hpp only for users of this target.
target_compile_definitions(switchyard_xgboost PUBLIC SWITCHYARD_WITH_XGBOOST)
switchyard_set_warnings(switchyard_xgboost)
