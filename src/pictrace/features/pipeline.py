"""Run every extractor over a batch of images and merge their outputs per image."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor

from pictrace.features.base import Extractor, FeatureSpec, FeatureValue, encode
from pictrace.types import DecodedImage


def extract_all(
    extractors: Sequence[Extractor], images: Sequence[DecodedImage], pool: Executor | None = None
) -> list[dict[str, FeatureValue]]:
    """Every extractor's values per image. With a pool, the per-image extractors (hashes,
    keypoints, ...) run on its threads while the batched ones (CNNs) run here, so both cores
    work; OpenCV, onnxruntime and numpy release the GIL."""
    single = [e for e in extractors if not e.batched]
    batched = [e for e in extractors if e.batched]

    def per_image(image: DecodedImage) -> dict[str, FeatureValue]:
        row: dict[str, FeatureValue] = {}
        for extractor in single:
            row.update(extractor.extract_one(image))
        return row

    futures = [pool.submit(per_image, image) for image in images] if pool else []
    merged: list[dict[str, FeatureValue]] = [{} for _ in images]
    for extractor in batched:
        for row, values in zip(merged, extractor.extract(images), strict=True):
            row.update(values)
    rows = [f.result() for f in futures] if pool else [per_image(i) for i in images]
    for row, values in zip(merged, rows, strict=True):
        row.update(values)
    return merged


def encode_all(
    specs: dict[str, FeatureSpec], values: dict[str, FeatureValue]
) -> dict[str, tuple[int, bytes]]:
    return {
        name: (specs[name].version, encode(specs[name], v))
        for name, v in values.items()
        if name in specs
    }
