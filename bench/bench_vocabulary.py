"""The local-feature vocabulary's size: what a search's votes scan, and what they find.

    .venv/bin/python bench/bench_vocabulary.py [--lists 4096] [--ratios 0.74 0.7]

Each query descriptor scans one inverted list of the vocabulary, so a vote's cost grows with
the collection as the share of the stored descriptors in the lists the query's descriptors
fall in: "scanned per 1,000 stored" below, measured on three collections (each one's own
descriptors stored, every seventh one as a query): the development index, clothing photos
and flower photos. A larger vocabulary has shorter lists, but a copy's descriptor may then
fall in another list than its original's and not vote.

Vocabularies of ``--lists`` words are trained here as ``tools/train_vocabulary.py`` trains
the shipped one (faiss k-means, seed 1234), on the development index's descriptors plus those
of every other of 800 clothing photos; the flower photos are held out. Each gets a codebook
trained on the clothing descriptors' residuals from its words. Votes, as a search's first
look casts them (96 direct and 96 mirrored descriptors): of the attacked copies of two query
seeds (7 and 101), how many give their original at least MIN_VOTES; of their negatives, how
many give some image that many.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from train_vocabulary import codebook, descriptors
from workspace import attacked, prepare

from pictrace import Index
from pictrace.evaluate.run import source_key
from pictrace.features.base import local_descriptors
from pictrace.features.keypoints import mirror_descriptors
from pictrace.search.candidates import MIN_VOTES
from pictrace.search.engine import VOTE_KEYPOINTS
from pictrace.store.rows import LOCAL_SLOTS
from pictrace.store.vectors import VOTE_RATIO, LocalSpace
from pictrace.store.vocabulary import local_centroids, local_codebook

ROOT = Path(__file__).resolve().parents[1]
LABELLED = Path("/work/shared/labelled")
OUT = ROOT / "bench" / "results" / "vocabulary.md"
Query = tuple[np.ndarray, int | None]  # first-look descriptors, the original's id (or None)


def development() -> tuple[dict[int, np.ndarray], list[Query]]:
    """The development index's stored descriptors per image, and the attacked queries'."""
    work = prepare()
    queries: list[Query] = []
    with Index.open(work.index_dir, readonly=True) as index:
        stored = index.store.features("keypoints", index.store.all_ids())
        rows = {i: local_descriptors(v)[:LOCAL_SLOTS] for i, v in stored.items()}
        by_name = {source_key(r.source): r.id for r in index.list()}
        for seed in (7, 101):
            for case in attacked(work.split, seed, 20, 150):
                query = index.prepare_query(case.query).features["keypoints"]
                expected = by_name[source_key(case.expected)] if case.expected else None
                queries.append((local_descriptors(query)[:VOTE_KEYPOINTS], expected))
    return rows, queries


def scanned(words: np.ndarray, stored: np.ndarray) -> float:
    """The share (per 1,000) of ``stored`` in the list of an average one of them."""
    space = LocalSpace(stored.shape[1], words, None)  # owns the quantizer: keep it alive
    lists = space.index.quantizer.search(stored, 1)[1].ravel()
    sizes = np.bincount(lists, minlength=len(words))
    return float(sizes[lists[::7]].mean()) / len(stored) * 1000


def votes(space: LocalSpace, queries: list[Query], ratio: float) -> tuple[int, int]:
    """(copies whose original gets MIN_VOTES, negatives giving some image that many)."""
    copies = negatives = 0
    for desc, expected in queries:
        rows = np.asarray(desc, np.float32)
        direct = space.votes(rows, LOCAL_SLOTS, ratio)
        mirror = space.votes(np.asarray(mirror_descriptors(desc), np.float32), LOCAL_SLOTS, ratio)
        own = {i: direct.get(i, 0) + mirror.get(i, 0) for i in direct.keys() | mirror.keys()}
        if expected is None:
            negatives += any(v >= MIN_VOTES for v in own.values())
        else:
            copies += own.get(expected, 0) >= MIN_VOTES
    return copies, negatives


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lists", type=int, nargs="*", default=[4096])
    parser.add_argument("--ratios", type=float, nargs="+", default=[VOTE_RATIO, 0.7])
    args = parser.parse_args()
    rows, queries = development()
    dev = np.concatenate(list(rows.values())).astype(np.float32)
    clothing = descriptors(LABELLED / "clothing16", 800).astype(np.float32)
    flowers = descriptors(LABELLED / "oxford17", 800).astype(np.float32)
    training = np.concatenate([dev, clothing[::2]])
    ids = np.concatenate([i * LOCAL_SLOTS + np.arange(len(r)) for i, r in rows.items()])
    vocabularies = [("shipped", local_centroids(), local_codebook())]
    for lists in args.lists:
        started = time.perf_counter()
        kmeans = faiss.Kmeans(dev.shape[1], lists, niter=20, seed=1234)
        kmeans.train(training)
        words = kmeans.centroids.astype(np.float32)
        vocabularies.append((f"{lists} words", words, codebook(clothing[1::2], 1234, words)))
        print(f"{lists} words trained in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    positives = sum(1 for _, expected in queries if expected is not None)
    lines = [
        "# Local-feature vocabulary: what the votes scan, and what they find\n",
        "Command: `python bench/bench_vocabulary.py --lists "
        f"{' '.join(map(str, args.lists))} --ratios {' '.join(map(str, args.ratios))}`\n",
        f"Development index: {len(rows)} images ({len(dev):,} descriptors); clothing "
        f"{len(clothing):,} and flowers {len(flowers):,} descriptors (800 photos each); "
        f"{positives} attacked copies and {len(queries) - positives} negatives.\n",
        "| vocabulary | words | scanned per 1,000 stored: development | clothing | flowers "
        "(held out) | ratio | copies with ≥ 2 votes | negatives with ≥ 2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, words, parts in vocabularies:
        scans = [scanned(words, collection) for collection in (dev, clothing, flowers)]
        space = LocalSpace(dev.shape[1], words, parts)
        space.index.add_with_ids(dev, ids.astype(np.int64))
        for ratio in args.ratios:
            copies, negatives = votes(space, queries, ratio)
            line = (
                f"| {name} | {len(words):,} | {scans[0]:.2f} | {scans[1]:.2f} | {scans[2]:.2f} "
                f"| {ratio:g} | {copies} of {positives} | {negatives} of "
                f"{len(queries) - positives} |"
            )
            print(line, flush=True)
            lines.append(line)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
