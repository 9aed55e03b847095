#!/usr/bin/env bash
# Builds Switchyard with Clang 14 under a sanitizer (or with warnings as errors) and runs its tests.
#
# Usage: scripts/sanitize.sh <mode> [extra ctest arguments...]
#   asan-ubsan  AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan. Full: every target
#               (tests, examples, benchmarks) and every test. CI=true: the parsing, storage,
#               shadow, rollout and drift tests (labels registry, models, monitoring, serving,
#               shadow, rollout, drift), the server (host), every fuzz target's corpus and the
#               reliability tests at their CI sizes. The tree is also instrumented for libFuzzer
#               (-fsanitize=fuzzer-no-link) and its fuzz targets link libFuzzer, so scripts/fuzz.sh
#               fuzzes from this same build instead of compiling the library a third time.
#   tsan        ThreadSanitizer, in build-tsan. Full: every unit and reliability test (labels
#               core, models, registry, monitoring, serving, shadow, stats, rollout, drift,
#               reliability; the fuzz replays and packaging checks are single-threaded). CI=true:
#               the concurrency tests (labels serving, shadow, rollout, drift, registry,
#               registry_postgres, reliability), the server (host) and the XGBoost adapter
#               (models_xgboost). Builds the PostgreSQL store (its tests start a throwaway
#               server: scripts/install-deps.sh --with-tools).
#   clang       Clang 14 with -Wall -Wextra -Wpedantic -Werror and no sanitizer, in build-clang:
#               builds everything and runs every test.
# The sanitizer passes report warnings without failing on them (the clang pass gates warnings), so
# a new warning never hides a memory or thread error; WERROR=ON makes them fatal there too.
#
# Environment:
#   CI=true      the CI variant described above
#   CXX          compiler (default clang++-14; scripts/install-deps.sh --with-tools installs it)
#   BUILD_DIR    build directory (default build-asan, build-tsan or build-clang in the checkout)
#   JOBS         parallel compile and test jobs (default 1: the CI machine has 2 shared cores)
#   WERROR       ON/OFF: warnings as errors (default ON for clang, OFF for the sanitizer passes)
#   SWITCHYARD_CRASH_KILLS, SWITCHYARD_SOAK_REQUESTS, ... pass through to the reliability tests.
#   SWITCHYARD_CONFIGURE_ONLY=1  configure the build directory and stop (scripts/fuzz.sh uses it)
# Prints the configure, build and test wall times; exits non-zero when anything fails.
set -euo pipefail

mode="${1:-}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ci="${CI:-false}"
werror="${WERROR:-OFF}"
jobs="${JOBS:-1}"
cxx="${CXX:-clang++-14}"
extra_cmake=()

# The host service's server (label host): its route tests, the end-to-end and abuse test and the
# dashboard in Chromium, so the server's threads and its handling of abusive clients run under the
# sanitizers too. The CLI (label cli) and the documents followed with it (the runbook and the
# deployment guide) are single-threaded front ends over library calls the other areas already
# cover: they run in the plain build only, which saves compiling the CLI twice more (about 400 s
# of CI time).
host_targets=(host_tests switchyard_server)

case "$mode" in
  asan-ubsan)
    build="${BUILD_DIR:-$root/build-asan}"
    # fuzzer-no-link only adds coverage counters; the tests run as before, a little slower.
    flags="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
    extra_cmake=(-DSWITCHYARD_BUILD_FUZZERS=ON)
    flags+=" -fsanitize-ignorelist=$build/ubsan-ignorelist.txt"
    if [ "$ci" = "true" ]; then
      targets=(registry_tests models_tests monitoring_tests serving_tests shadow_tests rollout_tests
               drift_tests reliability_tests "${host_targets[@]}")
      # Every fuzz target (tests/fuzz/<target>_fuzzer.cpp), whose corpus replays under label fuzz.
      for f in "$root"/tests/fuzz/*_fuzzer.cpp; do f=${f##*/}; targets+=("fuzz_${f%_fuzzer.cpp}"); done
      labels="registry|models|monitoring|serving|shadow|rollout|drift|fuzz|reliability|host"
    else
      targets=(all)
      labels=""
    fi
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    ;;
  tsan)
    build="${BUILD_DIR:-$root/build-tsan}"
    flags="-O1 -g -fno-omit-frame-pointer -fsanitize=thread"
    # The PostgreSQL store (label registry_postgres) against a throwaway server, and the XGBoost
    # adapter from two request threads (label models_xgboost; OMP_NUM_THREADS=1 is set by its
    # tests, libgomp is not instrumented). The TorchScript adapter needs GCC (Clang 14 cannot
    # compile LibTorch 1.13's headers as C++20): docs/models.md.
    extra_cmake=(-DSWITCHYARD_WITH_POSTGRES=ON -DSWITCHYARD_WITH_XGBOOST=ON)
    if [ "$ci" = "true" ]; then
      targets=(serving_tests shadow_tests rollout_tests drift_tests registry_tests reliability_tests
               registry_postgres_tests models_xgboost_tests "${host_targets[@]}")
      labels="serving|shadow|rollout|drift|registry|reliability|host|models_xgboost"
    else
      targets=(core_tests models_tests models_xgboost_tests registry_tests registry_postgres_tests
               monitoring_tests serving_tests shadow_tests stats_tests rollout_tests drift_tests
               reliability_tests)
      labels="core|models|registry|monitoring|serving|shadow|stats|rollout|drift|reliability"
    fi
    export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4}"
    ;;
  clang)
    werror="${WERROR:-ON}"
    build="${BUILD_DIR:-$root/build-clang}"
    flags=""
    targets=(all)
    labels=""
    ;;
  *)
    sed -n '2,25p' "$0" >&2
    exit 2
    ;;
esac

if ! command -v "$cxx" > /dev/null; then
  echo "sanitize.sh: $cxx not found; run scripts/install-deps.sh --with-tools" >&2
  exit 2
fi

now() { date +%s; }
t0=$(now)
mkdir -p "$build"
# Debian's rapidjson 1.1.0 (used through cereal) adds an offset to a null pointer in
# internal::Stack on every first push: Tencent/rapidjson#1724, fixed upstream after the last
# release. Only that check, only in that class, is left out.
# Clang records the list as a dependency of every object: rewrite it only when it changes, or a
# second configure (scripts/fuzz.sh reusing this build) would recompile everything.
ignorelist='[pointer-overflow]\nfun:_ZN9rapidjson8internal5Stack*\n'
if [ "$(printf "$ignorelist")" != "$(cat "$build/ubsan-ignorelist.txt" 2>/dev/null)" ]; then
  printf "$ignorelist" > "$build/ubsan-ignorelist.txt"
fi
cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  -DCMAKE_SHARED_LINKER_FLAGS="$flags" \
  -DSWITCHYARD_WERROR="$werror" \
  -DSWITCHYARD_BUILD_TESTS=ON "${extra_cmake[@]}" > "$build/configure.log" 2>&1 \
  || { cat "$build/configure.log"; exit 1; }
if [ "${SWITCHYARD_CONFIGURE_ONLY:-0}" = 1 ]; then exit 0; fi
t1=$(now)
cmake --build "$build" --target "${targets[@]}" -j "$jobs"
t2=$(now)

ctest_args=(--test-dir "$build" --output-on-failure --no-tests=error -j "$jobs" --timeout 1800)
if [ -n "$labels" ]; then ctest_args+=(-L "$labels"); fi
# The seed sweeps (hundreds of single-threaded simulated rollouts and drift windows, checking rates
# against statistical bounds) exercise no code the unit tests leave out and would take minutes
# under a sanitizer: the CI variants leave them to the plain build, and with them the documents
# that need the CLI (not built there).
if [ "$ci" = "true" ]; then
  ctest_args+=(-E "^(CanarySimulationTest|DriftMonitorSimulation)\\.|^host\\.(runbook_model_rollback|deployment_guide)$")
fi
status=0
ctest "${ctest_args[@]}" "$@" || status=$?
t3=$(now)

echo "sanitize.sh $mode (CI=$ci, $cxx, $jobs jobs): configure $((t1 - t0)) s, build $((t2 - t1)) s," \
     "tests $((t3 - t2)) s, total $((t3 - t0)) s"
exit "$status"
