"""Colour histogram: a cheap global signal for compare and re-ranking.

An HSV histogram (16 hue x 4 saturation x 4 value bins, L1-normalised) is robust to resizing,
cropping of the background and geometric edits, and reacts to recolouring. It says little about
content: two beaches at sunset correlate highly. It is a re-ranking and compare signal, never a
candidate source.
"""

from __future__ import annotations

import cv2
import numpy as np

from pictrace.features.base import Extractor, FeatureSpec
from pictrace.features.registry import register
from pictrace.features.views import preview
from pictrace.settings import Settings
from pictrace.types import DecodedImage

BINS = (16, 4, 4)
COLOUR = FeatureSpec("colour", 3, "array", BINS[0] * BINS[1] * BINS[2])


def colour_histogram(pixels: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(BINS), [0, 180, 0, 256, 0, 256])
    flat = hist.flatten().astype(np.float32)
    return flat / max(float(flat.sum()), 1.0)


class ColourExtractor(Extractor):
    specs = (COLOUR,)

    def extract_one(self, image: DecodedImage) -> dict[str, np.ndarray]:
        return {"colour": colour_histogram(preview(image))}


@register("colour")
def _factory(settings: Settings) -> Extractor:
    return ColourExtractor()
