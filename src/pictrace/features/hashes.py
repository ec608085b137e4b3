"""Perceptual hashes (64-bit): catch resized, re-encoded and mildly edited copies cheaply.

pHash (DCT of a 32x32 grey thumbnail, 8x8 low frequencies against their median) survives
re-encoding, resizing, small colour changes and light blur. dHash (sign of horizontal
gradients on a 9x8 thumbnail) is cheaper and complements it. Both miss crops, rotations,
mirrors and overlays: those are the CNN's and the geometric verifier's job.
"""

from __future__ import annotations

import cv2
import numpy as np

from pictrace.features.base import Extractor, FeatureSpec
from pictrace.features.registry import register
from pictrace.features.views import preview_grey, preview_of
from pictrace.settings import Settings
from pictrace.types import DecodedImage

PHASH = FeatureSpec("phash", 3, "bits", 64)
DHASH = FeatureSpec("dhash", 3, "bits", 64)


def grey(pixels: np.ndarray) -> np.ndarray:
    """RGB uint8 -> float32 luma (ITU-R 601-2, as Pillow's "L")."""
    return cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY).astype(np.float32)


def phash(pixels: np.ndarray) -> np.ndarray:
    """64-bit DCT hash as 8 packed bytes (of the picture reduced as the extractor does)."""
    return _phash(grey(preview_of(pixels)))


def dhash(pixels: np.ndarray) -> np.ndarray:
    """64-bit horizontal-gradient hash as 8 packed bytes."""
    return _dhash(grey(preview_of(pixels)))


def _phash(luma: np.ndarray) -> np.ndarray:
    small = cv2.resize(luma, (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return np.packbits(bits)


def _dhash(luma: np.ndarray) -> np.ndarray:
    small = cv2.resize(luma, (9, 8), interpolation=cv2.INTER_AREA)
    return np.packbits(small[:, 1:] > small[:, :-1])


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(np.bitwise_xor(a, b)).sum())


class HashExtractor(Extractor):
    specs = (PHASH, DHASH)

    def extract_one(self, image: DecodedImage) -> dict[str, np.ndarray]:
        luma = preview_grey(image)  # shared with the other extractors
        return {"phash": _phash(luma), "dhash": _dhash(luma)}


@register("hashes")
def _factory(settings: Settings) -> Extractor:
    return HashExtractor()
