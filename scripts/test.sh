#!/usr/bin/env bash
# Installs Switchyard's dependencies and tools (Debian 12), builds everything with -Werror and runs
# the whole test suite: unit and integration tests, consumer builds, then the sanitizer passes and
# a short libFuzzer run of every fuzz target.
# Set SWITCHYARD_SKIP_SANITIZERS=1 to run only the plain build.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/install-deps.sh --with-tools
# The parts include only what docs/architecture.md's arrows allow; fails naming file and line.
python3 scripts/check_layering.py
jobs=${JOBS:-2}
# -O2 without debug information: -g costs about a quarter more compile time and 40 % more memory
# per translation unit, and CI reads test output, not core files.
cmake -S . -B build/ci -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DSWITCHYARD_WERROR=ON -DSWITCHYARD_WITH_XGBOOST=ON -DSWITCHYARD_WITH_POSTGRES=ON \
  -DSWITCHYARD_WITH_TORCH=ON \
  -DSWITCHYARD_BUILD_TESTS=ON -DSWITCHYARD_BUILD_EXAMPLES=ON -DSWITCHYARD_BUILD_BENCHMARKS=ON
cmake --build build/ci -j"$jobs"
(cd build/ci && ctest -j"$jobs" --output-on-failure --timeout 900)
echo "plain build and tests: $(( $(date +%s) - start )) s"
if [ "${SWITCHYARD_SKIP_SANITIZERS:-0}" != 1 ] && [ -f scripts/sanitize.sh ]; then
  JOBS="$jobs" bash scripts/sanitize.sh tsan
  JOBS="$jobs" bash scripts/sanitize.sh asan-ubsan
  # libFuzzer on every target from its committed corpus (15 s each when CI=true; eight targets).
  JOBS="$jobs" bash scripts/fuzz.sh
  echo "with sanitizers: $(( $(date +%s) - start )) s"
fi
