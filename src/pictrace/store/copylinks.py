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
(a command beside a running server) keeps its searches there too, and only a folder that
cannot be written leaves them in memory. A damaged file is set aside and started afresh.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from pictrace.errors import IndexCorrupt

log = logging.getLogger("pictrace")
Found = tuple[int, np.ndarray | None]  # a copy's id and the transform (image -> copy), if any
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS searched (image_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS links (
    image_id INTEGER NOT NULL,
    copy_id INTEGER NOT NULL,
    transform BLOB,
    PRIMARY KEY (image_id, copy_id)
);
"""


class CopyLinks:
    """The searched images and their copy links, valid for one ``key``."""

    def __init__(self, path: Path | None, key: str) -> None:
        """Kept at ``path`` (in memory when None or when it cannot be written)."""
        self.key = key
        self._lock = threading.Lock()
        try:
            self._db = _opened(path)
        except sqlite3.DatabaseError as exc:  # a cache: set it aside, start afresh
            assert path is not None
            _set_aside(path, exc)
            self._db = _opened(path)
        if self._stored_key() != key:
            self.clear()

    def searched(self) -> set[int]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT image_id FROM searched")}

    def links(self, live: set[int]) -> list[tuple[int, int, np.ndarray | None]]:
        """Every kept link between two ``live`` images: (image, copy, transform or None)."""
        with self._lock:
            rows = self._db.execute("SELECT image_id, copy_id, transform FROM links").fetchall()
        return [(a, b, _matrix(t)) for a, b, t in rows if a in live and b in live]

    def record(self, found: Sequence[tuple[int, Sequence[Found]]]) -> None:
        """Searched images with their copies, in one transaction (an interrupted search for
        duplicates keeps every chunk it finished)."""
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO searched VALUES (?)", [(i,) for i, _ in found]
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO links VALUES (?, ?, ?)",
                [(i, c, _blob(t)) for i, copies in found for c, t in copies],
            )

    def forget(self, ids: Iterable[int]) -> None:
        """Drop removed images (their links no longer count anyway: this keeps the file small)."""
        dead = [(i,) for i in ids]
        if not dead:
            return
        with self._lock, self._db:
            self._db.executemany("DELETE FROM searched WHERE image_id = ?", dead)
            self._db.executemany("DELETE FROM links WHERE image_id = ?", dead)
            self._db.executemany("DELETE FROM links WHERE copy_id = ?", dead)

    def clear(self) -> None:
        """Forget everything (what decides copies changed, or a fresh search was asked for)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM searched")
            self._db.execute("DELETE FROM links")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('key', ?)", (self.key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _stored_key(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'key'").fetchone()
        return None if row is None else str(row[0])


def _set_aside(path: Path, problem: Exception) -> None:
    """Move a damaged file (with its write-ahead log, which must not be replayed into a new
    file) out of the way."""
    stamp = int(time.time())
    log.warning(
        "%s cannot be read (%s); set aside as %s.damaged-%d", path, problem, path.name, stamp
    )
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.replace(part.with_name(f"{part.name}.damaged-{stamp}"))


def _opened(path: Path | None) -> sqlite3.Connection:
    """The file with the schema (raises sqlite3.DatabaseError when it is not a database), or
    an in-memory database when there is no path or the folder cannot be written."""
    if path is not None:
        try:
            db = sqlite3.connect(path, check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 10000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(_SCHEMA)
            return db
        except sqlite3.OperationalError as exc:  # a read-only folder or file
            log.info("keeping duplicate links in memory: %s (%s)", path, exc)
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript(_SCHEMA)
    return db


def _blob(transform: np.ndarray | None) -> bytes | None:
    return None if transform is None else np.asarray(transform, "<f8").reshape(9).tobytes()


def _matrix(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    if len(blob) != 72:
        raise IndexCorrupt("a stored duplicate link is malformed; search with --fresh")
    return np.frombuffer(blob, "<f8").reshape(3, 3).copy()
