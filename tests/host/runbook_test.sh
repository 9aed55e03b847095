#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Follows docs/runbooks/model-rollback.md step by step. It stages the incident the runbook is for
# (version 2.0.0 of a model promoted over 1.0.0, then answering badly: its predictions get wrong
# labels through POST /feedback) on switchyard-server, then runs every `sh` block of the runbook in
# order, as one script with `set -euo pipefail`:
#   1. against the running server, with the blocks marked `sh server`;
#   2. against a copy of the same registry directory with the CLI alone, with the blocks marked
#      `sh cli`.
# The runbook's own checks (jq -e) are its verify step; this script checks again what the
# rollback must have done. Needs curl and jq.
# usage: runbook_test.sh path/to/switchyard path/to/switchyard-server path/to/model-rollback.md
set -euo pipefail

cli=${1:?usage: runbook_test.sh SWITCHYARD SWITCHYARD_SERVER RUNBOOK}
server=${2:?usage: runbook_test.sh SWITCHYARD SWITCHYARD_SERVER RUNBOOK}
runbook=${3:?usage: runbook_test.sh SWITCHYARD SWITCHYARD_SERVER RUNBOOK}
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The runbook calls `switchyard` by name.
mkdir -p "$work/bin"
ln -s "$(cd "$(dirname "$cli")" && pwd)/$(basename "$cli")" "$work/bin/switchyard"
export PATH="$work/bin:$PATH"

token=runbook-token-0123456789
model=sentiment-model

source "$(dirname "$0")/server_lib.sh"
post() {  # post PATH BODY: a control-plane call with the token; prints the response body
  curl -fsS -X POST "$base$1" -H "Authorization: Bearer $token" -d "$2"
}

# ---- the incident ---------------------------------------------------------------------------
start_server "$work/data" --token "$token"
id1=$(post /models '{"name": "sentiment-model", "version": "1.0.0", "accuracy": 0.9}' | jq -r .model_id)
id2=$(post /models '{"name": "sentiment-model", "version": "2.0.0", "accuracy": 0.92}' | jq -r .model_id)
post "/models/$id1/transition" '{"stage": "Staging"}' > /dev/null
post "/models/$id1/transition" '{"stage": "Production", "reason": "first release"}' > /dev/null
post "/models/$id1/activate" '{"traffic_percent": 100}' > /dev/null
# feedback N LABEL_RULE: N predictions, each labelled right ("right") or wrong ("wrong").
feedback() {
  local i answer request prediction label
  for ((i = 0; i < $1; ++i)); do
    answer=$(curl -fsS -X POST "$base/predict" -d "{\"text\": \"great product number $i\"}")
    request=$(jq -r .request_id <<< "$answer")
    prediction=$(jq -r .prediction <<< "$answer")
    label=$prediction
    if [[ "$2" == wrong ]]; then
      [[ "$prediction" == positive ]] && label=negative || label=positive
    fi
    curl -fsS -X POST "$base/feedback" \
      -d "{\"request_id\": \"$request\", \"label\": \"$label\"}" > /dev/null
  done
}
post "/models/$id2/transition" '{"stage": "Staging"}' > /dev/null
post "/models/$id2/transition" '{"stage": "Production", "reason": "more training data"}' > /dev/null
post "/models/$id1/activate" '{"traffic_percent": 0}' > /dev/null
post "/models/$id2/activate" '{"traffic_percent": 100}' > /dev/null
# A copy of the registry for the CLI-only run (taken with the server stopped: SQLite files are
# copied whole only when no one has them open). The restart forgets the serving figures, so the
# bad answers come after it, where the runbook's first step can see them.
stop_server
cp -a "$work/data" "$work/data-cli"
start_server "$work/data" --token "$token"
feedback 20 wrong
[[ "$(curl -fsS "$base/models/performance" | jq --arg id "$id2" '.models[] | select(.model_id == $id) | .accuracy')" == 0 ]] ||
  { echo "setup: version 2.0.0 should have accuracy 0" >&2; exit 1; }

# ---- the runbook's sh blocks ----------------------------------------------------------------
# extract TAG: the `sh` blocks, and the `sh TAG` ones, in document order.
extract() { awk -v want="$1" -f "$(dirname "$0")/doc_steps.awk" "$runbook"; }
extract server > "$work/server-steps.sh"
extract cli > "$work/cli-steps.sh"
for f in server cli; do
  n=$(grep -c . "$work/$f-steps.sh" || true)
  [[ "$n" -gt 10 ]] || { echo "the runbook gave only $n lines for the $f path" >&2; exit 1; }
done
grep -q 'curl -fsS -X POST "$SERVER/models/$MODEL/rollback"' "$work/server-steps.sh" ||
  { echo "the server path has no rollback call" >&2; exit 1; }
grep -q 'rollback "$MODEL"' "$work/cli-steps.sh" ||
  { echo "the CLI path has no rollback command" >&2; exit 1; }

failures=0
follow() {  # follow NAME DATA: runs the extracted steps in a fresh working directory
  mkdir -p "$work/run-$1"
  echo "== following the runbook: $1 path"
  if ! (cd "$work/run-$1" &&
        MODEL=$model DATA=$2 SERVER=$base TOKEN=$token ME=oncall-test \
          bash -euo pipefail -x "$work/$1-steps.sh") > "$work/run-$1.log" 2>&1; then
    cat "$work/run-$1.log" >&2
    echo "FAIL: a step of the runbook failed on the $1 path (above)" >&2
    failures=$((failures + 1))
    return
  fi
  # The detect step showed the bad version: accuracy 0 over its 20 labelled answers.
  if [[ $1 == server ]] && ! grep -q '"accuracy": 0$' "$work/run-$1.log"; then
    echo "FAIL: the detect step did not show version 2.0.0's accuracy" >&2
    failures=$((failures + 1))
  fi
  # What the rollback must have done, checked again outside the runbook.
  local production archived last
  production=$(switchyard --data "$2" show "$model" Production --json | jq -r .semver)
  archived=$(switchyard --data "$2" show "$model" 2.0.0 --json | jq -r .stage)
  last=$(switchyard --data "$2" history "$model" --json | jq -r '.history[-1].action')
  if [[ "$production $archived $last" != "1.0.0 Archived rollback" ]]; then
    echo "FAIL: $1 path: Production $production, 2.0.0 $archived, last action $last" >&2
    failures=$((failures + 1))
  fi
  for f in "$model-rollback-history.json" "$model-registry-after-rollback.json"; do
    jq -e . "$work/run-$1/$f" > /dev/null || { echo "FAIL: $1 path: no $f" >&2; failures=$((failures + 1)); }
  done
  echo "ok: $1 path"
}
follow server "$work/data"
# The server serves the restored version.
served=$(curl -fsS -X POST "$base/predict" -d '{"text": "after the rollback"}' | jq -r .model_version)
[[ "$served" == 1.0.0 ]] || { echo "FAIL: the server answers with $served" >&2; failures=$((failures + 1)); }
stop_server
follow cli "$work/data-cli"

if ((failures > 0)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "the runbook was followed on both paths"
