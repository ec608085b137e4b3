"""Composites in duplicate groups: a collage of several collection pictures is a copy of each,
but it must not join their groups into one.

A 2 x 2 grid of four different photos, each with edited copies in the collection, links to all
four: as plain connected components, the four photos and all their copies became one group
whose keeper (by resolution) was the collage, so following the suggestion would delete three
unrelated originals. A member is a composite when it holds at least two other members in parts
of itself that do not overlap, breaks off at the edges of those parts (``keeper.breaks_off``:
a cell of a grid is bordered by a gutter or by another picture), and those members are not
copies of each other. Its links to what it shows outside the largest of those parts are left
out of the groups: it stays in the group of the picture it shows largest, marked as made from
others (it is never that group's suggested keeper while an original is there), and a search
with the collage still finds every part.

Crops of an original (the tiles of a panorama) have the same geometry as a collage of them,
but the original carries on across their edges, so it is not taken for a composite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import cv2
import numpy as np

from pictrace.search.keeper import (
    FULL,
    Link,
    Thumbnail,
    breaks_off,
    polygon_area,
    shared_parts,
    size,
)
from pictrace.types import ImageRecord

OVERLAP = 0.1  # parts of a composite may share at most this share of the smaller one


def bridges(
    links: Iterable[Link],
    records: Mapping[int, ImageRecord],
    pairs: set[tuple[int, int]],
    thumbnail: Thumbnail,
) -> dict[int, set[tuple[int, int]]]:
    """Per composite, the pairs (low id first) that join it to what it shows outside the
    largest of its parts that break off (each part's copies included); also per member that
    holds a composite, its pairs to what the composite does not join."""
    parts = _parts_shown(links, records)
    dropped: dict[int, set[tuple[int, int]]] = {}
    for member, shown in parts.items():
        picture = thumbnail(member) if len(shown) > 1 else None
        if picture is None:
            continue
        placed = [
            (other, where)
            for other, where in shown
            if breaks_off(picture, where, size(records[member]))
        ]
        chosen = _apart(placed, pairs)
        if len(chosen) < 2:
            continue
        _, largest = chosen[0]
        dropped[member] = {
            _pair(member, other) for other, where in shown if not _overlapping(where, largest)
        }
    return _passed_on(dropped, parts, pairs)


def _passed_on(
    dropped: dict[int, set[tuple[int, int]]],
    parts: Mapping[int, list[tuple[int, np.ndarray]]],
    pairs: set[tuple[int, int]],
) -> dict[int, set[tuple[int, int]]]:
    """``dropped`` with the pairs of every member that holds a composite (a collage with a
    border, a collage beside another picture) to what that composite does not join: such a
    member would otherwise join the groups again through the composite's parts."""
    changed = True
    while changed:
        changed = False
        for member, shown in parts.items():
            for part, _ in shown:
                away = {o for pair in dropped.get(part, ()) for o in pair if o != part}
                more = {_pair(member, o) for o in away if o != member} & pairs
                if not more <= dropped.get(member, set()):
                    dropped.setdefault(member, set()).update(more)
                    changed = True
    return dropped


def _parts_shown(
    links: Iterable[Link], records: Mapping[int, ImageRecord]
) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Per member, the members it holds in a part of itself, with where (a polygon in it)."""
    shown: dict[int, list[tuple[int, np.ndarray]]] = {}
    seen: set[tuple[int, int]] = set()
    for link in links:
        query, hit = records.get(link.query), records.get(link.hit)
        if query is None or hit is None or _pair(query.id, hit.id) in seen:
            continue
        shared = shared_parts(link.transform, size(query), size(hit))
        if shared is None:
            continue
        seen.add(_pair(query.id, hit.id))
        in_query, in_hit = shared
        for holder, part, inside in ((query, hit, in_query), (hit, query, in_hit)):
            if _held(inside, holder):
                continue  # ``holder`` shows nothing but ``part``
            shown.setdefault(holder.id, []).append((part.id, inside))
    return shown


def _apart(
    shown: list[tuple[int, np.ndarray]], pairs: set[tuple[int, int]]
) -> list[tuple[int, np.ndarray]]:
    """Of the parts a member holds, largest first, those that overlap none taken before and
    are not copies of one taken before."""
    chosen: list[tuple[int, np.ndarray]] = []
    for other, polygon in sorted(shown, key=lambda part: -polygon_area(part[1])):
        if all(
            _pair(other, taken) not in pairs and not _overlapping(polygon, where)
            for taken, where in chosen
        ):
            chosen.append((other, polygon))
    return chosen


def _held(polygon: np.ndarray, record: ImageRecord) -> bool:
    """Whether ``polygon`` covers nearly all of the picture (FULL): not a part of it."""
    return polygon_area(polygon) >= FULL * record.width * record.height


def _overlapping(a: np.ndarray, b: np.ndarray) -> bool:
    area, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    return float(area) > OVERLAP * min(polygon_area(a), polygon_area(b))


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)
