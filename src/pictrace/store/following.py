"""What a store opened read-only beside a writer holds of the catalogue, and what it lacks.

A reader's search spaces are read once, at open (from their files, or rebuilt from the
catalogue). A writer (a server, an add) goes on adding images meanwhile, and a reader that
kept using those spaces would never find copies of the images added after it opened; a
search for duplicates would even call them searched, copy of nothing, for good. So a reader
reads its spaces and notes, in the same read of the catalogue, its generation, the newest
image id (ids of new images only grow) and how many images it holds. Before each search
(``EmbeddedStore.catch_up``) it adds the images written since, reading only their
features, and drops those removed since (fewer images than it holds plus the new ones: many
removed versions of one picture would take its votes); a space that then holds other than
the catalogue's count of current values (features computed again under the same ids, as an
upgrade does) has the reader read its spaces again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pictrace.store.catalogue import Catalogue


@dataclass(frozen=True)
class Written:
    """What a writer wrote since: the new images, the catalogue's images when some were
    removed (else None), and the catalogue as it is now."""

    added: list[int]
    ids: list[int] | None
    generation: int
    count: int
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
            self.count = catalogue.count()

    def written(self, catalogue: Catalogue) -> Written | None:
        """What was written since, or None when nothing was (one cheap read)."""
        with catalogue.snapshot():
            generation = catalogue.generation()
            if generation == self.generation:
                return None
            added = catalogue.ids_after(self.newest)
            count = catalogue.count()
            ids = catalogue.all_ids() if count < self.count + len(added) else None
            values = {name: catalogue.value_count(name, v) for name, v in self.versions.items()}
            return Written(added, ids, generation, count, values)

    def caught_up(self, written: Written) -> None:
        self.generation, self.count = written.generation, written.count
        self.newest = max([self.newest, *written.added])

    def holding(self, ids: list[int]) -> list[int]:
        """Those of ``ids`` the spaces hold."""
        return [i for i in ids if i <= self.newest]
