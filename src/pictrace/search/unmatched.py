"""Does a fit leave most of the shared region's detail unmatched? A shared watermark does.

A shop or stock agency stamps its name across the middle of every picture (large, half
transparent letters) and often a credit line in a corner as well. Two *different* pictures
with that stamp share its pixels: its keypoints match and fit the identity, and the letters
spread across the picture, so the inliers' hull spans much of it and ``coverage`` stays high.
What gives them away is the rest: the garment or the scene around the letters has keypoints
too, and none of them match.

``unmatched_cells`` cuts the shared region into ``CELLS`` x ``CELLS`` cells and flags a fit
when the cells holding no inlier hold at least ``UNMATCHED`` of the keypoints on both sides
(a fit has 8 inliers or more, so those cells would hold 3 or more of them were they spread
like the keypoints). Some copies do that too (a rotated, recoloured or heavily edited copy
keeps few inliers, in its most detailed part), so a flagged fit loses its weight only when
two tests find the rest different:

* on keypoints (``repeated_share``, while fitting): the query's keypoints in those cells,
  carried into the hit by the transform, seldom find a hit keypoint with a like descriptor
  where they land (guided matching, no ratio test; those beside an inlier are left out, as
  the mark's own letters repeat). A copy's detail repeats there although its matches failed
  the ratio test or RANSAC; a different garment's does not;
* on pixels (``unmatched_alike``, on the stored thumbnails): the hit warped onto the query
  shares little of its detail over the whole overlap (``middle.detail_correlation``). A
  copy's survives heavy edits; two garments' does not correlate, the letters they share
  being a small part of it.

Its coverage is then 0, as for a missed middle. Measured on 200 clothing photos carrying
four shop marks, searched with 200 others carrying the same marks, and on 761 development
copies (BENCHMARKS.md, "Shared shop watermarks"): negatives called copies 31 -> 9, copies
found at rank 1 601 -> 598; a new user's 30 marked garments, 69 -> 5 of 435 pairs called
copies. A test on cells (``middle``'s) caught fewer and cost more copies.
"""

from __future__ import annotations

import numpy as np

from pictrace.features.keypoints import Keypoints, unit_rows
from pictrace.search.middle import FINE, Side, detail_correlation
from pictrace.search.overlap import in_box, project
from pictrace.types import Box

CELLS = 8
UNMATCHED = 0.4  # share of the keypoints in cells without inliers from which a fit is judged
MIN_KEYPOINTS = 8  # keypoints in the shared region to judge by
DIFFERENT = 0.3  # detail correlation below which the pictures differ
NEAR = 0.02  # guided matching: a hit keypoint this near (share of the hit's long side)
LIKE = 0.8  # with RootSIFT descriptors this alike (cosine) repeats a query keypoint;
REPEATED = 0.15  # from this share of repeated keypoints the rest is taken for the same
CLEAR = 0.08  # keypoints this near an inlier (share of the box's long side) are not tried
EDGE = 0.03  # keypoints landing this near the hit's edge (share of its long side) are not tried


Cells = tuple[tuple[bool, ...], Box]  # the query's cells without inliers (row by row), its box


def unmatched_cells(query: Side, hit: Side) -> tuple[float, Cells | None]:
    """The share of the keypoints in cells without inliers (the smaller of the two sides'; 0
    with too few keypoints to judge by), and the query's cells that hold keypoints but no
    inlier with its shared box when the fit is to be judged further (see above), else None.
    Each side is (its keypoints, the inliers' points, the shared box) in its own pixels."""
    sides = []
    for points, found, box in (query, hit):
        counts = _cell_counts(points, box)
        if counts.sum() < MIN_KEYPOINTS:
            return 0.0, None
        empty = _cell_counts(found, box) == 0
        sides.append((counts, empty, float(counts[empty].sum() / counts.sum())))
    share = min(share for _, _, share in sides)
    if share < UNMATCHED:
        return share, None
    counts, empty, _ = sides[0]
    return share, (tuple(bool(cell) for cell in empty & (counts > 0)), query[2])


def repeated_share(
    transform: np.ndarray, query: Keypoints, hit: Keypoints, cells: Cells, inliers: np.ndarray
) -> float:
    """The share of the query's keypoints in the ``cells``, and ``CLEAR`` away from every
    inlier (a mark's own letters next to those that matched repeat too), that the
    ``transform`` (query -> hit) carries next to a hit keypoint with a like descriptor. 1
    when none lands inside the hit (nothing to judge by)."""
    empty, box = cells
    chosen = np.flatnonzero(np.asarray(empty)[_cell_of(query.xy, box)] & in_box(query.xy, box))
    clear = CLEAR * max(box[2] - box[0], box[3] - box[1])
    gaps = np.linalg.norm(query.xy[chosen, None, :] - inliers[None, :, :], axis=2)
    chosen = chosen[gaps.min(axis=1, initial=np.inf) > clear]
    landed = project(transform, query.xy[chosen].astype(np.float64))
    if landed is None or not len(chosen):
        return 1.0
    width, height = hit.size
    edge = EDGE * max(width, height)
    kept = (
        (landed[:, 0] >= edge)
        & (landed[:, 0] <= width - edge)
        & (landed[:, 1] >= edge)
        & (landed[:, 1] <= height - edge)
    )
    if not kept.any():
        return 1.0
    chosen, landed = chosen[kept], landed[kept]
    apart = np.linalg.norm(landed[:, None, :] - hit.xy[None, :, :], axis=2)
    near = apart <= NEAR * max(width, height)
    mine = unit_rows(query.descriptors[chosen])
    theirs = unit_rows(hit.descriptors)
    alike = np.where(near, mine @ theirs.T, -1.0).max(axis=1, initial=-1.0)
    return float(np.mean(alike >= LIKE))


def unmatched_alike(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, rows: np.ndarray | None = None
) -> bool:
    """Whether the hit warped onto the query (``warped.warped_pair``: the query's overlap,
    the hit on it, where the hit reaches) shares some of the query's detail there; with
    ``rows`` (``middle.FINE`` booleans), in those rows of it only. Where the hit does not
    reach (the corners a turned copy leaves), nothing is different."""
    hit_part = np.where(inside, hit_part, query_part)
    where = None if rows is None else np.repeat(rows[:, None], FINE, axis=1)
    return detail_correlation(query_part, hit_part, where) >= DIFFERENT


def _cell_counts(points: np.ndarray, box: Box) -> np.ndarray:
    """How many of ``points`` fall in each cell of ``box`` (row by row; outside: none)."""
    cells = _cell_of(points, box)[in_box(points, box)]
    return np.bincount(cells, minlength=CELLS * CELLS)


def _cell_of(points: np.ndarray, box: Box) -> np.ndarray:
    """The cell of ``box`` (row by row) each point falls in, or would if it were inside."""
    x0, y0, x1, y1 = box
    col = np.clip(((points[:, 0] - x0) / max(x1 - x0, 1e-6) * CELLS).astype(int), 0, CELLS - 1)
    row = np.clip(((points[:, 1] - y0) / max(y1 - y0, 1e-6) * CELLS).astype(int), 0, CELLS - 1)
    return np.asarray(row * CELLS + col)
