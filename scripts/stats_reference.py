#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generates tests/stats/reference_values.hpp: inputs and reference values for Switchyard's
statistics tests, so the C++ tests never need Python.

Every input array is produced here with numpy's default_rng and a fixed seed and written into the
header, so the C++ side reads exactly the same numbers. Every expected value comes from the tool
that defines the statistic:

  scipy 1.10 and scikit-learn 1.2 (Debian 12: python3-scipy, python3-sklearn)
  statsmodels 0.13.5 (Debian 12: python3-statsmodels)
  GrowthBook gbstats 0.8.0 (a checkout of github.com/growthbook/growthbook; its imports are
    satisfied by Debian 12's python3-numpy, python3-scipy and python3-pydantic)
  R 4.2.2 wilcox.test and pROC 1.18.0 (Debian 12: r-base-core, r-cran-proc)
  Spinnaker Kayenta's Hodges-Lehmann point estimate: its definition (the continuity-corrected
    rank statistic solved by R's zeroin) evaluated in R with uniroot, as Kayenta's judge does.

Usage (run with Debian's /usr/bin/python3, which has scipy and scikit-learn):
  /usr/bin/python3 scripts/stats_reference.py --gbstats <growthbook>/packages/stats \
      --out tests/stats/reference_values.hpp
--drift and --paired print the blocks pasted into tests/stats/drift_statistics_test.cpp and
tests/stats/paired_tests_test.cpp instead (numpy and scipy; --paired also python3-mpmath).
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import scipy
import scipy.special
import scipy.stats as st

# The --drift references need only numpy and scipy, --paired also mpmath; the full header needs the
# rest too.
if "--drift" not in sys.argv:
    import mpmath
if "--drift" not in sys.argv and "--paired" not in sys.argv:
    import sklearn
    import sklearn.calibration
    import sklearn.metrics as skm
    import statsmodels
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.power import NormalIndPower, TTestIndPower
    from statsmodels.stats.proportion import (confint_proportions_2indep, proportion_confint,
                                              proportion_effectsize, proportions_ztest)

SEED = 20261123


# ------------------------------------------------------------------------------------------------
# C++ emission


def num(x):
    x = float(x)
    if math.isnan(x):
        raise ValueError("a reference value is NaN")
    if math.isinf(x):
        return "kInf" if x > 0 else "-kInf"
    r = repr(x)
    return r


class Header:
    def __init__(self):
        self.parts = []
        self.arrays = {}

    def array(self, name, values, ctype="double"):
        if name in self.arrays:
            return name
        fmt = num if ctype == "double" else (lambda v: str(int(v)))
        body = ", ".join(fmt(v) for v in values)
        self.parts.append(f"inline constexpr {ctype} {name}[] = {{{body}}};\n")
        self.arrays[name] = True
        return name

    def raw(self, text):
        self.parts.append(text)

    def table(self, struct, fields, rows, comment):
        """fields: list of (ctype, name); rows: list of dicts with those names."""
        members = "\n".join(f"  {t} {n};" for t, n in fields)
        self.parts.append(f"\n// {comment}\nstruct {struct} {{\n{members}\n}};\n")
        lines = []
        for row in rows:
            vals = []
            for t, n in fields:
                v = row[n]
                if t == "const char*":
                    vals.append('"' + v + '"')
                elif t.startswith("std::span"):
                    vals.append(v)
                elif t in ("bool",):
                    vals.append("true" if v else "false")
                elif t in ("int", "std::uint64_t", "std::int64_t", "std::size_t"):
                    vals.append(str(int(v)))
                else:
                    vals.append(num(v))
            lines.append("    {" + ", ".join(vals) + "}")
        name = "k" + struct + "s"
        self.parts.append(f"inline const {struct} {name}[] = {{\n" + ",\n".join(lines) + "};\n")

    def text(self):
        return "".join(self.parts)


# ------------------------------------------------------------------------------------------------
# Inputs


def datasets():
    rng = np.random.default_rng(SEED)
    d = {}
    d["small_a"] = np.round(rng.normal(10.0, 2.0, 8), 6)
    d["small_b"] = np.round(rng.normal(11.0, 2.5, 7), 6)
    d["ties_a"] = rng.poisson(4.0, 30).astype(float)
    d["ties_b"] = rng.poisson(5.0, 25).astype(float)
    d["large_a"] = rng.normal(0.1, 1.0, 2000)
    d["large_b"] = rng.normal(0.0, 1.3, 1800)
    d["skew_a"] = rng.lognormal(0.0, 1.0, 50)
    d["skew_b"] = rng.lognormal(0.3, 1.0, 60)
    d["const_a"] = np.full(10, 5.0)
    d["bigmean_a"] = 1e6 + rng.normal(0.0, 1.0, 500)
    d["bigmean_b"] = 1e6 + 0.2 + rng.normal(0.0, 1.0, 400)
    d["ks_eq_a"] = np.round(rng.normal(0.0, 1.0, 30), 2)
    d["ks_eq_b"] = np.round(rng.normal(0.5, 1.0, 30), 2)
    d["ks_m_a"] = rng.normal(0.0, 1.0, 40)
    d["ks_m_b"] = rng.normal(0.3, 1.2, 55)
    d["ks_big_a"] = rng.normal(0.0, 1.0, 700)
    d["ks_big_b"] = rng.normal(0.05, 1.0, 900)
    d["tiny_scale_a"] = rng.normal(0.0333, 1e-5, 40)
    d["tiny_scale_b"] = rng.normal(0.03331, 1e-5, 45)
    d["ks_fallback_a"] = rng.normal(0.0, 1.0, 600)
    d["ks_fallback_b"] = rng.normal(0.05, 1.0, 599)
    d["tied_all"] = np.full(6, 2.5)
    d["one_a"] = np.array([3.0])
    return d


# ------------------------------------------------------------------------------------------------
# R helpers


R_WILCOX = r"""
x <- scan("%(x)s", quiet = TRUE); y <- scan("%(y)s", quiet = TRUE)
cl <- %(cl)s
w <- suppressWarnings(wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE, conf.level = cl))
# Kayenta's point estimate: the same rank statistic *with* the continuity correction, solved by
# the same zeroin (uniroot, tol 1e-4) on [min(x) - max(y), max(x) - min(y)].
nx <- length(x); ny <- length(y)
W <- function(d) {
  dr <- rank(c(x - d, y)); nt <- table(dr)
  dz <- sum(dr[seq_along(x)]) - nx * (nx + 1) / 2 - nx * ny / 2
  s <- sqrt((nx * ny / 12) * ((nx + ny + 1) - sum(nt^3 - nt) / ((nx + ny) * (nx + ny - 1))))
  (dz - sign(dz) * 0.5) / s
}
k <- uniroot(W, lower = min(x) - max(y), upper = max(x) - min(y), tol = 1e-4)$root
cat(sprintf("%%.17g", c(w$conf.int[1], w$conf.int[2], w$estimate, k)), "\n")
"""

R_PROC = r"""
suppressMessages(library(pROC))
y <- scan("%(y)s", quiet = TRUE); a <- scan("%(a)s", quiet = TRUE); b <- scan("%(b)s", quiet = TRUE)
ra <- roc(y, a, levels = c(0, 1), direction = "<", quiet = TRUE)
rb <- roc(y, b, levels = c(0, 1), direction = "<", quiet = TRUE)
ca <- ci.auc(ra, method = "delong", conf.level = 0.95)
t2 <- roc.test(ra, rb, method = "delong", paired = TRUE)
tl <- roc.test(ra, rb, method = "delong", paired = TRUE, alternative = "less")
tg <- roc.test(ra, rb, method = "delong", paired = TRUE, alternative = "greater")
ci <- if (is.null(t2$conf.int)) c(NA, NA) else t2$conf.int
cat(sprintf("%%.17g", c(auc(ra), var(ra, method = "delong"), ca[1], ca[3], auc(rb),
  var(rb, method = "delong"), t2$statistic, t2$p.value, tl$p.value, tg$p.value, ci[1], ci[2])), "\n")
"""


def run_r(script, arrays):
    with tempfile.TemporaryDirectory() as tmp:
        names = {}
        for k, v in arrays.items():
            path = os.path.join(tmp, k + ".txt")
            with open(path, "w") as f:
                f.write("\n".join(repr(float(x)) for x in v))
            names[k] = path
        names.update({k: v for k, v in script[1].items()})
        out = subprocess.run(["Rscript", "-e", script[0] % names], check=True, capture_output=True, text=True)
        return [float(t) for t in out.stdout.split()]


def r_version():
    out = subprocess.run(["Rscript", "-e", 'cat(R.version.string, as.character(packageVersion("pROC")))'],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


# ------------------------------------------------------------------------------------------------
# Reference sections


def section_ttest(h, d):
    rows = []
    pairs = [("small", "small_a", "small_b"), ("ties", "ties_a", "ties_b"), ("large", "large_a", "large_b"),
             ("skew", "skew_a", "skew_b"), ("const_vs_normal", "const_a", "small_b"),
             ("bigmean", "bigmean_a", "bigmean_b")]
    for name, ka, kb in pairs:
        a, b = d[ka], d[kb]
        for equal_var in (False, True):
            r2 = st.ttest_ind(a, b, equal_var=equal_var)
            rl = st.ttest_ind(a, b, equal_var=equal_var, alternative="less")
            rg = st.ttest_ind(a, b, equal_var=equal_var, alternative="greater")
            n1, n2 = len(a), len(b)
            v1, v2 = np.var(a, ddof=1), np.var(b, ddof=1)
            if equal_var:
                df = n1 + n2 - 2
                se = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / df * (1 / n1 + 1 / n2))
            else:
                df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
                se = math.sqrt(v1 / n1 + v2 / n2)
            diff = np.mean(a) - np.mean(b)
            crit = st.t.isf(0.025, df)
            ex = exact_t_test(a, b, equal_var)
            rows.append(dict(name=name + ("_student" if equal_var else "_welch"), a=h.array("k" + camel(ka), a),
                             b=h.array("k" + camel(kb), b), equal_var=equal_var, t=r2.statistic, p=r2.pvalue,
                             p_less=rl.pvalue, p_greater=rg.pvalue, df=df, ci_lo=diff - crit * se,
                             ci_hi=diff + crit * se, exact_t=ex[0], exact_p=ex[1], exact_df=ex[2],
                             exact_ci_lo=ex[3], exact_ci_hi=ex[4]))
    h.table("TTestCase", [("const char*", "name"), ("std::span<const double>", "a"), ("std::span<const double>", "b"),
                          ("bool", "equal_var"), ("double", "t"), ("double", "p"), ("double", "p_less"),
                          ("double", "p_greater"), ("double", "df"), ("double", "ci_lo"), ("double", "ci_hi"),
                          ("double", "exact_t"), ("double", "exact_p"), ("double", "exact_df"), ("double", "exact_ci_lo"),
                          ("double", "exact_ci_hi")], rows,
            "scipy.stats.ttest_ind(a, b, equal_var, alternative); interval diff -+ t.isf(0.025, df) * se "
            "(scipy 1.11's confidence_interval formula), df and se by scipy's formulas. exact_*: the same "
            "formulas on the exact rational moments of the double inputs (fractions), evaluated with mpmath "
            "at 50 digits (t distribution via the regularised incomplete beta function)")


def mp(fr):
    return mpmath.mpf(fr.numerator) / fr.denominator


def t_sf_mp(t, df):
    t = mpmath.mpf(t)
    tail = mpmath.betainc(df / 2, mpmath.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
    return tail if t >= 0 else 1 - tail


def t_isf_mp(q, df):
    q = mpmath.mpf(q)
    guess = mpmath.mpf(float(st.t.isf(float(q), float(df))))
    return mpmath.findroot(lambda x: t_sf_mp(x, df) - q, guess, tol=mpmath.mpf(10) ** -45)


def exact_t_test(a, b, equal_var):
    """t, two-sided p, df and the 95% interval on the exact rational moments, at 50 digits."""
    from fractions import Fraction as F
    with mpmath.workdps(50):
        def moments(x):
            n = len(x)
            m = sum(F(v) for v in x) / n
            return n, m, sum((F(v) - m) ** 2 for v in x) / (n - 1)
        n1, m1, v1 = moments(a)
        n2, m2, v2 = moments(b)
        if equal_var:
            df = F(n1 + n2 - 2)
            var = ((n1 - 1) * v1 + (n2 - 1) * v2) / df * (F(1, n1) + F(1, n2))
        else:
            var = v1 / n1 + v2 / n2
            df = var ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
        if var == 0:
            return (0.0, 1.0, 0.0, 0.0, 0.0)
        se = mpmath.sqrt(mp(var))
        dfm = mp(df)
        t = mp(m1 - m2) / se
        p = 2 * t_sf_mp(abs(t), dfm)
        crit = t_isf_mp(mpmath.mpf(1) / 40, dfm)
        diff = mp(m1 - m2)
        return (float(t), float(min(p, 1)), float(dfm), float(diff - crit * se), float(diff + crit * se))


def section_welch_large_n():
    """Welch's test on 5 million clustered 0/1 samples per arm (TTestTest.raw_samples_keep_1e12_...).

    The moments of 0/1 data are exact rationals, so scipy.stats.ttest_ind(treatment, control,
    equal_var=False, alternative) is evaluated exactly here: t and df from fractions, the t tail by
    the regularised incomplete beta function in mpmath at 60 digits. Printed, not written into the
    header: the test spells the counts and values out."""
    from fractions import Fraction as F
    with mpmath.workdps(60):
        for n, ones_c, ones_t in ((5_000_000, 2_500_000, 2_516_000), (5_000_000, 250_000, 253_500)):
            def moments(k):
                return F(k, n), F(k * (n - k), n * (n - 1))
            mc, vc = moments(ones_c)
            mt, vt = moments(ones_t)
            var = vt / n + vc / n
            df = var ** 2 / ((vt / n) ** 2 / (n - 1) + (vc / n) ** 2 / (n - 1))
            t = mp(mt - mc) / mpmath.sqrt(mp(var))
            tail = t_sf_mp(abs(t), mp(df))
            p_less = tail if t < 0 else 1 - tail
            p_greater = tail if t > 0 else 1 - tail
            print(f"n={n} control_ones={ones_c} treatment_ones={ones_t}: t={float(t)!r} df={float(mp(df))!r} "
                  f"p={float(2 * tail)!r} p_less={float(p_less)!r} p_greater={float(p_greater)!r}")


def section_quantiles(h):
    rows = []
    with mpmath.workdps(40):
        for df in (1.0, 2.5, 7.0, 12.3, 57.1, 98.0, 113.77, 1000.5, 1e6):
            for q in (0.25, 0.05, 0.025, 0.005, 1e-6):
                rows.append(dict(df=df, q=q, t=float(t_isf_mp(q, mpmath.mpf(df)))))
    h.table("TQuantileCase", [("double", "df"), ("double", "q"), ("double", "t")], rows,
            "t with upper-tail probability q (the t.isf(q, df) a t interval uses): mpmath 1.2.1 at 40 digits, "
            "root of 1 - I_{df/(df+t^2)}(df/2, 1/2)/2 = q")
    rows = []
    with mpmath.workdps(40):
        for q in (0.4, 0.1, 0.05, 0.025, 0.005, 1e-6, 1e-12):
            z = mpmath.findroot(lambda x: mpmath.ncdf(-x) - q, mpmath.mpf(float(st.norm.isf(q))))
            rows.append(dict(q=q, z=float(z)))
    h.table("NormalQuantileCase", [("double", "q"), ("double", "z")], rows,
            "z with upper-tail probability q: mpmath 1.2.1 at 40 digits")


def camel(s):
    return "".join(p.capitalize() for p in s.split("_"))


def section_mwu(h, d):
    rows = []
    pairs = [("small", "small_a", "small_b", 0.95), ("ties", "ties_a", "ties_b", 0.95),
             ("skew", "skew_a", "skew_b", 0.90), ("large", "large_a", "large_b", 0.95),
             ("tiny_scale", "tiny_scale_a", "tiny_scale_b", 0.95), ("single", "one_a", "small_b", 0.95)]
    for name, ka, kb, cl in pairs:
        a, b = d[ka], d[kb]
        r2 = st.mannwhitneyu(a, b, method="asymptotic")
        rl = st.mannwhitneyu(a, b, method="asymptotic", alternative="less")
        rg = st.mannwhitneyu(a, b, method="asymptotic", alternative="greater")
        lo, hi, est_r, est_k = run_r((R_WILCOX, {"cl": repr(cl)}), {"x": a, "y": b})
        rows.append(dict(name=name, a=h.array("k" + camel(ka), a), b=h.array("k" + camel(kb), b), confidence=cl,
                         u=r2.statistic, p=r2.pvalue, p_less=rl.pvalue, p_greater=rg.pvalue, ci_lo=lo, ci_hi=hi,
                         estimate_r=est_r, estimate_kayenta=est_k))
    h.table("MannWhitneyCase",
            [("const char*", "name"), ("std::span<const double>", "a"), ("std::span<const double>", "b"),
             ("double", "confidence"), ("double", "u"), ("double", "p"), ("double", "p_less"),
             ("double", "p_greater"), ("double", "ci_lo"), ("double", "ci_hi"), ("double", "estimate_r"),
             ("double", "estimate_kayenta")], rows,
            "scipy.stats.mannwhitneyu(a, b, method='asymptotic', alternative); interval and estimate_r from R "
            "wilcox.test(a, b, conf.int=TRUE, exact=FALSE, correct=TRUE); estimate_kayenta: Kayenta's "
            "continuity-corrected estimate, uniroot(tol=1e-4) in R")


def section_ks(h, d):
    rows = []
    pairs = [("small", "small_a", "small_b"), ("equal_n_ties", "ks_eq_a", "ks_eq_b"), ("unequal", "ks_m_a", "ks_m_b"),
             ("ties", "ties_a", "ties_b"), ("big", "ks_big_a", "ks_big_b"), ("skew", "skew_a", "skew_b"),
             # one-sided exact path counts overflow here: scipy warns and falls back to 'asymp'
             ("fallback", "ks_fallback_a", "ks_fallback_b")]
    for name, ka, kb in pairs:
        a, b = d[ka], d[kb]
        for method in ("exact", "asymp"):
            vals = {}
            for alt in ("two-sided", "less", "greater"):
                vals[alt] = st.ks_2samp(a, b, alternative=alt, method=method)
            # Switchyard's KS alternatives are scipy's, with the treatment (a) as scipy's first sample.
            rows.append(dict(name=name + "_" + method, a=h.array("k" + camel(ka), a), b=h.array("k" + camel(kb), b),
                             exact=method == "exact", d=vals["two-sided"].statistic, p=vals["two-sided"].pvalue,
                             d_plus=vals["greater"].statistic, d_minus=vals["less"].statistic,
                             p_less=vals["less"].pvalue, p_greater=vals["greater"].pvalue))
    h.table("KsCase", [("const char*", "name"), ("std::span<const double>", "a"), ("std::span<const double>", "b"),
                       ("bool", "exact"), ("double", "d"), ("double", "p"), ("double", "d_plus"),
                       ("double", "d_minus"), ("double", "p_greater"), ("double", "p_less")], rows,
            "scipy.stats.ks_2samp(a, b, alternative, method='exact'|'asymp'); p_less and p_greater are scipy's "
            "'less' and 'greater'")
    # The finite-n Kolmogorov distribution behind method='asymp', over every region of its method choice.
    grid = []
    for n in (1, 2, 5, 10, 37, 100, 140, 141, 500, 1000, 5000, 20000, 100000, 250000):
        for x in (0.001, 0.004, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3, 0.45, 0.5, 0.6, 0.9, 0.99):
            sf = st.kstwo.sf(x, n)
            if sf == 0.0 or sf < 1e-300:
                continue
            grid.append(dict(n=n, x=x, sf=sf))
    h.table("KolmogorovCase", [("std::int64_t", "n"), ("double", "x"), ("double", "sf")], grid,
            "scipy.stats.kstwo.sf(x, n): P(D_n >= x), the two-sided one-sample KS distribution")
    sm = []
    for n in (1, 3, 10, 50, 200, 1000, 5000):
        for x in (0.01, 0.05, 0.1, 0.2, 0.33, 0.5, 0.8):
            v = scipy.special.smirnov(n, x)
            if v > 1e-300:
                sm.append(dict(n=n, x=x, sf=v))
    h.table("SmirnovCase", [("std::int64_t", "n"), ("double", "x"), ("double", "sf")], sm,
            "scipy.special.smirnov(n, x): P(D_n^+ >= x)")


def section_chi2(h):
    gof = []
    cases = [("uniform", [18, 22, 20, 25, 15], [1, 1, 1, 1, 1], 0), ("weighted", [120, 260, 620], [0.1, 0.3, 0.6], 0),
             ("counts_ddof1", [43, 52, 54, 40, 31], [44, 44, 44, 44, 44], 1), ("two", [7, 13], [10, 10], 0)]
    for name, obs, w, ddof in cases:
        obs = np.array(obs, float)
        w = np.array(w, float)
        exp = w / w.sum() * obs.sum()
        r = st.chisquare(obs, exp, ddof=ddof)
        gof.append(dict(name=name, observed=h.array("kGof" + camel(name) + "Obs", obs),
                        expected=h.array("kGof" + camel(name) + "Exp", w), ddof=ddof, stat=r.statistic,
                        p=r.pvalue))
    h.table("ChiSquareGofCase", [("const char*", "name"), ("std::span<const double>", "observed"),
                                 ("std::span<const double>", "expected"), ("int", "ddof"), ("double", "stat"),
                                 ("double", "p")], gof,
            "scipy.stats.chisquare(observed, expected scaled to the observed total, ddof)")
    ind = []
    tables = [("t2x2", [[12, 5], [7, 15]]), ("t2x2_small_diff", [[10, 10], [10, 11]]),
              ("t2x2_large", [[1200, 980], [1100, 1150]]), ("t3x4", [[10, 20, 30, 15], [12, 18, 25, 20], [8, 25, 20, 30]]),
              ("t2x3", [[5, 0, 7], [3, 9, 2]])]
    for name, t in tables:
        t = np.array(t, float)
        for corr in (True, False):
            r = st.chi2_contingency(t, correction=corr)
            v = st.contingency.association(t.astype(int), method="cramer", correction=False)
            ind.append(dict(name=name + ("_yates" if corr else ""), cells=h.array("kTable" + camel(name), t.ravel()),
                            rows=t.shape[0], cols=t.shape[1], yates=corr, stat=r[0], p=r[1], df=r[2], cramer_v=v))
    h.table("ChiSquareIndependenceCase",
            [("const char*", "name"), ("std::span<const double>", "cells"), ("std::size_t", "rows"),
             ("std::size_t", "cols"), ("bool", "yates"), ("double", "stat"), ("double", "p"), ("double", "df"),
             ("double", "cramer_v")], ind,
            "scipy.stats.chi2_contingency(table, correction); cramer_v from scipy.stats.contingency.association")


def section_proportions(h):
    z = []
    for name, s1, n1, s2, n2 in [("typical", 230, 2000, 200, 2000), ("small", 7, 20, 3, 25),
                                  ("unequal", 1510, 10000, 1423, 10200), ("zero_one_arm", 0, 50, 4, 60)]:
        r2 = proportions_ztest([s1, s2], [n1, n2])
        rl = proportions_ztest([s1, s2], [n1, n2], alternative="smaller")
        rg = proportions_ztest([s1, s2], [n1, n2], alternative="larger")
        lo, hi = confint_proportions_2indep(s1, n1, s2, n2, method="wald", compare="diff")
        z.append(dict(name=name, s1=s1, n1=n1, s2=s2, n2=n2, z=r2[0], p=r2[1], p_less=rl[1], p_greater=rg[1],
                      ci_lo=lo, ci_hi=hi))
    h.table("ProportionZCase", [("const char*", "name"), ("std::uint64_t", "s1"), ("std::uint64_t", "n1"),
                                ("std::uint64_t", "s2"), ("std::uint64_t", "n2"), ("double", "z"), ("double", "p"),
                                ("double", "p_less"), ("double", "p_greater"), ("double", "ci_lo"),
                                ("double", "ci_hi")], z,
            "statsmodels proportions_ztest([s1, s2], [n1, n2], alternative) and "
            "confint_proportions_2indep(method='wald', compare='diff')")
    ci = []
    for s, n, cl in [(0, 20, 0.95), (20, 20, 0.95), (1, 40, 0.95), (37, 120, 0.9), (512, 1000, 0.99), (3, 7, 0.8)]:
        wl, wh = proportion_confint(s, n, alpha=1 - cl, method="wilson")
        al, ah = proportion_confint(s, n, alpha=1 - cl, method="agresti_coull")
        ci.append(dict(s=s, n=n, confidence=cl, wilson_lo=wl, wilson_hi=wh, ac_lo=al, ac_hi=ah))
    h.table("ProportionIntervalCase", [("std::uint64_t", "s"), ("std::uint64_t", "n"), ("double", "confidence"),
                                       ("double", "wilson_lo"), ("double", "wilson_hi"), ("double", "ac_lo"),
                                       ("double", "ac_hi")], ci,
            "statsmodels proportion_confint(s, n, alpha=1-confidence, method='wilson'|'agresti_coull')")
    mc = []
    for b, c in [(10, 25), (3, 0), (100, 120), (5, 5), (1, 30), (40, 22)]:
        ex = mcnemar([[50, b], [c, 60]], exact=True)
        ch = mcnemar([[50, b], [c, 60]], exact=False, correction=True)
        mc.append(dict(b=b, c=c, exact_stat=ex.statistic, exact_p=ex.pvalue, chi2_stat=ch.statistic,
                       chi2_p=ch.pvalue, p_greater=st.binom.cdf(c, b + c, 0.5), p_less=st.binom.cdf(b, b + c, 0.5)))
    h.table("McNemarCase", [("std::uint64_t", "b"), ("std::uint64_t", "c"), ("double", "exact_stat"),
                            ("double", "exact_p"), ("double", "chi2_stat"), ("double", "chi2_p"),
                            ("double", "p_greater"), ("double", "p_less")], mc,
            "statsmodels mcnemar([[n00, b], [c, n11]], exact, correction=True); one-sided: scipy binom.cdf")


def one_sided_root(cls, ctrl, trt, diff, alpha, index):
    """gbstats' one-sided sequential p-value without its bisection tolerance."""
    from gbstats.frequentist.tests import SequentialConfig, sequential_rho
    import scipy.optimize
    rho = sequential_rho(alpha, 5000, two_sided=False)

    def bound(a):
        return cls([(ctrl, trt)], SequentialConfig(difference_type=diff, alpha=a, rho=rho)).confidence_interval[index]
    lo, hi = 1e-5, 0.4999
    flo, fhi = bound(lo), bound(hi)
    # lesser (upper bound, index 1): significant when the bound is below 0; greater mirrors it.
    if index == 1:
        if flo < 0:
            return lo
        if fhi > 0:
            return hi
    else:
        if flo > 0:
            return lo
        if fhi < 0:
            return hi
    return scipy.optimize.brentq(bound, lo, hi, xtol=1e-15, rtol=1e-15)


def section_growthbook(h, d, gbstats_path):
    sys.path.insert(0, gbstats_path)
    from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
    from gbstats.frequentist.tests import (FrequentistConfig, OneSidedTreatmentGreaterTTest,
                                           OneSidedTreatmentLesserTTest, SequentialConfig,
                                           SequentialOneSidedTreatmentGreaterTTest,
                                           SequentialOneSidedTreatmentLesserTTest, SequentialTwoSidedTTest,
                                           TwoSidedTTest)
    from gbstats.models.statistics import (ProportionStatistic, RegressionAdjustedStatistic,
                                           SampleMeanStatistic)
    from gbstats.utils import check_srm
    import gbstats

    def mean_stat(x):
        x = np.asarray(x, float)
        return SampleMeanStatistic(n=len(x), sum=float(x.sum()), sum_squares=float((x * x).sum()))

    arms = [("means_small", mean_stat(d["small_b"]), mean_stat(d["small_a"])),
            ("means_large", mean_stat(d["large_b"] + 5.0), mean_stat(d["large_a"] + 5.0)),
            ("means_skew", mean_stat(d["skew_b"]), mean_stat(d["skew_a"])),
            ("prop", ProportionStatistic(n=5000, sum=600), ProportionStatistic(n=5100, sum=680)),
            ("prop_small", ProportionStatistic(n=120, sum=30), ProportionStatistic(n=110, sum=22)),
            ("prop_strong", ProportionStatistic(n=20000, sum=2000), ProportionStatistic(n=20000, sum=2600))]
    rows = []
    for name, ctrl, trt in arms:
        for diff in ("relative", "absolute"):
            for alpha in (0.05, 0.1):
                fc = FrequentistConfig(difference_type=diff, alpha=alpha)
                two = TwoSidedTTest([(ctrl, trt)], fc).compute_result()
                great = OneSidedTreatmentGreaterTTest([(ctrl, trt)], fc).compute_result()
                less = OneSidedTreatmentLesserTTest([(ctrl, trt)], fc).compute_result()
                sc = SequentialConfig(difference_type=diff, alpha=alpha, sequential_tuning_parameter=5000)
                seq = SequentialTwoSidedTTest([(ctrl, trt)], sc).compute_result()
                sl = SequentialOneSidedTreatmentLesserTTest([(ctrl, trt)], sc).compute_result()
                sg = SequentialOneSidedTreatmentGreaterTTest([(ctrl, trt)], sc).compute_result()
                is_prop = isinstance(ctrl, ProportionStatistic)
                exact_less = one_sided_root(SequentialOneSidedTreatmentLesserTTest, ctrl, trt, diff, alpha, 1)
                exact_greater = one_sided_root(SequentialOneSidedTreatmentGreaterTTest, ctrl, trt, diff, alpha, 0)
                rows.append(dict(
                    name=f"{name}_{diff}_{alpha}", proportion=is_prop,
                    t_n=trt.n, t_sum=trt.sum, t_sum_squares=trt.sum_squares if not is_prop else trt.sum,
                    c_n=ctrl.n, c_sum=ctrl.sum, c_sum_squares=ctrl.sum_squares if not is_prop else ctrl.sum,
                    relative=diff == "relative", alpha=alpha, estimate=two.expected, std_error=two.uplift.stddev,
                    p=two.pValue, ci_lo=two.ci[0], ci_hi=two.ci[1], p_greater=great.pValue, p_less=less.pValue,
                    seq_p=seq.pValue, seq_lo=seq.ci[0], seq_hi=seq.ci[1], seq_less_hi=sl.ci[1],
                    seq_greater_lo=sg.ci[0], seq_p_less=sl.pValue, seq_p_greater=sg.pValue,
                    seq_p_less_exact=exact_less, seq_p_greater_exact=exact_greater))
    h.table("GrowthBookFrequentistCase",
            [("const char*", "name"), ("bool", "proportion"), ("std::uint64_t", "t_n"), ("double", "t_sum"),
             ("double", "t_sum_squares"), ("std::uint64_t", "c_n"), ("double", "c_sum"), ("double", "c_sum_squares"),
             ("bool", "relative"), ("double", "alpha"), ("double", "estimate"), ("double", "std_error"),
             ("double", "p"), ("double", "ci_lo"), ("double", "ci_hi"), ("double", "p_greater"),
             ("double", "p_less"), ("double", "seq_p"), ("double", "seq_lo"), ("double", "seq_hi"),
             ("double", "seq_less_hi"), ("double", "seq_greater_lo"), ("double", "seq_p_less"),
             ("double", "seq_p_greater"), ("double", "seq_p_less_exact"), ("double", "seq_p_greater_exact")], rows,
            f"GrowthBook gbstats {gbstats.__version__}: TwoSidedTTest, OneSidedTreatment{{Greater,Lesser}}TTest, "
            "SequentialTwoSidedTTest and SequentialOneSided*TTest (tuning 5000) on SampleMeanStatistic / "
            "ProportionStatistic (n, sum, sum_squares); control = stat_a, treatment = stat_b. "
            "seq_p_*_exact: the alpha at which gbstats' own one-sided sequential bound (rho fixed, as its "
            "compute_p_value does) crosses 0, found with scipy.optimize.brentq(xtol=1e-15) instead of gbstats' "
            "1e-6 bisection, then clamped to [1e-5, 0.4999] as gbstats does")

    brows = []  # Bayesian cases below
    priors = [("flat", GaussianPrior(), "relative", False), ("proper_rel", GaussianPrior(mean=0.0, variance=0.01, proper=True), "relative", False),
              ("inverse", GaussianPrior(), "relative", True), ("proper_shift", GaussianPrior(mean=0.05, variance=0.02, proper=True), "relative", False)]
    for name, ctrl, trt in arms:
        for diff in ("relative", "absolute"):
            for pname, prior, ptype, inverse in priors:
                cfg = EffectBayesianConfig(difference_type=diff, prior_effect=prior, prior_type=ptype, inverse=inverse)
                r = EffectBayesianABTest([(ctrl, trt)], cfg).compute_result()
                if r.errorMessage:
                    continue
                is_prop = isinstance(ctrl, ProportionStatistic)
                brows.append(dict(
                    name=f"{name}_{diff}_{pname}", proportion=is_prop,
                    t_n=trt.n, t_sum=trt.sum, t_sum_squares=trt.sum_squares if not is_prop else trt.sum,
                    c_n=ctrl.n, c_sum=ctrl.sum, c_sum_squares=ctrl.sum_squares if not is_prop else ctrl.sum,
                    relative=diff == "relative", prior_mean=prior.mean, prior_variance=prior.variance,
                    prior_proper=prior.proper, inverse=inverse, chance_to_win=r.chanceToWin, expected=r.expected,
                    ci_lo=r.ci[0], ci_hi=r.ci[1], risk_control=r.risk[0], risk_treatment=r.risk[1],
                    std_dev=r.uplift.stddev))
    h.table("GrowthBookBayesianCase",
            [("const char*", "name"), ("bool", "proportion"), ("std::uint64_t", "t_n"), ("double", "t_sum"),
             ("double", "t_sum_squares"), ("std::uint64_t", "c_n"), ("double", "c_sum"), ("double", "c_sum_squares"),
             ("bool", "relative"), ("double", "prior_mean"), ("double", "prior_variance"), ("bool", "prior_proper"),
             ("bool", "inverse"), ("double", "chance_to_win"), ("double", "expected"), ("double", "ci_lo"),
             ("double", "ci_hi"), ("double", "risk_control"), ("double", "risk_treatment"), ("double", "std_dev")],
            brows, f"GrowthBook gbstats {gbstats.__version__}: EffectBayesianABTest (prior_type 'relative', alpha 0.05)")

    # CUPED: paired pre/post samples per arm.
    rng = np.random.default_rng(SEED + 1)
    pre_c = rng.normal(10.0, 3.0, 300)
    post_c = 2.0 + 0.8 * pre_c + rng.normal(0.0, 1.5, 300)
    pre_t = rng.normal(10.0, 3.0, 320)
    post_t = 2.3 + 0.8 * pre_t + rng.normal(0.0, 1.5, 320)

    def ra(pre, post):
        return RegressionAdjustedStatistic(n=len(pre), post_statistic=mean_stat(post), pre_statistic=mean_stat(pre),
                                           post_pre_sum_of_products=float((pre * post).sum()), theta=None)
    crows = []
    for diff in ("relative", "absolute"):
        r = TwoSidedTTest([(ra(pre_c, post_c), ra(pre_t, post_t))], FrequentistConfig(difference_type=diff)).compute_result()
        crows.append(dict(relative=diff == "relative", estimate=r.expected, std_error=r.uplift.stddev, p=r.pValue,
                          ci_lo=r.ci[0], ci_hi=r.ci[1]))
    h.array("kCupedPreControl", pre_c)
    h.array("kCupedPostControl", post_c)
    h.array("kCupedPreTreatment", pre_t)
    h.array("kCupedPostTreatment", post_t)
    h.table("CupedCase", [("bool", "relative"), ("double", "estimate"), ("double", "std_error"), ("double", "p"),
                          ("double", "ci_lo"), ("double", "ci_hi")], crows,
            f"GrowthBook gbstats {gbstats.__version__}: TwoSidedTTest on RegressionAdjustedStatistic "
            "(SampleMeanStatistic post/pre, theta from the pooled arms) of kCuped* arrays")

    srm = []
    for name, users, weights in [("balanced", [5000, 5100], [0.5, 0.5]), ("mismatch", [5000, 5400], [0.5, 0.5]),
                                 ("three", [2010, 2950, 5040], [0.2, 0.3, 0.5]),
                                 ("zero_weight", [1000, 1100, 0], [0.5, 0.5, 0.0]),
                                 ("unnormalised", [300, 610], [1, 2])]:
        p = check_srm(users, weights)
        srm.append(dict(name=name, users=h.array("kSrm" + camel(name) + "Users", users, "std::uint64_t"),
                        weights=h.array("kSrm" + camel(name) + "Weights", weights), p=p))
    h.table("SrmCase", [("const char*", "name"), ("std::span<const std::uint64_t>", "users"),
                        ("std::span<const double>", "weights"), ("double", "p")], srm,
            f"GrowthBook gbstats {gbstats.__version__}: gbstats.utils.check_srm(users, weights)")
    return gbstats.__version__


def section_power(h):
    rows = []
    for base, mde, kind, alpha, power, alt in [(0.1, 0.1, "rel", 0.05, 0.8, "two-sided"),
                                               (0.02, 0.2, "rel", 0.05, 0.9, "two-sided"),
                                               (0.5, 0.01, "abs", 0.01, 0.8, "two-sided"),
                                               (0.3, -0.05, "rel", 0.05, 0.8, "two-sided"),
                                               (0.1, 0.1, "rel", 0.05, 0.8, "larger")]:
        pt = base * (1 + mde) if kind == "rel" else base + mde
        es = proportion_effectsize(pt, base)
        n = NormalIndPower().solve_power(effect_size=es, alpha=alpha, power=power, ratio=1, alternative=alt)
        pw = NormalIndPower().power(effect_size=es, nobs1=1000, alpha=alpha, ratio=1, alternative=alt)
        rows.append(dict(baseline=base, mde=mde, relative=kind == "rel", alpha=alpha, power=power,
                         greater=alt == "larger", n=n, power_at_1000=pw))
    h.table("PowerProportionCase", [("double", "baseline"), ("double", "mde"), ("bool", "relative"), ("double", "alpha"),
                                    ("double", "power"), ("bool", "greater"), ("double", "n"),
                                    ("double", "power_at_1000")], rows,
            "statsmodels NormalIndPower().solve_power(proportion_effectsize(treatment, baseline), alpha, power, "
            "ratio=1, alternative) and .power(nobs1=1000)")
    rows = []
    for d_, alpha, power, alt in [(0.2, 0.05, 0.8, "two-sided"), (0.5, 0.05, 0.9, "two-sided"),
                                  (0.05, 0.01, 0.8, "two-sided"), (1.2, 0.05, 0.8, "two-sided"),
                                  (0.3, 0.05, 0.8, "larger")]:
        n = TTestIndPower().solve_power(effect_size=d_, alpha=alpha, power=power, ratio=1, alternative=alt)
        pw = TTestIndPower().power(effect_size=d_, nobs1=50, alpha=alpha, ratio=1, alternative=alt)
        rows.append(dict(effect=d_, alpha=alpha, power=power, greater=alt == "larger", n=n, power_at_50=pw))
    h.table("PowerMeansCase", [("double", "effect"), ("double", "alpha"), ("double", "power"), ("bool", "greater"),
                               ("double", "n"), ("double", "power_at_50")], rows,
            "statsmodels TTestIndPower().solve_power(effect_size, alpha, power, ratio=1, alternative) and "
            ".power(nobs1=50)")


def section_multitest(h):
    rng = np.random.default_rng(SEED + 2)
    p = np.concatenate([rng.uniform(0, 0.01, 4), rng.uniform(0, 1, 12), [0.04, 0.04, 1.0]])
    h.array("kMultiP", p)
    out = {}
    for m in ("bonferroni", "holm", "fdr_bh"):
        rej, corr, _, _ = multipletests(p, alpha=0.05, method=m)
        out[m] = (corr, rej)
        h.array("kMulti" + camel(m) + "Adjusted", corr)
        h.array("kMulti" + camel(m) + "Rejected", rej.astype(int), "int")
    h.raw("// statsmodels multipletests(kMultiP, alpha=0.05, method) -> pvals_corrected, reject\n")


def section_auc(h, r_available):
    rng = np.random.default_rng(SEED + 3)
    rows = []
    for name, n, sep, dec in [("small_ties", 60, 0.8, 1), ("medium", 400, 0.6, 3), ("large", 5000, 0.4, 4)]:
        y = (rng.uniform(size=n) < 0.4).astype(int)
        a = np.round(rng.normal(0, 1, n) + sep * y, dec)
        b = np.round(0.7 * a + rng.normal(0, 0.8, n) + 0.2 * y, dec)
        vals = run_r((R_PROC, {}), {"y": y, "a": a, "b": b})
        rows.append(dict(name=name, labels=h.array("kAuc" + camel(name) + "Labels", y, "int"),
                         a=h.array("kAuc" + camel(name) + "A", a), b=h.array("kAuc" + camel(name) + "B", b),
                         sk_auc_a=skm.roc_auc_score(y, a), sk_auc_b=skm.roc_auc_score(y, b), auc_a=vals[0],
                         var_a=vals[1], ci_lo=vals[2], ci_hi=vals[3], auc_b=vals[4], var_b=vals[5], z=vals[6],
                         p=vals[7], p_less=vals[8], p_greater=vals[9], diff_lo=vals[10], diff_hi=vals[11],
                         log_loss=skm.log_loss(y, 1 / (1 + np.exp(-a)), labels=[0, 1]),
                         brier=skm.brier_score_loss(y, 1 / (1 + np.exp(-a))),
                         ece=ece_reference(y, 1 / (1 + np.exp(-a)), 10)))
    h.table("AucCase", [("const char*", "name"), ("std::span<const int>", "labels"), ("std::span<const double>", "a"),
                        ("std::span<const double>", "b"), ("double", "sk_auc_a"), ("double", "sk_auc_b"),
                        ("double", "auc_a"), ("double", "var_a"), ("double", "ci_lo"), ("double", "ci_hi"),
                        ("double", "auc_b"), ("double", "var_b"), ("double", "z"), ("double", "p"),
                        ("double", "p_less"), ("double", "p_greater"), ("double", "diff_lo"), ("double", "diff_hi"),
                        ("double", "log_loss"), ("double", "brier"), ("double", "ece")], rows,
            "sklearn roc_auc_score (sk_auc_*); R pROC roc(direction='<'), var(method='delong'), "
            "ci.auc(method='delong'), roc.test(method='delong', paired=TRUE, alternative); log_loss, "
            "brier_score_loss and calibration_curve(n_bins=10) ECE of sigmoid(a)")
    # Classification metrics on predicted labels, including undefined precision.
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 0])
    pr = np.array([1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1])
    h.array("kClsLabels", y, "int")
    h.array("kClsPredictions", pr, "int")
    h.raw("// sklearn accuracy_score, precision_score, recall_score, f1_score of kClsPredictions against kClsLabels\n")
    h.raw(f"inline constexpr double kClsAccuracy = {num(skm.accuracy_score(y, pr))};\n")
    h.raw(f"inline constexpr double kClsPrecision = {num(skm.precision_score(y, pr))};\n")
    h.raw(f"inline constexpr double kClsRecall = {num(skm.recall_score(y, pr))};\n")
    h.raw(f"inline constexpr double kClsF1 = {num(skm.f1_score(y, pr))};\n")
    # Probabilities with exact bin edges and clipping extremes.
    probs = np.array([0.0, 0.1, 0.2, 0.30000000000000004, 0.35, 0.5, 0.7, 0.9, 1.0, 1e-20, 0.999999999999, 0.6])
    ly = np.array([0, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0])
    h.array("kEdgeProbs", probs)
    h.array("kEdgeLabels", ly, "int")
    h.raw("// sklearn log_loss(labels=[0,1]), brier_score_loss, and calibration_curve ECE (10 and 4 bins) of kEdgeProbs\n")
    h.raw(f"inline constexpr double kEdgeLogLoss = {num(skm.log_loss(ly, probs, labels=[0, 1]))};\n")
    h.raw(f"inline constexpr double kEdgeBrier = {num(skm.brier_score_loss(ly, probs))};\n")
    h.raw(f"inline constexpr double kEdgeEce10 = {num(ece_reference(ly, probs, 10))};\n")
    h.raw(f"inline constexpr double kEdgeEce4 = {num(ece_reference(ly, probs, 4))};\n")


def ece_reference(y, p, bins):
    """ECE from sklearn's calibration_curve (uniform bins) and the same binning's counts."""
    prob_true, prob_pred = sklearn.calibration.calibration_curve(y, p, n_bins=bins, strategy="uniform")
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], p)
    counts = np.bincount(ids, minlength=len(edges))
    counts = counts[counts != 0]
    return float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))


# ------------------------------------------------------------------------------------------------
# Drift statistics (Evidently's algorithm on numpy/scipy; printed for tests/stats/drift_statistics_test.cpp)


def evidently_binned(ref, cur, fill):
    """Evidently's get_binned_data (legacy stattests/utils.py) for a numeric feature, followed
    step by step: more than 20 distinct reference values -> numpy's Sturges edges over both samples
    and np.histogram; otherwise one bin per value present in either sample. Proportions are counts /
    size; `fill` applies its empty-bin replacement (1e-4, or min non-zero / 1e6 when that is <= 1e-4)."""
    ref = np.asarray(ref, dtype=float)
    cur = np.asarray(cur, dtype=float)
    if len(np.unique(ref)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        r = np.histogram(ref, edges)[0] / len(ref)
        c = np.histogram(cur, edges)[0] / len(cur)
    else:
        edges = None
        keys = sorted(set(ref.tolist()) | set(cur.tolist()))
        r = np.array([np.count_nonzero(ref == k) / len(ref) for k in keys])
        c = np.array([np.count_nonzero(cur == k) / len(cur) for k in keys])
    if fill:
        r = evidently_fill(r)
        c = evidently_fill(c)
    return r, c, edges


def evidently_fill(p):
    p = np.array(p, dtype=float)
    m = min(p[p != 0])
    np.place(p, p == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return p


def drift_values(r_raw, c_raw):
    """PSI, KL and JS of Evidently's psi.py, kl_div.py and jensenshannon.py on unfilled proportions."""
    import scipy.spatial.distance as ssd
    r, c = evidently_fill(r_raw), evidently_fill(c_raw)
    psi = float(np.sum((r - c) * np.log(r / c)))
    kl = float(st.entropy(r, c))
    js = float(ssd.jensenshannon(np.asarray(r_raw, float), np.asarray(c_raw, float)))
    return psi, kl, js


def wasserstein_normed(ref, cur):
    """Evidently's wasserstein_distance_norm.py: scipy wasserstein_distance / max(np.std(ref), 0.001)."""
    return float(st.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001))


def section_drift():
    rng = np.random.default_rng(SEED + 4)
    samples = {
        "shift": (rng.normal(0.0, 1.0, 300), rng.normal(0.3, 1.2, 250)),
        "disjoint": (rng.normal(0.0, 1.0, 200), rng.normal(4.0, 0.5, 150)),
        "same": None,
        "discrete": (rng.poisson(3.0, 120).astype(float), np.append(rng.poisson(3.5, 99), 40.0).astype(float)),
        "constant": (np.full(40, 5.0), np.array([5.0] * 30 + [6.0] * 10)),
    }
    base = rng.normal(10.0, 2.0, 400)
    samples["same"] = (base[:200], base[200:])
    out = ["// BEGIN generated by scripts/stats_reference.py --drift",
           f"// numpy {np.__version__}, scipy {scipy.__version__}; inputs numpy default_rng(seed={SEED + 4})."]
    cases = []
    for name, (ref, cur) in samples.items():
        cname = camel(name)
        out.append(f"constexpr double k{cname}Reference[] = {{{', '.join(num(x) for x in ref)}}};")
        out.append(f"constexpr double k{cname}Current[] = {{{', '.join(num(x) for x in cur)}}};")
        r_raw, c_raw, edges = evidently_binned(ref, cur, fill=False)
        psi, kl, js = drift_values(r_raw, c_raw)
        wd = wasserstein_normed(ref, cur)
        first = edges[0] if edges is not None else 0.0
        last = edges[-1] if edges is not None else 0.0
        cases.append(f"    {{\"{name}\", k{cname}Reference, k{cname}Current, {len(r_raw)}, "
                     f"{'false' if edges is not None else 'true'}, {num(first)}, {num(last)}, "
                     f"{num(psi)}, {num(kl)}, {num(js)}, {num(wd)}}}")
    out.append("const DriftCase kDriftCases[] = {\n" + ",\n".join(cases) + "};")
    # Proportion vectors given directly: a non-zero proportion <= 1e-4 switches the fill to min / 1e6.
    props = [("tiny", [0.5, 0.49995, 0.00005, 0.0], [0.4, 0.3, 0.0, 0.3]),
             ("plain", [0.25, 0.25, 0.25, 0.25, 0.0], [0.1, 0.2, 0.3, 0.0, 0.4])]
    rows = []
    for name, r, c in props:
        psi, kl, js = drift_values(r, c)
        rows.append(f"    {{\"{name}\", {{{', '.join(num(x) for x in r)}}}, {{{', '.join(num(x) for x in c)}}}, "
                    f"{num(psi)}, {num(kl)}, {num(js)}}}")
    out.append("const ProportionCase kProportionCases[] = {\n" + ",\n".join(rows) + "};")
    # Categorical counts: categories in neither sample are dropped (Evidently's keys are the values seen).
    ref_counts, cur_counts = [50, 30, 20, 0, 0], [40, 30, 25, 5, 0]
    keep = [i for i in range(len(ref_counts)) if ref_counts[i] or cur_counts[i]]
    r = np.array([ref_counts[i] for i in keep]) / sum(ref_counts)
    c = np.array([cur_counts[i] for i in keep]) / sum(cur_counts)
    psi, kl, js = drift_values(r, c)
    out.append(f"constexpr double kCategoricalPsi = {num(psi)}, kCategoricalKl = {num(kl)}, "
               f"kCategoricalJs = {num(js)};")
    out.append("// END generated by scripts/stats_reference.py --drift")
    print("\n".join(out))


WILCOXON_ZERO = {"wilcox": "WilcoxonZeroMethod::kWilcox", "pratt": "WilcoxonZeroMethod::kPratt",
                 "zsplit": "WilcoxonZeroMethod::kZsplit"}
WILCOXON_METHOD = {"auto": "WilcoxonMethod::kAuto", "exact": "WilcoxonMethod::kExact",
                   "approx": "WilcoxonMethod::kNormal"}


def paired_datasets():
    """Per-request losses of two models scored on the same requests (a: one model, b: the other)."""
    rng = np.random.default_rng(SEED + 5)
    d = {}
    a = np.round(rng.gamma(2.0, 0.2, 12), 6)
    d["small"] = (a, np.round(a + rng.normal(-0.05, 0.08, 12), 6))
    a = np.round(rng.gamma(2.0, 0.2, 50), 6)
    d["exact50"] = (a, np.round(a + rng.normal(0.02, 0.1, 50), 6))
    a = rng.gamma(2.0, 0.2, 80)
    d["normal80"] = (a, a + rng.normal(-0.015, 0.1, 80))
    a = rng.gamma(2.0, 0.2, 400)
    d["large"] = (a, a + rng.normal(0.01, 0.12, 400))
    # Integer scores, no pair equal: ties in |a - b| but no zeros (n <= 50).
    b = rng.poisson(3.0, 24).astype(float)
    d["ties"] = (b + rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0], 24), b)
    # Integer scores with equal pairs: zeros and ties.
    d["zeros"] = (rng.poisson(4.0, 30).astype(float), rng.poisson(4.0, 30).astype(float))
    a = 1e6 + rng.normal(0.0, 1.0, 100)
    d["bigmean"] = (a, a + rng.normal(0.05, 0.1, 100))
    for name, (a, b) in d.items():
        diff = a - b
        nz = np.abs(diff[diff != 0])
        has_ties = len(np.unique(nz)) < len(nz)
        if name in ("small", "exact50", "normal80", "large", "bigmean"):
            assert not has_ties and not np.any(diff == 0), name
        if name == "ties":
            assert has_ties and not np.any(diff == 0)
        if name == "zeros":
            assert has_ties and np.any(diff == 0)
    return d


def rank_sums(a, b, zero_method):
    d = np.asarray(a, float) - np.asarray(b, float)
    if zero_method == "wilcox":
        d = d[d != 0]
    r = st.rankdata(np.abs(d))
    r_plus, r_minus, r_zero = r[d > 0].sum(), r[d < 0].sum(), r[d == 0].sum()
    if zero_method == "zsplit":
        r_plus, r_minus = r_plus + r_zero / 2, r_minus + r_zero / 2
    return float(r_plus), float(r_minus)


def section_paired():
    """Prints the inputs and references of tests/stats/paired_tests_test.cpp."""
    data = paired_datasets()
    out = ["// BEGIN generated by scripts/stats_reference.py --paired",
           f"// numpy {np.__version__}, scipy {scipy.__version__}; inputs numpy default_rng(seed={SEED + 5})."]
    for name, (a, b) in data.items():
        out.append(f"constexpr double k{camel(name)}A[] = {{{', '.join(num(x) for x in a)}}};")
        out.append(f"constexpr double k{camel(name)}B[] = {{{', '.join(num(x) for x in b)}}};")
    # scipy.stats.ttest_rel(a, b, alternative); interval mean(d) -+ t.isf((1 - confidence) / 2, n - 1) * se
    # with se = std(d, ddof=1) / sqrt(n) (scipy 1.11's TtestResult.confidence_interval formula), the t
    # quantile by mpmath at 40 digits (scipy 1.10.1's t.isf(0.025, 49) is 1.3e-9 off).
    rows = []
    for name, confidence in (("small", 0.95), ("exact50", 0.95), ("normal80", 0.9), ("large", 0.95),
                             ("ties", 0.95), ("zeros", 0.99), ("bigmean", 0.95)):
        a, b = data[name]
        r2 = st.ttest_rel(a, b)
        rl = st.ttest_rel(a, b, alternative="less")
        rg = st.ttest_rel(a, b, alternative="greater")
        d = a - b
        n = len(d)
        se = float(np.std(d, ddof=1)) / math.sqrt(n)
        mean = float(np.mean(d))
        with mpmath.workdps(40):
            crit = float(t_isf_mp(mpmath.mpf(1 - confidence) / 2, mpmath.mpf(n - 1)))
        vals = (r2.statistic, r2.pvalue, rl.pvalue, rg.pvalue, n - 1, mean, se, mean - crit * se, mean + crit * se)
        rows.append(f"    {{\"{name}\", k{camel(name)}A, k{camel(name)}B, {num(confidence)}, "
                    + ", ".join(num(v) for v in vals) + "}")
    out.append("const PairedTCase kPairedTCases[] = {\n" + ",\n".join(rows) + "};")
    # scipy.stats.wilcoxon(a, b, zero_method, correction, alternative, method); method is what the
    # C++ side resolves to ('approx' for its kAuto on ties, where scipy 1.10.1's 'auto' stays exact).
    cases = [("small", "wilcox", False, "auto", "exact"), ("small", "wilcox", True, "approx", "approx"),
             ("exact50", "wilcox", False, "auto", "exact"), ("normal80", "wilcox", False, "auto", "approx"),
             ("normal80", "wilcox", False, "exact", "exact"), ("large", "wilcox", True, "auto", "approx"),
             ("ties", "wilcox", False, "auto", "approx"), ("zeros", "wilcox", False, "auto", "approx"),
             ("zeros", "pratt", False, "auto", "approx"), ("zeros", "zsplit", False, "auto", "approx"),
             ("zeros", "pratt", True, "auto", "approx"), ("zeros", "zsplit", True, "auto", "approx"),
             ("zeros", "wilcox", True, "approx", "approx")]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Sample size too small for normal approximation", switch to approx
        for name, zero_method, correction, ours, scipy_method in cases:
            a, b = data[name]
            kw = dict(zero_method=zero_method, correction=correction, method=scipy_method)
            r2 = st.wilcoxon(a, b, **kw)
            rl = st.wilcoxon(a, b, alternative="less", **kw)
            rg = st.wilcoxon(a, b, alternative="greater", **kw)
            z = float(r2.zstatistic) if scipy_method == "approx" else 0.0
            r_plus, r_minus = rank_sums(a, b, zero_method)
            assert r_plus == float(rg.statistic) and min(r_plus, r_minus) == float(r2.statistic)
            auto = st.wilcoxon(a, b, **dict(kw, method="auto"))
            if ours == "auto" and name != "ties":  # elsewhere the C++ kAuto is scipy 1.10.1's 'auto'
                assert float(auto.pvalue) == float(r2.pvalue), name
            effect = (r_plus - r_minus) / (r_plus + r_minus)
            vals = (r2.statistic, r2.pvalue, rl.pvalue, rg.pvalue, r_plus, r_minus, z, effect)
            rows.append(f"    {{\"{name}_{zero_method}{'_corrected' if correction else ''}_{ours}\", "
                        f"k{camel(name)}A, k{camel(name)}B, {WILCOXON_ZERO[zero_method]}, "
                        f"{'true' if correction else 'false'}, {WILCOXON_METHOD[ours]}, "
                        f"{'true' if scipy_method == 'exact' else 'false'}, " + ", ".join(num(v) for v in vals) + "}")
    out.append("const WilcoxonCase kWilcoxonCases[] = {\n" + ",\n".join(rows) + "};")
    a, b = data["ties"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = st.wilcoxon(a, b)
    out.append(f"// scipy {scipy.__version__} wilcoxon(ties) with method='auto': the tie-free exact distribution at "
               "int(r_plus).")
    out.append(f"constexpr double kScipyAutoTiesP = {num(auto.pvalue)};")
    out.append("// END generated by scripts/stats_reference.py --paired")
    print("\n".join(out))


# ------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gbstats", help="path to a growthbook checkout's packages/stats directory")
    ap.add_argument("--out", help="the C++ header to write")
    ap.add_argument("--welch-large-n", action="store_true",
                    help="only print the references of TTestTest.raw_samples_keep_1e12_accuracy_at_5_million_per_arm")
    ap.add_argument("--drift", action="store_true",
                    help="only print the inputs and references of tests/stats/drift_statistics_test.cpp")
    ap.add_argument("--paired", action="store_true",
                    help="only print the inputs and references of tests/stats/paired_tests_test.cpp")
    args = ap.parse_args()
    if args.drift:
        section_drift()
        return
    if args.paired:
        section_paired()
        return
    if args.welch_large_n:
        section_welch_large_n()
        return
    if not args.gbstats or not args.out:
        ap.error("--gbstats and --out are required")

    d = datasets()
    h = Header()
    h.raw("// Reference data for Switchyard's statistics tests.\n")
    section_ttest(h, d)
    section_quantiles(h)
    section_mwu(h, d)
    section_ks(h, d)
    section_chi2(h)
    section_proportions(h)
    gb_version = section_growthbook(h, d, args.gbstats)
    section_power(h)
    section_multitest(h)
    section_auc(h, True)
    for k in ("tied_all", "small_a", "small_b", "const_a", "large_a", "large_b"):
        h.array("k" + camel(k), d[k])

    tools = (f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, numpy {np.__version__}, "
             f"statsmodels {statsmodels.__version__}, gbstats {gb_version}, {r_version()}")
    preamble = (
        "// SPDX-License-Identifier: Apache-2.0\n"
        "// Reference values for the statistics tests. GENERATED by scripts/stats_reference.py; do not edit.\n"
        "#pragma once\n\n"
        "// Produced with: " + tools + "\n"
        f"// Inputs: numpy default_rng(seed={SEED}) (+1, +2, +3 for CUPED, multiple comparisons, AUC),\n"
        "// written out below, so the C++ tests read the identical numbers.\n\n"
        "#include <cstddef>\n#include <cstdint>\n#include <limits>\n#include <span>\n\n"
        "namespace switchyard::stats::reference {\n\n"
        "inline constexpr double kInf = std::numeric_limits<double>::infinity();\n\n")
    with open(args.out, "w") as f:
        f.write(preamble + h.text() + "\n}  // namespace switchyard::stats::reference\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
