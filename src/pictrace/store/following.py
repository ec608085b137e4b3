"""What a store opened read-only beside a writer holds of the catalogue, and what it lacks.

A reader's search spaces are read once, at open (from their files, or rebuilt from the
catalogue). A writer (a server, an add) goes on adding images meanwhile, and a reader that
kept using those spaces would never find copies of the images added after it opened; a
search for duplicates would even call them searched, copy of nothing, for good. Image ids
only grow (a changed file is a new image), so a reader notes the newest image its spaces
hold and the catalogue's generation, and before each search (``EmbeddedStore.catch_up``)
adds the images written since, reading only their features. Removed images stay in its
spaces, as in an HNSW space: the catalogue decides what a search may return.
"""

from __future__ import annotations

from pictrace.store.catalogue import Catalogue


class Following:
    """The images a reader's spaces hold: every id up to ``newest``, as of a catalogue
    generation. Taken before the spaces are read, which hold at least these (a write in
    between is caught up later; adding an image twice is what must not happen)."""

    def __init__(self, catalogue: Catalogue) -> None:
        with catalogue.snapshot():
            self.generation = catalogue.generation()
            self.newest = catalogue.newest_id()

    def added(self, catalogue: Catalogue) -> tuple[list[int], int] | None:
        """The images written since and the generation that has them, or None when nothing
        was written (one cheap read)."""
        with catalogue.snapshot():
            generation = catalogue.generation()
            if generation == self.generation:
                return None
            return catalogue.ids_after(self.newest), generation

    def caught_up(self, added: list[int], generation: int) -> None:
        self.generation = generation
        self.newest = max([self.newest, *added])

    def holding(self, ids: list[int]) -> list[int]:
        """Those of ``ids`` the spaces hold."""
        return [i for i in ids if i <= self.newest]
