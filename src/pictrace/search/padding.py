"""Whether the canvas a picture shows around a part it shares with another is padding (a
border, a caption band, the corners of a rotated copy, a drop shadow), and whether a picture
breaks off at the edge of a part (a collage's cell): judged on stored thumbnails, for the
suggested keeper (``edited.py``) and for composites (``composite.py``).
"""

from __future__ import annotations

import cv2
import numpy as np

# Padding: at least FLAT of the extra canvas lies within TOLERANCE of its median colour, and
# a share of the picture along the shared part's edge lower by at least STEP does. Read from
# the pairs bench/bench_duplicates.py judges with seed 5 (seed 9 checks them): borders, rotated
# corners and caption bands gave 0.61-1.0 and 0-0.29 (the edge of a picture with a white
# background continues it); pictures around a crop gave below 0.6, or a margin of at most 0.42.
FLAT = 0.6
STEP = 0.5
# ... and the look of the picture along the shared part's edge (the mean and spread of its
# colours, ``_across``) matches the padding's beside it in at most SPREAD_ON of the edge: 0-0.25
# for the borders, bands, corners and frames of both seeds and held-out flowers; 0.53 for a
# star field around a small crop of it, whose black sky the flat rule took for padding (it
# marked that original as edited).
SPREAD_ON = 0.4
TOLERANCE = 16  # per channel, 0..255
MARGIN = 5  # px of a thumbnail's extra canvas ignored along the shared part's edge (resampling)
# ... when MARGIN leaves too little of it (a frame of a few thumbnail pixels), THIN_MARGIN,
# and then only a frame of one colour counts: at least THIN_FLAT of it within TOLERANCE of its
# median. White and black frames 1.4 % of the width (JPEG 64): 1.00; the strip a 1.75 % crop
# took off each side of the bundled photos: at most 0.79 (box.png's own dark outline).
THIN_MARGIN = 2
THIN_FLAT = 0.95
MIN_EXTRA = 0.02  # an extra canvas smaller than this share of the thumbnail is not judged
BARE_REST = 0.03  # ``bare``: the share of the extra canvas a bare ground leaves to other colours
# Smooth padding: at least SMOOTH of the extra canvas within TOLERANCE of its neighbourhood
# (LOCAL px each way), at most CONTINUED of the picture along the shared part's edge within
# TOLERANCE of the padding beside it, and at least BREAK more of it within TOLERANCE of the
# picture further in (a picture that changes as much within itself breaks off nowhere). From
# the same pairs: drop shadows, a bevelled border, a film frame and pastes onto gradients gave
# 0.74-1.0 smooth, 0-0.1 along the edge and a break of 0.26-0.66; the smooth surroundings of
# crops (sky, walls, blurred backgrounds of flowers held out from tuning) a break of at most
# 0.06.
SMOOTH = 0.7
CONTINUED = 0.1
BREAK = 0.2
LOCAL = 2
REACH = 2 * MARGIN + 2  # px: from the shared part's edge across the margin, either way
Sums = tuple[np.ndarray, np.ndarray]  # per pixel: a mask's colours summed nearby, how many


def padded(pixels: np.ndarray, polygon: np.ndarray, full: tuple[int, int]) -> bool:
    """Whether the canvas of a picture outside ``polygon`` (in its full-size pixels) is padding,
    judged on its thumbnail ``pixels``: mostly one flat colour (``FLAT``) that the picture
    does not continue in along the polygon's edge (``STEP``: a photo on a white background
    whose crop was taken is not padded with its own background) nor looks the same across it
    (``SPREAD_ON``: a star field), or smooth (``SMOOTH``) and broken off along that edge
    (``CONTINUED``)."""
    regions = _regions(pixels, polygon, full)
    if regions is not None:
        extra, edge, deep = regions
        return _flat_padding(pixels, extra, edge) or _smooth_padding(pixels, extra, edge, deep)
    thin = _regions(pixels, polygon, full, THIN_MARGIN)  # a frame: one colour all round
    return thin is not None and _flat_padding(pixels, thin[0], thin[1], THIN_FLAT)


def bare(pixels: np.ndarray, polygon: np.ndarray, full: tuple[int, int]) -> bool:
    """Whether the canvas of a picture outside ``polygon`` is one flat colour all but
    ``BARE_REST`` of it (a scanner's bed, a product's white ground) rather than a frame with
    things of its own (an app's bars, text and buttons), judged on its thumbnail ``pixels``."""
    regions = _regions(pixels, polygon, full)
    if regions is None:
        return False
    return _flat_share(pixels, regions[0])[0] >= 1 - BARE_REST


def _regions(
    pixels: np.ndarray, polygon: np.ndarray, full: tuple[int, int], margin: int = MARGIN
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Masks of the thumbnail: the extra canvas at least ``margin`` px from the polygon, the
    picture's ``margin`` px along its edge and the picture beyond 2 MARGIN px from it; None
    when the first two are too small to judge."""
    height, width = pixels.shape[:2]
    scaled = on_thumbnail(pixels, polygon, full)
    inside = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(inside, scaled, 1)
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    extra = cv2.erode(1 - inside, kernel)
    edge = inside - cv2.erode(inside, kernel)
    if extra.sum() < MIN_EXTRA * height * width or not edge.any():
        return None
    deep = cv2.erode(inside, np.ones((4 * MARGIN + 3, 4 * MARGIN + 3), np.uint8))
    return extra > 0, edge > 0, deep > 0


def on_thumbnail(pixels: np.ndarray, polygon: np.ndarray, full: tuple[int, int]) -> np.ndarray:
    """``polygon`` (full-size pixels of a picture of size ``full``) in whole pixels of its
    thumbnail ``pixels``: what the judgements here look at, so equal ones judge alike."""
    height, width = pixels.shape[:2]
    return np.round(polygon * np.array([width / full[0], height / full[1]])).astype(np.int32)


def _flat_padding(
    pixels: np.ndarray, extra: np.ndarray, edge: np.ndarray, least: float = FLAT
) -> bool:
    flat, colour = _flat_share(pixels, extra)
    blend = _near(pixels[edge].astype(np.int16), colour).mean()
    if not (flat >= least and blend <= flat - STEP):
        return False
    across = _across(pixels.astype(np.float32), extra, edge)  # a star field around its crop
    return across is not None and across <= SPREAD_ON


def _flat_share(pixels: np.ndarray, extra: np.ndarray) -> tuple[float, np.ndarray]:
    """The share of the ``extra`` canvas within ``TOLERANCE`` of its median colour, and that
    colour."""
    outside = pixels[extra].astype(np.int16)
    colour = np.median(outside, axis=0)
    return float(_near(outside, colour).mean()), colour


def _smooth_padding(
    pixels: np.ndarray, extra: np.ndarray, edge: np.ndarray, deep: np.ndarray
) -> bool:
    picture = pixels.astype(np.float32)
    where = np.flatnonzero(extra)
    nearby, _ = _means_at(_sums(picture, extra, LOCAL), where)
    if _within(picture.reshape(-1, 3)[where], nearby).mean() < SMOOTH:
        return False
    across = _carried_on(picture, edge, _sums(picture, extra, REACH))
    within = _carried_on(picture, edge, _sums(picture, deep, REACH))
    if across is None or within is None:
        return False
    return across <= CONTINUED and within - across >= BREAK


def breaks_off(pixels: np.ndarray, polygon: np.ndarray, full: tuple[int, int]) -> bool:
    """Whether the picture inside ``polygon`` (full-size pixels of a picture whose thumbnail
    is ``pixels``) breaks off at its edge instead of carrying on outside: a picture placed in
    a collage does, a crop's surroundings in its original do not. Judged on local means (the
    edge's and the outside's colour within 2 MARGIN + 2 px), which a photo's texture keeps
    across a crop's edge (0.37-0.45 of the edge within TOLERANCE) and a collage's neighbouring
    picture does not (0.02-0.04): at most CONTINUED, and no more than further in."""
    regions = _regions(pixels, polygon, full)
    if regions is None:
        return False
    extra, edge, deep = regions
    picture = pixels.astype(np.float32)
    own = _look_sums(picture, edge)
    across, within = _across(picture, extra, edge, own), _across(picture, deep, edge, own)
    return across is not None and within is not None and across <= min(CONTINUED, within)


def _across(
    picture: np.ndarray,
    beyond: np.ndarray,
    edge: np.ndarray,
    own: tuple[Sums, Sums] | None = None,
) -> float | None:
    """The share of the edge whose look (its mean colour and the spread of its colours, within
    2 MARGIN + 2 px) is within TOLERANCE of the look of the ``beyond`` pixels there; None
    where none are near. The spread tells busy pixels from a flat colour of the same mean.
    ``own``: the edge's sums (``_look_sums``) when the caller has them already."""
    beside = _look_sums(picture, beyond)
    reached = edge & (beside[0][1] > 0.5)
    if not reached.any():
        return None
    at = np.flatnonzero(reached)
    mine = _look_at(*(own or _look_sums(picture, edge)), at)
    theirs = _look_at(*beside, at)
    return float((_within(mine[0], theirs[0]) & _within(mine[1], theirs[1])).mean())


def _look_sums(picture: np.ndarray, mask: np.ndarray) -> tuple[Sums, Sums]:
    """The sums of the ``mask`` pixels' colours and squared colours within REACH px."""
    return _sums(picture, mask, REACH), _sums(picture * picture, mask, REACH)


def _look_at(sums: Sums, square_sums: Sums, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At the pixels ``at`` (flat indices; some of the mask within reach of each): the mean
    colour of the mask pixels within reach and the standard deviation of their colours."""
    mean, _ = _means_at(sums, at)
    square, _ = _means_at(square_sums, at)
    return mean, np.sqrt(np.maximum(square - mean * mean, 0.0))


def _carried_on(picture: np.ndarray, edge: np.ndarray, sums: Sums) -> float | None:
    """The share of the edge's pixels within TOLERANCE of the mean colour of the mask
    pixels (``sums``) within reach of them, where there are any; None where there never are."""
    judged = np.flatnonzero(edge & (sums[1] > 0.5))
    if not len(judged):
        return None
    beside, _ = _means_at(sums, judged)
    return float(_within(picture.reshape(-1, 3)[judged], beside).mean())


def _sums(picture: np.ndarray, mask: np.ndarray, reach: int) -> Sums:
    """Per pixel, the sum of the colours of the ``mask`` pixels within ``reach`` px each way,
    and how many there are."""
    weights = mask.astype(np.float32)
    window = (2 * reach + 1, 2 * reach + 1)
    total = cv2.boxFilter(picture * weights[..., None], -1, window, normalize=False)
    return total, cv2.boxFilter(weights, -1, window, normalize=False)


def _means_at(sums: Sums, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At the pixels ``at`` (flat indices): the mean of the summed colours, (n, 3), and
    whether any pixel was summed. (Divided there only: over whole thumbnails this was most
    of a duplicates run over groups of many copies.)"""
    count = sums[1].reshape(-1)[at]
    return sums[0].reshape(-1, 3)[at] / np.maximum(count, 1e-6)[:, None], count > 0.5


def _near(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(pixels - colour).max(axis=1) <= TOLERANCE)


def _within(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel of two (n, 3) colour lists: whether every channel is within TOLERANCE.
    (Taken on the judged pixels only: over a whole thumbnail, the largest channel difference
    took 1.5 ms a call, most of a duplicates run over groups of many copies.)"""
    return np.asarray(np.abs(a - b).max(axis=1) <= TOLERANCE)
