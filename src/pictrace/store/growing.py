"""Flat embedding spaces grown past the HNSW threshold, built as HNSW beside themselves while
the store goes on: searches and writes use the flat space meanwhile, and the new one takes
its place with whatever changed since it was taken.

A writer that closes builds a grown space itself (``EmbeddedStore.flush``), but a server can
run for weeks past the threshold, scanning the flat space at every search; and building one
at its stop (minutes at 200,000 images) may outlast what a service manager waits for, which
would leave it flat again. So a save that finds a grown space starts this on a thread of its
own (faiss on one thread: the other core keeps serving)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from pictrace.features.base import FeatureSpec
from pictrace.store.rwlock import ReadWriteLock
from pictrace.store.vectors import HashSpace, LocalSpace, VectorSpace
from pictrace.threads import quiet_this_thread

log = logging.getLogger("pictrace")
Grown = Callable[[], set[str]]  # the names of the flat spaces grown past the threshold


class Grower:
    """At most one build of grown spaces at a time, each on a thread of its own."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self, build: Callable[[], None], grown: Grown) -> None:
        """Run ``build`` when some space has grown (``grown``) and no build is under way."""
        if (self._thread is None or not self._thread.is_alive()) and grown():
            self._thread = threading.Thread(
                target=self._run, args=(build,), name="pictrace-hnsw", daemon=True
            )
            self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    @staticmethod
    def _run(build: Callable[[], None]) -> None:
        quiet_this_thread()
        try:
            build()
        except Exception:  # memory, say: the spaces stay flat, and closing builds them
            log.warning("building a grown space as HNSW failed", exc_info=True)


def built(
    guard: ReadWriteLock,
    spaces: Mapping[str, HashSpace | VectorSpace | LocalSpace],
    specs: Mapping[str, FeatureSpec],
    grown: Grown,
) -> Iterator[tuple[str, VectorSpace, bool]]:
    """Each grown space built as HNSW from a copy of its rows (no lock held meanwhile), then
    caught up under ``guard``'s write lock, during which each is yielded to be put in its
    place: (name, space, whether it holds exactly the flat space's rows)."""
    with guard.reading():
        taken = {name: contents(spaces[name]) for name in grown()}
    made = {name: built_beside(specs[name].dim, *rows) for name, rows in taken.items()}
    with guard.writing():
        for name, space in made.items():
            flat = spaces[name]
            if isinstance(flat, VectorSpace) and not flat.hnsw:  # else rebuilt meanwhile
                yield name, space, caught_up(space, taken[name], contents(flat))


def contents(space: HashSpace | VectorSpace | LocalSpace) -> tuple[np.ndarray, np.ndarray]:
    """A copy of a flat space's row ids and vectors."""
    ids = space.held()
    if ids is None or not isinstance(space, VectorSpace) or space.hnsw:
        raise ValueError("only a flat space can be read back whole")
    return ids, space.index.index.reconstruct_n(0, space.size)


def built_beside(dim: int, ids: np.ndarray, vectors: np.ndarray) -> VectorSpace:
    """An HNSW space of these rows (the slow part, run with no lock held)."""
    space = VectorSpace(dim, hnsw=True)
    space.add(ids, vectors)
    return space


def caught_up(
    space: VectorSpace,
    taken: tuple[np.ndarray, np.ndarray],
    now: tuple[np.ndarray, np.ndarray],
) -> bool:
    """Add to ``space`` (built from ``taken``) the rows the flat space holds ``now`` that are
    new or changed; False when a row taken has gone or changed since (HNSW keeps it: the
    space is then stale, as after a removal from it, and is rebuilt when the store closes)."""
    taken_ids, taken_vectors = taken
    now_ids, now_vectors = now
    order = np.argsort(taken_ids)
    place = np.searchsorted(taken_ids[order], now_ids)
    place = np.minimum(place, max(len(taken_ids) - 1, 0))
    known = np.zeros(len(now_ids), dtype=bool)
    if len(taken_ids):
        rows = order[place]
        known = taken_ids[rows] == now_ids
        same = np.all(taken_vectors[rows[known]] == now_vectors[known], axis=1)
        known[np.flatnonzero(known)[~same]] = False
    space.add(now_ids[~known], now_vectors[~known])
    return int(known.sum()) == len(taken_ids)
