#!/usr/bin/env bash
# Property-based API testing with schemathesis: generates requests from /openapi.json and runs every
# check (`--checks all --continue-on-failure`: no 5xx, only declared statuses, content types and
# headers, answers that match their schemas, schema-valid requests accepted, invalid ones refused,
# ...) against a seeded API signed in as the demo admin, on SQLite, PostgreSQL and MariaDB
# (`--backend "sqlite mysql"` picks some).
# schemathesis.toml (repository root) names the few answers a schema cannot predict, and why.
#
#   scripts/schemathesis.sh                        # 25 examples per operation and backend
#   scripts/schemathesis.sh --max-examples 200
#   scripts/schemathesis.sh --checks not_a_server_error --backend sqlite
#   KEEP_LOGS=1 scripts/schemathesis.sh            # full reports copied to /tmp/schemathesis-*.log
#
# Needs a built workspace (cargo build --workspace --bins). Installs schemathesis with pip if missing.
# PostgreSQL: TEST_POSTGRES_URL when set (a role that may CREATE DATABASE), else a throwaway server;
# MariaDB likewise with TEST_MYSQL_URL (scripts/mariadb.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lms-target}"
BIN="$CARGO_TARGET_DIR/debug"
MAX_EXAMPLES=25
CHECKS=all
BACKENDS="sqlite postgres mysql"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --max-examples) MAX_EXAMPLES="$2"; shift 2 ;;
    --checks) CHECKS="$2"; shift 2 ;;
    --backend) BACKENDS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis
WORK=$(mktemp -d /tmp/lms-schemathesis.XXXXXX)
API_PID=""
cleanup() {
  [[ -n "$API_PID" ]] && kill "$API_PID" 2>/dev/null || true
  [[ -n "${PG_DIR:-}" ]] && pg_stop
  [[ -n "${MARIADB_DIR:-}" ]] && mariadb_stop
  [[ -n "${KEEP_LOGS:-}" ]] && cp "$WORK"/schemathesis-*.log /tmp/ 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Operations that end the admin's own session are left out: after them every request is a 401 and
# nothing else gets tested. The end-to-end tests cover them.
EXCLUDE='chat/ws|auth/logout|auth/sessions/|password/change|2fa/disable|admin/users/'

run_against() {
  local name="$1" url="$2" port
  port=$(free_port)
  export DATABASE_URL="$url" LMS_BIND="127.0.0.1:$port" RUST_LOG=warn
  export LMS_SECRET_KEY="schemathesis-secret-0123456789abcdef0123" LMS_PAYMENT_WEBHOOK_SECRET="whsec_schemathesis"
  export LMS_SECRET_KEY_FILE="$WORK/secret"
  (cd "$WORK" && "$BIN/seeder" >"$WORK/seed-$name.log" 2>&1)
  "$BIN/api" >"$WORK/api-$name.log" 2>&1 &
  API_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
  done
  local token
  token=$(curl -sf -X POST "http://127.0.0.1:$port/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"login":"admin@demo.lms.test","password":"learn-with-lms-2026"}' \
    | python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])')
  echo "== schemathesis on $name ($MAX_EXAMPLES examples per operation)"
  # One worker: with two, hypothesis parses lambda sources with ast.parse on two threads at once, which
  # CPython 3.11.7 (this image's) can break with "AST constructor recursion depth mismatch" (a CPython
  # bug, fixed in later 3.11 releases): a tool crash that failed CI once.
  local status=0
  schemathesis run "http://127.0.0.1:$port/openapi.json" -H "Authorization: Bearer $token" \
    --checks "$CHECKS" --exclude-checks ensure_resource_availability --continue-on-failure --max-examples "$MAX_EXAMPLES" --workers 1 \
    --exclude-path-regex "$EXCLUDE" --no-color >"$WORK/schemathesis-$name.log" 2>&1 || status=$?
  grep -E "generated|Server error|passed|failed|Failures" "$WORK/schemathesis-$name.log" | tail -5
  kill "$API_PID" 2>/dev/null || true
  wait "$API_PID" 2>/dev/null || true
  API_PID=""
  if [[ $status -ne 0 ]]; then
    cat "$WORK/schemathesis-$name.log"
    echo "schemathesis reported failures on $name (report above)" >&2
    return 1
  fi
}

if [[ " $BACKENDS " == *" sqlite "* ]]; then
  run_against sqlite "sqlite://$WORK/schemathesis.db?mode=rwc"
fi
if [[ " $BACKENDS " == *" postgres "* ]]; then
  if [[ -z "${TEST_POSTGRES_URL:-}" ]]; then
    # shellcheck source=scripts/pg.sh
    source scripts/pg.sh
    pg_start
    TEST_POSTGRES_URL="$PG_URL"
  fi
  DB="lms_schemathesis_$$"
  psql "$TEST_POSTGRES_URL" -qc "CREATE DATABASE $DB" >/dev/null
  run_against postgres "${TEST_POSTGRES_URL%/*}/$DB"
  psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null || true
fi
if [[ " $BACKENDS " == *" mysql "* ]]; then
  if [[ -z "${TEST_MYSQL_URL:-}" ]]; then
    # shellcheck source=scripts/mariadb.sh
    source scripts/mariadb.sh
    mariadb_start
    TEST_MYSQL_URL="$MARIADB_URL"
  fi
  DB="lms_schemathesis_$$"
  # The server's user, password, host and port from the URL, for the mariadb client.
  mapfile -t PARTS < <(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.username or "root"); print(u.unquote(p.password or "")); print(p.hostname); print(p.port or 3306)' "$TEST_MYSQL_URL")
  client() { MYSQL_PWD="${PARTS[1]}" mariadb --protocol=tcp -u "${PARTS[0]}" -h "${PARTS[2]}" -P "${PARTS[3]}" -e "$1"; }
  client "CREATE DATABASE $DB"
  run_against mysql "${TEST_MYSQL_URL%/*}/$DB"
  client "DROP DATABASE $DB" || true
fi
