"""Exact Hamming search over one million 64-bit perceptual hashes (the embedded hash space).

    .venv/bin/python bench/bench_hash.py [--codes 1000000]

Times ``HashSpace.search`` (faiss binary flat, exact) for one query at a time, with faiss on one
thread (as PicTrace runs it) and, for comparison, faiss's default OpenMP threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import faiss
import numpy as np

from pictrace.store.vectors import HashSpace, single_threaded


def timed(space: HashSpace, queries: np.ndarray) -> list[float]:
    out = []
    for row in queries:
        started = time.perf_counter()
        space.search(row[None], 10, 12)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    space = HashSpace(64)
    space.add(np.arange(args.codes), rng.integers(0, 256, (args.codes, 8), dtype=np.uint8))
    queries = rng.integers(0, 256, (args.queries, 8), dtype=np.uint8)
    faiss.omp_set_num_threads(2)
    default = timed(space, queries)
    single_threaded()
    ours = timed(space, queries)
    print(f"| {args.codes:,} codes, 1 query, k=10 | p50 ms | p95 ms |\n|---|---|---|")
    for name, values in (("faiss default threads (2)", default), ("PicTrace (1 thread)", ours)):
        values.sort()
        print(
            f"| {name} | {statistics.median(values):.2f} | {values[int(len(values) * 0.95)]:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
