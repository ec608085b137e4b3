"""Different photos that carry the same credit line are not copies; copies still are."""

import numpy as np
import pytest

from pictrace import Index
from pictrace.evaluate.credits import (
    FLOWERS_LINE,
    Credit,
    ShopMark,
    boxed,
    credited,
    random_credit,
    shop_marked,
)
from pictrace.search.overlap import coverage
from tests.conftest import load_rgb

CREDIT = boxed(FLOWERS_LINE, "tl")
DIFFERENT = [
    "baboon.jpg",
    "clothing_hat_1.jpg",
    "clothing_shoes_0.jpg",
    "clothing_shoes_2.jpg",
    "butterfly.jpg",
    "squirrel.jpg",
]
INDEXED = [
    "clothing_shoes_1.jpg",
    "chelsea_cat.jpg",
    "clothing_hat_2.jpg",
    "astronaut.jpg",
    "fruits.jpg",
    "coffee.jpg",
]


@pytest.fixture(scope="module")
def credited_index(photos, tmp_path_factory):
    folder = tmp_path_factory.mktemp("credited")
    for name in INDEXED + DIFFERENT:
        credited(load_rgb(photos / name), CREDIT).save(folder / name, quality=90)
    with Index.open(folder / "index") as index:
        index.add([str(folder / name) for name in INDEXED])
    return folder


def test_different_photos_with_the_same_credit_line_are_not_copies(credited_index):
    # the marks' keypoints match and fit the identity, but only in their corner
    with Index.open(credited_index / "index", readonly=True) as index:
        for name in DIFFERENT:
            matches = index.search(credited_index / name, k=3).matches
            assert all(m.tier == "similar" for m in matches), (name, matches[0])
            assert matches[0].copy_confidence < index.settings.copy_threshold


def test_an_edited_copy_of_a_credited_photo_is_still_a_copy(credited_index, tmp_path):
    original = load_rgb(credited_index / "coffee.jpg")
    w, h = original.size
    original.crop((w // 10, h // 8, w, h)).save(tmp_path / "edited.jpg", quality=70)
    with Index.open(credited_index / "index", readonly=True) as index:
        best = index.search(tmp_path / "edited.jpg", k=1).matches[0]
    assert best.source.endswith("coffee.jpg") and best.tier == "copy"
    assert best.evidence is not None and best.evidence.coverage > 0.3


def test_coverage_is_the_share_of_the_overlap_the_inliers_span():
    grid = np.array([(x, y) for x in range(0, 101, 10) for y in range(0, 101, 10)], np.float32)
    everywhere = grid[(grid[:, 0] % 20 == 0) & (grid[:, 1] % 20 == 0)]
    corner = grid[(grid[:, 0] <= 20) & (grid[:, 1] <= 20)]
    assert coverage(grid, everywhere, (0, 0, 100, 100)) == pytest.approx(1.0)
    assert coverage(grid, corner, (0, 0, 100, 100)) == pytest.approx(0.04)
    # only the keypoints inside the overlap count: the corner is all of a small overlap
    assert coverage(grid, corner, (0, 0, 20, 20)) == pytest.approx(1.0)
    assert coverage(grid, corner[:2], (0, 0, 100, 100)) == 0.0  # two points span no area


def test_credit_marks_are_drawn_alike_on_every_picture(photos):
    a = np.asarray(credited(load_rgb(photos / "coffee.jpg").resize((400, 300)), CREDIT))
    b = np.asarray(credited(load_rgb(photos / "rocket.jpg").resize((400, 300)), CREDIT))
    plain = np.asarray(load_rgb(photos / "coffee.jpg").resize((400, 300)))
    changed = np.any(a != plain, axis=2)
    assert 0 < changed.mean() < 0.1  # a small mark, the same pixels on both pictures
    assert np.array_equal(a[changed], b[changed])
    picture = load_rgb(photos / "coffee.jpg")
    assert credited(picture, random_credit(np.random.default_rng(0))).size == picture.size


SHOP = ShopMark(
    "FASHIONHUB.SHOP", 0.1, (255, 255, 255, 140), 0.0,
    Credit(("© FashionHub 2026",), "bl", 0.04, (255, 255, 255), None),
)  # fmt: skip


def shop_copy(photos, name: str, folder) -> str:
    path = folder / name
    shop_marked(load_rgb(photos / name).resize((360, 480)), SHOP).save(path, quality=90)
    return str(path)


def test_different_garments_with_one_shop_watermark_are_not_copies(photos, tmp_path):
    """Its letters across the middle match and spread over the picture (coverage stays
    high); the garments around them share no detail (``search.unmatched``)."""
    hats = [
        shop_copy(photos, name, tmp_path) for name in ("clothing_hat_1.jpg", "clothing_hat_2.jpg")
    ]
    with Index.open(tmp_path / "index") as index:
        comparison = index.compare(*hats)
    assert comparison.verdict != "copy", comparison.copy_confidence
    assert comparison.metrics["inliers"] >= 8  # the letters do match


def test_a_crop_of_a_shop_watermarked_garment_is_still_a_copy(photos, tmp_path):
    marked = shop_copy(photos, "clothing_hat_2.jpg", tmp_path)
    picture = load_rgb(marked)
    picture.crop((20, 30, 340, 450)).save(tmp_path / "crop.jpg", quality=80)
    with Index.open(tmp_path / "index") as index:
        assert index.compare(marked, tmp_path / "crop.jpg").verdict == "copy"
