"""Running extractors over images: per image, batched, and a batch split with a pool."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pictrace.features.base import Extractor, FeatureSpec
from pictrace.features.cnn import CnnExtractor
from pictrace.features.hashes import HashExtractor
from pictrace.features.pipeline import batched_values, extract_all, per_image_values
from pictrace.types import DecodedImage
from tests.conftest import load_rgb


class _Recorder(Extractor):
    """A batched extractor noting which thread ran which images."""

    specs = (FeatureSpec("mean", 1, "array", 1),)
    batched = True

    def __init__(self) -> None:
        self.threads: dict[int, list[float]] = {}

    def extract_one(self, image):
        return self.extract([image])[0]

    def extract(self, images):
        values = [float(i.pixels.mean()) for i in images]
        self.threads.setdefault(threading.get_ident(), []).extend(values)
        return [{"mean": np.array([v], np.float32)} for v in values]


def _images(photos, n):
    files = sorted(photos.glob("*.jpg"))[:n]
    out = []
    for f in files:
        pixels = np.asarray(load_rgb(f))
        out.append(DecodedImage(pixels, pixels.shape[1], pixels.shape[0], "jpeg", "b", "p", 1))
    return out


def test_a_batch_split_with_a_pool_keeps_its_order_and_uses_both_threads(photos):
    images = _images(photos, 5)
    recorder = _Recorder()
    with ThreadPoolExecutor(1) as pool:
        split = batched_values([recorder], images, pool)
    alone = batched_values([_Recorder()], images)
    assert [float(v["mean"][0]) for v in split] == [float(v["mean"][0]) for v in alone]
    assert sorted(len(v) for v in recorder.threads.values()) == [2, 3]  # pool: the second half


def test_per_image_and_batched_values_together_are_every_extractor(photos):
    extractors = [HashExtractor(), CnnExtractor(threads=1)]
    together = extract_all(extractors, _images(photos, 4))
    for image, row in zip(_images(photos, 4), together, strict=True):  # fresh: no cached views
        single = per_image_values(extractors, image)
        assert set(single) == {"phash", "dhash"}
        assert all(single[k].tobytes() == row[k].tobytes() for k in single)
        assert set(row) == {"phash", "dhash", "cnn", "labels"}
    with ThreadPoolExecutor(1) as pool:
        split = batched_values(extractors, _images(photos, 4), pool)
    for row, values in zip(together, split, strict=True):
        np.testing.assert_allclose(row["cnn"], values["cnn"], atol=1e-6)
        assert row["labels"] == values["labels"]
