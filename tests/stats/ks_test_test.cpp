// SPDX-License-Identifier: Apache-2.0
// Two-sample Kolmogorov-Smirnov against scipy 1.10's ks_2samp, and the distributions behind it.
#include <gtest/gtest.h>

#include <limits>
#include <switchyard/stats/ks_test.hpp>
#include <vector>

#include "stats/reference_values.hpp"
#include "stats/stats_test_util.hpp"

namespace switchyard::stats {
namespace {

// Reference: scipy 1.10.1 ks_2samp(a, b, alternative, method); statistic exact to 1e-15, exact
// p-values 1e-12 relative, asymptotic ones 1e-10 (they rest on the finite-n Kolmogorov CDF).
// a is the treatment and b the control, so the call is ks_two_sample_test(control = b,
// treatment = a), and p_value_less / p_value_greater are scipy's 'less' / 'greater'.
TEST(KsTest, matches_scipy_ks_2samp) {
  for (const auto& c : reference::kKsCases) {
    SCOPED_TRACE(c.name);
    const KsResult r =
        ks_two_sample_test(c.b, c.a, c.exact ? KsMethod::kExact : KsMethod::kAsymptotic);
    ASSERT_TRUE(r.ok()) << r.reason;
    const double tol = c.exact ? 1e-12 : 1e-10;
    EXPECT_REL(r.statistic, c.d, 1e-15);
    EXPECT_REL(r.d_plus, c.d_plus, 1e-15);
    EXPECT_REL(r.d_minus, c.d_minus, 1e-15);
    EXPECT_REL(r.p_value, c.p, tol);
    EXPECT_REL(r.p_value_less, c.p_less, tol);
    EXPECT_REL(r.p_value_greater, c.p_greater, tol);
  }
}

// Reference: scipy 1.10.1 kstwo.sf(x, n) over every region of Simard & L'Ecuyer's method choice
// (Ruben-Gambino, Durbin/MTW, Pomeranz, Pelz-Good, Smirnov); 1e-10 relative, 1e-9 for Pelz-Good.
TEST(KsTest, kolmogorov_distribution_matches_scipy_kstwo) {
  for (const auto& c : reference::kKolmogorovCases) {
    SCOPED_TRACE("n=" + std::to_string(c.n) + " x=" + std::to_string(c.x));
    EXPECT_CLOSE(detail::kolmogorov_sf(c.n, c.x), c.sf, 1e-9, 1e-15);
  }
}

// Reference: scipy 1.10.1 scipy.special.smirnov(n, x); 1e-12 relative.
TEST(KsTest, smirnov_distribution_matches_scipy) {
  for (const auto& c : reference::kSmirnovCases) {
    SCOPED_TRACE("n=" + std::to_string(c.n) + " x=" + std::to_string(c.x));
    EXPECT_CLOSE(detail::smirnov_sf(c.n, c.x), c.sf, 1e-12, 1e-16);
  }
}

// The one-sided names are scipy's, with scipy's meaning: 'less' is "the treatment's CDF lies below
// the control's", which is what a treatment with larger values shows. Reference: scipy 1.10.1
// ks_2samp([11, 12, 13, 14, 15.5], [1, 2, 3, 4, 5, 6], alternative, method='exact'):
// two-sided 0.004329004329004329, 'less' 0.0021645021645021645 (D = 1), 'greater' 1.0 (D = 0);
// 1e-12 relative.
TEST(KsTest, one_sided_names_mean_what_scipy_means) {
  const std::vector<double> control{1, 2, 3, 4, 5, 6}, treatment{11, 12, 13, 14, 15.5};
  const KsResult r = ks_two_sample_test(control, treatment, KsMethod::kExact);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_REL(r.p_value, 0.004329004329004329, 1e-12);
  EXPECT_REL(r.p_value_less, 0.0021645021645021645, 1e-12);
  EXPECT_EQ(r.p_value_greater, 1.0);
  EXPECT_EQ(r.p_value_for(Alternative::kLess), r.p_value_less);
  EXPECT_EQ(r.d_minus, 1.0);  // max(F_control - F_treatment): scipy's 'less' statistic
  EXPECT_EQ(r.d_plus, 0.0);
}

TEST(KsTest, identical_samples_give_d_zero_and_p_one) {
  const std::vector<double> a{1, 2, 3, 4, 5};
  const KsResult r = ks_two_sample_test(a, a);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.statistic, 0.0);
  EXPECT_EQ(r.p_value, 1.0);
}

TEST(KsTest, degenerate_inputs) {
  const std::vector<double> a{1, 2, 3};
  EXPECT_EQ(ks_two_sample_test(std::vector<double>{}, a).status, StatStatus::kNotEnoughData);
  EXPECT_EQ(ks_two_sample_test(a, std::vector<double>{1, std::numeric_limits<double>::quiet_NaN()})
                .status,
            StatStatus::kInvalidInput);
}

}  // namespace
}  // namespace switchyard::stats
