#!/usr/bin/env bash
# Builds the benchmarks in Release and runs them with repetitions, then prints the ratios the
# issues ask for (ours against a baseline measured in the same run). Not run by CI.
# Usage: scripts/run-benchmarks.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/bench}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWITCHYARD_BUILD_TESTS=OFF \
  -DSWITCHYARD_BUILD_EXAMPLES=OFF -DSWITCHYARD_BUILD_BENCHMARKS=ON > /dev/null
cmake --build "$build" -j2
out="$build/results"
mkdir -p "$out"
for b in "$build"/benchmarks/*_bench; do
  name=$(basename "$b")
  "$b" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/$name.json" --benchmark_out_format=json
done

python=/usr/bin/python3
seed_ns=$($python scripts/seed_split_traffic.py)
$python - "$out" "$seed_ns" <<'PY'
import json, sys, glob, os
out, seed_ns = sys.argv[1], float(sys.argv[2])
med = {}
for f in glob.glob(os.path.join(out, "*.json")):
    for b in json.load(open(f))["benchmarks"]:
        if b.get("aggregate_name") == "median":
            med[b["run_name"]] = b
def t(name):
    return med[name]["real_time"] if name in med else float("nan")
print("\nmedians (ns unless stated) and ratios; a threads:2 time is wall time per request over "
      "both threads, so 1-thread time / 2-thread time is the throughput gain")
route1 = t("BM_Router_RouteSticky/real_time/threads:1")
route2 = t("BM_Router_RouteSticky/real_time/threads:2")
base2 = t("BM_Router_RouteAtomicSharedPtrBaseline/real_time/threads:2")
print(f"route one key: {route1:.1f} (1 thread), {route2:.1f} (2 threads); "
      f"atomic<shared_ptr> baseline with 2 threads {base2:.1f}: ratio {base2 / route2:.1f}x")
p1 = t("BM_Deployment_Predict/real_time/threads:1")
p2 = t("BM_Deployment_Predict/real_time/threads:2")
m1 = t("BM_Deployment_ModelCallBaseline/real_time/threads:1")
print(f"Deployment::predict overhead: {p1 - m1:.1f} (predict {p1:.1f} - model call {m1:.1f}); "
      f"2-thread throughput {p1 / p2:.2f}x single-threaded")
print(f"metrics record: {t('BM_Metrics_RecordSuccess/real_time/threads:1'):.1f}")
for interval in (1000, 100, 0):
    swap = med.get(f"BM_Deployment_SwapUnderLoad/10000/{interval}/iterations:1/real_time")
    if swap:
        pace = f"one every {interval} us" if interval else "back to back"
        print(f"10,000 swaps under load, {pace}: p99 steady {swap['p99_steady_ns']:.0f}, swapping "
              f"{swap['p99_swapping_ns']:.0f}, ratio {swap['p99_ratio']:.2f}; p99.9 ratio "
              f"{swap['p999_ratio']:.2f}; failed {swap['failed_requests']:.0f}")
print(f"seed split_traffic in Python: {seed_ns:.1f} per assignment; router: {route1:.1f}; "
      f"ratio {seed_ns / route1:.0f}x")
for name in ("BM_Registry_LookupByAlias/real_time/threads:1", "BM_Registry_LookupLatest/real_time/threads:1",
             "BM_Registry_RegisterWith10kStored/real_time",
             "BM_Registry_RegisterFileArtifactWith10kStored/real_time",
             "BM_Registry_Reopen10k/real_time"):
    if name in med:
        b = med[name]
        print(f"{name}: {b['real_time']:.3f} {b['time_unit']}")
for ours, baseline, what in (
        ("BM_Registry_RegisterWith10kStored/real_time", "BM_Durable_RowAndBlobBaseline/real_time",
         "artifact kept in the store; by hand: one SQLite commit of a row and the artifact's bytes"),
        ("BM_Registry_RegisterFileArtifactWith10kStored/real_time",
         "BM_Durable_FileAndRowBaseline/real_time",
         "artifact as a file; by hand: new file fsynced, renamed, directory fsynced, one SQLite row")):
    reg, base = med.get(ours), med.get(baseline)
    if reg and base:
        print(f"durable register {reg['real_time']:.0f} us, {what}: {base['real_time']:.0f} us; "
              f"ratio {reg['real_time'] / base['real_time']:.2f}")
PY
