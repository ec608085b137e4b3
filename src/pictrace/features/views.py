"""Smaller views of an image's working copy that several extractors share.

The working copy is up to 1,024 px on the long side; the CNN, the colour histogram, both
perceptual hashes and the thumbnail need far fewer pixels. Area-averaging a large picture is
the costly step (~1.9 ms per 1,024 px image on one core), so it is done once: ``small`` is
the working copy reduced until its short side is ``SMALL`` px (the CNN's input before its
centre crop), and ``preview`` (hashes, colour, thumbnail; at most ``PREVIEW`` px on the long
side) is taken from it, a cheap step from a picture of ~300 px. A view is cached on the
image (``DecodedImage.views``) under the image's lock, so whichever thread asks first
computes it and a thread asking meanwhile waits for it instead of computing it again.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from pictrace.types import DecodedImage

PREVIEW = 320  # at most this long side: the thumbnail; hashes and colour lose nothing at it
SMALL = 224  # short side of ``small``: the CNN's input size
BAND = 8  # ``small`` keeps the middle of a picture at most this many times longer than wide


def small(image: DecodedImage) -> np.ndarray:
    """The working copy area-averaged so its short side is SMALL px (enlarged when it is
    shorter, for the CNN), RGB uint8. Of a picture more than ``BAND`` times longer than wide
    only the middle that long is kept: a 1,000 x 1 strip would otherwise become 224,000 px
    long (the CNN looks at the middle square only; the preview never comes from it then)."""
    return _cached(image, "small", lambda: to_short_side(middle_band(image.pixels), SMALL))


def preview(image: DecodedImage) -> np.ndarray:
    """The working copy area-averaged to at most PREVIEW px on the long side (RGB uint8),
    through ``small`` when the working copy is larger than both; a picture that fits is
    used as it is."""
    return _cached(image, "preview", lambda: _preview(image.pixels, lambda: small(image)))


def preview_grey(image: DecodedImage) -> np.ndarray:
    """The preview as float32 luma (ITU-R 601-2, as Pillow's "L")."""
    return _cached(image, "preview_grey", lambda: _luma(preview(image)))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _cached(image: DecodedImage, name: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The image's view ``name``, computed by the first thread that asks for it (a thread
    asking meanwhile waits under the image's lock instead of computing it again)."""
    with image.lock:
        view = image.views.get(name)
        if view is None:
            view = image.views[name] = compute()
        return view


def preview_of(pixels: np.ndarray) -> np.ndarray:
    """``preview`` of a picture given as pixels (for the plain feature functions)."""
    return _preview(pixels, lambda: to_short_side(pixels, SMALL))


def _preview(pixels: np.ndarray, reduced: Callable[[], np.ndarray]) -> np.ndarray:
    """The preview of ``pixels``, from ``reduced`` (its short side at SMALL px) when it is
    larger than both SMALL and PREVIEW."""
    return shrink(reduced() if _through_small(pixels) else pixels, PREVIEW)


def _through_small(pixels: np.ndarray) -> bool:
    """Whether the preview is reduced from ``small`` (a 4:3 picture's preview is then
    299 x 224 px) rather than from the working copy itself."""
    short, long = min(pixels.shape[:2]), max(pixels.shape[:2])
    return short > SMALL and PREVIEW < long <= BAND * short


def shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` area-averaged so the long side is at most ``side`` (unchanged if smaller)."""
    factor = side / max(pixels.shape[:2])
    return np.ascontiguousarray(pixels) if factor >= 1.0 else _sized(pixels, factor)


def scaled(pixels: np.ndarray, factor: float) -> np.ndarray:
    """``pixels`` area-averaged by ``factor`` (below 1) each way, keeping at least one pixel
    across: a 1,000 x 1 divider line stays a line."""
    if min(pixels.shape[:2]) * factor < 1.0:  # OpenCV would round a side to 0
        return _sized(pixels, factor)
    return cv2.resize(
        np.ascontiguousarray(pixels), None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA
    )


def _sized(pixels: np.ndarray, factor: float) -> np.ndarray:
    """``pixels`` area-averaged to each side times ``factor``, rounded, at least 1 px."""
    size = (max(1, round(pixels.shape[1] * factor)), max(1, round(pixels.shape[0] * factor)))
    return cv2.resize(np.ascontiguousarray(pixels), size, interpolation=cv2.INTER_AREA)


def to_short_side(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` area-averaged (or enlarged) so the short side is ``side`` px."""
    height, width = pixels.shape[:2]
    scale = side / max(1, min(height, width))
    return resized(pixels, (max(side, round(width * scale)), max(side, round(height * scale))))


def enlarged(pixels: np.ndarray, factor: float) -> np.ndarray:
    """``pixels`` enlarged by ``factor`` (above 1) each way (``resized``)."""
    height, width = pixels.shape[:2]
    return resized(pixels, (round(width * factor), round(height * factor)))


def resized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``pixels`` resized to ``size`` (width, height): area-averaged where it shrinks both
    ways, else bicubic. (Area "enlarging" repeats each pixel in a block, whose edges the CNN
    and SIFT take for detail: a 48 px thumbnail of an indexed photo was found at rank 1 by
    0.83 of the development searches, as a copy by 0.63; with bicubic, 0.97 and 0.85.)"""
    grows = size[0] > pixels.shape[1] or size[1] > pixels.shape[0]
    method = cv2.INTER_CUBIC if grows else cv2.INTER_AREA
    return cv2.resize(np.ascontiguousarray(pixels), size, interpolation=method)


def middle_band(pixels: np.ndarray, aspect: float = BAND) -> np.ndarray:
    """The middle of a picture, at most ``aspect`` times longer than wide."""
    height, width = pixels.shape[:2]
    longest = max(1, round(min(height, width) * aspect))
    if width > longest:
        left = (width - longest) // 2
        return pixels[:, left : left + longest]
    if height > longest:
        top = (height - longest) // 2
        return pixels[top : top + longest]
    return pixels
