"""Copies shown inside something else: a phone screenshot, a story frame, a grid of pictures,
a letterboxed video frame, and a rotated crop.

    .venv/bin/python bench/bench_frames.py [--per-family 30] [--negatives 100] [--seed 3]

These families come from a hunt for failures (a helper's one-off generator, re-written here):
search's zoomed look and the coverage measured on both sides of a match were made for them,
so unlike ``bench_unseen.py`` this set is not held out. Each picture keeps its own size where
a real frame would (a story or a letterbox shows a small picture small); negatives are
held-out photos in the same frames, which must not be called copies of anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_unseen import Unseen, arguments, run

from pictrace.evaluate.canvas import load_rgb, scale_by, text_font

OUT = Path(__file__).parent / "results" / "frames.md"
WORDS = ("sale", "today", "new", "look", "deal", "follow", "shop", "like", "share", "more")


def _words(rng: np.random.Generator, count: int) -> str:
    return " ".join(WORDS[int(i)] for i in rng.choice(len(WORDS), count, replace=False))


def _fit(img: Image.Image, width: int, height: int) -> Image.Image:
    """``img`` scaled to fit inside width x height (never enlarged)."""
    scale = min(1.0, width / img.width, height / img.height)
    return scale_by(img, scale, Image.Resampling.LANCZOS)


def phone_screenshot(img: Image.Image, rng: np.random.Generator, others: list[Path]) -> Image.Image:
    """A listing in a phone's app, on a photographed desk, seen slightly askew."""
    screen = Image.new("RGB", (390, 800), "white")
    draw = ImageDraw.Draw(screen)
    draw.text((16, 14), "9:41", font=text_font(14), fill="black")
    draw.text((16, 44), _words(rng, 2).title(), font=text_font(20), fill="black")
    picture = _fit(img, 358, 380)
    screen.paste(picture, (16, 80))
    below = 92 + picture.height
    draw.text((16, below), f"$ {int(rng.integers(5, 900))}", font=text_font(22), fill="black")
    draw.text((16, below + 34), _words(rng, 3), font=text_font(14), fill=(90, 90, 90))
    draw.rounded_rectangle((16, 730, 374, 774), 12, fill=(30, 110, 230))
    phone = Image.new("RGB", (430, 860), (25, 25, 28))
    phone.paste(screen, (20, 30))
    desk = load_rgb(others[int(rng.integers(0, len(others)))]).resize((900, 1100))
    desk = desk.filter(ImageFilter.GaussianBlur(3))
    desk.paste(phone, (235, 120))
    return _askew(desk, rng, 0.04)


def _askew(img: Image.Image, rng: np.random.Generator, amount: float) -> Image.Image:
    """A mild perspective: each corner moved by up to ``amount`` of the size."""
    w, h = img.size
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    moved = corners + rng.uniform(-amount, amount, (4, 2)).astype(np.float32) * [w, h]
    matrix = cv2.getPerspectiveTransform(corners, moved.astype(np.float32))
    warped = cv2.warpPerspective(np.asarray(img), matrix, (w, h), borderValue=(40, 40, 40))
    return Image.fromarray(warped)


def story(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    """A 1080x1920 story: the picture at its own size (at most 80 % wide) on a blurred fill."""
    canvas = img.resize((1080, 1920)).filter(ImageFilter.GaussianBlur(40))
    picture = _fit(img, round(1080 * rng.uniform(0.3, 0.8)), 1200)
    left = int(rng.integers(40, 1040 - picture.width))
    canvas.paste(picture, (left, int(rng.integers(300, 1600 - picture.height))))
    draw = ImageDraw.Draw(canvas)
    draw.text((40, 60), "@" + _words(rng, 1), font=text_font(34), fill="white")
    draw.rounded_rectangle((290, 1720, 790, 1800), 40, fill="white")
    draw.text((540, 1760), _words(rng, 2), font=text_font(34), fill="black", anchor="mm")
    return canvas


def grid(img: Image.Image, rng: np.random.Generator, others: list[Path]) -> Image.Image:
    """A 3x3 grid of square tiles, one of them the picture's centre square."""
    tile, gap = 300, 4
    canvas = Image.new("RGB", (3 * tile + 2 * gap, 3 * tile + 2 * gap), "white")
    slot = int(rng.integers(0, 9))
    for i in range(9):
        source = img if i == slot else load_rgb(others[int(rng.integers(0, len(others)))])
        side = min(source.size)
        left, top = (source.width - side) // 2, (source.height - side) // 2
        square = source.crop((left, top, left + side, top + side)).resize((tile, tile))
        canvas.paste(square, ((i % 3) * (tile + gap), (i // 3) * (tile + gap)))
    return canvas


def letterbox(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    """A 1280x720 video frame with the picture at its own size in the middle."""
    canvas = Image.new("RGB", (1280, 720), "black")
    picture = _fit(img, 1150, 650)
    canvas.paste(picture, ((1280 - picture.width) // 2, (720 - picture.height) // 2))
    return canvas


def rotated_crop(img: Image.Image, rng: np.random.Generator, _: list[Path]) -> Image.Image:
    """30-40 % of each side, at a corner or the centre, turned by 10-35 degrees."""
    side = rng.uniform(0.3, 0.4)
    w, h = round(img.width * side), round(img.height * side)
    where = int(rng.integers(0, 5))
    left = [0, img.width - w, 0, img.width - w, (img.width - w) // 2][where]
    top = [0, 0, img.height - h, img.height - h, (img.height - h) // 2][where]
    angle = float(rng.uniform(10, 35) * rng.choice([-1, 1]))
    part = img.crop((left, top, left + w, top + h))
    return part.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))


FAMILIES: dict[str, Unseen] = {
    "phone_screenshot": phone_screenshot,
    "story": story,
    "grid": grid,
    "letterbox": letterbox,
    "rotated_crop": rotated_crop,
}


def main() -> int:
    title = "Copies inside frames: screenshots, stories, grids, letterboxes, rotated crops"
    return run(FAMILIES, "frames", title, arguments(__doc__ or "", OUT))


if __name__ == "__main__":
    sys.exit(main())
