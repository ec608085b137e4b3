"""Files kept for uploaded images in an index folder's ``uploads``: ``<sha256>/<name>`` (an
older release's ``<sha256>.<ext>``), named by their bytes' digest. An upload's source is the
kept file's path, so a moved index folder's sources name the old place: ``kept_file`` finds the
file where the folder is now, and never names a file outside ``uploads``."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from pictrace.ingest.files import is_url

_DIGEST = re.compile(r"[0-9a-f]{64}")


def kept_file(uploads: Path, source: str) -> Path | None:
    """The file kept in ``uploads`` for an upload's source: the source itself when it lies
    there, or, when it is gone (the index folder was moved since the upload), the same
    ``<sha256>/<name>`` under ``uploads`` now. None for any other source."""
    if is_url(source):
        return None
    path = Path(source).expanduser()
    if path.exists():
        found = path.resolve()
        return found if uploads in found.parents and found.is_file() else None
    parts = path.parts
    tail = parts[-2:] if len(parts) >= 3 and parts[-3] == "uploads" else parts[-1:]
    if len(parts) < 2 or parts[-len(tail) - 1] != "uploads" or not _kept_name(tail):
        return None
    moved = uploads.joinpath(*tail).resolve()
    return moved if uploads in moved.parents and moved.is_file() else None


def discard_kept(uploads: Path, path: Path) -> None:
    """Delete the file kept in ``uploads`` for ``path`` (``kept_file``), and its own folder
    once empty; any other path is left alone."""
    found = kept_file(uploads, str(path))
    if found is None:
        return
    found.unlink(missing_ok=True)
    if found.parent != uploads:
        with contextlib.suppress(OSError):
            found.parent.rmdir()


def _kept_name(tail: tuple[str, ...]) -> bool:
    """Whether path parts name a kept upload: ``<sha256>/<name>`` or ``<sha256>.<ext>``."""
    if len(tail) == 2:
        return bool(_DIGEST.fullmatch(tail[0])) and tail[1] not in ("", ".", "..")
    return bool(_DIGEST.fullmatch(tail[0].split(".", 1)[0]))
