"""A small JPEG thumbnail per image: shown by the web UI and used to verify candidates
(warped SSIM) without going back to the original file, which may be remote or gone."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from pictrace.features.base import Extractor, FeatureSpec
from pictrace.features.registry import register
from pictrace.features.views import PREVIEW, preview
from pictrace.settings import Settings
from pictrace.types import DecodedImage

THUMB_SIZE = PREVIEW  # the shared preview is the thumbnail (at most this long side)
THUMBNAIL = FeatureSpec("thumbnail", 3, "blob", THUMB_SIZE)  # 3: preview through the small view


def make_thumbnail(image: DecodedImage) -> bytes:
    """The JPEG thumbnail of an image: its shared preview, as stored for indexed ones."""
    return encode_jpeg(preview(image))


def encode_jpeg(pixels: np.ndarray) -> bytes:
    """RGB uint8 pixels as JPEG (quality 85). OpenCV's encoder lets other threads run while
    it works; Pillow's held the interpreter lock for ~1 ms per thumbnail while adding."""
    bgr = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2BGR)
    _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])  # raises on error
    return encoded.tobytes()


def open_thumbnail(blob: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(blob)) as image:
        return np.asarray(image.convert("RGB"))


class ThumbnailExtractor(Extractor):
    specs = (THUMBNAIL,)
    for_queries = False

    def extract_one(self, image: DecodedImage) -> dict[str, bytes]:
        return {"thumbnail": make_thumbnail(image)}


@register("thumbnail")
def _factory(settings: Settings) -> Extractor:
    return ThumbnailExtractor()
