"""Smaller views of an image's working copy that several extractors share.

The working copy is up to 1,024 px on the long side; the colour histogram, both perceptual
hashes and the thumbnail need far fewer pixels. Reducing the working copy once to ``PREVIEW``
px and deriving all three from that costs ~2.3 ms per image instead of ~5 ms for them all
reading the full working copy (BENCHMARKS.md, "Speed"). A view is cached on the
image (``DecodedImage.views``), so whichever extractor asks first computes it; two threads
asking at once both compute the same value, which is harmless.
"""

from __future__ import annotations

import cv2
import numpy as np

from pictrace.types import DecodedImage

PREVIEW = 320  # long side: the thumbnail's size; hashes and colour lose nothing at this size


def preview(image: DecodedImage) -> np.ndarray:
    """The working copy area-averaged to at most PREVIEW px on the long side (RGB uint8)."""
    view = image.views.get("preview")
    if view is None:
        view = shrink(image.pixels, PREVIEW)
        image.views["preview"] = view
    return view


def preview_grey(image: DecodedImage) -> np.ndarray:
    """The preview as float32 luma (ITU-R 601-2, as Pillow's "L")."""
    view = image.views.get("preview_grey")
    if view is None:
        view = cv2.cvtColor(preview(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
        image.views["preview_grey"] = view
    return view


def shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` area-averaged so the long side is at most ``side`` (unchanged if smaller)."""
    factor = side / max(pixels.shape[:2])
    if factor >= 1.0:
        return np.ascontiguousarray(pixels)
    size = (max(1, round(pixels.shape[1] * factor)), max(1, round(pixels.shape[0] * factor)))
    return cv2.resize(np.ascontiguousarray(pixels), size, interpolation=cv2.INTER_AREA)
