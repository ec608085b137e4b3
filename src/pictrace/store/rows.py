"""Where an image's values lie in a search space: one row per image for hashes and
embeddings, several for regional vectors and local descriptors (``id * slots + row``, so a
row's image is ``row_id // slots``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from pictrace.errors import ConfigError
from pictrace.features.base import (
    FIXED_WIDTH,
    FeatureRows,
    FeatureSpec,
    FeatureValue,
    decode_rows,
    decode_value,
    local_descriptors,
)
from pictrace.store.base import Hits
from pictrace.store.catalogue import Catalogue, NewImage
from pictrace.store.saved import Space
from pictrace.store.vectors import VectorSpace

REGION_SLOTS = 64  # regional vectors per image are stored under id * REGION_SLOTS + region
LOCAL_SLOTS = 1024  # local descriptors per image are stored under id * LOCAL_SLOTS + row
log = logging.getLogger("pictrace.store")


def most_rows(spec: FeatureSpec, images: int) -> int:
    """The most rows ``images`` images may add to the space of ``spec``."""
    return images * (REGION_SLOTS if spec.kind == "vectors" else 1)


def add_values(space: Space, spec: FeatureSpec, items: list[tuple[int, FeatureValue]]) -> None:
    """Add images' values (image id, value) to the space of their feature."""
    if not items:
        return
    if spec.kind == "local":
        rows = [local_descriptors(v)[:LOCAL_SLOTS] for _, v in items]
        ids = np.concatenate(
            [i * LOCAL_SLOTS + np.arange(len(r)) for (i, _), r in zip(items, rows, strict=True)]
        )
        space.add(ids, np.concatenate(rows))
        return
    if spec.kind == "vectors":
        ids = np.concatenate(
            [
                image_id * REGION_SLOTS + np.arange(min(len(v), REGION_SLOTS))
                for image_id, v in items
            ]
        )
        space.add(ids, np.concatenate([np.asarray(v)[:REGION_SLOTS] for _, v in items]))
        return
    ids = np.array([i for i, _ in items], dtype=np.int64)
    space.add(ids, np.stack([np.asarray(v) for _, v in items]))


def space_ids(spec: FeatureSpec, image_ids: Sequence[int]) -> np.ndarray:
    """Every row id the images' values may have in the space of ``spec``."""
    if spec.kind not in ("vectors", "local"):
        return np.array(image_ids, dtype=np.int64)
    width = LOCAL_SLOTS if spec.kind == "local" else REGION_SLOTS
    slots = np.arange(width)
    return np.concatenate([i * width + slots for i in image_ids]).astype(np.int64)


def best_per_image(hits: Hits, k: int) -> Hits:
    """Regional hits as the ``k`` best images, each by its best region."""
    best: dict[int, float] = {}
    for raw_id, score in hits:
        image_id = raw_id // REGION_SLOTS
        best[image_id] = max(score, best.get(image_id, -np.inf))
    return sorted(best.items(), key=lambda kv: -kv[1])[:k]


def new_values(
    spec: FeatureSpec, ids: Sequence[int], images: Sequence[NewImage]
) -> list[tuple[int, FeatureValue]]:
    """The values of ``spec`` that images being added bring, checked against its space: one
    it cannot hold comes from an extractor that declared another width (``ConfigError``)."""
    try:
        return [
            (i, checked(spec, image.features[spec.name][1]))
            for i, image in zip(ids, images, strict=True)
            if spec.name in image.features
        ]
    except ValueError as exc:
        raise ConfigError(
            f"the extractor of feature {spec.name!r} gave a value its space cannot hold: {exc}"
        ) from exc


def readable(
    spec: FeatureSpec,
    rows: Iterable[tuple[int, int, bytes]],
    damaged: list[int],
    whole: bool = True,
) -> Iterator[tuple[int, FeatureValue]]:
    """The current values of stored (id, version, blob) rows, decoded; the ids of those that
    cannot be (a damaged catalogue) go to ``damaged``. ``whole``: each checked to fit the
    space of ``spec`` (a rebuild); else only one-row values' widths (a read: a local blob is
    checked by what decodes it, not on every read of a search)."""
    for image_id, version, blob in rows:
        if version != spec.version:
            continue
        try:
            fits = whole or spec.kind in FIXED_WIDTH
            yield image_id, checked(spec, blob) if fits else decode_value(spec, blob)
        except ValueError:
            damaged.append(image_id)


REBUILT = "they are dropped: add their files again to compute them anew"
LEFT_OUT = (
    "they are left out of searches; open the index for writing once (`pictrace add` of their "
    "files) to drop them and compute them anew"
)
READ_AROUND = "they are left out here; remove those images and add their files again"


def tell_damaged(folder: Path, name: str, damaged: Sequence[int], remedy: str) -> None:
    """Warn of the images whose stored ``name`` values could not be read, and what to do."""
    if not damaged:
        return
    log.warning(
        "index %s: the stored %s of %s cannot be read (ids %s); %s",
        folder,
        name,
        f"{len(damaged)} image" + ("s" if len(damaged) > 1 else ""),
        ", ".join(map(str, damaged[:5])) + (", ..." if len(damaged) > 5 else ""),
        remedy,
    )


def checked(spec: FeatureSpec, blob: bytes) -> FeatureValue:
    """Decode a searchable value and check it fits its space (else ValueError)."""
    value = decode_value(spec, blob)
    if spec.kind == "local":
        rows = local_descriptors(value)
        width = rows.shape[1] if len(rows) else spec.dim
    elif spec.kind == "bits":
        width = np.asarray(value).size * 8
    else:
        width = np.asarray(value).shape[-1]
    if width != spec.dim:
        raise ValueError(f"feature {spec.name}: value has width {width}, expected {spec.dim}")
    return value


def held_rows(spaces: Mapping[str, Space | None], ids: list[int]) -> dict[str, FeatureRows]:
    """The rows of ``ids`` (image ids) of each embedding space of one row per image that
    holds every one of them (the caller holds the spaces' read lock)."""
    held: dict[str, FeatureRows] = {}
    for name, space in spaces.items():
        if isinstance(space, VectorSpace):
            rows = space.rows(np.asarray(ids, np.int64))
            if rows is not None:
                held[name] = FeatureRows(tuple(ids), rows)
    return held


def stored_rows(
    catalogue: Catalogue, specs: Mapping[str, FeatureSpec], names: Sequence[str], ids: list[int]
) -> dict[str, FeatureRows]:
    """The catalogue's values of the current versions of ``names`` for ``ids``, as rows."""
    found: dict[str, tuple[list[int], list[bytes]]] = {name: ([], []) for name in names}
    for image_id, name, version, blob in catalogue.feature_rows(names, ids):
        if version == specs[name].version:
            found[name][0].append(image_id)
            found[name][1].append(blob)
    return {name: decode_rows(specs[name], *found[name]) for name in names}


def not_among(spaces: Iterable[Space], ids: list[int]) -> list[int]:
    """The images the spaces hold that are not among ``ids`` (the catalogue's: those a
    writer removed since a reader loaded them), as the first space with an id map says."""
    for space in spaces:
        held = space.held() if space.size else None
        if held is not None:
            return np.setdiff1d(held, np.asarray(ids, np.int64)).tolist()
    return []
