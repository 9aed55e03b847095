// SPDX-License-Identifier: Apache-2.0
// Consumer of the installed adapters (tests/consumers/adapters): each component it was built with
// loads a test model through the umbrella header and predicts one row.
#include <cstdio>
#include <string>
#include <switchyard/switchyard.hpp>

int main() {
  const float row[5] = {33.156216f, 702.2678f, 2.0f, 9.948158f, 19.0f};
  const switchyard::TensorView x(row, {1, 5});
  const std::string data = SWITCHYARD_TEST_DATA;
  int checked = 0;
#if defined(SWITCHYARD_CONSUMER_XGBOOST)
  {
    const auto model = switchyard::XgboostModel::from_file(data + "/xgboost/fraud_classifier.ubj");
    const double p = model->predict(x).values(0, 0);
    std::printf("xgboost: P(fraud) = %.8f\n", p);
    // XGBoost's own output for this row (tests/data/xgboost/classifier_predictions.csv).
    if (static_cast<float>(p) != 0.25917253f) return 1;
    ++checked;
  }
#endif
#if defined(SWITCHYARD_CONSUMER_TORCH)
  {
    const auto model = switchyard::TorchScriptModel::from_file(data + "/torch/fraud_classifier.pt");
    const auto p = model->predict(x);
    std::printf("torch: %s, label %d\n", model->signature().outputs[0].name.c_str(), p.labels[0]);
    if (model->signature().class_names.size() != 2) return 1;
    ++checked;
  }
#endif
  return checked > 0 ? 0 : 1;
}
