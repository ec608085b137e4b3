"""A search's zoomed look: where in a query to look a third time, closely.

A picture shown small inside a larger one (a phone screenshot, a story frame, a grid of
pictures, a letterboxed video frame) spans too few pixels at the second look's scale for a
copy's keypoints to match; a few of them agree all the same. ``zoom_region`` turns where they
lie into the part of the query the search looks at again, as closely as the second look saw
the whole query (BENCHMARKS.md, "Copies inside frames").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from pictrace.search.candidates import Candidate
from pictrace.types import Box, DecodedImage

# The zoomed look: from ZOOM_INLIERS agreeing keypoints of one candidate, in a part of the
# query at most ZOOM_SHARE of its long side once widened ZOOM_MARGIN times around them.
ZOOM_INLIERS = 4
ZOOM_MARGIN = 2.0
ZOOM_SHARE = 0.6
# The share of a query its copies must show in for a search to stop looking while other
# candidates' keypoints agree elsewhere in it: a 2 x 2 collage of indexed photos stopped at
# two cells found with half (a held-out trial's 60 collages: 162 of their 240 cells found as
# copies, 176 with three quarters; every development bench unchanged).
EXPLAINED = 0.75


def zoom_region(candidates: Iterable[Candidate], image: DecodedImage) -> Box | None:
    """The part of the query (full-size pixels) a search looks at closely when its looks at
    the whole query found no copy: around where the most confident candidate's inliers lie,
    widened ZOOM_MARGIN times (at least a quarter of the query's long side, as a square), or
    None when no candidate has enough of them or the part would not be much smaller than
    the whole query (nothing to gain)."""
    focused = [c for c in candidates if c.focus and c.signals.get("inliers", 0) >= ZOOM_INLIERS]
    if not focused:
        return None
    focus = max(focused, key=lambda c: c.confidence).focus
    if focus is None:  # (filtered above; says so to the type checker)
        return None
    x0, y0, x1, y1 = focus
    long_side = float(max(image.width, image.height))
    side = max(ZOOM_MARGIN * max(x1 - x0, y1 - y0), long_side / 4)
    if side > ZOOM_SHARE * long_side:
        return None
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = min(max(cx - side / 2, 0.0), max(image.width - side, 0.0))
    top = min(max(cy - side / 2, 0.0), max(image.height - side, 0.0))
    return left, top, min(left + side, image.width), min(top + side, image.height)


def covered_share(boxes: Iterable[Box], size: tuple[int, int], grid: int = 64) -> float:
    """The share of a picture of ``size`` that the union of ``boxes`` (its pixels) covers,
    counted on a ``grid`` x ``grid`` raster."""
    cells = np.zeros((grid, grid), bool)
    width, height = max(size[0], 1), max(size[1], 1)
    for x0, y0, x1, y1 in boxes:
        cols = slice(int(grid * max(x0, 0) / width), int(np.ceil(grid * min(x1, width) / width)))
        rows = slice(int(grid * max(y0, 0) / height), int(np.ceil(grid * min(y1, height) / height)))
        cells[rows, cols] = True
    return float(cells.mean())


def inside(box: Box, boxes: Iterable[Box]) -> bool:
    """Whether the centre of ``box`` lies in one of ``boxes``."""
    x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in boxes)


def explained(
    candidates: Mapping[int, Candidate], image: DecodedImage, threshold: float, again: bool = False
) -> bool:
    """Whether the copies found (exact, or from ``threshold``) show in at least EXPLAINED of
    the query's area (where their evidence says; an edited copy without a box explains all
    of it), or at least some, with no other candidate's keypoints agreeing anywhere (nothing
    more to look for). An exact copy is the query itself, which may still be made of other
    pictures (an indexed collage): it explains nothing another candidate's keypoints point
    at. Before the second look (not ``again``, after it), no copy explains a candidate
    fitted inside it below the threshold either: another copy of the same picture, which
    the finer look may verify (an archive's original of a phone photo of its screen, when
    re-posts of that photo are indexed too). A candidate whose keypoints merely agree there
    is left out: the finer look lifted different photos of one scene (a set of blocks, a
    chessboard) into copies more often. After it, the zoomed look is for a picture the
    search found no copy of, not for one that still shares a corner (a watermark) with a
    copy found."""
    copies = [c for c in candidates.values() if c.copy_at(threshold)]
    edited = [c for c in copies if not c.exact]
    boxes = [c.evidence.hit_box_in_query if c.evidence else None for c in edited]
    if not copies or None in boxes:
        return bool(copies)
    found = [b for b in boxes if b is not None]
    others = [(c, c.focus) for c in candidates.values() if not c.copy_at(threshold)]
    hidden = (c.evidence and c.evidence.transform and f and inside(f, found) for c, f in others)
    if not again and any(hidden):
        return False
    agreeing = [f for c, f in others if f and c.signals.get("inliers", 0) >= ZOOM_INLIERS]
    if not any(not inside(focus, found) for focus in agreeing):
        return True
    return covered_share(found, (image.width, image.height)) >= EXPLAINED
