"""A readers-writer lock: searches share the vector spaces, a write has them alone.

faiss indexes may be searched from several threads at once but not while they change. One
search's local-descriptor voting (on a pool thread) and its global lookups (on the caller's)
overlap this way instead of queueing behind each other. A waiting writer stops new readers
from entering, so a steady stream of searches cannot hold back an add forever.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    """Many readers or one writer. Not re-entrant: a thread holding it must not take it
    again (the store never does: its writes and its searches call no other guarded method)."""

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._state:
            self._state.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._state:
                self._readers -= 1
                if not self._readers:
                    self._state.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._state:
            self._writers_waiting += 1
            try:
                self._state.wait_for(lambda: not self._writing and not self._readers)
            finally:
                self._writers_waiting -= 1
                self._state.notify_all()  # readers held back for this writer may go on
            self._writing = True
        try:
            yield
        finally:
            with self._state:
                self._writing = False
                self._state.notify_all()
