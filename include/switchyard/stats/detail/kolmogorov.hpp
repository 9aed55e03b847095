// SPDX-License-Identifier: Apache-2.0
// Internal: distributions of Kolmogorov-Smirnov statistics (one- and two-sample, exact and
// finite-n).
#pragma once

#include <algorithm>
#include <boost/math/special_functions/binomial.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <optional>
#include <vector>

namespace switchyard::stats::detail {

// ---------------------------------------------------------------------------------------------
// One-sample, one-sided: P(D_n^+ >= x), the Smirnov distribution.
// Birnbaum & Tingey (1951): P = x * sum_{v=0}^{floor(n(1-x))} C(n,v) (1-x-v/n)^(n-v) (x+v/n)^(v-1),
// every term positive, summed in long double from logarithms. The special cases and the large-n
// approximation follow scipy.special.smirnov (scipy 1.10), so results agree to ~1e-14.

inline double smirnov_sf(std::int64_t n, double x) {
  if (!(x > 0.0)) return 1.0;
  if (x >= 1.0) return 0.0;
  if (n == 1) return 1.0 - x;
  const double nd = static_cast<double>(n);
  // floor(n x) and its remainder, with n x formed exactly (product and rounding error).
  const double p = nd * x;
  const double perr = std::fma(nd, x, -p);
  long double nx = static_cast<long double>(p) + static_cast<long double>(perr);
  long double fl = std::floor(nx);
  long double alpha = nx - fl;
  std::int64_t nxfl = static_cast<std::int64_t>(fl);
  if (alpha >= 1.0L) {
    ++nxfl;
    alpha = 0.0L;
  }
  if (nxfl == 0 || (nxfl == 1 && alpha == 0.0L)) {
    const long double cdf =
        static_cast<long double>(x) * std::pow(1.0L + x, static_cast<long double>(n - 1));
    return std::clamp(static_cast<double>(1.0L - cdf), 0.0, 1.0);
  }
  constexpr double kMinLog = -7.08396418532264106224e2;  // cephes MINLOG
  if (-2.0 * nd * x * x < kMinLog) return 0.0;
  if (nxfl >= n - 1)
    return std::clamp(static_cast<double>(std::pow(1.0L - x, static_cast<long double>(n))), 0.0,
                      1.0);
  if (n > 1000000) {
    const double logp = -std::pow(6.0 * nd * x + 1.0, 2) / 18.0 / nd;
    // Smirnov's approximation p ~ exp(-(6nx + 1)^2 / 18n), evaluated as scipy does.
    return logp < -std::numbers::ln2 ? std::exp(logp) : 1.0 - (-std::expm1(logp));
  }
  const std::int64_t last = n - nxfl - 1;
  const long double lx = x;
  const long double ln = static_cast<long double>(n);
  // log C(n, v), advanced by log((n - v) / (v + 1)) per term: one logarithm where three
  // log-gamma functions were (they were most of the time); the rounding that accumulates over
  // the at most n terms stays far below the double result's precision.
  long double log_binomial = 0.0L;
  long double sum = 0.0L, comp = 0.0L, prev = 0.0L;
  for (std::int64_t v = 0; v <= last; ++v) {
    const long double vn = static_cast<long double>(v);
    // 1 - x - v/n = (n - v - n x) / n, with n x in extended precision.
    const long double a = ((static_cast<long double>(n - v) - nx)) / ln;
    const long double b = lx + vn / ln;
    if (!(a > 0.0L)) break;
    // Up to n = 10,000 the logarithms in double keep each term within 1e-12 of its long
    // double value (and take a third of the time); beyond, the multipliers grow too large.
    const long double log_a =
        n <= 10000 ? std::log(static_cast<double>(a)) : std::log(a);
    const long double log_b =
        n <= 10000 ? std::log(static_cast<double>(b)) : std::log(b);
    const long double lterm =
        log_binomial + static_cast<long double>(n - v) * log_a + (vn - 1.0L) * log_b;
    log_binomial += std::log(static_cast<long double>(n - v) / (vn + 1.0L));
    const long double term = std::exp(lterm);
    // Kahan summation.
    const long double y = term - comp;
    const long double t = sum + y;
    comp = (t - sum) - y;
    sum = t;
    if (v > 2 && term < prev && term < sum * 1e-24L) break;
    prev = term;
  }
  return std::clamp(static_cast<double>(lx * sum), 0.0, 1.0);
}

// ---------------------------------------------------------------------------------------------
// One-sample, two-sided: P(D_n >= x) for finite n, by the method Simard & L'Ecuyer (2011) choose
// for each (n, x) region, with the region boundaries scipy 1.10's kstwo uses: Ruben-Gambino
// closed forms at the ends, Durbin's matrix (Marsaglia-Tsang-Wang form), Pomeranz's recursion,
// the Pelz-Good asymptotic series, and 2 * Smirnov in the upper tail.

inline constexpr int kScaleExp = 128;

/// Marsaglia, Tsang & Wang (2003): P(D_n < d) from the k-th diagonal entry of H^n.
inline double kolmogorov_cdf_mtw(std::int64_t n, double d) {
  if (d >= 1.0) return 1.0;
  const double nd = static_cast<double>(n) * d;
  if (nd <= 0.5) return 0.0;
  const int k = static_cast<int>(std::ceil(nd));
  const double h = k - nd;
  if (k < 1) return 0.0;
  const int m = 2 * k - 1;
  const std::size_t msz = static_cast<std::size_t>(std::max(m, 1));
  std::vector<double> H(msz * msz, 0.0);
  auto at = [m](std::vector<double>& M, int i, int j) -> double& {
    return M[static_cast<std::size_t>(i * m + j)];
  };
  // inv_fact[j] = 1 / j!
  std::vector<double> inv_fact(msz + 1);
  inv_fact[0] = 1.0;
  for (int j = 1; j <= m; ++j)
    inv_fact[static_cast<std::size_t>(j)] = inv_fact[static_cast<std::size_t>(j - 1)] / j;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < m; ++j) {
      if (i - j + 1 >= 0) at(H, i, j) = inv_fact[static_cast<std::size_t>(i - j + 1)];
    }
  }
  // First column and last row lose the parts outside the band.
  std::vector<double> v(msz);
  for (int j = 0; j < m; ++j) {
    v[static_cast<std::size_t>(j)] =
        (1.0 - std::pow(h, j + 1)) * inv_fact[static_cast<std::size_t>(j + 1)];
  }
  const double tt = std::pow(std::max(2.0 * h - 1.0, 0.0), m) - 2.0 * std::pow(h, m);
  v[static_cast<std::size_t>(m - 1)] = (1.0 + tt) * inv_fact[static_cast<std::size_t>(m)];
  for (int i = 0; i < m; ++i) at(H, i, 0) = v[static_cast<std::size_t>(i)];
  for (int j = 0; j < m; ++j) at(H, m - 1, j) = v[static_cast<std::size_t>(m - 1 - j)];

  auto multiply = [m, msz](const std::vector<double>& A, const std::vector<double>& B) {
    std::vector<double> C(msz * msz, 0.0);
    for (int i = 0; i < m; ++i) {
      for (int l = 0; l < m; ++l) {
        const double a = A[static_cast<std::size_t>(i * m + l)];
        if (a == 0.0) continue;
        for (int j = 0; j < m; ++j) {
          C[static_cast<std::size_t>(i * m + j)] += a * B[static_cast<std::size_t>(l * m + j)];
        }
      }
    }
    return C;
  };
  std::vector<double> P(msz * msz, 0.0);
  for (int i = 0; i < m; ++i) at(P, i, i) = 1.0;
  long long p_exp = 0, h_exp = 0;
  const double big = std::ldexp(1.0, kScaleExp);
  for (std::int64_t e = n; e > 0; e /= 2) {
    if (e % 2) {
      P = multiply(P, H);
      p_exp += h_exp;
    }
    H = multiply(H, H);
    h_exp *= 2;
    if (std::fabs(at(H, k - 1, k - 1)) > big) {
      for (double& x : H) x /= big;
      h_exp += kScaleExp;
    }
  }
  double p = at(P, k - 1, k - 1);
  const double small = std::ldexp(1.0, -kScaleExp);
  for (std::int64_t i = 1; i <= n; ++i) {
    p = static_cast<double>(i) * p / static_cast<double>(n);
    if (std::fabs(p) < small) {
      p *= big;
      p_exp -= kScaleExp;
    }
  }
  if (p_exp != 0) p = std::ldexp(p, static_cast<int>(p_exp));
  return std::clamp(p, 0.0, 1.0);
}

/// Pomeranz (1974): P(D_n < x) by a recursion of Poisson-weighted convolutions.
inline double kolmogorov_cdf_pomeranz(std::int64_t n, double x) {
  const double t = static_cast<double>(n) * x;
  const std::int64_t ll = static_cast<std::int64_t>(std::floor(t));
  const double f = t - static_cast<double>(ll);
  const double g = std::min(f, 1.0 - f);
  const std::int64_t ceilf = f > 0 ? 1 : 0;
  const std::int64_t roundf = f > 0.5 ? 1 : 0;
  const std::size_t npwrs = static_cast<std::size_t>(2 * (std::max<std::int64_t>(ll, 0) + 1));
  const double nd = static_cast<double>(n);
  std::vector<double> gpow(npwrs), twogpow(npwrs), onem2gpow(npwrs);
  gpow[0] = twogpow[0] = onem2gpow[0] = 1.0;
  for (std::size_t m = 1; m < npwrs; ++m) {
    const double md = static_cast<double>(m);
    gpow[m] = gpow[m - 1] * (g / nd) / md;
    twogpow[m] = twogpow[m - 1] * (2 * g / nd) / md;
    onem2gpow[m] = onem2gpow[m - 1] * ((1 - 2 * g) / nd) / md;
  }
  auto bounds = [&](std::int64_t i) {
    std::int64_t j1, j2;
    if (i == 0) {
      j1 = -ll - ceilf - 1;
      j2 = ll + ceilf - 1;
    } else {
      const std::int64_t half = (i + 1) / 2, odd_i = ((i + 1) % 2 == 0);
      if (odd_i) {
        if (half == n + 1) {
          j1 = n - ll - ceilf - 1;
          j2 = n + ll + ceilf - 1;
        } else {
          j1 = half - 1 - ll - roundf - 1;
          j2 = half + ll - 1 + ceilf - 1;
        }
      } else {
        j1 = half - 1 - ll - 1;
        j2 = half + ll + roundf - 1;
      }
    }
    return std::pair<std::int64_t, std::int64_t>{std::max<std::int64_t>(j1 + 2, 0),
                                                 std::min(j2, n)};
  };
  std::vector<double> V0(npwrs, 0.0), V1(npwrs, 0.0);
  V1[0] = 1.0;
  std::int64_t V0s = 0, V1s = 0;
  auto [j1, j2] = bounds(0);
  long long expnt = 0;
  const double big = std::ldexp(1.0, kScaleExp), small = std::ldexp(1.0, -kScaleExp);
  for (std::int64_t i = 1; i < 2 * n + 2; ++i) {
    const std::int64_t k1 = j1;
    std::swap(V0, V1);
    std::swap(V0s, V1s);
    std::fill(V1.begin(), V1.end(), 0.0);
    std::tie(j1, j2) = bounds(i);
    const std::vector<double>& pw =
        (i == 1 || i == 2 * n + 1) ? gpow : (i % 2 ? twogpow : onem2gpow);
    const std::int64_t len = j2 - k1 + 1;
    if (len > 0) {
      // Full convolution of V0[k1 - V0s .. +len) with pw[0 .. len), entries [j1 - k1, j2 - k1].
      const std::int64_t base = k1 - V0s;
      auto v0 = [&](std::int64_t idx) {
        const std::int64_t at = base + idx;
        return (idx < len && at >= 0 && at < static_cast<std::int64_t>(npwrs))
                   ? V0[static_cast<std::size_t>(at)]
                   : 0.0;
      };
      auto pwv = [&](std::int64_t idx) {
        return (idx >= 0 && idx < len && idx < static_cast<std::int64_t>(npwrs))
                   ? pw[static_cast<std::size_t>(idx)]
                   : 0.0;
      };
      const std::int64_t start = j1 - k1, count = j2 - j1 + 1;
      double vmax = 0.0;
      for (std::int64_t c = 0; c < count; ++c) {
        const std::int64_t s = start + c;
        double acc = 0.0;
        for (std::int64_t q = 0; q <= s; ++q) acc += v0(q) * pwv(s - q);
        V1[static_cast<std::size_t>(c)] = acc;
        vmax = std::max(vmax, acc);
      }
      if (vmax > 0.0 && vmax < small) {
        for (double& e : V1) e *= big;
        expnt -= kScaleExp;
      }
      V1s = V0s + j1 - k1;
    }
  }
  double ans = V1[static_cast<std::size_t>(n - V1s)];
  for (std::int64_t m = 1; m <= n; ++m) {
    if (std::fabs(ans) > big) {
      ans *= small;
      expnt += kScaleExp;
    }
    ans *= static_cast<double>(m);
  }
  if (expnt != 0) ans = std::ldexp(ans, static_cast<int>(expnt));
  return std::clamp(ans, 0.0, 1.0);
}

/// Pelz & Good (1976): asymptotic series for P(D_n < x), four terms in 1/sqrt(n).
inline double kolmogorov_cdf_pelz_good(std::int64_t n, double x) {
  using std::numbers::pi;
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double z = std::sqrt(static_cast<double>(n)) * x;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const double pi2 = pi * pi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double qlog = -pi2 / 8.0 / z2;
  if (qlog < -708.0) return 0.0;
  double q = std::exp(qlog);
  const double k1a = -z2, k1b = pi2 / 4.0;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4.0,
               k2c = pi4 * (1 - 2 * z2) / 16.0;
  const double k3d = pi6 * (5 - 30 * z2) / 64.0, k3c = pi4 * (-60 * z2 + 212 * z4) / 16.0;
  const double k3b = pi2 * (135 * z4 - 96 * z6) / 4.0, k3a = -30 * z6 - 90 * std::pow(z, 8);
  double K[4] = {0, 0, 0, 0};
  const int maxk = static_cast<int>(std::ceil(16.0 * z / pi));
  // Sum over odd m = 2k - 1 of c_i(m) q^(m^2), Horner in q^8k.
  for (int k = maxk; k >= 1; --k) {
    const double m = 2.0 * k - 1.0;
    const double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double qp = std::pow(q, 8.0 * k);
    const double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                         k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) K[i] = K[i] * qp + c[i];
  }
  const double sqrt2pi = std::sqrt(2.0 * pi);
  const double div[4] = {z, 6.0 * z4, 72.0 * std::pow(z, 7), 6480.0 * std::pow(z, 10)};
  for (int i = 0; i < 4; ++i) K[i] = K[i] * q * sqrt2pi / div[i];
  // The remaining sums over all integers k.
  q = std::exp(-pi2 / 2.0 / z2);
  double s2 = 0.0, s3 = 0.0;
  const double sqrt3z = std::sqrt(3.0) * z;
  for (int k = maxk; k >= 1; --k) {
    const double kk = static_cast<double>(k) * k;
    const double qk = std::pow(q, kk);
    const double kpi = pi * k;
    s2 += kk * qk;
    s3 += (sqrt3z + kpi) * (sqrt3z - kpi) * kk * qk;
  }
  K[2] += s2 * pi2 * sqrt2pi / (-36.0 * z3);
  K[3] += s3 * pi2 * sqrt2pi / (216.0 * z6);
  double sum = 0.0;
  for (int i = 0; i < 4; ++i) sum += K[i] / std::pow(static_cast<double>(n), i / 2.0);
  return sum;
}

/// n! / n^n in log form, by Stirling's series (for the Ruben-Gambino lower tail at large n).
inline double log_factorial_over_power(std::int64_t n) {
  const double nd = static_cast<double>(n);
  const double coeffs[8] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                            -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                            -5.952380952380952381e-4,  7.9365079365079365079e-4,
                            -2.7777777777777777778e-3, 8.3333333333333333333e-2};
  const double rn = 1.0 / nd, r2 = rn / nd;
  double poly = 0.0;
  for (double c : coeffs) poly = poly * r2 + c;
  return std::log(nd) / 2.0 - nd + std::log(2.0 * std::numbers::pi) / 2.0 + rn * poly;
}

/// P(D_n >= x): the survival function of the two-sided one-sample KS statistic (scipy kstwo.sf).
inline double kolmogorov_sf(std::int64_t n, double x) {
  if (x >= 1.0) return 0.0;
  if (x <= 0.0) return 1.0;
  const double nd = static_cast<double>(n);
  const double t = nd * x;
  auto from_cdf = [](double cdf) { return std::clamp(1.0 - cdf, 0.0, 1.0); };
  if (t <= 1.0) {
    if (t <= 0.5) return 1.0;
    double prob;
    if (n <= 140) {
      prob = 1.0;
      for (std::int64_t i = 1; i <= n; ++i)
        prob *= static_cast<double>(i) * (1.0 / nd) * (2 * t - 1);
    } else {
      prob = std::exp(log_factorial_over_power(n) + nd * std::log(2 * t - 1));
    }
    return from_cdf(prob);
  }
  if (t >= nd - 1) return std::clamp(2.0 * std::pow(1.0 - x, nd), 0.0, 1.0);
  if (x >= 0.5) return std::clamp(2.0 * smirnov_sf(n, x), 0.0, 1.0);
  const double nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693) return from_cdf(kolmogorov_cdf_mtw(n, x));
    if (nx2 <= 4.0) return from_cdf(kolmogorov_cdf_pomeranz(n, x));
    return std::clamp(2.0 * smirnov_sf(n, x), 0.0, 1.0);
  }
  if (nx2 >= 370.0) return 0.0;
  if (nx2 >= 2.2) return std::clamp(2.0 * smirnov_sf(n, x), 0.0, 1.0);
  double cdf;
  if (n <= 100000 && nd * std::pow(x, 1.5) <= 1.4) {
    cdf = kolmogorov_cdf_mtw(n, x);
  } else {
    cdf = kolmogorov_cdf_pelz_good(n, x);
  }
  return from_cdf(std::clamp(cdf, 0.0, 1.0));
}

// ---------------------------------------------------------------------------------------------
// Two-sample exact null distributions (Hodges 1958 lattice paths).

/// P(D_{n,n} >= h / n): 2 * alternating sum of binomial ratios, in Horner form.
inline double ks2_prob_outside_square(std::int64_t n, std::int64_t h) {
  double P = 0.0;
  for (std::int64_t k = n / h; k >= 0; --k) {
    double p1 = 1.0;
    for (std::int64_t j = 0; j < h; ++j) {
      p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
    }
    P = p1 * (1.0 - P);
  }
  return 2.0 * P;
}

/// 1 - P(all lattice paths from (0,0) to (m,n) stay strictly inside |x/m - y/n| < h/lcm): the
/// two-sided two-sample p-value, by the recursion for 1 - p (Viehmann 2021) column by column.
inline double ks2_outer_prob_inside(std::int64_t m, std::int64_t n, std::int64_t g,
                                    std::int64_t h) {
  if (m < n) std::swap(m, n);
  const std::int64_t mg = m / g, ng = n / g;
  std::int64_t minj = 0;
  std::int64_t maxj = std::min<std::int64_t>(
      static_cast<std::int64_t>(std::ceil(static_cast<double>(h) / static_cast<double>(mg))),
      n + 1);
  std::int64_t curlen = maxj - minj;
  const std::int64_t lenA = std::min<std::int64_t>(2 * maxj + 2, n + 1);
  std::vector<double> A(static_cast<std::size_t>(lenA), 1.0);
  for (std::int64_t j = minj; j < maxj; ++j) A[static_cast<std::size_t>(j)] = 0.0;
  for (std::int64_t i = 1; i <= m; ++i) {
    const std::int64_t lastminj = minj, lastlen = curlen;
    minj = std::max<std::int64_t>(static_cast<std::int64_t>(std::floor(
                                      static_cast<double>(ng * i - h) / static_cast<double>(mg))) +
                                      1,
                                  0);
    minj = std::min(minj, n);
    maxj = std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(
                                      static_cast<double>(ng * i + h) / static_cast<double>(mg))),
                                  n + 1);
    if (maxj <= minj) return 1.0;
    double val = minj == 0 ? 0.0 : 1.0;
    for (std::int64_t jj = 0; jj < maxj - minj; ++jj) {
      const std::int64_t j = jj + minj;
      val = (A[static_cast<std::size_t>(jj + minj - lastminj)] * static_cast<double>(i) +
             val * static_cast<double>(j)) /
            static_cast<double>(i + j);
      A[static_cast<std::size_t>(jj)] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) {
      for (std::int64_t q = maxj - minj; q < maxj - minj + (lastlen - curlen) && q < lenA; ++q) {
        A[static_cast<std::size_t>(q)] = 1.0;
      }
    }
  }
  return A[static_cast<std::size_t>(maxj - minj - 1)];
}

/// C(n, k) in double; +infinity when it exceeds the double range (never throws).
inline double binomial_coefficient(std::int64_t n, std::int64_t k) {
  if (k < 0 || k > n) return 0.0;
  if (n > 1020) {  // beyond C(1020, 510) ~ 3e305 the result may overflow: go through logs
    const double l = std::lgamma(static_cast<double>(n) + 1) -
                     std::lgamma(static_cast<double>(k) + 1) -
                     std::lgamma(static_cast<double>(n - k) + 1);
    return l > 709.0 ? std::numeric_limits<double>::infinity() : std::exp(l);
  }
  using NoThrow = boost::math::policies::policy<
      boost::math::policies::overflow_error<boost::math::policies::ignore_error>>;
  return boost::math::binomial_coefficient<double>(static_cast<unsigned>(n),
                                                   static_cast<unsigned>(k), NoThrow());
}

/// Number of lattice paths from (0,0) to (m,n) that reach the line m y <= n x - h g (one-sided
/// two-sample KS); may overflow to infinity, which the caller treats as "not computable".
inline double ks2_count_paths_outside(std::int64_t m, std::int64_t n, std::int64_t g,
                                      std::int64_t h) {
  if (m < n) std::swap(m, n);
  const std::int64_t mg = m / g, ng = n / g;
  const std::int64_t lxj = n + (mg - h) / mg - ((mg - h) % mg != 0 && (mg - h) < 0 ? 1 : 0);
  if (lxj <= 0) return binomial_coefficient(m + n, n);
  std::vector<std::int64_t> xj(static_cast<std::size_t>(lxj));
  for (std::int64_t j = 0; j < lxj; ++j) {
    const std::int64_t num = h + mg * j + ng - 1;
    xj[static_cast<std::size_t>(j)] = num >= 0 ? num / ng : -((-num + ng - 1) / ng);
  }
  std::vector<double> B(static_cast<std::size_t>(lxj), 0.0);
  B[0] = 1.0;
  for (std::int64_t j = 1; j < lxj; ++j) {
    double bj = binomial_coefficient(xj[static_cast<std::size_t>(j)] + j, j);
    for (std::int64_t i = 0; i < j; ++i) {
      bj -= binomial_coefficient(
                xj[static_cast<std::size_t>(j)] - xj[static_cast<std::size_t>(i)] + j - i, j - i) *
            B[static_cast<std::size_t>(i)];
    }
    // scipy stops at the first overflow (numpy errstate 'raise') and falls back; so does this.
    if (!std::isfinite(bj)) return std::numeric_limits<double>::infinity();
    B[static_cast<std::size_t>(j)] = bj;
  }
  double paths = 0.0;
  for (std::int64_t j = 0; j < lxj; ++j) {
    paths += B[static_cast<std::size_t>(j)] *
             binomial_coefficient((m - xj[static_cast<std::size_t>(j)]) + (n - j), n - j);
  }
  return paths;
}

}  // namespace switchyard::stats::detail
