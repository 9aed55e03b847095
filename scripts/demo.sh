#!/usr/bin/env bash
# Installs Switchyard's dependencies (Debian 12), builds the library and runs the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSWITCHYARD_BUILD_TESTS=OFF -DSWITCHYARD_BUILD_BENCHMARKS=OFF -DSWITCHYARD_BUILD_EXAMPLES=ON
cmake --build build/demo --target example_model_lifecycle -j"$(nproc)"
./build/demo/examples/model_lifecycle "$@"
