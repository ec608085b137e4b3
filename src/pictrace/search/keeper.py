"""Which member of a duplicate group to keep: the one the others were made from.

A plain ranking (largest resolution, lossless format, richest EXIF, most bytes) keeps the wrong
file whenever an edit makes the picture larger: a copy rotated onto a bigger canvas, given a
border or a caption bar. Where ``duplicates`` verified a pair, the transform between the two
tells more, in two steps:

* **resolution**: the member holding the part both show at clearly more pixels (``SHARPER``
  times) is the original of the other: downscaled copies, screenshots, copies pasted small
  into another picture, small crops enlarged less than they were cut;
* **canvas**: at about the same resolution, when one member shows nothing but the shared part
  and the other shows more, that "more" is either picture (the first is a crop of it) or
  padding (mostly one flat colour: a border, a caption bar, the corners of a rotated copy), and
  then the padded one is the copy.

Each pair so judged marks one member as edited; the keeper is the member marked least often,
ties broken by the plain ranking. Pairs without a fit, or whose two canvases show the same
part (colour, noise, JPEG, stickers), leave the plain ranking to decide.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from pictrace.search.overlap import corners, project
from pictrace.types import ImageRecord

LOSSLESS = frozenset({"png", "tiff", "bmp", "webp-lossless", "ppm"})
RESOLUTION_STEP = 1.1  # pixel counts within about this factor count as the same resolution
SHARPER = 1.3  # this many times the shared part's pixels make the other member a reduced copy
FULL = 0.92  # a member whose shared part fills this share of its canvas shows nothing else
# Padding: at least FLAT of the extra canvas lies within TOLERANCE of its median colour, and
# a share of the picture along the shared part's edge lower by at least STEP does. Measured on
# the pairs bench/bench_duplicates.py judges: borders, rotated corners and caption bands gave
# 0.61-1.0 and 0-0.29 (the edge of a picture with a white background continues it); pictures
# around a crop gave below 0.6, or a margin of at most 0.42 (a photo on a flat background).
FLAT = 0.6
STEP = 0.5
TOLERANCE = 16  # per channel, 0..255
MARGIN = 5  # px of a thumbnail's extra canvas ignored along the shared part's edge (resampling)
MIN_EXTRA = 0.02  # an extra canvas smaller than this share of the thumbnail is not judged

Thumbnail = Callable[[int], np.ndarray | None]  # an image id -> its stored thumbnail (RGB)


@dataclass(frozen=True)
class Link:
    """A verified pair: ``transform`` maps the query's full-size pixels to the hit's."""

    query: int
    hit: int
    transform: np.ndarray


def ordered(
    records: Mapping[int, ImageRecord], links: Iterable[Link], thumbnail: Thumbnail
) -> tuple[list[ImageRecord], dict[int, int]]:
    """A group's members, the suggested keeper first, and how often each was judged made from
    another member (members never judged so are left out)."""
    edited = Counter(
        e for link in links if (e := edited_member(link, records, thumbnail)) is not None
    )
    return sorted(records.values(), key=lambda r: (edited[r.id], *plain_rank(r))), dict(edited)


def plain_rank(record: ImageRecord) -> tuple[int, int, int, int, int]:
    """Sort key, best first: largest resolution (counted in steps of ``RESOLUTION_STEP``: an
    edit two pixels wider is not sharper), lossless format, richest EXIF, bytes, age."""
    lossless = 1 if record.format in LOSSLESS else 0
    return (
        -resolution_steps(record),
        -lossless,
        -record.exif_tags,
        -record.byte_size,
        record.id,
    )


def resolution_steps(record: ImageRecord) -> int:
    """The picture's pixel count in steps of ``RESOLUTION_STEP``."""
    return round(math.log(max(1, record.width * record.height), RESOLUTION_STEP))


def edited_member(
    link: Link, records: Mapping[int, ImageRecord], thumbnail: Thumbnail
) -> int | None:
    """The id of the pair's member made from the other, or None when the fit cannot tell."""
    query, hit = records.get(link.query), records.get(link.hit)
    if query is None or hit is None:
        return None
    shared = shared_parts(link.transform, size(query), size(hit))
    if shared is None:
        return None
    in_query, in_hit = shared
    area_query, area_hit = polygon_area(in_query), polygon_area(in_hit)
    if area_hit > SHARPER * area_query:
        return query.id
    if area_query > SHARPER * area_hit:
        return hit.id
    fill_query, fill_hit = area_query / frame_area(query), area_hit / frame_area(hit)
    if min(fill_query, fill_hit) >= FULL or max(fill_query, fill_hit) < FULL:
        return None  # the same canvas, or each shows something the other does not
    wider, polygon, narrower = (
        (query, in_query, hit) if fill_query < fill_hit else (hit, in_hit, query)
    )
    pixels = thumbnail(wider.id)
    if pixels is None:
        return None
    return wider.id if padded(pixels, polygon, size(wider)) else narrower.id


def shared_parts(
    t: np.ndarray, query_size: tuple[int, int], hit_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The part both show, as a polygon in the query's and in the hit's pixels (None when the
    transform does not map either frame to a convex region of the other)."""
    in_hit = _clipped(project(t, corners(query_size)), hit_size)
    in_query = _clipped(project(np.linalg.inv(t), corners(hit_size)), query_size)
    if in_hit is None or in_query is None:
        return None
    return in_query, in_hit


def _clipped(quad: np.ndarray | None, frame: tuple[int, int]) -> np.ndarray | None:
    if quad is None or not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return None
    area, polygon = cv2.intersectConvexConvex(
        quad.astype(np.float32), corners(frame).astype(np.float32)
    )
    if area <= 1.0 or polygon is None:
        return None
    return np.asarray(polygon, dtype=np.float64).reshape(-1, 2)


def padded(pixels: np.ndarray, polygon: np.ndarray, full: tuple[int, int]) -> bool:
    """Whether the canvas of a picture outside ``polygon`` (in its full-size pixels) is padding,
    judged on its thumbnail ``pixels``: mostly one flat colour (``FLAT``), and a colour the
    picture does not continue in along the polygon's edge (``STEP``: a photo on a white
    background whose crop was taken is not padded with its own background)."""
    height, width = pixels.shape[:2]
    scaled = np.round(polygon * np.array([width / full[0], height / full[1]])).astype(np.int32)
    inside = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(inside, scaled, 1)
    kernel = np.ones((2 * MARGIN + 1, 2 * MARGIN + 1), np.uint8)
    extra = cv2.erode(1 - inside, kernel)
    edge = inside - cv2.erode(inside, kernel)
    outside = pixels[extra > 0].astype(np.int16)
    if len(outside) < MIN_EXTRA * height * width or not edge.any():
        return False
    colour = np.median(outside, axis=0)
    flat = _near(outside, colour).mean()
    blend = _near(pixels[edge > 0].astype(np.int16), colour).mean()
    return bool(flat >= FLAT and blend <= flat - STEP)


def _near(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(pixels - colour).max(axis=1) <= TOLERANCE)


def polygon_area(polygon: np.ndarray) -> float:
    return float(cv2.contourArea(polygon.astype(np.float32)))


def size(record: ImageRecord) -> tuple[int, int]:
    return record.width, record.height


def frame_area(record: ImageRecord) -> float:
    return float(max(1, record.width * record.height))
