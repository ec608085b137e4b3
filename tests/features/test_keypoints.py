import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pictrace.errors import IndexCorrupt
from pictrace.features.arrays import load_arrays
from pictrace.features.base import decode_value, encode
from pictrace.features.keypoints import (
    COUNT,
    KEYPOINTS,
    KeypointExtractor,
    Keypoints,
    crowded,
    decode_keypoints,
    detect,
    detect_spread,
    encode_keypoints,
    mirrored,
    negative,
    spread,
)
from pictrace.features.registry import all_specs, build_extractors, registered
from pictrace.types import DecodedImage
from tests.conftest import load_rgb


def _pixels(photos, name: str) -> np.ndarray:
    return np.asarray(load_rgb(photos / name))


def _decoded(pixels: np.ndarray, size: tuple[int, int] | None = None) -> DecodedImage:
    width, height = size or (pixels.shape[1], pixels.shape[0])
    return DecodedImage(pixels, width, height, "png", "b", "p", 0)


def test_registered_as_an_indexed_local_feature(settings):
    assert "keypoints" in registered()
    specs = all_specs(build_extractors(settings))
    assert specs["keypoints"] == KEYPOINTS
    assert (KEYPOINTS.kind, KEYPOINTS.dim) == ("local", 128)


def test_extracts_spread_rootsift_keypoints(photos):
    pixels = _pixels(photos, "astronaut.jpg")
    kp = detect(pixels, (pixels.shape[1], pixels.shape[0]))
    assert 0.9 * COUNT <= len(kp) <= COUNT
    assert kp.descriptors.dtype == np.uint8 and kp.descriptors.shape == (len(kp), 128)
    assert (kp.xy >= 0).all() and (kp.xy[:, 0] <= pixels.shape[1]).all()
    assert (kp.xy[:, 1] <= pixels.shape[0]).all()
    # spread over the picture: every quarter holds a fair share
    quarters = (kp.xy[:, 0] > pixels.shape[1] / 2) * 2 + (kp.xy[:, 1] > pixels.shape[0] / 2)
    assert np.bincount(quarters, minlength=4).min() >= len(kp) // 8


def test_coordinates_are_in_the_full_size_frame(photos):
    """The working copy may be downscaled: keypoints come back in full-size pixels."""
    pixels = _pixels(photos, "coffee.jpg")
    small = detect(pixels, (pixels.shape[1] * 3, pixels.shape[0] * 3))
    plain = detect(pixels, (pixels.shape[1], pixels.shape[0]))
    np.testing.assert_allclose(small.xy, plain.xy * 3, rtol=1e-5)
    np.testing.assert_allclose(small.scale, plain.scale * 3, rtol=1e-5)
    assert small.size == (pixels.shape[1] * 3, pixels.shape[0] * 3)


def test_extractor_value_round_trips_through_the_catalogue_encoding(photos):
    pixels = _pixels(photos, "rocket.jpg")
    value = KeypointExtractor().extract_one(_decoded(pixels))["keypoints"]
    blob = encode(KEYPOINTS, value)
    kp = decode_keypoints(decode_value(KEYPOINTS, blob))
    assert kp.size == (pixels.shape[1], pixels.shape[0])
    assert len(blob) < 136 * len(kp) + 100  # 135 bytes per keypoint plus small headers
    assert set(load_arrays(blob)) == {"xy", "angle", "scale", "desc", "size"}


def _keypoints(n: int, width: int, height: int, seed: int) -> Keypoints:
    rng = np.random.default_rng(seed)
    return Keypoints(
        xy=(rng.random((n, 2)) * [width, height]).astype(np.float32),
        angle=(rng.random(n) * 360).astype(np.float32),
        scale=(rng.random(n) * 40 + 1).astype(np.float32),
        descriptors=rng.integers(0, 256, (n, 128), dtype=np.uint8),
        size=(width, height),
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    width=st.integers(1, 20000),
    height=st.integers(1, 20000),
    seed=st.integers(0, 2**32 - 1),
)
def test_blob_round_trips(n, width, height, seed):
    kp = _keypoints(n, width, height, seed)
    back = decode_keypoints(encode_keypoints(kp))
    assert back.size == kp.size
    np.testing.assert_array_equal(back.descriptors, kp.descriptors)
    step = np.array([width, height]) / 65535.0
    assert (np.abs(back.xy - kp.xy) <= step * 0.51 + 1e-3).all()
    angle_err = np.abs((back.angle - kp.angle + 180) % 360 - 180)
    assert (angle_err <= 360 / 256 / 2 + 1e-3).all()
    np.testing.assert_allclose(back.scale, kp.scale, rtol=2e-3)


@pytest.mark.parametrize(
    "blob", [b"", b"not an array container", encode_keypoints(_keypoints(3, 9, 9, 0))[:40]]
)
def test_a_malformed_blob_is_reported_as_corrupt(blob):
    with pytest.raises(IndexCorrupt, match="re-add"):
        decode_keypoints(blob)


def test_a_flat_picture_has_no_keypoints():
    flat = np.full((120, 160, 3), 128, np.uint8)
    kp = detect(flat, (160, 120))
    assert len(kp) == 0
    assert len(decode_keypoints(encode_keypoints(kp))) == 0


def _nearest(predicted: Keypoints, actual: Keypoints) -> tuple[np.ndarray, np.ndarray]:
    """For each predicted keypoint, the actual one with the nearest descriptor, and whether
    that one sits at the same place (within 2 px)."""
    a = predicted.descriptors.astype(np.float32)
    b = actual.descriptors.astype(np.float32)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    nearest = (a @ b.T).argmax(axis=1)
    return nearest, np.linalg.norm(predicted.xy - actual.xy[nearest], axis=1) < 2.0


def test_mirrored_descriptors_match_those_of_the_mirrored_picture(photos):
    """The descriptor permutation stands in for extracting the mirrored query again."""
    pixels = _pixels(photos, "chelsea_cat.jpg")
    size = (pixels.shape[1], pixels.shape[0])
    actual = detect(np.ascontiguousarray(pixels[:, ::-1]), size)
    _, same_place = _nearest(mirrored(detect(pixels, size)), actual)
    assert same_place.mean() > 0.6


def test_negative_descriptors_match_those_of_the_negative_picture(photos):
    """A colour-inverted copy has the same keypoints turned by 180 degrees, and its
    descriptors are a permutation of the original's: no second extraction is needed."""
    pixels = _pixels(photos, "chelsea_cat.jpg")
    size = (pixels.shape[1], pixels.shape[0])
    plain = detect(pixels, size)
    actual = detect(np.ascontiguousarray(255 - pixels), size)
    nearest, same_place = _nearest(negative(plain), actual)
    assert same_place.mean() > 0.8
    turned = (actual.angle[nearest] - plain.angle + 360.0) % 360.0 - 180.0
    assert np.median(np.abs(turned[same_place])) < 5.0  # each turned by 180 degrees
    _, unpermuted = _nearest(plain, actual)  # the original's own descriptors do not match
    assert unpermuted.mean() < 0.3


@pytest.mark.parametrize("variant", [mirrored, negative])
@given(seed=st.integers(0, 1000))
@settings(max_examples=10, deadline=None)
def test_each_variant_twice_is_the_identity(variant, seed):
    kp = _keypoints(20, 300, 200, seed)
    twice = variant(variant(kp))
    np.testing.assert_array_equal(twice.descriptors, kp.descriptors)
    np.testing.assert_allclose(twice.xy, kp.xy, atol=1e-3)
    np.testing.assert_allclose(twice.angle % 360, kp.angle % 360, atol=1e-3)


@given(
    points=hnp.arrays(
        np.float32, st.tuples(st.integers(0, 200), st.just(2)), elements=st.floats(0, 99, width=32)
    ),
    count=st.integers(0, 300),
)
@settings(max_examples=30, deadline=None)
def test_spread_keeps_the_strongest_of_every_cell(points, count):
    response = np.arange(len(points), dtype=np.float32)[::-1].copy()
    kept = spread(points, response, 100, 100, count, 4)
    assert len(kept) == min(count, len(points))
    assert len(set(kept.tolist())) == len(kept)
    if len(points) and count >= 16:
        cells = np.minimum(points[:, 1] * 4 // 100, 3) * 4 + np.minimum(points[:, 0] * 4 // 100, 3)
        for cell in np.unique(cells):
            strongest = np.flatnonzero(cells == cell)[0]  # responses fall with the index
            assert strongest in kept
        # spread order: the first few cover every occupied cell once
        occupied = len(np.unique(cells))
        assert len(np.unique(cells[kept[:occupied]])) == occupied


def checkered(picture: np.ndarray, margin: int = 90, step: int = 12) -> np.ndarray:
    """``picture`` inside a black and violet checkered border ``margin`` px wide."""
    height, width = picture.shape[0] + 2 * margin, picture.shape[1] + 2 * margin
    rows, cols = np.indices((height, width))
    dark = ((rows // step + cols // step) % 2).astype(bool)
    canvas = np.where(dark[:, :, None], [20, 10, 60], [170, 120, 210]).astype(np.uint8)
    canvas[margin:-margin, margin:-margin] = picture
    return canvas


def in_middle(kp: Keypoints, margin: int) -> int:
    width, height = kp.size
    x, y = kp.xy[:, 0], kp.xy[:, 1]
    return int(((x > margin) & (x < width - margin) & (y > margin) & (y < height - margin)).sum())


def test_a_patterned_border_crowds_the_strongest_keypoints_out_of_the_picture(photos):
    """The checkers' corners outdo the photo's keypoints; spread from all that SIFT finds,
    the photo inside gets its share (``detect_spread``), and the second look does so."""
    framed = checkered(_pixels(photos, "coffee.jpg"))
    size = (framed.shape[1], framed.shape[0])
    strongest = detect(framed, size, 384, 384)
    assert crowded(strongest)
    spread_out = detect_spread(framed, size, 384, 384)
    assert in_middle(spread_out, 90) >= 3 * max(in_middle(strongest, 90), 10)
    looked = decode_keypoints(KeypointExtractor().refine(_decoded(framed))["keypoints"])
    assert in_middle(looked, 90) == in_middle(spread_out, 90)
    plain = _pixels(photos, "coffee.jpg")
    assert not crowded(detect(plain, (plain.shape[1], plain.shape[0]), 384, 384))
