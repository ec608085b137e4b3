"""A searchable space saved in the index folder: ``vectors/<name>.faiss`` and, beside it,
``<name>.json`` with what it was written with. A saved space is used only when that still holds
(``EmbeddedStore._load_space``): the catalogue's write count and random stamp of its last write
(a restored backup written to again has the count, not the stamp), the extractor's version, and
the space's own fingerprint (its size and a checksum of its ids: a damaged file); a space of one
row per image also the CRC-32 of its file (``file_check``: a damaged vector or hash would change
what searches answer; zlib checks 3.95 GB/s here, BENCHMARKS.md; local descriptors only choose
candidates, which are then verified against the catalogue, so their larger files go unchecked)."""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

from pictrace.errors import IndexError_
from pictrace.features.base import FeatureSpec
from pictrace.store.vectors import HashSpace, LocalSpace, VectorSpace

Space = HashSpace | VectorSpace | LocalSpace
ONE_ROW = ("bits", "vector")  # kinds whose spaces hold one row per image


def space_paths(folder: Path, spec: FeatureSpec) -> tuple[Path, Path]:
    """(the faiss file, its description) of a space in an index folder."""
    base = folder / "vectors" / spec.name
    return base.with_suffix(".faiss"), base.with_suffix(".json")


def space_meta(
    written: dict[str, Any], spec: FeatureSpec, space: Space, layout: str | None
) -> dict[str, Any]:
    """What a saved space must have been written with to be loaded as it is: the catalogue's
    write marks (``written``), the extractor's version, the space's fingerprint and, for local
    descriptors, the shipped vocabulary's ``layout``."""
    meta: dict[str, Any] = {
        **written,
        "version": spec.version,
        "dim": spec.dim,
        "fingerprint": space.fingerprint(),
    }
    if layout is not None:
        meta["layout"] = layout
    return meta


def file_check(path: Path, chunk: int = 1 << 24) -> str:
    """The CRC-32 and size of a file, read in chunks (OSError when it cannot be read)."""
    crc, size = 0, 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            crc, size = zlib.crc32(block, crc), size + len(block)
    return f"crc32:{crc:08x}:{size}"


def with_check(meta: dict[str, Any], spec: FeatureSpec, path: Path) -> dict[str, Any]:
    """A space's description with its file's check, for a space of one row per image."""
    return {**meta, "file": file_check(path)} if spec.kind in ONE_ROW else meta


def intact(saved: dict[str, Any], path: Path) -> bool:
    """Whether a space's file has the bytes it was saved with (one saved by an older
    release, without the check, counts as intact: its fingerprint is checked still)."""
    return "file" not in saved or saved["file"] == file_check(path)


def read_meta(path: Path) -> dict[str, Any]:
    """A space's description (OSError or ValueError when missing or unreadable)."""
    meta = json.loads(path.read_text())
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: not a description of a space")
    return meta


def load_space(spec: FeatureSpec, path: Path) -> Space:
    if spec.kind == "bits":
        return HashSpace.load(path, spec.dim)
    if spec.kind == "local":
        return LocalSpace.load(path, spec.dim)
    return VectorSpace.load(path, spec.dim)


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    """Write a space's description through a temporary file (IndexError_ when it cannot)."""
    write_whole(path, json.dumps(meta))


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file, so a reader meanwhile finds the old file or
    the new one, never half of it (IndexError_ when it cannot)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise IndexError_(f"cannot save {path}: {exc.strerror or exc}") from exc
