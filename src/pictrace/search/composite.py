"""Composites in duplicate groups: a collage of several collection pictures is a copy of each,
but it must not join their groups into one.

A 2 x 2 grid of four different photos, each with edited copies in the collection, links to all
four: as plain connected components, the four photos and all their copies became one group
whose keeper (by resolution) was the collage, so following the suggestion would delete three
unrelated originals. A member is a composite when it holds at least two other members in parts
of itself that are different regions (neither part's centre lies in the other: a cell cropped
from a larger photo maps that photo past the cell's edges), breaks off at the edges of those
parts (``padding.breaks_off``: a cell of a grid is bordered by a gutter or by another picture),
and those members are not copies of each other. Its links to what it shows outside the
largest of those parts are left out of the groups: it stays in the group of the picture it
shows largest, marked as made from others (it is never that group's suggested keeper while an
original is there), and a search with the collage still finds every part.

Crops of an original (the tiles of a panorama) have the same geometry as a collage of them,
but the original carries on across their edges, so it is not taken for a composite.

A cell filled by cropping (``ImageOps.fit``: the photo cut to the cell's shape) holds only
part of its photo, which maps past the cell into its neighbours, so the collage does not break
off where the photo's frame lands. There the part is narrowed to its cell (``_cell``): the
photo's thumbnail warped into the collage's, the box of the largest region where the two
agree, which must then break off.

Which parts the composite stays with is told by where each part's own pixels lie (its cell,
``Spot.shown``): a part lies in the largest when the centre of its pixels does. The frame a
part lands at can reach far past them (a phone photo of a screen showing a cell's whole
picture), and so can a collage that shares one cell with this one: a link between two
composites joins nothing unless one is a copy of the other (``_copy_of``), which then follows
the one it holds.
A newsroom trial's 64 viral copies of 10 pictures, with four collages among them, made one
group of 38 members from five of the pictures before; each picture now has its own group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from pictrace.search.edited import FULL, Link, Thumbnail, polygon_area, shared_parts, size
from pictrace.search.padding import breaks_off, on_thumbnail
from pictrace.types import ImageRecord


def bridges(
    links: Iterable[Link],
    records: Mapping[int, ImageRecord],
    pairs: set[tuple[int, int]],
    thumbnail: Thumbnail,
) -> dict[int, set[tuple[int, int]]]:
    """Per composite, the pairs (low id first) that join it to what it shows outside the
    largest of its parts that break off (each part's copies included), and to every other
    composite but its copies (``_copy_of``); also per member that holds a composite, its
    pairs to what the composite does not join (``_passed_on``: a copy of a grid follows the
    grid). Another composite is never the part a composite stays with: two grids that share
    a cell show each other there only, and a caption copy of a grid holds all of it."""
    parts, whole = _parts_shown(links, records)
    spots = {
        member: _spots(held, records, member, thumbnail)
        for member, held in parts.items()
        if len(held) > 1
    }
    full = {member: size(records[member]) for member in spots}
    composites = {m for m, s in spots.items() if len(_apart(_placed(s), pairs, full[m])) > 1}
    kept = {}
    for member in composites:
        placed = [p for p in _placed(spots[member]) if p[0] not in composites]
        chosen = _apart(placed, pairs, full[member])
        kept[member] = _of_largest(spots[member], chosen, full[member]) - composites
    dropped: dict[int, set[tuple[int, int]]] = {}
    for member in composites:
        followed = {
            other
            for other in composites
            if _copy_of(member, other, spots, whole) or _copy_of(other, member, spots, whole)
        }
        partners = {a if b == member else b for a, b in pairs if member in (a, b)}
        shown = {spot.other for spot in spots[member]} | (partners & composites)
        dropped[member] = {_pair(member, o) for o in shown - kept[member] - followed}
    return _passed_on(dropped, whole, pairs)


@dataclass(frozen=True, eq=False)
class Spot:
    """Where a member shows another: ``where`` its frame lands (a polygon, full-size pixels
    of the member), ``cell`` the narrower box its pixels fill when the frame lands past them
    (``_cell``), ``shown`` where its pixels lie (the cell, unless it is a sliver of the frame:
    under TRUSTED of it), and whether the member breaks off at the edges of one of them
    (``placed``, the cell when it does there)."""

    other: int
    where: np.ndarray
    cell: np.ndarray | None
    shown: np.ndarray
    placed: np.ndarray | None
    agreeing: float  # the share of where it lands in which its pixels agree (``_cell``)


TRUSTED = 0.25  # of where a part's frame lands: a narrower agreeing box is a sliver of it


def _spots(
    held: list[Held], records: Mapping[int, ImageRecord], member: int, thumbnail: Thumbnail
) -> list[Spot]:
    """Where ``member`` shows each part it holds; none without its thumbnail."""
    picture = thumbnail(member)
    if picture is None:
        return []
    full = size(records[member])
    judged: dict[bytes, bool] = {}  # the copies of one picture show in the same place
    spots = []
    for other, where, carried in held:
        cell, agreeing = _cell(picture, thumbnail(other), carried, full, size(records[other]))
        if cell is not None and _share(cell, full) < TRUSTED * _share(where, full):
            cell = None
        shown = where if cell is None else cell
        # a copy of most of the member (a caption copy of a grid) is no part of it
        placed = (
            None if _share(shown, full) >= MOST else _placed_at(picture, cell, where, full, judged)
        )
        spots.append(Spot(other, where, cell, shown, placed, agreeing))
    return spots


def _placed_at(
    picture: np.ndarray,
    cell: np.ndarray | None,
    where: np.ndarray,
    full: tuple[int, int],
    judged: dict[bytes, bool],
) -> np.ndarray | None:
    """Where a part breaks off: at its cell's edges, else at its frame's; None if neither."""
    if cell is not None and _breaks_off(picture, cell, full, judged):
        return cell
    return where if _breaks_off(picture, where, full, judged) else None


MOST = 0.85  # of a member's picture: a part whose pixels cover this much is not one of its parts


def _placed(spots: list[Spot]) -> list[tuple[int, np.ndarray]]:
    """The parts that break off, each where it does."""
    return [(spot.other, spot.placed) for spot in spots if spot.placed is not None]


COPY = 0.6  # of where a composite lands in another: their pixels agree over this much in a copy


def _copy_of(
    holder: int,
    held: int,
    spots: Mapping[int, list[Spot]],
    whole: Mapping[int, set[int]],
) -> bool:
    """Whether ``holder`` is a copy of the composite ``held`` (a re-encode, a caption, a
    border, a crop): it holds it whole, and its pixels agree with it over COPY of where it
    lands (or it shows nothing but it). A grid that holds another through one shared cell,
    its frame landing whole inside at a smaller scale, agrees with it in that cell only."""
    if held not in whole.get(holder, ()):
        return False
    return all(spot.agreeing >= COPY for spot in spots.get(holder, ()) if spot.other == held)


def _share(polygon: np.ndarray, full: tuple[int, int]) -> float:
    covered = _footprint(polygon, full)
    return float(np.count_nonzero(covered)) / covered.size


def _of_largest(
    spots: list[Spot], chosen: list[tuple[int, np.ndarray]], full: tuple[int, int]
) -> set[int]:
    """The members shown whose pixels (``Spot.shown``) have their centre in the pixels of
    the largest chosen part: a photo of a screen showing one cell's whole picture maps past
    the cell into its neighbour, but its pixels agree with the collage's only in the cell."""
    if not chosen:
        return set()
    lead, placed = chosen[0]  # the very array of its spot's ``placed`` (``_placed``)
    spot = next(s for s in spots if s.other == lead and s.placed is placed)
    largest = _footprint(spot.shown, full)
    kept = set()
    for spot in spots:
        rows, columns = np.nonzero(_footprint(spot.shown, full))
        if len(rows) and largest[int(rows.mean()), int(columns.mean())]:
            kept.add(spot.other)
    return kept


FOOTPRINT = 96  # px on the long side of the grid on which parts' overlaps are counted


def _footprint(polygon: np.ndarray, full: tuple[int, int]) -> np.ndarray:
    """Where ``polygon`` (full-size pixels) covers the picture, on a FOOTPRINT grid."""
    scale = FOOTPRINT / max(full)
    width, height = max(1, round(full[0] * scale)), max(1, round(full[1] * scale))
    mask = np.zeros((height, width), np.uint8)
    reach = 4 * FOOTPRINT  # a corner far past the frame (a perspective fit) is drawn there
    corners = np.clip(np.rint(polygon * scale), -reach, reach).astype(np.int32)
    cv2.fillPoly(mask, [corners], 1)
    return mask.astype(bool)


def _breaks_off(
    picture: np.ndarray, where: np.ndarray, full: tuple[int, int], judged: dict[bytes, bool]
) -> bool:
    """``padding.breaks_off``, once per part of the thumbnail (``judged``)."""
    key = on_thumbnail(picture, where, full).tobytes()
    if key not in judged:
        judged[key] = breaks_off(picture, where, full)
    return judged[key]


def _passed_on(
    dropped: dict[int, set[tuple[int, int]]],
    whole: Mapping[int, set[int]],
    pairs: set[tuple[int, int]],
) -> dict[int, set[tuple[int, int]]]:
    """``dropped`` with the pairs of every member that holds a whole composite (a collage with
    a border, a collage beside another picture) to what that composite does not join: such a
    member would otherwise join the groups again through the composite's parts. (A member
    of which a composite shows a part, as a collage's cell, keeps its own pairs.)"""
    changed = True
    while changed:
        changed = False
        for member, held in whole.items():
            for part in held:
                away = {o for pair in dropped.get(part, ()) for o in pair if o != part}
                more = {_pair(member, o) for o in away if o != member} & pairs
                if not more <= dropped.get(member, set()):
                    dropped.setdefault(member, set()).update(more)
                    changed = True
    return dropped


Held = tuple[int, np.ndarray, np.ndarray]  # a member shown, where (a polygon), the transform
# from its full-size pixels to the holder's


def _parts_shown(
    links: Iterable[Link], records: Mapping[int, ImageRecord]
) -> tuple[dict[int, list[Held]], dict[int, set[int]]]:
    """Per member, the members it holds in a part of itself, with where (a polygon in it)
    and how they map into it; and per member, the members it holds whole (those too that
    show nothing but a part of it)."""
    shown: dict[int, list[Held]] = {}
    whole: dict[int, set[int]] = {}
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
        for holder, part, inside, of_part, carried in (
            (query, hit, in_query, in_hit, np.linalg.inv(link.transform)),
            (hit, query, in_hit, in_query, link.transform),
        ):
            if _held(inside, holder):  # ``holder`` shows nothing but ``part``: a crop, a copy
                whole.setdefault(part.id, set()).add(holder.id)
                continue
            shown.setdefault(holder.id, []).append((part.id, inside, carried))
            if _held(of_part, part):
                whole.setdefault(holder.id, set()).add(part.id)
    return shown, whole


AGREE = 24.0  # grey levels within which the warped part and the collage agree
OPENING = 3  # px: agreement in thinner runs than this (an edge crossing) is no region


def _cell(
    picture: np.ndarray,
    part: np.ndarray | None,
    carried: np.ndarray,
    full: tuple[int, int],
    part_full: tuple[int, int],
) -> tuple[np.ndarray | None, float]:
    """The box (full-size pixels of the collage) of the largest region where the part's
    thumbnail, carried into the collage's, agrees with it (None when there is no part
    thumbnail, no such region, or no narrower one than where the part's frame lands), and
    the share of where it lands that region covers."""
    if part is None:
        return None, 0.0
    height, width = picture.shape[:2]
    to_picture = np.diag([width / full[0], height / full[1], 1.0])
    from_part = np.diag([part_full[0] / part.shape[1], part_full[1] / part.shape[0], 1.0])
    warp = to_picture @ carried @ from_part
    mine = cv2.cvtColor(np.ascontiguousarray(picture), cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.cvtColor(np.ascontiguousarray(part), cv2.COLOR_RGB2GRAY).astype(np.float32)
    theirs = cv2.warpPerspective(grey, warp, (width, height), flags=cv2.INTER_LINEAR)
    reach = cv2.warpPerspective(np.ones_like(grey), warp, (width, height)) > 0.5
    agree = (np.abs(mine - theirs) <= AGREE) & reach
    kernel = np.ones((OPENING, OPENING), np.uint8)
    agree = cv2.morphologyEx(agree.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(agree, connectivity=4)
    if count < 2:
        return None, 0.0
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    agreeing = float(stats[largest, cv2.CC_STAT_AREA]) / max(float(reach.sum()), 1.0)
    x, y, w, h = _dense(labels == largest, *(int(v) for v in stats[largest, :4]))
    if w * h >= 0.9 * reach.sum():
        return None, agreeing  # the part's frame is where it shows: nothing narrower
    scale = np.array([full[0] / width, full[1] / height])
    box = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64) * scale
    return box, agreeing


DENSE = 0.5  # of its densest line: a line of the region's box agreeing less is a leak


def _dense(region: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
    """The box (x, y, width, height) of ``region`` less the lines at its sides in which it
    agrees in under DENSE as much as in its densest: without a gutter, the neighbouring
    picture agrees with the part in patches, which join its region and widen its box."""
    inside = region[y : y + h, x : x + w]
    columns, rows = inside.mean(axis=0), inside.mean(axis=1)
    kept_columns = np.flatnonzero(columns >= DENSE * columns.max())
    kept_rows = np.flatnonzero(rows >= DENSE * rows.max())
    left, top = x + int(kept_columns[0]), y + int(kept_rows[0])
    return left, top, x + int(kept_columns[-1]) + 1 - left, y + int(kept_rows[-1]) + 1 - top


def _apart(
    shown: list[tuple[int, np.ndarray]], pairs: set[tuple[int, int]], full: tuple[int, int]
) -> list[tuple[int, np.ndarray]]:
    """Of the parts a member holds, largest first (in the picture; ``_largest_first``),
    those that overlap none taken before and are not copies of one taken before."""
    chosen: list[tuple[int, np.ndarray]] = []
    for other, polygon in _largest_first(shown, pairs, full):
        if all(
            _pair(other, taken) not in pairs and not _overlapping(polygon, where)
            for taken, where in chosen
        ):
            chosen.append((other, polygon))
    return chosen


AS_LARGE = 0.9  # of the largest part's area: a part at least this large is as large


def _largest_first(
    shown: list[tuple[int, np.ndarray]], pairs: set[tuple[int, int]], full: tuple[int, int]
) -> list[tuple[int, np.ndarray]]:
    """The parts, largest first; of those as large as the largest (the equal cells of a
    grid) the top left one leads (``_top_left``), so every copy of a grid stays with one cell.
    A part is as large as the smallest of the copies of its picture in its place: a copy
    with a border of its own lands past the cell, which another copy of the grid may show
    narrowed to the cell."""
    area = {id(where): int(np.count_nonzero(_footprint(where, full))) for _, where in shown}
    least = {
        id(where): min(
            area[id(there)]
            for another, there in shown
            if (another == other or _pair(other, another) in pairs) and _overlapping(where, there)
        )
        for other, where in shown
    }
    ranked = sorted(shown, key=lambda part: -least[id(part[1])])
    if not ranked:
        return ranked
    top = least[id(ranked[0][1])]
    lead = _top_left([part for part in ranked if least[id(part[1])] >= AS_LARGE * top], full)
    return [lead, *(part for part in ranked if part is not lead)]


ROW = 0.1  # of the picture's height: parts whose centres lie this close are in one row


def _top_left(parts: list[tuple[int, np.ndarray]], full: tuple[int, int]) -> tuple[int, np.ndarray]:
    """Of ``parts``, the one in the top row (its centre within ROW of the highest), leftmost
    in it: the same cell of every copy of a grid, whatever the order of its links."""
    centres = [where.mean(axis=0) for _, where in parts]
    highest = min(float(y) for _, y in centres)
    row = [i for i, (_, y) in enumerate(centres) if float(y) - highest <= ROW * full[1]]
    return parts[min(row, key=lambda i: float(centres[i][0]))]


def _held(polygon: np.ndarray, record: ImageRecord) -> bool:
    """Whether ``polygon`` covers nearly all of the picture (FULL): not a part of it."""
    return polygon_area(polygon) >= FULL * record.width * record.height


def _overlapping(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two parts are one region: either's centre lies in the other (a collage cell
    cropped from a larger photo maps that photo past the cell's edges, but its centre stays
    in the cell)."""
    return _centre_in(a, b) or _centre_in(b, a)


def _centre_in(a: np.ndarray, b: np.ndarray) -> bool:
    x, y = a.mean(axis=0)
    return (
        cv2.pointPolygonTest(b.astype(np.float32).reshape(-1, 1, 2), (float(x), float(y)), False)
        >= 0
    )


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)
