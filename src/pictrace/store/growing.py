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
from pictrace.store.vectors import HashSpace, Journal, LocalSpace, VectorSpace, room_for
from pictrace.threads import quiet_this_thread

log = logging.getLogger("pictrace")
Grown = Callable[[], set[str]]  # the names of the flat spaces grown past the threshold


class Grower:
    """At most one build of grown spaces at a time, each on a thread of its own; none more
    once one failed (closing builds them)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()
        self._failed = False

    def start(self, build: Callable[[], None], grown: Grown) -> None:
        """Run ``build`` when some space has grown (``grown``) and no build is under way."""
        with self._starting:
            if self._failed or (self._thread is not None and self._thread.is_alive()):
                return
            if grown():
                self._thread = threading.Thread(
                    target=self._run, args=(build,), name="pictrace-hnsw", daemon=True
                )
                self._thread.start()

    def wait(self) -> None:
        """Until the build under way, if any, is done (hold no lock of the store's)."""
        with self._starting:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self, build: Callable[[], None]) -> None:
        quiet_this_thread()
        try:
            build()
        except Exception:  # memory, say: the spaces stay flat, and closing builds them
            self._failed = True
            log.warning("building a grown space as HNSW failed", exc_info=True)


CATCH_UP_ROUNDS = 4  # rounds of catching up before the writers are held back for the last
CAUGHT_UP = 256  # rows left for the last round, under the write lock (~1 s of HNSW adds)


def built(
    guard: ReadWriteLock,
    spaces: Mapping[str, HashSpace | VectorSpace | LocalSpace],
    specs: Mapping[str, FeatureSpec],
    grown: Grown,
) -> Iterator[tuple[str, VectorSpace, bool]]:
    """Each grown space built as HNSW from a copy of its rows (no lock held meanwhile), then
    caught up with the rows it gained since (their journal: a few rounds beside the writers,
    the last under ``guard``'s write lock), during which each is yielded to be put in its
    place: (name, space, whether it holds exactly the flat space's rows)."""
    flats: dict[str, VectorSpace] = {}
    try:
        with guard.reading():  # a space another build keeps a journal of is left to it
            for name in grown():
                if isinstance(flat := spaces[name], VectorSpace) and flat.journal is None:
                    flats[name] = flat
                    flat.journal = Journal()
        taken = {n: rows for n, f in flats.items() if (rows := _copied(guard, f)) is not None}
        made = {}
        for name in list(taken):  # each copy let go of once built
            made[name] = built_beside(specs[name].dim, *taken.pop(name))
        for _ in range(CATCH_UP_ROUNDS):
            with guard.reading():
                gained = {name: _gained(flats[name]) for name in made}
            for name, (ids, vectors) in gained.items():
                made[name].add(ids, vectors)
            if all(len(ids) < CAUGHT_UP for ids, _ in gained.values()):
                break
        with guard.writing():
            for name, space in made.items():
                flat = flats[name]
                if spaces[name] is flat and flat.journal is not None:  # else rebuilt meanwhile
                    space.add(*_gained(flat))
                    yield name, space, not flat.journal.dropped
    finally:
        with guard.writing():  # no writer is then between looking at a journal and using it
            for flat in flats.values():
                flat.journal = None


COPY_ROWS = 8192  # rows copied under one hold of the read lock (40 MB of CNN vectors)


def _copied(guard: ReadWriteLock, flat: VectorSpace) -> tuple[np.ndarray, np.ndarray] | None:
    """A copy of the rows a flat space held when its journal started, a few thousand under
    each hold of the read lock, so writers (and the searches queued behind a writer) wait
    for one part, not for all; None when a row was removed meanwhile (the rows after it
    moved: the build is left for the next save to start again)."""
    with guard.reading():
        held = flat.size
    parts = []
    for start in range(0, held, COPY_ROWS):
        with guard.reading():
            if flat.journal is None or flat.journal.dropped:
                return None
            parts.append(flat.index.index.reconstruct_n(start, min(COPY_ROWS, held - start)))
    with guard.reading():  # rows are only added after them while none is removed
        ids = flat.held()
        if flat.journal is None or flat.journal.dropped or ids is None:
            return None
    return ids[:held], _stacked(parts, flat.dim)  # copies: stacked with no lock held


def _gained(flat: VectorSpace) -> tuple[np.ndarray, np.ndarray]:
    """The rows a flat space gained since last asked and still holds (a lock held)."""
    journal = flat.journal
    ids = np.unique(np.concatenate(journal.added)) if journal and journal.added else None
    held = flat.held() if ids is not None else None
    if journal is None or ids is None or held is None:
        return np.empty(0, np.int64), _stacked([], flat.dim)
    journal.added.clear()
    ids = ids[np.isin(ids, held)]
    return ids, _stacked([flat.index.reconstruct(int(i))[None] for i in ids], flat.dim)


def _stacked(parts: list[np.ndarray], dim: int) -> np.ndarray:
    return np.vstack(parts) if parts else np.empty((0, dim), np.float32)


def built_beside(dim: int, ids: np.ndarray, vectors: np.ndarray) -> VectorSpace:
    """An HNSW space of these rows (the slow part, run with no lock held), with room for a
    quarter more: the rows it catches up with are added under the write lock at the end, and
    an add that outgrew its storage would copy all of it there (``room``)."""
    space = VectorSpace(dim, hnsw=True)
    space.reserve(room_for(len(ids)))
    space.add(ids, vectors)
    return space
