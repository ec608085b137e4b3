"""Different pictures captioned with the same words are not copies; a re-captioned meme is.

The letters' keypoints of two memes match and fit a transform that maps a strip of one
picture onto a strip of the other (the caption at the top of one, at the bottom of the other,
in another size), its inliers along a line: a copy shows most of one of the two pictures, or
shares a picture, not a line of text.
"""

import pytest
from PIL import Image, ImageDraw

from pictrace import Index
from pictrace.evaluate.canvas import text_font
from pictrace.search.overlap import shared_share
from tests.conftest import jpeg_bytes, load_rgb

PAIRS = [
    ("baboon.jpg", "coffee.jpg"),
    ("rocket.jpg", "fruits.jpg"),
    ("china_temple.jpg", "butterfly.jpg"),
]


def meme(picture: Image.Image, text: str, place: float, size: int, width: int) -> bytes:
    """``picture`` at ``width`` px (4:3) with white outlined ``text`` centred at ``place`` of
    its height."""
    shown = picture.resize((width, width * 3 // 4))
    draw = ImageDraw.Draw(shown)
    middle = (shown.width / 2, place * shown.height)
    draw.text(middle, text, font=text_font(size), fill="white", anchor="mm",
              stroke_width=size // 12, stroke_fill="black")  # fmt: skip
    return jpeg_bytes(shown)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    with Index.open(tmp_path_factory.mktemp("memes") / "index") as opened:
        yield opened


@pytest.mark.parametrize(("top", "bottom"), PAIRS)
def test_different_pictures_with_the_same_caption_words_are_not_copies(index, photos, top, bottom):
    caption = "WHEN YOU FINALLY SEE IT"
    large = meme(load_rgb(photos / top), caption, 0.1, 60, 640)
    small = meme(load_rgb(photos / bottom), caption, 0.85, 40, 480)
    comparison = index.compare(large, small)
    assert comparison.verdict == "different", comparison.metrics


@pytest.mark.parametrize("name", [name for pair in PAIRS for name in pair])
def test_a_meme_captioned_again_is_still_a_copy(index, photos, name):
    picture = load_rgb(photos / name)
    first = meme(picture, "WHEN YOU FINALLY SEE IT", 0.1, 60, 640)
    again = meme(picture, "NOBODY:", 0.88, 36, 500)
    assert index.compare(first, again).verdict == "copy"


def test_one_photo_pasted_small_into_two_pictures_still_makes_them_copies(index, photos):
    """A shared part under 0.3 of both pictures, but a picture, not a line of text."""
    photo = load_rgb(photos / "coffee.jpg").resize((400, 300))
    one = load_rgb(photos / "building.jpg").resize((1200, 900))
    one.paste(photo, (20, 20))
    two = load_rgb(photos / "fruits.jpg").resize((1200, 900))
    two.paste(photo, (780, 580))
    assert index.compare(jpeg_bytes(one), jpeg_bytes(two)).verdict == "copy"


def test_the_shared_share_is_the_larger_share_of_either_picture():
    query, hit = (1000, 500), (400, 400)
    strips = ((0.0, 300.0, 400.0, 400.0), (0.0, 0.0, 1000.0, 100.0))  # (in hit, in query)
    assert shared_share(strips, query, hit) == pytest.approx(0.25)
    pasted = ((0.0, 0.0, 400.0, 400.0), (100.0, 100.0, 300.0, 300.0))  # all of the hit
    assert shared_share(pasted, query, hit) == pytest.approx(1.0)
