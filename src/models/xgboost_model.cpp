// SPDX-License-Identifier: Apache-2.0
// Compiled part of the optional XGBoost adapter (target switchyard::xgboost, SWITCHYARD_WITH_XGBOOST).
#if defined(SWITCHYARD_HEADER_ONLY)
#error "src/models/xgboost_model.cpp belongs to the compiled adapter; header-only builds include the -inl file"
#endif
#include <switchyard/models/xgboost_model-inl.hpp>
