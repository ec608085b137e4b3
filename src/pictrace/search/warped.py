"""SSIM of a verified hit warped into the query's frame: the check that a transform which
holds geometrically also *looks* the same (same-scene photos pass geometry, not this).

Both pictures are compared as small grey thumbnails over their overlap only, so captions or
backgrounds outside the matched region do not count against a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from pictrace.features.base import FeatureValue
from pictrace.features.thumbnail import THUMB_SIZE, open_thumbnail
from pictrace.features.views import preview, scaled
from pictrace.types import Box, DecodedImage

SSIM_SIDE = 160  # long side of the canvas SSIM is computed on
Sizes = tuple[tuple[int, int], tuple[int, int]]  # the full (width, height) of query and hit


class Placement(Protocol):
    """Where the hit lies in the query: a 3x3 transform (query -> hit) and the hit's box."""

    @property
    def transform(self) -> np.ndarray: ...

    @property
    def hit_box_in_query(self) -> Box: ...


def grey_thumbnail(pixels: np.ndarray, side: int = THUMB_SIZE) -> np.ndarray:
    """Grey copy with long side at most ``side`` (the size stored thumbnails have)."""
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    factor = side / max(grey.shape[:2])
    return grey if factor >= 1.0 else scaled(grey, factor)


def grey_of(features: Mapping[str, FeatureValue], image: DecodedImage) -> np.ndarray:
    """The grey thumbnail an image is verified with (``thumbnail_of``, in grey)."""
    return grey_thumbnail(thumbnail_of(features, image))


def thumbnail_of(features: Mapping[str, FeatureValue], image: DecodedImage) -> np.ndarray:
    """The colour thumbnail an image is verified with: its stored thumbnail when it has one,
    else its preview (the size thumbnails have, shared with the hashes and colour)."""
    if "thumbnail" in features:
        return open_thumbnail(features["thumbnail"])
    return preview(image)


def warped_ssim(
    query: np.ndarray,
    hit: np.ndarray,
    fit: Placement,
    query_size: tuple[int, int],
    hit_size: tuple[int, int],
    side: int = SSIM_SIDE,
) -> float:
    """SSIM of the query's overlap region against the hit warped onto it (grey uint8 inputs at
    any resolution; ``*_size`` are the full sizes the transform is expressed in)."""
    warped = warped_pair(query, hit, fit, query_size, hit_size, side)
    return 0.0 if warped is None else masked_ssim(*warped)


def warped_pair(
    query: np.ndarray,
    hit: np.ndarray,
    fit: Placement,
    query_size: tuple[int, int],
    hit_size: tuple[int, int],
    side: int = SSIM_SIDE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The query's overlap region and the hit warped onto it, on one canvas of at most
    ``side`` px, with the mask of where the hit covers the canvas (None: too small a region)."""
    to_q, to_h = _pixel_scale(query.shape, query_size), _pixel_scale(hit.shape, hit_size)
    a = to_h @ fit.transform @ np.linalg.inv(to_q)  # query grey px -> hit grey px
    x0, y0, x1, y1 = np.array(fit.hit_box_in_query) * np.diag(to_q)[[0, 1, 0, 1]]
    if min(x1 - x0, y1 - y0) < 8:
        return None
    jac = jacobians(a, np.array([[(x0 + x1) / 2, (y0 + y1) / 2]]))[0]
    detail = float(np.sqrt(abs(np.linalg.det(jac))))  # hit px per query px
    f = min(1.0, detail, side / max(x1 - x0, y1 - y0))  # canvas px per query px
    size = (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))
    canvas = np.array([[1 / f, 0.0, x0], [0.0, 1 / f, y0], [0.0, 0.0, 1.0]])  # canvas -> query
    inside = cv2.warpPerspective(
        np.full(hit.shape[:2], 255, np.uint8),
        _HALF_BACK @ a @ canvas @ _HALF,
        size,
        flags=cv2.WARP_INVERSE_MAP | cv2.INTER_NEAREST,
    )
    return _shrunk(query, canvas, size), _shrunk(hit, a @ canvas, size), inside > 0


def on_canvas(points: np.ndarray, fit: Placement, shape: tuple[int, ...]) -> np.ndarray:
    """Points in the query's full-size pixels on the canvas of ``shape`` that ``warped_pair``
    made of the fit's overlap (``hit_box_in_query``)."""
    x0, y0, x1, y1 = fit.hit_box_in_query
    scale = np.array([shape[1] / max(x1 - x0, 1e-6), shape[0] / max(y1 - y0, 1e-6)])
    return (points - np.array([x0, y0])) * scale


def _shrunk(image: np.ndarray, canvas_to_image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resampled onto a canvas of ``size``, area-averaged first where the canvas is
    coarser than the image (no aliasing either side of the comparison)."""
    step = float(
        np.sqrt(
            abs(
                np.linalg.det(jacobians(canvas_to_image, np.array([[size[0] / 2, size[1] / 2]]))[0])
            )
        )
    )  # image px per canvas px
    if step > 1.25:
        image = scaled(image, 1 / step)
        canvas_to_image = np.diag([1 / step, 1 / step, 1.0]) @ canvas_to_image
    return cv2.warpPerspective(
        image,
        _HALF_BACK @ canvas_to_image @ _HALF,
        size,
        flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
    )


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, win: int = 7) -> float:
    """Mean SSIM over ``mask`` (eroded by the window) after matching b's mean and contrast."""
    mask = cv2.erode(mask.astype(np.uint8), np.ones((win, win), np.uint8)) > 0
    if mask.sum() < win * win * 4 or min(a.shape) < win:
        return 0.0
    af, bf = a.astype(np.float32), b.astype(np.float32)
    sa, sb = float(af[mask].std()), float(bf[mask].std())
    if sa < 1.0 or sb < 1.0:
        return 0.0
    bf = (bf - float(bf[mask].mean())) * (sa / sb) + float(af[mask].mean())
    _, full = structural_similarity(af, bf, win_size=win, data_range=255.0, full=True)
    return float(np.clip(full[mask].mean(), -1.0, 1.0))


# Our transforms act on continuous coordinates (a pixel spans [i, i+1)); OpenCV's warps on
# pixel indices (pixel i is at i): index -> continuous, and back.
_HALF = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
_HALF_BACK = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])


def _pixel_scale(shape: tuple[int, ...], size: tuple[int, int]) -> np.ndarray:
    """Full-size pixels -> pixels of an array of ``shape``."""
    return np.diag([shape[1] / max(size[0], 1), shape[0] / max(size[1], 1), 1.0])


# --- the verifier ------------------------------------------------------------------------------


def jacobians(t: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(k, 2, 2) Jacobians of the projective map ``t`` at ``pts``."""
    w = pts @ t[2, :2] + t[2, 2]
    mapped = (pts @ t[:2, :2].T + t[:2, 2]) / w[:, None]
    jac = (t[None, :2, :2] - mapped[:, :, None] * t[None, 2:3, :2]) / w[:, None, None]
    return np.asarray(jac)
