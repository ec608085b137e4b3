"""CNN features from EfficientNet-Lite0 (ImageNet-1k): one forward pass per image gives

* ``cnn``    - the global embedding: what makes "similar" (same kind of picture) work and
               finds mildly edited copies; it cannot tell an edited copy from a different photo
               of the same subject, and it degrades on small crops and large rotations.
* ``labels`` - the top-5 ImageNet classes, for ``search --text`` and for display.

The ONNX file is exported by ``tools/export_onnx.py`` with the input normalisation inside the
graph: it takes float RGB pixels in 0..255, NCHW, any batch and size.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from pictrace.features.base import Extractor, FeatureSpec, l2_normalise
from pictrace.features.onnx_runtime import session
from pictrace.features.registry import register
from pictrace.features.views import SMALL, middle_band, small, to_short_side
from pictrace.settings import Settings
from pictrace.types import DecodedImage

INPUT_SIZE = SMALL  # 224: the shared small view is the CNN's input before its centre crop
EMBED_DIM = 1280
CNN = FeatureSpec("cnn", 4, "vector", EMBED_DIM)
LABELS = FeatureSpec("labels", 2, "labels", 5)


def model_path() -> Path:
    return Path(str(resources.files("pictrace") / "models" / "efficientnet_lite0.onnx"))


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    text = (resources.files("pictrace") / "models" / "imagenet_labels.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def preprocess(pixels: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """RGB uint8 HxWx3 -> float32 3xSxS: shorter side to ``size``, centre crop.

    Centre-cropping beat squashing the whole picture for every pooling choice on both
    class-labelled sets (bench/results/semantic.md); borders and captions matter little to
    the embedding, and crops/overlays are found by local features anyway."""
    return centre_crop(to_short_side(middle_band(pixels), size), size)


def centre_crop(resized: np.ndarray, size: int = INPUT_SIZE) -> np.ndarray:
    """A picture whose short side is ``size`` -> its centre ``size`` x ``size`` as float32 CHW."""
    height, width = resized.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    return resized[top : top + size, left : left + size].astype(np.float32).transpose(2, 0, 1)


def run_model(batch: np.ndarray, threads: int) -> dict[str, np.ndarray]:
    """Run the network on an NCHW float batch; returns its named outputs."""
    sess = session(str(model_path()), threads)
    names = [output.name for output in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {"pixels": batch}), strict=True))


GEM_P = 3.0
BATCH_THREADS = 1
# One onnxruntime thread runs small batches faster per image: 13.6 ms at 4 images, 15.1 ms at
# 16, 16.9 ms at 32 (the activations of a large batch outgrow the core's cache); two threads
# prefer large ones (10.8 ms at 4, 10.0 ms at 16). Batches on one thread run in CHUNKs.
CHUNK = 4


def gem(maps: np.ndarray, p: float = GEM_P) -> np.ndarray:
    """Generalised-mean pooling of (N,C,h,w) maps over space -> (N,C)."""
    clipped = np.maximum(maps.astype(np.float64), 1e-6)
    return np.power(np.power(clipped, p).mean(axis=(2, 3)), 1.0 / p).astype(np.float32)


def global_embedding(head: np.ndarray) -> np.ndarray:
    """GeM-pooled (p=3) 1280-channel head maps (N,C,h,w) as L2-normalised vectors (N,C).

    GeM beat plain average pooling, PCA-whitening and concatenations on both class-labelled
    sets (bench/results/semantic.md)."""
    return l2_normalise(gem(head))


def top_labels(logits: np.ndarray, k: int = 5) -> list[tuple[tuple[str, float], ...]]:
    names = imagenet_labels()
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    order = np.argsort(-probs, axis=1)[:, :k]
    return [
        tuple((names[j], float(row[j])) for j in idx) for row, idx in zip(probs, order, strict=True)
    ]


class CnnExtractor(Extractor):
    specs = (CNN, LABELS)
    batched = True

    def __init__(self, threads: int, batch_threads: int = BATCH_THREADS) -> None:
        """``threads`` for one image (0: all cores; a search's first look beside keypoints
        uses one, see ``beside_local``), ``batch_threads`` for batches (indexing: the per-image
        extractors keep the other core busy, and one onnxruntime thread spends 20% less CPU
        per image than two)."""
        self.threads = threads
        self.batch_threads = batch_threads if threads == 0 else threads

    def extract(self, images: Sequence[DecodedImage]) -> list[dict[str, object]]:
        threads = self.threads if len(images) == 1 else self.batch_threads
        step = CHUNK if threads == 1 else max(1, len(images))
        return [
            row
            for i in range(0, len(images), step)
            for row in self._run(images[i : i + step], threads)
        ]

    def _run(self, images: Sequence[DecodedImage], threads: int) -> list[dict[str, object]]:
        outputs = run_model(np.stack([centre_crop(small(image)) for image in images]), threads)
        vectors = global_embedding(outputs["head"])
        labels = top_labels(outputs["logits"])
        return [{"cnn": v, "labels": lab} for v, lab in zip(vectors, labels, strict=True)]

    def beside_local(self) -> Extractor:
        """Beside a query's local features (keypoints on the other core) the CNN runs on one
        thread when its threads are automatic: two threads made it 1.15x faster alone but
        crowded the keypoints, and searches took 1.06x longer (BENCHMARKS.md, "Speed")."""
        return CnnExtractor(1) if self.threads == 0 else self

    def extract_one(self, image: DecodedImage) -> dict[str, object]:
        return self.extract([image])[0]


@register("cnn")
def _factory(settings: Settings) -> Extractor:
    return CnnExtractor(settings.threads)
