"""Signals between a query and its candidates, computed from stored features.

Every signal is a float with a fixed meaning; the calibrator turns a dict of them into a
copy confidence. Missing features simply leave their signal out. All candidates of a query
are compared at once (one matrix product per feature), not pair by pair.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pictrace.features.base import FIXED_WIDTH, FeatureRows, FeatureSpec, FeatureValue

Signals = dict[str, float]


def pair_signals(
    query: Mapping[str, FeatureValue],
    hit: Mapping[str, FeatureValue],
    specs: Mapping[str, FeatureSpec],
) -> Signals:
    """The signals of one pair (compare, calibration)."""
    stored = {
        name: FeatureRows.of({0: value})
        for name, value in hit.items()
        if name in specs and specs[name].kind in FIXED_WIDTH
    }
    return many_signals(query, stored, specs).get(0, {})


def many_signals(
    query: Mapping[str, FeatureValue],
    stored: Mapping[str, FeatureRows],
    specs: Mapping[str, FeatureSpec],
) -> dict[int, Signals]:
    """Per candidate id, its signals against ``query`` from ``stored`` (feature name ->
    the candidates' values as rows)."""
    signals: dict[int, Signals] = {}
    for name, spec in specs.items():
        rows = stored.get(name)
        if name not in query or rows is None or not rows.ids:
            continue
        if spec.kind == "bits":
            key, scores = name, min_hamming(query[name], rows.values.astype(np.uint8, copy=False))
        elif spec.kind == "vector":
            key = cosine_key(name)  # unit vectors in float16: rounding may pass 1
            scores = np.clip(
                rows.values.astype(np.float32, copy=False) @ _rows(query[name])[0], -1, 1
            )
        elif name == "colour":
            key = "colour"
            scores = correlations(query[name], rows.values.astype(np.float64, copy=False))
        else:
            continue
        for image_id, score in zip(rows.ids, scores.tolist(), strict=True):
            signals.setdefault(image_id, {})[key] = float(score)
    return signals


def cosine_key(name: str) -> str:
    """The signal a ``vector`` feature gives: its cosine with the query's."""
    return "cosine" if name == "cnn" else f"cosine_{name}"


def min_hamming(query_codes: FeatureValue, codes: np.ndarray) -> np.ndarray:
    """Per row of ``codes`` (n, bytes), its Hamming distance to the nearest query code (query
    hashes may hold several rows: test-time variants such as the mirror)."""
    query = np.asarray(query_codes, dtype=np.uint8).reshape(-1, codes.shape[1])
    differ = np.bitwise_xor(query[:, None, :], codes[None, :, :])
    return np.unpackbits(differ, axis=2).sum(axis=2, dtype=np.int64).min(axis=0)


def correlations(histogram: FeatureValue, rows: np.ndarray) -> np.ndarray:
    """Pearson correlation of a histogram with each row (the seeds' metric, OpenCV's
    HISTCMP_CORREL: 1 when either side is flat), in -1..1."""
    a = np.asarray(histogram, dtype=np.float64).ravel()
    a = a - a.mean()
    b = rows - rows.mean(axis=1, keepdims=True)
    product = (a @ a) * (b * b).sum(axis=1)
    flat = product <= np.finfo(np.float64).eps
    return np.where(flat, 1.0, (b @ a) / np.sqrt(np.where(flat, 1.0, product)))


def _rows(value: FeatureValue) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    return array.reshape(1, -1) if array.ndim == 1 else array
