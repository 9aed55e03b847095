#!/usr/bin/env bash
# Installs Switchyard's build and test dependencies from Debian 12 packages.
# Usage: scripts/install-deps.sh [--with-tools]
#   --with-tools  also install what the tests and the sanitizer, fuzz and reference-value scripts
#                 use (clang-14, libFuzzer, prometheus's promtool, python3-scipy/sklearn, curl and
#                 jq (and sqlite3, to read the prediction log) for the server's end-to-end test,
#                 headless chromium for the report and
#                 dashboard checks), and what the optional adapters need: libpq and a PostgreSQL
#                 server for the PostgreSQL store's tests (which start a throwaway one), LibTorch
#                 for the TorchScript adapter.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libeigen3-dev libxtensor-dev xtl-dev libxsimd-dev libcereal-dev
  libboost-dev libboost-math-dev
  libsqlite3-dev libssl-dev libxxhash-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev
  libjs-chart.js
  libxgboost-dev
)
if [ "${1:-}" = "--with-tools" ]; then
  packages+=(clang-14 libclang-rt-14-dev libfuzzer-14-dev prometheus python3 python3-scipy python3-sklearn
             curl jq sqlite3 chromium
             libpq-dev postgresql-15 libtorch-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
