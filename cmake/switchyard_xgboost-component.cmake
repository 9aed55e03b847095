# Component `xgboost` of the switchyard CMake package (installed beside switchyardConfig.cmake when
# Switchyard was built with SWITCHYARD_WITH_XGBOOST): switchyard::xgboost, the XGBoost adapter.
#   find_package(switchyard CONFIG REQUIRED COMPONENTS xgboost)
#   target_link_libraries(app PRIVATE switchyard::xgboost)
# The static library links libxgboost (recorded by path) and nlohmann-json.
include(CMakeFindDependencyMacro)
find_dependency(nlohmann_json 3.10 CONFIG)
include("${CMAKE_CURRENT_LIST_DIR}/switchyard_xgboostTargets.cmake")
set(switchyard_xgboost_FOUND TRUE)
