// SPDX-License-Identifier: Apache-2.0
// Conan test_package: a logistic model serves one request through the Switchyard package.
#include <cstdio>
#include <memory>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/version.hpp>

int main() {
  namespace sy = switchyard;
  Eigen::MatrixXd w(2, 1);
  w << 1.5, -0.5;
  auto model = std::make_shared<sy::LogisticModel>(w, Eigen::VectorXd::Constant(1, 0.0),
                                                   std::vector<std::string>{"legit", "fraud"});
  sy::StaticModelSource source;
  source.add("fraud-detection", 1, model);
  sy::Deployment deployment({.model = "fraud-detection", .source = &source});
  sy::RoutingPolicy policy;
  policy.variants = {{"stable", 1, 100}};
  policy.weight_style = sy::WeightStyle::kPercent;
  deployment.router().set_policy(policy);

  const double row[2] = {1.0, 1.0};
  auto response =
      deployment.predict({.key = "user-1", .input = sy::TensorView(row, sy::Shape{1, 2})});
  if (!response.ok() || sy::library_version() != sy::kHeaderVersion) {
    std::fprintf(stderr, "switchyard test_package failed\n");
    return 1;
  }
  std::printf("switchyard %s: version %lld served p=%.3f\n", SWITCHYARD_VERSION_STRING,
              static_cast<long long>(response->version), response->prediction.values(0, 0));
  return 0;
}
