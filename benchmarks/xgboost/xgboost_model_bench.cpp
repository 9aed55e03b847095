// SPDX-License-Identifier: Apache-2.0
// Adapter overhead: XgboostModel::predict against XGBoosterPredictFromDense called directly, on
// the same model file (the 20-tree fraud classifier of scripts/make_xgboost_models.py), the same
// rows and one XGBoost thread, batch 1 and 64. Compare the two in one run (ratios, medians):
//   xgboost_model_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <xgboost/c_api.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <switchyard/models/xgboost_model.hpp>

namespace {

constexpr std::int64_t kFeatures = 5;

std::string model_bytes() {
  std::ifstream in(SWITCHYARD_XGBOOST_MODEL, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " SWITCHYARD_XGBOOST_MODEL);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> rows(std::int64_t batch) {
  std::mt19937 gen(42);
  std::uniform_real_distribution<float> u(0.0f, 100.0f);
  std::vector<float> x(static_cast<std::size_t>(batch * kFeatures));
  for (auto& v : x) v = u(gen);
  return x;
}

// A plain caller of the C API: the array interface over the rows, the same config as the
// adapter, the result read from XGBoost's buffer. Without a proxy DMatrix XGBoost makes one per
// call; `reuse_proxy` makes one once (the C API then skips making one per call), as the adapter
// does with one proxy per thread: the baseline for the adapter's own overhead.
void direct_c_api(benchmark::State& state, bool reuse_proxy) {
  const std::string bytes = model_bytes();
  BoosterHandle h = nullptr;
  DMatrixHandle proxy = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0 ||
      XGBoosterLoadModelFromBuffer(h, bytes.data(), bytes.size()) != 0 ||
      XGBoosterSetParam(h, "nthread", "1") != 0 ||
      (reuse_proxy && XGProxyDMatrixCreate(&proxy) != 0)) {
    state.SkipWithError(XGBGetLastError());
    if (h != nullptr) XGBoosterFree(h);
    return;
  }
  const std::int64_t batch = state.range(0);
  const std::vector<float> x = rows(batch);
  const char* config =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
      R"("strict_shape": false, "missing": NaN, "cache_id": 0})";
  for (auto _ : state) {
    char interface[160];
    std::snprintf(interface, sizeof interface,
                  R"({"data": [%)" PRIuPTR R"(, true], "shape": [%lld, %lld], "typestr": "<f4", )"
                  R"("version": 3})",
                  reinterpret_cast<std::uintptr_t>(x.data()), static_cast<long long>(batch),
                  static_cast<long long>(kFeatures));
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* out = nullptr;
    if (XGBoosterPredictFromDense(h, interface, config, proxy, &shape, &dims, &out) != 0) {
      state.SkipWithError(XGBGetLastError());
      break;
    }
    benchmark::DoNotOptimize(out[0]);
  }
  if (proxy != nullptr) XGDMatrixFree(proxy);
  XGBoosterFree(h);
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_Xgboost_DirectCApi(benchmark::State& state) { direct_c_api(state, false); }
void BM_Xgboost_DirectCApiReusedProxy(benchmark::State& state) { direct_c_api(state, true); }

// The adapter: the same prediction plus the Prediction it returns (values as float64, labels
// and confidence per row).
void BM_Xgboost_Adapter(benchmark::State& state) {
  const auto model = switchyard::XgboostModel::from_bytes(model_bytes(),
                                                           switchyard::kXgboostUbjsonFormat);
  const std::int64_t batch = state.range(0);
  const std::vector<float> x = rows(batch);
  const switchyard::TensorView view(x.data(), {batch, kFeatures});
  for (auto _ : state) {
    switchyard::Prediction p = model->predict(view);
    benchmark::DoNotOptimize(p.values.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

BENCHMARK(BM_Xgboost_DirectCApi)->Arg(1)->Arg(64);
BENCHMARK(BM_Xgboost_DirectCApiReusedProxy)->Arg(1)->Arg(64);
BENCHMARK(BM_Xgboost_Adapter)->Arg(1)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
