"""Duplicate groups over the whole collection: connected components of copy-tier pairs.

Each image is searched for with its stored features (candidates, verification against stored
keypoints and thumbnails, calibrated confidence: the same path as a query), and pairs at or
above the copy threshold, or with equal bytes/pixels, are joined with union-find. Each group
suggests a keeper. A picture and its negative (colours inverted) are not joined: search calls
the negative a copy, but it is a different picture to keep, and nothing tells which of the
two is the original.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pictrace.features.base import FeatureSpec, FeatureValue
from pictrace.features.thumbnail import open_thumbnail
from pictrace.search.candidates import Query
from pictrace.search.engine import Searcher
from pictrace.store.base import Store
from pictrace.types import DecodedImage, DuplicateGroup, ImageRecord

LOSSLESS = frozenset({"png", "tiff", "bmp", "webp-lossless", "ppm"})
CHUNK = 500


def find_duplicates(
    store: Store, specs: Mapping[str, FeatureSpec], searcher: Searcher
) -> list[DuplicateGroup]:
    """Every image is searched for with its stored features, exactly as a query would be."""
    ids = store.all_ids()
    parent = {i: i for i in ids}
    names = [n for n in specs if n != "labels"]
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        records = store.records(chunk)
        stored = {n: store.features(n, chunk) for n in names}
        for image_id, record in records.items():
            query = stored_query(
                record, {n: v[image_id] for n, v in stored.items() if image_id in v}
            )
            for other in copies_of(searcher, query, image_id):
                _union(parent, image_id, other)
    return _groups(store, parent)


def stored_query(record: ImageRecord, features: dict[str, FeatureValue]) -> Query:
    """A Query rebuilt from what the index stored (the thumbnail stands in for pixels)."""
    thumb = features.get("thumbnail")
    pixels = open_thumbnail(thumb) if thumb is not None else np.zeros((8, 8, 3), np.uint8)
    image = DecodedImage(
        pixels,
        record.width,
        record.height,
        record.format,
        record.byte_sha256,
        record.pixel_sha256,
        record.byte_size,
        record.exif_tags,
    )
    return Query(record.source, image, features)


def copies_of(searcher: Searcher, query: Query, image_id: int) -> list[int]:
    candidates = searcher.scored(query, exclude=image_id)
    threshold = searcher.settings.copy_threshold
    return [
        c.id
        for c in candidates.values()
        if c.exact or (c.confidence >= threshold and not c.signals.get("negative"))
    ]


def _find(parent: dict[int, int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _union(parent: dict[int, int], a: int, b: int) -> None:
    if a in parent and b in parent:
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)


def _groups(store: Store, parent: dict[int, int]) -> list[DuplicateGroup]:
    members: dict[int, list[int]] = {}
    for i in parent:
        members.setdefault(_find(parent, i), []).append(i)
    groups = []
    for ids in members.values():
        if len(ids) < 2:
            continue
        records = store.records(ids)
        ordered = sorted(records.values(), key=keeper_rank)
        groups.append(DuplicateGroup(tuple(ordered), ordered[0].id))
    return sorted(groups, key=lambda g: (-len(g.members), g.keeper))


def keeper_rank(record: ImageRecord) -> tuple[int, int, int, int, int]:
    """Sort key, best first: largest resolution, lossless format, richest EXIF, bytes, age."""
    lossless = 1 if record.format in LOSSLESS else 0
    return (
        -record.width * record.height,
        -lossless,
        -record.exif_tags,
        -record.byte_size,
        record.id,
    )
