#!/usr/bin/env bash
# The served /openapi.json, checked by tools nobody here wrote, as a client author would:
# - `redocly lint` (@redocly/cli from npm, through npx) must report no error;
# - openapi-python-client (from PyPI; installed when missing) must generate a complete Python client,
#   and scripts/client_walk.py walks it through register, login, catalog, enroll, chat post and read
#   against a seeded API on SQLite: an undeclared status or an answer the models cannot parse fails.
# (The OpenAPI 3.1 validator runs in the test suite: tests/auth/openapi.rs.)
#
#   scripts/openapi.sh            # needs a built workspace (cargo build --workspace --bins)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lms-target}"
BIN="$CARGO_TARGET_DIR/debug"

command -v openapi-python-client >/dev/null || python3 -m pip install -q openapi-python-client
WORK=$(mktemp -d /tmp/lms-openapi.XXXXXX)
API_PID=""
cleanup() {
  [[ -n "$API_PID" ]] && kill "$API_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
export DATABASE_URL="sqlite://$WORK/client.db?mode=rwc" LMS_BIND="127.0.0.1:$port" RUST_LOG=warn
export LMS_SECRET_KEY_FILE="$WORK/secret"
(cd "$WORK" && "$BIN/seeder" >"$WORK/seed.log" 2>&1)
"$BIN/api" >"$WORK/api.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/openapi.json" -o "$WORK/openapi.json"

echo "== redocly lint"
if ! npx --yes @redocly/cli@2 lint "$WORK/openapi.json" >"$WORK/lint.log" 2>&1; then
  cat "$WORK/lint.log"
  echo "redocly lint found errors in the document" >&2
  exit 1
fi
grep -E "valid|warning|error" "$WORK/lint.log" | grep -v "Node.js" | head -3

echo "== openapi-python-client generate"
if ! (cd "$WORK" && openapi-python-client generate --path openapi.json --meta none \
  --output-path lms_client >"$WORK/generate.log" 2>&1) || grep -qiE "warning|error|unable" "$WORK/generate.log"; then
  cat "$WORK/generate.log"
  echo "openapi-python-client did not generate a complete client" >&2
  exit 1
fi
echo "== the walk through the generated client"
python3 scripts/client_walk.py "http://127.0.0.1:$port" "$WORK"
