"""What a store opened read-only beside a writer holds of the catalogue, and what it lacks.

A reader's search spaces are read once, at open (from their files, or rebuilt from the
catalogue). A writer (a server, an add) goes on adding and removing images meanwhile, and a
reader that kept using those spaces would never find copies of the images added after it
opened; a search for duplicates would even call them searched, copy of nothing, for good.
So a reader notes which images its spaces hold and at which catalogue generation, and before
each search (``EmbeddedStore.catch_up``) adds the images written since and drops the removed
ones, reading only their features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pictrace.store.catalogue import Catalogue


@dataclass(frozen=True)
class Changes:
    """The images written (``added``) and removed since the spaces were caught up, and the
    catalogue as it is now (``generation``, ``ids``)."""

    added: list[int]
    removed: list[int]
    generation: int
    ids: np.ndarray


class Following:
    """The images a reader's spaces hold (``held``), as of a catalogue generation. Taken
    before the spaces are read: they hold at least these (a write in between is caught up
    later; adding an image twice is what must not happen)."""

    def __init__(self, catalogue: Catalogue) -> None:
        with catalogue.snapshot():
            self.generation = catalogue.generation()
            self.held = np.asarray(catalogue.all_ids(), np.int64)

    def changes(self, catalogue: Catalogue) -> Changes | None:
        """What was written since, or None when nothing was (one cheap read)."""
        with catalogue.snapshot():
            generation = catalogue.generation()
            if generation == self.generation:
                return None
            ids = np.asarray(catalogue.all_ids(), np.int64)
        added = np.setdiff1d(ids, self.held, assume_unique=True)
        removed = np.setdiff1d(self.held, ids, assume_unique=True)
        return Changes(added.tolist(), removed.tolist(), generation, ids)

    def holding(self, ids: list[int]) -> list[int]:
        """Those of ``ids`` the spaces hold."""
        return [int(i) for i in np.asarray(ids, np.int64)[np.isin(ids, self.held)]] if ids else []

    def caught_up(self, changes: Changes) -> None:
        self.generation, self.held = changes.generation, changes.ids
