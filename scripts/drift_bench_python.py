#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Times, with numpy and scipy, the drift evaluation benchmarks/drift_evaluate_bench.cpp times:
1,000 numeric features x 32 bins, PSI (Evidently's empty-bin replacement) plus the default test
per feature from the binned counts: Wasserstein normed (large reference) or Kolmogorov-Smirnov
with scipy's kstwo p-value (reference under 1,000 rows). Same SplitMix64 stream and seed, so the
data are identical; it prints medians and the psi_sum / test_sum the C++ counters report.

Two ways are timed: numpy vectorised over all features at once (the fastest numpy can do), and
one feature at a time (the way Evidently runs a stattest per column).

Usage (Debian's /usr/bin/python3 has numpy and scipy):
  /usr/bin/python3 scripts/drift_bench_python.py [--repetitions 7]
"""

import argparse
import statistics
import time

import numpy as np
import scipy
import scipy.stats

SEED = 20261123
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
FEATURES = 1000
BINS = 32


def splitmix64(idx):
    with np.errstate(over="ignore"):
        z = np.uint64(SEED) + (idx.astype(np.uint64) + np.uint64(1)) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(idx):
    return (splitmix64(idx) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def data(small_reference):
    i = np.arange(FEATURES * BINS, dtype=np.uint64)
    u = uniform(np.uint64(9_000_000) + i).reshape(FEATURES, BINS)
    ref = (5 + np.floor(20 * u)) if small_reference else (100 + np.floor(200 * u))
    cur = 20 + np.floor(100 * uniform(np.uint64(10_000_000) + i).reshape(FEATURES, BINS))
    cur[np.arange(FEATURES), np.arange(FEATURES) % BINS] = 0.0
    edges = np.arange(BINS + 1) / BINS
    centers = (edges[:-1] + edges[1:]) / 2
    n = ref.sum(axis=1)
    mean = (ref * centers).sum(axis=1) / n
    std = np.sqrt(np.maximum(0.0, (ref * centers * centers).sum(axis=1) / n - mean * mean))
    return ref, cur, edges, std


def fill(p):
    m = np.where(p != 0, p, np.inf).min(axis=-1, keepdims=True)
    return np.where(p == 0, np.where(m <= 1e-4, m / 1e6, 1e-4), p)


def psi(ref, cur):
    r = fill(ref / ref.sum(axis=-1, keepdims=True))
    c = fill(cur / cur.sum(axis=-1, keepdims=True))
    return ((r - c) * np.log(r / c)).sum(axis=-1)


def cdf_gap(ref, cur):
    zero = np.zeros(ref.shape[:-1] + (1,))
    fr = np.concatenate([zero, np.cumsum(ref, axis=-1) / ref.sum(axis=-1, keepdims=True)], axis=-1)
    fc = np.concatenate([zero, np.cumsum(cur, axis=-1) / cur.sum(axis=-1, keepdims=True)], axis=-1)
    return fr - fc


def wasserstein_binned(ref, cur, edges, std):
    """Mass spread evenly within each bin: |F_ref - F_cur| is linear on a bin, integrated exactly."""
    d = cdf_gap(ref, cur)
    d0, d1 = d[..., :-1], d[..., 1:]
    w = np.diff(edges)
    same = (d0 >= 0) == (d1 >= 0)
    a0, a1 = np.abs(d0), np.abs(d1)
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = (d0 * d0 + d1 * d1) / (2 * (a0 + a1))
    seg = np.where(same, (a0 + a1) / 2, crossing) * w
    return seg.sum(axis=-1) / np.maximum(std, 0.001)


def ks_binned(ref, cur):
    dmax = np.abs(cdf_gap(ref, cur)).max(axis=-1)
    n, m = ref.sum(axis=-1), cur.sum(axis=-1)
    en = np.round(n * m / (n + m))
    return np.where(dmax == 0, 1.0, scipy.stats.kstwo.sf(dmax, np.maximum(en, 1)))


def vectorised(ref, cur, edges, std, small):
    p = psi(ref, cur)
    t = ks_binned(ref, cur) if small else wasserstein_binned(ref, cur, edges, std)
    return p, t


def per_feature(ref, cur, edges, std, small):
    p = np.empty(FEATURES)
    t = np.empty(FEATURES)
    for f in range(FEATURES):
        p[f] = psi(ref[f], cur[f])
        if small:
            t[f] = ks_binned(ref[f:f + 1], cur[f:f + 1])[0]
        else:
            t[f] = wasserstein_binned(ref[f], cur[f], edges, std[f])
    return p, t


def median_ms(fn, reps):
    walls, cpus, out = [], [], None
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append((time.perf_counter() - w0) * 1e3)
        cpus.append((time.process_time() - c0) * 1e3)
    return statistics.median(walls), statistics.median(cpus), out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repetitions", type=int, default=7)
    args = ap.parse_args()
    print(f"numpy {np.__version__}, scipy {scipy.__version__}; {FEATURES} features x {BINS} bins")
    for small, name in ((False, "BM_Drift_Evaluate1000Features32Bins (PSI + wasserstein)"),
                        (True, "BM_Drift_Evaluate1000Features32BinsSmallReference (PSI + ks)")):
        ref, cur, edges, std = data(small)
        print(name)
        for label, fn in (("numpy vectorised", vectorised), ("numpy per feature", per_feature)):
            wall, cpu, (p, t) = median_ms(lambda: fn(ref, cur, edges, std, small), args.repetitions)
            print(f"  {label}: median wall {wall:.3f} ms, cpu {cpu:.3f} ms "
                  f"(psi_sum {p.sum()!r}, test_sum {t.sum()!r})")


if __name__ == "__main__":
    main()
