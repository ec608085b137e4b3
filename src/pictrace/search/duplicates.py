"""Duplicate groups over the whole collection: connected components of copy-tier pairs.

Each image's stored features are searched against the index (batched), pairs are scored by
the same calibrator as queries, and pairs at or above the copy threshold (or with equal
bytes/pixels) are joined with union-find. Each group suggests a keeper.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pictrace.features.base import FeatureSpec
from pictrace.search.engine import RERANK_FEATURES, Searcher
from pictrace.search.signals import pair_signals
from pictrace.store.base import Store
from pictrace.types import DuplicateGroup, ImageRecord

LOSSLESS = frozenset({"png", "tiff", "bmp", "webp-lossless", "ppm"})
NEIGHBOURS = 10
CHUNK = 2000


def find_duplicates(store: Store, specs: Mapping[str, FeatureSpec],
                    searcher: Searcher) -> list[DuplicateGroup]:
    ids = store.all_ids()
    parent = {i: i for i in ids}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for a, b in _copy_pairs(store, specs, searcher, chunk):
            _union(parent, a, b)
    for group in _exact_groups(store, ids):
        for other in group[1:]:
            _union(parent, group[0], other)
    return _groups(store, parent)


def _copy_pairs(store: Store, specs: Mapping[str, FeatureSpec], searcher: Searcher,
                chunk: list[int]) -> list[tuple[int, int]]:
    names = [n for n in RERANK_FEATURES if n in specs]
    mine = {n: store.features(n, chunk) for n in names}
    candidates: dict[int, set[int]] = {i: set() for i in chunk}
    for name in ("cnn", "phash", "dhash"):
        if name not in mine or not mine[name]:
            continue
        owners = [i for i in chunk if i in mine[name]]
        rows = np.stack([np.asarray(mine[name][i]) for i in owners])
        hits = store.nearest(name, rows, NEIGHBOURS, radius=searcher.settings.hash_radius)
        for owner, row in zip(owners, hits, strict=True):
            candidates[owner].update(h for h, _ in row if h != owner)
    others = sorted({j for js in candidates.values() for j in js})
    theirs = {n: store.features(n, others) for n in names}
    pairs = []
    for i, js in candidates.items():
        query = {n: mine[n][i] for n in names if i in mine[n]}
        for j in js:
            hit = {n: theirs[n][j] for n in names if j in theirs[n]}
            signals = pair_signals(query, hit, specs)
            if searcher.calibrator.confidence(signals) >= searcher.settings.copy_threshold:
                pairs.append((i, j))
    return pairs


def _exact_groups(store: Store, ids: list[int]) -> list[list[int]]:
    by_hash: dict[str, list[int]] = {}
    for start in range(0, len(ids), CHUNK):
        for record in store.records(ids[start:start + CHUNK]).values():
            by_hash.setdefault(record.pixel_sha256, []).append(record.id)
    return [group for group in by_hash.values() if len(group) > 1]


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
    return (-record.width * record.height, -lossless, -record.exif_tags, -record.byte_size,
            record.id)
