"""Shared credit marks: different photos with the same watermark must not be called copies.

    .venv/bin/python bench/bench_credits.py [--folder DIR] [--photos 300] [--negatives 100]
        [--calibration F]

A photographer's or an agency's credit line sits in the same corner of all their pictures, so
two *different* pictures of theirs share those pixels exactly; their keypoints there match and
fit a transform. This bench puts one credit mark (a credit line whose text no calibration pair
carries, white on a dark box, as on the Oxford flowers that showed the problem; the
calibration's invented lines use that look too) on photos the calibration does not use
(``--folder``, by default the CC0 clothing photos), indexes ``--photos`` of them (every other
file), and searches:

* ``--negatives`` of the other files with the same mark: nothing in the index is their copy;
* a copy of each indexed photo (a crop of 60-90 % of each side, JPEG quality 85): each is.

It reports how many negatives get a copy-tier result and how many copies are found as copies at
rank 1, for the mark in two corners, and for shop watermarks: four marks of shops' names in large,
half-transparent letters across the middle (some turned 30 degrees), most with a credit line in
a corner too (``evaluate.credits.random_shop_mark``), one per picture in turn.
``--calibration`` scores with another calibration file (copied into the index folder, where it
takes precedence), e.g. an earlier release's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import ROOT, publish

from pictrace import Index
from pictrace.evaluate import QueryCase, load_cases
from pictrace.evaluate.credits import (
    FLOWERS_LINE,
    Mark,
    boxed,
    random_shop_mark,
    shared_credit_set,
)
from pictrace.ingest.files import expand

FOLDER = Path("/work/shared/labelled/clothing16")
OUT = Path(__file__).parent / "results" / "credits.md"


def cropped(picture: Image.Image, rng: np.random.Generator) -> Image.Image:
    """60-90 % of each side, anywhere in the picture."""
    w, h = picture.size
    f = rng.uniform(0.6, 0.9)
    x0, y0 = rng.uniform(0, w * (1 - f)), rng.uniform(0, h * (1 - f))
    return picture.crop((round(x0), round(y0), round(x0 + w * f), round(y0 + h * f)))


# The marks of each row: the credit line in two corners, and four shop watermarks.
MARKS: dict[str, list[Mark]] = {
    "none": [None],  # the control: photos alike without any mark (a shared floor, a rug)
    "br": [boxed(FLOWERS_LINE, "br")],
    "tl": [boxed(FLOWERS_LINE, "tl")],
    "shop": [random_shop_mark(np.random.default_rng(seed)) for seed in range(100, 104)],
}


def marked_set(
    name: str, photos: list[Path], negatives: list[Path]
) -> tuple[Path, list[QueryCase]]:
    """The marked photos' folder and the cases (made once)."""
    source = photos[0].parent.parent.name
    folder = ROOT / f"credits-bench-{source}-{name}-{len(photos)}-{len(negatives)}-v2"
    if (folder / "queries.csv").exists():
        return folder / "index", load_cases(folder / "queries.csv")
    return shared_credit_set(photos, negatives, folder, [cropped], seed=5, marks=MARKS[name])


def run(name: str, photos: list[Path], negatives: list[Path], calibration: Path | None) -> str:
    pictures, cases = marked_set(name, photos, negatives)
    index_dir = pictures.parent / "catalogue"
    if not index_dir.exists():
        with Index.open(index_dir) as index:
            index.add([str(pictures)])
    own = index_dir / "calibration.json"
    own.unlink(missing_ok=True)
    if calibration is not None:
        shutil.copy(calibration, own)
    negs = [c.query for c in cases if c.expected is None]
    copies = [c for c in cases if c.expected is not None]
    try:
        with Index.open(index_dir, readonly=True) as index:
            false = sum(any(m.tier == "copy" for m in index.search(q, 10).matches) for q in negs)
            found = sum(found_as_copy(index, case) for case in copies)
    finally:
        own.unlink(missing_ok=True)
    return f"| {name} | {len(negs)} | {false} | {len(copies)} | {found} |"


def found_as_copy(index: Index, case: QueryCase) -> bool:
    best = index.search(case.query, 1).matches
    return bool(best) and Path(best[0].source).stem == case.expected and best[0].tier == "copy"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=FOLDER)
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--negatives", type=int, default=100)
    parser.add_argument("--calibration", type=Path, help="score with this calibration file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    files = sorted(Path(p) for p in expand([args.folder]))
    photos, negatives = files[0::2][: args.photos], files[1::2][: args.negatives]
    rows = [run(name, photos, negatives, args.calibration) for name in MARKS]
    scored = f"`{args.calibration}`" if args.calibration else "the shipped calibration"
    text = "\n".join(
        [
            "# Shared credit marks\n",
            f"Command: `python bench/bench_credits.py --folder {args.folder} "
            f"--photos {args.photos} --negatives {args.negatives}"
            + (f" --calibration {args.calibration}`" if args.calibration else "`"),
            f"Scored with {scored}. Row `none`: no mark, the control (photos alike "
            "without one: garments on one floor). Rows `br` and `tl`: one credit line "
            f"({' / '.join(FLOWERS_LINE)}) in that corner of every picture. Row `shop`: four "
            "shop watermarks across the middle, most with a credit line in a corner too.\n",
            "| marks | negatives | negatives with a copy-tier result | copies | "
            "copies found as copies at rank 1 |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
