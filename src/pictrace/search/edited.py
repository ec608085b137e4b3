"""Which member of a verified pair was made from the other (the keeper policy's ``original``).

A ranking by file alone (largest resolution, lossless format, richest EXIF, most bytes) keeps
the wrong file whenever an edit made the picture larger: a copy rotated onto a bigger canvas,
given a border or a caption band. Where ``duplicates`` verified a pair, the transform between
the two tells more (``edited_member``):

* **resolution**: when one member holds the part both show at clearly fewer pixels
  (``SHARPER`` times) on a canvas padded around it (a screenshot, a letterboxed or captioned
  thumbnail), it is the copy; so is one that holds all of the other at clearly more pixels
  on a padded canvas, across its width or height or in a frame with things of its own (a
  phone's screenshot of a photo shown across the screen's width, the app's bars above and
  below). Otherwise the pair is not judged: a thumbnail and an enlarged copy look alike to
  stored features, and so do a picture pasted small into another and the original of an
  enlarged crop, and a scan on its flat bed and a reduced crop of it (the file rules then
  keep the larger file);
* **canvas**: at about the same resolution, when one member shows nothing but the shared part
  and the other shows more, that "more" is either picture or padding (mostly one flat colour
  the picture does not continue in: a border, a caption band, the corners of a rotated copy),
  and then the padded one is the copy. More picture is not judged: the narrower member may
  be a crop, or the wider one a collage of it (the file rules then keep the larger file),
  unless the wider one is a flat frame around it (below). Padding may also be smooth rather
  than flat (a drop shadow, a bevelled frame, a gradient behind a pasted picture): then the
  picture must break off at the shared part's edge, where a crop's surroundings (sky, a
  wall) carry on;
* **placed in a frame**: a member showing the shared part as an upright rectangle in at most
  half its canvas, in a mostly flat frame (an app's window, a page) at which the part breaks
  off all round, is the copy, at any resolution: a screenshot of a photo in a viewer. A
  camera's photo of a room around a framed painting is no flat frame, so a crop of the
  painting is not kept over it.

Each verified pair is judged once; ``edited`` counts, per member, the pairs that found it made
from another member. The keeper policy (``settings.keeper_policy``, default ``types.KEEPER_POLICY``)
orders each group by rules, the first being ``original``: the member judged edited least
often. Pairs without a fit, or whose two canvases show the same part (colour, noise, JPEG,
stickers), leave the file-based rules to decide.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from pictrace.search.greyness import colour_look, lost_colour
from pictrace.search.inset import breaks_off_all_round
from pictrace.search.overlap import corners, project
from pictrace.search.padding import bare, breaks_off, on_thumbnail, padded
from pictrace.types import ImageRecord

SHARPER = 1.3  # this many times the shared part's pixels make the other member a reduced copy
FULL = 0.92  # a member whose shared part fills this share of its canvas shows nothing else
# ... unless the other fills at least this much more of its own: a white frame 1.4 % of the
# width leaves the picture 0.93 of the canvas, which FULL alone took for no frame (the framed
# copy was kept). Raising FULL instead lost 4 of the 45 edited members the duplicates bench
# marks (fits that clip an unframed member to 0.92-0.97).
FRAMED = 0.04
# A member holding all of the other at SHARPER times its pixels is the copy when the rest is
# padding and that part reaches across it, within SPAN of both sides, from left to right or
# top to bottom (a phone's screenshot of a photo across its page), or sits in a frame with
# things of its own (an app's bars and text). A scan's flat bed or a product's white ground
# around a larger original is not judged: a reduced crop of it looks the same.
SPAN = 0.02
# A grey copy of a colour picture is the copy (colour is not added back; ``greyness.py``),
# when the colour member's canvas is at least COLOUR_FILL the shared part.
COLOUR_FILL = 0.8
# A member that shows the shared part in at most PLACED of its canvas, as an upright rectangle
# (UPRIGHT of its bounding box: a part that is not turned), where the picture breaks off all
# round, placed it in a frame ...
PLACED = 0.5
UPRIGHT = 0.9
# ... in a frame that is mostly flat (app chrome, a page): CHROME of it with a 3 x 3 standard
# deviation under CHROME_FLAT levels. A viewer window's thumbnail gave 0.78, camera photos
# of rooms around a framed painting 0.21-0.42 (a review's repro).
CHROME = 0.6
CHROME_FLAT = 2.0

Thumbnail = Callable[[int], np.ndarray | None]  # an image id -> its stored thumbnail (RGB)
Judged = dict[tuple[int, bytes], bool]  # (image id, part on its thumbnail) -> the judgement


@dataclass(frozen=True)
class Link:
    """A verified pair: ``transform`` maps the query's full-size pixels to the hit's."""

    query: int
    hit: int
    transform: np.ndarray


def edited_counts(
    records: Mapping[int, ImageRecord], links: Iterable[Link], thumbnail: Thumbnail
) -> dict[int, int]:
    """Per member, how many verified pairs (each judged once) found it made from another."""
    seen: set[frozenset[int]] = set()
    counts: Counter[int] = Counter()
    thumbnail = cache(thumbnail)
    looks = cache(lambda image_id: colour_look(thumbnail(image_id)))
    judged: Judged = {}  # a copy in a group of many shows each of them in the same place
    for link in links:
        pair = frozenset((link.query, link.hit))
        if pair in seen or link.query not in records or link.hit not in records:
            continue
        seen.add(pair)
        if (edited := edited_member(link, records, thumbnail, looks, judged)) is not None:
            counts[edited] += 1
    return dict(counts)


def edited_member(
    link: Link,
    records: Mapping[int, ImageRecord],
    thumbnail: Thumbnail,
    looks: Callable[[int], str | None] | None = None,
    judged: Judged | None = None,
) -> int | None:
    """The id of the pair's member made from the other, or None when the fit cannot tell.
    With ``looks`` (an image id -> ``colour_look``), a grey copy of a colour picture that
    shows little else is that member. ``judged``: padding judgements made before (kept)."""
    query, hit = records.get(link.query), records.get(link.hit)
    if query is None or hit is None:
        return None
    shared = shared_parts(link.transform, size(query), size(hit))
    if shared is None:
        return None
    polygons = dict(zip((query.id, hit.id), shared, strict=True))
    areas = {i: polygon_area(p) for i, p in polygons.items()}
    fills = {r.id: areas[r.id] / max(1, pixels(r)) for r in (query, hit)}
    grey = lost_colour(query.id, hit.id, looks) if looks is not None else None
    if grey is not None and fills[hit.id if grey == query.id else query.id] >= COLOUR_FILL:
        return grey
    low, high = sorted((query, hit), key=lambda r: areas[r.id])
    if areas[high.id] > SHARPER * areas[low.id]:
        if fills[low.id] >= FULL:  # all of the smaller across the larger: enlarged, padded?
            padding = (
                fills[high.id] < FULL
                and _screen(high, polygons[high.id], thumbnail)
                and _padded(high, polygons[high.id], fills[high.id], thumbnail, judged)
            )
            return high.id if padding else None
        padding = _padded(low, polygons[low.id], fills[low.id], thumbnail, judged)
        return low.id if padding else None
    low_fill, high_fill = sorted(fills.values())
    if high_fill < FULL:  # each shows something the other does not: picture, or padding?
        return _only_padded((query, hit), polygons, fills, thumbnail, judged)
    if low_fill >= max(FULL, high_fill - FRAMED):
        return None  # the same canvas
    wider = min((query, hit), key=lambda r: fills[r.id])
    framed = _padded(wider, polygons[wider.id], fills[wider.id], thumbnail, judged)
    return wider.id if framed else None


def _only_padded(
    pair: tuple[ImageRecord, ImageRecord],
    polygons: Mapping[int, np.ndarray],
    fills: Mapping[int, float],
    thumbnail: Thumbnail,
    judged: Judged | None,
) -> int | None:
    """Of two members that each show something the other does not, the one whose extra is
    padding while the other's is picture (a copy turned on its own canvas: its corners are
    flat, the original's are picture); None when both or neither are padded (two crops)."""
    padded_ids = [r.id for r in pair if _padded(r, polygons[r.id], fills[r.id], thumbnail, judged)]
    return padded_ids[0] if len(padded_ids) == 1 else None


def _padded(
    record: ImageRecord,
    polygon: np.ndarray,
    fill: float,
    thumbnail: Thumbnail,
    judged: Judged | None,
) -> bool:
    """``padding.padded`` on the record's thumbnail, or, for a part filling at most PLACED of
    the canvas (``fill``), a part placed in a flat frame: upright, it breaks off all round in
    its lines (``_placed``) and in the look of its colours (``padding.breaks_off``: a star
    field around a crop of it passes the first); once per part of it (``judged``)."""
    picture = thumbnail(record.id)
    if picture is None:
        return False
    scaled = on_thumbnail(picture, polygon, size(record))
    key = (record.id, scaled.tobytes())
    judged = {} if judged is None else judged
    if key not in judged:
        judged[key] = padded(picture, polygon, size(record)) or (
            fill <= PLACED
            and _placed(picture, scaled)
            and breaks_off(picture, polygon, size(record))
        )
    return judged[key]


def _placed(picture: np.ndarray, part: np.ndarray) -> bool:
    """Whether the upright rectangular ``part`` (thumbnail px) is a picture placed in a frame
    the rest of ``picture`` is: a mostly flat one (``_chrome``), at which it breaks off all
    round (``inset.breaks_off_all_round``), where the surroundings of a crop carry on. A
    screenshot of an app's window around a photo, a page around it: not padding (the frame
    has detail), but made from the photo all the same."""
    height, width = picture.shape[:2]
    x0, y0 = np.clip(part.min(axis=0), 0, [width, height])
    x1, y1 = np.clip(part.max(axis=0), 0, [width, height])
    box = (int(x0), int(y0), int(x1), int(y1))
    if (x1 - x0) * (y1 - y0) <= 0 or polygon_area(part) < UPRIGHT * (x1 - x0) * (y1 - y0):
        return False
    return _chrome(picture, box) and breaks_off_all_round(picture, box)


def _chrome(picture: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether the rest of ``picture`` around ``box`` is mostly flat, as an app's window or a
    page is (at least CHROME of it with a 3 x 3 standard deviation under CHROME_FLAT grey
    levels): a camera's photo of a room around a framed painting is not, and the painting's
    crop must not be kept over it."""
    grey = cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (3, 3))
    spread = np.sqrt(np.maximum(cv2.blur(grey * grey, (3, 3)) - mean * mean, 0.0))
    rest = np.ones(grey.shape, bool)
    x0, y0, x1, y1 = box
    rest[y0:y1, x0:x1] = False
    return bool(rest.any()) and float(np.mean(spread[rest] < CHROME_FLAT)) >= CHROME


def shared_parts(
    t: np.ndarray, query_size: tuple[int, int], hit_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The part both show, as a polygon in the query's and in the hit's pixels, or None when
    ``t`` maps neither frame to a convex region of the other. The frame that projects (no
    corner past the horizon) is clipped by the other and mapped back, as ``overlap`` does."""
    if abs(np.linalg.det(t)) < 1e-12:
        return None
    inverse = np.linalg.inv(t)
    in_hit = _clipped(project(t, corners(query_size)), hit_size)
    if in_hit is not None and (back := project(inverse, in_hit)) is not None:
        return back, in_hit
    in_query = _clipped(project(inverse, corners(hit_size)), query_size)
    if in_query is not None and (forth := project(t, in_query)) is not None:
        return in_query, forth
    return None


def _clipped(quad: np.ndarray | None, frame: tuple[int, int]) -> np.ndarray | None:
    if quad is None or not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return None
    area, polygon = cv2.intersectConvexConvex(
        quad.astype(np.float32), corners(frame).astype(np.float32)
    )
    if area <= 1.0 or polygon is None:
        return None
    return np.asarray(polygon, dtype=np.float64).reshape(-1, 2)


def _screen(record: ImageRecord, polygon: np.ndarray, thumbnail: Thumbnail) -> bool:
    """Whether ``record`` shows ``polygon`` as a screen shows a picture: across its width or
    height (``_spans``), or in a frame with things of its own, not on a bare ground
    (``padding.bare``: a scanner's bed, a product's white ground)."""
    if _spans(polygon, size(record)):
        return True
    picture = thumbnail(record.id)
    return picture is not None and not bare(picture, polygon, size(record))


def _spans(polygon: np.ndarray, canvas: tuple[int, int]) -> bool:
    """Whether ``polygon`` reaches across its ``canvas`` (within ``SPAN`` of both sides) from
    left to right or from top to bottom: letterboxed, as a phone page shows a photo."""
    low, high = polygon.min(axis=0), polygon.max(axis=0)
    reach = [low[k] <= SPAN * canvas[k] and high[k] >= (1 - SPAN) * canvas[k] for k in (0, 1)]
    return any(reach)


def polygon_area(polygon: np.ndarray) -> float:
    return float(cv2.contourArea(polygon.astype(np.float32)))


def size(record: ImageRecord) -> tuple[int, int]:
    return record.width, record.height


def pixels(record: ImageRecord) -> int:
    return record.width * record.height


def most_pixels(records: Iterable[ImageRecord]) -> int:
    return max(pixels(r) for r in records)
