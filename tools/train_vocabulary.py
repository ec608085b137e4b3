"""Train the coarse quantizer ("visual vocabulary") of the local-descriptor index.

Reproduce with: ``.venv/bin/python tools/train_vocabulary.py /work/shared/photos``
It extracts PicTrace's RootSIFT keypoints from every photo under the folder, runs faiss
k-means with ``--lists`` centroids, and writes ``src/pictrace/models/local_centroids.npy``.
The centroids only route descriptors to inverted lists; stored descriptors are exact (uint8),
so a vocabulary trained on other photos costs a little speed, never correctness.
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

OUT = Path(__file__).resolve().parents[1] / "src" / "pictrace" / "models" / "local_centroids.npy"


def descriptors(folder: Path) -> np.ndarray:
    settings = load_settings()
    rows = []
    for path in expand([folder]):
        try:
            image = decode(read_file(path, settings.max_bytes), settings)
        except InputError:
            continue
        rows.append(detect(image.pixels, (image.width, image.height)).descriptors)
    return np.concatenate(rows).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("photos", type=Path)
    parser.add_argument("--lists", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    data = descriptors(args.photos)
    print(f"{len(data)} descriptors from {args.photos}", file=sys.stderr)
    kmeans = faiss.Kmeans(data.shape[1], args.lists, niter=20, seed=args.seed, verbose=False)
    kmeans.train(data)
    np.save(OUT, kmeans.centroids.astype(np.float32))
    print(f"wrote {OUT} ({args.lists} centroids)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
