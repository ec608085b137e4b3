"""An embedding space grown past the HNSW threshold in a running server: what its searches
cost flat and as HNSW, how long building the HNSW space beside it takes, and how long
searches and writes are held back while it takes the flat one's place.

    .venv/bin/python bench/bench_growing.py [--images 50000] [--writes-per-s 20]

Synthetic unit vectors of the CNN's width stand in for a collection's embeddings (the costs
depend on their number and width, not on what they show). The build runs as the store runs
it (``store/growing.py``, faiss on one thread) under the store's read-write lock, while one
thread adds vectors to the flat space at ``--writes-per-s`` (uploads arriving) and another
searches it one query at a time (a visitor): each search's wait for the lock is recorded.
The writer makes room in the space before each add, as the store's ``add`` does
(``store/room.py``): its wait counts that too.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import threading
import time
from pathlib import Path

import numpy as np

from pictrace.features.cnn import CNN, EMBED_DIM
from pictrace.store import growing
from pictrace.store.room import make_room
from pictrace.store.rwlock import ReadWriteLock
from pictrace.store.vectors import VectorSpace
from pictrace.threads import quiet_this_thread


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.normal(size=(n, EMBED_DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def per_query_ms(space: VectorSpace, queries: np.ndarray) -> float:
    times = []
    for query in queries:
        started = time.perf_counter()
        space.search(query[None], 10)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def build_beside_traffic(
    flat: VectorSpace, n: int, rng: np.random.Generator, writes_per_s: float
) -> dict[str, float]:
    """Run the build while a writer and a searcher use the flat space under the lock."""
    guard, spaces = ReadWriteLock(), {"cnn": flat}
    done, waits, write_waits = threading.Event(), [], []
    extra = unit_rows(rng, 20_000)

    def writer() -> None:
        quiet_this_thread()
        for i, row in enumerate(extra):
            if done.is_set():
                return
            asked = time.perf_counter()
            make_room(guard, spaces, {"cnn": CNN}, 1)  # as the store's add does first
            with guard.writing():
                write_waits.append(time.perf_counter() - asked)
                spaces["cnn"].add(np.array([n + i]), row[None])
            time.sleep(1 / writes_per_s)

    def searcher() -> None:
        quiet_this_thread()
        while not done.is_set():
            asked = time.perf_counter()
            with guard.reading():
                waits.append(time.perf_counter() - asked)
                spaces["cnn"].search(extra[len(waits) % len(extra)][None], 10)

    threads = [threading.Thread(target=writer), threading.Thread(target=searcher)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    for name, space, whole in growing.built(guard, spaces, {"cnn": CNN}, lambda: {"cnn"}):
        spaces[name] = space
        print(f"  in place: {space.size:,} rows, whole: {whole}")
    took = time.perf_counter() - started
    done.set()
    for thread in threads:
        thread.join()
    return {
        "build_s": took,
        "searches": len(waits),
        "search_wait_max_ms": max(waits) * 1000,
        "search_wait_p99_ms": float(np.percentile(waits, 99) * 1000),
        "write_wait_max_ms": max(write_waits) * 1000,
        "writes": len(write_waits),
        "size": spaces["cnn"].size,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--writes-per-s", type=float, default=20.0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "growing.md"
    )
    args = parser.parse_args()
    quiet_this_thread()
    rng = np.random.default_rng(7)
    flat, rows = VectorSpace(EMBED_DIM), unit_rows(rng, args.images)
    flat.add(np.arange(args.images), rows)
    queries = unit_rows(rng, 200)
    flat_ms = per_query_ms(flat, queries)
    print(f"{args.images:,} vectors of {EMBED_DIM}: flat search p50 {flat_ms:.2f} ms")
    traffic = build_beside_traffic(flat, args.images, rng, args.writes_per_s)
    built = growing.built_beside(EMBED_DIM, np.arange(args.images), rows)
    hnsw_ms = per_query_ms(built, queries)
    print(f"HNSW search p50 {hnsw_ms:.2f} ms; build beside traffic {traffic}")
    lines = [
        "# An embedding space built as HNSW beside a running server",
        "",
        f"Command: `python bench/bench_growing.py --images {args.images} "
        f"--writes-per-s {args.writes_per_s:g}`  ",
        f"Machine: {platform.machine()}, {platform.python_version()}, 2 cores (shared).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| vectors (synthetic, {EMBED_DIM}-d) | {args.images:,} |",
        f"| search p50, flat (one query, one thread) | {flat_ms:.2f} ms |",
        f"| search p50, HNSW | {hnsw_ms:.2f} ms |",
        f"| HNSW built and caught up beside the flat space (one thread) | "
        f"{traffic['build_s']:.1f} s |",
        f"| searches meanwhile / longest wait for the lock | {traffic['searches']:,} / "
        f"{traffic['search_wait_max_ms']:.1f} ms (p99 {traffic['search_wait_p99_ms']:.2f} ms) |",
        f"| writes meanwhile / longest wait | {traffic['writes']:,} / "
        f"{traffic['write_wait_max_ms']:.1f} ms |",
        f"| rows in the new space (built + caught up) | {traffic['size']:,} |",
    ]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
