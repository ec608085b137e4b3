import numpy as np
import pytest

from pictrace.search.overlay import (
    BOX_COLOUR,
    GAP,
    HEADER,
    OUTLINE_COLOUR,
    PANEL_HEIGHT,
    draw_overlay,
)
from pictrace.types import Evidence


def _grey(width: int, height: int, level: int) -> np.ndarray:
    return np.full((height, width, 3), level, np.uint8)


def _evidence() -> Evidence:
    """The query is the hit's region x 100..300, y 50..200 at the same scale."""
    return Evidence(
        inliers=3,
        inlier_ratio=0.75,
        warped_ssim=0.9,
        transform=((1.0, 0.0, 100.0), (0.0, 1.0, 50.0), (0.0, 0.0, 1.0)),
        query_box_in_hit=(100.0, 50.0, 300.0, 200.0),
        hit_box_in_query=(0.0, 0.0, 200.0, 150.0),
        matches=(
            (10.0, 10.0, 110.0, 60.0),
            (150.0, 100.0, 250.0, 150.0),
            (60.0, 120.0, 160.0, 170.0),
        ),
    )


def _colour_near(image, x: float, y: float, colour, radius: int = 2) -> bool:
    pixels = np.asarray(image)
    x, y = round(x), round(y)
    patch = pixels[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
    return bool((np.abs(patch.astype(int) - colour).sum(axis=-1) < 40).any())


def test_side_by_side_at_a_common_height():
    image = draw_overlay(_grey(200, 150, 80), _grey(400, 300, 80), _evidence())
    assert image.mode == "RGB"
    left = round(200 * PANEL_HEIGHT / 150)
    right = round(400 * PANEL_HEIGHT / 300)
    assert image.size == (left + GAP + right, PANEL_HEIGHT + HEADER)


def test_boxes_are_drawn_where_the_evidence_puts_them():
    image = draw_overlay(_grey(200, 150, 80), _grey(400, 300, 80), _evidence(), height=300)
    f = 300 / 150  # query panel scale; the hit panel scale is 300 / 300 = 1
    offset = 400 + GAP
    assert _colour_near(image, 200 * f - 1, HEADER + 40, BOX_COLOUR)  # hit box, query's right side
    assert _colour_near(image, offset + 100, HEADER + 120, BOX_COLOUR)  # query box, left side
    assert _colour_near(image, offset + 300, HEADER + 120, BOX_COLOUR)  # query box, right side
    assert not _colour_near(image, offset + 200, HEADER + 120, BOX_COLOUR)  # inside stays clear


def test_full_size_coordinates_are_scaled_to_the_working_copies():
    """Evidence is in full-size pixels; the arrays may be downscaled copies."""
    small = draw_overlay(
        _grey(100, 75, 80),
        _grey(200, 150, 80),
        _evidence(),
        query_size=(200, 150),
        hit_size=(400, 300),
        height=300,
    )
    full = draw_overlay(_grey(200, 150, 80), _grey(400, 300, 80), _evidence(), height=300)
    assert small.size == full.size
    a, b = np.asarray(small).astype(int), np.asarray(full).astype(int)
    drawn_a = (np.abs(a - 80).sum(axis=-1) > 60)[HEADER:]
    drawn_b = (np.abs(b - 80).sum(axis=-1) > 60)[HEADER:]
    assert (drawn_a == drawn_b).mean() > 0.99


def test_match_lines_join_both_panels():
    image = draw_overlay(_grey(200, 150, 0), _grey(400, 300, 0), _evidence(), height=300)
    pixels = np.asarray(image)[HEADER:]
    gap = pixels[:, 400 + 2 : 400 + GAP - 2]  # only the lines cross the gap
    assert (gap.sum(axis=-1) > 0).sum() >= 3


def test_the_query_outline_is_drawn_on_the_hit_when_rotated():
    turn = ((0.0, -1.0, 250.0), (1.0, 0.0, 20.0), (0.0, 0.0, 1.0))
    ev = Evidence(10, 0.5, 0.8, turn, None, (0.0, 0.0, 200.0, 150.0))
    image = draw_overlay(_grey(200, 150, 0), _grey(400, 300, 0), ev, height=300)
    offset = 400 + GAP
    assert _colour_near(image, offset + 250, HEADER + 120, OUTLINE_COLOUR)  # x = 250 edge


@pytest.mark.parametrize("evidence", [None, Evidence(3, 0.1, 0.0, None, None, None)])
def test_without_a_transform_only_the_pictures_are_shown(evidence):
    image = draw_overlay(_grey(200, 150, 80), _grey(200, 150, 80), evidence, height=150)
    body = np.asarray(image)[HEADER:]
    assert (body[:, :200] == 80).all() and (body[:, 200 + GAP :] == 80).all()


def test_the_caption_says_when_the_query_matched_as_a_negative():
    from dataclasses import replace

    from pictrace.search.overlay import _caption

    assert "negative" not in _caption(_evidence())
    assert "matched as a negative" in _caption(replace(_evidence(), negative=True))


def test_the_hit_outline_is_drawn_on_the_query_when_turned():
    """A hit turned inside the query (a copy pasted at 30 degrees): its outline is drawn on
    the query as the turned rectangle it is, not only as the box around it."""
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    into_query = np.array([[c, -s, 150.0], [s, c, 100.0], [0.0, 0.0, 1.0]])
    t = tuple(map(tuple, np.linalg.inv(into_query)))
    ev = Evidence(10, 0.5, 0.8, t, None, (100.0, 100.0, 240.0, 240.0))
    image = draw_overlay(_grey(400, 300, 0), _grey(100, 100, 0), ev, height=300)
    edge = (150 + 50 * c, 100 + 50 * s)  # the middle of the hit's top edge, in the query
    assert _colour_near(image, edge[0], HEADER + edge[1], OUTLINE_COLOUR)


def test_a_transform_that_cannot_be_turned_back_still_draws():
    flat = ((1.0, 2.0, 0.0), (2.0, 4.0, 0.0), (0.0, 0.0, 1.0))
    ev = Evidence(10, 0.5, 0.8, flat, None, (0.0, 0.0, 20.0, 20.0))
    assert draw_overlay(_grey(200, 150, 0), _grey(100, 100, 0), ev, height=150).size[1] > 150


def test_a_portrait_pair_gets_taller_panels():
    """A phone screenshot (9:16) beside a landscape photo: panels 480 * 16/9 px high, not
    480 (its panel would be 270 px wide)."""
    image = draw_overlay(_grey(1080, 1920, 80), _grey(768, 512, 80), _evidence())
    height = round(PANEL_HEIGHT * 1920 / 1080)
    assert image.size[1] == height + HEADER
    assert draw_overlay(_grey(100, 1000, 80), _grey(100, 100, 80), None).size[1] == 960 + HEADER
