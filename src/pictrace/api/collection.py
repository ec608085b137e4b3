"""Collection chores shared by the API and the pages: keeping uploaded originals inside the
index folder, removing an image (and its kept upload), and the duplicate keeper policy."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from pictrace.index import Index
from pictrace.ingest.sniff import EXTENSIONS, image_format
from pictrace.search.keeper import LOSSLESS, resolution_steps
from pictrace.types import AddFailure, AddReport, DuplicateGroup, ImageRecord, Source

KeeperRule = Literal["original", "resolution", "lossless", "exif", "bytes", "oldest", "newest"]
KEEPER_RULES: tuple[str, ...] = get_args(KeeperRule)
KEEPER_LABELS = {
    "original": "not an edited copy",
    "resolution": "largest resolution",
    "lossless": "lossless format",
    "exif": "richest EXIF",
    "bytes": "largest file",
    "oldest": "added first",
    "newest": "added last",
}
# Each rule scores a member of a group, lower first. "original": how often a verified pair
# showed it made from another member (search/keeper.py); "resolution" counts pixels in steps
# of about 10 %, as the default keeper does (an edit two pixels wider is not sharper).
_RULES: dict[str, Callable[[ImageRecord, DuplicateGroup], float]] = {
    "original": lambda r, g: g.edited.get(r.id, 0),
    "resolution": lambda r, g: -resolution_steps(r),
    "lossless": lambda r, g: -1.0 if r.format in LOSSLESS else 0.0,
    "exif": lambda r, g: -r.exif_tags,
    "bytes": lambda r, g: -r.byte_size,
    "oldest": lambda r, g: r.added_at,
    "newest": lambda r, g: -r.added_at,
}


def keeper_key(
    policy: Sequence[str], group: DuplicateGroup
) -> Callable[[ImageRecord], tuple[float, ...]]:
    """Sort key for a group's members, best first, applying the rules in order (ties broken
    by id)."""
    rules = [_RULES[name] for name in policy if name in _RULES]
    return lambda record: (*(rule(record, group) for rule in rules), record.id)


def apply_policy(groups: list[DuplicateGroup], policy: Sequence[str]) -> list[DuplicateGroup]:
    ordered = [sorted(g.members, key=keeper_key(policy, g)) for g in groups]
    return [
        DuplicateGroup(tuple(members), members[0].id, g.edited)
        for g, members in zip(groups, ordered, strict=True)
    ]


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
    data["thumbnail"] = f"/api/images/{record.id}/thumbnail"
    return data
