#!/usr/bin/env bash
# Start and stop a throwaway MariaDB server on loopback. Source it, then `mariadb_start` / `mariadb_stop`.
# After mariadb_start, MARIADB_URL is a URL for its root user (password-less, 127.0.0.1 only) and
# MARIADB_SOCKET the server's socket for the `mariadb` client.
# Deliberately not UTC and not utf8mb4 by default (latin1, +02:00): the schema and the connection must
# say what they need themselves, as on a server whose defaults are not ours.

mariadb_install() {
  echo "MariaDB server not found; installing it with apt-get" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "error: not root, cannot apt-get install mariadb-server; install it or set TEST_MYSQL_URL" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq mariadb-server >&2
}

mariadb_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

mariadb_start() {
  command -v mariadbd >/dev/null 2>&1 || PATH="$PATH:/usr/sbin"
  command -v mariadbd >/dev/null 2>&1 || mariadb_install || return 1
  MARIADB_DIR=$(mktemp -d /tmp/lms-mariadb.XXXXXX)
  MARIADB_PORT=${MARIADB_PORT:-$(mariadb_free_port)}
  MARIADB_SOCKET="$MARIADB_DIR/mysqld.sock"
  local user=()
  if [[ $(id -u) -eq 0 ]]; then
    id mysql >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin mysql
    chown mysql "$MARIADB_DIR"
    user=(--user=mysql)
  fi
  mariadb-install-db "${user[@]}" --datadir="$MARIADB_DIR/data" --auth-root-authentication-method=normal \
    --skip-test-db >"$MARIADB_DIR/install.log" 2>&1 || { cat "$MARIADB_DIR/install.log" >&2; return 1; }
  # Throwaway data: durability off for speed; enough connections for parallel tests.
  mariadbd --no-defaults "${user[@]}" --datadir="$MARIADB_DIR/data" --socket="$MARIADB_SOCKET" \
    --pid-file="$MARIADB_DIR/mysqld.pid" --bind-address=127.0.0.1 --port="$MARIADB_PORT" \
    --skip-name-resolve --max-connections=500 --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    --sync-binlog=0 --character-set-server=latin1 --collation-server=latin1_swedish_ci \
    --default-time-zone=+02:00 --log-error="$MARIADB_DIR/server.log" 2>"$MARIADB_DIR/stderr.log" &
  MARIADB_PID=$!
  local i
  for i in $(seq 1 300); do
    mariadb --socket="$MARIADB_SOCKET" -uroot -e "SELECT 1" >/dev/null 2>&1 && break
    if ! kill -0 "$MARIADB_PID" 2>/dev/null; then cat "$MARIADB_DIR/server.log" >&2; return 1; fi
    sleep 0.2
  done
  # Root over TCP from 127.0.0.1, password-less (the server listens on loopback only).
  mariadb --socket="$MARIADB_SOCKET" -uroot -e \
    "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" \
    || return 1
  MARIADB_URL="mysql://root@127.0.0.1:$MARIADB_PORT/mysql"
  export MARIADB_URL MARIADB_DIR MARIADB_PORT MARIADB_SOCKET MARIADB_PID
  echo "started MariaDB $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$MARIADB_PORT" >&2
}

mariadb_stop() {
  [[ -n "${MARIADB_PID:-}" ]] || return 0
  kill "$MARIADB_PID" 2>/dev/null || true
  wait "$MARIADB_PID" 2>/dev/null || true
  rm -rf "$MARIADB_DIR"
  MARIADB_PID=""
}
