#!/usr/bin/env bash
# Builds Switchyard's libFuzzer targets (Clang 14, ASan + UBSan) and fuzzes each for a while.
#
# Usage: scripts/fuzz.sh [--seconds N] [--replay-only] [--regenerate-seeds] [target...]
#   targets       any of tests/fuzz/<target>_fuzzer.cpp (default: all of them)
#                 (default: all)
#   --seconds N   fuzzing time per target (default 60; 15 when CI=true)
#   --replay-only run each target once over its committed corpus (tests/fuzz/corpus/<target>)
#   --regenerate-seeds  rewrite the committed seed files (tests/fuzz/corpus/*/seed-*)
#
# Each target first replays its committed corpus, then fuzzes from it; new interesting inputs go
# to <build>/corpus/<target> (the committed corpus is never written). A crash leaves its input in
# <build>/crashes/<target>/ and makes the script fail; copy that file into
# tests/fuzz/corpus/<target>/ as regression-<what> once fixed, so ctest replays it forever.
# Environment: CXX (default clang++-14), BUILD_DIR (default build-asan, shared with
# scripts/sanitize.sh asan-ubsan), JOBS (build jobs, 1),
# CI=true (short runs), SWITCHYARD_FUZZ_TMPDIR (scratch files; default /dev/shm), WERROR (ON/OFF,
# default OFF: warnings are gated by scripts/sanitize.sh clang, not here).
# Prints executions, executions per second and corpus growth per target.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-asan}"
cxx="${CXX:-clang++-14}"
jobs="${JOBS:-1}"
seconds=60
if [ "${CI:-false}" = "true" ]; then seconds=15; fi
replay_only=false
regenerate=false
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --replay-only) replay_only=true; shift ;;
    --regenerate-seeds) regenerate=true; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  targets=()
  for f in "$root"/tests/fuzz/*_fuzzer.cpp; do f=${f##*/}; targets+=("${f%_fuzzer.cpp}"); done
fi
if ! command -v "$cxx" > /dev/null; then
  echo "fuzz.sh: $cxx not found; run scripts/install-deps.sh --with-tools" >&2
  exit 2
fi

# The targets live in the AddressSanitizer build of scripts/sanitize.sh (which instruments the
# whole tree for libFuzzer too): configured the same way here, so after `sanitize.sh asan-ubsan`
# nothing is compiled twice.
BUILD_DIR="$build" CXX="$cxx" WERROR="${WERROR:-OFF}" SWITCHYARD_CONFIGURE_ONLY=1 \
  bash "$root/scripts/sanitize.sh" asan-ubsan

if [ "$regenerate" = "true" ]; then
  cmake --build "$build" --target fuzz_seed_corpus -j "$jobs"
  rm -f "$root"/tests/fuzz/corpus/*/seed-*
  ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/fuzz_seed_corpus" "$root/tests/fuzz/corpus"
  exit 0
fi

exes=()
for t in "${targets[@]}"; do exes+=("fuzz_$t"); done
cmake --build "$build" --target "${exes[@]}" -j "$jobs"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
summary=()
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/fuzz_$t"
  committed="$root/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  crashes="$build/crashes/$t"
  mkdir -p "$work" "$crashes"
  max_len=4096
  if [ "$t" = "sqlite_store" ]; then max_len=32768; fi
  dict=()
  if [ -f "$root/tests/fuzz/$t.dict" ]; then dict=(-dict="$root/tests/fuzz/$t.dict"); fi
  log="$build/fuzz-$t.log"
  if [ "$replay_only" = "true" ]; then
    if "$exe" -runs=0 "$committed" > "$log" 2>&1; then
      summary+=("$t: replayed $(find "$committed" -type f | wc -l) inputs")
    else
      failed+=("$t"); tail -30 "$log"
    fi
    continue
  fi
  before=$(find "$work" -type f | wc -l)
  start=$(date +%s)
  # CI fuzzes with a fixed seed, so a run explores the same inputs each time (a new crash shows up
  # in a by-hand run, not as a flaky CI); SWITCHYARD_FUZZ_SEED overrides it.
  seed_arg=()
  if [ -n "${SWITCHYARD_FUZZ_SEED:-}" ]; then seed_arg=(-seed="$SWITCHYARD_FUZZ_SEED")
  elif [ "${CI:-false}" = "true" ]; then seed_arg=(-seed=1); fi
  if "$exe" "${dict[@]}" "${seed_arg[@]}" -max_total_time="$seconds" -max_len="$max_len" -timeout=20 \
       -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$crashes/" \
       "$work" "$committed" > "$log" 2>&1; then
    :
  else
    failed+=("$t")
    echo "---- $t crashed; input and log:" >&2
    ls -1 "$crashes" >&2
    grep -m1 -B2 -A30 -E "ERROR|invariant broken|runtime error|deadly signal|uncaught" "$log" >&2 || tail -40 "$log" >&2
  fi
  elapsed=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  execs="${execs:-0}"
  rate=$(( elapsed > 0 ? execs / elapsed : execs ))
  after=$(find "$work" -type f | wc -l)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  summary+=("$t: ${elapsed} s, ${execs} executions (${rate}/s), coverage ${cov:-?} edges, corpus +$((after - before)) (now ${after} + $(find "$committed" -type f | wc -l) committed)")
done

echo "fuzz.sh summary (${seconds} s per target):"
for line in "${summary[@]}"; do echo "  $line"; done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (inputs under $build/crashes/); reproduce with" \
       "$build/tests/fuzz/fuzz_<target> <input>" >&2
  exit 1
fi
