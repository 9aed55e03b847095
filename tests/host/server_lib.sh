# SPDX-License-Identifier: Apache-2.0
# Starting and stopping switchyard-server in the host tests (sourced). Needs $server (the binary)
# and $work (a scratch directory); sets $pid, $port and $base, and keeps the server's stdout open
# on file descriptor 3 (the port line, then what --log-connections reports).

# start_server DATA_DIR [options...]: starts it and reads the port it prints once it listens (the
# read blocks on a FIFO until that line arrives); connections made after that wait in the listen
# queue, so /health answers at once.
start_server() {
  local data=$1
  shift
  rm -f "$work/port.fifo"
  mkfifo "$work/port.fifo"
  "$server" --port 0 --data "$data" "$@" > "$work/port.fifo" 2> "$work/server.log" &
  pid=$!
  exec 3< "$work/port.fifo"
  if ! read -r -t 30 port <&3 || [[ ! "$port" =~ ^[0-9]+$ ]]; then
    cat "$work/server.log" >&2
    echo "the server printed no port" >&2
    exit 1
  fi
  base="http://127.0.0.1:$port"
  curl -sf "$base/health" > /dev/null || { cat "$work/server.log" >&2; echo "no /health" >&2; exit 1; }
}

# stop_server: SIGTERM, then waits; returns the server's exit status.
stop_server() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  exec 3<&-  # after the exit: --log-connections may still report the last connections closing
  pid=""
  return "$rc"
}
