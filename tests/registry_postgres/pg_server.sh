#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway PostgreSQL server for the registry_postgres tests.
#
#   pg_server.sh start DIR [URL_FILE]   initdb into DIR (once) and start a server that listens only on
#                                       a Unix socket in DIR; writes its URL to URL_FILE if given
#   pg_server.sh stop DIR               stop it (fast shutdown); DIR stays, so start works again
#   pg_server.sh destroy DIR            stop it and delete DIR
#   pg_server.sh fixture-start STATE    the ctest fixture: start a server in a new mktemp -d
#                                       directory under /tmp (the build directory may be one the
#                                       server's user cannot enter); STATE gets that directory,
#                                       STATE.url its URL
#   pg_server.sh fixture-stop STATE     destroy the server STATE names
#
# The URL is postgresql:///postgres?host=DIR. pg_ctl -w waits until the server accepts
# connections, so nothing here waits on a timer. PostgreSQL refuses to run as root: as root, initdb and
# pg_ctl run as the user `nobody`, and DIR (created by the caller with mktemp -d, not under a
# directory `nobody` cannot enter) is handed to it. PG_BINDIR overrides where initdb and pg_ctl
# are found (default: pg_config --bindir, else /usr/lib/postgresql/15/bin). The server runs with
# fsync off unless PG_SERVER_DURABLE=1.
set -euo pipefail

usage="usage: pg_server.sh start|stop|destroy DIR [URL_FILE] | fixture-start|fixture-stop STATE"
cmd=${1:?$usage}
dir=${2:?$usage}
url_file=${3:-}
self=$(realpath -- "${BASH_SOURCE[0]}")
# Absolute paths, then a working directory every user may enter: the server's user may not be
# able to enter the caller's (a build tree under /root).
dir=$(realpath -m -- "$dir")
[[ -n "$url_file" ]] && url_file=$(realpath -m -- "$url_file")
cd /

case "$cmd" in
  fixture-start)
    state=$dir
    rm -f "$state" "$state.url"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-pg.XXXXXX")
    printf '%s\n' "$dir" >"$state"
    exec bash "$self" start "$dir" "$state.url"
    ;;
  fixture-stop)
    [[ -f "$dir" ]] || exit 0
    server=$(cat "$dir")
    rm -f "$dir" "$dir.url"
    exec bash "$self" destroy "$server"
    ;;
esac

bindir=${PG_BINDIR:-}
if [[ -z "$bindir" ]]; then
  for candidate in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
    if [[ -n "$candidate" && -x "$candidate/pg_ctl" && -x "$candidate/initdb" ]]; then
      bindir=$candidate
      break
    fi
  done
fi
if [[ -z "$bindir" ]]; then
  echo "pg_server.sh: initdb and pg_ctl not found (Debian: apt-get install postgresql-15)" >&2
  exit 1
fi

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

# A root directory made by mktemp -d (a bare chroot or container image) is mode 0700: no other
# user can resolve any path, so `nobody` could not even start initdb. Grant search (not listing)
# on / in that case, as every ordinary system has it.
if [[ $(id -u) -eq 0 ]] && ! runuser -u nobody -- test -x / 2>/dev/null; then
  echo "pg_server.sh: / is not searchable by other users; chmod o+x / so the server can run" >&2
  chmod o+x /
fi

data="$dir/data"
case "$cmd" in
  start)
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
      chown nobody "$dir"
      chmod 700 "$dir"
    fi
    if [[ ! -f "$data/PG_VERSION" ]]; then
      as_owner "$bindir/initdb" --auth=trust --username=postgres --encoding=UTF8 --locale=C \
        --no-sync -D "$data" >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # Only a Unix socket in DIR. Durability does not matter for a throwaway server, except to a
    # benchmark (PG_SERVER_DURABLE=1 keeps fsync and synchronous_commit on).
    durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [[ "${PG_SERVER_DURABLE:-0}" == 1 ]] && durability=""
    as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' $durability \
          -c max_connections=200" start \
      >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    if [[ -n "$url_file" ]]; then
      printf 'postgresql:///postgres?host=%s&user=postgres\n' "$dir" >"$url_file"
    fi
    ;;
  stop)
    if [[ -f "$data/postmaster.pid" ]]; then
      as_owner "$bindir/pg_ctl" -D "$data" -w -m fast stop >/dev/null
    fi
    ;;
  destroy)
    if [[ -f "$data/postmaster.pid" ]]; then
      as_owner "$bindir/pg_ctl" -D "$data" -w -m immediate stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "pg_server.sh: unknown command '$cmd' (start, stop or destroy)" >&2
    exit 2
    ;;
esac
