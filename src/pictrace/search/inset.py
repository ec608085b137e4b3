"""Do two fitted pictures differ in one block that is a picture of its own on both sides?

Different photos shown in one frame (a viewer's or an app's window, a product on one floor)
share the frame exactly: its keypoints match all around the photo and its pixels agree
everywhere but there, so the middle and unmatched-detail judges (``middle``, ``unmatched``)
can find the pictures alike, the frame's edge around each photo being the same in both. A
desktop screenshot of a 450 px photo holds it in 7 % of the picture.

``inset_differs`` judges the hit warped onto the query (their colour thumbnails):

* **the block** (``differing_block``): the frame is where the two agree, in the regions that
  hold the fit's inliers; the block is the largest region of the rest, solid, and holding
  hardly any inlier (a copy blurred all over agrees only in a flat part, with its inliers in
  the block);
* **each side's own part of it** (``own_box``): two photos of different shapes differ in the
  union of both, so each side's lines that look like the frame beside the block are left
  out, and each side snaps in to the photo's straight edge past a few flat lines (the
  thumbnails' JPEG smears a photo's edge into the frame);
* **breaking off** (``breaks_off_all_round``): on *both* sides the picture breaks off at
  every side of its part inside the canvas, three at least (bands: below): the strips just
  inside and just outside neither correlate nor are flat at one level. An edited copy
  differs in a block too (a sticker, a censored face), but on the original's side the
  picture carries on across the block's edge. A block covering at least ``BAND`` of the
  overlap is judged however many sides of it lie inside the canvas (a promotion panel's photo
  beside its text has one, an app screen's between its bars two). A smaller band is not:
  where the original shows a part of its own under a caption band (an app screen's text
  below its photo), it breaks off at the band as well; such a band covers a fifth of the
  picture or so.

Such a fit loses its coverage, as a missed middle does. Judged only for fits whose inliers
leave out some of the detail (``INSET_FROM``), on the stored thumbnails. Measured in
BENCHMARKS.md (the sections "... different photos in one window" and, for bands, "...
photos beside a shared panel").

The same block tells the other judges' mistake apart: a caption band laid over the middle
of a copy whose own detail it hides (a pyramid under the band, flat sky and sand around it)
makes the middles differ, but the query breaks off at every side of the band while the
original carries on across each (``laid_over``, for a block under ``BAND`` of the overlap):
that fit keeps its weight.
"""

from __future__ import annotations

import cv2
import numpy as np

from pictrace.features.thumbnail import THUMB_SIZE
from pictrace.search.middle import correlation

# Judged for fits whose inliers leave out at least this share of the keypoints on both sides
# (``unmatched.unmatched_cells``): from 0.38 (5th percentile) for the pairs of different
# photos in one viewer window it parts (bench_surround.py's windows); over the development
# copies the share has a median of 0.08 and a 90th percentile of 0.32, and each judgement
# reads a thumbnail (0.12 cost 5-10 % of the search time for as many windows parted).
INSET_FROM = 0.35
DIFFERS = 24  # levels (any channel) from which two aligned pixels differ (after a light blur)
BLOCK = 0.04  # the block's share of the canvas from which it is judged
SOLID = 0.6  # the share of its bounding box the block must fill (text or edges do not)
SIDE = THUMB_SIZE  # px: the canvas the block is found on (the stored thumbnails' size)
# The fit's inliers lie in the frame the two share: a block holding more than this share of
# them is the copy's own picture, edited all over (blurred, say), and the frame a flat part
# of it that agrees (a dark stage floor).
INLIERS_IN = 0.1
_OPEN = np.ones((3, 3), np.uint8)  # thin lines of misalignment along edges are dropped
_CLOSE = np.ones((7, 7), np.uint8)  # a photo's few pixels that happen to agree are filled
# Each picture's own part of the block: the block less the lines at its sides within
# FRAME_LIKE levels of the frame beside it, at least OWN of the block.
FRAME_LIKE = 6.0
OWN = 0.2
# Each side of that part then moves in by up to SNAP px to the picture's sharpest straight
# edge, one it steps across by SNAP_STEP levels on average, past lines whose colours vary by
# at most SNAP_FLAT (standard deviation) only.
SNAP = 8
SNAP_STEP = 24.0
SNAP_FLAT = 12.0
# Breaking off at a side: strips of STRIP px from GAP px either side of it, their profiles
# along it smoothed over SMOOTH px, carry on when they correlate at least CARRIED (or as two
# strips as far apart further in do, less MARGIN), or are both flat (standard deviation
# under FLAT) and within STEP levels of each other.
GAP = 2
STRIP = 3
SMOOTH = 5
CARRIED = 0.5
MARGIN = 0.2
FLAT = 4.0
STEP = 8.0
REACH = GAP + (2 * GAP + STRIP) + STRIP  # px: how far in from a side the strips reach
MIN_SIDE = 2 * SNAP + REACH  # px: a part's shortest side before snapping
# A picture placed in a frame has the frame on at least this many sides. A band across the
# whole picture has it on two at most: a caption band laid over a copy where the original
# shows a part of its own (an app screen's text below its photo) breaks off there too, and
# judging every band lost 3 of 20 edited copies in bench_surround.py.
ENCLOSED = 3
# A block covering at least this share of the overlap is judged from one side inside the
# canvas: an app screen's photo between its bars or a promotion panel's beside its text
# covers more than half of it, a 3:2 photo across a phone's page 0.375, a caption band laid
# over a copy a fifth or so (0.4 until pages were judged in place: ``verifier._in_place``).
BAND = 0.3
PixelBox = tuple[int, int, int, int]  # x0, y0, x1, y1 in canvas px


def inset_differs(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, inliers: np.ndarray
) -> bool:
    """Whether the hit warped onto the query (``warped.warped_pair`` of colour thumbnails:
    RGB uint8, and where the hit reaches) differs from it in one solid block that holds
    hardly any of the fit's ``inliers`` (in canvas px: ``warped.on_canvas``) and at which both
    pictures break off: different pictures in one frame."""
    return differs_in(
        query_part, hit_part, inside, free_block(query_part, hit_part, inside, inliers)
    )


def free_block(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, inliers: np.ndarray
) -> PixelBox | None:
    """``differing_block``, when it holds hardly any of the ``inliers`` (INLIERS_IN); else
    None. The judges of a block (``differs_in``, ``laid_in``, ``pasted.pasted_in``) take it
    found once."""
    block = differing_block(query_part, hit_part, inside, inliers)
    return None if block is None or share_in(inliers, block) > INLIERS_IN else block


def differs_in(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, block: PixelBox | None
) -> bool:
    """``inset_differs`` for the ``free_block`` found: both pictures break off around their
    own part of it."""
    if block is None:
        return False
    fewest = 1 if box_area(block) >= BAND * np.count_nonzero(inside) else ENCLOSED
    hit_part = np.where(inside[:, :, None], hit_part, query_part)
    for part in (query_part, hit_part):
        own = own_box(part, block)
        if own is None or not breaks_off_all_round(part, own, fewest):
            return False
    return True


def breaks_off_all_round(part: np.ndarray, box: PixelBox, fewest: int = ENCLOSED) -> bool:
    """Whether the picture breaks off at every side of ``box`` inside the canvas, at least
    ``fewest`` of them, ``box`` being ``REACH`` px across at least: along each, the strips
    just inside and just outside neither correlate (a photo carries on across a band laid
    over it) nor are both flat at one level (a backdrop that carries on): ``_carried_on``."""
    judged = carried_at_sides(part, box)
    return judged is not None and len(judged) >= fewest and not any(judged)


def laid_over(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, inliers: np.ndarray
) -> bool:
    """Whether the query is the hit with something laid over it (a caption band, a sticker),
    on the aligned colour thumbnails as ``inset_differs`` takes them: they differ in one
    block of less than ``BAND`` of the overlap that holds hardly any of the ``inliers``, at
    whose every side inside the canvas the query breaks off while the hit carries on."""
    return laid_in(query_part, hit_part, inside, free_block(query_part, hit_part, inside, inliers))


def laid_in(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, block: PixelBox | None
) -> bool:
    """``laid_over`` for the ``free_block`` found."""
    if block is None or box_area(block) >= BAND * np.count_nonzero(inside):
        return False
    laid = carried_at_sides(query_part, block)
    under = carried_at_sides(np.where(inside[:, :, None], hit_part, query_part), block)
    if not laid or not under or len(laid) != len(under):
        return False
    return not any(laid) and all(under)


def carried_at_sides(part: np.ndarray, box: PixelBox) -> list[bool] | None:
    """Whether the picture carries on across each side of ``box`` inside the canvas (where
    the canvas leaves room for the strips): ``_carried_on``, side by side; None when ``box``
    is less than ``REACH`` px across."""
    x0, y0, x1, y1 = box
    if min(x1 - x0, y1 - y0) < REACH:
        return None
    grey = cv2.cvtColor(np.ascontiguousarray(part), cv2.COLOR_RGB2GRAY).astype(np.float32)
    height, width = grey.shape
    sides = [
        (grey[y0:y1].T, x0, -1) if x0 > 0 else None,
        (grey[y0:y1].T, x1, 1) if x1 < width else None,
        (grey[:, x0:x1], y0, -1) if y0 > 0 else None,
        (grey[:, x0:x1], y1, 1) if y1 < height else None,
    ]  # each: the picture with the side's lines as rows, where the side lies, outward
    judged = [_carried_on(*side) for side in sides if side is not None]
    return [carried for carried in judged if carried is not None]


def _carried_on(lines: np.ndarray, at: int, outward: int) -> bool | None:
    """Whether the picture carries on across the boundary before row ``at`` of ``lines``
    (rows: lines parallel to it), the outside lying ``outward`` (-1: lower rows): the strips
    either side correlate at least ``CARRIED``, or as well as two strips as far apart
    further in do (less ``MARGIN``: a busy texture changes within a few px), or are both
    flat at one level. None where the canvas leaves no strips to compare."""
    apart = outward * (2 * GAP + STRIP)
    first = at - 1 - GAP if outward > 0 else at + GAP
    rows = [first - outward * k for k in range(STRIP)]
    strips = [[row + shift for row in rows] for shift in (apart, 0, -apart)]  # out, in, deeper
    if min(min(strip) for strip in strips) < 0 or max(max(strip) for strip in strips) >= len(lines):
        return None
    outside, inside, deeper = (_profile(lines[strip]) for strip in strips)
    if max(inside.std(), outside.std()) < FLAT:
        return abs(float(inside.mean() - outside.mean())) < STEP
    if min(inside.std(), outside.std()) < FLAT:
        return False
    across = correlation(inside, outside)
    return across >= min(CARRIED, correlation(deeper, inside) - MARGIN)


def _profile(strip: np.ndarray) -> np.ndarray:
    return cv2.blur(strip.mean(axis=0, keepdims=True), (SMOOTH, 1)).ravel()


def share_in(points: np.ndarray, box: PixelBox) -> float:
    if not len(points):
        return 0.0
    x0, y0, x1, y1 = box
    x, y = points[:, 0], points[:, 1]
    return float(np.mean((x >= x0) & (x < x1) & (y >= y0) & (y < y1)))


def differing_block(
    query_part: np.ndarray, hit_part: np.ndarray, inside: np.ndarray, inliers: np.ndarray
) -> PixelBox | None:
    """The bounding box (x0, y0, x1, y1, canvas px) of what the frame the two aligned colour
    pictures share leaves out: the frame is where they agree, in the regions that hold the
    fit's ``inliers`` (two photos on black both agree where they are black), the block the
    largest region of the rest, when it is at least ``BLOCK`` of the canvas and fills
    ``SOLID`` of its box; else None."""
    a, b = (cv2.GaussianBlur(p.astype(np.float32), (3, 3), 0) for p in (query_part, hit_part))
    differs = ((np.abs(a - b).max(axis=2) > DIFFERS) & inside).astype(np.uint8)
    differs = cv2.morphologyEx(differs, cv2.MORPH_OPEN, _OPEN)
    differs = cv2.morphologyEx(differs, cv2.MORPH_CLOSE, _CLOSE)
    rest = _largest(inside & ~_holding(inside & (differs == 0), inliers))
    if rest is None:
        return None
    x, y, w, h, area = rest
    if area < BLOCK * inside.size or area < SOLID * w * h:
        return None
    return x, y, x + w, y + h


def _holding(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The connected regions of ``mask`` that hold any of ``points`` (canvas px)."""
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    height, width = mask.shape
    x = np.clip(points[:, 0].astype(int), 0, width - 1)
    y = np.clip(points[:, 1].astype(int), 0, height - 1)
    held = np.unique(labels[y, x])
    return np.isin(labels, held[held > 0])


def _largest(mask: np.ndarray) -> tuple[int, ...] | None:
    """The largest connected region of ``mask``: x, y, width, height, area."""
    mask = mask.astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count < 2:
        return None
    return tuple(int(v) for v in stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))])


def own_box(part: np.ndarray, block: PixelBox) -> PixelBox | None:
    """The part of ``block`` one picture fills with a picture of its own. Two photos of
    different shapes differ in the union of both, and the smaller one's frame shows around
    it: each side inside the canvas moves in past the lines that look like the frame just
    outside the block (within ``FRAME_LIKE`` levels on average), then snaps to the photo's
    edge (``_snapped``). None when that leaves less than ``OWN`` of the block, or a side
    shorter than ``MIN_SIDE`` (snapping leaves it 2 SNAP px shorter at most, room for the
    strips ``_carried_on`` compares)."""
    picture = part.astype(np.int16)
    height, width = part.shape[:2]
    x0, y0, x1, y1 = block
    x0, x1 = _frame_trimmed(picture[y0:y1], x0, x1, width)
    if x1 - x0 < MIN_SIDE:
        return None
    rows = picture[:, x0:x1].transpose(1, 0, 2)
    y0, y1 = _frame_trimmed(rows, y0, y1, height)
    own = (x0, y0, x1, y1)
    if y1 - y0 < MIN_SIDE or box_area(own) < OWN * box_area(block):
        return None
    return _snapped(picture, own)


def _frame_trimmed(picture: np.ndarray, start: int, stop: int, size: int) -> tuple[int, int]:
    """Columns ``start:stop`` of ``picture`` (rows, columns, channels) without those at
    either end that look like the column just outside (none at the canvas's edge)."""
    if start > 0:
        frame = picture[:, start - 1]
        while start < stop and _like(picture[:, start], frame):
            start += 1
    if stop < size:
        frame = picture[:, stop]
        while stop > start and _like(picture[:, stop - 1], frame):
            stop -= 1
    return start, stop


def _like(line: np.ndarray, frame: np.ndarray) -> bool:
    return float(np.abs(line - frame).max(axis=1).mean()) <= FRAME_LIKE


def _snapped(picture: np.ndarray, box: PixelBox) -> PixelBox:
    """``box`` with each side inside the canvas moved in, by up to ``SNAP`` px, to the line
    across which the ``picture`` (int16) steps most on average: a placed photo's edge. (The
    thumbnails are JPEG: their 8 px blocks smear a photo's edge into the flat frame beside
    it, so the pictures differ a little beyond it; never outwards, onto an edge of the
    frame.)"""
    height, width = picture.shape[:2]
    x0, y0, x1, y1 = box
    x0 = _edge_at(picture[y0:y1], x0, width, 1)
    x1 = _edge_at(picture[y0:y1], x1, width, -1)
    rows = picture[:, x0:x1].transpose(1, 0, 2)
    y0, y1 = _edge_at(rows, y0, height, 1), _edge_at(rows, y1, height, -1)
    return x0, y0, x1, y1


def _edge_at(picture: np.ndarray, at: int, size: int, inward: int) -> int:
    """The boundary between columns of ``picture`` (rows, columns, channels) from ``at`` up
    to SNAP columns ``inward``, past flat columns only (a frame smeared by JPEG, not the
    stalks of a photo), with the largest mean step between the columns either side of it,
    when that is at least SNAP_STEP levels on average (a straight edge all along); else,
    and at the canvas's edge, ``at`` itself."""
    if at <= 0 or at >= size:
        return at
    lines = [at]
    for line in range(at + inward, at + inward * (SNAP + 1), inward):
        passed = picture[:, line - 1 if inward > 0 else line]  # the column left out
        if not 0 < line < size or passed.std(axis=0).max() > SNAP_FLAT:
            break
        lines.append(line)
    steps = [line_step(picture, line) for line in lines]
    best = int(np.argmax(steps))
    return lines[best] if steps[best] >= SNAP_STEP else at


def line_step(picture: np.ndarray, line: int) -> float:
    """The mean over the rows of ``picture`` (rows, columns, channels; signed) of the largest
    channel's step between its columns ``line - 1`` and ``line``; 0 without rows."""
    if not len(picture):
        return 0.0
    return float(np.abs(picture[:, line] - picture[:, line - 1]).max(axis=1).mean())


def box_area(box: PixelBox) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])
