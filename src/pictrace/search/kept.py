"""Duplicate groups kept between calls, behind ``Index.duplicates``.

Two things are kept. The last groups, in memory, while the catalogue generation (any
process's writes) and the calibration stay the same: asking again with another keeper policy
only orders them again. And what each image's search found, in the index folder
(``store/copylinks.py``), under a key of everything that decides what a search calls a copy:
a later run, in any process, searches only the images no run has searched.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pictrace.features.base import FeatureSpec
from pictrace.search.duplicates import LINKS_VERSION, find_duplicates, with_missing
from pictrace.search.engine import Searcher
from pictrace.search.keeper import apply_policy
from pictrace.store.base import Store
from pictrace.store.copylinks import CopyLinks
from pictrace.store.vocabulary import local_layout
from pictrace.types import DuplicateGroup, KeeperRule

Basis = tuple[object, object]  # (catalogue generation, calibrator)


class KeptDuplicates:
    """The groups of one index's collection, found once and kept."""

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, FeatureSpec],
        searcher: Searcher,
        folder: Path | None,
    ) -> None:
        self.store, self.specs, self.searcher = store, specs, searcher
        self.path = folder / "copies.sqlite" if folder is not None else None
        self._groups: tuple[Basis, list[DuplicateGroup]] | None = None
        self._groups_lock = threading.Lock()
        self._search_lock = threading.Lock()  # one search for duplicates at a time
        self._links: CopyLinks | None = None

    def groups(
        self,
        policy: Sequence[KeeperRule],
        progress: Callable[[int, int], None] | None,
        fresh: bool,
    ) -> list[DuplicateGroup]:
        """The groups under ``policy``: the kept ones when nothing changed, else searched
        (only images not searched before, unless ``fresh``)."""
        with self._search_lock:
            basis = self._basis()
            known = None if fresh else self._known(basis, policy)
            if known is not None:
                return known
            kept = self._copy_links()
            if fresh:
                kept.clear()
            found = find_duplicates(self.store, self.specs, self.searcher, policy, progress, kept)
            with self._groups_lock:
                self._groups = (basis, found)
            return found

    def known(self, policy: Sequence[KeeperRule]) -> list[DuplicateGroup] | None:
        """The groups if they can be answered without searching, else None."""
        return self._known(self._basis(), policy)

    def basis(self) -> object:
        """What the groups follow from (equal: still the groups); None when the store cannot
        tell (it has no generation)."""
        basis = self._basis()
        return None if basis[0] is None else basis

    def close(self) -> None:
        if self._links is not None:
            self._links.close()

    def _basis(self) -> Basis:
        return (self.store.generation(), self.searcher.calibrator)

    def _known(self, basis: Basis, policy: Sequence[KeeperRule]) -> list[DuplicateGroup] | None:
        with self._groups_lock:
            cached = self._groups
        if basis[0] is None or cached is None or cached[0] != basis:
            return None
        return apply_policy(with_missing(self.store, cached[1]), policy)

    def _copy_links(self) -> CopyLinks:
        """The kept searches under what decides copies now (a calibration refitted in this
        process changes it, too)."""
        key = self._key()
        if self._links is None or self._links.key != key:
            self.close()
            self._links = CopyLinks(self.path, key)
        return self._links

    def _key(self) -> str:
        """What decides which images a search calls copies (kept links found under another
        key are searched again): this catalogue (image ids restart with a new one), the
        calibration, the search settings, the features, the local vocabulary, the release."""
        import pictrace  # the package (this module is part of it): its release

        s = self.searcher.settings
        decisive = {
            "catalogue": self.store.identity(),
            "calibration": self.searcher.calibrator.to_json(),
            "search": [s.candidates, s.hash_radius, s.local_features, s.verify_top],
            "copy_threshold": s.copy_threshold,
            "sizes": [s.work_size, s.hnsw_threshold],
            "features": {name: spec.version for name, spec in sorted(self.specs.items())},
            "vocabulary": local_layout() if s.local_features else None,
            "version": [LINKS_VERSION, pictrace.__version__],
        }
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()
