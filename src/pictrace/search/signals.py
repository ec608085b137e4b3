"""Pairwise signals between a query and a candidate, computed from stored features.

Every signal is a float with a fixed meaning; the calibrator turns a dict of them into a
copy confidence. Missing features simply leave their signal out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from pictrace.features.base import FeatureSpec, FeatureValue
from pictrace.features.colour import histogram_correlation
from pictrace.features.hashes import hamming

Signals = dict[str, float]


def pair_signals(
    query: Mapping[str, FeatureValue],
    hit: Mapping[str, FeatureValue],
    specs: Mapping[str, FeatureSpec],
) -> Signals:
    signals: Signals = {}
    for name, spec in specs.items():
        if name not in query or name not in hit:
            continue
        if spec.kind == "bits":
            signals[name] = float(_min_hamming(query[name], hit[name]))
        elif spec.kind == "vector":
            key = "cosine" if name == "cnn" else f"cosine_{name}"
            signals[key] = float(np.dot(_rows(query[name])[0], np.asarray(hit[name])))
        elif name == "colour":
            signals["colour"] = histogram_correlation(query[name], hit[name])
    return signals


def _rows(value: FeatureValue) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    return array.reshape(1, -1) if array.ndim == 1 else array


def _min_hamming(query_codes: FeatureValue, code: FeatureValue) -> int:
    """Query hashes may hold several rows (test-time variants such as the mirror)."""
    codes = np.asarray(query_codes, dtype=np.uint8).reshape(-1, np.asarray(code).size)
    return min(hamming(row, np.asarray(code, dtype=np.uint8)) for row in codes)
