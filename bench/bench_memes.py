"""Memes: different pictures captioned with the same words must not be copies.

    .venv/bin/python bench/bench_memes.py [--photos 150] [--seed 5] [--out F]

A meme generator writes its captions in one typeface (white letters, black outline) over the
picture or in bands above and below it, and the same words come back again and again ("WHEN
YOU", "MONDAY"). Keypoints on those letters match between two different memes and fit a
transform, most often one that maps a strip of one picture onto a strip of the other. This
bench measures how often PicTrace calls such memes copies, and that a re-captioned meme is
still found:

* ``--photos`` development photos (one per near-duplicate cluster) are captioned with the copy
  benchmark's ``caption`` attack (one to three words from a pool of sixteen, at a random size,
  on the picture or in bands) and indexed;
* as many other photos, captioned the same way, are searched (negatives: any copy-tier result
  is false), and again each with the very caption of one indexed meme (the same words, size and
  place: a template's text on another picture);
* each indexed photo captioned again with other words is searched (positives: the indexed meme
  must be the first result, in the copy tier).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devset import read_manifest, split_devset
from workspace import ROOT, publish

from pictrace import Index
from pictrace.evaluate.canvas import load_rgb
from pictrace.evaluate.overlays import caption

OUT = Path(__file__).parent / "results" / "memes.md"


def captioned(photos: list[Path], folder: Path, seed: int) -> list[Path]:
    """Each photo with a caption of its own (``seed`` + its position), as JPEG quality 90."""
    folder.mkdir(parents=True)
    made = []
    for k, path in enumerate(photos):
        out = folder / f"{k:03d}.jpg"
        caption(load_rgb(path), np.random.default_rng(seed + k)).save(out, quality=90)
        made.append(out)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=150)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    split = split_devset(read_manifest())
    pool = list(split.index) + list(split.negatives)
    order = np.random.default_rng(args.seed).permutation(len(pool))
    chosen = [pool[int(i)] for i in order[: 2 * args.photos]]
    work = ROOT / "memes"
    shutil.rmtree(work, ignore_errors=True)
    indexed = captioned(chosen[: args.photos], work / "indexed", 1000 * args.seed)
    others = captioned(chosen[args.photos :], work / "others", 1000 * args.seed + 500)
    twins = captioned(chosen[args.photos :], work / "twins", 1000 * args.seed)  # same captions
    again = captioned(chosen[: args.photos], work / "again", 1000 * args.seed + 2000)
    false = twinned = found = 0
    with Index.open(work / "index") as index:
        index.add([str(p) for p in indexed])
        for path in others:
            false += any(m.tier != "similar" for m in index.search(path, k=3).matches)
        for path in twins:
            twinned += any(m.tier != "similar" for m in index.search(path, k=3).matches)
        for path, original in zip(again, indexed, strict=True):
            best = index.search(path, k=1).matches
            found += bool(best) and best[0].source == str(original) and best[0].tier == "copy"
    lines = [
        "# Memes: different pictures, the same caption words\n",
        f"Command: `python bench/{Path(sys.argv[0]).name} --photos {args.photos} "
        f"--seed {args.seed}`\n",
        "| indexed memes | other memes with a false copy | the same with an indexed meme's very "
        "caption | re-captioned memes found as copy at rank 1 |",
        "|---|---|---|---|",
        f"| {args.photos} | {false} of {args.photos} | {twinned} of {args.photos} | "
        f"{found} of {args.photos} |",
    ]
    publish("\n".join(lines), args.out, scratch=work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
