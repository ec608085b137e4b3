"""Whether a picture is grey or in colour, for the suggested keeper (``edited.py``).

A grey copy of a colour picture is the copy: colour is not added back. The judgement is made
on an image's stored thumbnail, once per image of a duplicate group.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pictrace.features.views import shrink

# Chroma is a pixel's largest channel less its smallest, on the stored thumbnails reduced to
# LOOK px: a grey picture's stays at most GREY at its 99th percentile (JPEG noise); a colour
# picture's reaches COLOURFUL at its median (so colour stickers, shapes, a caption or a border
# on a grey picture, with a median of 0 in 60 grey development photos each, are not colour),
# and its colours are not a function of brightness: at its 90th percentile a pixel lies at
# least APART (largest channel difference) from the mean colour of the pixels as bright as it
# is (0 of 150 sepia copies of development photos and 0 of 150 two-colour duotones are
# colour; 90 of the 150 photos are).
GREY = 10
COLOURFUL = 16
APART = 16
LOOK = 64  # px: the thumbnail's long side for these (~0.9 ms a picture, with the reduction)


def lost_colour(a: int, b: int, looks: Callable[[int], str | None]) -> int | None:
    """The member of a pair that is grey while the other is in colour; else None. (The
    colour one must show little but the shared part: a grey picture pasted onto a colour
    photo, or into a colourful screen, is the original, ``edited_member``.)"""
    for grey, colour in ((a, b), (b, a)):
        if looks(grey) == "grey" and looks(colour) == "colour":
            return grey
    return None


def colour_look(pixels: np.ndarray | None) -> str | None:
    """How a picture looks: "grey", "colour" (colourful, not a grey picture tinted), or None
    (neither, or no picture)."""
    if pixels is None or pixels.ndim != 3 or not pixels.size:
        return None
    pixels = shrink(pixels, LOOK)
    if _grey(pixels):
        return "grey"
    return "colour" if _in_colour(pixels) else None


def _chroma(pixels: np.ndarray) -> np.ndarray:
    channels = pixels.reshape(-1, 3).astype(np.int16)
    return np.asarray(channels.max(axis=1) - channels.min(axis=1))


def _grey(pixels: np.ndarray) -> bool:
    return float(np.percentile(_chroma(pixels), 99)) <= GREY


def _in_colour(pixels: np.ndarray) -> bool:
    """Whether a picture is in colour: colourful, and not a grey picture tinted."""
    if float(np.median(_chroma(pixels))) < COLOURFUL:
        return False
    rgb = pixels.reshape(-1, 3).astype(np.float32)
    level = np.minimum((rgb @ np.array([0.299, 0.587, 0.114], np.float32)) // 8, 31).astype(int)
    count = np.maximum(np.bincount(level, minlength=32), 1)
    mean = np.stack([np.bincount(level, rgb[:, c], 32) / count for c in range(3)], axis=1)
    return float(np.percentile(np.abs(rgb - mean[level]).max(axis=1), 90)) >= APART
