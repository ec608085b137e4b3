"""What earlier searches for duplicates found, kept so the next one searches only new images.

Finding duplicate groups searches every image of the collection (~10 ms each), so a
collection of 100,000 images takes minutes. Each image's copies do not change while nothing
that decides them changes (the calibration, the search settings, the feature versions: the
``key``), so they are kept in ``copies.sqlite`` beside the catalogue: which images were
searched and the copy links their searches found (each with its verified transform). The next
search for duplicates searches only images added since; removed images simply drop out (ids are
never reused). A new image's search finds the older images it copies, but an older image's
search never saw it: over the development set, searching only the newer image of each pair
(in a random adding order) linked 710 of the 721 images a full search links.

The file is a cache beside the catalogue, with its own locking: an index opened read-only
(a command beside a running server) keeps its searches there too. Every row carries its key,
so processes with other settings share the file without mixing their results (the few most
recently used keys are kept). A file this process cannot write is read into memory; a damaged
one is set aside, and trouble later in a run switches to memory, so the cache can cost a
search again but never fails one.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from pictrace.errors import IndexCorrupt
from pictrace.store.readonly import immutable, pending_log, writable_folder

log = logging.getLogger("pictrace")
T = TypeVar("T")
Found = tuple[int, np.ndarray | None]  # a copy's id and the transform (image -> copy), if any
LAYOUT = 3  # PRAGMA user_version of the file; another layout is dropped and made again
KEEP_KEYS = 4  # keys whose rows are kept (other settings, other processes, older releases)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, used REAL NOT NULL);
CREATE TABLE IF NOT EXISTS searched (
    key TEXT NOT NULL, image_id INTEGER NOT NULL, added REAL, PRIMARY KEY (key, image_id)
);
CREATE TABLE IF NOT EXISTS links (
    key TEXT NOT NULL,
    image_id INTEGER NOT NULL,
    copy_id INTEGER NOT NULL,
    transform BLOB,
    PRIMARY KEY (key, image_id, copy_id)
);
"""


class CopyLinks:
    """The searched images and their copy links found under one ``key``."""

    def __init__(self, path: Path | None, key: str) -> None:
        """Kept at ``path`` (in memory when None, or when the file cannot be written).
        ``failures`` counts the switches to memory: what was kept until then is lost."""
        self.failures = 0
        self.key = key
        self._lock = threading.Lock()
        self._db = _memory()
        if path is None:
            return
        if not writable_folder(path):  # a read-only folder: what it holds, in memory
            log.info("keeping duplicate links in memory: %s cannot be written", path.parent)
            self._db = _read_only_copy(path, key)
            return
        try:
            self._db = _opened(path, key)
        except sqlite3.OperationalError as exc:  # busy too long, say: this run in memory
            log.warning("duplicate links: %s (%s); keeping them in memory", path, exc)
        except sqlite3.DatabaseError as exc:  # damaged: a cache, so set it aside, start afresh
            if _set_aside(path, exc):
                self._db = self._guarded_open(path, key)

    def searched(self) -> set[int]:
        rows = self._guarded(
            lambda db: db.execute("SELECT image_id FROM searched WHERE key = ?", (self.key,))
        )
        return {row[0] for row in rows}

    def added(self, image_id: int) -> float | None:
        """When the image searched under ``image_id`` was added to the catalogue, as it was
        recorded (None: not searched, or recorded without it)."""
        rows = self._guarded(
            lambda db: db.execute(
                "SELECT added FROM searched WHERE key = ? AND image_id = ?", (self.key, image_id)
            ).fetchall()
        )
        return rows[0][0] if rows else None

    def links(self, live: set[int]) -> list[tuple[int, int, np.ndarray | None]]:
        """Every kept link between two ``live`` images: (image, copy, transform or None)."""
        rows = self._guarded(
            lambda db: db.execute(
                "SELECT image_id, copy_id, transform FROM links WHERE key = ?", (self.key,)
            ).fetchall()
        )
        return [(a, b, _matrix(t)) for a, b, t in rows if a in live and b in live]

    def record(
        self, found: Sequence[tuple[int, Sequence[Found]]], added: Mapping[int, float] | None = None
    ) -> None:
        """Searched images with their copies, in one transaction (an interrupted search for
        duplicates keeps every chunk it finished); ``added``: when each image was added to
        the catalogue (``ImageRecord.added_at``: an id given again after a catalogue was
        restored from a backup is another image)."""
        added = added or {}
        searched = [(self.key, i, added.get(i)) for i, _ in found]
        links = [(self.key, i, c, _blob(t)) for i, copies in found for c, t in copies]

        def write(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT OR IGNORE INTO searched VALUES (?, ?, ?)", searched)
                db.executemany("INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?)", links)

        self._guarded(write)

    def forget(self, ids: Iterable[int]) -> None:
        """Drop removed images (their links no longer count anyway: this keeps the file small)."""
        dead = [(self.key, i) for i in ids]
        if not dead:
            return

        def delete(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("DELETE FROM searched WHERE key = ? AND image_id = ?", dead)
                db.executemany("DELETE FROM links WHERE key = ? AND image_id = ?", dead)
                db.executemany("DELETE FROM links WHERE key = ? AND copy_id = ?", dead)

        self._guarded(delete)

    def clear(self) -> None:
        """Forget what was found under this key (a fresh search was asked for)."""

        def delete(db: sqlite3.Connection) -> None:
            with db:
                db.execute("DELETE FROM searched WHERE key = ?", (self.key,))
                db.execute("DELETE FROM links WHERE key = ?", (self.key,))

        self._guarded(delete)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _guarded(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` on the file; when the file fails (damaged, locked too long, not writable
        after all), on an empty in-memory copy from then on: what was kept is searched again."""
        with self._lock:
            try:
                return work(self._db)
            except sqlite3.DatabaseError as exc:
                log.warning("duplicate links: %s; keeping them in memory for this run", exc)
                self._db.close()
                self._db = _memory()
                self.failures += 1
                return work(self._db)

    def _guarded_open(self, path: Path, key: str) -> sqlite3.Connection:
        try:
            return _opened(path, key)
        except sqlite3.DatabaseError:
            return _memory()


def _opened(path: Path, key: str) -> sqlite3.Connection:
    """The file, laid out for this release, with ``key`` marked used (keys beyond the
    KEEP_KEYS most recent dropped); an in-memory copy of it when it cannot be written.
    sqlite3.DatabaseError when it is not a readable database."""
    db = sqlite3.connect(path, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout = 10000")
        if db.execute("PRAGMA user_version").fetchone()[0] != LAYOUT:
            _lay_out(db)
        _use(db, key)
        return db
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc) and "read-only" not in str(exc):
            db.close()
            raise
        log.info("keeping duplicate links in memory: %s cannot be written", path)
        memory = _memory()
        db.backup(memory)
        db.close()
        return memory


def _lay_out(db: sqlite3.Connection) -> None:
    with db:
        for table in ("meta", "keys", "searched", "links"):
            db.execute(f"DROP TABLE IF EXISTS {table}")
    db.executescript(_SCHEMA)
    db.execute(f"PRAGMA user_version = {LAYOUT}")
    db.execute("PRAGMA journal_mode = WAL")


def _use(db: sqlite3.Connection, key: str) -> None:
    with db:
        db.execute("INSERT OR REPLACE INTO keys VALUES (?, ?)", (key, time.time()))
        stale = db.execute(
            "SELECT key FROM keys ORDER BY used DESC LIMIT -1 OFFSET ?", (KEEP_KEYS,)
        ).fetchall()
        for table in ("keys", "searched", "links"):
            db.executemany(f"DELETE FROM {table} WHERE key = ?", stale)


def _read_only_copy(path: Path, key: str) -> sqlite3.Connection:
    """An in-memory copy of the links a read-only folder holds (empty if it holds none
    readable, or none for this layout)."""
    memory = _memory()
    if not path.is_file() or pending_log(path) is not None:
        return memory  # none, or a writer's log holds links an immutable read would miss
    try:
        db = immutable(path)
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] == LAYOUT:
                memory.close()
                memory = sqlite3.connect(":memory:", check_same_thread=False)
                db.backup(memory)
        finally:
            db.close()
        _use(memory, key)
    except sqlite3.DatabaseError as exc:
        log.info("duplicate links in %s not read: %s", path, exc)
        return _memory()
    return memory


def _memory() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript(_SCHEMA)
    return db


def _set_aside(path: Path, problem: Exception) -> bool:
    """Move a damaged file (with its write-ahead log, which must not be replayed into a new
    file) out of the way; False when that is not possible (the links then stay in memory)."""
    stamp = int(time.time())
    log.warning(
        "%s cannot be read (%s); set aside as %s.damaged-%d", path, problem, path.name, stamp
    )
    try:
        for suffix in ("", "-wal", "-shm"):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.replace(part.with_name(f"{part.name}.damaged-{stamp}"))
    except OSError as exc:
        log.warning("cannot set %s aside (%s)", path, exc)
        return False
    return True


def _blob(transform: np.ndarray | None) -> bytes | None:
    return None if transform is None else np.asarray(transform, "<f8").reshape(9).tobytes()


def _matrix(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    if len(blob) != 72:
        raise IndexCorrupt("a stored duplicate link is malformed; search with --fresh")
    return np.frombuffer(blob, "<f8").reshape(3, 3).copy()
