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
from pictrace.search.expansion import expanded_query
from pictrace.search.ranking import order_key, similarity_from
from pictrace.types import Match

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
    """A search's matches ordered as before query expansion: ``ranking.order_key`` with the
    query's own cosine."""
    return sorted(
        matches, key=lambda m: order_key(m.tier, m.copy_confidence, m.signals, similarity_from)
    )


def variant_rows(name: str, emb: np.ndarray, labels: np.ndarray) -> list[str]:
    """The expansion's neighbours and weights, on the embeddings alone (each image querying
    all others, its neighbours among them): the shipped ``expanded_query`` with other
    settings; the shipped one over a search's 32 candidates only (the rest in their own
    order); and database-side augmentation (each image's vector grown by its nearest
    few first, the query's own left out)."""
    cos = emb @ emb.T
    np.fill_diagonal(cos, -np.inf)
    rows = []
    for neighbours, power in ((1, 3.0), (2, 3.0), (3, 3.0), (3, 0.0), (5, 3.0), (10, 3.0)):
        grown = np.stack(
            [expanded_query(e, emb, c, neighbours, power) for e, c in zip(emb, cos, strict=True)]
        )
        label = f"{neighbours} neighbours, power {power:g}"
        rows.append(_row(name, label, grown @ emb.T, labels))
    shipped = np.stack([expanded_query(e, emb, c) for e, c in zip(emb, cos, strict=True)])
    short = np.where(cos >= np.sort(cos, axis=1)[:, -32:-31], 10.0 + shipped @ emb.T, cos)
    p10, ap = retrieval_scores(short, labels)
    rows.append(
        f"| {name} | shipped, 32 candidates re-ranked | {p10.mean():.3f} | {ap.mean():.3f} |"
    )
    for neighbours in (3, 5):
        scores = _augmented(emb, cos, neighbours)
        rows.append(_row(name, f"database-side augmentation, {neighbours}", scores, labels))
    return rows


def _row(name: str, label: str, scores: np.ndarray, labels: np.ndarray) -> str:
    p10, ap = retrieval_scores(scores, labels)
    return f"| {name} | {label} | {p10.mean():.3f} | {ap.mean():.3f} |"


def _augmented(emb: np.ndarray, cos: np.ndarray, neighbours: int) -> np.ndarray:
    """Scores of every query against every image, both grown by their nearest few (the
    query's own vector never among an image's neighbours)."""
    near = np.argsort(-cos, axis=1)[:, : neighbours + 1]
    scores = np.empty_like(cos)
    for i in range(len(emb)):
        idx = np.array([[k for k in row if k != i][:neighbours] for row in near])
        weight = np.take_along_axis(cos, idx, axis=1)
        weight = np.where(weight >= 0.5, weight**3, 0.0)
        grown = emb + (weight[:, :, None] * emb[idx]).sum(axis=1)
        grown /= np.linalg.norm(grown, axis=1, keepdims=True)
        query = expanded_query(emb[i], grown, np.where(np.arange(len(emb)) == i, -1.0, cos[i]))
        scores[i] = grown @ query
    return scores


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
    top: list[float] = []  # P@10 of a search for 10 (its candidates only re-ranked)
    with tempfile.TemporaryDirectory() as tmp, Index.open(Path(tmp) / "index") as index:
        index.add(list(by_source))
        for query in queries:
            matches = index.search(query, k=len(paths)).matches
            for label, order in orders.items():
                ranked = [m.source for m in order(matches)]
                got[label].append(scores_of(ranked, query, by_source))
            ten = [m.source for m in index.search(query, k=11).matches]
            top.append(scores_of(ten, query, by_source)[0])
    return [
        *(
            f"| {name} | {label} ({len(queries)} searches) "
            f"| {np.mean([p for p, _ in rows]):.3f} | {np.mean([a for _, a in rows]):.3f} |"
            for label, rows in got.items()
        ),
        f"| {name} | PicTrace search for 11 (the query and 10 others) | {np.mean(top):.3f} | – |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=0, help="searches per set (0: all)")
    parser.add_argument(
        "--variants", action="store_true", help="also other expansions (embeddings only)"
    )
    args = parser.parse_args()
    lines = [
        "# Semantic similarity through the product code path\n",
        f"Command: `python bench/semantic_product.py --searches {args.searches}"
        f"{' --variants' if args.variants else ''}`\n",
        "| set | embedding | P@10 | mAP |",
        "|---|---|---|---|",
    ]
    for name in SETS:
        paths, labels, _ = list_labelled(ROOT / name)
        embedded = features(list(paths))
        for label, emb in embedded.items():
            metric = "hamming" if emb.dtype == np.uint8 else "cosine"
            p10, ap = retrieval_scores(similarity(emb, metric), np.asarray(labels))
            lines.append(f"| {name} | {label} | {p10.mean():.3f} | {ap.mean():.3f} |")
        if args.variants:
            ours = embedded["PicTrace embedding (GeM, centre crop)"]
            lines += variant_rows(name, ours.astype(np.float32), np.asarray(labels))
        lines += search_rows(name, list(paths), np.asarray(labels), args.searches)
    text = "\n".join(lines) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
