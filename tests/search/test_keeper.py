"""The suggested keeper of a duplicate group is the picture the others were made from."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from pictrace.search.keeper import Link, edited_member, ordered, padded
from pictrace.types import ImageRecord
from tests.conftest import jpeg_bytes, load_rgb


def record(image_id: int, width: int, height: int, byte_size: int = 1000) -> ImageRecord:
    return ImageRecord(image_id, f"img{image_id}.jpg", None, "b", "p", width, height, "jpeg",
                       byte_size, 0, 0.0)  # fmt: skip


def shift_scale(scale: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    return np.array([[scale, 0.0, dx], [0.0, scale, dy], [0.0, 0.0, 1.0]])


def test_the_member_holding_the_shared_part_at_more_pixels_is_the_original():
    """A 400x300 picture pasted at half size into an 800x600 canvas: the canvas has more
    pixels, but the picture's own file holds it at four times the pixels."""
    records = {1: record(1, 400, 300), 2: record(2, 800, 600, 9000)}
    link = Link(1, 2, shift_scale(0.5, 100, 100))
    assert edited_member(link, records, lambda _: None) == 2
    members, edited = ordered(records, [link], lambda _: None)
    assert [r.id for r in members] == [1, 2] and edited == {2: 1}


def test_without_a_verdict_the_largest_file_is_kept():
    """The same canvas (a colour edit): the fit cannot tell, the plain ranking decides."""
    records = {1: record(1, 400, 300, 1000), 2: record(2, 400, 300, 3000)}
    link = Link(1, 2, shift_scale(1.0))
    assert edited_member(link, records, lambda _: None) is None
    members, edited = ordered(records, [link], lambda _: None)
    assert members[0].id == 2 and not edited


@pytest.fixture(scope="module")
def picture(photos) -> np.ndarray:
    return np.asarray(load_rgb(photos / "coffee.jpg").resize((300, 200)))


def test_a_flat_border_is_padding(picture):
    framed = np.asarray(ImageOps.expand(Image.fromarray(picture), 40, fill=(250, 250, 250)))
    inner = np.array([[40.0, 40.0], [340.0, 40.0], [340.0, 240.0], [40.0, 240.0]])
    assert padded(framed, inner, (380, 280))


def test_the_rest_of_a_photo_around_a_crop_is_not_padding(picture):
    crop = np.array([[100.0, 50.0], [220.0, 50.0], [220.0, 150.0], [100.0, 150.0]])
    assert not padded(picture, crop, (300, 200))


def test_a_flat_background_that_the_picture_continues_is_not_padding():
    """A dark object on white: cropping the object's middle leaves white around it, but the
    crop's own edge is white too, so the white is the photo's background, not a border."""
    pixels = np.full((200, 300, 3), 255, np.uint8)
    pixels[60:140, 90:210] = 30
    crop = np.array([[40.0, 30.0], [260.0, 30.0], [260.0, 170.0], [40.0, 170.0]])
    assert not padded(pixels, crop, (300, 200))


def test_duplicates_keeps_the_original_over_larger_edited_copies(index_copy, photos, tmp_path):
    """A copy rotated onto a larger canvas, one with a border, one with a caption band and a
    crop: every one but the crop has more pixels than the original, which is kept."""
    original = load_rgb(photos / "coffee.jpg")
    captioned = ImageOps.expand(original, (0, 90, 0, 0), fill=(255, 255, 255))
    ImageDraw.Draw(captioned).text((20, 20), "WHEN THE COFFEE KICKS IN", fill=(0, 0, 0))
    width, height = original.size
    edits = {
        "rotated": original.rotate(25, Image.Resampling.BICUBIC, expand=True, fillcolor="white"),
        "bordered": ImageOps.expand(original, 60, fill=(20, 20, 20)),
        "captioned": captioned,
        "cropped": original.crop((width // 5, height // 5, width * 4 // 5, height * 4 // 5)),
    }
    for name, image in edits.items():
        (tmp_path / f"{name}.jpg").write_bytes(jpeg_bytes(image, 95))
    index_copy.add([tmp_path / f"{name}.jpg" for name in edits])
    group = next(
        g
        for g in index_copy.duplicates()
        if any(m.source.endswith("coffee.jpg") for m in g.members)
    )
    assert {m.source for m in group.members} >= {str(tmp_path / f"{n}.jpg") for n in edits}
    keeper = next(m for m in group.members if m.id == group.keeper)
    assert keeper.source == str(photos / "coffee.jpg")
    assert group.members[0].id == group.keeper
    flagged = {m.source for m in group.members if group.edited.get(m.id)}
    assert flagged == {str(tmp_path / f"{n}.jpg") for n in edits}  # each judged made from it
