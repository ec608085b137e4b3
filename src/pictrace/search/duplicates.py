"""Duplicate groups over the whole collection: connected components of copy-tier pairs.

Each image is searched for with its stored features (candidates, verification against stored
keypoints and thumbnails, calibrated confidence: the same path as a query), and pairs at or
above the copy threshold, or with equal bytes/pixels, are joined with union-find. Each group
suggests a keeper by the keeper policy (``keeper``: first, the member the verified pairs'
transforms do not show made from another; then the largest, best-encoded file). A picture and
its negative (colours inverted) are not joined: search calls the negative a copy, but it is a
different picture to keep, and nothing tells which of the two is the original.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial

import numpy as np

from pictrace.features.base import FeatureSpec, FeatureValue, local_descriptors
from pictrace.features.thumbnail import open_thumbnail
from pictrace.search.candidates import Candidate, Query
from pictrace.search.composite import bridges
from pictrace.search.edited import Link, edited_counts
from pictrace.search.engine import Searcher
from pictrace.search.keeper import apply_policy
from pictrace.search.keeper_check import checked_keeper
from pictrace.store.base import Store
from pictrace.store.copylinks import CopyLinks
from pictrace.threads import quiet_this_thread
from pictrace.types import KEEPER_POLICY, DecodedImage, DuplicateGroup, ImageRecord, KeeperRule

log = logging.getLogger("pictrace")
CHUNK = 200  # images whose stored features are read, and whose copies are kept, at a time
# What a search for duplicates calls a copy, as kept between runs (store/copylinks.py): change
# it when the search changes what it finds, so indexes search every image again once.
LINKS_VERSION = 5
# Images searched at once. One search keeps ~1.2 cores busy (its votes and verification run on
# the index's pool beside it, its calling thread waits for them half of its time): two took the
# 1,329 images of bench/bench_duplicates.py in 10.1-10.9 s instead of 12.3 s; four, 10.7-10.8 s.
SEARCHES = 2
# Candidates verified per image while each round of ``verify_top`` finds only sure copies (as
# a search for 10 results does): with the 4 of one round, an image with many copies verified
# only its closest siblings, so the 24 affine, rotated and perspective warps of one ViSP
# picture formed four groups apart from it. 10: pair F1 0.720 -> 0.742 on bench_duplicates
# (32: 0.749) for 1.24x the time (interleaved runs: 11.3-12.0 s -> 13.9-15.0 s).
DEPTH = 10


def find_duplicates(
    store: Store,
    specs: Mapping[str, FeatureSpec],
    searcher: Searcher,
    policy: Sequence[KeeperRule] = KEEPER_POLICY,
    progress: Callable[[int, int], None] | None = None,
    kept: CopyLinks | None = None,
) -> list[DuplicateGroup]:
    """Every image is searched for with its stored features, exactly as a query would be;
    each group's members are ordered by the keeper ``policy``. With ``kept`` (what earlier
    runs found), only images it has not seen are searched, and what they find is added to
    it. ``progress(done, total)`` follows the searched images."""
    kept = kept or CopyLinks(None, "")
    store.catch_up()
    ids = store.all_ids()
    live = set(ids)
    for _ in range(2):  # the file failing at any step loses what it held: again, in memory
        failures = kept.failures
        links, pairs = _kept_links(store, specs, searcher, kept, live, progress)
        if kept.failures == failures:
            break
    linked = {i for link in links for i in (link.query, link.hit)}
    composites = bridges(links, store.records(linked), pairs, _thumbnails(store))
    for dropped in composites.values():  # a collage joins none of its parts' groups
        pairs -= dropped
    links = [
        link for link in links if (min(link.query, link.hit), max(link.query, link.hit)) in pairs
    ]
    parent = {i: i for i in ids}
    for a, b in pairs:
        _union(parent, a, b)
    groups = apply_policy(_groups(store, parent, links, pairs, set(composites)), policy)
    verify, thumbnails = partial(_pair_link, store, searcher), _thumbnails(store)
    return [checked_keeper(g, policy, verify, thumbnails) for g in groups]


def _kept_links(
    store: Store,
    specs: Mapping[str, FeatureSpec],
    searcher: Searcher,
    kept: CopyLinks,
    live: set[int],
    progress: Callable[[int, int], None] | None,
) -> tuple[list[Link], set[tuple[int, int]]]:
    """Search the images ``kept`` has not seen, and the links between ``live`` images it
    holds then (with their transforms, and as pairs). A reader searches the images its spaces
    hold: one a writer added since is searched by the next run (it would find no copy of what
    the spaces lack, and be called searched)."""
    seen = kept.searched()
    if _restored(store, kept, seen & live):
        kept.clear()
        seen = set()
    kept.forget(seen - live)
    held = store.searchable_ids()
    _search([i for i in held if i not in seen], store, specs, searcher, kept, progress)
    links: list[Link] = []
    pairs: set[tuple[int, int]] = set()
    for image_id, other, transform in kept.links(live):
        pairs.add((min(image_id, other), max(image_id, other)))
        if transform is not None:
            links.append(Link(image_id, other, transform))
    return links, pairs


def _restored(store: Store, kept: CopyLinks, seen: set[int]) -> bool:
    """Whether the catalogue went back to a backup since ``kept`` was searched: its newest
    searched image is now another one (ids only grow, but a restored catalogue gives out
    again those it had not yet given then). A catalogue restored to a time before one of
    the searched images is told by that image: it is missing (forgotten), or another image
    took its id."""
    if not seen:
        return False
    newest = max(seen)
    record = store.records([newest]).get(newest)
    recorded = kept.added(newest)
    return record is None or (recorded is not None and recorded != record.added_at)


def _search(
    ids: Sequence[int],
    store: Store,
    specs: Mapping[str, FeatureSpec],
    searcher: Searcher,
    kept: CopyLinks,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Search ``ids`` SEARCHES at a time, keeping each CHUNK's copies as it completes."""
    names = _stored_names(specs)
    searches = ThreadPoolExecutor(SEARCHES, "pictrace-duplicates", quiet_this_thread)
    searched = 0
    try:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            stored = {n: store.features(n, chunk) for n in names}
            records = store.records(chunk)
            search = partial(_copies_of_stored, searcher, records, stored)
            found = []
            for done, (image_id, copies) in enumerate(
                zip(records, searches.map(search, records), strict=True), start
            ):
                found.append((image_id, copies))
                if progress is not None:
                    progress(done + 1, len(ids))
            kept.record(found, {i: r.added_at for i, r in records.items()})
            searched += len(chunk)
    except KeyboardInterrupt:
        log.warning(
            "interrupted: the copies found for %d of the %d images searched for are kept "
            "(finding duplicates again searches the others)",
            searched,
            len(ids),
        )
        raise
    finally:  # an interrupted run does not wait for the chunk's queued searches
        searches.shutdown(wait=True, cancel_futures=True)


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


def _copies_of_stored(
    searcher: Searcher,
    records: Mapping[int, ImageRecord],
    stored: Mapping[str, Mapping[int, FeatureValue]],
    image_id: int,
) -> list[tuple[int, np.ndarray | None]]:
    """``copies_of`` a stored image, its query (a decoded thumbnail) built here and freed."""
    return copies_of(searcher, _query_of(searcher, records, stored, image_id), image_id)


def _stored_names(specs: Mapping[str, FeatureSpec]) -> list[str]:
    """The features a stored image is searched for, or verified, with."""
    return [n for n in specs if n != "labels"]


def _query_of(
    searcher: Searcher,
    records: Mapping[int, ImageRecord],
    stored: Mapping[str, Mapping[int, FeatureValue]],
    image_id: int,
) -> Query:
    """A stored image's query, from its ``stored`` features but local ones damaged in the
    catalogue (it is searched for, or verified, without its keypoints then)."""
    features = {n: v[image_id] for n, v in stored.items() if image_id in v}
    for name in [n for n in features if searcher.specs[n].kind == "local"]:
        try:
            local_descriptors(features[name])
        except ValueError:
            log.warning("image %d: its stored %s cannot be read", image_id, name)
            del features[name]
    return stored_query(records[image_id], features)


def _pair_link(store: Store, searcher: Searcher, a: int, b: int) -> Link | None:
    """The link of two stored images verified as a pair (``a`` the query) when that makes
    them copies with a transform (as a search's link would), else None."""
    records = store.records([a, b])
    if a not in records or b not in records:
        return None
    stored = {n: store.features(n, [a, b]) for n in _stored_names(searcher.specs)}
    query, hit = (_query_of(searcher, records, stored, i) for i in (a, b))
    found = searcher.pair(query, hit)
    transform = _transform(found.evidence.transform if found.evidence else None)
    if transform is None or not _linked(found, searcher.settings.copy_threshold):
        return None
    return Link(a, b, transform)


def _linked(candidate: Candidate, threshold: float) -> bool:
    """Whether a verified candidate links two images of one group: a copy, not a negative
    (a different picture to keep)."""
    return candidate.copy_at(threshold) and not candidate.signals.get("negative")


def copies_of(
    searcher: Searcher, query: Query, image_id: int
) -> list[tuple[int, np.ndarray | None]]:
    """The copies of a stored image, each with its verified transform (image -> copy) if any."""
    candidates = searcher.scored(query, exclude=image_id, depth=DEPTH)
    threshold = searcher.settings.copy_threshold
    return [
        (c.id, _transform(c.evidence.transform if c.evidence else None))
        for c in candidates.values()
        if c.exact or _linked(c, threshold)
    ]


def _transform(rows: tuple[tuple[float, ...], ...] | None) -> np.ndarray | None:
    return None if rows is None else np.asarray(rows, dtype=np.float64).reshape(3, 3)


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


def _groups(
    store: Store,
    parent: dict[int, int],
    links: list[Link],
    pairs: set[tuple[int, int]],
    composites: set[int],
) -> list[DuplicateGroup]:
    """The groups of two or more images, largest first, each with its members' edit counts
    (a composite counts as made from another member) and the pairs that joined it (keeper and
    order follow from the policy)."""
    members: dict[int, list[int]] = {}
    for i in parent:
        members.setdefault(_find(parent, i), []).append(i)
    by_root: dict[int, list[Link]] = {}
    for link in links:
        by_root.setdefault(_find(parent, link.query), []).append(link)
    joined: dict[int, list[tuple[int, int]]] = {}
    for pair in sorted(pairs):
        joined.setdefault(_find(parent, pair[0]), []).append(pair)
    groups = []
    for root, ids in members.items():
        found = store.records(ids) if len(ids) > 1 else {}
        inside = [p for p in joined.get(root, []) if p[0] in found and p[1] in found]
        for part in _connected(found, inside):  # one part unless members were removed meanwhile
            records = {i: found[i] for i in part}
            edited = edited_counts(records, by_root.get(root, []), _thumbnails(store))
            edited.update({i: edited.get(i, 0) + 1 for i in composites & set(records)})
            own = tuple(p for p in inside if p[0] in records)
            missing = missing_files(store, records)
            groups.append(
                DuplicateGroup(tuple(records.values()), min(records), edited, own, None, missing)
            )
    return sorted(groups, key=lambda g: (-len(g.members), g.keeper))


def _connected(ids: Iterable[int], pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """The parts of two or more ``ids`` that ``pairs`` connect."""
    parent = {i: i for i in ids}
    for a, b in pairs:
        _union(parent, a, b)
    parts: dict[int, list[int]] = {}
    for i in parent:
        parts.setdefault(_find(parent, i), []).append(i)
    return [part for part in parts.values() if len(part) > 1]


def _thumbnails(store: Store) -> Callable[[int], np.ndarray | None]:
    def thumbnail(image_id: int) -> np.ndarray | None:
        blob = store.features("thumbnail", [image_id]).get(image_id)
        return open_thumbnail(blob) if isinstance(blob, bytes) else None

    return thumbnail


def with_missing(store: Store, groups: Iterable[DuplicateGroup]) -> list[DuplicateGroup]:
    """The groups with their members' files looked at again (files are deleted and moved
    without the catalogue changing: groups kept from earlier must not keep a stale view)."""
    return [replace(g, missing=missing_files(store, (m.id for m in g.members))) for g in groups]


def missing_files(store: Store, ids: Iterable[int]) -> frozenset[int]:
    """The images added from a local file that is no longer there (moved or deleted; a
    symlink left pointing nowhere counts as gone). Not one whose source, as given, still
    names a file from here: a folder moved with its index, not added again yet, is still
    there under its relative names (what ``remove --missing`` removes must be gone)."""
    located = store.locations(ids)  # one read for a group
    gone = [i for i, path in located.items() if not os.path.exists(path)]
    records = store.records(gone) if gone else {}
    return frozenset(i for i in gone if i in records and not os.path.isfile(records[i].source))
