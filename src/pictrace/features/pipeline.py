"""Run every extractor over a batch of images and merge their outputs per image."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from concurrent.futures import Executor, Future

import cv2

from pictrace.features.base import Extractor, FeatureSpec, FeatureValue, encode
from pictrace.types import Box, DecodedImage

# What an image library raises when it fails on one picture (an unforeseen shape, say): that
# picture fails (``errors.Unprocessable``, its reason in the report; the traceback is logged at
# debug level, `pictrace -v`), the others of an add or of a run of queries go on. A bug of ours
# that raises one of these fails each picture the same way; anything else (a broken model, a
# full disk, a TypeError) stops the work.
PICTURE_FAILURES: tuple[type[Exception], ...] = (cv2.error, ValueError, ArithmeticError)


def extract_all(
    extractors: Sequence[Extractor], images: Sequence[DecodedImage]
) -> list[dict[str, FeatureValue]]:
    """Every extractor's values per image of a batch, on this thread."""
    merged = batched_values(extractors, images)
    for row, image in zip(merged, images, strict=True):
        row.update(per_image_values(extractors, image))
    return merged


def per_image_values(
    extractors: Sequence[Extractor], image: DecodedImage
) -> dict[str, FeatureValue]:
    """The values of the per-image extractors (hashes, keypoints, ...) of one image. Adding
    runs them on the pool right after the image's decode, so the pool never waits for the
    CNN to finish a batch before starting on the next (OpenCV, numpy and onnxruntime release
    the GIL)."""
    return _run([e for e in extractors if not e.batched], image)


def batched_values(
    extractors: Sequence[Extractor], images: Sequence[DecodedImage], pool: Executor | None = None
) -> list[dict[str, FeatureValue]]:
    """The values of the batched extractors (CNNs) per image of a batch. With a pool, its
    second half runs there while this thread runs the first: at the end of an add, when the
    pool has nothing else to read, both cores work on the last batches. (Halves of at least
    two images: a single image would run on all cores.)"""
    if pool is None or len(images) < 4:
        return _batched(extractors, images)
    half = (len(images) + 1) // 2
    later = pool.submit(_batched, extractors, images[half:])
    try:
        mine = _batched(extractors, images[:half])
    except BaseException:
        later.cancel()
        raise
    return mine + later.result()


def _batched(
    extractors: Sequence[Extractor], images: Sequence[DecodedImage]
) -> list[dict[str, FeatureValue]]:
    merged: list[dict[str, FeatureValue]] = [{} for _ in images]
    for extractor in extractors:
        if extractor.batched and images:
            for row, values in zip(merged, extractor.extract(images), strict=True):
                row.update(values)
    return merged


def start_local(
    extractors: Sequence[Extractor], image: DecodedImage, pool: Executor
) -> Future[dict[str, FeatureValue]] | None:
    """One query's local features (keypoints: the slowest) started on the pool, or None when
    no extractor has any. Start them first: a search can chain work to this future."""
    local = [e for e in extractors if not e.batched and is_local(e)]
    return pool.submit(_run, local, image) if local else None


def start_global(
    extractors: Sequence[Extractor], image: DecodedImage, pool: Executor
) -> list[Future[dict[str, FeatureValue]]]:
    """One query's per-image global features (hashes, colour) started on the pool, one task
    per extractor: a search can chain work to them (its hash-space lookups)."""
    single = [e for e in extractors if not e.batched and not is_local(e)]
    return [pool.submit(_run, [e], image) for e in single]


def global_features(
    extractors: Sequence[Extractor],
    image: DecodedImage,
    started: Sequence[Future[dict[str, FeatureValue]]],
) -> dict[str, FeatureValue]:
    """One query's global features: the batched ones (CNNs) on this thread, then those
    ``start_global`` started on the pool, so a search can look up candidates while the local
    features (``start_local``) are still computing."""
    ready: dict[str, FeatureValue] = {}
    for extractor in extractors:
        if extractor.batched:
            ready.update(extractor.extract([image])[0])
    for future in started:
        ready.update(future.result())
    return ready


def finer_values(
    extractors: Sequence[Extractor],
    image: DecodedImage,
    region: Box | None = None,
    enlarge: bool = True,
) -> dict[str, FeatureValue]:
    """The extractors' finer values of a query (a search's second look: ``refine``, or with
    ``enlarge`` the ``enlarged_look`` of a picture too small for it; of ``region`` only, its
    zoomed look)."""
    finer: dict[str, FeatureValue] = {}
    for extractor in extractors:
        if region is None:
            values = extractor.refine(image)
            if values is None and enlarge:
                values = extractor.enlarged_look(image)
            finer.update(values or {})
        elif "region" in inspect.signature(extractor.refine).parameters:
            finer.update(extractor.refine(image, region) or {})
        # (an extractor written for the one-argument refine has no zoomed look)
    return finer


def is_local(extractor: Extractor) -> bool:
    return any(spec.kind == "local" for spec in extractor.specs)


def _run(chosen: Sequence[Extractor], image: DecodedImage) -> dict[str, FeatureValue]:
    row: dict[str, FeatureValue] = {}
    for extractor in chosen:
        row.update(extractor.extract_one(image))
    return row


def encode_all(
    specs: dict[str, FeatureSpec], values: dict[str, FeatureValue]
) -> dict[str, tuple[int, bytes]]:
    return {
        name: (specs[name].version, encode(specs[name], v))
        for name, v in values.items()
        if name in specs
    }
