"""Semantic similarity of the shipped embedding, through PicTrace's own code path.

    .venv/bin/python bench/semantic_product.py

``bench/semantic_eval.py`` chose the embedding recipe with a standalone pipeline; this script
checks the product: each labelled image goes through ``pictrace.decode`` and the registered
CNN extractor (GeM-pooled head, centre crop), and is compared in the same run with the plain
1280-d average-pooled head (the baseline) from the same forward pass and with 64-bit pHash.
Each image queries every other image of its set; relevant = same class folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from semantic_eval import list_labelled, retrieval_scores, similarity

from pictrace import load_settings
from pictrace.decode import decode
from pictrace.features.base import l2_normalise
from pictrace.features.cnn import global_embedding, preprocess, run_model
from pictrace.features.hashes import phash
from pictrace.ingest.files import read_file

SETS = ("oxford17", "clothing16")
ROOT = Path("/work/shared/labelled")
OUT = Path(__file__).resolve().parent / "results" / "semantic_product.md"


def features(paths: list[Path]) -> dict[str, np.ndarray]:
    settings = load_settings()
    ours, baseline, hashes = [], [], []
    for start in range(0, len(paths), 32):
        images = [
            decode(read_file(str(p), settings.max_bytes), settings)
            for p in paths[start : start + 32]
        ]
        head = run_model(np.stack([preprocess(i.pixels) for i in images]), 0)["head"]
        ours.append(global_embedding(head))
        baseline.append(l2_normalise(head.mean(axis=(2, 3))))
        hashes += [phash(i.pixels) for i in images]
    return {
        "PicTrace embedding (GeM, centre crop)": np.concatenate(ours),
        "baseline: 1280-d average pool, cosine": np.concatenate(baseline),
        "pHash 64-bit, Hamming": np.stack(hashes),
    }


def main() -> int:
    lines = [
        "# Semantic similarity through the product code path\n",
        "Command: `python bench/semantic_product.py`\n",
        "| set | embedding | P@10 | mAP |",
        "|---|---|---|---|",
    ]
    for name in SETS:
        paths, labels, _ = list_labelled(ROOT / name)
        for label, emb in features(list(paths)).items():
            metric = "hamming" if emb.dtype == np.uint8 else "cosine"
            p10, ap = retrieval_scores(similarity(emb, metric), np.asarray(labels))
            lines.append(f"| {name} | {label} | {p10.mean():.3f} | {ap.mean():.3f} |")
    text = "\n".join(lines) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
