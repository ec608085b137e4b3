"""What a store opened read-only beside a writer holds of the catalogue, and what it lacks.

A reader's search spaces are read once, at open (from their files, or rebuilt from the
catalogue). A writer (a server, an add) goes on adding images meanwhile, and a reader that
kept using those spaces would never find copies of the images added after it opened; a
search for duplicates would even call them searched, copy of nothing, for good. So a reader
reads its spaces and notes, in the same read of the catalogue, its generation, the newest
image id (ids of new images only grow) and how many current values each feature has. Before
each search (``EmbeddedStore.catch_up``) it adds the images written since, reading only
their features. A writer that computed an image's features again under the same id (an
upgrade's new versions) leaves more current values than new images explain: the reader then
reads its spaces again. Removed images stay in its spaces, as in an HNSW space: the catalogue
decides what a search may return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pictrace.store.catalogue import Catalogue


@dataclass(frozen=True)
class Written:
    """What a writer wrote since: the new images, and the catalogue as it is now."""

    added: list[int]
    generation: int
    values: dict[str, int]  # current values per feature


class Following:
    """What a reader's spaces hold: every image up to ``newest``, ``values`` current values
    per feature, as of catalogue ``generation``. Made inside the read of the catalogue the
    spaces were read in (``Catalogue.snapshot``), so they hold exactly this."""

    def __init__(self, catalogue: Catalogue, versions: Mapping[str, int]) -> None:
        self.versions = dict(versions)
        with catalogue.snapshot():
            self.generation = catalogue.generation()
            self.newest = catalogue.newest_id()
            self.values = self._values(catalogue)

    def written(self, catalogue: Catalogue) -> Written | None:
        """What was written since, or None when nothing was (one cheap read)."""
        with catalogue.snapshot():
            generation = catalogue.generation()
            if generation == self.generation:
                return None
            added = catalogue.ids_after(self.newest)
            return Written(added, generation, self._values(catalogue))

    def caught_up(self, written: Written, added: Mapping[str, int]) -> bool:
        """Note the images added (``added``: values per feature); False when the spaces
        still lack values that the new images do not explain (read them again)."""
        self.generation = written.generation
        self.newest = max([self.newest, *written.added])
        for name, count in added.items():
            self.values[name] += count
        return all(written.values[name] <= self.values[name] for name in self.values)

    def holding(self, ids: list[int]) -> list[int]:
        """Those of ``ids`` the spaces hold."""
        return [i for i in ids if i <= self.newest]

    def _values(self, catalogue: Catalogue) -> dict[str, int]:
        return {name: catalogue.value_count(name, v) for name, v in self.versions.items()}
