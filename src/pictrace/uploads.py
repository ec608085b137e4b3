"""Files kept for uploaded images in an index folder's ``uploads``: ``<sha256>/<name>`` (an
older release's ``<sha256>.<ext>``), named by their bytes' digest. An upload's source is the
kept file's path, so a moved index folder's sources name the old place: ``kept_file`` finds the
file where the folder is now, and never names a file outside ``uploads``, nor one there that
is not laid out so (a user's own folder called ``uploads`` inside the index folder, added as
any other folder, stays theirs)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from pictrace.ingest.files import is_url

_DIGEST = re.compile(r"[0-9a-f]{64}")


def kept_file(uploads: Path, source: str, byte_sha256: str | None = None) -> Path | None:
    """The file kept in ``uploads`` for an upload's source: the source itself when it lies
    there as ``<sha256>/<name>`` (or ``<sha256>.<ext>``), or, when it is gone (the index folder
    was moved since the upload), the same under ``uploads`` now. With ``byte_sha256`` (the
    image's), only a file kept under that digest. None for any other source."""
    if is_url(source):
        return None
    path = Path(source).expanduser()
    if path.exists():
        found = path.resolve()
        if not found.is_file() or uploads not in found.parents:
            return None
        tail = found.relative_to(uploads).parts
        return found if kept_name(tail) and _digest_is(tail, byte_sha256) else None
    parts = path.parts
    tail = parts[-2:] if len(parts) >= 3 and parts[-3] == "uploads" else parts[-1:]
    if len(parts) < 2 or parts[-len(tail) - 1] != "uploads" or not kept_name(tail):
        return None
    if not _digest_is(tail, byte_sha256):
        return None
    moved = uploads.joinpath(*tail).resolve()
    return moved if uploads in moved.parents and moved.is_file() else None


def discard_kept(uploads: Path, path: Path, byte_sha256: str | None = None) -> None:
    """Delete the file kept in ``uploads`` for ``path`` (``kept_file``, of ``byte_sha256``
    when given), and its own folder once empty; any other path is left alone."""
    found = kept_file(uploads, str(path), byte_sha256)
    if found is None:
        return
    found.unlink(missing_ok=True)
    if found.parent != uploads:
        with contextlib.suppress(OSError):
            found.parent.rmdir()


def kept_name(tail: tuple[str, ...]) -> bool:
    """Whether path parts below ``uploads`` name a kept upload: ``<sha256>/<name>`` or
    ``<sha256>.<ext>`` (a temporary ``<sha256>/.upload-*`` is none)."""
    if len(tail) == 2:
        return is_digest(tail[0]) and not tail[1].startswith(".")
    return len(tail) == 1 and is_digest(tail[0].split(".", 1)[0])


def temporary_name(tail: tuple[str, ...]) -> bool:
    """Whether path parts below ``uploads`` name a temporary file an upload being kept left
    (``<sha256>/.upload-*``: the server stopped while writing it)."""
    return len(tail) == 2 and is_digest(tail[0]) and tail[1].startswith(".upload-")


def is_digest(name: str) -> bool:
    """Whether a name is a sha256 digest in hex (the name of a kept upload's folder)."""
    return bool(_DIGEST.fullmatch(name))


def kept_digest(tail: tuple[str, ...]) -> str:
    """The digest a kept upload's path parts (``kept_name``) are named by."""
    return tail[0] if len(tail) == 2 else tail[0].split(".", 1)[0]


def _digest_is(tail: tuple[str, ...], byte_sha256: str | None) -> bool:
    return byte_sha256 is None or kept_digest(tail) == byte_sha256
