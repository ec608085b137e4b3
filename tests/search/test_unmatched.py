"""A fit whose inliers leave most of the detail unmatched (a shared watermark) is judged."""

from dataclasses import replace

import numpy as np
import pytest

from pictrace.features.keypoints import Keypoints
from pictrace.search.inset import INSET_FROM
from pictrace.search.unmatched import UNMATCHED, repeated_share, unmatched_cells
from pictrace.search.verify import Fit, unmirror

BOX = (0.0, 0.0, 400.0, 400.0)
GRID = np.array([(x, y) for x in range(5, 400, 20) for y in range(5, 400, 20)], np.float64)


def band(rows: tuple[float, float]) -> np.ndarray:
    return GRID[(GRID[:, 1] >= rows[0]) & (GRID[:, 1] < rows[1])]


def test_inliers_in_one_band_leave_the_rest_unmatched():
    letters = band((150, 200))  # a watermark's letters across the middle
    share, cells = unmatched_cells((GRID, letters, BOX), (GRID, letters, BOX))
    assert cells is not None
    empty, box = cells
    assert box == BOX and sum(empty) == 56  # the 8 x 8 cells but the band's row
    assert share == pytest.approx(1 - len(letters) / len(GRID))


def test_the_share_left_out_flags_a_fit_for_the_inset_judge_below_the_watermark_test():
    """A photo in a shared frame leaves out some of the detail (from ``INSET_FROM``), less
    than a shared watermark does: the fit is flagged, and the mirror keeps the share."""
    x, y = GRID[:, 0], GRID[:, 1]
    frame = GRID[(y < 100) | (y >= 250) | (x >= 350)]  # around a photo on the left
    share, cells = unmatched_cells((GRID, frame, BOX), (GRID, frame, BOX))
    assert INSET_FROM <= share < UNMATCHED and cells is None
    fit = Fit(np.eye(3), frame, frame, BOX, BOX, 1.0, unmatched_share=share)
    assert fit.flagged and unmirror(fit, 400).unmatched_share == share
    assert not replace(fit, unmatched_share=INSET_FROM / 2).flagged


def test_inliers_spread_like_the_keypoints_leave_nothing_to_judge():
    spread = GRID[::3]
    assert unmatched_cells((GRID, spread, BOX), (GRID, spread, BOX))[1] is None


def test_both_sides_must_leave_their_detail_unmatched():
    letters = band((150, 200))
    hit = np.vstack([letters, letters + np.array([0.0, 1.0])])  # detail only in the band
    assert unmatched_cells((GRID, letters, BOX), (hit, letters, BOX))[1] is None


def keypoints(xy: np.ndarray, descriptors: np.ndarray) -> Keypoints:
    n = len(xy)
    return Keypoints(
        xy.astype(np.float32),
        np.zeros(n, np.float32),
        np.full(n, 4.0, np.float32),
        descriptors,
        (400, 400),
    )


@pytest.fixture
def described():
    rng = np.random.default_rng(0)
    descriptors = rng.integers(0, 255, (len(GRID), 128)).astype(np.uint8)
    return keypoints(GRID, descriptors), rng


def test_a_copys_unmatched_detail_repeats_where_the_transform_puts_it(described):
    query, _ = described
    _, cells = unmatched_cells((GRID, band((150, 200)), BOX), (GRID, band((150, 200)), BOX))
    assert cells is not None
    assert repeated_share(np.eye(3), query, query, cells, band((150, 200))) == pytest.approx(1.0)


def test_a_different_pictures_detail_does_not(described):
    query, rng = described
    other = keypoints(GRID, rng.integers(0, 255, (len(GRID), 128)).astype(np.uint8))
    _, cells = unmatched_cells((GRID, band((150, 200)), BOX), (GRID, band((150, 200)), BOX))
    assert cells is not None
    assert repeated_share(np.eye(3), query, other, cells, band((150, 200))) < 0.1


def test_keypoints_next_to_the_inliers_are_not_tried(described):
    """A mark's own letters beside those that matched repeat too: they are left out."""
    query, rng = described
    other = keypoints(GRID, rng.integers(0, 255, (len(GRID), 128)).astype(np.uint8))
    letters = band((150, 200))
    near = (np.abs(GRID[:, 1] - 175) < 40) & (np.abs(GRID[:, 1] - 175) >= 25)
    other.descriptors[near] = query.descriptors[near]  # the letters' rows next to the band
    _, cells = unmatched_cells((GRID, letters, BOX), (GRID, letters, BOX))
    assert cells is not None
    assert repeated_share(np.eye(3), query, other, cells, letters) < 0.1


def test_keypoints_carried_outside_the_hit_are_not_tried(described):
    query, _ = described
    _, cells = unmatched_cells((GRID, band((150, 200)), BOX), (GRID, band((150, 200)), BOX))
    assert cells is not None
    away = np.array([[1.0, 0.0, 1000.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert repeated_share(away, query, query, cells, band((150, 200))) == 1.0  # nothing to judge by
