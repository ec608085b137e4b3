"""A picture of the evidence: query and hit side by side, inlier matches as lines, and each
image's overlap box drawn on it (``hit_box_in_query`` on the query, ``query_box_in_hit`` on the
hit), with the other picture's outline as the transform maps it there (a turned copy's is a
turned rectangle, which the box only bounds).

Evidence coordinates are in each image's full-size pixels; pass ``query_size``/``hit_size``
(width, height) when the pixel arrays are downscaled working copies of larger images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pictrace.errors import InputError
from pictrace.types import Box, DecodedImage, Evidence

PANEL_HEIGHT = 480  # for landscape pictures; a portrait pair's panels are taller, up to
TALLEST = 960  # ... this: a phone screenshot (9:16) at 480 px high was too small to read
WIDEST = 3  # a panel is at most this many times as wide as PANEL_HEIGHT
GAP = 16
HEADER = 28
BOX_COLOUR = (255, 64, 32)
OUTLINE_COLOUR = (255, 200, 0)
BACKGROUND = (24, 24, 28)
_PALETTE = ((0, 200, 255), (60, 220, 90), (255, 120, 200), (255, 170, 40), (160, 130, 255))


def panel_height(*sizes: tuple[int, int]) -> int:
    """``PANEL_HEIGHT``, times the tallest picture's height over its width when that is over
    1 (at most ``TALLEST``)."""
    tallest = max(h / max(w, 1) for w, h in sizes)
    return round(min(TALLEST, PANEL_HEIGHT * max(1.0, tallest)))


def overlay_of(
    evidence: Evidence | None, query: DecodedImage, hit: DecodedImage
) -> Image.Image | None:
    """The side-by-side evidence picture of a pair, or None without evidence."""
    if evidence is None:
        return None
    sizes = (query.width, query.height), (hit.width, hit.height)
    return draw_overlay(query.pixels, hit.pixels, evidence, *sizes)


def draw_overlay(
    query_pixels: np.ndarray,
    hit_pixels: np.ndarray,
    evidence: Evidence | None,
    query_size: tuple[int, int] | None = None,
    hit_size: tuple[int, int] | None = None,
    height: int | None = None,
) -> Image.Image:
    """Side-by-side RGB image of query (left) and hit (right) with the evidence drawn on,
    ``height`` px high (by default ``panel_height``)."""
    if height is None:
        height = panel_height(query_size or _size(query_pixels), hit_size or _size(hit_pixels))
    left, fq = _panel(query_pixels, query_size, height)
    right, fh = _panel(hit_pixels, hit_size, height)
    if evidence is not None and evidence.transform is not None:
        t = np.asarray(evidence.transform, dtype=np.float64)
        into_hit = _outline(t, query_size or _size(query_pixels))
        turned_back = np.linalg.inv(t) if abs(np.linalg.det(t)) > 1e-12 else None
        into_query = (
            None if turned_back is None else _outline(turned_back, hit_size or _size(hit_pixels))
        )
        _shapes(left, evidence.hit_box_in_query, into_query, fq)
        _shapes(right, evidence.query_box_in_hit, into_hit, fh)
    canvas = Image.new("RGB", (left.width + GAP + right.width, height + HEADER), BACKGROUND)
    offset = left.width + GAP
    canvas.paste(left, (0, HEADER))
    canvas.paste(right, (offset, HEADER))
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (8, HEADER // 2),
        _caption(evidence),
        fill="white",
        anchor="lm",
        font=ImageFont.load_default(size=14),
    )
    if evidence is None or evidence.transform is None:
        return canvas
    for index, (qx, qy, hx, hy) in enumerate(evidence.matches):
        colour = _PALETTE[index % len(_PALETTE)]
        a = (qx * fq[0], qy * fq[1] + HEADER)
        b = (hx * fh[0] + offset, hy * fh[1] + HEADER)
        draw.line([a, b], fill=colour, width=1)
        for x, y in (a, b):
            draw.ellipse((x - 2.5, y - 2.5, x + 2.5, y + 2.5), outline=colour, width=1)
    return canvas


def _panel(
    pixels: np.ndarray, size: tuple[int, int] | None, height: int
) -> tuple[Image.Image, tuple[float, float]]:
    """The picture resized to ``height`` (or narrower: at most WIDEST times that wide, so a
    1,000 x 1 divider does not become a 508,000 px panel) and the full-size -> panel pixel
    factors."""
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).convert("RGB")
    scale = min(height / image.height, WIDEST * height / image.width)
    width, tall = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    panel = image.resize((width, tall), Image.Resampling.BILINEAR)
    full_w, full_h = size or (image.width, image.height)
    return panel, (width / max(full_w, 1), tall / max(full_h, 1))


def _size(pixels: np.ndarray) -> tuple[int, int]:
    return int(pixels.shape[1]), int(pixels.shape[0])


def _shapes(
    panel: Image.Image,
    box: Box | None,
    outline: list[tuple[float, float]] | None,
    factor: tuple[float, float],
) -> None:
    """Draw an overlap box (and a mapped outline) on one panel, clipped to it."""
    draw = ImageDraw.Draw(panel)
    if outline is not None:
        points = [(x * factor[0], y * factor[1]) for x, y in outline]
        draw.line([*points, points[0]], fill=OUTLINE_COLOUR, width=1)
    if box is not None:
        x0, y0, x1, y1 = box
        draw.rectangle(
            (x0 * factor[0], y0 * factor[1], x1 * factor[0], y1 * factor[1]),
            outline=BOX_COLOUR,
            width=2,
        )


def _outline(t: np.ndarray, size: tuple[int, int]) -> list[tuple[float, float]] | None:
    """A picture's corners mapped by ``t`` into the other, if they all lie in front of the
    camera."""
    w, h = size
    pts = np.array([[0.0, 0.0, 1.0], [w, 0.0, 1.0], [w, h, 1.0], [0.0, h, 1.0]]) @ t.T
    if np.any(pts[:, 2] <= 1e-9):
        return None
    return [(float(x / z), float(y / z)) for x, y, z in pts]


def _caption(evidence: Evidence | None) -> str:
    if evidence is None:
        return "not verified"
    if evidence.transform is None:
        return f"no geometric match ({evidence.inliers} consistent matches)"
    ssim = "" if evidence.warped_ssim is None else f"warped SSIM {evidence.warped_ssim:.2f}  ·  "
    negative = "matched as a negative  ·  " if evidence.negative else ""
    return (
        f"{evidence.inliers} inliers  ·  inlier ratio {evidence.inlier_ratio:.2f}  ·  "
        f"{negative}{ssim}{len(evidence.matches)} matches shown"
    )


def check_overlay_target(path: Path) -> None:
    """InputError unless ``path`` can take an overlay picture (before any work is done): its
    extension names a format Pillow writes (it reads some it cannot write, PSD say)."""
    kind = Image.registered_extensions().get(path.suffix.lower())
    if kind is None or kind not in Image.SAVE:
        raise InputError(f"overlay {path}: name an image file, e.g. out.png or out.jpg")
    if not path.parent.is_dir():
        raise InputError(f"overlay {path}: folder {path.parent} does not exist")


def save_overlay(picture: Image.Image, path: Path) -> None:
    try:
        picture.save(path)
    except (OSError, ValueError, KeyError) as exc:  # KeyError: a format Pillow cannot write
        raise InputError(f"overlay {path}: cannot write it ({exc})") from exc
