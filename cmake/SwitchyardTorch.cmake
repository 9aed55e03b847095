# The optional TorchScript adapter (SWITCHYARD_WITH_TORCH): target switchyard::torch, on LibTorch
# (Debian 12: libtorch-dev 1.13, CPU). The core library never links LibTorch; a host that serves
# TorchScript models links switchyard::torch as well. LibTorch's headers stay inside
# src/models/torchscript_model.cpp: the target links Torch privately.
find_package(Torch QUIET CONFIG)
if(NOT Torch_FOUND)
  message(FATAL_ERROR "SWITCHYARD_WITH_TORCH is ON but LibTorch was not found (TorchConfig.cmake). "
                      "Debian: apt-get install --no-install-recommends libtorch-dev; elsewhere set "
                      "CMAKE_PREFIX_PATH (or Torch_DIR) to LibTorch's install prefix.")
endif()
# LibTorch 1.x's headers keep std::vector<c10::IValue> members while IValue is incomplete, which
# C++20's constexpr std::vector rejects under Clang (pytorch/pytorch#97689); GCC accepts them.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND Torch_VERSION VERSION_LESS 2.0)
  message(FATAL_ERROR "SWITCHYARD_WITH_TORCH: LibTorch ${Torch_VERSION}'s headers do not compile as "
                      "C++20 with Clang (incomplete c10::IValue in std::vector, "
                      "pytorch/pytorch#97689); build the TorchScript adapter with GCC.")
endif()
message(STATUS "TorchScript adapter: LibTorch ${Torch_VERSION}")

add_library(switchyard_torch "${PROJECT_SOURCE_DIR}/src/models/torchscript_model.cpp")
add_library(switchyard::torch ALIAS switchyard_torch)
target_link_libraries(switchyard_torch
  PUBLIC switchyard::switchyard
  PRIVATE ${TORCH_LIBRARIES})
set_target_properties(switchyard_torch PROPERTIES
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  EXPORT_NAME torch)
# The umbrella header includes torchscript_model.hpp only for users of this target.
target_compile_definitions(switchyard_torch PUBLIC SWITCHYARD_WITH_TORCH)
switchyard_set_warnings(switchyard_torch)
