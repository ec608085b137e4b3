"""Collection chores shared by the API and the pages: keeping uploaded originals inside the
index folder, removing an image (and its kept upload), and the names of the keeper rules."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

from pictrace.index import Index
from pictrace.ingest.sniff import EXTENSIONS, image_format
from pictrace.types import AddFailure, AddReport, DuplicateGroup, ImageRecord, KeeperRule, Source

KEEPER_RULES: tuple[str, ...] = get_args(KeeperRule)


def store_upload(folder: Path, data: bytes) -> tuple[Path, bool]:
    """Keep uploaded bytes as ``<folder>/<sha256>.<ext>`` (atomically); (path, newly written)."""
    ext = EXTENSIONS.get(image_format(data) or "", "bin")
    target = folder / f"{hashlib.sha256(data).hexdigest()}.{ext}"
    if target.is_file():
        return target, False
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temp, target)
    return target, True


def add_uploads(
    index: Index,
    folder: Path,
    uploads: Sequence[tuple[str, bytes]],
    progress: Callable[[int, int], None] | None = None,
) -> AddReport:
    """Add uploaded files; a failed upload leaves no file behind. Runs on a worker thread.

    The same bytes uploaded twice in one request are one image (the second is "unchanged")."""
    sources: list[Source | AddFailure] = []
    written: dict[str, str] = {}
    repeated: list[str] = []
    seen: set[str] = set()
    for name, data in uploads:
        if not data:
            sources.append(AddFailure(name, f"{name}: zero-byte file", "not_an_image"))
            continue
        path, new = store_upload(folder, data)
        if str(path) in seen:
            repeated.append(name)
            continue
        seen.add(str(path))
        if new:
            written[str(path)] = name
        sources.append(Source(uri=str(path), data=data))
    report = index.add_sources(sources, len(uploads), progress)
    for failure in report.failed:
        if failure.source in written:
            Path(failure.source).unlink(missing_ok=True)
    named = _named(report, written)
    return AddReport(named.added, named.skipped + tuple(repeated), named.failed)


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
    return AddReport(report.added, report.skipped, failed)


def remove_image(index: Index, folder: Path, image_id: int) -> ImageRecord:
    """Remove from the index, and delete the kept original if it was an upload."""
    record = index.remove(image_id)
    path = Path(record.source)
    if path.parent == folder and path.is_file():
        path.unlink(missing_ok=True)
    return record


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
