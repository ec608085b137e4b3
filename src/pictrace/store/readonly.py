"""Reading the index folder's SQLite files (the catalogue, the duplicate links) where nothing
may be written. Reading a write-ahead-logged database takes its shared-memory file; in a folder
nobody may write (a read-only mount, an archive share) that cannot be made, so such a file is
read as immutable instead: safe only when no writer's log beside it holds changes (an immutable
reader would not see them)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from pictrace.errors import IndexLocked


def connect(uri: str) -> sqlite3.Connection:
    return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)


def writable_folder(path: Path) -> bool:
    return os.access(path.parent, os.W_OK)


def pending_log(path: Path) -> Path | None:
    """The writer's log beside ``path`` when it holds changes not yet in the file."""
    log = path.with_name(path.name + "-wal")
    return log if log.exists() and log.stat().st_size > 0 else None


def immutable(path: Path) -> sqlite3.Connection:
    """``path`` read as a file nothing changes (see the module docstring for when it may be)."""
    return connect(f"file:{path}?mode=ro&immutable=1")


def read_only(path: Path) -> sqlite3.Connection:
    """A catalogue opened for reading: immutable in a folder nobody may write, unless a
    writer's log beside it holds changes (then IndexLocked)."""
    db = connect(f"file:{path}?mode=ro")
    try:
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
        if writable_folder(path):
            raise
    if (log := pending_log(path)) is not None:
        raise IndexLocked(
            f"catalogue {path}: its folder cannot be written and a writer's log ({log.name}) "
            "holds changes not yet in it; open it after the writer has closed it"
        )
    return immutable(path)
