#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Follows docs/model-deployment-guide.md: runs every `sh` block of the page in order, as one
# script with `set -euo pipefail`, in an empty directory with `switchyard`, `train_fraud_model`
# and `serve_fraud_model` on the PATH; then checks what the guide says happened: version 2.0.0
# promoted after the gates and the simulated canary, the rollback at the end back to 1.0.0, the
# service serving it, and the drift step's verdict.
# usage: guide_test.sh SWITCHYARD TRAIN_FRAUD_MODEL SERVE_FRAUD_MODEL GUIDE
set -euo pipefail
usage="usage: guide_test.sh SWITCHYARD TRAIN_FRAUD_MODEL SERVE_FRAUD_MODEL GUIDE"
cli=${1:?$usage} train=${2:?$usage} serve=${3:?$usage} guide=${4:?$usage}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/run"
for tool in "$cli:switchyard" "$train:train_fraud_model" "$serve:serve_fraud_model"; do
  path=${tool%%:*}
  ln -s "$(cd "$(dirname "$path")" && pwd)/$(basename "$path")" "$work/bin/${tool##*:}"
done
awk -f "$(dirname "$0")/doc_steps.awk" "$guide" > "$work/steps.sh"
[[ $(grep -c . "$work/steps.sh") -gt 20 ]] || { echo "the guide gave too few steps" >&2; exit 1; }

if ! (cd "$work/run" && PATH="$work/bin:$PATH" bash -euo pipefail -x "$work/steps.sh") \
    > "$work/log" 2>&1; then
  cat "$work/log" >&2
  echo "FAIL: a step of the guide failed (above)" >&2
  exit 1
fi

failures=0
expect() {  # expect DESCRIPTION PATTERN: the guide's output has a line matching PATTERN
  if grep -Eq "$2" "$work/log"; then echo "ok: $1"; else echo "FAIL: $1" >&2; failures=$((failures + 1)); fi
}
expect "v1 passes its gates" '^Gate report for fraud-detection version 1: passed'
expect "the service serves v1 first" '^fraud-detection version 1 \(1\.0\.0\) served 1000 requests'
expect "the plan promotes a good candidate" 'fraud-detection v2 against v1: promoted at 41:00:00'
expect "the plan rolls back one that breaks at 3h" 'fraud-detection v2 against v1: rolled_back at 0[3-4]:'
expect "the service serves v2 after its promotion" '^fraud-detection version 2 \(2\.0\.0\) served 1000 requests'
expect "the drift step calls for retraining" '^drift: schedule retraining'
expect "the rollback restores v1" '^Rolled back fraud-detection to version 1'
expect "the service follows the rollback" '^fraud-detection version 1 \(1\.0\.0\) served 100 requests'
data="$work/run/fraud-registry"
stage=$("$cli" --data "$data" show fraud-detection 2.0.0 | awk '$1 == "stage" {print $2}')
[[ "$stage" == Archived ]] || { echo "FAIL: 2.0.0 is $stage after the rollback" >&2; failures=$((failures + 1)); }
if ((failures > 0)); then
  cat "$work/log" >&2
  exit 1
fi
echo "the guide was followed"
