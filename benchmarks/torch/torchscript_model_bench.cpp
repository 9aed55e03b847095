// SPDX-License-Identifier: Apache-2.0
// Adapter overhead: TorchScriptModel::predict against torch::jit::Module::forward called directly,
// on the same module file (the 5-8-2 fraud classifier of scripts/make_torch_models.py), the same
// float32 rows and one intra-op thread, batch 1 and 64. The direct caller does what a careful
// host does by hand: a from_blob view over its rows, c10::InferenceMode, forward(), and reading
// the output. Compare the two in one run (ratios, medians):
//   torchscript_model_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/script.h>

#include <random>
#include <switchyard/models/torchscript_model.hpp>
#include <vector>

namespace {

constexpr std::int64_t kFeatures = 5;

std::vector<float> rows(std::int64_t batch) {
  std::mt19937 gen(42);
  std::uniform_real_distribution<float> u(0.0f, 3.0f);
  std::vector<float> x(static_cast<std::size_t>(batch * kFeatures));
  for (auto& v : x) v = u(gen);
  return x;
}

void BM_Torch_DirectForward(benchmark::State& state) {
  at::set_num_threads(1);
  torch::jit::Module module = torch::jit::load(SWITCHYARD_TORCH_MODEL);
  module.eval();
  const std::int64_t batch = state.range(0);
  std::vector<float> x = rows(batch);
  for (auto _ : state) {
    c10::InferenceMode inference;
    std::vector<c10::IValue> args{torch::from_blob(x.data(), {batch, kFeatures})};
    at::Tensor out = module.forward(std::move(args)).toTensor();
    benchmark::DoNotOptimize(out.data_ptr<float>()[0]);
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

// The adapter: the same forward() plus the Prediction it returns (values as float64, labels and
// confidence per row).
void BM_Torch_Adapter(benchmark::State& state) {
  const auto model = switchyard::TorchScriptModel::from_file(SWITCHYARD_TORCH_MODEL);
  const std::int64_t batch = state.range(0);
  const std::vector<float> x = rows(batch);
  const switchyard::TensorView view(x.data(), {batch, kFeatures});
  for (auto _ : state) {
    switchyard::Prediction p = model->predict(view);
    benchmark::DoNotOptimize(p.values.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

BENCHMARK(BM_Torch_DirectForward)->Arg(1)->Arg(64);
BENCHMARK(BM_Torch_Adapter)->Arg(1)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
