"""Different pictures in the same surround (a floor, a template) are not copies; copies still are.

Product photos shot on one floor, memes in one caption template, posts in one app screen: the
surround's keypoints match and fit the identity all around the middle, where the pictures
differ. A copy shares its middle.
"""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pictrace import Index
from pictrace.evaluate.canvas import text_font
from pictrace.evaluate.surrounds import promotion_panel
from pictrace.search.middle import middle_missed
from tests.conftest import load_rgb

FLOOR = "graf1.jpg"  # a textured wall: the shared surround
SUBJECTS = ["baboon.jpg", "butterfly.jpg", "squirrel.jpg", "coffee.jpg", "rocket.jpg"]
OTHERS = ["chelsea_cat.jpg", "fruits.jpg", "motorcycle.jpg", "flower.jpg", "astronaut.jpg"]


def on_floor(floor: Image.Image, subject: Image.Image) -> Image.Image:
    """``subject`` in the middle of ``floor`` (half its width and height), as a product
    photographed on the same floor as the others."""
    canvas = floor.resize((640, 480))
    canvas.paste(subject.resize((320, 240)), (160, 120))
    return canvas


def meme(subject: Image.Image) -> Image.Image:
    """``subject`` between the same two caption bands."""
    canvas = Image.new("RGB", (600, 700), "white")
    canvas.paste(subject.resize((600, 460)), (0, 120))
    draw = ImageDraw.Draw(canvas)
    draw.text((20, 30), "WHEN THE MEETING", fill="black", font=text_font(56))
    draw.text((20, 610), "COULD BE AN EMAIL", fill="black", font=text_font(56))
    return canvas


def promo(subject: Image.Image) -> Image.Image:
    """``subject`` beside the same promotion text: a part of its own reaching three edges."""
    return promotion_panel(subject)


KINDS = ("floor", "meme", "promo")


@pytest.fixture(scope="module")
def surrounds(photos, tmp_path_factory):
    folder = tmp_path_factory.mktemp("surround")
    floor = load_rgb(photos / FLOOR)
    for name in SUBJECTS + OTHERS:
        subject = load_rgb(photos / name)
        on_floor(floor, subject).save(folder / f"floor_{name}", quality=90)
        meme(subject).save(folder / f"meme_{name}", quality=90)
        promo(subject).save(folder / f"promo_{name}", quality=90)
    with Index.open(folder / "index") as index:
        index.add([str(folder / f"{kind}_{name}") for kind in KINDS for name in SUBJECTS])
    return folder


@pytest.mark.parametrize("kind", list(KINDS))
def test_different_pictures_in_the_same_surround_are_not_copies(surrounds, kind):
    with Index.open(surrounds / "index", readonly=True) as index:
        called = [
            name
            for name in OTHERS
            if any(m.tier != "similar" for m in index.search(surrounds / f"{kind}_{name}").matches)
        ]
    # floors and memes: all five were copies before the middle judge, and a middle that
    # happens to look alike may still pass; promotion panels: 2 of 5 before BAND, and since
    # a second look votes with all its keypoints the flower's panel is called a copy of the
    # rocket's (a known weakness: the rocket's black space agrees with the flower's dark
    # background, and the judge takes that for the panel's frame)
    if kind == "promo":
        assert called in ([], ["flower.jpg"]), called
    else:
        assert len(called) <= 1, called


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_edited_copy_in_a_surround_is_still_a_copy(surrounds, kind, tmp_path):
    picture = Image.open(surrounds / f"{kind}_{SUBJECTS[0]}")
    w, h = picture.size
    edited = picture.crop((w // 12, h // 10, w, h))
    ImageDraw.Draw(edited).rectangle((0, 0, edited.width, edited.height // 5), fill="white")
    edited.save(tmp_path / "edited.jpg", quality=70)
    with Index.open(surrounds / "index", readonly=True) as index:
        best = index.search(tmp_path / "edited.jpg", k=1).matches[0]
    assert best.source.endswith(f"{kind}_{SUBJECTS[0]}") and best.tier == "copy"
    assert best.evidence is not None and best.evidence.coverage > 0.3


def _grid(step: int = 10) -> np.ndarray:
    return np.array([(x, y) for x in range(0, 101, step) for y in range(0, 101, step)], float)


def _ring(points: np.ndarray) -> np.ndarray:
    middle = (points >= 25) & (points <= 75)
    return points[~(middle[:, 0] & middle[:, 1])]


def test_the_middle_is_missed_only_when_it_has_detail_and_should_hold_inliers():
    box = (0.0, 0.0, 100.0, 100.0)
    grid = _grid()
    ring = _ring(grid)
    assert middle_missed((grid, ring, box), (grid, ring, box))  # all around, none inside
    assert not middle_missed((grid, grid, box), (grid, grid, box))  # all over: a copy
    # a middle without keypoints (sky, a white backdrop) says nothing
    assert not middle_missed((ring, ring, box), (ring, ring, box))
    # with few inliers the empty middle may be chance
    assert not middle_missed((grid, ring[:8], box), (grid, ring[:8], box))
    # one side's inliers reaching the middle are enough
    assert not middle_missed((grid, grid, box), (grid, ring, box))
    # only the shared region counts: its own middle is judged
    small = (0.0, 0.0, 50.0, 50.0)
    inside = grid[(grid[:, 0] <= 50) & (grid[:, 1] <= 50)]
    assert not middle_missed((grid, inside, small), (grid, inside, small))


def test_a_copy_with_its_middle_blocked_out_is_still_a_copy(photos, tmp_path):
    """A censored copy: a flat block over the middle leaves no inliers there, and nothing to
    judge the middle on; the fit keeps its weight."""
    names = ["coffee.jpg", "rocket.jpg", "astronaut.jpg", "chelsea_cat.jpg"]
    with Index.open(tmp_path / "index") as index:
        index.add([str(photos / n) for n in names])
        for name in names:
            picture = load_rgb(photos / name)
            w, h = picture.size
            ImageDraw.Draw(picture).rectangle((w // 5, h // 5, 4 * w // 5, 4 * h // 5), "grey")
            picture.save(tmp_path / "blocked.jpg", quality=85)
            best = index.search(tmp_path / "blocked.jpg", k=1).matches[0]
            assert best.source.endswith(name) and best.tier == "copy", (name, best)


def viewer(photo: Image.Image) -> Image.Image:
    """``photo`` shown in a photo viewer's window (menus, a side bar of thumbnails, a status
    bar), at most 1500 x 900 px in a 1920 x 1080 screenshot."""
    shot = Image.new("RGB", (1920, 1080), (32, 33, 36))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1920, 56), fill=(48, 49, 52))
    for i, word in enumerate(["File", "Edit", "View", "Image", "Window", "Help"]):
        draw.text((20 + i * 90, 16), word, font=text_font(22), fill=(220, 220, 220))
    draw.rectangle((0, 56, 260, 1080), fill=(40, 41, 44))
    for i in range(8):
        draw.rectangle((20, 80 + i * 120, 240, 180 + i * 120), outline=(90, 90, 90), width=2)
        draw.text((30, 150 + i * 120), f"IMG_{4000 + i}.JPG", font=text_font(16), fill="#bbb")
    draw.text((280, 1048), "1 of 248  ·  zoom 100%  ·  sRGB", font=text_font(18), fill="#ccc")
    photo = photo.copy()
    photo.thumbnail((1500, 900))
    shot.paste(photo, (260 + (1660 - photo.width) // 2, 56 + (984 - photo.height) // 2))
    return shot


def test_two_photos_in_one_viewer_window_are_not_copies(photos, tmp_path):
    """The window matches all around the photos, and the photos' edges on its backdrop
    make half the middle's cells agree; their detail does not (``middle.DETAIL_SOME``)."""
    shots = []
    for name in ("rocket.jpg", "baboon.jpg"):
        viewer(load_rgb(photos / name)).save(tmp_path / f"{name}.png")
        shots.append(tmp_path / f"{name}.png")
    with Index.open(tmp_path / "index") as index:
        assert index.compare(*shots).verdict != "copy"
        assert index.compare(shots[0], photos / "rocket.jpg").verdict == "copy"


def app_page(photo: Image.Image) -> Image.Image:
    """``photo`` across a 1080 x 1920 phone page at its own shape, under the same bars and
    caption; the line of likes below it moves with its height."""
    page = Image.new("RGB", (1080, 1920), "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 1080, 60), fill=(20, 20, 20))
    draw.text(
        (30, 12), "9:41                                  87%", fill="white", font=text_font(30)
    )
    draw.rectangle((0, 60, 1080, 200), fill=(245, 245, 245))
    draw.ellipse((30, 90, 110, 170), fill=(200, 60, 90))
    draw.text((130, 100), "newsfan_2024", fill="black", font=text_font(40))
    draw.text((30, 230), "You won't BELIEVE what happened here!!! #breaking", fill="black",
              font=text_font(30))  # fmt: skip
    height = round(1080 * photo.height / photo.width)
    page.paste(photo.resize((1080, height)), (0, 300))
    draw.text((30, 320 + height), "12.4k   3,201   Share", fill="black", font=text_font(34))
    for k in range(5):
        draw.rectangle((60 + 200 * k, 1800, 120 + 200 * k, 1860), outline=(40, 40, 40), width=3)
    return page


def test_different_photos_in_one_app_page_are_not_copies(photos, tmp_path):
    """The pages share their bars and text exactly, so keypoints there fit (loosely: they lie
    on a few lines), while the photos, of other shapes, differ: compared as they lie, not
    through that fit (``verifier._in_place``), neither pair is a copy; a re-post of a page
    still is."""
    pages = {}
    for name, shape in [("coffee.jpg", (768, 512)), ("astronaut.jpg", (800, 800)),
                        ("chelsea_cat.jpg", (900, 600))]:  # fmt: skip
        pages[name] = tmp_path / f"page_{name}"
        app_page(load_rgb(photos / name).resize(shape)).save(pages[name], quality=90)
    with Index.open(tmp_path / "index") as index:
        for other in ["astronaut.jpg", "chelsea_cat.jpg"]:
            pair = index.compare(pages["coffee.jpg"], pages[other])
            assert pair.verdict != "copy", (other, pair.copy_confidence)
        repost = Image.open(pages["coffee.jpg"]).resize((720, 1280))
        repost.save(tmp_path / "repost.jpg", quality=70)
        assert index.compare(pages["coffee.jpg"], tmp_path / "repost.jpg").verdict == "copy"
