"""Copy detection under attacks no benchmark or calibration here was tuned on.

    .venv/bin/python bench/bench_unseen.py [--per-family 30] [--negatives 100] [--seed 3]

The held-out acceptance benchmarks use attacks of their own, so this bench keeps a second set
of families outside ``pictrace.evaluate.attacks`` (defined here, used nowhere else): squashed
or stretched aspect, upside down, thumbnails of 64 and 100 px, pixelation, crops of 4-7 % of
the area (below the 10 % the crop families start at), a 2x2 collage with three other photos,
a rotation cropped to its centre, posterised to 4 levels, gamma with hard sharpening, a 7 px
median filter, and grey plus a crop. Queries are made from the development index's photos
(``workspace.prepare``); negatives are held-out photos given a random family. PicTrace is
compared with the CNN embedding alone and a plain pHash in the same run (as in
``bench_copy.py``); "as copy at rank 1" counts positives whose first result is the right photo
in the ``copy`` or ``exact`` tier.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_copy import PHashBaseline, baseline_outcomes, embedding_only
from workspace import ROOT, prepare, publish

from pictrace import Index
from pictrace.evaluate import (
    QueryCase,
    QueryOutcome,
    evaluate,
    load_cases,
    report_markdown,
    run_cases,
    write_cases,
)
from pictrace.evaluate.attacks import crop_medium
from pictrace.evaluate.canvas import load_rgb
from pictrace.evaluate.canvas import prepare as flat

OUT = Path(__file__).parent / "results" / "unseen.md"
Unseen = Callable[[Image.Image, np.random.Generator, list[Path]], Image.Image]


def squash(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    factor = float(rng.choice([0.55, 0.7, 1.4, 1.7]))
    return img.resize((max(8, round(img.width * factor)), img.height), Image.Resampling.BICUBIC)


def upside_down(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    return ImageOps.flip(img)


def thumbnail(side: int) -> Unseen:
    def shrink(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
        scale = side / max(img.size)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        return img.resize(size, Image.Resampling.LANCZOS)

    return shrink


def pixelate(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    scale = rng.uniform(0.06, 0.12)
    small = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(small, Image.Resampling.BILINEAR).resize(img.size, Image.Resampling.NEAREST)


def crop_tiny(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    side = rng.uniform(0.2, 0.27)  # of each side: 4-7 % of the area
    x0, y0 = rng.uniform(0, img.width * (1 - side)), rng.uniform(0, img.height * (1 - side))
    box = (x0, y0, x0 + img.width * side, y0 + img.height * side)
    return img.crop(tuple(round(v) for v in box))


def collage(img: Image.Image, rng: np.random.Generator, others: list[Path]) -> Image.Image:
    half = (img.width // 2, img.height // 2)
    canvas = Image.new("RGB", img.size, "white")
    slot = int(rng.integers(0, 4))
    for i in range(4):
        tile = img if i == slot else load_rgb(others[int(rng.integers(0, len(others)))])
        canvas.paste(tile.resize(half), ((i % 2) * half[0], (i // 2) * half[1]))
    return canvas


def rotate_centre(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    turned = img.rotate(float(rng.uniform(10, 40) * rng.choice([-1, 1])), Image.Resampling.BICUBIC)
    w, h = img.size
    return turned.crop((round(w * 0.2), round(h * 0.2), round(w * 0.8), round(h * 0.8)))


def posterise(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    return ImageOps.posterize(img, 2)


def gamma_sharpen(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    gamma = rng.uniform(0.4, 2.2)
    sharp = img.filter(ImageFilter.UnsharpMask(4, 200, 2))
    return sharp.point([round(255 * (v / 255) ** gamma) for v in range(256)] * 3)


def median(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    return img.filter(ImageFilter.MedianFilter(7))


def grey_crop(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    return ImageOps.grayscale(crop_medium(img, rng)).convert("RGB")


FAMILIES: dict[str, Unseen] = {
    "squash": squash,
    "upside_down": upside_down,
    "thumbnail_64": thumbnail(64),
    "thumbnail_100": thumbnail(100),
    "pixelate": pixelate,
    "crop_tiny": crop_tiny,
    "collage": collage,
    "rotate_centre": rotate_centre,
    "posterise": posterise,
    "gamma_sharpen": gamma_sharpen,
    "median": median,
    "grey_crop": grey_crop,
}


def query_set(
    families: dict[str, Unseen],
    tag: str,
    photos: list[Path],
    negatives: list[Path],
    args: argparse.Namespace,
) -> list[QueryCase]:
    """The queries (made once per setting, then read from ROOT)."""
    per_family, n_negative, seed = args.per_family, args.negatives, args.seed
    out = ROOT / f"{tag}-s{seed}-f{per_family}-n{n_negative}"
    if (out / "queries.csv").exists():
        return load_cases(out / "queries.csv")
    rng = np.random.default_rng(seed)
    cases: list[QueryCase] = []
    (out / "queries").mkdir(parents=True, exist_ok=True)
    names = list(families)
    jobs = [(f, photos[int(i)]) for f in names for i in rng.choice(len(photos), per_family, False)]
    reuse = n_negative > len(negatives)  # the development split holds 117
    for i in rng.choice(len(negatives), n_negative, replace=reuse):
        jobs.append((names[int(rng.integers(0, len(names)))], negatives[int(i)]))
    for n, (family, source) in enumerate(jobs):
        query = out / "queries" / f"{n:05d}.png"
        families[family](flat(load_rgb(source)), rng, negatives).save(query)
        expected = source.stem if n < len(names) * per_family else None
        cases.append(QueryCase(query, expected, family))
    write_cases(cases, out / "queries.csv")
    return cases


def as_copy_at_rank_1(outcomes: Sequence[QueryOutcome], threshold: float) -> dict[str, float]:
    """Per family, the share of positives whose first result is theirs, as a copy (exact
    duplicates have confidence 1)."""
    hits: dict[str, list[bool]] = {}
    for outcome in outcomes:
        if outcome.expected:
            first = outcome.ranked[:1]
            found = bool(first) and first[0][0] in outcome.expected and first[0][1] >= threshold
            hits.setdefault(outcome.family, []).append(found)
    return {family: sum(v) / len(v) for family, v in sorted(hits.items())}


def arguments(doc: str, out: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--per-family", type=int, default=30)
    parser.add_argument("--negatives", type=int, default=100)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=out)
    return parser.parse_args()


def run(families: dict[str, Unseen], tag: str, title: str, args: argparse.Namespace) -> int:
    """Search every query of ``families`` (plus negatives) in the development index with
    PicTrace, the CNN embedding alone and pHash, and publish the tables."""
    work = prepare()
    photos, negatives = list(work.split.index), list(work.split.negatives)
    cases = query_set(families, tag, photos, negatives, args)
    with Index.open(work.index_dir, readonly=True) as index:
        ours = run_cases(cases, lambda q: index.search(q, 10))
        as_copy = as_copy_at_rank_1(ours.outcomes, index.settings.copy_threshold)
        emb = evaluate(baseline_outcomes(index, cases, embedding_only))
        ph = evaluate(baseline_outcomes(index, cases, PHashBaseline(index)))
    summary = ["| ranking | R@1 | R@10 | µAP |", "|---|---|---|---|"]
    for name, report in (("PicTrace", ours.report), ("embedding only", emb), ("pHash", ph)):
        o = report.overall
        summary.append(
            f"| {name} | {o.recall_at[0][1]:.3f} | {o.recall_at[-1][1]:.3f} | {o.micro_ap:.3f} |"
        )
    copies = " · ".join(f"{family} {share:.2f}" for family, share in as_copy.items())
    text = "\n".join(
        [
            f"# {title}\n",
            f"Command: `python bench/{Path(sys.argv[0]).name} --per-family {args.per_family} "
            f"--negatives {args.negatives} --seed {args.seed}`\n",
            f"Index: {len(photos)} development photos; {len(cases)} queries; negatives with a "
            f"copy-tier result: {ours.negatives_as_copy} of {args.negatives}.\n",
            *summary,
            "",
            f"Found as a copy at rank 1 (PicTrace): {copies}.\n",
            "## PicTrace per family\n",
            report_markdown(ours.report),
        ]
    )
    publish(text, args.out)
    return 0


def main() -> int:
    title = "Attacks no benchmark here was tuned on"
    return run(FAMILIES, "unseen", title, arguments(__doc__ or "", OUT))


if __name__ == "__main__":
    sys.exit(main())
