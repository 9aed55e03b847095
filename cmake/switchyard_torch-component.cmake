# Component `torch` of the switchyard CMake package (installed beside switchyardConfig.cmake when
# Switchyard was built with SWITCHYARD_WITH_TORCH): switchyard::torch, the TorchScript adapter.
#   find_package(switchyard CONFIG REQUIRED COMPONENTS torch)
#   target_link_libraries(app PRIVATE switchyard::torch)
# The library links LibTorch's imported targets, so LibTorch's CMake package is found too
# (Debian: libtorch-dev). The consumer compiles no LibTorch header through Switchyard's.
include(CMakeFindDependencyMacro)
find_dependency(Torch CONFIG)
include("${CMAKE_CURRENT_LIST_DIR}/switchyard_torchTargets.cmake")
set(switchyard_torch_FOUND TRUE)
