// SPDX-License-Identifier: Apache-2.0
// ReferenceProfile: bins (numpy's rules), slots, categories, missing values, the binary format
// against damage, the profile kept with its version in the SQLite registry store, matrices.
#include <switchyard/drift/reference_profile.hpp>

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <switchyard/detail/sha256.hpp>
#include <switchyard/drift/reference_profile_matrix.hpp>
#include <switchyard/stats/drift_binning.hpp>

#include "support/registry_fixture.hpp"

namespace switchyard {
namespace {
namespace reference_profile_test {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The reference column of scripts/drift_reference.py (numeric_ref): libm's sin and cos give the
// same doubles in Python and C++.
std::vector<double> numeric_ref(int n) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(std::sin(0.7 * i + 0.3) * 1.5 + std::cos(0.13 * i));
  return v;
}

FeatureSpec numeric(const std::string& name) { return {.name = name}; }

TEST(ReferenceProfileTest, evidently_rule_gives_numpys_sturges_edges_and_counts) {
  // numpy 1.24.2: np.histogram_bin_edges(ref, 'sturges') has 14 edges from -2.4954223450645427;
  // np.histogram(ref, edges)[0] as below; np.std / np.mean (scripts/drift_reference.py).
  const auto ref = numeric_ref(3000);
  const FeatureProfile f = profile_feature(numeric("x"), ref);
  ASSERT_TRUE(f.histogram());
  ASSERT_EQ(f.edges.size(), 14u);
  EXPECT_EQ(f.edges.front(), -2.4954223450645427);
  EXPECT_EQ(f.edges[1], -2.111249317830882);
  const std::vector<std::uint64_t> numpy_counts = {157, 167, 194, 219, 292, 325, 286,
                                                   345, 273, 224, 186, 176, 156};
  ASSERT_EQ(f.slots(), 15u);
  EXPECT_EQ(f.counts.front(), 0u) << "nothing below the reference minimum";
  EXPECT_EQ(f.counts.back(), 0u) << "nothing above the reference maximum";
  EXPECT_EQ(std::vector<std::uint64_t>(f.counts.begin() + 1, f.counts.end() - 1), numpy_counts);
  EXPECT_EQ(f.count, 3000u);
  EXPECT_NEAR(f.std_dev, 1.2753426364638272, 1e-12);
  EXPECT_NEAR(f.mean, 0.0016924551369154864, 1e-12);
  EXPECT_EQ(f.quantiles.size(), 101u);
  EXPECT_EQ(f.quantiles.front(), f.min);
  EXPECT_EQ(f.quantiles.back(), f.max);
  EXPECT_TRUE(f.sample_is_complete()) << "3,000 values fit the default capacity of 5,000";
  EXPECT_TRUE(std::is_sorted(f.sample.begin(), f.sample.end()));
}

TEST(ReferenceProfileTest, quantile_rule_and_quantiles_follow_numpy_linear) {
  // numpy 1.24.2: np.quantile(numeric_ref(1000), [0, .25, .5, .75, 1]).
  const std::vector<double> numpy_q = {-2.4917895607280025, -0.9487310692672267,
                                       -0.009616708611012548, 0.9336327004063238,
                                       2.490873458773748};
  const auto ref = numeric_ref(1000);
  const FeatureProfile f =
      profile_feature({.name = "x", .binning = BinningRule::kQuantile, .bins = 4}, ref,
                      {.quantiles = 5});
  ASSERT_EQ(f.edges.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_NEAR(f.edges[i], numpy_q[i], 1e-15) << i;
    EXPECT_NEAR(f.quantiles[i], numpy_q[i], 1e-15) << i;
  }
  // Equal shares: each inner bin holds a quarter of the reference (ties aside).
  for (std::size_t s = 1; s <= 4; ++s) EXPECT_NEAR(double(f.counts[s]), 250.0, 1.0) << s;
}

TEST(ReferenceProfileTest, slot_of_follows_numpy_and_the_fast_path_agrees_with_the_edges) {
  const FeatureProfile f = profile_feature(numeric("x"), numeric_ref(3000));
  const std::size_t n = f.edges.size();
  EXPECT_EQ(f.slot_of(f.edges.front() - 1e-9), 0u);
  EXPECT_EQ(f.slot_of(f.edges.front()), 1u);
  EXPECT_EQ(f.slot_of(f.edges[1]), 2u) << "bins are [e_i, e_i+1)";
  EXPECT_EQ(f.slot_of(f.edges.back()), n - 1) << "numpy's last bin is closed";
  EXPECT_EQ(f.slot_of(std::nextafter(f.edges.back(), kInf)), n);
  EXPECT_EQ(f.slot_of(1e300), n);
  EXPECT_EQ(f.slot_of(-1e300), 0u);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(f.edges.front() - 1, f.edges.back() + 1);
  for (int i = 0; i < 20000; ++i) {
    // Half the probes sit exactly on an edge or one ulp either side.
    double x = u(rng);
    if (i % 2) {
      const double e = f.edges[static_cast<std::size_t>(i / 2) % n];
      x = i % 3 == 0 ? e : (i % 3 == 1 ? std::nextafter(e, -kInf) : std::nextafter(e, kInf));
    }
    std::size_t expect;
    if (x < f.edges.front()) expect = 0;
    else if (x > f.edges.back()) expect = n;
    else if (x == f.edges.back()) expect = n - 1;
    else expect = static_cast<std::size_t>(std::upper_bound(f.edges.begin(), f.edges.end(), x) -
                                           f.edges.begin());
    ASSERT_EQ(f.slot_of(x), expect) << x;
  }
}

TEST(ReferenceProfileTest, few_distinct_values_and_categories_use_the_value_layout) {
  // Evidently bins a numeric reference with at most 20 distinct values one bin per value.
  std::vector<double> codes;
  for (int i = 0; i < 100; ++i) codes.push_back(i % 4);
  const FeatureProfile f = profile_feature(numeric("x"), codes);
  ASSERT_FALSE(f.histogram());
  EXPECT_EQ(f.values, (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(f.counts, (std::vector<std::uint64_t>{25, 25, 25, 25, 0}));
  EXPECT_EQ(f.slot_of(2.0), 2u);
  EXPECT_EQ(f.slot_of(2.5), 4u);
  EXPECT_TRUE(f.unseen_slot(4)) << "every reference value was kept: the last slot is new values";

  // A categorical feature keeps its most frequent categories; the rest are "other".
  std::vector<double> cats;
  for (int c = 0; c < 10; ++c) {
    for (int k = 0; k <= c; ++k) cats.push_back(c);  // category c appears c + 1 times
  }
  const FeatureProfile g = profile_feature({.name = "c", .kind = FeatureKind::kCategorical}, cats,
                                           {.max_categories = 3});
  EXPECT_EQ(g.values, (std::vector<double>{7, 8, 9}));
  EXPECT_EQ(g.other, 28u);
  EXPECT_EQ(g.counts, (std::vector<std::uint64_t>{8, 9, 10, 28}));
  EXPECT_EQ(g.slot_of(1.0), 3u);
  EXPECT_FALSE(g.unseen_slot(3)) << "with capped categories the last slot is 'other'";
}

TEST(ReferenceProfileTest, missing_values_and_infinities_are_counted_apart) {
  std::vector<double> v = {1.0, kNaN, 2.0, kInf, -kInf, 3.0};
  const FeatureProfile f = profile_feature(numeric("x"), v);
  EXPECT_EQ(f.count, 3u);
  EXPECT_EQ(f.missing, 3u);
  EXPECT_DOUBLE_EQ(f.mean, 2.0);
  EXPECT_EQ(f.min, 1.0);
  EXPECT_EQ(f.max, 3.0);

  const FeatureProfile all_missing = profile_feature(numeric("y"), std::vector<double>{kNaN, kInf});
  EXPECT_EQ(all_missing.count, 0u);
  EXPECT_EQ(all_missing.missing, 2u);
  EXPECT_EQ(all_missing.slots(), 1u) << "no value: one slot, for anything the window brings";
  EXPECT_EQ(all_missing.mean, 0.0);
  EXPECT_TRUE(all_missing.sample.empty());

  const FeatureProfile single = profile_feature(numeric("z"), std::vector<double>(50, 4.0));
  EXPECT_EQ(single.values, std::vector<double>{4.0});
  EXPECT_EQ(single.std_dev, 0.0);
}

TEST(ReferenceProfileTest, invalid_specs_and_rows_throw_naming_the_feature) {
  EXPECT_THROW(ReferenceProfileBuilder({numeric("a"), numeric("a")}), InvalidArgument);
  EXPECT_THROW(ReferenceProfileBuilder({numeric("")}), InvalidArgument);
  try {
    ReferenceProfileBuilder({{.name = "age", .binning = BinningRule::kFixed, .edges = {1, 1}}});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'age'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ReferenceProfileBuilder({{.name = "q", .binning = BinningRule::kQuantile, .bins = 0}}),
               InvalidArgument);
  EXPECT_THROW(profile_feature({.name = "b", .kind = FeatureKind::kBinary},
                               std::vector<double>{0, 1, 2}),
               InvalidArgument);
  ReferenceProfileBuilder b({numeric("a"), numeric("b")});
  const double row[] = {1.0};
  EXPECT_THROW(b.add_row(row), InvalidArgument);
}

ReferenceProfile sample_profile() {
  ReferenceProfileBuilder b({numeric("age"),
                             {.name = "country", .kind = FeatureKind::kCategorical},
                             {.name = "member", .kind = FeatureKind::kBinary},
                             {.name = "spend", .binning = BinningRule::kFixed, .edges = {0, 10, 100}}},
                            {.sample_capacity = 64});
  const auto age = numeric_ref(300);
  for (int i = 0; i < 300; ++i) {
    const double row[] = {age[i], double(i % 7), double(i % 3 == 0),
                          i % 11 == 0 ? kNaN : double(i % 150)};
    b.add_row(row, 0.01 * i);
  }
  return b.build();
}

TEST(ReferenceProfileTest, bytes_round_trip_exactly) {
  const ReferenceProfile p = sample_profile();
  ASSERT_TRUE(p.prediction.has_value());
  EXPECT_EQ(p.rows, 300u);
  EXPECT_FALSE(p.features[0].sample_is_complete()) << "capacity 64 of 300 values";
  EXPECT_EQ(p.features[0].sample.size(), 64u);
  const std::string bytes = p.to_bytes();
  const ReferenceProfile back = ReferenceProfile::from_bytes(bytes);
  EXPECT_EQ(back, p);
  EXPECT_EQ(back.to_bytes(), bytes);
  EXPECT_EQ(back.index_of("member"), 2u);
  EXPECT_THROW((void)back.index_of("nope"), NotFound);
  // The fast slot path is rebuilt on read.
  for (double x : {-3.0, 0.0, 0.5, 2.4, 9.0}) {
    EXPECT_EQ(back.features[0].slot_of(x), p.features[0].slot_of(x));
  }
}

// Replaces the trailer with the SHA-256 of the (possibly damaged) body, as a hostile writer can.
std::string resign(std::string bytes) {
  bytes.resize(bytes.size() - 32);
  return bytes + detail::sha256_raw(bytes);
}

TEST(ReferenceProfileTest, damaged_bytes_give_typed_errors_never_a_crash) {
  const std::string bytes = sample_profile().to_bytes();
  // Every truncation.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    try {
      (void)ReferenceProfile::from_bytes(std::string_view(bytes).substr(0, n));
      ADD_FAILURE() << "a truncation to " << n << " bytes was accepted";
    } catch (const LoadError&) {
    } catch (const IntegrityError&) {
    }
  }
  // A flipped byte is caught by the checksum.
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  EXPECT_THROW((void)ReferenceProfile::from_bytes(flipped), IntegrityError);
  // Re-signed damage anywhere past the magic is refused by the bounds checks or reads as a
  // consistent profile; it never reads out of range or allocates what the bytes cannot hold.
  std::size_t refused = 0;
  for (std::size_t i = 8; i + 32 < bytes.size(); ++i) {
    for (unsigned char x : {0x01, 0xff}) {
      std::string d = bytes;
      d[i] = static_cast<char>(static_cast<unsigned char>(d[i]) ^ x);
      try {
        const ReferenceProfile p = ReferenceProfile::from_bytes(resign(d));
        for (const auto& f : p.features) ASSERT_EQ(f.counts.size(), f.slots());
      } catch (const LoadError&) {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_THROW((void)ReferenceProfile::from_bytes("not a profile at all"), LoadError);
}

TEST(ReferenceProfileTest, a_newer_format_version_is_refused_by_name) {
  std::string bytes = sample_profile().to_bytes();
  // magic (8), byte-order flag (1), name length (8) + name, then the u32 version.
  const std::size_t at = 8 + 1 + 8 + kReferenceProfileFormat.size();
  bytes[at] = 2;
  try {
    (void)ReferenceProfile::from_bytes(resign(bytes));
    FAIL();
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("format version 2"), std::string::npos) << e.what();
  }
}

TEST(ReferenceProfileTest, profile_travels_with_its_version_through_the_sqlite_store) {
  testing::RegistryFixture f;
  const ReferenceProfile p = sample_profile();
  const ArtifactRef ref = put_reference_profile(*f.store, p);
  EXPECT_TRUE(ref.in_store());
  VersionMetadata m;
  m.owner = "test";
  attach_reference_profile(m.tags, ref);
  const auto v =
      f.registry->register_version("fraud-detection", testing::logistic_artifact(1), m)->version;
  // A second registry instance on the same file, as another process would open it.
  auto store2 = testing::open_store(f.db_path());
  ArtifactStore artifacts2(f.artifact_root());
  ModelRegistry registry2({.store = store2.get(), .artifacts = &artifacts2});
  EXPECT_EQ(load_reference_profile(registry2, "fraud-detection", v), p);
  // And after a restart of the first.
  f.reopen();
  EXPECT_EQ(load_reference_profile(*f.registry, "fraud-detection", v), p);

  // A version without a profile, and a malformed reference, are typed errors.
  const auto bare = f.add("fraud-detection", 0.9, 2);
  EXPECT_THROW((void)load_reference_profile(*f.registry, "fraud-detection", bare), NotFound);
  EXPECT_THROW(attach_reference_profile(m.tags, ArtifactRef{.uri = "sha256/ab/cd"}),
               InvalidArgument);
}

TEST(ReferenceProfileTest, a_matrix_gives_the_profile_the_builder_gives) {
  const auto age = numeric_ref(500);
  Eigen::MatrixXd m(500, 2);
  std::vector<double> predictions(500);
  ReferenceProfileBuilder b({numeric("age"), {.name = "c", .kind = FeatureKind::kCategorical}});
  for (int i = 0; i < 500; ++i) {
    m(i, 0) = age[i];
    m(i, 1) = i % 5;
    predictions[i] = 0.002 * i;
    const double row[] = {age[i], double(i % 5)};
    b.add_row(row, predictions[i]);
  }
  const auto specs = std::vector<FeatureSpec>{numeric("age"), {.name = "c", .kind = FeatureKind::kCategorical}};
  EXPECT_EQ(profile_from_eigen(m, specs, predictions), b.build());
  EXPECT_THROW((void)profile_from_eigen(m, {numeric("age")}), InvalidArgument);
}

}  // namespace reference_profile_test
}  // namespace
}  // namespace switchyard
