// SPDX-License-Identifier: Apache-2.0
// Trains a fraud model the way docs/model-deployment-guide.md starts: logistic regression on
// Eigen over synthetic card transactions, scored on a holdout set, written as a model file the
// registry and `switchyard register` read (LogisticModel::to_artifact()). Prints the holdout
// metrics as `auc=... accuracy=...` for `--metric`. Optionally writes transactions as CSV (the
// training features, or shifted live traffic) for `switchyard drift report`.
//
//   train_fraud_model --out FILE [--features 3..6] [--seed N]
//                     [--csv FILE [--rows N] [--shift X]]
#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/stats/roc_auc.hpp>
#include <vector>

namespace {

namespace sy = switchyard;

constexpr int kFeatures = 6;
constexpr const char* kFeatureNames[kFeatures] = {"amount",   "velocity",    "merchant_risk",
                                                  "distance", "device_risk", "account_age"};

struct Data {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;  // 1 = fraud
};

// Six standardised features (means moved by `shift`); fraud drawn from a fixed logistic model.
Data transactions(int n, std::mt19937_64& rng, double shift = 0.0) {
  const Eigen::VectorXd truth = (Eigen::VectorXd(kFeatures) << 1.5, -1.0, 0.8, 0.6, 2.0, -0.5).finished();
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Data d{Eigen::MatrixXd(n, kFeatures), Eigen::VectorXd(n)};
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < kFeatures; ++j) d.x(i, j) = normal(rng) + shift;
    const double p = 1.0 / (1.0 + std::exp(-(d.x.row(i).dot(truth) - 2.5)));
    d.y[i] = uniform(rng) < p ? 1.0 : 0.0;
  }
  return d;
}

// Logistic regression by gradient descent on the first `features` columns; the model takes all
// six (the others weigh 0), so every version has the same input signature.
sy::LogisticModel fit(const Data& d, int features) {
  const Eigen::MatrixXd x = d.x.leftCols(features);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(features);
  double b = 0.0;
  for (int it = 0; it < 500; ++it) {
    const Eigen::ArrayXd p = 1.0 / (1.0 + (-((x * w).array() + b)).exp());
    const Eigen::VectorXd err = p.matrix() - d.y;
    w -= 0.5 * x.transpose() * err / static_cast<double>(x.rows());
    b -= 0.5 * err.mean();
  }
  Eigen::MatrixXd weights = Eigen::MatrixXd::Zero(kFeatures, 1);
  weights.topRows(features) = w;
  return sy::LogisticModel(weights, Eigen::VectorXd::Constant(1, b), {"legit", "fraud"});
}

void write_csv(const std::string& path, const Data& d) {
  std::ofstream out(path);
  for (int j = 0; j < kFeatures; ++j) out << (j ? "," : "") << kFeatureNames[j];
  out << '\n';
  char cell[32];
  for (Eigen::Index i = 0; i < d.x.rows(); ++i) {
    for (int j = 0; j < kFeatures; ++j) {
      std::snprintf(cell, sizeof cell, "%.4f", d.x(i, j));
      out << (j ? "," : "") << cell;
    }
    out << '\n';
  }
  if (!out) throw std::runtime_error("cannot write " + path);
}

int usage() {
  std::cerr << "usage: train_fraud_model --out FILE [--features 3..6] [--seed N] "
               "[--csv FILE [--rows N] [--shift X]]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out, csv;
  int features = kFeatures, rows = 2000;
  unsigned long long seed = 1;
  double shift = 0.0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string value = argv[++i];
    if (arg == "--out") out = value;
    else if (arg == "--features") features = std::stoi(value);
    else if (arg == "--seed") seed = std::stoull(value);
    else if (arg == "--csv") csv = value;
    else if (arg == "--rows") rows = std::stoi(value);
    else if (arg == "--shift") shift = std::stod(value);
    else return usage();
  }
  if (out.empty() || features < 1 || features > kFeatures || rows < 1) return usage();

  std::mt19937_64 rng(seed);
  const Data train = transactions(8000, rng), holdout = transactions(4000, rng);
  const sy::LogisticModel model = fit(train, features);

  // Holdout metrics: AUC of the fraud probability, accuracy of the label.
  std::vector<double> scores;
  std::vector<int> labels;
  int right = 0;
  for (Eigen::Index i = 0; i < holdout.x.rows(); ++i) {
    const Eigen::RowVectorXd row = holdout.x.row(i);
    const sy::Prediction p = model.predict(sy::TensorView(row.data(), sy::Shape{1, kFeatures}));
    scores.push_back(p.values(0, 0));
    labels.push_back(static_cast<int>(holdout.y[i]));
    right += p.labels[0] == labels.back() ? 1 : 0;
  }
  const double auc = sy::stats::roc_auc(labels, scores).auc;
  const double accuracy = static_cast<double>(right) / static_cast<double>(holdout.x.rows());

  std::ofstream file(out, std::ios::binary);
  file << model.to_artifact();
  if (!file) {
    std::cerr << "cannot write " << out << "\n";
    return 1;
  }
  if (!csv.empty()) write_csv(csv, transactions(rows, rng, shift));
  std::printf("auc=%.4f accuracy=%.4f\n", auc, accuracy);
  return 0;
}
