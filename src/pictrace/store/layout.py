"""The catalogue's layout: its tables, the version of that layout it records, and how it is
opened (made by its first writer, in one transaction).

A release that changes the layout raises ``SCHEMA_VERSION``; a catalogue made by a newer
release is refused before anything writes to it (its tables may have other names: writing
would make empty ones beside them).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from pictrace.errors import IndexCorrupt, IndexTooNew, SourceUnreadable
from pictrace.store.readonly import connect, read_only

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL UNIQUE,
    page TEXT,
    byte_sha256 TEXT NOT NULL,
    pixel_sha256 TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    byte_size INTEGER NOT NULL,
    exif_tags INTEGER NOT NULL,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS images_byte ON images(byte_sha256);
CREATE INDEX IF NOT EXISTS images_pixel ON images(pixel_sha256);
CREATE TABLE IF NOT EXISTS features (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (image_id, name)
);
DROP INDEX IF EXISTS features_name;  -- an older release's: features_version covers it
CREATE INDEX IF NOT EXISTS features_version ON features(name, version);  -- counted at open
CREATE TABLE IF NOT EXISTS labels (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    label TEXT NOT NULL,
    prob REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_image ON labels(image_id);
CREATE TABLE IF NOT EXISTS locations (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS locations_path ON locations(path);
"""


def create_tables(db: sqlite3.Connection) -> None:
    """The tables (where missing) and the meta rows, in one transaction: a reader opening
    the catalogue while it is being created sees none of them (no index yet) or all."""
    try:
        db.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}")
        db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('generation', '0'), ('id', ?)",
            (str(SCHEMA_VERSION), uuid.uuid4().hex),
        )
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def has_tables(db: sqlite3.Connection) -> bool:
    """Whether a writer has created the catalogue's tables (``create_tables``)."""
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    return db.execute(query).fetchone() is not None


def refuse_newer(db: sqlite3.Connection, path: Path) -> None:
    """IndexTooNew (``db`` closed) for a catalogue of a newer layout than ``SCHEMA_VERSION``."""
    has_meta = has_tables(db)
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() if has_meta else None
    if row is not None and str(row[0]).isdigit() and int(row[0]) > SCHEMA_VERSION:
        db.close()
        raise IndexTooNew(
            f"catalogue {path} was made by a newer PicTrace (layout {row[0]}; this release "
            f"reads layout {SCHEMA_VERSION}): upgrade PicTrace to open it"
        )


def opened(path: Path, readonly: bool) -> sqlite3.Connection:
    """The catalogue at ``path``, its tables made when a writer opens it first; a reader
    that finds none is told there is no index yet (a writer may be making it)."""
    try:
        db = _connected(path, readonly)
    except sqlite3.DatabaseError as exc:
        raise IndexCorrupt(f"cannot open catalogue {path}: {exc}") from exc
    try:
        if not readonly:
            create_tables(db)
        elif not has_tables(db):
            raise SourceUnreadable(
                f"no PicTrace index at {path.parent} yet (it is being created, or "
                f"{path.name} is not a PicTrace catalogue): try again once it is added to"
            )
    except BaseException as exc:
        db.close()
        if isinstance(exc, sqlite3.DatabaseError):
            raise IndexCorrupt(f"cannot open catalogue {path}: {exc}") from exc
        raise
    return db


def _connected(path: Path, readonly: bool) -> sqlite3.Connection:
    db = read_only(path) if readonly else connect(f"file:{path}")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    refuse_newer(db, path)  # before anything writes to it
    if not readonly:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    return db
