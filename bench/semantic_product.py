"""Semantic similarity of the shipped embedding, through PicTrace's own code path.

    .venv/bin/python bench/semantic_product.py [--searches N]

``bench/semantic_eval.py`` chose the embedding recipe with a standalone pipeline; this script
checks the product: each labelled image goes through ``pictrace.decode`` and the registered
CNN extractor (GeM-pooled head, centre crop), and is compared in the same run with the plain
1280-d average-pooled head (the baseline) from the same forward pass and with 64-bit pHash.
Each image queries every other image of its set; relevant = same class folder.

Then the product's own ranking: every image of a set is indexed and searched (``--searches``
of them, spread over the set; 0: all) with ``k`` = the whole set, and the order a search
returns is scored the same way (the query itself, found as an exact duplicate, left out):
PicTrace's order (its ``similar`` tier ranked by the expanded query, ``search.expansion``),
and the same matches re-ranked by each one's own cosine (the order before query expansion),
so both come from one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from semantic_eval import list_labelled, retrieval_scores, similarity

from pictrace import Index, load_settings
from pictrace.decode import decode
from pictrace.features.base import l2_normalise
from pictrace.features.cnn import global_embedding, preprocess, run_model
from pictrace.features.hashes import phash
from pictrace.ingest.files import read_file
from pictrace.search.ranking import POSSIBLE_COPY, similarity_from
from pictrace.types import TIER_ORDER, Match

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


def plain_order(matches: Sequence[Match]) -> list[Match]:
    """A search's matches ordered as before query expansion: the ``similar`` tier's matches
    without partial copy evidence by their own cosine (``ranking.rank`` otherwise)."""

    def key(m: Match) -> tuple[int, int, float]:
        if m.tier != "similar" or m.copy_confidence >= POSSIBLE_COPY:
            return (TIER_ORDER[m.tier], 0, -m.copy_confidence)
        return (TIER_ORDER[m.tier], 1, -similarity_from(m.signals))

    return sorted(matches, key=key)


def scores_of(order: Sequence[str], query: str, labels: Mapping[str, int]) -> tuple[float, float]:
    """P@10 and AP of one search's order of sources (the query left out; images it did not
    return count as ranked last)."""
    rel = [labels[s] == labels[query] for s in order if s != query]
    relevant = sum(1 for s, lab in labels.items() if lab == labels[query] and s != query)
    hits, total = 0, 0.0
    for rank, is_rel in enumerate(rel, 1):
        if is_rel:
            hits += 1
            total += hits / rank
    return sum(rel[:10]) / 10, total / max(relevant, 1)


def search_rows(name: str, paths: list[Path], labels: np.ndarray, searches: int) -> list[str]:
    """PicTrace's search order against the same matches in their plain-cosine order."""
    by_source = {str(p): int(lab) for p, lab in zip(paths, labels, strict=True)}
    step = max(1, len(paths) // searches) if searches else 1
    queries = [str(p) for p in paths[::step]]
    orders: dict[str, Callable[[Sequence[Match]], Sequence[Match]]] = {
        "PicTrace search order (query expansion)": lambda ms: ms,
        "the same matches by their own cosine (no expansion)": plain_order,
    }
    got: dict[str, list[tuple[float, float]]] = {label: [] for label in orders}
    with tempfile.TemporaryDirectory() as tmp, Index.open(Path(tmp) / "index") as index:
        index.add(list(by_source))
        for query in queries:
            matches = index.search(query, k=len(paths)).matches
            for label, order in orders.items():
                ranked = [m.source for m in order(matches)]
                got[label].append(scores_of(ranked, query, by_source))
    return [
        f"| {name} | {label} ({len(queries)} searches) "
        f"| {np.mean([p for p, _ in rows]):.3f} | {np.mean([a for _, a in rows]):.3f} |"
        for label, rows in got.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=0, help="searches per set (0: all)")
    args = parser.parse_args()
    lines = [
        "# Semantic similarity through the product code path\n",
        f"Command: `python bench/semantic_product.py --searches {args.searches}`\n",
        "| set | embedding | P@10 | mAP |",
        "|---|---|---|---|",
    ]
    for name in SETS:
        paths, labels, _ = list_labelled(ROOT / name)
        for label, emb in features(list(paths)).items():
            metric = "hamming" if emb.dtype == np.uint8 else "cosine"
            p10, ap = retrieval_scores(similarity(emb, metric), np.asarray(labels))
            lines.append(f"| {name} | {label} | {p10.mean():.3f} | {ap.mean():.3f} |")
        lines += search_rows(name, list(paths), np.asarray(labels), args.searches)
    text = "\n".join(lines) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
