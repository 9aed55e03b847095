#!/usr/bin/env bash
# Soak run: two threads predict through a Deployment while the control plane registers versions,
# changes canary weights, promotes and rolls back through a ModelRegistry. Fails on any failed
# request, any model not destroyed exactly once, or resident memory growing after warm-up by more
# than the budget. See tests/reliability/soak_test.cpp.
#
# Usage: scripts/soak.sh [requests] [versions]   (default 10,000,000 and 10,000)
# Environment: BUILD_DIR (default build-rel), JOBS (build jobs, default 1),
#   SWITCHYARD_SOAK_MAX_GROWTH_MB (default 64), TMPDIR (where the store lives).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-rel}"
requests="${1:-10000000}"
versions="${2:-10000}"

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSWITCHYARD_WERROR=ON
fi
cmake --build "$build" --target reliability_tests -j "${JOBS:-1}"

start=$(date +%s)
SWITCHYARD_SOAK_REQUESTS="$requests" SWITCHYARD_SOAK_VERSIONS="$versions" \
  SWITCHYARD_SOAK_MAX_GROWTH_MB="${SWITCHYARD_SOAK_MAX_GROWTH_MB:-64}" \
  "$build/tests/reliability_tests" --gtest_filter='SoakTest.*' --gtest_color=no
echo "soak.sh: passed in $(( $(date +%s) - start )) s"
