"""Shared smaller views of a working copy."""

import numpy as np

from pictrace.features.colour import ColourExtractor, colour_histogram
from pictrace.features.hashes import HashExtractor, dhash, phash
from pictrace.features.views import PREVIEW, preview, shrink
from pictrace.types import DecodedImage
from tests.conftest import load_rgb


def _image(pixels):
    return DecodedImage(pixels, pixels.shape[1], pixels.shape[0], "jpeg", "b", "p", 1)


def test_preview_is_computed_once_and_keeps_the_aspect(photos):
    image = _image(np.asarray(load_rgb(photos / "coffee.jpg").resize((1000, 600))))
    view = preview(image)
    assert view.shape == (192, PREVIEW, 3) and view.dtype == np.uint8
    assert preview(image) is view


def test_small_pictures_are_not_enlarged():
    pixels = np.zeros((40, 30, 3), np.uint8)
    assert shrink(pixels, PREVIEW).shape == (40, 30, 3)


def test_extractors_agree_with_the_plain_functions(photos):
    pixels = np.asarray(load_rgb(photos / "rocket.jpg").resize((1024, 700)))
    hashes = HashExtractor().extract_one(_image(pixels))
    assert hashes["phash"].tobytes() == phash(pixels).tobytes()
    assert hashes["dhash"].tobytes() == dhash(pixels).tobytes()
    colour = ColourExtractor().extract_one(_image(pixels))["colour"]
    np.testing.assert_allclose(colour, colour_histogram(shrink(pixels, PREVIEW)))
