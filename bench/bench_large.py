"""Indexing speed on phone-sized photos (12 MP), against decode+embed alone, in one run.

    .venv/bin/python bench/bench_large.py [--photos 36] [--long-side 4032]

The development photos are small (most well under 1 MP), so ``bench_copy.py``'s throughput
measures mostly the per-image features; a phone's photos are ~12 MP, where decoding is most
of the cost. This bench upscales development photos (bicubic, long side ``--long-side`` px,
JPEG quality 90) into the bench workspace and runs ``bench_copy.speed`` on them (the same
alternating rounds, the same reference: reading, decoding and embedding without identity
digests), plus the time ``decode`` takes per photo.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_copy import ROUNDS, speed
from workspace import ROOT, prepare

from pictrace import load_settings
from pictrace.decode import decode
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=36)
    parser.add_argument("--long-side", type=int, default=4032)
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
    lines = [
        "# Indexing phone-sized photos\n",
        f"Command: `python bench/bench_large.py --photos {args.photos} "
        f"--long-side {args.long_side}`  ",
        f"Machine: {platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores "
        "(shared).  ",
        f"{len(photos)} development photos upscaled to {args.long_side} px on the long side "
        f"({megapixels:.1f} MP on average, JPEG quality {QUALITY}).\n",
        "| measure | value | ratio |",
        "|---|---|---|",
        f"| `decode` of one photo, with both identity digests (p50) | "
        f"{statistics.median(decoded):.1f} ms | – |",
        f"| decode + embed, batched (no digests) | {stats['decode_embed_per_s']:.2f} images/s "
        "| 1.00 |",
        f"| indexing (all features, SQLite, faiss), best runs | {stats['index_per_s']:.2f} "
        f"images/s | {stats['index_per_s'] / stats['decode_embed_per_s']:.2f}× |",
        f"| indexing / decode + embed within each round, median (range) | – | "
        f"{stats['paired_ratio']:.2f}× ({stats['paired_low']:.2f}–{stats['paired_high']:.2f}) |",
        f"\n{ROUNDS} alternating runs of each (as in `bench_copy.py`).",
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
