// SPDX-License-Identifier: Apache-2.0
// Internal: the Boost.Math distribution calls the statistics library makes, guarded at the edges.
#pragma once

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/non_central_t.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstdint>
#include <limits>

namespace switchyard::stats::detail {

/// Boost.Math evaluates double-precision distributions in long double by default. Double is
/// accurate to a few ulps for these functions (the reference tests hold at 1e-12) and several times
/// faster, which matters on an experiment dashboard that re-tests every metric on every refresh.
using Policy = boost::math::policies::policy<boost::math::policies::promote_double<false>>;
using Normal = boost::math::normal_distribution<double, Policy>;
using StudentsT = boost::math::students_t_distribution<double, Policy>;
using ChiSquared = boost::math::chi_squared_distribution<double, Policy>;
using Binomial = boost::math::binomial_distribution<double, Policy>;
using NoncentralT = boost::math::non_central_t_distribution<double, Policy>;

// Boost.Math's default policy throws on domain errors; every call below is guarded so that it
// only sees arguments inside the domain, and the edges (infinite statistics, p of 0 or 1) are
// answered here without calling Boost.

/// Degrees of freedom above this are treated as infinite (the t distribution is then normal).
inline constexpr double kNormalDf = 1e300;

inline double normal_cdf(double x) {
  if (std::isinf(x)) return x > 0 ? 1.0 : 0.0;
  return boost::math::cdf(Normal(), x);
}
/// Upper tail 1 - Phi(x), accurate far into the tail.
inline double normal_sf(double x) {
  if (std::isinf(x)) return x > 0 ? 0.0 : 1.0;
  return boost::math::cdf(boost::math::complement(Normal(), x));
}
inline double normal_pdf(double x) {
  if (std::isinf(x)) return 0.0;
  return boost::math::pdf(Normal(), x);
}
/// Phi^-1(p) for p in [0, 1]; +-inf at the ends.
inline double normal_quantile(double p) {
  if (p <= 0.0) return -std::numeric_limits<double>::infinity();
  if (p >= 1.0) return std::numeric_limits<double>::infinity();
  return boost::math::quantile(Normal(), p);
}
/// The z with upper-tail probability q: Phi^-1(1 - q), computed without forming 1 - q.
inline double normal_isf(double q) {
  if (q <= 0.0) return std::numeric_limits<double>::infinity();
  if (q >= 1.0) return -std::numeric_limits<double>::infinity();
  return boost::math::quantile(boost::math::complement(Normal(), q));
}

inline double t_cdf(double t, double df) {
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  if (df > kNormalDf) return normal_cdf(t);
  return boost::math::cdf(StudentsT(df), t);
}
inline double t_sf(double t, double df) {
  if (std::isinf(t)) return t > 0 ? 0.0 : 1.0;
  if (df > kNormalDf) return normal_sf(t);
  return boost::math::cdf(boost::math::complement(StudentsT(df), t));
}
/// The t with upper-tail probability q (scipy's t.isf / t.ppf(1 - q)).
inline double t_isf(double q, double df) {
  if (q <= 0.0) return std::numeric_limits<double>::infinity();
  if (q >= 1.0) return -std::numeric_limits<double>::infinity();
  if (df > kNormalDf) return normal_isf(q);
  return boost::math::quantile(boost::math::complement(StudentsT(df), q));
}

/// Upper tail of the chi-square distribution with k degrees of freedom.
inline double chi2_sf(double x, double k) {
  if (!(x > 0.0)) return 1.0;
  if (std::isinf(x)) return 0.0;
  return boost::math::cdf(boost::math::complement(ChiSquared(k), x));
}

/// P(X <= k) for X ~ Binomial(n, p).
inline double binomial_cdf(std::uint64_t k, std::uint64_t n, double p) {
  if (k >= n) return 1.0;
  return boost::math::cdf(Binomial(static_cast<double>(n), p), static_cast<double>(k));
}

/// Upper tail of the noncentral t distribution.
inline double noncentral_t_sf(double t, double df, double delta) {
  if (std::isinf(t)) return t > 0 ? 0.0 : 1.0;
  return boost::math::cdf(boost::math::complement(NoncentralT(df, delta), t));
}
inline double noncentral_t_cdf(double t, double df, double delta) {
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  return boost::math::cdf(NoncentralT(df, delta), t);
}

}  // namespace switchyard::stats::detail
