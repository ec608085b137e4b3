import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pictrace.features.base import decode_value, encode
from pictrace.features.hashes import DHASH, PHASH, dhash, hamming, phash
from pictrace.types import DecodedImage
from tests.conftest import load_rgb, noise_image


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


def test_golden_values_guard_the_algorithm(photos):
    gradient = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (48, 1, 3))
    assert phash(gradient).tobytes().hex() == "a000000000000000"
    assert dhash(gradient).tobytes().hex() == "ffffffffffffffff"
    baboon = _pixels(load_rgb(photos / "baboon.jpg"))
    assert phash(baboon).tobytes().hex() == "df20607d1fa0d88f"
    assert dhash(baboon).tobytes().hex() == "1fabea6868385268"
    # larger than the preview: reduced to the CNN's 224 px small view, which is the preview
    rocket = _pixels(load_rgb(photos / "rocket.jpg").resize((1000, 750)))
    assert phash(rocket).tobytes().hex() == "c0371bec1be51267"
    assert dhash(rocket).tobytes().hex() == "e0c0c0d0909090d1"


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.3, 2.0), quality=st.integers(30, 95))
def test_resized_reencoded_copy_is_close(photos, scale, quality):
    original = load_rgb(photos / "baboon.jpg")
    size = (max(16, int(original.width * scale)), max(16, int(original.height * scale)))
    import io

    buffer = io.BytesIO()
    original.resize(size).save(buffer, format="JPEG", quality=quality)
    copy = Image.open(io.BytesIO(buffer.getvalue()))
    assert hamming(phash(_pixels(original)), phash(_pixels(copy))) <= 8
    assert hamming(dhash(_pixels(original)), dhash(_pixels(copy))) <= 12


def test_unrelated_photos_are_far(photos):
    names = ["baboon.jpg", "coffee.jpg", "rocket.jpg", "building.jpg", "fruits.jpg"]
    codes = [phash(_pixels(load_rgb(photos / n))) for n in names]
    distances = [hamming(a, b) for i, a in enumerate(codes) for b in codes[i + 1 :]]
    assert min(distances) >= 16


@given(seed=st.integers(0, 10_000))
@settings(max_examples=20, deadline=None)
def test_hash_serialisation_round_trips(seed):
    pixels = _pixels(noise_image(seed))
    for spec, fn in ((PHASH, phash), (DHASH, dhash)):
        code = fn(pixels)
        assert code.shape == (8,) and code.dtype == np.uint8
        assert np.array_equal(decode_value(spec, encode(spec, code)), code)


def test_extractor_outputs_both_hashes(photos):
    from pictrace.features.hashes import HashExtractor

    image = DecodedImage(_pixels(load_rgb(photos / "coffee.jpg")), 1, 1, "jpeg", "a", "b", 1)
    values = HashExtractor().extract_one(image)
    assert set(values) == {"phash", "dhash"}
