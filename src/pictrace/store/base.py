"""The Store interface: a persisted catalogue plus searchable feature spaces.

``open_store(uri, ...)`` picks the implementation from the URI: a plain path or ``file://``
gives the embedded store (SQLite + faiss files in one folder). The distributed store (Milvus)
plugs in here behind the same interface.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import numpy as np

from pictrace.errors import ConfigError, NotFound
from pictrace.features.base import FeatureRows, FeatureSpec, FeatureValue
from pictrace.store.catalogue import NewImage
from pictrace.types import ImageRecord, Stats

log = logging.getLogger("pictrace")

Hits = list[tuple[int, float]]


class Store(ABC):
    """What the search layer needs from persistence. Ids are positive integers."""

    uri: str

    @abstractmethod
    def add(self, images: Sequence[NewImage]) -> list[int]:
        """Catalogue images atomically (all or none) and make them searchable. An image of a
        source already catalogued replaces it: under a new id when its bytes changed, under
        the same id (and time added) when they did not (its features computed again)."""

    @abstractmethod
    def remove(self, ids: Sequence[int]) -> None: ...

    @abstractmethod
    def relocate(self, moves: Sequence[tuple[int, str, str]]) -> None:
        """Catalogue images under the local files they moved to, atomically: (id, new
        source, new resolved path) each. Their features and ids stay."""

    @abstractmethod
    def records(self, ids: Iterable[int]) -> dict[int, ImageRecord]: ...

    @abstractmethod
    def by_source(self, source: str) -> ImageRecord | None: ...

    def by_location(self, path: str) -> ImageRecord | None:
        """The image added from the local file at this resolved path (None if unknown)."""
        return None

    def locations(self, ids: Iterable[int]) -> dict[int, str]:
        """Image id -> the resolved path of the local file it was added from, where known."""
        return {}

    def location_of(self, image_id: int) -> str | None:
        """The resolved path of the local file an image was added from (None if unknown)."""
        return self.locations([image_id]).get(image_id)

    @abstractmethod
    def by_bytes(self, byte_sha256: str) -> list[int]:
        """Ids of the images whose file bytes have this sha256."""

    @abstractmethod
    def by_hash(self, byte_sha256: str, pixel_sha256: str) -> list[int]: ...

    @abstractmethod
    def feature_versions(self, image_id: int) -> dict[str, int]:
        """Name -> version of every feature stored for one image."""

    @abstractmethod
    def page(self, offset: int, limit: int) -> list[ImageRecord]: ...

    @abstractmethod
    def count(self) -> int: ...

    def generation(self) -> int | None:
        """A number that changes with every change to the catalogue, from any process (None
        when the store keeps none: nothing derived from it can then be reused)."""
        return None

    def identity(self) -> str | None:
        """What tells this catalogue from another made later at the same location (image ids
        are unique only within one), or None when the store cannot tell."""
        return None

    @abstractmethod
    def total_bytes(self) -> int: ...

    @abstractmethod
    def all_ids(self) -> list[int]: ...

    def searchable_ids(self) -> list[int]:
        """The images every search space holds (``all_ids`` but those a reader has not
        caught up with yet: ``catch_up``): what a search for duplicates may search, and
        call searched."""
        return self.all_ids()

    def catch_up(self) -> None:
        """Make the search spaces hold what another process wrote since they were read (a
        store opened read-only beside a writer); a writing store holds it already."""
        return None

    def consistent(self) -> AbstractContextManager[None]:
        """Reads inside see the store as of one moment (where the store can promise it)."""
        return nullcontext()

    def live(self, ids: Iterable[int]) -> set[int]:
        """Which of ``ids`` the catalogue holds (a vector space may lag behind a removal)."""
        return set(self.records(ids))

    @abstractmethod
    def features(self, name: str, ids: Iterable[int]) -> dict[int, FeatureValue]: ...

    def stacked(self, names: Sequence[str], ids: Iterable[int]) -> dict[str, FeatureRows]:
        """Several fixed-width features (``FIXED_WIDTH`` kinds) of many images, each as one
        matrix (what a search compares its candidates with). A store can read them faster
        than ``features`` one name and one value at a time, as this default does."""
        wanted = list(ids)
        return {name: FeatureRows.of(self.features(name, wanted)) for name in names}

    @abstractmethod
    def nearest(self, name: str, queries: np.ndarray, k: int, radius: int = 64) -> list[Hits]:
        """k nearest stored values of a searchable feature per query row.

        For ``bits`` the score is the Hamming distance (within ``radius``); for ``vector`` it
        is the exact inner product with the stored value of the current version (search takes
        it as the cosine instead of reading the value: a store that quantises must rescore);
        ``vectors`` (regional) hits are reported per image, best region;
        for ``local`` the query rows are one image's descriptors and the single result row
        holds images by their number of ratio-test votes."""

    @abstractmethod
    def label_hits(self, terms: Sequence[str], limit: int) -> Hits: ...

    @abstractmethod
    def feature_counts(self) -> dict[tuple[str, int], int]:
        """Stored values per (feature name, extractor version)."""

    def outdated(self, versions: dict[str, int]) -> list[str]:
        """The features some image holds at another version than ``versions`` says."""
        return sorted({n for n, v in self.feature_counts() if n in versions and v != versions[n]})

    @abstractmethod
    def flush(self, final: bool = False) -> None:
        """Save what is not saved yet; ``final``: as the store closes, also what is worth
        saving only then (a space rebuilt in another shape)."""

    @abstractmethod
    def close(self) -> None: ...

    def get(self, image_id: int) -> ImageRecord:
        found = self.records([image_id])
        if image_id not in found:
            raise NotFound(f"no image with id {image_id} in the index")
        return found[image_id]


def open_store(
    uri: str | Path, specs: dict[str, FeatureSpec], hnsw_threshold: int, readonly: bool = False
) -> Store:
    text = str(uri)
    if "://" in text and not text.startswith("file://"):
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"no store for {scheme}:// URIs in this version; use an index folder (file://)"
        )
    from pictrace.store.embedded import EmbeddedStore

    return EmbeddedStore(local_folder(text), specs, hnsw_threshold, readonly=readonly)


def local_folder(uri: str | Path) -> Path:
    """The folder of an embedded index given as a path or a file:// URI (also once a Path
    has folded its slashes: ``file:/srv/index``)."""
    return Path(str(uri).removeprefix("file:")).expanduser()


def tell_outdated(store: Store, specs: dict[str, FeatureSpec], location: str) -> None:
    """Warn when an older (or newer) release computed some stored features: searches and
    duplicates use them as they are until their sources are added again."""
    names = store.outdated({name: spec.version for name, spec in specs.items()})
    if names:
        log.warning(
            "index %s: some images' %s were computed by another release of PicTrace; searches "
            "and duplicates use them as they are until you add those images' files, folders "
            "or URLs again (`pictrace add` updates them; `pictrace stats` counts them)",
            location,
            ", ".join(names),
        )


def stats_of(store: Store, specs: dict[str, FeatureSpec], location: str) -> Stats:
    """What ``store`` holds: its images, and per feature how many have the current version
    (``outdated``: how many an older PicTrace computed)."""
    with store.consistent():  # a write between the two counts is no outdated feature
        images = store.count()
        counts = store.feature_counts()
        total = store.total_bytes()
    current = {
        name: counts.get((name, spec.version), 0)
        for name, spec in specs.items()
        if counts.get((name, spec.version), 0)
    }
    outdated = {
        name: images - current.get(name, 0) for name in specs if images - current.get(name, 0) > 0
    }
    return Stats(
        images=images,
        bytes_indexed=total,
        extractors=current,
        index_dir=location,
        store=type(store).__name__,
        outdated=outdated,
    )
