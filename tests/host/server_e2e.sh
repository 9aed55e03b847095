#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end test of switchyard-server: starts it on a free loopback port with a fresh data
# directory, runs seed 002's curl walkthrough and testing loop unchanged (only the address and
# the model ids filled in), checks the 70/30 split, every error case, garbage input (malformed
# JSON, a 2 MB body, a half-sent request, a silent client), a restart on the same data, aliases,
# a shadow and a canary from YAML bodies and the drift route, and the bearer-token checks, then
# stops the server. Needs curl and jq.
# usage: server_e2e.sh path/to/switchyard-server
set -euo pipefail

server=${1:?usage: server_e2e.sh path/to/switchyard-server}
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() {  # check DESCRIPTION EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then echo "ok: $1"; else fail "$1: expected '$2', got '$3'"; fi
}

source "$(dirname "$0")/server_lib.sh"
# The server's reads time out after 2 s here, so the slow-client checks stay short.
start_test_server() { start_server "$@" --read-timeout 2; }
stop_test_server() {
  local rc=0
  stop_server || rc=$?
  check "server stops cleanly on SIGTERM" 0 "$rc"
}

# call METHOD PATH [BODY [curl options...]]: sets status and body.
call() {
  local method=$1 path=$2 data=${3-}
  shift 3 2>/dev/null || shift $#
  local args=(-s -o "$work/body" -w '%{http_code}' -X "$method" "$@")
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' -d "$data")
  status=$(curl "${args[@]}" "$base$path")
  body=$(cat "$work/body")
}
expect_error() {  # expect_error DESCRIPTION STATUS FIELD
  check "$1: status" "$2" "$status"
  check "$1: field" "$3" "$(jq -r '.field' <<< "$body")"
  [[ "$(jq -r '.error | type' <<< "$body")" == string ]] || fail "$1: no error message in $body"
}

start_test_server "$work/data"

# ---- seed 002's testing commands (only the address and the model ids filled in) -------------
BASE=$base
model1_id=$(curl -s -X POST $BASE/models \
  -H "Content-Type: application/json" \
  -d '{"name": "sentiment", "version": "1.0.0", "accuracy": 0.85}' | jq -r .model_id)

model2_id=$(curl -s -X POST $BASE/models \
  -H "Content-Type: application/json" \
  -d '{"name": "sentiment", "version": "2.0.0", "accuracy": 0.92}' | jq -r .model_id)
[[ "$model1_id" == model-* && "$model2_id" == model-* ]] || fail "register: ids $model1_id $model2_id"

# Activate with A/B split (no Content-Type header, as in the seed)
curl -s -X POST $BASE/models/${model1_id}/activate \
  -d '{"traffic_percent": 70}' > "$work/act1"

curl -s -X POST $BASE/models/${model2_id}/activate \
  -d '{"traffic_percent": 30}' > "$work/act2"
check "activate v1" "active 70" "$(jq -r '"\(.status) \(.traffic_percent)"' "$work/act1")"
check "activate v2" "active 30" "$(jq -r '"\(.status) \(.traffic_percent)"' "$work/act2")"

# Send 100 predictions, check distribution
for i in {1..100}; do
  curl -s -X POST $BASE/predict \
    -H "Content-Type: application/json" \
    -d '{"text": "Great product!"}' | jq -r '.model_version'
done | sort | uniq -c | tee "$work/split"

# Check performance
curl $BASE/models/performance > "$work/performance"
echo
# -----------------------------------------------------------------------------------------------

v1=$(awk '$2 == "1.0.0" {print $1}' "$work/split")
v2=$(awk '$2 == "2.0.0" {print $1}' "$work/split")
v1=${v1:-0}
v2=${v2:-0}
check "100 predictions answered by the two versions" 100 $((v1 + v2))
# Binomial(100, 0.7): sd 4.6, so 70 +- 15 is more than 3 sd (fails about once in 1,000 runs).
if ((v1 < 55 || v1 > 85)); then fail "split: $v1 of 100 on 1.0.0, expected 70 +- 15"; else echo "ok: split $v1/$v2"; fi
check "performance counts every prediction" 100 \
  "$(jq '[.models[].request_count] | add' "$work/performance")"
check "performance has a recommendation" string "$(jq -r '.recommendation | type' "$work/performance")"

call POST /predict '{"text": "Great product!", "model_version": "1.0.0"}'
check "pinned prediction" "200 1.0.0 $model1_id positive" \
  "$status $(jq -r '"\(.model_version) \(.model_id) \(.prediction)"' <<< "$body")"
call POST /predict '{"text": "Terrible, it broke after two days"}'
check "negative text" "200 negative" "$status $(jq -r .prediction <<< "$body")"

call GET /metrics
check "/metrics answers" 200 "$status"
grep -q '^switchyard_requests_total{model="sentiment",version="1",variant="v1"} ' <<< "$body" ||
  fail "/metrics: no request counter of version 1"
if command -v promtool > /dev/null; then
  # Neither a parse error nor lint advice.
  if promtool check metrics <<< "$body" > "$work/promtool" 2>&1 && [[ ! -s "$work/promtool" ]]; then
    echo "ok: promtool accepts /metrics"
  else
    fail "promtool rejects /metrics: $(cat "$work/promtool")"
  fi
elif [[ "${CI:-}" == true ]]; then
  fail "promtool not found with CI=true (scripts/install-deps.sh --with-tools installs it)"
fi

call GET '/models?status=active'
check "two active models" "200 2" "$status $(jq '.models | length' <<< "$body")"
call GET '/models?status=inactive'
check "no inactive model" "200 0" "$status $(jq '.models | length' <<< "$body")"

# ---- error cases --------------------------------------------------------------------------------
call POST /models '{"name": "sentiment"'
expect_error "register, malformed JSON" 400 null
call POST /models '{"name": "sentiment"}'
expect_error "register, no version" 400 version
call POST /models '{"name": "sentiment", "version": "1.0.0"}'
expect_error "register, duplicate version" 409 version
call POST /models/model-000000000000/activate '{"traffic_percent": 10}'
expect_error "activate, unknown model" 404 model_id
call POST "/models/$model1_id/activate" '{"traffic_percent": 101}'
expect_error "activate, 101 percent" 400 traffic_percent
call POST "/models/$model1_id/activate" '{"traffic_percent": 80}'
expect_error "activate, 110 percent in total" 400 traffic_percent
call POST /predict '{"text": "hi", "model_version": "9.9.9"}'
expect_error "predict, unknown version" 404 model_version
call POST /predict '{"txt": "hi"}'
expect_error "predict, no text" 400 text
call POST /predict '{"text": ["hi"]}'
expect_error "predict, text not a string" 400 text
call GET '/models?status=paused'
expect_error "list, unknown status" 400 status
call POST "/models/$model1_id/transition" '{"stage": "Production"}'
expect_error "transition Development -> Production" 409 stage
call GET /nowhere
expect_error "unknown route" 404 null

# ---- garbage ------------------------------------------------------------------------------------
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'x' > "$work/big"
status=$(curl -s -o "$work/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary @"$work/big" "$base/predict")
body=$(cat "$work/body")
expect_error "2 MB body" 413 body
status=$(curl -s -o "$work/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -H 'Expect:' --data-binary @"$work/big" "$base/predict" || true)
check "2 MB body without Expect: 413 or a closed connection" yes \
  "$([[ "$status" == 413 || "$status" == 000 ]] && echo yes || echo "no ($status)")"
# A half-sent request, then the client hangs up.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"te' >&3
exec 3>&-
# Not HTTP at all.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GARBAGE\x01\x02\r\n\r\n' >&3
reply=$(timeout 10 head -c 12 <&3 || true)
exec 3>&-
check "non-HTTP bytes get 400" "HTTP/1.1 400" "$reply"
# A silent client is disconnected after --read-timeout (2 s here), not held forever.
exec 3<>"/dev/tcp/127.0.0.1/$port"
start=$SECONDS
timeout 20 cat <&3 > /dev/null || true
exec 3>&-
elapsed=$((SECONDS - start))
check "a silent client is cut off by the read timeout" yes "$( ((elapsed <= 10)) && echo yes || echo "no (${elapsed} s)")"
call POST /predict '{"text": "still here?"}'
check "a clean request still answers after the garbage" 200 "$status"

# ---- restart: the registry and the split persist -----------------------------------------------
stop_test_server
start_test_server "$work/data" --prediction-log
call GET '/models?status=active'
check "after a restart: two active models" "200 2" "$status $(jq '.models | length' <<< "$body")"
call POST /predict '{"text": "Great product!", "model_version": "2.0.0"}'
check "after a restart: pinned to 2.0.0" "200 $model2_id" "$status $(jq -r .model_id <<< "$body")"
logged_id=$(jq -r .request_id <<< "$body")
call POST /feedback "{\"request_id\": \"$logged_id\", \"label\": \"positive\"}"
check "feedback on a logged prediction" 200 "$status"

# ---- aliases, a shadow from seed 003's YAML, a canary, drift (PUT, DELETE and YAML bodies) -----
call PUT /models/sentiment/aliases/champion '{"version": "2.0.0"}'
check "alias set with PUT" "200 $model2_id" "$status $(jq -r .model_id <<< "$body")"
call DELETE /models/sentiment/aliases/champion
check "alias removed with DELETE" 200 "$status"
call DELETE /models/sentiment/aliases/champion
expect_error "alias removed twice" 404 alias
cat > "$work/shadow.yaml" <<'YAML'
deployment:
  name: sentiment
  primary: {model: sentiment, version: 2}
  shadow: {model: sentiment, version: 1, traffic: 100%}
  comparison: {metrics: [accuracy, latency_p99], duration: 7d}
YAML
status=$(curl -s -o "$work/body" -w '%{http_code}' -X POST -H 'Content-Type: application/yaml' \
  --data-binary @"$work/shadow.yaml" "$base/models/sentiment/shadows")
check "shadow attached from YAML" 201 "$status"
for i in $(seq 1 20); do curl -s -X POST "$base/predict" -d '{"text": "fine"}' > /dev/null; done
call GET '/models/sentiment/shadows?settle=true'
check "the shadow saw every request and compared what it mirrored" "20 true" \
  "$(jq -r '.versions[0] | "\(.sampled) \(.compared_rows == .mirrored)"' <<< "$body")"
call DELETE /models/sentiment/shadows/1.0.0
check "shadow detached" 200 "$status"
call POST "/models/$model1_id/transition" '{"stage": "Staging"}'
call POST "/models/$model1_id/transition" '{"stage": "Production"}'
call POST "/models/$model2_id/transition" '{"stage": "Staging"}'
cat > "$work/canary.yaml" <<'YAML'
deployment:
  name: sentiment
  canary:
    model_version: 2
    stages:
      - {traffic_percent: 10, duration: 1h}
      - {traffic_percent: 100, duration: 1h}
YAML
status=$(curl -s -o "$work/body" -w '%{http_code}' -X POST --data-binary @"$work/canary.yaml" \
  "$base/models/sentiment/canary")
check "canary started from YAML" "201 running 10" \
  "$status $(jq -r '"\(.status) \(.weights.canary)"' "$work/body")"
call GET '/models?status=active'
check "the split follows the canary" "90 10" \
  "$(jq -r '[.models[] | .traffic_percent] | map(tostring) | join(" ")' <<< "$body")"
call POST "/models/$model1_id/activate" '{"traffic_percent": 50}'
expect_error "activate during a canary" 409 model_id
call POST /models/sentiment/canary/abort '{"reason": "e2e"}'
check "canary aborted" "200 aborted" "$status $(jq -r .status <<< "$body")"
call GET '/models?status=active'
check "stable has all the traffic again" "$model1_id 100" \
  "$(jq -r '.models[] | "\(.model_id) \(.traffic_percent)"' <<< "$body")"
call GET /models/sentiment/drift
check "drift route with three features" "200 3" "$status $(jq '.features | length' <<< "$body")"
stop_test_server
# --prediction-log: the 21 predictions of this run, written by the time the server stopped.
if command -v sqlite3 > /dev/null; then
  check "the prediction log has every prediction and the label" "21|1|$model2_id" \
    "$(sqlite3 "$work/data/predictions.db" "SELECT COUNT(*), COUNT(label),
        (SELECT model_id FROM predictions WHERE request_id = '$logged_id') FROM predictions")"
else
  echo "skip: no sqlite3 to read the prediction log"
fi

# ---- the bearer token ---------------------------------------------------------------------------
start_test_server "$work/secured" --token 's3cret-token' --max-connections 4 --log-connections
call POST /models '{"name": "sentiment", "version": "1.0.0"}'
expect_error "register without a token" 401 Authorization
call POST /models '{"name": "sentiment", "version": "1.0.0"}' -H 'Authorization: Bearer nope'
expect_error "register with a wrong token" 401 Authorization
call POST /models '{"name": "sentiment", "version": "1.0.0"}' \
  -H 'Authorization: Bearer s3cret-token' -H 'X-Switchyard-Actor: e2e'
check "register with the token" 201 "$status"
id=$(jq -r .model_id <<< "$body")
call POST "/models/$id/activate" '{"traffic_percent": 100}'
expect_error "activate without a token" 401 Authorization
call POST "/models/$id/activate" '{"traffic_percent": 100}' -H 'Authorization: Bearer s3cret-token'
check "activate with the token" 200 "$status"
call POST /predict '{"text": "open to all"}'
check "predict needs no token" 200 "$status"
call GET /models
check "reads need no token" 200 "$status"
check "control-plane calls audited with their actor" "token:e2e" \
  "$(jq -r 'select(.status == 201) | .actor' "$work/secured/audit.log")"

# ---- the connection limit -----------------------------------------------------------------------
# Four idle connections fill --max-connections 4: a fifth is closed at once, and once they go
# (here: the clients hang up) the server answers again. The server says on stdout (the port
# FIFO, --log-connections) how many connections are open after each change; the reads block
# until it does.
wait_connections() {  # wait_connections N: until the server reports N open connections
  local line
  while read -r -t 30 line <&3; do [[ "$line" == "connections $1" ]] && return 0; done
  fail "the server never reported $1 open connections"
}
exec 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port"
exec 6<>"/dev/tcp/127.0.0.1/$port" 7<>"/dev/tcp/127.0.0.1/$port"
wait_connections 4
check "a connection over --max-connections is closed" 000 \
  "$(curl -s -o /dev/null -w '%{http_code}' "$base/health" || true)"
exec 4>&- 5>&- 6>&- 7>&-
wait_connections 0
call GET /health
check "answers again once the idle connections closed" 200 "$status"
stop_test_server

if ((failures > 0)); then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all checks passed"
