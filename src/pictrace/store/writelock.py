"""The index folder's single write lock (``write.lock``): one writer at a time, any number of
readers beside it. A writer holds it exclusively while open; a read-only open takes it shared
for an instant to learn whether a writer is at work (then stale searchable copies are
expected, not worth a warning)."""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import IO

NAME = "write.lock"
# Index folders whose lock this process holds: a second open here is refused too (flock locks
# each open of the file), and should say so rather than blame another process.
_HELD: set[Path] = set()


def take_soon(lock: IO[str], tries: int = 5) -> None:
    """The exclusive lock, tried a few times over ~0.1 s (a reader may hold it shared for an
    instant); BlockingIOError when another writer holds it."""
    for attempt in range(tries):
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == tries - 1:
                raise
            time.sleep(0.025)


def writer_active(folder: Path) -> bool:
    """Whether a writer holds the lock of the index in ``folder`` right now."""
    try:
        with open(folder / NAME) as lock:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


def hold(folder: Path) -> None:
    """Remember that this process holds ``folder``'s lock (``refusal`` names it)."""
    _HELD.add(folder.resolve())


def release(folder: Path) -> None:
    _HELD.discard(folder.resolve())


def refusal(folder: Path) -> str:
    """Why a writer cannot open ``folder``: this process has it open for writing already, or
    another process does."""
    if folder.resolve() in _HELD:
        return (
            f"index {folder} is open for writing in this process already: use that Index, "
            "close it first, or open this one read-only (readonly=True) to search beside it"
        )
    return (
        f"index {folder} is open for writing by another process (a server, or an add); wait "
        "for it or stop it (a running server adds images with POST /api/images); searches "
        "and compares work beside it"
    )
