"""Pictures of any shape are indexed, searched, compared and grouped: divider lines and spacer
strips (1,000 x 1), single pixels and slivers are common on web pages a crawl reads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from pictrace import Index
from tests.conftest import noise_image, png_bytes

SHAPES = [(1000, 1), (1, 1000), (400, 1), (1024, 3), (3, 1024), (600, 5), (1, 1), (2, 2), (7, 300)]


def strip(size: tuple[int, int], seed: int) -> bytes:
    """A textured picture of ``size`` (noise, so the features have something to find)."""
    return png_bytes(noise_image(seed, (max(size[0], 8), max(size[1], 8))).resize(size))


@pytest.fixture
def shapes_index(index_copy: Index, tmp_path) -> Index:
    folder = tmp_path / "shapes"
    folder.mkdir()
    for i, size in enumerate(SHAPES):
        (folder / f"{size[0]}x{size[1]}.png").write_bytes(strip(size, i))
    report = index_copy.add([folder])
    assert not report.failed and len(report.added) == len(SHAPES)
    return index_copy


@pytest.mark.parametrize("size", SHAPES)
def test_a_picture_of_any_shape_finds_itself(shapes_index, size):
    result = shapes_index.search(strip(size, SHAPES.index(size)), k=3)
    assert result.matches[0].tier == "exact"


@pytest.mark.parametrize("size", SHAPES)
def test_a_resized_picture_of_any_shape_is_searched_and_compared(shapes_index, size, photos):
    resized = Image.open(io.BytesIO(strip(size, 99))).resize((size[0] * 2, size[1] * 2))
    assert shapes_index.search(png_bytes(resized), k=3).matches
    assert shapes_index.compare(png_bytes(resized), photos / "coffee.jpg").verdict


def test_duplicates_over_pictures_of_every_shape(shapes_index):
    """Every shape goes through the search for duplicates; different strips are no copies."""
    groups = shapes_index.duplicates(fresh=True)
    for group in groups:
        strips = [m.source for m in group.members if "/shapes/" in m.source]
        assert len(strips) <= 1, strips


def test_a_library_failing_on_one_picture_fails_that_picture_only(
    index_copy, tmp_path, monkeypatch
):
    """An unforeseen error of a library (OpenCV, say) on one picture is that picture's
    failure, with its reason; the rest of the batch is stored, the other queries answered."""
    import cv2

    from pictrace.features import keypoints

    real = keypoints.detect

    def fussy(pixels, size, *args, **kwargs):
        if size == (333, 222):
            raise cv2.error("OpenCV(5.0.0) resize.cpp: error: (-215:Assertion failed)")
        return real(pixels, size, *args, **kwargs)

    monkeypatch.setattr(keypoints, "detect", fussy)
    folder = tmp_path / "batch"
    folder.mkdir()
    for i, size in enumerate([(300, 200), (333, 222), (200, 300)]):
        (folder / f"{i}.png").write_bytes(png_bytes(noise_image(50 + i, size)))
    report = index_copy.add([folder])
    assert len(report.added) == 2 and [f.code for f in report.failed] == ["unprocessable_image"]
    assert "1.png" in report.failed[0].reason and "error" in report.failed[0].reason
    outcomes = list(index_copy.search_many([folder / "1.png", folder / "0.png"], k=1))
    assert outcomes[0].code == "unprocessable_image" and outcomes[0].query.endswith("1.png")
    assert outcomes[1].matches[0].tier == "exact"


def test_the_evidence_picture_of_a_strip_stays_small(shapes_index, photos):
    """The side-by-side picture is capped in width: a 1,000 x 1 divider used to become a
    panel 480,000 px wide (gigabytes in a server answering a match view)."""
    divider = strip((1000, 1), 5)
    _, picture = shapes_index.compare_overlay(divider, divider)
    assert picture is None or picture.width <= 4000
    from pictrace.search.overlay import draw_overlay

    pixels = noise_image(3, (1000, 8)).resize((1000, 1))
    drawn = draw_overlay(np.asarray(pixels), np.asarray(pixels), None)
    assert drawn.width <= 4000 and drawn.height <= 600
