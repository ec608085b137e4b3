"""How the local-feature index grows: vote time and memory against the number of images.

    .venv/bin/python bench/bench_local_scale.py [--multiples 1 10 50 100]

The keypoint votes are the one part of a search whose cost grows with the collection: every
query descriptor scans one inverted list of the shipped 4,096-word vocabulary, and those lists
lengthen with every image added (the hash space is exact at a million codes in ~1 ms, see
``bench_hash.py``; the embeddings switch to HNSW past ``PICTRACE_HNSW_THRESHOLD``).

The development index's real RootSIFT descriptors are added to a ``LocalSpace`` as they are,
then again as synthetic "other images" (each descriptor jittered by up to +-6 of 255 per
component, so the lists fill as real photos fill them) until the space holds ``multiples``
times the development index. At each size, the first-look descriptors of attacked queries
vote (96 direct and 96 mirrored, as a search does) and the resident memory is read. The
jittered images are for timing and memory only: they are near-copies of the real ones, so
they say nothing about recall among distractors.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import attacked, prepare

from pictrace import Index
from pictrace.features.base import local_descriptors
from pictrace.features.keypoints import mirror_descriptors
from pictrace.search.engine import VOTE_KEYPOINTS
from pictrace.store.rows import LOCAL_SLOTS
from pictrace.store.vectors import LocalSpace
from pictrace.store.vocabulary import local_centroids, local_codebook

JITTER = 6


def resident_gb() -> float:
    """Resident memory of this process now (Linux: /proc/self/statm counts pages)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


class GrowingSpace:
    """A LocalSpace filled with the development descriptors, then with jittered copies."""

    def __init__(self, rows: list[np.ndarray], seed: int = 0) -> None:
        self.rows = rows
        self.rng = np.random.default_rng(seed)
        self.space = LocalSpace(128, local_centroids(), local_codebook())
        self.images = 0
        self.rounds = 0

    def grow_to(self, multiple: int) -> None:
        while self.rounds < multiple:
            self._add_round(jitter=self.rounds > 0)
            self.rounds += 1

    def _add_round(self, jitter: bool) -> None:
        batch, ids = [], []
        for row in self.rows:
            desc = self._jittered(row) if jitter else row
            batch.append(desc)
            ids.append(self.images * LOCAL_SLOTS + np.arange(len(desc)))
            self.images += 1
        self.space.add(np.concatenate(ids), np.concatenate(batch))

    def _jittered(self, row: np.ndarray) -> np.ndarray:
        noise = self.rng.integers(-JITTER, JITTER + 1, row.shape)
        return np.clip(row.astype(np.int16) + noise, 0, 255).astype(np.uint8)

    def vote_ms(self, queries: list[np.ndarray]) -> list[float]:
        out = []
        for desc in queries:
            started = time.perf_counter()
            self.space.votes(desc, LOCAL_SLOTS)
            self.space.votes(mirror_descriptors(desc), LOCAL_SLOTS)
            out.append((time.perf_counter() - started) * 1000)
        return out


def development_descriptors(n_queries: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The indexed images' descriptors, and the first-look voting descriptors of queries."""
    work = prepare()
    cases = [c for c in attacked(work.split, 7, 20, 150) if c.expected]
    step = max(1, len(cases) // n_queries)
    with Index.open(work.index_dir, readonly=True) as index:
        stored = index.store.features("keypoints", index.store.all_ids())
        queries = [
            local_descriptors(index.prepare_query(c.query).features["keypoints"])[:VOTE_KEYPOINTS]
            for c in cases[::step][:n_queries]
        ]
    return [local_descriptors(v) for v in stored.values()], queries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--multiples", type=int, nargs="+", default=[1, 10, 50, 100])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "local-scale.md"
    )
    args = parser.parse_args()
    rows, queries = development_descriptors(args.queries)
    growing = GrowingSpace(rows)
    start_gb = resident_gb()  # the empty space (vocabulary, tables) is not the images' memory
    lines = [
        "# Local-feature index: vote time and memory against its size",
        "",
        "Command: `python bench/bench_local_scale.py "
        f"--multiples {' '.join(map(str, args.multiples))}`  ",
        f"Machine: {platform.machine()}, {platform.python_version()}, one query at a time; "
        f"{len(rows)} development images ({sum(len(r) for r in rows):,} descriptors) "
        "plus jittered copies.",
        "",
        "| images | descriptors | votes per query p50 ms | p95 ms | memory GB (growth) "
        "| bytes per image |",
        "|---|---|---|---|---|---|",
    ]
    for multiple in sorted(args.multiples):
        growing.grow_to(multiple)
        times = sorted(growing.vote_ms(queries * 2))
        grown = resident_gb() - start_gb
        line = (
            f"| {growing.images:,} | {growing.space.index.ntotal:,} | "
            f"{statistics.median(times):.2f} | {times[int(len(times) * 0.95)]:.2f} | "
            f"{grown:.2f} | {grown * 1e9 / growing.images:,.0f} |"
        )
        print(line, flush=True)
        lines.append(line)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
