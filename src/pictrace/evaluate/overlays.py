"""Attacks that draw over or around the picture: meme text, stickers, UI frames, backgrounds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from pictrace.evaluate.canvas import Colour, cap, prepare, random_colour, scale_by, text_font

_WORDS = (
    "when you",
    "finally",
    "see it",
    "nobody",
    "me",
    "my face",
    "literally",
    "this is fine",
    "monday",
    "trust me",
    "look at",
    "wait for it",
    "no way",
    "same",
    "plot twist",
    "again",
)


def _text_block(
    draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int], size: int
) -> None:
    """White text with a black stroke, centred in ``box``, shrunk until it fits the width."""
    left, top, right, bottom = box
    face = text_font(size)
    while size > 8 and draw.textlength(text, font=face) > (right - left) * 0.95:
        size = int(size * 0.85)
        face = text_font(size)
    x, y = (left + right) / 2, (top + bottom) / 2
    stroke = max(1, size // 12)
    draw.text(
        (x, y), text, font=face, fill="white", anchor="mm", stroke_width=stroke, stroke_fill="black"
    )


def _phrase(rng: np.random.Generator) -> str:
    count = int(rng.integers(1, 4))
    return " ".join(_WORDS[int(i)] for i in rng.choice(len(_WORDS), count, replace=False)).upper()


def caption(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Meme text: on the picture (top and/or bottom) or in solid bands added above/below it."""
    img = prepare(img)
    size = max(10, round(img.height * rng.uniform(0.08, 0.14)))
    band = round(size * 1.6)
    if rng.random() < 0.4:
        canvas = Image.new("RGB", (img.width, img.height + 2 * band), random_colour(rng))
        canvas.paste(img, (0, band))
        img, slots = canvas, ((0, band), (img.height + band, img.height + 2 * band))
    else:
        img, slots = img.copy(), ((0, band), (img.height - band, img.height))
    draw = ImageDraw.Draw(img)
    for index, (top, bottom) in enumerate(slots):
        if index == 0 or rng.random() < 0.7:
            _text_block(draw, _phrase(rng), (0, top, img.width, bottom), size)
    return cap(img)


def _draw_shape(
    draw: ImageDraw.ImageDraw, box: tuple[int, ...], rng: np.random.Generator, fill: Colour | int
) -> None:
    kind = int(rng.integers(0, 3))
    if kind == 0:
        draw.rectangle(box, fill=fill)
    elif kind == 1:
        draw.ellipse(box, fill=fill)
    else:
        x0, y0, x1, y1 = box
        points = [(float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))) for _ in range(5)]
        draw.polygon(points, fill=fill)


def _draw_emoji(
    draw: ImageDraw.ImageDraw, box: tuple[int, ...], rng: np.random.Generator, fill: Colour | int
) -> None:
    x0, y0, x1, y1 = box
    face = fill if isinstance(fill, int) else (255, 204, 34)
    draw.ellipse(box, fill=face, outline=fill if isinstance(fill, int) else (120, 80, 0), width=2)
    if isinstance(fill, int):
        return
    w, h = x1 - x0, y1 - y0
    for ex in (0.32, 0.62):
        draw.ellipse((x0 + w * ex, y0 + h * 0.3, x0 + w * (ex + 0.08), y0 + h * 0.42), fill="black")
    mouth = (x0 + w * 0.25, y0 + h * 0.4, x0 + w * 0.75, y0 + h * 0.78)
    draw.arc(mouth, 20, 160, fill="black", width=max(1, int(w * 0.05)))


def _cover(
    img: Image.Image, rng: np.random.Generator, drawer: Callable[..., None], square: bool
) -> Image.Image:
    """Draw opaque items until 10-20% of the picture is covered; none overshoots the target."""
    img = prepare(img).copy()
    area = img.width * img.height
    target = rng.uniform(0.10, 0.20) * area
    mask = Image.new("L", img.size, 0)
    draw, mask_draw = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    side = np.sqrt(target / int(rng.integers(1, 5)))
    covered = 0
    for _ in range(40):
        w, h = side * rng.uniform(0.6, 1.4), side * rng.uniform(0.6, 1.4)
        shrink = min(1.0, np.sqrt(max(target - covered, 4.0) / (w * (w if square else h))))
        w = min(img.width, max(2, round(w * shrink)))
        h = w if square else min(img.height, max(2, round(h * shrink)))
        h = min(h, img.height)
        x, y = int(rng.integers(0, img.width - w + 1)), int(rng.integers(0, img.height - h + 1))
        fill, state = random_colour(rng), rng.bit_generator.state
        drawer(draw, (x, y, x + w - 1, y + h - 1), rng, fill)
        rng.bit_generator.state = state  # replay the same shape on the coverage mask
        drawer(mask_draw, (x, y, x + w - 1, y + h - 1), rng, 255)
        covered = int(np.count_nonzero(np.asarray(mask)))
        if covered >= 0.95 * target:
            break
    return img


def shapes(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _cover(img, rng, _draw_shape, square=False)


def emoji_overlay(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _cover(img, rng, _draw_emoji, square=True)


def screenshot(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture inside a fake phone or desktop UI: status bar, title bar, caption, toolbar."""
    img = prepare(img)
    phone = rng.random() < 0.5
    width = 720 if phone else 1024
    height = 1280 if phone else 640
    dark = rng.random() < 0.5
    ui_bg, ink = ((24, 24, 28), (230, 230, 230)) if dark else ((250, 250, 250), (30, 30, 30))
    canvas = Image.new("RGB", (width, height), ui_bg)
    draw = ImageDraw.Draw(canvas)
    bar = round(height * 0.045)
    draw.rectangle((0, 0, width, bar), fill=random_colour(rng))
    draw.text(
        (12, bar // 2),
        f"12:{int(rng.integers(0, 60)):02d}",
        font=text_font(bar // 2),
        fill="white",
        anchor="lm",
    )
    draw.text(
        (12, bar * 2), _phrase(rng).title(), font=text_font(round(bar * 0.7)), fill=ink, anchor="lm"
    )
    area = (width - 24, round(height * 0.7) - 3 * bar)
    scale = min(area[0] / img.width, area[1] / img.height)
    shown = scale_by(img, scale, Image.Resampling.BICUBIC)
    canvas.paste(shown, ((width - shown.width) // 2, 3 * bar))
    text_y = 3 * bar + shown.height + bar
    draw.text(
        (12, text_y), _phrase(rng).lower(), font=text_font(round(bar * 0.6)), fill=ink, anchor="lm"
    )
    for index in range(4):
        cx = round(width * (index + 0.5) / 4)
        draw.ellipse((cx - bar // 3, height - bar, cx + bar // 3, height - bar // 3), fill=ink)
    return cap(canvas)


def synthetic_background(
    rng: np.random.Generator, size: tuple[int, int] = (800, 600)
) -> Image.Image:
    """A busy photo-like stand-in background: a colour gradient, shapes and noise."""
    w, h = size
    ramp = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None]
    fall = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    a, b = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    pixels = a * (1 - ramp) * (1 - fall) + b * (ramp + fall) / 2
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 16))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(10, max(11, min(w, h) // 4)))
        _draw_shape(draw, (x - r, y - r, x + r, y + r), rng, random_colour(rng))
    speckle = rng.normal(0.0, 10.0, size=(h, w, 3))
    return Image.fromarray(np.clip(np.asarray(img) + speckle, 0, 255).astype(np.uint8))


def overlay_on(img: Image.Image, background: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Paste ``img``, resized to 40-70% of the background's width, somewhere on ``background``."""
    img, canvas = prepare(img), prepare(background).copy()
    width = canvas.width * rng.uniform(0.4, 0.7)
    scale = min(width / img.width, canvas.height * 0.95 / img.height)
    pasted = scale_by(img, scale, Image.Resampling.BICUBIC)
    x = int(rng.integers(0, canvas.width - pasted.width + 1))
    y = int(rng.integers(0, canvas.height - pasted.height + 1))
    canvas.paste(pasted, (x, y))
    return canvas
