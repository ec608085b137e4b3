import numpy as np
import pytest
from PIL import Image, ImageEnhance

from pictrace.features import cnn
from pictrace.features.cnn import CnnExtractor, imagenet_labels
from pictrace.types import DecodedImage
from tests.conftest import load_rgb


def _decoded(image: Image.Image) -> DecodedImage:
    pixels = np.asarray(image.convert("RGB"))
    return DecodedImage(pixels, image.width, image.height, "png", "b", "p", 1)


@pytest.fixture(scope="module")
def extractor() -> CnnExtractor:
    return CnnExtractor(threads=0)


def test_labels_file_has_imagenet_classes():
    labels = imagenet_labels()
    assert len(labels) == 1000
    assert labels[281].startswith("tabby")


def test_embedding_is_normalised_and_labels_are_plausible(photos, extractor):
    values = extractor.extract([_decoded(load_rgb(photos / "chelsea_cat.jpg"))])[0]
    vector = values["cnn"]
    assert vector.shape == (1280,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    top = [label for label, _ in values["labels"]]
    assert len(top) == 5 and any("cat" in label for label in top[:3])


def test_edited_copy_is_closer_than_unrelated_photo(photos, extractor):
    original = load_rgb(photos / "butterfly.jpg")
    edited = ImageEnhance.Color(original.resize((300, 220))).enhance(1.6)
    other = load_rgb(photos / "building.jpg")
    a, b, c = (
        v["cnn"] for v in extractor.extract([_decoded(i) for i in (original, edited, other)])
    )
    assert float(a @ b) > 0.85
    assert float(a @ b) > float(a @ c) + 0.2


def test_batches_match_single_runs(photos, extractor):
    images = [_decoded(load_rgb(photos / n)) for n in ("coffee.jpg", "rocket.jpg")]
    batch = extractor.extract(images)
    single = [extractor.extract([i])[0] for i in images]
    for one, two in zip(batch, single, strict=True):
        assert np.allclose(one["cnn"], two["cnn"], atol=1e-4)


def test_one_thread_runs_a_batch_in_chunks_with_the_same_results(photos, monkeypatch):
    names = ("coffee.jpg", "rocket.jpg", "chelsea_cat.jpg", "astronaut.jpg", "flower.jpg")
    images = [_decoded(load_rgb(photos / names[i % len(names)])) for i in range(cnn.CHUNK + 1)]
    sizes = []
    run = cnn.run_model
    monkeypatch.setattr(
        cnn, "run_model", lambda batch, threads: sizes.append(len(batch)) or run(batch, threads)
    )
    chunked = CnnExtractor(threads=1).extract(images)
    assert sizes == [cnn.CHUNK, len(images) - cnn.CHUNK]
    whole = CnnExtractor(threads=0, batch_threads=0).extract(images)  # all cores: one batch
    assert sizes[2:] == [len(images)]
    for one, two in zip(chunked, whole, strict=True):
        assert np.allclose(one["cnn"], two["cnn"], atol=1e-4)
        assert one["labels"][0][0] == two["labels"][0][0]


def test_beside_keypoints_the_cnn_runs_on_one_thread():
    auto = CnnExtractor(threads=0)
    assert auto.beside_local().threads == 1
    assert auto.first_look() is auto
    chosen = CnnExtractor(threads=2)  # the user's setting wins
    assert chosen.beside_local() is chosen
