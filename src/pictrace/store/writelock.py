"""The index folder's single write lock (``write.lock``): one writer at a time, any number of
readers beside it. A writer holds it exclusively while open; a read-only open takes it shared
for an instant to learn whether a writer is at work (then stale searchable copies are
expected, not worth a warning)."""

from __future__ import annotations

import fcntl
import logging
import time
import weakref
from pathlib import Path
from typing import IO

from pictrace.errors import IndexLocked, SourceUnreadable

NAME = "write.lock"
log = logging.getLogger("pictrace")
# Index folders whose lock this process holds, with the lock file that holds it: a second open
# here is refused too (flock locks each open of the file), and should say so rather than blame
# another process. Held while that file is open (a store closed, or collected unclosed, is not).
_HELD: weakref.WeakValueDictionary[Path, IO[str]] = weakref.WeakValueDictionary()


def take_folder(folder: Path) -> IO[str]:
    """The write lock of the index in ``folder`` (created with its ``vectors`` folder when
    missing), held through the file returned; SourceUnreadable when the folder cannot be
    written, IndexLocked when another writer holds it."""
    existed = folder.is_dir()
    try:
        (folder / "vectors").mkdir(parents=True, exist_ok=True)
        lock = open(folder / NAME, "w")  # noqa: SIM115
    except OSError as exc:
        what = "write to the index folder" if existed else "create the index folder"
        hint = " (searches open it read-only)" if existed else ""
        raise SourceUnreadable(f"cannot {what} {folder}: {exc.strerror or exc}{hint}") from exc
    try:
        take_soon(lock)
    except BlockingIOError as exc:
        lock.close()
        raise IndexLocked(refusal(folder)) from exc
    hold(folder, lock)  # a second writer here is told it is this process
    return lock


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


def hold(folder: Path, lock: IO[str]) -> None:
    """Remember that this process holds ``folder``'s lock through ``lock`` (``refusal``)."""
    _HELD[folder.resolve()] = lock


def refusal(folder: Path) -> str:
    """Why a writer cannot open ``folder``: this process has it open for writing already, or
    another process does."""
    lock = _HELD.get(folder.resolve())
    if lock is not None and not lock.closed:
        return (
            f"index {folder} is open for writing in this process already: use that Index, "
            "close it first, or open this one read-only (readonly=True) to search beside it"
        )
    return (
        f"index {folder} is open for writing by another process (a server, or an add); wait "
        "for it or stop it (a running server adds images with POST /api/images); searches "
        "and compares work beside it"
    )


def tell_rebuilt(folder: Path, names: list[str], writing: bool) -> None:
    """One line on searchable copies a read-only open rebuilt in memory (``writing``: a
    writer was at work as they were read; one at work then or now saves them when it stops:
    expected, not worth a warning)."""
    if writing or writer_active(folder):
        log.info("index %s: searchable copies rebuilt while a writer holds it", folder)
        return
    log.warning(
        "index %s: the searchable copies of %s are missing, stale, damaged or from an "
        "older release; rebuilt in memory from the catalogue (open the index for writing "
        "once, e.g. `pictrace add` on a folder already added, to save them)",
        folder,
        ", ".join(names),
    )
