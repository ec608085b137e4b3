"""Different pictures captioned with the same words are not copies; a re-captioned meme is.

The letters' keypoints of two memes match and fit a transform that maps a strip of one
picture onto a strip of the other (the caption at the top of one, at the bottom of the other,
in another size), its inliers along a line: a copy shows most of one of the two pictures, or
shares a picture, not a line of text. Captions at the top and the bottom of two pictures of one
shape fit the whole picture instead: the rows between them decide (``search.captions``).
"""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pictrace import Index
from pictrace.evaluate.canvas import text_font
from pictrace.search.captions import band_rows, caption_bands
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


def two_line_meme(picture: Image.Image) -> bytes:
    """``picture`` with a meme generator's top and bottom text, left-aligned, at the same
    place and size relative to the picture whatever its size (a helper's repro)."""
    shown = picture.copy()
    draw = ImageDraw.Draw(shown)
    width, height = shown.size
    font = text_font(max(12, height // 10))
    for text, top in (("WHEN YOU SEE IT", height // 20), ("BOTTOM TEXT", height * 7 // 10)):
        draw.text((width // 20, top), text, fill="white", font=font, stroke_width=3,
                  stroke_fill="black")  # fmt: skip
    return jpeg_bytes(shown)


@pytest.fixture(scope="module")
def memes(tmp_path_factory, photos):
    """An index of half the bundled photos as two-line memes (the other half: queries)."""
    folder = tmp_path_factory.mktemp("two-line")
    names = sorted(p.name for p in photos.glob("*.jpg"))
    for name in names:
        (folder / name).write_bytes(two_line_meme(load_rgb(photos / name)))
    with Index.open(folder / "index") as opened:
        opened.add([str(folder / name) for name in names[::2]])
        yield opened, folder


@pytest.mark.parametrize("name", ["baboon.jpg", "butterfly.jpg", "clothing_hat_1.jpg"])
def test_different_pictures_with_the_same_top_and_bottom_text_are_not_copies(memes, name):
    """The fit maps the whole of one meme onto the other (a photo of shoes on white, whose
    own keypoints are few), its inliers on the two lines: the rows between them differ."""
    index, folder = memes
    result = index.search(folder / name, k=3)
    assert not [m.source for m in result.matches if m.tier != "similar"]


@pytest.mark.parametrize("name", [name for pair in PAIRS for name in pair])
def test_a_two_line_meme_cropped_and_compressed_again_is_still_a_copy(index, photos, name):
    meme_bytes = two_line_meme(load_rgb(photos / name))
    picture = Image.open(io.BytesIO(meme_bytes))
    width, height = picture.size
    copy = picture.crop((width // 20, height // 20, width, height)).resize((400, 300))
    assert index.compare(meme_bytes, jpeg_bytes(copy, 60)).verdict == "copy"


def test_inliers_on_two_lines_with_keypoints_between_them_are_caption_bands():
    box = (0.0, 0.0, 400.0, 300.0)
    rng = np.random.default_rng(1)
    top = np.column_stack([rng.uniform(50, 350, 20), rng.uniform(25, 40, 20)])
    bottom = np.column_stack([rng.uniform(80, 320, 15), rng.uniform(230, 245, 15)])
    between = np.column_stack([rng.uniform(0, 400, 30), rng.uniform(70, 200, 30)])
    keypoints = np.vstack([top, bottom, between])
    bands = caption_bands(np.vstack([top, bottom]), keypoints, box)
    assert bands is not None and len(bands) == 2
    assert bands[0][0] < 25 and bands[0][1] > 40 and bands[1][0] < 230 and bands[1][1] > 245
    rows = band_rows(bands, box, 32)
    assert rows is not None and not rows[2] and rows[16] and not rows[25]
    # three lines, a band too tall, or nothing between the lines: no caption bands
    third = np.column_stack([rng.uniform(50, 350, 10), rng.uniform(140, 150, 10)])
    assert caption_bands(np.vstack([top, third, bottom]), keypoints, box) is None
    tall = np.column_stack([rng.uniform(50, 350, 20), rng.uniform(20, 90, 20)])
    assert caption_bands(tall, np.vstack([tall, between]), box) is None
    assert caption_bands(np.vstack([top, bottom]), np.vstack([top, bottom]), box) is None
