#!/usr/bin/env bash
# Runs a benchmark against a release build: scripts/bench.sh login [--seconds N] [--database-url URL]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lms-target}"
cargo build --release -p api -p bench -q
exec "$CARGO_TARGET_DIR/release/bench" "$@"
