"""Indexing and search speed on larger photos, against decode+embed alone, in one run.

    .venv/bin/python bench/bench_large.py [--photos 36] [--long-side 4032] [--per-family 4]

The development photos are small (0.37 MP on average), so ``bench_copy.py``'s speed measures
mostly the per-image features; web pictures are ~1-3 MP and a phone's photos ~12 MP, where
decoding weighs more. This bench upscales development photos (bicubic, long side
``--long-side`` px, JPEG quality 90) into the bench workspace and runs ``bench_copy.speed`` on
them (the same alternating rounds, the same reference: reading, decoding and embedding
without identity digests), plus the time ``decode`` takes per photo. Then it indexes four
fifths of them, attacks those (every family, ``--per-family`` each) and the last fifth (the
negatives), and times each query's search next to its decode+embed (``bench_copy.latencies``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_copy import latencies, speed, speed_section
from workspace import ROOT, prepare, publish

from pictrace import Index, load_settings
from pictrace.decode import decode
from pictrace.evaluate import (
    FAMILIES,
    EvalRun,
    QueryCase,
    build_attacked_set,
    load_cases,
    run_cases,
)
from pictrace.ingest.files import read_file

QUALITY = 90  # JPEG quality of the upscaled photos


def large_photos(sources: list[Path], long_side: int) -> list[Path]:
    """The sources upscaled to ``long_side`` px on the long side (made once, then reused: the
    folder is named after the sources, the size and the quality)."""
    key = hashlib.sha256(f"{[str(s) for s in sources]}:{long_side}:{QUALITY}".encode())
    folder = ROOT / f"large-{len(sources)}-{long_side}-{key.hexdigest()[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for number, source in enumerate(sources):
        target = folder / f"photo{number:03d}.jpg"
        if not target.exists():
            with Image.open(source) as image:
                rgb = image.convert("RGB")
            scale = long_side / max(rgb.size)
            size = (round(rgb.width * scale), round(rgb.height * scale))
            partial = target.with_suffix(".part")
            rgb.resize(size, Image.Resampling.BICUBIC).save(partial, "JPEG", quality=QUALITY)
            partial.replace(target)  # an interrupted run leaves no truncated photo behind
        out.append(target)
    return out


def decode_times(photos: list[Path]) -> list[float]:
    settings = load_settings()
    times = []
    for path in photos:
        source = read_file(str(path), settings.max_bytes)
        started = time.perf_counter()
        _ = decode(source, settings).pixel_sha256
        times.append((time.perf_counter() - started) * 1000)
    return times


def attacked_queries(photos: list[Path], per_family: int) -> tuple[list[Path], list[QueryCase]]:
    """The photos to index (four fifths) and attacked queries: ``per_family`` copies of them
    per family, and as many attacked negatives from the last fifth as queries per family
    (made once per photo folder, then reused)."""
    indexed, negatives = photos[: len(photos) * 4 // 5], photos[len(photos) * 4 // 5 :]
    out = photos[0].parent.with_name(f"{photos[0].parent.name}-queries-f{per_family}")
    if (out / "queries.csv").exists():
        return indexed, load_cases(out / "queries.csv")
    n_negative = max(1, per_family * len(FAMILIES) // 4)
    cases = build_attacked_set(
        indexed, out, list(FAMILIES), per_family, negatives, n_negative, seed=7
    )
    return indexed, cases


def timed_searches(
    indexed: list[Path], cases: list[QueryCase]
) -> tuple[EvalRun, tuple[list[float], list[float], list[bool]]]:
    """The queries' results, then each one's decode+embed and search timed
    (``bench_copy.latencies``), on a fresh index of ``indexed``."""
    with tempfile.TemporaryDirectory() as tmp:
        with Index.open(Path(tmp) / "index") as index:
            index.add([str(p) for p in indexed])
            found = run_cases(cases, lambda query: index.search(query, 10))
        return found, latencies(cases, Path(tmp) / "index")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=36)
    parser.add_argument("--long-side", type=int, default=4032)
    parser.add_argument("--per-family", type=int, default=4, help="attacked queries per family")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "large.md")
    args = parser.parse_args()
    photos = large_photos(list(prepare().split.index[: args.photos]), args.long_side)
    sizes = []
    for path in photos:
        with Image.open(path) as photo:
            sizes.append(photo.width * photo.height / 1e6)
    megapixels = statistics.mean(sizes)
    decoded = decode_times(photos)
    stats = speed(photos)
    indexed, cases = attacked_queries(photos, args.per_family)
    found, searched = timed_searches(indexed, cases)
    overall = found.report.overall
    lines = [
        f"# Speed on photos of {args.long_side} px\n",
        f"Command: `python bench/bench_large.py --photos {args.photos} "
        f"--long-side {args.long_side} --per-family {args.per_family}`  ",
        f"Machine: {platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores "
        "(shared).  ",
        f"{len(photos)} development photos upscaled to {args.long_side} px on the long side "
        f"({megapixels:.1f} MP on average, JPEG quality {QUALITY}).\n",
        f"`decode` of one photo, with both identity digests: {statistics.median(decoded):.1f} ms "
        f"at p50. Searches: {len(indexed)} of the photos indexed, {len(cases)} attacked "
        f"queries: R@1 {overall.recall_at[0][1]:.3f}, µAP {overall.micro_ap:.3f}, "
        f"{found.negatives_as_copy} negatives in the copy tier.\n",
        *speed_section(stats, *searched)[1:],
    ]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
