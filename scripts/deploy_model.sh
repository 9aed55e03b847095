#!/usr/bin/env bash
# Deploys a model file with the `switchyard` CLI (seed 001's deployment script): registers it,
# takes it through the Staging gates, then to Production (archiving the previous version).
# Usage: scripts/deploy_model.sh --data DIR --name MODEL --file MODEL_FILE
#            [--semver X.Y.Z] [--metric KEY=NUMBER]... [--min KEY=NUMBER]... [--reason TEXT]
# Env: SWITCHYARD (the CLI to run, default: `switchyard` on PATH).
# Exits with the CLI's exit code of the failing step (3: a gate rejected the version).
set -euo pipefail
cli="${SWITCHYARD:-switchyard}"
data="" name="" file="" semver="" reason="deployed by scripts/deploy_model.sh"
register_args=() gate_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --file) file="$2"; shift 2 ;;
    --semver) semver="$2"; shift 2 ;;
    --metric) register_args+=(--metric "$2"); shift 2 ;;
    --min) gate_args+=(--min "$2"); shift 2 ;;
    --reason) reason="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deploy_model.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
  esac
done
if [ -z "$data" ] || [ -z "$name" ] || [ -z "$file" ]; then
  echo "deploy_model.sh: --data, --name and --file are required (see --help)" >&2
  exit 1
fi
if [ -n "$semver" ]; then register_args+=(--semver "$semver"); fi

step() { echo "==> $*"; }

step "Registering $file as $name"
version=$("$cli" --data "$data" --json register "$file" --name "$name" "${register_args[@]}" |
  sed -n 's/^  "version": \([0-9][0-9]*\),\{0,1\}$/\1/p')
echo "    version $version"

step "Promoting $name version $version: Staging gates, then Production"
"$cli" --data "$data" promote "$name" "$version" "${gate_args[@]}" --reason "$reason"

step "Done: $name version $version is in Production"
"$cli" --data "$data" list "$name"
