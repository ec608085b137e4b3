"""All candidates' signals at once equal the signals pair by pair (OpenCV's correlation,
plain bit counts, dot products)."""

import cv2
import numpy as np
import pytest

from pictrace.features.base import FeatureRows, FeatureSpec
from pictrace.features.hashes import hamming
from pictrace.search.signals import many_signals, pair_signals

SPECS = {
    "cnn": FeatureSpec("cnn", 1, "vector", 8),
    "phash": FeatureSpec("phash", 1, "bits", 64),
    "colour": FeatureSpec("colour", 1, "array", 16),
    "labels": FeatureSpec("labels", 1, "labels", 5),
}


def _features(rng: np.random.Generator, flat: bool = False) -> dict:
    vector = rng.normal(size=8).astype(np.float32)
    colour = np.full(16, 1 / 16, np.float32) if flat else rng.random(16).astype(np.float32)
    return {
        "cnn": vector / np.linalg.norm(vector),
        "phash": rng.integers(0, 256, 8, dtype=np.uint8),
        "colour": colour,
        "labels": (("tabby", 0.9),),
    }


def test_many_candidates_at_once_match_each_pair():
    rng = np.random.default_rng(5)
    query = _features(rng)
    query["phash"] = np.stack([query["phash"], rng.integers(0, 256, 8, dtype=np.uint8)])
    hits = {i: _features(rng, flat=i == 3) for i in range(1, 6)}
    values = {name: {i: f[name] for i, f in hits.items()} for name in SPECS if name != "labels"}
    del values["cnn"][2]  # a candidate without a stored embedding has no cosine
    together = many_signals(query, {n: FeatureRows.of(v) for n, v in values.items()}, SPECS)
    for i, hit in hits.items():
        expected_colour = cv2.compareHist(query["colour"], hit["colour"], cv2.HISTCMP_CORREL)
        assert together[i]["colour"] == pytest.approx(expected_colour, abs=1e-9)
        assert together[i]["phash"] == min(hamming(row, hit["phash"]) for row in query["phash"])
        if i == 2:
            assert "cosine" not in together[i]
        else:
            assert together[i]["cosine"] == pytest.approx(float(query["cnn"] @ hit["cnn"]))
        assert set(together[i]) <= {"colour", "phash", "cosine"}
        one = pair_signals(query, {k: v for k, v in hit.items() if i != 2 or k != "cnn"}, SPECS)
        assert one == pytest.approx(together[i])
    assert together[3]["colour"] == 1.0  # a flat histogram correlates as OpenCV says


def test_no_shared_features_no_signals():
    assert (
        pair_signals({"cnn": np.ones(8, np.float32)}, {"phash": np.zeros(8, np.uint8)}, SPECS) == {}
    )


def test_a_cosine_stays_within_minus_one_and_one():
    """Stored vectors are float16: a unit vector read back may be a little longer, and its
    cosine with itself came out as 1.000016."""
    query = np.zeros(8, np.float32)
    query[0] = 1.0
    stored = np.array([[1.0002, 0, 0, 0, 0, 0, 0, 0], [-1.0002, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    found = many_signals({"cnn": query}, {"cnn": FeatureRows((1, 2), stored)}, SPECS)
    assert found[1]["cosine"] == 1.0 and found[2]["cosine"] == -1.0
