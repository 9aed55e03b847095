#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Times scikit-learn's roc_auc_score and scipy's ttest_ind on the data benchmarks/stats_bench.cpp
uses (the same SplitMix64 generator and seed, bit for bit), and prints medians, so the C++
benchmark's ratio to the Python reference tools can be reported.

Usage (Debian's /usr/bin/python3 has scipy and scikit-learn):
  /usr/bin/python3 scripts/stats_bench_python.py [--repetitions 7]

It also prints the AUC and t statistic, which must equal the `auc` and `t` counters of
BM_Stats_RocAucDeLong1M and BM_Stats_WelchTTestSamples (same data, same statistic).
"""

import argparse
import statistics
import time

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.metrics import roc_auc_score

SEED = 20261123
N = 1_000_000
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(idx):
    """SplitMix64 output number idx (0-based) for the fixed seed, vectorised; wraps like C++."""
    with np.errstate(over="ignore"):
        z = np.uint64(SEED) + (idx.astype(np.uint64) + np.uint64(1)) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(idx):
    return (splitmix64(idx) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def data():
    i = np.arange(N, dtype=np.uint64)
    labels = (uniform(2 * i) < 0.3).astype(np.int64)
    s = uniform(2 * i + 1) + 0.25 * labels
    scores = np.trunc(s * 4096.0) / 4096.0
    h = np.arange(N // 2, dtype=np.uint64)
    treatment = uniform(np.uint64(5 * N) + h) + 0.001
    control = uniform(np.uint64(6 * N) + h)
    return labels, scores, treatment, control


def median_ms(fn, reps):
    """Median wall and CPU milliseconds over reps calls (CPU time is the fair figure on a busy
    machine, and what Google Benchmark reports as CPU)."""
    wall, cpu = [], []
    out = None
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
    return statistics.median(wall), statistics.median(cpu), out


DRIFT_FEATURES, DRIFT_BINS = 1000, 32


def drift_data():
    """The proportions of BM_Stats_DriftPsi1000Features32Bins: 1,000 features x 32 bins, one empty
    current bin per feature (bin f % 32)."""
    i = np.arange(DRIFT_FEATURES * DRIFT_BINS, dtype=np.uint64)
    ref = (0.5 + uniform(np.uint64(7_000_000) + i)).reshape(DRIFT_FEATURES, DRIFT_BINS)
    cur = (0.5 + uniform(np.uint64(8_000_000) + i)).reshape(DRIFT_FEATURES, DRIFT_BINS)
    cur[np.arange(DRIFT_FEATURES), np.arange(DRIFT_FEATURES) % DRIFT_BINS] = 0.0
    return ref / ref.sum(axis=1, keepdims=True), cur / cur.sum(axis=1, keepdims=True)


def evidently_fill_rows(p):
    """Evidently's empty-bin replacement per row: 1e-4, or min non-zero / 1e6 when that is <= 1e-4."""
    m = np.where(p != 0, p, np.inf).min(axis=1, keepdims=True)
    return np.where(p == 0, np.where(m <= 1e-4, m / 1e6, 1e-4), p)


def psi_vectorised(ref, cur):
    r, c = evidently_fill_rows(ref), evidently_fill_rows(cur)
    return ((r - c) * np.log(r / c)).sum(axis=1)


def psi_per_feature(ref, cur):
    """One feature at a time, the way Evidently's psi stattest runs (without its pandas binning)."""
    out = np.empty(len(ref))
    for f in range(len(ref)):
        r, c = evidently_fill_rows(ref[f:f + 1])[0], evidently_fill_rows(cur[f:f + 1])[0]
        out[f] = np.sum((r - c) * np.log(r / c))
    return out


def drift_main(reps):
    ref, cur = drift_data()
    print(f"numpy {np.__version__}; PSI of {DRIFT_FEATURES} features x {DRIFT_BINS} bins")
    wall, cpu, v = median_ms(lambda: psi_vectorised(ref, cur), reps)
    print(f"numpy vectorised: median wall {wall:.3f} ms, cpu {cpu:.3f} ms, "
          f"{cpu * 1e6 / DRIFT_FEATURES:.0f} ns cpu per feature (psi_sum {v.sum()!r})")
    wall, cpu, v = median_ms(lambda: psi_per_feature(ref, cur), reps)
    print(f"numpy per feature: median wall {wall:.3f} ms, cpu {cpu:.3f} ms, "
          f"{cpu * 1e6 / DRIFT_FEATURES:.0f} ns cpu per feature (psi_sum {v.sum()!r})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repetitions", type=int, default=7)
    ap.add_argument("--drift", action="store_true",
                    help="only time the PSI of BM_Stats_DriftPsi1000Features32Bins in numpy")
    args = ap.parse_args()
    if args.drift:
        drift_main(args.repetitions)
        return
    labels, scores, treatment, control = data()
    print(f"scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, numpy {np.__version__}")
    wall, cpu, auc = median_ms(lambda: roc_auc_score(labels, scores), args.repetitions)
    print(f"roc_auc_score 1M: median wall {wall:.2f} ms, cpu {cpu:.2f} ms (auc {auc!r})")
    wall, cpu, r = median_ms(lambda: scipy.stats.ttest_ind(treatment, control, equal_var=False), args.repetitions)
    print(f"ttest_ind Welch 2x500k: median wall {wall:.2f} ms, cpu {cpu:.2f} ms (t {r.statistic!r})")


if __name__ == "__main__":
    main()
