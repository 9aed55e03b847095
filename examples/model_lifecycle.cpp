// SPDX-License-Identifier: Apache-2.0
// The main demo: two versions of a real fraud model go through the registry's gates to
// Production behind a canary, the new one is rolled back, and the audit trail is printed. Serving
// follows the registry (RegistryBinding): the canary is the "challenger" alias, and promotion and
// rollback are registry calls that switch serving themselves.
//
// Usage: model_lifecycle [directory]   (default: a fresh temporary directory)
#include <Eigen/Dense>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include <switchyard/core/events.hpp>
#include <switchyard/models/linear_model.hpp>
#include <switchyard/registry/artifact_store.hpp>
#include <switchyard/registry/model_registry.hpp>
#include <switchyard/registry/sqlite_registry_store.hpp>
#include <switchyard/serving/deployment.hpp>
#include <switchyard/serving/registry_binding.hpp>
#include <switchyard/stats/roc_auc.hpp>

namespace sy = switchyard;

namespace {

// Synthetic card transactions: 6 features, fraud drawn from a known logistic model.
struct Data {
  Eigen::MatrixXd x;
  std::vector<int> y;
};

Data make_data(int n, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  const Eigen::VectorXd truth = (Eigen::VectorXd(6) << 1.5, -1.0, 0.8, 0.0, 2.0, -0.5).finished();
  Data d{Eigen::MatrixXd(n, 6), std::vector<int>(n)};
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 6; ++j) d.x(i, j) = normal(rng);
    double p = 1.0 / (1.0 + std::exp(-(d.x.row(i).dot(truth) - 2.0)));
    d.y[i] = std::uniform_real_distribution<double>(0, 1)(rng) < p ? 1 : 0;
  }
  return d;
}

// Logistic regression by gradient descent on the first `features` columns (the rest get weight 0,
// so both versions take the same 6-feature input).
sy::LogisticModel fit(const Data& d, int features) {
  Eigen::MatrixXd x = d.x.leftCols(features);
  Eigen::VectorXd y(d.y.size());
  for (std::size_t i = 0; i < d.y.size(); ++i) y[static_cast<Eigen::Index>(i)] = d.y[i];
  Eigen::VectorXd w = Eigen::VectorXd::Zero(features);
  double b = 0.0;
  for (int it = 0; it < 500; ++it) {
    Eigen::ArrayXd p = 1.0 / (1.0 + (-((x * w).array() + b)).exp());
    Eigen::VectorXd err = p.matrix() - y;
    w -= 0.5 * x.transpose() * err / static_cast<double>(x.rows());
    b -= 0.5 * err.mean();
  }
  Eigen::MatrixXd weights = Eigen::MatrixXd::Zero(6, 1);
  weights.topRows(features) = w;
  return sy::LogisticModel(weights, Eigen::VectorXd::Constant(1, b), {"legit", "fraud"});
}

double auc_of(const sy::Model& m, const Data& d) {
  std::vector<double> scores;
  for (Eigen::Index i = 0; i < d.x.rows(); ++i) {
    Eigen::RowVectorXd row = d.x.row(i);
    auto p = m.predict(sy::TensorView(row.data(), sy::Shape{1, 6}));
    scores.push_back(p.values(0, 0));  // probability of fraud
  }
  return sy::stats::roc_auc(d.y, scores).auc;
}

}  // namespace

int main(int argc, char** argv) {
  const std::filesystem::path dir =
      argc > 1 ? std::filesystem::path(argv[1])
               : std::filesystem::temp_directory_path() / ("switchyard-demo-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  std::cout << "registry in " << dir << "\n\n";

  // 1. A durable registry: SQLite for metadata, audit and small artifacts (committed with their
  //    version), a content-addressed directory for artifacts over 128 KiB.
  sy::SqliteRegistryStore store({.path = (dir / "registry.db").string()});
  sy::ArtifactStore artifacts(dir / "artifacts");
  sy::ModelRegistry registry({.store = &store, .artifacts = &artifacts});
  registry.events().stage_changed.connect([](const sy::RegistryEvent& e) {
    std::cout << "  [event] " << e.model << " v" << e.version << ": "
              << sy::to_string(*e.from_stage) << " -> " << sy::to_string(*e.to_stage) << "\n";
  });

  // 2. Train two real models: v1 sees 3 features, v2 all 6.
  std::mt19937_64 rng(2026);
  Data train = make_data(4000, rng), holdout = make_data(2000, rng);
  sy::LogisticModel v1_model = fit(train, 3), v2_model = fit(train, 6);
  const double auc1 = auc_of(v1_model, holdout), auc2 = auc_of(v2_model, holdout);
  std::printf("trained: v1 holdout AUC %.4f, v2 holdout AUC %.4f\n\n", auc1, auc2);

  // 3. Gates: AUC at least 0.70, no regression against Production beyond 0.005, p99 under 1 ms.
  sy::ValidationPolicy gates;
  gates.thresholds = {{.metric = "auc", .min = 0.70}};
  gates.regressions = {{.metric = "auc", .higher_is_better = true, .tolerance = 0.005}};
  gates.latency = sy::LatencyGate{.max_p99 = std::chrono::milliseconds(1)};
  registry.set_validation_policy("fraud-detection", gates);

  auto register_model = [&](const sy::LogisticModel& m, double auc, const char* semver,
                            const char* changelog) {
    sy::VersionMetadata meta;
    meta.semver = semver;
    meta.metrics = {{"auc", auc}};
    meta.run_id = std::string("run-") + semver;
    meta.dataset_version = "transactions-2026-11";
    meta.owner = "risk-ml";
    meta.changelog = changelog;
    return registry.register_version("fraud-detection",
                                     {std::string(sy::kLinearFormat), m.to_artifact()}, meta,
                                     {.actor = "ci"});
  };
  auto v1 = register_model(v1_model, auc1, "1.0.0", "baseline on 3 features");
  auto v2 = register_model(v2_model, auc2, "2.0.0", "adds merchant and velocity features");
  std::cout << "registered v" << v1->version << " and v" << v2->version
            << " (artifact sha256 " << v2->artifact.sha256.substr(0, 12) << "...)\n";

  // 4. v1 through the gates to Production.
  registry.transition("fraud-detection", v1->version, sy::Stage::kStaging, {.actor = "ci"});
  registry.transition("fraud-detection", v1->version, sy::Stage::kProduction,
                      {.actor = "alice", .reason = "first release"});

  // 5. Serve: the Deployment loads versions from the registry and follows it. Its stable arm is
  //    the Production version; its candidate arm, 10 % of traffic, is whatever "challenger" names.
  sy::Deployment fraud({.model = "fraud-detection", .source = &registry});
  sy::RegistryBinding follow({.registry = &registry,
                              .deployment = &fraud,
                              .candidate = "@challenger",
                              .candidate_percent = 10});
  follow.published.connect([](const sy::BindingEvent& e) {
    std::cout << "  [serving] stable v" << e.status.stable_version;
    if (e.status.candidate_version != 0) {
      std::cout << ", candidate v" << e.status.candidate_version << " at "
                << e.status.candidate_percent << " %";
    }
    std::cout << "\n";
  });
  auto report = registry.validate("fraud-detection", v2->version);
  std::cout << "\nvalidation of v2:\n";
  for (const auto& c : report.checks) {
    std::cout << "  " << (c.passed ? "pass" : "FAIL") << "  " << c.gate << " " << c.subject
              << ": " << c.detail << "\n";
  }
  registry.transition("fraud-detection", v2->version, sy::Stage::kStaging, {.actor = "ci"});
  registry.set_alias("fraud-detection", "challenger", v2->version, {.actor = "alice"});
  for (Eigen::Index i = 0; i < holdout.x.rows(); ++i) {
    Eigen::RowVectorXd row = holdout.x.row(i);
    auto r = fraud.predict({.key = "card-" + std::to_string(i),
                            .input = sy::TensorView(row.data(), sy::Shape{1, 6})});
    if (r.ok()) fraud.record_outcome(r->version, r->prediction.labels[0] == holdout.y[i]);
  }
  std::cout << "\ncanary traffic (2000 requests):\n";
  for (const auto& s : fraud.stats()) {
    std::printf("  v%lld %-9s requests %5llu  accuracy %.3f  p99 %.1f us\n",
                static_cast<long long>(s.version), s.variant.c_str(),
                static_cast<unsigned long long>(s.stats.requests), s.stats.accuracy(),
                s.stats.latency.quantile(0.99) / 1000.0);
  }

  // 6. Promote v2 (v1 is archived in the same transaction), then roll back: each is one registry
  //    call, and serving has switched before it returns.
  std::cout << "\npromote v2:\n";
  registry.transition("fraud-detection", v2->version, sy::Stage::kProduction,
                      {.actor = "alice", .reason = "canary healthy"});
  registry.remove_alias("fraud-detection", "challenger", {.actor = "alice"});
  std::cout << "roll back:\n";
  registry.rollback("fraud-detection", {.actor = "oncall", .reason = "chargebacks up after v2"});
  Eigen::RowVectorXd first = holdout.x.row(0);
  std::cout << "Production is v" << registry.resolve("models:/fraud-detection/Production")->version
            << "; serving v"
            << fraud.predict({.key = "card-1", .input = sy::TensorView(first.data(),
                                                                       sy::Shape{1, 6})})->version
            << "\n\naudit trail:\n";

  // 7. Who changed what, when and why.
  for (const auto& a : registry.history("fraud-detection")) {
    std::printf("  #%-3lld v%lld %-10s %-11s -> %-11s by %-6s %s\n",
                static_cast<long long>(a.sequence), static_cast<long long>(a.version),
                a.action.c_str(),
                a.from_stage ? std::string(sy::to_string(*a.from_stage)).c_str() : "-",
                a.to_stage ? std::string(sy::to_string(*a.to_stage)).c_str() : "-",
                a.actor.c_str(), a.reason.c_str());
  }
  return 0;
}
