"""The SQLite catalogue: images, their sources, feature values (with versions) and labels.

It is the source of truth of an embedded index; the faiss files next to it are caches that are
rebuilt from here whenever their recorded generation differs from the catalogue's.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pictrace.errors import IndexClosed, IndexCorrupt, IndexError_, NotFound
from pictrace.labelwords import forms, label_weight, words
from pictrace.store.layout import opened
from pictrace.types import ImageRecord

_COLUMNS = (
    "id, source, page, byte_sha256, pixel_sha256, width, height, format, byte_size, "
    "exif_tags, added_at"
)


@dataclass(frozen=True)
class NewImage:
    """Everything needed to catalogue one image (features already encoded to bytes)."""

    source: str
    page: str | None
    byte_sha256: str
    pixel_sha256: str
    width: int
    height: int
    format: str
    byte_size: int
    exif_tags: int
    features: dict[str, tuple[int, bytes]]  # name -> (version, encoded value)
    labels: tuple[tuple[str, float], ...] = ()
    location: str | None = None  # a local file's resolved absolute path (source is as given)


class Catalogue:
    """Thread-safe access to one SQLite file (one connection guarded by a lock)."""

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._closed = False
        self._db = opened(path, readonly)

    def identity(self) -> str | None:
        """A random id given to the catalogue when it was made (a new catalogue in the same
        folder has another; image ids restart with it)."""
        return self.get_meta("id")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()

    def _refuse_if_closed(self) -> None:
        """Refuse work once closed (sqlite3 would say "Cannot operate on a closed database")."""
        if self._closed:
            raise IndexClosed(f"the index of {self.path.parent} is closed: open it again")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside lands, or nothing does."""
        with self._lock:
            self._refuse_if_closed()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute(
                        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                        "WHERE key = 'generation'"
                    )
                    self._db.execute(  # see stamp()
                        "INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (uuid.uuid4().hex,)
                    )
                except BaseException:
                    self._rollback()
                    raise
                self._db.execute("COMMIT")
            except (sqlite3.OperationalError, sqlite3.IntegrityError) as exc:  # disk, I/O, rules
                self._rollback()
                raise IndexError_(f"cannot write the catalogue {self.path}: {exc}") from exc

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see the catalogue as of one moment (one read transaction), also while
        another connection writes; inside a transaction already, that one's. The catalogue's
        lock is held throughout: take no other lock inside (a write takes the spaces' lock,
        then this one)."""
        with self._lock:
            self._refuse_if_closed()
            if self._db.in_transaction:
                yield
                return
            try:
                self._db.execute("BEGIN")
            except sqlite3.DatabaseError as exc:
                raise IndexCorrupt(f"catalogue {self.path}: {exc}") from exc
            try:
                yield
            finally:
                self._rollback()  # a read: nothing to keep

    def _rollback(self) -> None:
        """Roll back unless SQLite already has (it does on a full disk or an I/O error)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            self._refuse_if_closed()
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise IndexCorrupt(f"catalogue {self.path}: {exc}") from exc

    def _by_ids(self, sql: str, ids: Iterable[int], *params: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (``{marks}`` standing for the ids' placeholders, after ``params``),
        asked in chunks of ids: SQLite limits the parameters of one statement."""
        id_list = [int(i) for i in ids if 0 < int(i) < 2**63]  # others are no id (SQLite: 64-bit)
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._query(sql.format(marks=marks), [*params, *chunk])
        return rows

    # --- writes -------------------------------------------------------------------------
    def insert(
        self, db: sqlite3.Connection, image: NewImage, same: ImageRecord | None = None
    ) -> int:
        """Catalogue an image: a new id, or ``same``'s id and time added (the record of the
        same bytes it replaces, deleted in this transaction: its features computed again)."""
        cursor = db.execute(
            f"INSERT INTO images ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                same.id if same is not None else None,
                image.source,
                image.page,
                image.byte_sha256,
                image.pixel_sha256,
                image.width,
                image.height,
                image.format,
                image.byte_size,
                image.exif_tags,
                same.added_at if same is not None else time.time(),
            ),
        )
        image_id = int(cursor.lastrowid or 0)
        db.executemany(
            "INSERT INTO features VALUES (?, ?, ?, ?)",
            [(image_id, name, ver, blob) for name, (ver, blob) in image.features.items()],
        )
        db.executemany(
            "INSERT INTO labels VALUES (?, ?, ?, ?)",
            [(image_id, rank, label, prob) for rank, (label, prob) in enumerate(image.labels)],
        )
        if image.location is not None:
            db.execute("INSERT INTO locations VALUES (?, ?)", (image_id, image.location))
        return image_id

    def relocate(self, db: sqlite3.Connection, image_id: int, source: str, location: str) -> None:
        """Catalogue an image under the local file it moved to."""
        db.execute("UPDATE images SET source = ? WHERE id = ?", (source, image_id))
        db.execute("INSERT OR REPLACE INTO locations VALUES (?, ?)", (image_id, location))

    def delete(self, db: sqlite3.Connection, image_id: int) -> None:
        db.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def drop_values(self, name: str, ids: Sequence[int]) -> None:
        """Forget the (damaged) stored values of ``name`` of ``ids``: an add computes them anew."""
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM features WHERE image_id = ? AND name = ?", [(i, name) for i in ids]
            )

    # --- reads --------------------------------------------------------------------------
    def generation(self) -> int:
        rows = self._query("SELECT value FROM meta WHERE key = 'generation'")
        return int(rows[0][0]) if rows else 0

    def stamp(self) -> str | None:
        """A random mark every write sets anew: the generation counts writes, and a catalogue
        restored from a backup and written to again reaches the same count with other
        contents; the stamp then differs (None before the first write of this release)."""
        return self.get_meta("stamp")

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM images")[0][0])

    def total_bytes(self) -> int:
        return int(self._query("SELECT COALESCE(SUM(byte_size), 0) FROM images")[0][0])

    def records(self, ids: Iterable[int]) -> dict[int, ImageRecord]:
        rows = self._by_ids(f"SELECT {_COLUMNS} FROM images WHERE id IN ({{marks}})", ids)
        found = {int(row[0]): self._record(row) for row in rows}
        labels = self._labels(found)
        return {i: _with_labels(r, labels.get(i, ())) for i, r in found.items()}

    def live(self, ids: Iterable[int]) -> set[int]:
        rows = self._by_ids("SELECT id FROM images WHERE id IN ({marks})", ids)
        return {int(row[0]) for row in rows}

    def get(self, image_id: int) -> ImageRecord:
        found = self.records([image_id])
        if image_id not in found:
            raise NotFound(f"no image with id {image_id} in the index")
        return found[image_id]

    def by_source(self, source: str) -> ImageRecord | None:
        rows = self._query("SELECT id FROM images WHERE source = ?", (source,))
        return self.get(int(rows[0][0])) if rows else None

    def by_location(self, path: str) -> ImageRecord | None:
        """The image added from the local file at this resolved path, under any spelling."""
        sql = "SELECT image_id FROM locations WHERE path = ?"
        rows = self._locations(lambda: self._query(sql, (path,)))
        return self.get(int(rows[0][0])) if rows else None

    def locations(self, ids: Iterable[int]) -> dict[int, str]:
        """Image id -> the resolved path of the local file it was added from, if known."""
        sql = "SELECT image_id, path FROM locations WHERE image_id IN ({marks})"
        rows = self._locations(lambda: self._by_ids(sql, ids))
        return {int(image_id): str(path) for image_id, path in rows}

    def _locations(self, read: Callable[[], list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        """A read of the locations table, which a catalogue an older release wrote and that
        is opened read-only lacks (no rows then)."""
        try:
            return read()
        except IndexCorrupt as exc:
            if "no such table: locations" not in str(exc):
                raise
            return []

    def by_bytes(self, byte_sha256: str) -> list[int]:
        rows = self._query(
            "SELECT id FROM images WHERE byte_sha256 = ? ORDER BY id", (byte_sha256,)
        )
        return [int(r[0]) for r in rows]

    def by_hash(self, byte_sha256: str, pixel_sha256: str) -> list[int]:
        rows = self._query(
            "SELECT id FROM images WHERE byte_sha256 = ? OR pixel_sha256 = ? ORDER BY id",
            (byte_sha256, pixel_sha256),
        )
        return [int(r[0]) for r in rows]

    def page(self, offset: int, limit: int) -> list[ImageRecord]:
        rows = self._query("SELECT id FROM images ORDER BY id LIMIT ? OFFSET ?", (limit, offset))
        ids = [int(r[0]) for r in rows]
        found = self.records(ids)
        return [found[i] for i in ids if i in found]

    def all_ids(self) -> list[int]:
        return [int(r[0]) for r in self._query("SELECT id FROM images ORDER BY id")]

    def newest_id(self) -> int:
        """The largest image id in the catalogue (0 for none): ids only grow."""
        rows = self._query("SELECT MAX(id) FROM images")
        return int(rows[0][0] or 0)

    def ids_after(self, image_id: int) -> list[int]:
        rows = self._query("SELECT id FROM images WHERE id > ? ORDER BY id", (image_id,))
        return [int(r[0]) for r in rows]

    def feature_values(
        self, name: str, ids: Iterable[int] | None = None
    ) -> Iterator[tuple[int, int, bytes]]:
        """(image_id, version, blob) for one feature, for the given ids or for all."""
        if ids is None:
            rows = self._query(
                "SELECT image_id, version, value FROM features WHERE name = ? ORDER BY image_id",
                (name,),
            )
            yield from ((int(a), int(b), bytes(c)) for a, b, c in rows)
            return
        rows = self._by_ids(
            "SELECT image_id, version, value FROM features "
            "WHERE name = ? AND image_id IN ({marks})",
            ids,
            name,
        )
        yield from ((int(a), int(b), bytes(c)) for a, b, c in rows)

    def feature_rows(
        self, names: Sequence[str], ids: Iterable[int]
    ) -> list[tuple[int, str, int, bytes]]:
        """(image_id, name, version, blob) of several features of the given ids, in one
        statement per chunk of ids."""
        if not names:
            return []
        named = ",".join("?" * len(names))
        rows = self._by_ids(
            f"SELECT image_id, name, version, value FROM features "
            f"WHERE name IN ({named}) AND image_id IN ({{marks}})",
            ids,
            *names,
        )
        return [(int(a), str(n), int(v), bytes(b)) for a, n, v, b in rows]

    def feature_versions(self, image_id: int) -> dict[str, int]:
        rows = self._query("SELECT name, version FROM features WHERE image_id = ?", (image_id,))
        return {str(name): int(version) for name, version in rows}

    def stale(self, name: str, version: int) -> list[int]:
        """Ids whose stored ``name`` feature is missing or of another version."""
        rows = self._query(
            "SELECT id FROM images WHERE id NOT IN "
            "(SELECT image_id FROM features WHERE name = ? AND version = ?) ORDER BY id",
            (name, version),
        )
        return [int(r[0]) for r in rows]

    def value_count(self, name: str, version: int) -> int:
        """How many images hold a value of feature ``name`` at ``version`` (from an index:
        the values themselves are not read)."""
        rows = self._query(
            "SELECT COUNT(*) FROM features WHERE name = ? AND version = ?", (name, version)
        )
        return int(rows[0][0])

    def other_versions(self, versions: dict[str, int]) -> list[str]:
        """The features some image holds at another version than ``versions`` says (two
        lookups in the (name, version) index per feature: no values are counted)."""
        query = (
            "SELECT EXISTS(SELECT 1 FROM features WHERE name = ? AND version < ?) "
            "OR EXISTS(SELECT 1 FROM features WHERE name = ? AND version > ?)"
        )
        return [
            name
            for name, version in versions.items()
            if self._query(query, (name, version, name, version))[0][0]
        ]

    def feature_counts(self) -> dict[tuple[str, int], int]:
        """Stored values per (feature name, extractor version)."""
        rows = self._query(
            "SELECT name, version, COUNT(*) FROM features GROUP BY name, version ORDER BY name"
        )
        return {(str(n), int(v)): int(c) for n, v, c in rows}

    def label_hits(self, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """Images with a top-5 label that has every term as a word (or its plural: "cats"
        finds "tabby cat"), scored by the labels' probability (``label_weight``). "car" finds
        "sports car", not "goldfish, Carassius auratus"; "%" and "_" are plain characters."""
        stems = [forms(w) for t in terms for w in words(t)]
        if not stems:
            return []
        where = " AND ".join("lower(label) LIKE ?" for _ in stems)  # a first cut, in SQL
        rows = self._query(
            f"SELECT image_id, label, prob FROM labels WHERE {where}",
            [f"%{_shared_start(s)}%" for s in stems],  # what every form of the word holds
        )
        scores: dict[int, float] = {}
        for image_id, label, prob in rows:
            weight = label_weight(str(label), stems)
            if weight:
                scores[int(image_id)] = scores.get(int(image_id), 0.0) + weight * float(prob)
        return sorted(scores.items(), key=lambda hit: (-hit[1], hit[0]))[:limit]

    def _labels(self, records: dict[int, ImageRecord]) -> dict[int, tuple[str, ...]]:
        rows = self._by_ids(
            "SELECT image_id, label FROM labels WHERE image_id IN ({marks}) "
            "ORDER BY image_id, rank",
            records,
        )
        out: dict[int, list[str]] = {}
        for image_id, label in rows:
            out.setdefault(int(image_id), []).append(str(label))
        return {k: tuple(v) for k, v in out.items()}

    @staticmethod
    def _record(row: tuple[Any, ...]) -> ImageRecord:
        return ImageRecord(
            id=int(row[0]),
            source=row[1],
            page=row[2],
            byte_sha256=row[3],
            pixel_sha256=row[4],
            width=int(row[5]),
            height=int(row[6]),
            format=row[7],
            byte_size=int(row[8]),
            exif_tags=int(row[9]),
            added_at=float(row[10]),
        )


def _shared_start(words: set[str]) -> str:
    """The longest start all ``words`` share ("strawberr" for strawberries / strawberry)."""
    first, *rest = sorted(words)
    size = 0
    while size < len(first) and all(len(w) > size and w[size] == first[size] for w in rest):
        size += 1
    return first[:size]


def _with_labels(record: ImageRecord, labels: tuple[str, ...]) -> ImageRecord:
    from dataclasses import replace

    return replace(record, labels=labels)
