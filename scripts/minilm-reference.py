#!/usr/bin/env python3
"""Writes the reference tokens and vectors the native MiniLM encoder is tested against.

The reference is Hugging Face `tokenizers` (the model's own tokenizer.json) and the NumPy
forward pass of scripts/embedding-server.py, with BERT's exact (erf) GELU and the 256-token
limit sentence-transformers sets for all-MiniLM-L6-v2.

    scripts/minilm-reference.py --model-dir models/all-MiniLM-L6-v2 > Tests/SentenceEmbeddingTests/Fixtures/minilm-reference.json
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np
from scipy.special import erf

MAX_TOKENS = 256

TEXTS = [
    "Fireball",
    "What happens when my character can't see?",
    "The blinded creature has disadvantage on attack rolls, and attack rolls against it have advantage.",
    "Café déjà vu — naïve façade; ÉLAN!",
    "Don't go there... (really) [now] {ok} <tag> a/b c\\d e|f ~g `h` $5 #1 @me ^up _under",
    "東京の魔法使い 龍 and the 한국어 dragon",
    "Pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x" * 120,
    "Тёмный маг произносит заклинание огненного шара.",
    "Как работает скрытность в бою?",
    "tabs\tand\nnew lines\r\nand\u00a0no-break spaces\u200bzero width",
    "The quick brown fox jumps over the lazy dog. " * 40,
    " ".join(f"word{i}" for i in range(300)),
    "",
]


def load_reference(model_dir):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedding-server.py")
    spec = importlib.util.spec_from_file_location("embedding_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Exact(module.MiniLM):
        def __init__(self, directory):
            super().__init__(directory)
            self.tokenizer.enable_truncation(max_length=MAX_TOKENS)

        @staticmethod
        def gelu(x):
            return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))

    return Exact(model_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", required=True)
    args = parser.parse_args()
    model = load_reference(args.model_dir)
    cases = []
    for text in TEXTS:
        encoding = model.tokenizer.encode(text)
        vector = model.embed([text])[0]
        cases.append({
            "text": text,
            "tokens": encoding.tokens,
            "ids": encoding.ids,
            "vector": [round(float(v), 6) for v in vector],
        })
    json.dump({"model": "all-MiniLM-L6-v2", "max_tokens": MAX_TOKENS, "cases": cases}, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
