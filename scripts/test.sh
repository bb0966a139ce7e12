#!/usr/bin/env bash
# Runs the whole test suite against SQLite and a real PostgreSQL, and what already runs on MariaDB
# (the schema and the migration CLI, issue 15) against a real MariaDB.
#
# PostgreSQL: uses TEST_POSTGRES_URL when it is set (a role that may CREATE DATABASE; each test creates
# and drops its own database). Otherwise it starts a throwaway server on a free loopback port, installs
# the server with apt-get if it is missing, and stops and deletes it on exit. PostgreSQL refuses to run
# as root, so as root the server runs as the `postgres` user (created if missing).
#
# MariaDB: uses TEST_MYSQL_URL when it is set (a user that may CREATE DATABASE), otherwise starts a
# throwaway server the same way (scripts/mariadb.sh; apt-get install mariadb-server if missing), with
# latin1 and a non-UTC time zone as its defaults so that nothing relies on them.
#
# Extra arguments go to `cargo test` (e.g. scripts/test.sh foundation -- health).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lms-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

stop_servers() {
  if declare -F pg_stop >/dev/null; then pg_stop; fi
  if declare -F mariadb_stop >/dev/null; then mariadb_stop; fi
}
trap stop_servers EXIT
if [[ -z "${TEST_POSTGRES_URL:-}" ]]; then
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh
  pg_start
  export TEST_POSTGRES_URL="$PG_URL"
fi
echo "PostgreSQL for tests: ${TEST_POSTGRES_URL%%\?*}" | sed -E 's#://[^@/]*@#://***@#'
if [[ -z "${TEST_MYSQL_URL:-}" ]]; then
  # shellcheck source=scripts/mariadb.sh
  source scripts/mariadb.sh
  mariadb_start
  export TEST_MYSQL_URL="$MARIADB_URL"
fi
echo "MariaDB for tests: ${TEST_MYSQL_URL%%\?*}" | sed -E 's#://[^@/]*@#://***@#'

# The OpenAPI test validates the served document with openapi-spec-validator (PyPI).
python3 -c 'import openapi_spec_validator' 2>/dev/null || python3 -m pip install -q openapi-spec-validator

# The end-to-end tests run the real binaries, so build them first.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
