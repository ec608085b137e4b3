"""Run every extractor over a batch of images and merge their outputs per image."""

from __future__ import annotations

from collections.abc import Sequence

from pictrace.features.base import Extractor, FeatureSpec, FeatureValue, encode
from pictrace.types import DecodedImage


def extract_all(extractors: Sequence[Extractor], images: Sequence[DecodedImage]
                ) -> list[dict[str, FeatureValue]]:
    merged: list[dict[str, FeatureValue]] = [{} for _ in images]
    for extractor in extractors:
        for row, values in zip(merged, extractor.extract(images), strict=True):
            row.update(values)
    return merged


def encode_all(specs: dict[str, FeatureSpec], values: dict[str, FeatureValue]
               ) -> dict[str, tuple[int, bytes]]:
    return {name: (specs[name].version, encode(specs[name], v))
            for name, v in values.items() if name in specs}
