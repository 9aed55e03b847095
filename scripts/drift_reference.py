#!/usr/bin/python3
"""Reference values for tests/drift/*_test.cpp: Evidently's drift procedure written out with numpy
and scipy (Debian 12: numpy 1.24.2, scipy 1.10.1), on data both sides generate from the same
closed-form formulas (libm's sin and cos give the same doubles in C++ and Python).

Evidently's rules as implemented here (legacy stattests, Evidently 0.7): non-finite values
dropped; a reference with more than 20 distinct values is binned by numpy's Sturges histogram
over reference and current together, otherwise one bin per value of either sample; PSI and KL
replace empty bins by 1e-4 (or min/1e6), Jensen-Shannon does not; Wasserstein is
scipy.stats.wasserstein_distance / max(np.std(reference), 0.001); KS is ks_2samp's p-value;
chi-square is scipy.stats.chisquare(current counts, reference counts * n_cur / n_ref) over the
values of either sample; the z-test codes the smallest value 0, others 1, pooled variance.

Usage: /usr/bin/python3 scripts/drift_reference.py   (prints the constants the tests hold)
"""
import math

import numpy as np
from scipy import spatial, stats


def numeric_ref(n):
    return np.array([math.sin(0.7 * i + 0.3) * 1.5 + math.cos(0.13 * i) for i in range(n)])


def numeric_cur(n, shift):
    return np.array([math.sin(0.41 * j + 1.1) * 1.5 + math.cos(0.17 * j) + shift for j in range(n)])


def fill(p):
    p = p.copy()
    m = p[p != 0].min()
    p[p == 0] = m / 1e6 if m <= 1e-4 else 1e-4
    return p


def evidently_bins(ref, cur):
    if len(np.unique(ref)) > 20:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        r = np.histogram(ref, edges)[0] / len(ref)
        c = np.histogram(cur, edges)[0] / len(cur)
    else:
        keys = np.unique(np.concatenate([ref, cur]))
        r = np.array([(ref == k).sum() for k in keys]) / len(ref)
        c = np.array([(cur == k).sum() for k in keys]) / len(cur)
    return r, c


def psi(r, c):
    r, c = fill(r), fill(c)
    return float(np.sum((r - c) * np.log(r / c)))


def kl(r, c):
    return float(stats.entropy(fill(r), fill(c)))


def js(r, c):
    return float(spatial.distance.jensenshannon(r, c))


def wasserstein(ref, cur):
    return float(stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001))


def ks_p(ref, cur):
    return float(stats.ks_2samp(ref, cur)[1])


def chi_p(ref_counts, cur_counts):
    ref_counts = np.asarray(ref_counts, float)
    cur_counts = np.asarray(cur_counts, float)
    keep = (ref_counts > 0) | (cur_counts > 0)
    exp = ref_counts[keep] * cur_counts.sum() / ref_counts.sum()
    return float(stats.chisquare(cur_counts[keep], exp)[1])


def z_p(ref_counts, cur_counts):
    # counts per key in ascending key order; the first key present is "0".
    first = next(i for i in range(len(ref_counts)) if ref_counts[i] or cur_counts[i])
    n1, n2 = sum(ref_counts), sum(cur_counts)
    p1 = (n1 - ref_counts[first]) / n1
    p2 = (n2 - cur_counts[first]) / n2
    P = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(abs(z))))


def fixed_bin_counts(edges, values):
    """Switchyard's live slots: below, numpy's bins, above."""
    inner = np.histogram(values, edges)[0]
    return np.concatenate([[(values < edges[0]).sum()], inner, [(values > edges[-1]).sum()]])


def show(name, v):
    print(f"  {name} = {v!r}")


def main():
    print("# exact procedure, n_ref = 800, n_cur = 500, shift 0.3 (KS is the default)")
    ref, cur = numeric_ref(800), numeric_cur(500, 0.3)
    r, c = evidently_bins(ref, cur)
    show("psi", psi(r, c)); show("kl", kl(r, c)); show("js", js(r, c))
    show("wasserstein", wasserstein(ref, cur)); show("ks_p", ks_p(ref, cur))
    show("ks_d", float(stats.ks_2samp(ref, cur)[0]))

    print("# exact procedure, n_ref = 3000, n_cur = 700, shift 0.05 (Wasserstein is the default)")
    ref, cur = numeric_ref(3000), numeric_cur(700, 0.05)
    r, c = evidently_bins(ref, cur)
    show("psi", psi(r, c)); show("wasserstein", wasserstein(ref, cur)); show("js", js(r, c))

    print("# binned procedure: the reference's own Sturges edges, n_ref = 3000, n_cur = 700, shift 0.05")
    edges = np.histogram_bin_edges(ref, bins="sturges")
    rc = fixed_bin_counts(edges, ref).astype(float)
    cc = fixed_bin_counts(edges, cur).astype(float)
    keep = np.ones(len(rc), bool)
    keep[0] = rc[0] > 0 or cc[0] > 0
    keep[-1] = rc[-1] > 0 or cc[-1] > 0
    rp, cp = rc[keep] / rc.sum(), cc[keep] / cc.sum()
    show("bins", len(edges) - 1)
    show("psi", psi(rp, cp)); show("kl", kl(rp, cp)); show("js", js(rp, cp))

    print("# binned procedure, shift 3.0 (values above the last edge)")
    cur3 = numeric_cur(700, 3.0)
    cc = fixed_bin_counts(edges, cur3).astype(float)
    keep = np.ones(len(rc), bool)
    keep[0] = rc[0] > 0 or cc[0] > 0
    keep[-1] = rc[-1] > 0 or cc[-1] > 0
    rp, cp = rc[keep] / rc.sum(), cc[keep] / cc.sum()
    show("psi", psi(rp, cp)); show("above", int(cc[-1]))

    print("# categorical: codes 0..4, reference counts and window counts")
    ref_counts = [120, 300, 250, 200, 130]
    cur_counts = [100, 280, 300, 150, 170]
    show("chi_p", chi_p(ref_counts, cur_counts))
    r = np.array(ref_counts) / sum(ref_counts); c = np.array(cur_counts) / sum(cur_counts)
    show("psi", psi(r, c)); show("js", js(r, c)); show("kl", kl(r, c))
    print("# categorical with a new category (code 7, 40 times)")
    ref7 = ref_counts + [0]; cur7 = cur_counts + [40]
    r = np.array(ref7) / sum(ref7); c = np.array(cur7) / sum(cur7)
    show("psi", psi(r, c)); show("js", js(r, c))
    show("chi_p", chi_p(ref7, cur7))

    print("# binary: reference 0:600 1:400, window 0:520 1:480")
    show("z_p", z_p([600, 400], [520, 480]))
    r = np.array([600, 400]) / 1000; c = np.array([520, 480]) / 1000
    show("psi", psi(r, c))

    print("# Bonferroni on three KS p-values: min(1, p * 3)")


if __name__ == "__main__":
    main()
