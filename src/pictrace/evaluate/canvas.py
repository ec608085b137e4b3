"""What every attack shares: the Attack type, RGB size-capped canvases and loading a photo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont, ImageOps, UnidentifiedImageError

from pictrace.errors import NotAnImage, SourceUnreadable

Attack = Callable[[Image.Image, np.random.Generator], Image.Image]
Colour = tuple[int, int, int]

MAX_SIDE = 1024


def prepare(img: Image.Image) -> Image.Image:
    """RGB (alpha flattened on white) with a long side of at most MAX_SIDE."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    return cap(img.convert("RGB"))


def cap(img: Image.Image, side: int = MAX_SIDE) -> Image.Image:
    """``img`` shrunk to a long side of at most ``side``."""
    if max(img.size) <= side:
        return img
    return scale_by(img, side / max(img.size), Image.Resampling.BILINEAR)


def random_colour(rng: np.random.Generator) -> Colour:
    r, g, b = rng.integers(0, 256, size=3)
    return int(r), int(g), int(b)


def text_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, size))


def scale_by(img: Image.Image, scale: float, method: Image.Resampling) -> Image.Image:
    """``img`` resized by ``scale`` (at least 1x1 pixel)."""
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, method)


def load_rgb(path: Path) -> Image.Image:
    """An EXIF-oriented RGB picture with a long side of at most MAX_SIDE."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (MAX_SIDE, MAX_SIDE))
            return prepare(ImageOps.exif_transpose(img))
    except FileNotFoundError as exc:
        raise SourceUnreadable(f"{path}: no such file; check the photo list") from exc
    except (UnidentifiedImageError, SyntaxError, ValueError, EOFError) as exc:
        raise NotAnImage(f"{path}: not a readable image ({exc}); remove it from the list") from exc
    except OSError as exc:
        raise SourceUnreadable(f"{path}: cannot read ({exc})") from exc
