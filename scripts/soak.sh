#!/usr/bin/env bash
# Soak run: two threads predict through a Deployment while the control plane registers versions,
# changes canary weights, promotes and rolls back through a ModelRegistry. Fails on any failed
# request, any model not destroyed exactly once, or resident memory growing after warm-up by more
# than the budget. See tests/reliability/soak_test.cpp.
#
# Usage: scripts/soak.sh [requests] [versions]   (default 10,000,000 and 10,000; 1,000,000 and
#   1,000 when CI=true)
# Environment: BUILD_DIR (default build-rel), JOBS (build jobs, default 1),
#   SWITCHYARD_SOAK_MAX_GROWTH_MB (default 64; 8 for the CI size), TMPDIR (where the store lives).
# The test binary checks memory growth on its own too when CI=true (see soak_test.cpp).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-rel}"
requests="${1:-10000000}"
versions="${2:-10000}"
budget_mb="${SWITCHYARD_SOAK_MAX_GROWTH_MB:-64}"
if [ "${CI:-false}" = "true" ] && [ $# -eq 0 ]; then
  # A short run: about 3 MiB of growth; a retired version's statistics kept forever (48 KiB
  # each) would add some 43 MiB, which the full run's 64 MiB budget would let through.
  requests=1000000
  versions=1000
  budget_mb="${SWITCHYARD_SOAK_MAX_GROWTH_MB:-8}"
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSWITCHYARD_WERROR=ON
fi
cmake --build "$build" --target reliability_tests -j "${JOBS:-1}"

start=$(date +%s)
SWITCHYARD_SOAK_REQUESTS="$requests" SWITCHYARD_SOAK_VERSIONS="$versions" \
  SWITCHYARD_SOAK_MAX_GROWTH_MB="$budget_mb" \
  "$build/tests/reliability_tests" --gtest_filter='SoakTest.*' --gtest_color=no
echo "soak.sh: passed in $(( $(date +%s) - start )) s"
