#!/usr/bin/env bash
# Start and stop a throwaway PostgreSQL server on loopback. Source it, then `pg_start` / `pg_stop`.
# After pg_start, PG_URL is a superuser URL for it (trust auth on 127.0.0.1 only).

pg_find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && PG_BIN="$dir"
  done
  [[ -n "${PG_BIN:-}" ]]
}

pg_install() {
  echo "PostgreSQL server not found; installing it with apt-get" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: not root, cannot apt-get install postgresql; install it or set TEST_POSTGRES_URL" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {
  pg_find_bin || { pg_install && pg_find_bin; } || { echo "error: no PostgreSQL server binaries" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/lms-pg.XXXXXX)
  PG_PORT=${PG_PORT:-$(pg_free_port)}
  PG_RUN=()
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    chown postgres "$PG_DIR"
    PG_RUN=(runuser -u postgres --)
  fi
  "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  # Throwaway data: durability off for speed. Enough connections for parallel tests and two API instances.
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=256MB" \
    start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export PG_URL PG_DIR PG_BIN PG_PORT
  echo "started PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT" >&2
}

pg_stop() {
  [[ -n "${PG_DIR:-}" && -d "$PG_DIR/data" ]] || return 0
  "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
