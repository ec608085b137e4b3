"""A searchable space saved in the index folder: ``vectors/<name>.faiss`` and, beside it,
``<name>.json`` with what it was written with. A saved space is used only when that still holds
(``EmbeddedStore._load_space``): the catalogue's write count and random stamp of its last write
(a restored backup written to again has the count, not the stamp), the extractor's version,
and the space's own fingerprint (its size and a checksum of its ids: a damaged file)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pictrace.errors import IndexError_
from pictrace.features.base import FeatureSpec
from pictrace.store.vectors import HashSpace, LocalSpace, VectorSpace

Space = HashSpace | VectorSpace | LocalSpace


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
