"""The extractor extension point: a named, versioned producer of typed feature values.

An extractor turns a batch of DecodedImages into one mapping ``{feature name: value}`` per image.
Each produced feature is described by a FeatureSpec (name, version, kind, dim), so the index
knows how to store it, how to search it, and when stored values are stale.

Kinds and their Python values:

* ``bits``     - uint8 array of ``dim // 8`` bytes (perceptual hash); Hamming-searchable
* ``vector``   - float32 L2-normalised vector of ``dim``; inner-product-searchable
* ``vectors``  - float32 matrix ``(n, dim)`` of L2-normalised regional vectors; searchable
* ``array``    - float32 vector, stored for re-ranking and compare only
* ``labels``   - tuple of (label, probability), best first
* ``blob``     - bytes the extractor encodes itself
* ``local``    - a blob (``arrays.save_arrays``) whose ``desc`` array holds uint8 local
                 descriptors (n, dim); the store indexes them for voting (e.g. keypoints)
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pictrace.features.arrays import load_arrays
from pictrace.types import Box, DecodedImage

log = logging.getLogger(__name__)

Kind = Literal["bits", "vector", "vectors", "array", "labels", "blob", "local"]
SEARCHABLE: frozenset[str] = frozenset({"bits", "vector", "vectors", "local"})
FIXED_WIDTH: frozenset[str] = frozenset({"bits", "vector", "array"})  # one row per image
FeatureValue = Any


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    version: int
    kind: Kind
    dim: int

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class Extractor(ABC):
    """Produces the features named in ``specs``. Subclasses implement ``extract_one``
    (or override ``extract`` to batch)."""

    specs: tuple[FeatureSpec, ...] = ()
    batched: bool = False  # True: ``extract`` runs whole batches (a CNN); False: per image
    for_queries: bool = True  # False: only computed for indexed images (e.g. thumbnails)

    def extract(self, images: Sequence[DecodedImage]) -> list[dict[str, FeatureValue]]:
        return [self.extract_one(image) for image in images]

    @abstractmethod
    def extract_one(self, image: DecodedImage) -> dict[str, FeatureValue]:
        """Return ``{spec.name: value}`` for every spec of this extractor."""

    def first_look(self) -> Extractor:
        """The extractor for a search's first look at a query (Searcher.search): a cheaper
        setting where ``refine`` gives a finer second look at queries it finds nothing for.
        The default: this extractor itself."""
        return self

    def beside_local(self) -> Extractor:
        """The extractor for one query whose local features (keypoints) are computed at the
        same time on the other cores: a setting that leaves them room. The default: this
        extractor itself."""
        return self

    def refine(
        self, image: DecodedImage, region: Box | None = None
    ) -> dict[str, FeatureValue] | None:
        """Finer values for a query a first search found no copy for (of ``region`` of it,
        in full-size pixels, when given), or None (the default: this extractor has no finer
        setting)."""
        return None

    def enlarged_look(self, image: DecodedImage) -> dict[str, FeatureValue] | None:
        """Values of a query too small for ``refine``'s finer look, from the picture enlarged
        (a thumbnail of an indexed picture), or None (the default: no such look)."""
        return None


def encode(spec: FeatureSpec, value: FeatureValue) -> bytes:
    """Serialise a feature value for the catalogue (no pickles)."""
    if spec.kind == "bits":
        return np.asarray(value, dtype=np.uint8).tobytes()
    if spec.kind in ("vector", "array"):
        return np.asarray(value, dtype=np.float16).tobytes()
    if spec.kind == "vectors":
        return np.asarray(value, dtype=np.float16).reshape(-1, spec.dim).tobytes()
    if spec.kind == "labels":
        return json.dumps([[label, round(float(p), 5)] for label, p in value]).encode()
    return bytes(value)


def decode_value(spec: FeatureSpec, blob: bytes) -> FeatureValue:
    if spec.kind == "bits":
        return np.frombuffer(blob, dtype=np.uint8).copy()
    if spec.kind in ("vector", "array"):
        return np.frombuffer(blob, dtype=np.float16).astype(np.float32)
    if spec.kind == "vectors":
        return np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, spec.dim)
    if spec.kind == "labels":
        return tuple((str(label), float(p)) for label, p in json.loads(blob))
    return blob


@dataclass(frozen=True, eq=False)
class FeatureRows:
    """One fixed-width feature (``FIXED_WIDTH`` kinds) of many images as a matrix: row i is
    image ``ids[i]``'s value (uint8 bytes for ``bits``, float32 otherwise)."""

    ids: tuple[int, ...]
    values: np.ndarray  # (len(ids), width)

    @classmethod
    def of(cls, values: Mapping[int, FeatureValue]) -> FeatureRows:
        """Rows from decoded values (one per image id)."""
        ids = tuple(values)
        if not ids:
            return cls((), np.zeros((0, 0), np.float32))
        return cls(ids, np.stack([np.asarray(values[i]).ravel() for i in ids]))


_WARNED: set[str] = set()  # features whose damaged values were reported once


def _stored_width(spec: FeatureSpec) -> int:
    """Bytes of one encoded value of a ``FIXED_WIDTH`` feature."""
    return spec.dim // 8 if spec.kind == "bits" else spec.dim * 2


def decode_rows(spec: FeatureSpec, ids: Sequence[int], blobs: Sequence[bytes]) -> FeatureRows:
    """Many encoded values of one ``FIXED_WIDTH`` feature decoded at once (as ``decode_value``
    does one by one). A value of the wrong length (an index written by other code, or
    damaged) is left out, as a missing value is."""
    width = _stored_width(spec)
    keep = [i for i, blob in enumerate(blobs) if len(blob) == width]
    if len(keep) < len(blobs) and spec.name not in _WARNED:
        _WARNED.add(spec.name)
        log.warning(
            "stored %s values of the wrong length are ignored (%d of %d read); re-add those "
            "images to mend them",
            spec.name,
            len(blobs) - len(keep),
            len(blobs),
        )
    joined = b"".join(blobs[i] for i in keep)
    if spec.kind == "bits":
        values = np.frombuffer(joined, dtype=np.uint8).reshape(len(keep), width).copy()
    else:
        raw = np.frombuffer(joined, dtype=np.float16).reshape(len(keep), spec.dim)
        values = raw.astype(np.float32)
    return FeatureRows(tuple(int(ids[i]) for i in keep), values)


def local_descriptors(blob: bytes) -> np.ndarray:
    """The (n, dim) uint8 descriptors inside a ``local`` feature's blob."""
    arrays = load_arrays(blob)
    if "desc" not in arrays:
        raise ValueError("a local feature's blob holds no descriptors")
    desc = np.asarray(arrays["desc"], dtype=np.uint8)
    if desc.ndim != 2:
        raise ValueError(f"local descriptors must be a 2-D array, got shape {desc.shape}")
    return desc


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)
