"""Does a fit hold only on caption bands? Two memes with the same words do.

A meme generator writes its captions in one bold typeface with a black outline, one line at the
top and one at the bottom, at a size and place that follow the picture's: two different photos
captioned "WHEN YOU SEE IT" and "BOTTOM TEXT" share those letters exactly, so their keypoints
match and fit the whole picture onto the whole other. Such a fit shows most of both pictures
(``verify.shows_most``), and its inliers lie on two lines across it, not on one
(``verify.along_a_line``), so the strip rule does not part it. The detail between the lines
differs, but the large letters' own detail made the two overlaps correlate all the same
(``unmatched.unmatched_alike`` over the whole overlap), and a plain photo has fewer keypoints of
its own than its caption (the unmatched-cells test then has too few left out to flag).

``caption_bands`` finds the query's inliers in at most ``BANDS`` horizontal bands, each at most
``BAND`` of the shared box's height and together at most ``BANDS_SHARE`` of it, while at least
``MIN_REST`` of the query's keypoints in the box lie outside the bands: such a fit is judged
on pixels (``Fit.flagged``) with the bands' rows left out (``band_rows``), where a copy's photo
still correlates and another photo does not. A copy whose inliers happen to lie in bands (a
skyline) keeps them: its rest correlates, or holds too few keypoints to be judged.
"""

from __future__ import annotations

import numpy as np

from pictrace.search.overlap import in_box
from pictrace.types import Box

BANDS = 2  # caption lines: the top text and the bottom text
BAND = 0.18  # at most this share of the box's height per band (a line of text and its outline)
GAP = 0.08  # inliers further apart than this share of the height (by y) start a new band
BANDS_SHARE = 0.3  # at most this share of the height for all bands together
PAD = 0.06  # each band widened by this share of the height (the outline; the detail map's blur)
MIN_REST = 8  # query keypoints in the box that must lie outside the bands (a caption's bold
# outlined letters outshine a photo's own detail: 31 of 348 were outside them on a baboon's fur)
ROWS_MIN = 0.3  # share of a canvas's rows that must be left to judge by

Bands = tuple[tuple[float, float], ...]  # (top, bottom) in the query's full-size pixels


def caption_bands(inliers: np.ndarray, keypoints: np.ndarray, box: Box) -> Bands | None:
    """The horizontal bands (query pixels, padded) the ``inliers`` lie in, when they are
    caption-like and enough of the query's ``keypoints`` in ``box`` (its part the hit
    covers) lie outside them (see above); else None."""
    height = box[3] - box[1]
    ys = np.sort(np.asarray(inliers, np.float64)[:, 1])
    if height <= 0 or not len(ys):
        return None
    breaks = np.flatnonzero(np.diff(ys) > GAP * height) + 1
    groups = np.split(ys, breaks)
    extents = [(float(g[0]), float(g[-1])) for g in groups]
    if len(extents) > BANDS or any(b - t > BAND * height for t, b in extents):
        return None
    if sum(b - t for t, b in extents) > BANDS_SHARE * height:
        return None
    pad = PAD * height
    bands = tuple((t - pad, b + pad) for t, b in extents)
    points = np.asarray(keypoints, np.float64)
    rest = in_box(points, box) & ~_in_bands(points[:, 1], bands)
    if rest.sum() < MIN_REST:
        return None
    return bands


def band_rows(bands: Bands, box: Box, rows: int) -> np.ndarray | None:
    """Which of ``rows`` rows of a canvas made of the query's ``box`` lie outside the
    ``bands`` (booleans), or None when too few do to judge by."""
    top, bottom = box[1], box[3]
    centres = top + (np.arange(rows) + 0.5) / rows * (bottom - top)
    outside = ~_in_bands(centres, bands)
    return outside if outside.mean() >= ROWS_MIN else None


def _in_bands(ys: np.ndarray, bands: Bands) -> np.ndarray:
    within = np.zeros(len(ys), bool)
    for top, bottom in bands:
        within |= (ys >= top) & (ys <= bottom)
    return within
