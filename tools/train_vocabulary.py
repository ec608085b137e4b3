"""Train what the local-descriptor index ships: its vocabulary and its codebook.

Reproduce with:

    .venv/bin/python tools/train_vocabulary.py /work/shared/photos
    .venv/bin/python tools/train_vocabulary.py --codebook --limit 500 CLOTHING

where CLOTHING is ``/work/shared/labelled/clothing16``.

Both extract PicTrace's RootSIFT keypoints from the photos under the folder (``--limit``: at
most that many, spread evenly over the sorted list). The vocabulary (the coarse quantizer,
``src/pictrace/models/local_centroids.npy``) is faiss k-means with ``--lists`` centroids; it
routes descriptors to inverted lists. The codebook (``local_codebook.npy``) is the product
quantizer of the stored descriptors' residuals from their words
(``store.vectors.CODE_PARTS`` parts of ``CODE_BITS`` bits); the shipped one was trained on the
CC0 clothing photos, none of which are among the photos the copy benchmarks index or query.
The residuals depend on the words: train the codebook again after a new vocabulary. A new
vocabulary or codebook makes every index rebuild its local space from its catalogue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import faiss
import numpy as np

from pictrace.decode import decode
from pictrace.errors import InputError
from pictrace.features.keypoints import detect
from pictrace.ingest.files import expand, read_file
from pictrace.settings import load_settings
from pictrace.store.vectors import CODE_BITS, CODE_PARTS, LocalSpace
from pictrace.store.vocabulary import local_centroids

MODELS = Path(__file__).resolve().parents[1] / "src" / "pictrace" / "models"


def descriptors(folder: Path, limit: int) -> np.ndarray:
    settings = load_settings()
    paths = sorted(expand([folder]))
    if limit and len(paths) > limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).astype(int)]
    rows = []
    for path in paths:
        try:
            image = decode(read_file(path, settings.max_bytes), settings)
        except InputError:
            continue
        rows.append(detect(image.pixels, (image.width, image.height)).descriptors)
    return np.concatenate(rows).astype(np.float32)


def vocabulary(data: np.ndarray, lists: int, seed: int) -> np.ndarray:
    kmeans = faiss.Kmeans(data.shape[1], lists, niter=20, seed=seed, verbose=False)
    kmeans.train(data)
    return kmeans.centroids.astype(np.float32)


def codebook(data: np.ndarray, seed: int, words: np.ndarray | None = None) -> np.ndarray:
    """(CODE_PARTS, 2**CODE_BITS, dim / CODE_PARTS) centroids of the parts of the descriptors'
    residuals from the vocabulary's words (as the index stores them; ``words``: the shipped
    vocabulary unless given)."""
    words = local_centroids() if words is None else words
    space = LocalSpace(data.shape[1], words, None)
    space.index.pq.cp.seed = seed
    space.index.pq.cp.max_points_per_centroid = len(data)  # every descriptor, not a sample
    space.index.train(data)
    parts = faiss.vector_to_array(space.index.pq.centroids).astype(np.float32)
    return parts.reshape(CODE_PARTS, 2**CODE_BITS, data.shape[1] // CODE_PARTS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("photos", type=Path)
    parser.add_argument("--codebook", action="store_true", help="train the codebook instead")
    parser.add_argument("--lists", type=int, default=4096)
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    data = descriptors(args.photos, args.limit)
    print(f"{len(data)} descriptors from {args.photos}", file=sys.stderr)
    if args.codebook:
        out, values = MODELS / "local_codebook.npy", codebook(data, args.seed)
    else:
        out, values = MODELS / "local_centroids.npy", vocabulary(data, args.lists, args.seed)
    np.save(out, values)
    print(f"wrote {out} {values.shape}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
