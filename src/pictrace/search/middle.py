"""Does a fitted copy share its middle? Different pictures in the same surround do not.

Product photos shot on one floor, memes in one caption template, posts in one app screen: the
surround's keypoints match and fit a transform all around the middle, where the pictures
differ, and span the whole shared region (``coverage`` stays high). A copy shares its middle;
an edit that covers part of it (a caption, a sticker) rarely covers all of it.

``middle_missed`` flags a fit whose inliers leave out the middle of the shared region although
the middle has detail and, were the inliers spread like the keypoints, should hold a few. Some
copies do that too: a middle of repeated texture (solar panels, a star field) has keypoints too
alike to pass the ratio test. So a flagged fit is judged on pixels: the hit warped onto the
query (their stored grey thumbnails, as for compare's warped SSIM) must share some of the
middle's detail (``DETAIL_SOME``), and agree in most of its cells that have detail (where a
band of text covers part of it) or share its layout of light and dark (``middle_alike``).
Otherwise its coverage is 0: the
confidence's ``supported`` input (the inliers weighted by coverage) is then 0, and the copy
confidence rests on the other signals.
The detail is needed with agreeing cells too (an earlier release took either): two different
photos in one viewer window agreed in half of them, where each photo's edge meets the
window's backdrop, while their detail correlated 0.05 (bench_surround: memes 8 -> 5 of 20
negatives called copies, floors 5 -> 4, and one of the floors' 20 edited copies lost).
A middle flat on one side (a block over it) is not judged. The layout alone let two different
garments on one white backdrop through (their silhouettes correlate), and the detail alone two
different photos in one app screen (the photo's edge, the same in both, crosses the middle).

On the development queries no copy lost its tier; of 203 false copy links a helper labelled on
the clothing photos (garments on shared floors, walls and rugs), 135 -> 48 searches still call
the other photo a copy; templates around different photos 20 -> 5-9 of 20 (BENCHMARKS.md,
"Shared surrounds"). Surrounds that reach into the middle (a backdrop around a small item, a
frame whose logo sits in it) are not caught.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pictrace.search.overlap import in_box
from pictrace.search.warped import Placement, Sizes, warped_pair
from pictrace.types import Box

MIDDLE = 0.5  # the middle of a region: its central half in each direction
DETAIL = 0.05  # share of a picture's keypoints in the middle for the middle to have detail
EXPECTED = 3.0  # inliers the middle would hold, spread like the keypoints, to judge by
SPARE = 0.04  # share of the inliers the middle may hold and still count as missed
ALIKE = 0.5  # correlation of the middles from which a flagged fit still counts
COARSE = 16  # px: the middles' layout of light and dark is compared at this size,
FINE = 32  # and their detail at this one, which must agree this much too: a template's
DETAIL_SOME = 0.15  # edge across the middle can make different photos' detail correlate
CELLS = 4  # or cell by cell, in CELLS x CELLS cells,
AGREEING = 0.45  # of which this share must agree,
MIN_TEXTURED = 4  # of at least this many with detail on both sides (else it is not judged)
FLAT = 4.0  # grey levels of standard deviation below which a cell has no detail


Side = tuple[np.ndarray, np.ndarray, Box]  # keypoints, the inliers' points, the shared box


def middle_missed(query: Side, hit: Side) -> bool:
    """Whether the inliers leave out the middle of the shared region although it has detail:
    each side is (its keypoints, the inliers' points, the shared region's box), in its own
    pixels. Judged only where the middle would hold ``EXPECTED`` inliers, spread like the
    keypoints of the side with fewer there (an inlier needs a keypoint on both sides)."""
    detail = max(_middle_share(points, box) for points, _, box in (query, hit))
    inliers = len(query[1])
    if detail < DETAIL or inliers * detail < EXPECTED:
        return False
    spare = SPARE * inliers
    return all(float(_in_middle(found, box).sum()) <= spare for _, found, box in (query, hit))


def middle_of(box: Box) -> Box:
    x0, y0, x1, y1 = box
    margin_x, margin_y = (x1 - x0) * (1 - MIDDLE) / 2, (y1 - y0) * (1 - MIDDLE) / 2
    return (x0 + margin_x, y0 + margin_y, x1 - margin_x, y1 - margin_y)


@dataclass(frozen=True)
class _Middle:
    """A placement (``warped.Placement``) restricted to the middle of the hit in the query."""

    transform: np.ndarray
    hit_box_in_query: Box


def middle_alike(
    query_grey: np.ndarray,
    hit_grey: np.ndarray,
    fit: Placement,
    sizes: Sizes,
) -> bool:
    """Whether the hit warped onto the query looks like it in the middle of their overlap
    (grey pictures at any resolution; ``sizes``: the full sizes of the query and the hit).
    A middle that cannot be judged, because it is too small or flat on either side (covered
    by a block, censored), is taken as alike: the fit keeps its weight."""
    placed = _Middle(fit.transform, middle_of(fit.hit_box_in_query))
    warped = warped_pair(query_grey, hit_grey, placed, *sizes)
    if warped is None:
        return True
    query_middle, hit_middle, _ = warped
    agree, textured = cell_agreement(query_middle, hit_middle)
    if textured < MIN_TEXTURED:
        return True
    detail = detail_correlation(query_middle, hit_middle)
    if detail < DETAIL_SOME:
        return False
    return agree >= AGREEING * textured or coarse_correlation(query_middle, hit_middle) >= ALIKE


def detail_correlation(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    """Correlation of two aligned grey pictures' detail at ``FINE`` px: each area-averaged to
    that size less its own blur to ``COARSE // 2``. Two different objects on one plain
    background share their silhouette's layout of light and dark, not their detail. With
    ``where`` (FINE x FINE booleans), over those pixels only."""
    x, y = (_shrunk(v, FINE) for v in (a, b))
    side = COARSE // 2
    x = x - cv2.resize(_shrunk(x, side), (FINE, FINE), interpolation=cv2.INTER_LINEAR)
    y = y - cv2.resize(_shrunk(y, side), (FINE, FINE), interpolation=cv2.INTER_LINEAR)
    return correlation(x, y) if where is None else correlation(x[where], y[where])


def coarse_correlation(a: np.ndarray, b: np.ndarray, side: int = COARSE) -> float:
    """Correlation of two aligned grey pictures area-averaged to ``COARSE`` x ``COARSE``: the
    layout of light and dark, which a copy keeps through a few pixels of misalignment that
    SSIM does not forgive (a star field, solar panels)."""
    return correlation(_shrunk(a, side), _shrunk(b, side))


def _shrunk(picture: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(picture.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two arrays of one shape (0 when either is flat)."""
    x, y = a.ravel() - a.mean(), b.ravel() - b.mean()
    scale = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / scale if scale > 0 else 0.0


def cell_agreement(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """Of the ``CELLS`` x ``CELLS`` cells of two aligned grey pictures, (those in which they
    correlate: ``coarse_correlation`` of the cell at least ``ALIKE``, those with detail on both
    sides): a copy whose middle is partly covered (a band of text, a sticker) agrees in the
    rest."""
    height, width = a.shape
    agree = textured = 0
    for row in range(CELLS):
        for col in range(CELLS):
            rows = slice(row * height // CELLS, (row + 1) * height // CELLS)
            cols = slice(col * width // CELLS, (col + 1) * width // CELLS)
            cell_a, cell_b = a[rows, cols], b[rows, cols]
            if cell_a.size < 16 or min(cell_a.std(), cell_b.std()) < FLAT:
                continue
            textured += 1
            agree += coarse_correlation(cell_a, cell_b, side=6) >= ALIKE
    return agree, textured


def _middle_share(points: np.ndarray, box: Box) -> float:
    """The share of the ``points`` inside ``box`` that lie in its middle."""
    inside = points[in_box(points, box)]
    return float(_in_middle(inside, box).mean()) if len(inside) >= 8 else 0.0


def _in_middle(points: np.ndarray, box: Box) -> np.ndarray:
    return in_box(points, middle_of(box))
