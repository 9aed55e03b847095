// SPDX-License-Identifier: Apache-2.0
// Drift evaluation against reference values: Evidently's procedure written out with numpy 1.24.2
// and scipy 1.10.1 in scripts/drift_reference.py (run it with /usr/bin/python3 to regenerate the
// constants), to 1e-9 absolute; the default test, thresholds, corrections, the dataset verdict,
// degenerate windows and the report's forms.
#include <switchyard/drift/drift_evaluation.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace switchyard {
namespace {
namespace drift_evaluation_test {

constexpr double kTol = 1e-9;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// scripts/drift_reference.py's numeric_ref and numeric_cur.
std::vector<double> numeric_ref(int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(std::sin(0.7 * i + 0.3) * 1.5 + std::cos(0.13 * i));
  return v;
}
std::vector<double> numeric_cur(int n, double shift) {
  std::vector<double> v;
  for (int j = 0; j < n; ++j) {
    v.push_back(std::sin(0.41 * j + 1.1) * 1.5 + std::cos(0.17 * j) + shift);
  }
  return v;
}

FeatureWindow window_of(const FeatureProfile& f, const std::vector<double>& xs,
                        bool keep_sample = true) {
  FeatureWindow w = FeatureWindow::for_feature(f);
  for (double x : xs) w.add(f, x, keep_sample);
  return w;
}

// Repeats value i counts[i] times.
std::vector<double> from_counts(const std::vector<double>& values,
                                const std::vector<int>& counts) {
  std::vector<double> out;
  for (std::size_t i = 0; i < values.size(); ++i) out.insert(out.end(), counts[i], values[i]);
  return out;
}

double value_of(const FeatureDrift& d, DriftTest t) {
  const DriftStatistic* s = d.find(t);
  EXPECT_NE(s, nullptr) << to_string(t);
  EXPECT_TRUE(s && s->ok()) << to_string(t) << ": " << (s ? s->reason : "");
  return s ? s->value : kNaN;
}

TEST(DriftEvaluationTest, exact_procedure_matches_evidently_for_a_small_reference) {
  // drift_reference.py, n_ref 800, n_cur 500, shift 0.3: KS is Evidently's default (<= 1,000
  // reference rows, > 5 distinct values), drift at p <= 0.05.
  const FeatureProfile f = profile_feature({.name = "x"}, numeric_ref(800));
  const FeatureWindow w = window_of(f, numeric_cur(500, 0.3));
  const FeatureDrift d = evaluate_feature(f, w, {}, true, true);
  EXPECT_EQ(d.test, DriftTest::kKolmogorovSmirnov);
  EXPECT_EQ(d.threshold, 0.05);
  EXPECT_NEAR(d.score, 0.002971483748525317, kTol);
  EXPECT_NEAR(d.find(DriftTest::kKolmogorovSmirnov)->statistic, 0.10225, kTol);
  EXPECT_TRUE(d.drift);
  EXPECT_EQ(d.find(DriftTest::kPsi)->procedure, DriftProcedure::kExact);
  EXPECT_NEAR(value_of(d, DriftTest::kPsi), 0.11528911070986779, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kKlDivergence), 0.05774778153397036, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kJensenShannon), 0.11729257676253227, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kWassersteinNormed), 0.2383514614415949, kTol);
}

TEST(DriftEvaluationTest, exact_procedure_matches_evidently_for_a_large_reference) {
  // n_ref 3000, n_cur 700, shift 0.05: Wasserstein (normed) is the default, drift at >= 0.1.
  const FeatureProfile f = profile_feature({.name = "x"}, numeric_ref(3000));
  const FeatureDrift d = evaluate_feature(f, window_of(f, numeric_cur(700, 0.05)), {}, true, true);
  EXPECT_EQ(d.test, DriftTest::kWassersteinNormed);
  EXPECT_EQ(d.threshold, 0.1);
  EXPECT_NEAR(d.score, 0.036737028641650044, kTol);
  EXPECT_FALSE(d.drift);
  EXPECT_NEAR(value_of(d, DriftTest::kPsi), 0.015019153506219702, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kJensenShannon), 0.04330815767375763, kTol);
}

TEST(DriftEvaluationTest, binned_procedure_uses_the_profiles_edges_and_outer_slots) {
  // drift_reference.py "binned procedure": the reference's own 13 Sturges bins, the window
  // counted into them (no sample kept, as on the request path).
  const FeatureProfile f = profile_feature({.name = "x"}, numeric_ref(3000));
  const FeatureDrift d =
      evaluate_feature(f, window_of(f, numeric_cur(700, 0.05), false), {}, true, true);
  EXPECT_EQ(d.find(DriftTest::kPsi)->procedure, DriftProcedure::kBinned);
  EXPECT_NEAR(value_of(d, DriftTest::kPsi), 0.04819338957847753, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kKlDivergence), 0.015719673897386616, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kJensenShannon), 0.06883773455424094, kTol);
  // Wasserstein and KS from bins (mass uniform within a bin) approximate the exact values.
  EXPECT_NEAR(value_of(d, DriftTest::kWassersteinNormed), 0.036737028641650044, 0.02);
  EXPECT_FALSE(d.drift);

  // Values beyond the last edge land in the outer slot: PSI sees them (434 of 700 above).
  const FeatureWindow far = window_of(f, numeric_cur(700, 3.0), false);
  EXPECT_EQ(far.counts.back(), 434u);
  const FeatureDrift e = evaluate_feature(f, far, {.test = DriftTest::kPsi});
  EXPECT_NEAR(e.score, 9.43305141337136, kTol);
  EXPECT_TRUE(e.drift);
}

TEST(DriftEvaluationTest, categorical_features_chi_square_and_distances_match_scipy) {
  const std::vector<double> codes = {0, 1, 2, 3, 4};
  const FeatureProfile f = profile_feature({.name = "c", .kind = FeatureKind::kCategorical},
                                           from_counts(codes, {120, 300, 250, 200, 130}));
  const FeatureDrift d =
      evaluate_feature(f, window_of(f, from_counts(codes, {100, 280, 300, 150, 170})), {}, true,
                       true);
  EXPECT_EQ(d.test, DriftTest::kChiSquare) << "1,000 reference rows, 5 categories";
  EXPECT_NEAR(d.score, 5.55906237503722e-08, kTol);
  EXPECT_TRUE(d.drift);
  EXPECT_NEAR(value_of(d, DriftTest::kPsi), 0.039257029491692075, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kJensenShannon), 0.06996217742247897, kTol);
  EXPECT_NEAR(value_of(d, DriftTest::kKlDivergence), 0.01965815529591934, kTol);
  EXPECT_EQ(d.find(DriftTest::kWassersteinNormed), nullptr) << "numeric only";
}

TEST(DriftEvaluationTest, a_category_the_reference_never_had_is_drift_whatever_the_score) {
  const std::vector<double> codes = {0, 1, 2, 3, 4};
  const FeatureProfile f = profile_feature({.name = "c", .kind = FeatureKind::kCategorical},
                                           from_counts(codes, {120, 300, 250, 200, 130}));
  auto cur = from_counts(codes, {100, 280, 300, 150, 170});
  cur.insert(cur.end(), 40, 7.0);
  for (bool exact : {true, false}) {
    const FeatureWindow w = window_of(f, cur, exact);
    const FeatureDrift d = evaluate_feature(f, w, {}, true, true);
    EXPECT_EQ(d.unseen, 40u);
    EXPECT_TRUE(d.drift);
    EXPECT_EQ(d.score, 0.0) << "chi-square: p = 0 with an unexpected category";
    EXPECT_NEAR(value_of(d, DriftTest::kPsi), 0.2683489463741508, kTol);
    EXPECT_NEAR(value_of(d, DriftTest::kJensenShannon), 0.13533994012567163, kTol);
    // Even a distance below its threshold does not hide it.
    const FeatureDrift js = evaluate_feature(f, w, {.test = DriftTest::kJensenShannon, .threshold = 0.5});
    EXPECT_LT(js.score, 0.5);
    EXPECT_TRUE(js.drift);
  }
}

TEST(DriftEvaluationTest, binary_features_use_evidentlys_z_test) {
  const FeatureProfile f = profile_feature({.name = "b", .kind = FeatureKind::kBinary},
                                           from_counts({0, 1}, {600, 400}));
  const FeatureDrift d = evaluate_feature(f, window_of(f, from_counts({0, 1}, {520, 480})));
  EXPECT_EQ(d.test, DriftTest::kZTest);
  EXPECT_NEAR(d.score, 0.0003136589452559235, kTol);
  EXPECT_TRUE(d.drift);
  EXPECT_NEAR(value_of(d, DriftTest::kPsi), 0.026033792034770215, kTol);
  // Both sides holding one and the same value: p = 1 (Evidently's special case).
  const FeatureProfile one = profile_feature({.name = "b", .kind = FeatureKind::kBinary},
                                             std::vector<double>(10, 1.0));
  const FeatureDrift same = evaluate_feature(one, window_of(one, std::vector<double>(5, 1.0)));
  EXPECT_TRUE(same.status == stats::StatStatus::kOk);
  EXPECT_EQ(same.score, 1.0);
  EXPECT_FALSE(same.drift);
}

TEST(DriftEvaluationTest, default_test_follows_evidentlys_choice) {
  using K = FeatureKind;
  EXPECT_EQ(select_default_test(K::kNumeric, 1000, 6), DriftTest::kKolmogorovSmirnov);
  EXPECT_EQ(select_default_test(K::kNumeric, 1000, 5), DriftTest::kChiSquare);
  EXPECT_EQ(select_default_test(K::kNumeric, 1000, 2), DriftTest::kZTest);
  EXPECT_EQ(select_default_test(K::kCategorical, 1000, 3), DriftTest::kChiSquare);
  EXPECT_EQ(select_default_test(K::kCategorical, 1000, 2), DriftTest::kZTest);
  EXPECT_EQ(select_default_test(K::kNumeric, 1001, 6), DriftTest::kWassersteinNormed);
  EXPECT_EQ(select_default_test(K::kNumeric, 1001, 5), DriftTest::kJensenShannon);
  EXPECT_EQ(select_default_test(K::kCategorical, 1001, 50), DriftTest::kJensenShannon);
  EXPECT_EQ(default_threshold(DriftTest::kKolmogorovSmirnov), 0.05);
  EXPECT_EQ(default_threshold(DriftTest::kWassersteinNormed), 0.1);
}

TEST(DriftEvaluationTest, degenerate_windows_give_defined_results_never_nan) {
  const FeatureProfile f = profile_feature({.name = "x"}, numeric_ref(3000));
  // An empty window and an all-missing window: unknown, not "no drift", with a reason.
  const FeatureDrift empty = evaluate_feature(f, FeatureWindow::for_feature(f), {}, true, true);
  EXPECT_EQ(empty.status, stats::StatStatus::kNotEnoughData);
  EXPECT_FALSE(empty.drift);
  const FeatureDrift missing =
      evaluate_feature(f, window_of(f, {kNaN, kInf, -kInf, kNaN}), {}, true, true);
  EXPECT_EQ(missing.status, stats::StatStatus::kNotEnoughData);
  EXPECT_EQ(missing.current_missing, 4u);
  EXPECT_EQ(missing.current_missing_share(), 1.0);
  EXPECT_NE(missing.reason.find("missing"), std::string::npos) << missing.reason;
  // Infinities and NaN among finite values are missing, and the rest is judged.
  auto cur = numeric_cur(700, 0.05);
  cur.push_back(kInf);
  cur.push_back(kNaN);
  const FeatureDrift mixed = evaluate_feature(f, window_of(f, cur), {}, true, true);
  EXPECT_EQ(mixed.current_missing, 2u);
  EXPECT_NEAR(mixed.score, 0.036737028641650044, kTol);
  // An all-missing reference column.
  const FeatureProfile none = profile_feature({.name = "y"}, std::vector<double>(20, kNaN));
  const FeatureDrift d = evaluate_feature(none, window_of(none, {1.0, 2.0}), {}, true, true);
  EXPECT_EQ(d.status, stats::StatStatus::kNotEnoughData);
  // A single-valued reference: a constant feature that moves is drift; one that stays is not.
  const FeatureProfile c = profile_feature({.name = "k"}, std::vector<double>(2000, 3.0));
  EXPECT_FALSE(evaluate_feature(c, window_of(c, std::vector<double>(100, 3.0))).drift);
  const FeatureDrift moved = evaluate_feature(c, window_of(c, std::vector<double>(100, 4.0)));
  EXPECT_TRUE(moved.drift);
  EXPECT_EQ(moved.unseen, 100u);
  // Nothing is NaN anywhere in a report of all of these.
  for (const FeatureDrift* r : {&empty, &missing, &mixed, &d, &moved}) {
    EXPECT_FALSE(std::isnan(r->score));
    for (const auto& s : r->statistics) {
      EXPECT_FALSE(std::isnan(s.value)) << to_string(s.test);
      EXPECT_FALSE(std::isnan(s.statistic)) << to_string(s.test);
    }
  }
}

ReferenceProfile three_feature_profile() {
  ReferenceProfileBuilder b({{.name = "a"}, {.name = "b"}, {.name = "c"}});
  const auto ref = numeric_ref(800);
  for (int i = 0; i < 800; ++i) {
    const double row[] = {ref[i], ref[(i + 100) % 800], ref[(i + 200) % 800]};
    b.add_row(row, ref[i] > 0 ? 1.0 : 0.0);
  }
  return b.build();
}

TEST(DriftEvaluationTest, dataset_drift_share_and_p_value_corrections) {
  const ReferenceProfile p = three_feature_profile();
  CurrentWindow w = CurrentWindow::for_profile(p);
  const auto shifted = numeric_cur(500, 0.3);  // KS p = 0.00297 (see above)
  const auto same = numeric_ref(800);
  for (int j = 0; j < 500; ++j) {
    const double row[] = {shifted[j], same[(j * 7) % 800], same[(j * 3) % 800]};
    w.add_row(p, row, shifted[j] > 0 ? 1.0 : 0.0);
  }
  const DriftReport none = evaluate_drift(p, w);
  ASSERT_EQ(none.features.size(), 3u);
  EXPECT_TRUE(none.features[0].drift);
  EXPECT_NEAR(none.features[0].score, 0.002971483748525317, kTol);
  const std::size_t drifted = none.features_drifted;
  EXPECT_EQ(none.drift_share, double(drifted) / 3.0);
  EXPECT_EQ(none.dataset_drift, none.drift_share >= 0.5);

  DriftOptions bonf;
  bonf.correction = DriftCorrection::kBonferroni;
  const DriftReport b = evaluate_drift(p, w, bonf);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(b.features[i].score, std::min(1.0, 3.0 * none.features[i].raw_score), 1e-15);
    EXPECT_EQ(b.features[i].raw_score, none.features[i].raw_score);
  }
  EXPECT_TRUE(b.features[0].drift) << "0.0089 < 0.05";
  EXPECT_EQ(b.correction, "bonferroni");

  DriftOptions one_of_three;
  one_of_three.drift_share = 1.0 / 3.0;
  EXPECT_TRUE(evaluate_drift(p, w, one_of_three).dataset_drift);

  DriftOptions bad;
  bad.per_feature["nope"] = {};
  EXPECT_THROW((void)evaluate_drift(p, w, bad), NotFound);
  bad = {};
  bad.drift_share = 0.0;
  EXPECT_THROW((void)evaluate_drift(p, w, bad), InvalidArgument);
  CurrentWindow wrong = w;
  wrong.features[1].counts.pop_back();
  EXPECT_THROW((void)evaluate_drift(p, wrong), InvalidArgument);
}

TEST(DriftEvaluationTest, seed_003_preset_psi_per_feature_and_prediction_kl) {
  const ReferenceProfile p = three_feature_profile();
  auto run = [&](double shift) {
    CurrentWindow w = CurrentWindow::for_profile(p);
    const auto ref = numeric_ref(800);
    for (int j = 0; j < 800; ++j) {
      const double row[] = {ref[j] + shift, ref[(j + 100) % 800], ref[(j + 200) % 800]};
      w.add_row(p, row, ref[j] + shift > 0 ? 1.0 : 0.0);
    }
    return evaluate_drift(p, w, DriftOptions::seed_003());
  };
  const DriftReport still = run(0.0);
  EXPECT_EQ(still.features[0].test, DriftTest::kPsi);
  EXPECT_EQ(still.features[0].threshold, 0.2);
  EXPECT_EQ(still.features_drifted, 0u);
  ASSERT_TRUE(still.has_prediction);
  EXPECT_EQ(still.prediction.test, DriftTest::kKlDivergence);
  EXPECT_FALSE(still.prediction.drift);
  const DriftReport moved = run(1.5);
  EXPECT_TRUE(moved.features[0].drift);
  EXPECT_GE(moved.features[0].score, 0.2);
  EXPECT_FALSE(moved.features[1].drift);
  EXPECT_TRUE(moved.prediction.drift) << "the positive share moves: KL >= 0.1";
}

TEST(DriftEvaluationTest, report_forms_carry_every_feature) {
  const ReferenceProfile p = three_feature_profile();
  CurrentWindow w = CurrentWindow::for_profile(p);
  const auto cur = numeric_cur(500, 0.3);
  for (int j = 0; j < 500; ++j) {
    const double row[] = {cur[j], j % 50 == 0 ? kNaN : cur[j], cur[j]};
    w.add_row(p, row, 1.0);
  }
  DriftReport r = evaluate_drift(p, w);
  r.model = "fraud-detection";
  r.version = 3;
  const std::string json = r.to_json();
  EXPECT_NE(json.find("\"name\":\"a\""), std::string::npos);
  EXPECT_NE(json.find("\"test\":\"ks\""), std::string::npos);
  EXPECT_NE(json.find("\"current_missing\":10"), std::string::npos);
  EXPECT_EQ(json.find("null,"), std::string::npos) << "no non-finite number: " << json;
  const std::string table = r.to_table();
  EXPECT_NE(table.find("DRIFT"), std::string::npos) << table;
  EXPECT_NE(table.find("dataset:"), std::string::npos);
  const std::string prom = r.to_prometheus();
  EXPECT_NE(prom.find("switchyard_drift_feature_score{model=\"fraud-detection\",version=\"3\","
                      "feature=\"a\",test=\"ks\"}"),
            std::string::npos)
      << prom;
  EXPECT_NE(prom.find("switchyard_drift_dataset_drifted{model=\"fraud-detection\",version=\"3\"} 1"),
            std::string::npos)
      << prom;
  EXPECT_NE(r.find("b"), nullptr);
  EXPECT_EQ(r.find("zz"), nullptr);
}

}  // namespace drift_evaluation_test
}  // namespace
}  // namespace switchyard
