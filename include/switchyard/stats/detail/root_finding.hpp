// SPDX-License-Identifier: Apache-2.0
// Internal: Brent's zeroin, step for step as R's uniroot runs it, so iterated references reproduce.
#pragma once

#include <cfloat>
#include <cmath>

namespace switchyard::stats::detail {

/// Brent's (1973) root finder in the form of the "zeroin" routine that R's uniroot() and
/// Kayenta's Mann-Whitney judge use: given f(a) and f(b) of opposite signs it returns b with
/// |b - root| within 2 eps |b| + tol / 2. Following the same steps matters for statistics defined
/// by an iteration on a step function (the Hodges-Lehmann confidence bounds of wilcox.test): a
/// different root finder stops at a different point of the same flat segment.
/// Returns a root estimate even when max_iterations is exhausted.
template <class F>
double zeroin(double ax, double bx, double fa, double fb, F&& f, double tol,
              int max_iterations = 1000) {
  double a = ax, b = bx;
  double c = a, fc = fa;
  if (fa == 0.0) return a;
  if (fb == 0.0) return b;
  for (int it = max_iterations + 1; it-- > 0;) {
    const double prev_step = b - a;
    if (std::fabs(fc) < std::fabs(fb)) {
      // Make b the best approximation.
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const double tol_act = 2.0 * DBL_EPSILON * std::fabs(b) + tol / 2.0;
    double new_step = (c - b) / 2.0;
    if (std::fabs(new_step) <= tol_act || fb == 0.0) return b;

    if (std::fabs(prev_step) >= tol_act && std::fabs(fa) > std::fabs(fb)) {
      // Interpolation: linear with two distinct points, inverse quadratic with three.
      double p, q;
      const double cb = c - b;
      if (a == c) {
        const double t1 = fb / fa;
        p = cb * t1;
        q = 1.0 - t1;
      } else {
        q = fa / fc;
        const double t1 = fb / fc;
        const double t2 = fb / fa;
        p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0));
        q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0);
      }
      if (p > 0.0) {
        q = -q;
      } else {
        p = -p;
      }
      if (p < (0.75 * cb * q - std::fabs(tol_act * q) / 2.0) &&
          p < std::fabs(prev_step * q / 2.0)) {
        new_step = p / q;
      }
    }
    if (std::fabs(new_step) < tol_act) new_step = new_step > 0.0 ? tol_act : -tol_act;
    a = b;
    fa = fb;
    b += new_step;
    fb = f(b);
    if ((fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0)) {
      c = a;
      fc = fa;
    }
  }
  return b;
}

/// Bisection for a monotone function on [lo, hi] with f(lo) and f(hi) of opposite signs, run until
/// the bracket cannot shrink in double precision. Used where the answer must not depend on a
/// tolerance (sample sizes, power inversions).
template <class F>
double bisect(double lo, double hi, F&& f) {
  double flo = f(lo);
  for (int i = 0; i < 2000; ++i) {
    const double mid = lo + (hi - lo) / 2.0;
    if (mid <= lo || mid >= hi) break;
    const double fm = f(mid);
    if (fm == 0.0) return mid;
    if ((fm < 0.0) == (flo < 0.0)) {
      lo = mid;
      flo = fm;
    } else {
      hi = mid;
    }
  }
  return lo + (hi - lo) / 2.0;
}

}  // namespace switchyard::stats::detail
