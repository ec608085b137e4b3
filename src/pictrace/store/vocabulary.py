"""The local-descriptor space's shipped vocabulary and codebook (``tools/train_vocabulary.py``),
and the layout name a saved space carries: a release that ships others rebuilds its spaces."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import numpy as np

from pictrace.store.vectors import LOCAL_LAYOUT


def local_centroids() -> np.ndarray:
    """The shipped coarse quantizer of the local-descriptor index (tools/train_vocabulary.py)."""
    return _shipped("local_centroids.npy")


def local_codebook() -> np.ndarray:
    """The shipped product-quantizer codebook of stored local descriptors' residuals from
    their words (tools/train_vocabulary.py --codebook)."""
    return _shipped("local_codebook.npy")


@lru_cache(maxsize=2)
def _shipped(name: str) -> np.ndarray:
    with (resources.files("pictrace") / "models" / name).open("rb") as handle:
        return np.load(handle, allow_pickle=False)


@lru_cache(maxsize=1)
def local_layout() -> str:
    """How a saved local space was built: the layout and the shipped vocabulary and codebook
    (a release that ships others rebuilds the space from the catalogue)."""
    digest = hashlib.sha256()
    for array in (local_centroids(), local_codebook()):
        digest.update(f"{array.dtype}{array.shape}".encode() + array.tobytes())
    return f"{LOCAL_LAYOUT}-{digest.hexdigest()[:12]}"
