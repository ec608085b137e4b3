"""Different small photos shown in one window are not copies; a copy with a sticker still is.

The window (its menus, side bar and backdrop) matches all around the photo and its pixels agree
everywhere else, so only the block where the two differ tells: both pictures break off at its
edges, each showing a photo of its own (``search.inset``).
"""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pictrace import Index
from pictrace.evaluate.canvas import text_font
from pictrace.search.inset import (
    BAND,
    breaks_off_all_round,
    differing_block,
    inset_differs,
    laid_over,
    own_box,
)
from tests.conftest import load_rgb

PHOTOS = ["baboon.jpg", "butterfly.jpg", "squirrel.jpg", "coffee.jpg", "rocket.jpg"]
OTHERS = ["chelsea_cat.jpg", "fruits.jpg", "motorcycle.jpg", "flower.jpg", "astronaut.jpg"]


def window(photo: Image.Image, long_side: int = 420) -> Image.Image:
    """``photo`` at most ``long_side`` px, shown at its own size in a 1600 x 900 viewer
    (a side bar, a tool bar, an info panel: the frame's keypoints fit the identity)."""
    canvas = Image.new("RGB", (1600, 900), (236, 236, 236))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 1600, 36), fill=(50, 50, 55))
    labels = ["Library", "Memories", "People", "Places", "Favourites", "Recents", "Imports"]
    for row, label in enumerate(labels * 2):
        draw.text((20, 60 + 56 * row), f"{label} {row}", fill=(40, 40, 40), font=text_font(34))
    draw.rectangle((240, 36, 1600, 84), fill=(250, 250, 250))
    for k in range(8):
        draw.rounded_rectangle((270 + 56 * k, 44, 306 + 56 * k, 76), 6, fill=(90, 90, 200))
    draw.rectangle((240, 84, 1320, 900), fill=(30, 30, 30))
    for row, field in enumerate(["Camera", "Lens", "Aperture", "Shutter", "ISO", "Flash"] * 2):
        draw.text((1340, 110 + 60 * row), field, fill=(60, 60, 60), font=text_font(34))
    shown = photo.copy()
    shown.thumbnail((long_side, long_side))
    canvas.paste(shown, (780 - shown.width // 2, 492 - shown.height // 2))
    return canvas


def canvas(photo: Image.Image | None, at: tuple[int, int] = (100, 60)) -> np.ndarray:
    """A 320 x 180 frame (a dark backdrop, marks along its top and bottom) with ``photo``
    pasted."""
    picture = Image.new("RGB", (320, 180), (30, 30, 30))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, 320, 20), fill=(230, 230, 230))
    for k in range(10):
        draw.rectangle((10 + 30 * k, 5, 22 + 30 * k, 15), fill=(60, 60, 200))
        draw.rectangle((10 + 30 * k, 165, 22 + 30 * k, 175), fill=(200, 200, 60))
    if photo is not None:
        picture.paste(photo, at)
    return np.asarray(picture)


FRAME_INLIERS = np.array([[16 + 30 * k, y] for k in range(10) for y in (10, 170)], float)


@pytest.fixture(scope="module")
def small(photos):
    return {name: load_rgb(photos / name).resize((110, 80)) for name in PHOTOS + OTHERS}


def test_two_photos_in_one_frame_differ_in_a_picture_of_their_own(small):
    a, b = canvas(small["baboon.jpg"]), canvas(small["squirrel.jpg"])
    inside = np.ones(a.shape[:2], bool)
    assert differing_block(a, b, inside, FRAME_INLIERS) == pytest.approx((100, 60, 210, 140), abs=2)
    assert inset_differs(a, b, inside, FRAME_INLIERS)


def test_photos_of_different_shapes_each_have_their_own_part_of_the_block(small):
    """The two differ in the union of both photos; the narrower one's frame shows beside it."""
    narrow = small["butterfly.jpg"].resize((60, 80))
    a, b = canvas(small["coffee.jpg"]), canvas(narrow, (125, 60))
    inside = np.ones(a.shape[:2], bool)
    block = differing_block(a, b, inside, FRAME_INLIERS)
    assert block is not None
    assert own_box(b, block) == pytest.approx((125, 60, 185, 140), abs=2)
    assert inset_differs(a, b, inside, FRAME_INLIERS)


def test_a_sticker_on_a_copy_is_not_a_picture_of_its_own(photos):
    """The sticker breaks off at its edges, but the original carries on across them."""
    photo = load_rgb(photos / "fruits.jpg").resize((320, 180))
    sticker = photo.copy()
    ImageDraw.Draw(sticker).rectangle((120, 50, 199, 129), fill=(250, 210, 0))
    a, b = np.asarray(sticker), np.asarray(photo)
    spread = np.array([[x, y] for x in range(10, 320, 40) for y in (20, 160)], float)
    block = differing_block(a, b, np.ones(a.shape[:2], bool), spread)
    assert block == pytest.approx((120, 50, 200, 130), abs=2)
    assert breaks_off_all_round(a, (120, 50, 200, 130))
    assert not breaks_off_all_round(b, (120, 50, 200, 130))
    assert not inset_differs(a, b, np.ones(a.shape[:2], bool), spread)


def test_a_block_holding_the_inliers_is_the_copys_own_picture(small):
    """A copy edited all over agrees with its original in a flat part only: the inliers lie
    in the block, so it is not judged."""
    a, b = canvas(small["baboon.jpg"]), canvas(small["squirrel.jpg"])
    inliers = np.array([[110 + 10 * k, 70 + 6 * k] for k in range(10)], float)
    both = np.vstack([FRAME_INLIERS, inliers])
    assert differing_block(a, b, np.ones(a.shape[:2], bool), both) is not None
    assert not inset_differs(a, b, np.ones(a.shape[:2], bool), both)


def test_a_narrow_band_across_the_whole_picture_is_not_judged(photos):
    """A caption band over a copy breaks off where the original shows a part of its own too
    (an app screen's text below its photo): a part with the frame on two sides only is not
    judged (``ENCLOSED``) while it covers less than ``BAND`` of the picture, though both
    break off there."""
    bands = [load_rgb(photos / name).resize((320, 50)) for name in ("baboon.jpg", "coffee.jpg")]
    a, b = canvas(bands[0], (0, 70)), canvas(bands[1], (0, 70))
    inside = np.ones(a.shape[:2], bool)
    assert differing_block(a, b, inside, FRAME_INLIERS) == pytest.approx((0, 70, 320, 120), abs=2)
    assert not breaks_off_all_round(a, (0, 70, 320, 120))
    assert breaks_off_all_round(a, (20, 70, 300, 120)) is False  # its ends carry on
    assert not inset_differs(a, b, inside, FRAME_INLIERS)


def test_a_wide_band_of_two_photos_in_one_frame_is_judged(photos):
    """A meme's or an app screen's photo between the same bars covers most of the picture:
    from ``BAND`` of it, a part with the frame on fewer than ``ENCLOSED`` sides is judged."""
    bands = [load_rgb(photos / name).resize((320, 110)) for name in ("baboon.jpg", "coffee.jpg")]
    a, b = canvas(bands[0], (0, 40)), canvas(bands[1], (0, 40))
    inside = np.ones(a.shape[:2], bool)
    block = differing_block(a, b, inside, FRAME_INLIERS)
    assert block == pytest.approx((0, 40, 320, 150), abs=2)
    assert (block[2] - block[0]) * (block[3] - block[1]) >= BAND * inside.size
    assert not breaks_off_all_round(a, block)  # two sides only
    assert breaks_off_all_round(a, block, fewest=2)
    assert inset_differs(a, b, inside, FRAME_INLIERS)


def _banded(photos, box: tuple[int, int, int, int], fill: tuple[int, int, int]):
    """A 320 x 180 copy of a photo with a band drawn over ``box``, the photo itself, keypoints
    spread along its top and bottom, and the whole canvas as the overlap."""
    photo = load_rgb(photos / "fruits.jpg").resize((320, 180))
    captioned = photo.copy()
    ImageDraw.Draw(captioned).rectangle(box, fill=fill)
    spread = np.array([[x, y] for x in range(10, 320, 40) for y in (15, 165)], float)
    return np.asarray(captioned), np.asarray(photo), spread, np.ones((180, 320), bool)


def test_a_wide_band_over_a_copy_is_not_a_picture_of_its_own(photos):
    """A caption band over half of a copy breaks off at its edges, but the original carries
    on across them."""
    a, b, spread, inside = _banded(photos, (0, 40, 320, 130), (20, 20, 20))
    block = differing_block(a, b, inside, spread)
    assert block is not None
    assert (block[2] - block[0]) * (block[3] - block[1]) >= BAND * inside.size
    assert not inset_differs(a, b, inside, spread)


def test_a_caption_band_laid_over_a_copy_is_told_from_a_photo_of_its_own(photos):
    """What the middle and unmatched-detail judges find different may be a band laid over a
    copy's middle: the query breaks off at its edges, the original carries on across them.
    Two photos in one frame both break off; a photo beside a panel covers too much of it."""
    a, b, spread, inside = _banded(photos, (0, 70, 320, 110), (250, 0, 250))
    assert laid_over(a, b, inside, spread)
    assert not laid_over(b, b, inside, spread)  # nothing differs
    small_photos = [
        canvas(load_rgb(photos / n).resize((110, 80))) for n in ("baboon.jpg", "squirrel.jpg")
    ]
    assert not laid_over(*small_photos, inside, FRAME_INLIERS)  # the hit breaks off too
    wide, _, _, _ = _banded(photos, (0, 30, 320, 150), (250, 0, 250))
    assert not laid_over(wide, b, inside, spread)  # BAND of it or more


def test_a_narrow_bar_is_too_small_to_judge():
    """A bar a few px wide leaves no room for the strips either side of its edges."""
    hit = canvas(None)
    query = hit.copy()
    query[25:175, 100:107] = 0
    query[25:175, 107:114] = 255
    assert not inset_differs(query, hit, np.ones(hit.shape[:2], bool), FRAME_INLIERS)


@pytest.fixture(scope="module")
def windows(photos, tmp_path_factory):
    folder = tmp_path_factory.mktemp("windows")
    for name in PHOTOS + OTHERS:
        window(load_rgb(photos / name)).save(folder / f"window_{name}", quality=90)
    with Index.open(folder / "index") as index:
        index.add([str(folder / f"window_{name}") for name in PHOTOS])
        index.add([str(photos / OTHERS[0])])  # the photo itself, not shown in the index
    return folder


def test_small_photos_in_the_same_viewer_window_are_not_copies(windows):
    with Index.open(windows / "index", readonly=True) as index:
        called = [
            name
            for name in OTHERS
            for m in index.search(windows / f"window_{name}").matches
            if m.tier != "similar" and "window_" in m.source  # not the photo it shows
        ]
    assert not called, called


def test_a_window_still_finds_the_photo_it_shows(windows, photos):
    with Index.open(windows / "index", readonly=True) as index:
        best = index.search(windows / f"window_{OTHERS[0]}", k=1).matches[0]
    assert best.source == str(photos / OTHERS[0]) and best.tier == "copy"
