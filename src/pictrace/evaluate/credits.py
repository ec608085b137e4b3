"""Shared credit marks: the same photographer's or agency's line on many different pictures.

Two different photos that carry the same watermark, logo or credit line in the same corner
share those pixels exactly, so their keypoints there match and fit a transform (the identity).
They are not copies of each other. ``Credit`` describes one such mark; ``credited`` puts it on
a picture; ``shared_credit_set`` writes a labelled set around it: an index of credited photos,
different photos with the same marks (negatives) and edited copies of the credited photos
(positives), for the calibration (tools/fit_calibration.py) and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pictrace.evaluate.canvas import Colour, cap, load_rgb, text_font
from pictrace.evaluate.dataset import QueryCase, write_cases

_NAMES = ("Mara Lindqvist", "J. Okafor", "Studio Brenner", "Ana Ruiz", "T. Nakamura", "NordPix")
_SITES = ("photo-archive.example", "newsdesk.example.org", "pix.example.net", "images.example")
CORNERS = ("tl", "tr", "bl", "br")
# The photographer's line on many Oxford flowers, which showed the problem; no calibration pair
# carries its text (bench/bench_credits.py and the tests put it on other photos).
FLOWERS_LINE = ("Photo Henriette Kress", "http://www.ibiblio.org/herbmed")


@dataclass(frozen=True)
class Credit:
    """One credit mark: its text lines, corner, text height (a share of the picture's
    height), ink and background box (None: bare text with a dark outline)."""

    lines: tuple[str, ...]
    corner: str
    size: float
    ink: Colour
    box: Colour | None


@dataclass(frozen=True)
class ShopMark:
    """A shop's or stock agency's watermark: its name in large, half-transparent letters
    across the middle of every picture (``height`` a share of the picture's height, turned by
    ``angle`` degrees), usually with a credit line in a corner as well."""

    text: str
    height: float
    ink: tuple[int, int, int, int]  # RGBA: the letters show the picture through them
    angle: float
    credit: Credit | None


Mark = Credit | ShopMark | None  # None: no mark (the benchmarks' control)
_SHOPS = ("FASHIONHUB.SHOP", "StyleMarket", "© PIXSTOCK", "outlet-24.example", "TRENDWEAR")


def random_shop_mark(rng: np.random.Generator) -> ShopMark:
    light = rng.random() < 0.6
    alpha = int(rng.integers(90, 180))
    ink = (255, 255, 255, alpha) if light else (60, 60, 60, alpha)
    angle = 0.0 if rng.random() < 0.6 else float(rng.choice([-30.0, 30.0]))
    credit = random_credit(rng) if rng.random() < 0.75 else None
    text = _SHOPS[int(rng.integers(len(_SHOPS)))]
    return ShopMark(text, float(rng.uniform(0.07, 0.12)), ink, angle, credit)


def marked(img: Image.Image, mark: Mark) -> Image.Image:
    """``img`` with ``mark`` on it, at the same relative size and place on every picture."""
    if mark is None:
        return img.convert("RGB")
    return credited(img, mark) if isinstance(mark, Credit) else shop_marked(img, mark)


def shop_marked(img: Image.Image, mark: ShopMark) -> Image.Image:
    img = img.convert("RGBA")
    size = max(10, round(img.height * mark.height))
    font = text_font(size)
    probe = ImageDraw.Draw(img)
    width = round(probe.textlength(mark.text, font=font)) + size
    layer = Image.new("RGBA", (width, round(size * 1.6)), (0, 0, 0, 0))
    outline = (0, 0, 0, mark.ink[3] // 2) if sum(mark.ink[:3]) > 384 else (255, 255, 255, 60)
    stroke = max(1, size // 20)
    ImageDraw.Draw(layer).text(
        (size // 2, size // 4), mark.text, font=font, fill=mark.ink, stroke_width=stroke,
        stroke_fill=outline,
    )  # fmt: skip
    layer = layer.rotate(mark.angle, expand=True, resample=Image.Resampling.BICUBIC)
    scale = min(1.0, 0.9 * img.width / layer.width, 0.9 * img.height / layer.height)
    if scale < 1.0:
        layer = layer.resize((round(layer.width * scale), round(layer.height * scale)))
    at = ((img.width - layer.width) // 2, (img.height - layer.height) // 2)
    img.alpha_composite(layer, at)
    flat = img.convert("RGB")
    return flat if mark.credit is None else credited(flat, mark.credit)


def boxed(lines: tuple[str, ...], corner: str) -> Credit:
    """Light text on a dark box, 3.5 % of the picture's height, as on the flowers."""
    return Credit(lines, corner, 0.035, (235, 235, 235), (40, 40, 40))


def random_credit(rng: np.random.Generator) -> Credit:
    name = _NAMES[int(rng.integers(len(_NAMES)))]
    site = _SITES[int(rng.integers(len(_SITES)))]
    lines = (f"Photo {name}",) if rng.random() < 0.4 else (f"Photo {name}", f"http://{site}")
    light = rng.random() < 0.7
    ink: Colour = (235, 235, 235) if light else (20, 20, 20)
    box: Colour | None = None
    if rng.random() < 0.6:
        box = (40, 40, 40) if light else (225, 225, 225)
    return Credit(lines, CORNERS[int(rng.integers(4))], float(rng.uniform(0.025, 0.05)), ink, box)


def credited(img: Image.Image, credit: Credit) -> Image.Image:
    """``img`` with ``credit`` drawn in its corner, at the same relative size on every picture."""
    img = img.convert("RGB")
    draw = ImageDraw.Draw(img)
    size = max(9, round(img.height * credit.size))
    font = text_font(size)
    width = max(draw.textlength(line, font=font) for line in credit.lines) + size // 2
    height = size * (1.25 * len(credit.lines) + 0.4)
    margin = max(3, size // 3)
    x = margin if credit.corner[1] == "l" else img.width - width - margin
    y = margin if credit.corner[0] == "t" else img.height - height - margin
    if credit.box is not None:
        draw.rectangle((x, y, x + width, y + height), fill=credit.box)
    dark = credit.box is None and sum(credit.ink) > 384
    for row, line in enumerate(credit.lines):
        draw.text(
            (x + size // 4, y + size * (0.2 + 1.25 * row)),
            line,
            font=font,
            fill=credit.ink,
            stroke_width=1 if dark else 0,
            stroke_fill=(0, 0, 0),
        )
    return img


Edit = Callable[[Image.Image, np.random.Generator], Image.Image]


def shared_credit_set(
    photos: Sequence[Path],
    others: Sequence[Path],
    out_dir: Path,
    edits: Sequence[Edit],
    credits_count: int = 4,
    seed: int = 0,
    marks: Sequence[Mark] = (),
) -> tuple[Path, list[QueryCase]]:
    """Write ``out_dir/index/`` (``photos``, each with one of ``marks``, by default
    ``credits_count`` random ones), queries of ``others`` with the same marks (negatives:
    nothing in the index is a copy), and one edited copy of each credited photo (positives,
    an edit from ``edits`` in turn). Returns the folder to index and the cases (also in
    ``out_dir/queries.csv``)."""
    rng = np.random.default_rng(seed)
    marks = list(marks) or [random_credit(rng) for _ in range(credits_count)]
    index_dir, queries = out_dir / "index", out_dir / "queries"
    for folder in (index_dir, queries / "credited", queries / "shared_credit"):
        folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for number, photo in enumerate(photos):
        picture = marked(load_rgb(photo), marks[number % len(marks)])
        target = index_dir / f"{photo.stem}.jpg"
        picture.save(target, quality=90)
        edit = edits[number % len(edits)]
        query = queries / "credited" / f"{number:05d}.jpg"
        cap(edit(picture, rng)).convert("RGB").save(query, quality=85)
        cases.append(QueryCase(query, target.stem, "credited"))
    for number, photo in enumerate(others):
        query = queries / "shared_credit" / f"{number:05d}.jpg"
        marked(load_rgb(photo), marks[number % len(marks)]).save(query, quality=85)
        cases.append(QueryCase(query, None, "shared_credit"))
    write_cases(cases, out_dir / "queries.csv")
    return index_dir, cases
