#!/usr/bin/env bash
# Runs schemathesis (property-based API testing from the OpenAPI document) against a live
# `rpgbot serve` on the embedded default, with a player, a game master and a service token,
# every check, a fixed seed and a bounded number of examples per operation. Fails on any
# finding. Used by scripts/test.sh; run it alone after `swift build`.
#
#   scripts/api-fuzz.sh [RPGBOT_BINARY]
#
# RPGBOT_FUZZ_EXAMPLES (default 50) sets the examples per operation, RPGBOT_FUZZ_SEED (1) the seed.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=${RPGBOT_TEST_TOOLS:-/var/tmp/rpgbot-test-tools}
PYTHON=${PYTHON:-python3}
SCHEMATHESIS_VERSION=4.32.5
BINARY=${1:-$ROOT/.build/debug/rpgbot}
EXAMPLES=${RPGBOT_FUZZ_EXAMPLES:-50}
SEED=${RPGBOT_FUZZ_SEED:-1}

log() { printf '==> %s\n' "$*"; }

VENV="$TOOLS/schemathesis-$SCHEMATHESIS_VERSION"
if ! "$VENV/bin/schemathesis" --version >/dev/null 2>&1; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK=$(mktemp -d /tmp/rpgbot-fuzz.XXXXXX)
cleanup() {
  status=$?
  if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ $status -ne 0 ] && [ -f "$WORK/server.log" ]; then
    echo "--- server log (warnings and errors) ---"; grep -v '"level":"info"' "$WORK/server.log" | tail -40 || true
  fi
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT INT TERM

# Rate limits raised so the generation and publish routes are exercised, not only answered 429.
PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
ENABLE_METRICS=true RPGBOT_GENERATION_RATE=10000 RPGBOT_GENERATION_BURST=10000 \
RPGBOT_REST_PUBLISH_RATE=10000 RPGBOT_REST_PUBLISH_BURST=10000 \
  "$BINARY" serve --port "$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  if "$PYTHON" -c "import urllib.request,sys; sys.exit(0 if b'\"knowledge\":\"ok\"' in urllib.request.urlopen('http://127.0.0.1:$PORT/ready').read() else 1)" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.2
done

status=0
for identity in player:demo gm:demo 'service:*'; do
  role=${identity%%:*}
  campaign=${identity#*:}
  TOKEN=$("$BINARY" token --sub "fuzz-$role" --campaign "$campaign" --role "$role" --ttl 1h --data-dir "$WORK/data")
  log "schemathesis as $role (campaign $campaign): every check, $EXAMPLES examples per operation, seed $SEED"
  # The WebSocket endpoint speaks its own protocol (docs/party-sync-protocol.md), which the
  # Party Sync tests cover; its plain-HTTP answer (426) is in the document for clients.
  # Run from the scratch folder: schemathesis keeps a cache in the working folder.
  (cd "$WORK" && "$VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" run "http://127.0.0.1:$PORT/openapi.json" \
      --url "http://127.0.0.1:$PORT" -H "Authorization: Bearer $TOKEN" \
      --checks all --max-examples "$EXAMPLES" --seed "$SEED" \
      --exclude-path '/ws/campaign/{campaign_id}' --no-color) || status=1
done
kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server died during the run"; exit 1; }
exit $status
