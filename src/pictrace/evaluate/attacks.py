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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from pictrace.evaluate.canvas import Attack, cap, load_rgb, prepare, random_colour, scale_by
from pictrace.evaluate.overlays import (
    caption,
    emoji_overlay,
    overlay_on,
    screenshot,
    shapes,
    synthetic_background,
)

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
    img = prepare(img)
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
    out = prepare(img).rotate(
        angle, Image.Resampling.BICUBIC, expand=True, fillcolor=random_colour(rng)
    )
    return cap(out)


def rotate_90(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    turns = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)
    return prepare(img).transpose(turns[int(rng.integers(0, 3))])


def mirror(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.mirror(prepare(img))


def mirror_crop(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _crop(ImageOps.mirror(prepare(img)), rng, 0.30, 0.60)


def perspective(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = prepare(img)
    w, h = img.size
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    shift = rng.uniform(-0.15, 0.15, size=(4, 2)) * np.array([w, h], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, (src + shift).astype(np.float32))
    warped = cv2.warpPerspective(
        np.asarray(img),
        matrix,
        (w, h),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=random_colour(rng),
    )
    return Image.fromarray(warped)


def border(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = prepare(img)
    fx, fy = rng.uniform(0.05, 0.25, size=2)
    ux, uy = rng.uniform(0.2, 0.8, size=2)
    left, top = round(img.width * fx * ux), round(img.height * fy * uy)
    right, bottom = round(img.width * fx * (1 - ux)), round(img.height * fy * (1 - uy))
    return cap(ImageOps.expand(img, (left, top, right, bottom), fill=random_colour(rng)))


# ---------------------------------------------------------------- photometric and encoding


def jpeg_heavy(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return _jpeg(prepare(img), int(rng.integers(5, 16)))


def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def resize(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = prepare(img)
    scale = rng.uniform(0.2, 0.5)
    methods = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC)
    method = methods[int(rng.integers(0, len(methods)))]
    small = scale_by(img, scale, method)
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
    img = prepare(img)
    count = int(rng.integers(1, 4))
    for index in rng.choice(len(_COLOUR_OPS), size=count, replace=False):
        img = _COLOUR_OPS[int(index)](img, rng)
    return img


def negative(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture's negative (every colour inverted), half of the time also cropped as
    ``crop_large`` does."""
    img = crop_large(img, rng) if rng.random() < 0.5 else prepare(img)
    return ImageOps.invert(img)


def blur(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    img = prepare(img)
    radius = max(1.0, max(img.size) * rng.uniform(0.003, 0.012))
    return img.filter(ImageFilter.GaussianBlur(radius))


def noise(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(prepare(img), dtype=np.float64)
    if rng.random() < 0.7:
        noisy = pixels + rng.normal(0.0, rng.uniform(8.0, 30.0), size=pixels.shape)
    else:
        noisy = pixels.copy()
        mask = rng.random(pixels.shape[:2])
        amount = rng.uniform(0.02, 0.08)
        noisy[mask < amount / 2] = 0.0
        noisy[mask > 1 - amount / 2] = 255.0
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


# ---------------------------------------------------------------- families that need context


@dataclass(frozen=True)
class Overlay:
    """The ``overlay`` family: a background drawn from ``backgrounds``, else a synthetic one."""

    backgrounds: tuple[Path, ...] = ()

    def __call__(self, img: Image.Image, rng: np.random.Generator) -> Image.Image:
        if not self.backgrounds:
            return overlay_on(img, synthetic_background(rng), rng)
        path = self.backgrounds[int(rng.integers(0, len(self.backgrounds)))]
        return overlay_on(img, load_rgb(path), rng)


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
        return prepare(img)


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
    "negative": negative,
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
