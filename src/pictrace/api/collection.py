"""Collection chores shared by the API and the pages: keeping uploaded originals inside the
index folder, removing an image (and its kept upload), and the names of the keeper rules."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

from pictrace.errors import PicTraceError
from pictrace.index import Index
from pictrace.ingest.sniff import EXTENSIONS, image_format
from pictrace.types import AddFailure, AddReport, DuplicateGroup, ImageRecord, KeeperRule, Source
from pictrace.uploads import is_digest, kept_digest, kept_name, temporary_name

KEEPER_RULES: tuple[str, ...] = get_args(KeeperRule)


def store_upload(folder: Path, data: bytes, name: str = "") -> tuple[Path, bool]:
    """Keep uploaded bytes as ``<folder>/<sha256>/<the uploaded file's name>`` (atomically),
    so the collection shows the name the user gave; (path, newly written). The same bytes
    uploaded again, under any name, are the file kept first (also one an older release kept
    as ``<folder>/<sha256>.<ext>``)."""
    ext = EXTENSIONS.get(image_format(data) or "", "bin")
    digest = hashlib.sha256(data).hexdigest()
    legacy = folder / f"{digest}.{ext}"
    box = folder / digest
    kept = next(_kept_files(box), None)
    found = legacy if legacy.is_file() else kept
    if found is not None:
        return found, False
    box.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=box, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        target = box / upload_name(name, ext)
        os.replace(temp, target)
    except OSError:
        Path(temp).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            box.rmdir()
        raise
    return target, True


NAME_BYTES = 200  # of an upload's kept name before its extension (ext4 allows 255)
_SAME_FORMAT = {"jpg": {"jpg", "jpeg", "jpe"}, "tif": {"tif", "tiff"}, "heic": {"heic", "heif"}}


def discard_orphans(index: Index) -> int:
    """Delete the files in ``uploads`` that no catalogued image is: an upload written just
    before the server was killed (uploads are kept before they are indexed), or a temporary
    file a crash left. Only files laid out as PicTrace keeps uploads are looked at
    (``uploads.kept_name``): anything else there is a user's own (a folder called
    ``uploads`` inside the index folder). Run when a server opens its index for writing,
    before any upload; returns how many were deleted."""
    folder, gone = index.uploads, 0
    if not folder.is_dir():
        return 0
    for path in [*folder.glob("*"), *folder.glob("*/*")]:
        tail = path.relative_to(folder).parts
        if path.is_file() and (temporary_name(tail) or _orphan(index, tail)):
            path.unlink(missing_ok=True)
            gone += 1
    for box in folder.iterdir():
        if box.is_dir() and is_digest(box.name) and not any(box.iterdir()):
            box.rmdir()
    return gone


def _orphan(index: Index, tail: tuple[str, ...]) -> bool:
    """A kept upload no catalogued image holds the bytes of. Kept files are named by their
    bytes' digest: that, not the path, says whether an image holds them, so a moved index
    folder keeps all of its uploads; and a file so named whose bytes are other (a user's
    own) is none."""
    if not kept_name(tail) or index.with_bytes(digest := kept_digest(tail)):
        return False
    with contextlib.suppress(OSError):
        return hashlib.sha256(index.uploads.joinpath(*tail).read_bytes()).hexdigest() == digest
    return False


def _kept_files(box: Path) -> Iterator[Path]:
    """The upload kept in ``box`` (not a temporary file a crash left), if any."""
    if box.is_dir():
        yield from (p for p in box.iterdir() if p.is_file() and not p.name.startswith("."))


def upload_name(name: str, ext: str) -> str:
    """A safe file name for an upload called ``name``: its last path part (no folders, no
    leading dots, no control characters, at most ~120 characters), ending in an extension
    of the format its bytes are (appended when it says otherwise)."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(c for c in base if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF)
    base = re.sub(r"^[.\s]+", "", base).strip()  # no leading dots, however spaced
    stem, dot, given = base.rpartition(".")
    if dot and given.lower() in _SAME_FORMAT.get(ext, {ext}):
        return f"{_short(stem)}.{given}"
    return f"{_short(base)}.{ext}"


def _short(stem: str) -> str:
    """At most NAME_BYTES of UTF-8 (file names are limited in bytes), whole characters, no
    trailing dots or spaces; "upload" when nothing is left."""
    cut = stem.encode("utf-8", "ignore")[:NAME_BYTES].decode("utf-8", "ignore")
    return cut.rstrip(". ") or "upload"


def add_uploads(
    index: Index,
    folder: Path,
    uploads: Sequence[tuple[str, bytes]],
    progress: Callable[[int, int], None] | None = None,
) -> AddReport:
    """Add uploaded files; a failed upload leaves no file behind. Runs on a worker thread.

    Bytes the index already holds (added from a folder, a URL or an earlier upload), or sent
    twice in one request, are "unchanged": reported under the source of the image that holds
    them, and not kept again (bytes sent twice that fail, fail twice)."""
    sources: list[Source | AddFailure] = []
    written: dict[str, str] = {}
    repeated: list[str] = []
    again: list[tuple[str, str]] = []  # (kept path, uploaded name) of bytes sent again
    seen: set[str] = set()
    for name, data in uploads:
        if not data:
            sources.append(AddFailure(name, f"{name}: zero-byte file", "not_an_image"))
            continue
        if (holder := _holder(index, data)) is not None:
            repeated.append(holder)
            continue
        try:
            path, new = store_upload(folder, data, name)
        except OSError as exc:  # a full disk, say: this upload fails, the others go on
            reason = f"{name}: cannot be kept in the index folder ({exc.strerror})"
            sources.append(AddFailure(name, reason, "index_error"))
            continue
        if str(path) in seen:  # sent twice in this request: as the first copy goes, it goes
            again.append((str(path), name))
            continue
        seen.add(str(path))
        if new:
            written[str(path)] = name
        sources.append(Source(uri=str(path), data=data))
    try:
        report = index.add_sources(sources, len(uploads), progress)
    except PicTraceError:  # the add stopped (a full disk): what no image holds goes
        _discard_unheld(index, written)
        raise
    for failure in report.failed:
        if failure.source in written:
            index.discard_kept(Path(failure.source))
    named = _named(report, written)
    failed = {f.source: f for f in report.failed}
    twice = tuple(
        AddFailure(name, failed[path].reason.replace(path, name), failed[path].code)
        for path, name in again
        if path in failed
    )
    repeated += [path for path, _ in again if path not in failed]
    return replace(named, skipped=named.skipped + tuple(repeated), failed=named.failed + twice)


def _discard_unheld(index: Index, written: dict[str, str]) -> None:
    """Delete the files an add that stopped kept for no image (the batches stored before
    it hold theirs); those it cannot tell about stay for the next start's clean-up."""
    for path in written:
        with contextlib.suppress(PicTraceError):
            if not index.with_source(path):
                index.discard_kept(Path(path))


def _holder(index: Index, data: bytes) -> str | None:
    """The source of an image already indexed with exactly these bytes whose file is still
    there, if any (the upload of a picture whose only file is gone is kept: removing the
    missing images must not lose it)."""
    there = index.with_bytes(hashlib.sha256(data).hexdigest(), present=True)
    return there[0].source if there else None


def _named(report: AddReport, written: dict[str, str]) -> AddReport:
    """Failures name the file the user uploaded, not the folder it was kept in."""
    failed = tuple(
        AddFailure(
            written.get(f.source, f.source),
            f.reason.replace(f.source, written.get(f.source, f.source)),
            f.code,
        )
        for f in report.failed
    )
    return replace(report, failed=failed)


def record_dict(record: ImageRecord) -> dict[str, Any]:
    data = record.as_dict()
    data["thumbnail"] = _thumbnail_url(record.id)
    return data


def group_dict(group: DuplicateGroup) -> dict[str, Any]:
    """A duplicate group as JSON, each member with its thumbnail's URL."""
    data = group.as_dict()
    for member in data["members"]:
        member["thumbnail"] = _thumbnail_url(member["id"])
    return data


def _thumbnail_url(image_id: int) -> str:
    return f"/api/images/{image_id}/thumbnail"
