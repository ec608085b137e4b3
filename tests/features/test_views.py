"""Shared smaller views of a working copy."""

import numpy as np

from pictrace.features.colour import ColourExtractor, colour_histogram
from pictrace.features.hashes import HashExtractor, dhash, phash
from pictrace.features.views import (
    PREVIEW,
    SMALL,
    enlarged,
    preview,
    preview_of,
    shrink,
    small,
    to_short_side,
)
from pictrace.types import DecodedImage
from tests.conftest import load_rgb


def _image(pixels):
    return DecodedImage(pixels, pixels.shape[1], pixels.shape[0], "jpeg", "b", "p", 1)


def test_preview_is_computed_once_and_keeps_the_aspect(photos):
    image = _image(np.asarray(load_rgb(photos / "coffee.jpg").resize((1000, 600))))
    view = preview(image)
    assert view.shape == (192, PREVIEW, 3) and view.dtype == np.uint8
    assert preview(image) is view


def test_a_large_picture_is_reduced_once_for_the_cnn_and_the_preview(photos):
    """The costly area-averaging of the working copy is done once: the small view (the CNN's
    input before its crop) is reduced further into the preview."""
    image = _image(np.asarray(load_rgb(photos / "coffee.jpg").resize((1024, 768))))
    view = preview(image)
    assert small(image).shape == (SMALL, 299, 3)
    assert view.shape == (SMALL, 299, 3)  # already under PREVIEW on its long side
    wide = _image(np.asarray(load_rgb(photos / "coffee.jpg").resize((1024, 400))))
    assert small(wide).shape == (SMALL, 573, 3) and preview(wide).shape == (125, PREVIEW, 3)
    np.testing.assert_array_equal(preview(wide), shrink(small(wide), PREVIEW))


def test_a_picture_smaller_than_the_cnn_input_is_not_enlarged_for_the_preview():
    pixels = np.random.default_rng(1).integers(0, 255, (150, 200, 3), dtype=np.uint8)
    image = _image(pixels)
    assert small(image).shape == (SMALL, 299, 3)  # the CNN sees it enlarged
    np.testing.assert_array_equal(preview(image), pixels)


def test_a_picture_that_fits_the_preview_is_used_as_it_is():
    pixels = np.random.default_rng(2).integers(0, 255, (240, 300, 3), dtype=np.uint8)
    image = _image(pixels)
    assert small(image).shape == (SMALL, 280, 3)  # reduced for the CNN only
    np.testing.assert_array_equal(preview(image), pixels)


def test_threads_asking_at_once_share_one_computation(monkeypatch):
    import threading

    from pictrace.features import views

    calls = []
    started = threading.Event()

    def slow(pixels, side):
        calls.append(side)
        started.set()
        threading.Event().wait(0.05)
        return shrink(pixels, PREVIEW)

    monkeypatch.setattr(views, "to_short_side", slow)
    image = _image(np.zeros((600, 800, 3), np.uint8))
    other = threading.Thread(target=small, args=(image,))
    other.start()
    started.wait(5)
    mine = small(image)
    other.join()
    assert calls == [SMALL] and small(image) is mine


def test_small_pictures_are_not_enlarged():
    pixels = np.zeros((40, 30, 3), np.uint8)
    assert shrink(pixels, PREVIEW).shape == (40, 30, 3)


def test_extractors_agree_with_the_plain_functions(photos):
    pixels = np.asarray(load_rgb(photos / "rocket.jpg").resize((1024, 700)))
    hashes = HashExtractor().extract_one(_image(pixels))
    assert hashes["phash"].tobytes() == phash(pixels).tobytes()
    assert hashes["dhash"].tobytes() == dhash(pixels).tobytes()
    colour = ColourExtractor().extract_one(_image(pixels))["colour"]
    np.testing.assert_allclose(colour, colour_histogram(preview_of(pixels)))


def test_enlarging_is_smooth_not_blocks():
    """A picture enlarged for the CNN or SIFT must not turn each pixel into a block, whose
    edges both would take for detail."""
    checker = np.array([[0, 255, 0], [255, 0, 255], [0, 255, 0]], dtype=np.uint8)
    big = to_short_side(np.dstack([checker] * 3), 24)
    assert big.shape == (24, 24, 3)
    between = (big > 20) & (big < 235)
    assert between.mean() > 0.3
    np.testing.assert_array_equal(enlarged(checker, 8.0).shape, (24, 24))
    reduced = to_short_side(np.dstack([np.kron(checker, np.ones((8, 8), np.uint8))] * 3), 3)
    np.testing.assert_array_equal(reduced[..., 0], checker)  # shrinking still area-averages
