#!/usr/bin/env bash
# Runs a benchmark against a release build:
#   scripts/bench.sh login [--seconds N] [--database-url URL | --mariadb]   (--mariadb: on a throwaway MariaDB)
#   scripts/bench.sh seed [--scale N]        (starts a throwaway PostgreSQL and MariaDB unless BENCH_POSTGRES_URL / BENCH_MYSQL_URL are set)
#   scripts/bench.sh chat [--seconds N] [--connections N] [--subscribers N]   (same; also a throwaway MariaDB unless BENCH_MYSQL_URL is set)
#   scripts/bench.sh curriculum [--lessons N] [--scale N] [--seconds N]       (same)
#   scripts/bench.sh import [--scale N]      (PostgreSQL, as above: the importer next to the seeder's bulk load)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lms-target}"
cargo build --release -p api -p seeder -p importer -p bench -q
if [[ ( "${1:-}" == "seed" || "${1:-}" == "chat" || "${1:-}" == "curriculum" || "${1:-}" == "import" ) && -z "${BENCH_POSTGRES_URL:-}" ]]; then
  # shellcheck source=scripts/pg.sh
  source scripts/pg.sh
  pg_start
  trap pg_stop EXIT
  export BENCH_POSTGRES_URL="$PG_URL"
fi
if [[ ( "${1:-}" == "chat" || "${1:-}" == "seed" ) && -z "${BENCH_MYSQL_URL:-}" ]]; then
  # shellcheck source=scripts/mariadb.sh
  source scripts/mariadb.sh
  mariadb_start
  trap 'mariadb_stop; declare -F pg_stop >/dev/null && pg_stop' EXIT
  export BENCH_MYSQL_URL="$MARIADB_URL"
fi
if [[ "${1:-}" == "login" && " $* " == *" --mariadb "* ]]; then
  # Login on a throwaway MariaDB: its own database, the URL passed on.
  args=()
  for a in "$@"; do [[ "$a" == "--mariadb" ]] || args+=("$a"); done
  set -- "${args[@]}"
  # shellcheck source=scripts/mariadb.sh
  source scripts/mariadb.sh
  mariadb_start
  trap mariadb_stop EXIT
  mariadb --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -u root -e "CREATE DATABASE lms_bench_login"
  set -- "$@" --database-url "mysql://root@127.0.0.1:$MARIADB_PORT/lms_bench_login"
fi
"$CARGO_TARGET_DIR/release/bench" "$@"
