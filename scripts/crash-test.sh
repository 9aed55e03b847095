#!/usr/bin/env bash
# Crash-consistency run: SIGKILLs a child doing registry operations at random moments, reopens
# the store after each kill and checks it holds exactly the acknowledged operations (and at most
# the one in flight), intact artifacts, and takes new writes; then two processes register into one
# store at once. See tests/reliability/crash_consistency_test.cpp and two_process_test.cpp.
#
# Usage: scripts/crash-test.sh [kills]     (default 1000; 200 when CI=true)
# Environment: BUILD_DIR (default build-rel, RelWithDebInfo with the default compiler),
#   JOBS (build jobs, default 1), SWITCHYARD_SEED (replay a run), TMPDIR (where stores live),
#   SWITCHYARD_TWO_PROCESS_OPS (registrations per writer, default 500 here).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-rel}"
kills="${1:-1000}"
if [ "${CI:-false}" = "true" ] && [ $# -eq 0 ]; then kills=200; fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSWITCHYARD_WERROR=ON
fi
cmake --build "$build" --target reliability_tests -j "${JOBS:-1}"

start=$(date +%s)
SWITCHYARD_CRASH_KILLS="$kills" SWITCHYARD_TWO_PROCESS_OPS="${SWITCHYARD_TWO_PROCESS_OPS:-500}" \
  "$build/tests/reliability_tests" \
  --gtest_filter='CrashConsistencyTest.*:TwoProcessTest.*' --gtest_color=no
echo "crash-test.sh: $kills kills and the two-process run passed in $(( $(date +%s) - start )) s"
