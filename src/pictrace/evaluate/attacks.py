"""Deterministic image attacks: the edits a copied picture goes through before it is searched for.

Every attack is a small pure function ``(img, rng) -> img``: the same picture and the same
``numpy.random.Generator`` state give the same pixels. Parameters are drawn from ``rng`` within
each family's range. Output is always RGB with a long side of at most ``MAX_SIDE`` pixels.

``ATTACKS`` maps family name -> attack. ``overlay`` needs a second "background" photo: the
registry built by ``build_attacks(backgrounds)`` draws one from the given files, and the default
``ATTACKS`` paints a synthetic background instead. ``overlay_on`` is the pure function underneath.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

Attack = Callable[[Image.Image, np.random.Generator], Image.Image]
Colour = tuple[int, int, int]

MAX_SIDE = 1024
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


# ---------------------------------------------------------------- shared shape of every attack


def _prepare(img: Image.Image) -> Image.Image:
    """RGB (alpha flattened on white) with a long side of at most MAX_SIDE."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    return _cap(img.convert("RGB"))


def _cap(img: Image.Image, side: int = MAX_SIDE) -> Image.Image:
    if max(img.size) <= side:
        return img
    scale = side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def _colour(rng: np.random.Generator) -> Colour:
    r, g, b = rng.integers(0, 256, size=3)
    return int(r), int(g), int(b)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


# ---------------------------------------------------------------- geometry


def crop_box(
    width: int, height: int, area: float, aspect: float, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """A box keeping ``area`` of the picture with ``aspect`` = w/h, clamped to fit."""
    total = area * width * height
    w = min(float(width), np.sqrt(total * aspect))
    h = min(float(height), total / w)
    w = min(float(width), total / h)
    cw, ch = max(1, round(w)), max(1, round(h))
    left = int(rng.integers(0, width - cw + 1))
    top = int(rng.integers(0, height - ch + 1))
    return left, top, left + cw, top + ch


def _crop(img: Image.Image, rng: np.random.Generator, lo: float, hi: float) -> Image.Image:
    img = _prepare(img)
    area, aspect = rng.uniform(lo, hi), np.exp(rng.uniform(np.log(0.6), np.log(1.6)))
    return img.crop(crop_box(img.width, img.height, area, aspect, rng))


def crop_small(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _crop(img, rng, 0.10, 0.15)


def crop_medium(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _crop(img, rng, 0.20, 0.40)


def crop_large(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _crop(img, rng, 0.50, 0.80)


def rotate_any(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = float(rng.uniform(5.0, 355.0))
    out = _prepare(img).rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=_colour(rng))
    return _cap(out)


def rotate_90(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    turns = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)
    return _prepare(img).transpose(turns[int(rng.integers(0, 3))])


def mirror(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.mirror(_prepare(img))


def mirror_crop(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _crop(ImageOps.mirror(_prepare(img)), rng, 0.30, 0.60)


def perspective(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = _prepare(img)
    w, h = img.size
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    shift = rng.uniform(-0.15, 0.15, size=(4, 2)) * np.float32([w, h])
    matrix = cv2.getPerspectiveTransform(src, (src + shift).astype(np.float32))
    warped = cv2.warpPerspective(
        np.asarray(img),
        matrix,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=_colour(rng),
    )
    return Image.fromarray(warped)


def border(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = _prepare(img)
    fx, fy = rng.uniform(0.05, 0.25, size=2)
    ux, uy = rng.uniform(0.2, 0.8, size=2)
    left, top = round(img.width * fx * ux), round(img.height * fy * uy)
    right, bottom = round(img.width * fx * (1 - ux)), round(img.height * fy * (1 - uy))
    return _cap(ImageOps.expand(img, (left, top, right, bottom), fill=_colour(rng)))


# ---------------------------------------------------------------- photometric and encoding


def jpeg_heavy(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _jpeg(_prepare(img), int(rng.integers(5, 16)))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def resize(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = _prepare(img)
    scale = rng.uniform(0.2, 0.5)
    methods = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC)
    method = methods[int(rng.integers(0, len(methods)))]
    small = img.resize(
        (max(1, round(img.width * scale)), max(1, round(img.height * scale))), method
    )
    return small.resize(img.size, Image.Resampling.BICUBIC) if rng.random() < 0.5 else small


def _hue(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    shift = int(rng.integers(20, 236))
    hue, saturation, value = img.convert("HSV").split()
    hue = hue.point([(level + shift) % 256 for level in range(256)])
    return Image.merge("HSV", (hue, saturation, value)).convert("RGB")


def _sepia(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.colorize(ImageOps.grayscale(img), (40, 26, 13), (255, 240, 192))


_COLOUR_OPS: tuple[Attack, ...] = (
    _hue,
    lambda im, r: ImageEnhance.Color(im).enhance(r.uniform(0.0, 2.5)),
    lambda im, r: ImageEnhance.Brightness(im).enhance(r.uniform(0.5, 1.6)),
    lambda im, r: ImageEnhance.Contrast(im).enhance(r.uniform(0.4, 1.8)),
    lambda im, r: ImageOps.grayscale(im).convert("RGB"),
    _sepia,
)


def colour(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One to three of: hue shift, saturation, brightness, contrast, grayscale, sepia."""
    img = _prepare(img)
    count = int(rng.integers(1, 4))
    for index in rng.choice(len(_COLOUR_OPS), size=count, replace=False):
        img = _COLOUR_OPS[int(index)](img, rng)
    return img


def blur(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = _prepare(img)
    radius = max(1.0, max(img.size) * rng.uniform(0.003, 0.012))
    return img.filter(ImageFilter.GaussianBlur(radius))


def noise(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(_prepare(img), dtype=np.float32)
    if rng.random() < 0.7:
        noisy = pixels + rng.normal(0.0, rng.uniform(8.0, 30.0), size=pixels.shape)
    else:
        noisy = pixels.copy()
        mask = rng.random(pixels.shape[:2])
        amount = rng.uniform(0.02, 0.08)
        noisy[mask < amount / 2] = 0.0
        noisy[mask > 1 - amount / 2] = 255.0
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


# ---------------------------------------------------------------- things drawn over the picture


def _text_block(
    draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int], size: int
) -> None:
    """White text with a black stroke, centred in ``box``, shrunk until it fits the width."""
    left, top, right, bottom = box
    font = _font(size)
    while size > 8 and draw.textlength(text, font=font) > (right - left) * 0.95:
        size = int(size * 0.85)
        font = _font(size)
    x, y = (left + right) / 2, (top + bottom) / 2
    stroke = max(1, size // 12)
    draw.text(
        (x, y), text, font=font, fill="white", anchor="mm", stroke_width=stroke, stroke_fill="black"
    )


def _phrase(rng: np.random.Generator) -> str:
    count = int(rng.integers(1, 4))
    return " ".join(_WORDS[int(i)] for i in rng.choice(len(_WORDS), count, replace=False)).upper()


def caption(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Meme text: on the picture (top and/or bottom) or in solid bands added above/below it."""
    img = _prepare(img)
    size = max(10, round(img.height * rng.uniform(0.08, 0.14)))
    band = round(size * 1.6)
    if rng.random() < 0.4:
        canvas = Image.new("RGB", (img.width, img.height + 2 * band), _colour(rng))
        canvas.paste(img, (0, band))
        img, slots = canvas, ((0, band), (img.height + band, img.height + 2 * band))
    else:
        img, slots = img.copy(), ((0, band), (img.height - band, img.height))
    draw = ImageDraw.Draw(img)
    for index, (top, bottom) in enumerate(slots):
        if index == 0 or rng.random() < 0.7:
            _text_block(draw, _phrase(rng), (0, top, img.width, bottom), size)
    return _cap(img)


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
    draw.ellipse(box, fill=face, outline=0 if isinstance(fill, int) else (120, 80, 0), width=2)
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
    """Draw opaque items until 10-20% of the picture is covered (or 40 tries)."""
    img = _prepare(img).copy()
    target = rng.uniform(0.10, 0.20)
    mask = Image.new("L", img.size, 0)
    draw, mask_draw = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    side = np.sqrt(target * img.width * img.height / int(rng.integers(1, 5)))
    for _ in range(40):
        w = max(2, round(side * rng.uniform(0.6, 1.4)))
        h = w if square else max(2, round(side * rng.uniform(0.6, 1.4)))
        w, h = min(w, img.width), min(h, img.height)
        x, y = int(rng.integers(0, img.width - w + 1)), int(rng.integers(0, img.height - h + 1))
        fill, state = _colour(rng), rng.bit_generator.state
        drawer(draw, (x, y, x + w - 1, y + h - 1), rng, fill)
        rng.bit_generator.state = state  # replay the same shape on the coverage mask
        drawer(mask_draw, (x, y, x + w - 1, y + h - 1), rng, 255)
        if np.count_nonzero(np.asarray(mask)) >= target * img.width * img.height:
            break
    return img


def shapes(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _cover(img, rng, _draw_shape, square=False)


def emoji_overlay(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _cover(img, rng, _draw_emoji, square=True)


def screenshot(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture inside a fake phone or desktop UI: status bar, title bar, caption, toolbar."""
    img = _prepare(img)
    phone = rng.random() < 0.5
    width = 720 if phone else 1024
    height = 1280 if phone else 640
    dark = rng.random() < 0.5
    ui_bg, ink = ((24, 24, 28), (230, 230, 230)) if dark else ((250, 250, 250), (30, 30, 30))
    canvas = Image.new("RGB", (width, height), ui_bg)
    draw = ImageDraw.Draw(canvas)
    bar = round(height * 0.045)
    draw.rectangle((0, 0, width, bar), fill=_colour(rng))
    draw.text(
        (12, bar // 2),
        f"12:{int(rng.integers(0, 60)):02d}",
        font=_font(bar // 2),
        fill="white",
        anchor="lm",
    )
    draw.text(
        (12, bar * 2), _phrase(rng).title(), font=_font(round(bar * 0.7)), fill=ink, anchor="lm"
    )
    area = (width - 24, round(height * 0.7) - 3 * bar)
    scale = min(area[0] / img.width, area[1] / img.height)
    shown = img.resize(
        (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
        Image.Resampling.BICUBIC,
    )
    canvas.paste(shown, ((width - shown.width) // 2, 3 * bar))
    text_y = 3 * bar + shown.height + bar
    draw.text(
        (12, text_y), _phrase(rng).lower(), font=_font(round(bar * 0.6)), fill=ink, anchor="lm"
    )
    for index in range(4):
        cx = round(width * (index + 0.5) / 4)
        draw.ellipse((cx - bar // 3, height - bar, cx + bar // 3, height - bar // 3), fill=ink)
    return _cap(canvas)


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
        _draw_shape(draw, (x - r, y - r, x + r, y + r), rng, _colour(rng))
    return noise(img, rng)


def overlay_on(img: Image.Image, background: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Paste ``img``, resized to 40-70% of the background's width, somewhere on ``background``."""
    img, canvas = _prepare(img), _prepare(background).copy()
    width = canvas.width * rng.uniform(0.4, 0.7)
    scale = min(width / img.width, canvas.height * 0.95 / img.height)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    pasted = img.resize(size, Image.Resampling.BICUBIC)
    x = int(rng.integers(0, canvas.width - pasted.width + 1))
    y = int(rng.integers(0, canvas.height - pasted.height + 1))
    canvas.paste(pasted, (x, y))
    return canvas


# ---------------------------------------------------------------- families that need context


@dataclass(frozen=True)
class Overlay:
    """The ``overlay`` family: a background drawn from ``backgrounds``, else a synthetic one."""

    backgrounds: tuple[Path, ...] = ()

    def __call__(self, img: Image.Image, rng: np.random.Generator) -> Image.Image:
        if not self.backgrounds:
            return overlay_on(img, synthetic_background(rng), rng)
        path = self.backgrounds[int(rng.integers(0, len(self.backgrounds)))]
        with Image.open(path) as background:
            background.draft("RGB", (MAX_SIDE, MAX_SIDE))
            return overlay_on(img, ImageOps.exif_transpose(background), rng)


# Order of stages in a combo: geometry first, then things drawn over, then colour, then encoding.
_STAGE = {
    "crop_medium": 0,
    "crop_large": 0,
    "rotate_any": 0,
    "rotate_90": 0,
    "mirror": 0,
    "perspective": 0,
    "overlay": 1,
    "caption": 1,
    "shapes": 1,
    "emoji_overlay": 1,
    "border": 1,
    "screenshot": 1,
    "colour": 2,
    "blur": 3,
    "noise": 3,
    "resize": 3,
    "jpeg_heavy": 4,
}


@dataclass(frozen=True)
class Combo:
    """The ``combo`` family: 2-3 distinct attacks from ``parts``, applied in stage order."""

    parts: tuple[tuple[str, Attack], ...]

    def __call__(self, img: Image.Image, rng: np.random.Generator) -> Image.Image:
        count = int(rng.integers(2, 4))
        picks = sorted(int(i) for i in rng.choice(len(self.parts), size=count, replace=False))
        chosen = sorted((self.parts[i] for i in picks), key=lambda part: _STAGE.get(part[0], 1))
        for _, attack in chosen:
            img = attack(img, rng)
        return _prepare(img)


_SIMPLE: dict[str, Attack] = {
    "crop_small": crop_small,
    "crop_medium": crop_medium,
    "crop_large": crop_large,
    "rotate_any": rotate_any,
    "rotate_90": rotate_90,
    "mirror": mirror,
    "mirror_crop": mirror_crop,
    "perspective": perspective,
    "caption": caption,
    "emoji_overlay": emoji_overlay,
    "shapes": shapes,
    "jpeg_heavy": jpeg_heavy,
    "resize": resize,
    "colour": colour,
    "blur": blur,
    "noise": noise,
    "border": border,
    "screenshot": screenshot,
}


def build_attacks(backgrounds: Sequence[Path] = ()) -> Mapping[str, Attack]:
    """Every family by name; ``overlay`` (also inside ``combo``) draws from ``backgrounds``."""
    registry: dict[str, Attack] = dict(_SIMPLE)
    registry["overlay"] = Overlay(tuple(backgrounds))
    registry["combo"] = Combo(tuple((n, a) for n, a in registry.items() if n in _STAGE))
    return registry


ATTACKS: Mapping[str, Attack] = build_attacks()
FAMILIES: tuple[str, ...] = tuple(ATTACKS)
