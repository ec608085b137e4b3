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

A read-only index reads the file into memory and adds what it finds there, never to the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from pictrace.errors import IndexCorrupt

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

    def __init__(self, path: Path | None, key: str, readonly: bool = False) -> None:
        self.key = key
        self._lock = threading.Lock()
        try:
            self._db = _connect(path, readonly)
            self._db.executescript(_SCHEMA)
            if self._stored_key() != key:
                self.clear()
        except sqlite3.DatabaseError as exc:
            raise IndexCorrupt(f"cannot open the duplicate links {path}: {exc}") from exc

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


def _connect(path: Path | None, readonly: bool) -> sqlite3.Connection:
    """The file itself, or (no file, or a read-only index) an in-memory copy of it."""
    memory = sqlite3.connect(":memory:", check_same_thread=False)
    if path is None or (readonly and not path.is_file()):
        return memory
    if readonly:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as stored:
            stored.backup(memory)
        stored.close()
        return memory
    memory.close()
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def _blob(transform: np.ndarray | None) -> bytes | None:
    return None if transform is None else np.asarray(transform, "<f8").reshape(9).tobytes()


def _matrix(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    if len(blob) != 72:
        raise IndexCorrupt("a stored duplicate link is malformed; search with --fresh")
    return np.frombuffer(blob, "<f8").reshape(3, 3).copy()
