#!/usr/bin/env bash
# Runs the whole test suite against SQLite and a real PostgreSQL.
#
# PostgreSQL: uses TEST_POSTGRES_URL when it is set (a role that may CREATE DATABASE; each test creates
# and drops its own database). Otherwise it starts a throwaway server on a free loopback port, installs
# the server with apt-get if it is missing, and stops and deletes it on exit. PostgreSQL refuses to run
# as root, so as root the server runs as the `postgres` user (created if missing).
#
# Extra arguments go to `cargo test` (e.g. scripts/test.sh foundation -- health).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lms-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if [[ -z "${TEST_POSTGRES_URL:-}" ]]; then
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh
  pg_start
  trap pg_stop EXIT
  export TEST_POSTGRES_URL="$PG_URL"
fi
echo "PostgreSQL for tests: ${TEST_POSTGRES_URL%%\?*}" | sed -E 's#://[^@/]*@#://***@#'

# The OpenAPI test validates the served document with openapi-spec-validator (PyPI).
python3 -c 'import openapi_spec_validator' 2>/dev/null || python3 -m pip install -q openapi-spec-validator

# The end-to-end tests run the real binaries, so build them first.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
