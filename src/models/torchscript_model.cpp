// SPDX-License-Identifier: Apache-2.0
// Compiled part of the optional TorchScript adapter (target switchyard::torch, SWITCHYARD_WITH_TORCH).
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/models/torchscript_model.cpp belongs to the compiled adapter; header-only builds include the -inl file"
#endif
#include <switchyard/models/torchscript_model-inl.hpp>
