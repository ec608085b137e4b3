"""The suggested keeper of a duplicate group is the picture the others were made from."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from pictrace import Index, load_settings
from pictrace.errors import ConfigError, InputError
from pictrace.search.composite import _dense
from pictrace.search.edited import (
    Link,
    edited_counts,
    edited_member,
    polygon_area,
    shared_parts,
)
from pictrace.search.keeper import apply_policy, checked_policy
from pictrace.search.padding import padded
from pictrace.types import KEEPER_POLICY, DuplicateGroup, ImageRecord
from tests.conftest import jpeg_bytes, load_rgb


def record(image_id: int, width: int, height: int, byte_size: int = 1000) -> ImageRecord:
    return ImageRecord(image_id, f"img{image_id}.jpg", None, "b", "p", width, height, "jpeg",
                       byte_size, 0, 0.0)  # fmt: skip


def shift_scale(scale: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    return np.array([[scale, 0.0, dx], [0.0, scale, dy], [0.0, 0.0, 1.0]])


def no_thumbnail(_: int) -> None:
    return None


def keeper_of(records: dict[int, ImageRecord], links: list[Link], thumbnail=no_thumbnail) -> int:
    edited = edited_counts(records, links, thumbnail)
    group = DuplicateGroup(tuple(records.values()), min(records), edited)
    return apply_policy([group], KEEPER_POLICY)[0].keeper


@pytest.mark.parametrize("reverse", [False, True])
def test_a_thumbnail_is_not_judged_but_the_larger_file_is_kept(reverse):
    """A 400x300 picture and a 200x150 picture of it, the pair found from either side: the
    smaller may be a thumbnail or the larger an enlarged copy, which stored features cannot
    tell apart, so no member is marked; the file rules keep the larger."""
    records = {1: record(1, 400, 300), 2: record(2, 200, 150, 9000)}
    link = Link(2, 1, shift_scale(2.0)) if reverse else Link(1, 2, shift_scale(0.5))
    assert edited_member(link, records, no_thumbnail) is None
    assert keeper_of(records, [link]) == 1


@pytest.mark.parametrize("reverse", [False, True])
def test_a_reduced_copy_on_a_padded_canvas_is_the_edited_member(reverse):
    """The picture at half size, letterboxed on a 400x300 grey canvas, found from either side."""
    records = {1: record(1, 400, 300), 2: record(2, 400, 300, 9000)}
    canvas = np.full((240, 320, 3), 128, np.uint8)
    canvas[60:180, 80:240] = np.random.default_rng(2).integers(0, 255, (120, 160, 3))
    half = shift_scale(0.5, 100, 75)
    link = Link(2, 1, np.linalg.inv(half)) if reverse else Link(1, 2, half)
    assert edited_member(link, records, lambda i: canvas if i == 2 else None) == 2
    assert keeper_of(records, [link], lambda i: canvas if i == 2 else None) == 1


def test_a_picture_pasted_small_onto_a_flat_canvas_is_the_edited_member():
    """The canvas has more pixels, the picture's own file four times the picture's."""
    records = {1: record(1, 400, 300), 2: record(2, 800, 600, 9000)}
    canvas = np.full((240, 320, 3), 200, np.uint8)
    canvas[40:100, 40:120] = np.random.default_rng(0).integers(0, 255, (60, 80, 3))
    link = Link(1, 2, shift_scale(0.5, 100, 100))
    assert edited_member(link, records, lambda i: canvas if i == 2 else None) == 2
    assert keeper_of(records, [link], lambda i: canvas if i == 2 else None) == 1


def test_an_enlarged_crop_is_not_judged():
    """The centre half of a picture enlarged to the picture's size holds the shared part at
    four times the pixels, which a picture pasted small into another would do too: no
    verdict, so neither file is called an edited copy."""
    records = {1: record(1, 600, 400), 2: record(2, 600, 400)}
    link = Link(2, 1, shift_scale(0.5, 150, 100))  # the enlarged crop -> the original
    texture = np.random.default_rng(1).integers(0, 255, (200, 300, 3)).astype(np.uint8)
    assert edited_member(link, records, lambda _: texture) is None


def test_without_a_verdict_the_larger_file_is_kept():
    """The same canvas (a colour edit): the fit cannot tell, the file-based rules decide."""
    records = {1: record(1, 400, 300, 1000), 2: record(2, 400, 300, 3000)}
    link = Link(1, 2, shift_scale(1.0))
    assert edited_member(link, records, no_thumbnail) is None
    assert keeper_of(records, [link]) == 2


@pytest.fixture(scope="module")
def framed(picture) -> np.ndarray:
    """The picture (300 x 200) in a 40 px white frame: 380 x 280."""
    return np.asarray(ImageOps.expand(Image.fromarray(picture), 40, fill=(255, 255, 255)))


def test_each_pair_is_judged_once(framed):
    """A framed copy of a picture, the pair found from both sides: one verdict."""
    records = {1: record(1, 300, 200), 2: record(2, 380, 280)}
    links = [Link(1, 2, shift_scale(1.0, 40, 40)), Link(2, 1, shift_scale(1.0, -40, -40))]
    assert edited_counts(records, links, lambda i: framed if i == 2 else None) == {2: 1}


def test_a_mirrored_fit_is_judged_like_any_other(framed):
    records = {1: record(1, 300, 200), 2: record(2, 380, 280)}
    mirror = np.array([[-1.0, 0.0, 340.0], [0.0, 1.0, 40.0], [0.0, 0.0, 1.0]])  # photo -> frame
    assert edited_member(Link(1, 2, mirror), records, lambda i: framed if i == 2 else None) == 2


def test_more_picture_around_the_shared_part_is_not_judged(picture):
    """A crop, or the original in a collage: no verdict either way."""
    records = {1: record(1, 300, 200), 2: record(2, 120, 100)}
    link = Link(2, 1, shift_scale(1.0, 100, 50))
    assert edited_member(link, records, lambda i: picture if i == 1 else None) is None


def test_the_shared_part_of_a_paste_is_the_pasted_picture():
    """A 400x300 picture at half size at (100, 100) of an 800x600 canvas."""
    in_query, in_hit = shared_parts(shift_scale(0.5, 100, 100), (400, 300), (800, 600))
    assert polygon_area(in_query) == pytest.approx(400 * 300)
    assert polygon_area(in_hit) == pytest.approx(200 * 150)
    assert in_hit.min(axis=0) == pytest.approx([100, 100])


def test_a_perspective_fit_with_a_corner_past_the_horizon_still_has_a_shared_part():
    """The query's far corners project behind the hit's camera; the hit's frame, mapped the
    other way, is clipped instead (as verification's overlap does)."""
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-0.003, 0.0, 1.0]])
    parts = shared_parts(tilt, (400, 300), (300, 300))
    assert parts is not None and all(len(p) >= 3 for p in parts)
    assert shared_parts(np.zeros((3, 3)), (400, 300), (300, 300)) is None


@pytest.fixture(scope="module")
def picture(photos) -> np.ndarray:
    return np.asarray(load_rgb(photos / "coffee.jpg").resize((300, 200)))


def test_a_flat_border_is_padding(picture):
    framed = np.asarray(ImageOps.expand(Image.fromarray(picture), 40, fill=(250, 250, 250)))
    inner = np.array([[40.0, 40.0], [340.0, 40.0], [340.0, 240.0], [40.0, 240.0]])
    assert padded(framed, inner, (380, 280))
    # the polygon is in full-size pixels: a 3,800 x 2,800 picture with this thumbnail
    assert padded(framed, inner * 10, (3800, 2800))
    assert not padded(framed, inner * 10, (380, 280))  # a polygon over the whole thumbnail


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


def test_a_drop_shadow_on_a_gradient_is_padding(picture):
    """No colour covers most of a drop shadow over a gradient, but it is smooth and the picture
    breaks off where it begins."""
    height, width = 280, 380
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = np.linspace(170, 240, height)[:, None, None]
    shadow = np.zeros((height, width), np.float32)
    shadow[50:250, 50:350] = 1
    canvas *= (1 - 0.6 * cv2.GaussianBlur(shadow, (0, 0), 5))[..., None]
    canvas[40:240, 40:340] = picture
    inner = np.array([[40.0, 40.0], [340.0, 40.0], [340.0, 240.0], [40.0, 240.0]])
    assert padded(canvas.astype(np.uint8), inner, (width, height))


def test_a_smooth_sky_that_a_crop_carries_on_is_not_padding(picture):
    """A crop of a photo under a clear sky: the sky around it is smooth, but the crop's own
    edge is sky too."""
    rows = np.linspace(0, 1, 300)[:, None, None]
    scene = np.broadcast_to(90 + rows * np.array([70, 60, 145]), (300, 300, 3)).copy()
    scene[150:] = np.asarray(Image.fromarray(picture).resize((300, 150)))
    crop = np.array([[60.0, 80.0], [240.0, 80.0], [240.0, 220.0], [60.0, 220.0]])
    assert not padded(scene.astype(np.uint8), crop, (300, 300))


def test_a_dark_sky_around_a_crop_of_a_nebula_is_not_padding():
    """A star field: the sky around a crop is one dark colour and the crop's edge is not, as
    for a border, but the nebula the crop cuts through carries on across its edge."""
    rng = np.random.default_rng(4)
    y, x = np.mgrid[0:240, 0:320]
    cloud = cv2.GaussianBlur(rng.normal(0, 1, (240, 320)).astype(np.float32), (0, 0), 3)
    nebula = ((x - 160) ** 2 + (y - 120) ** 2) < 75**2
    sky = np.where(nebula, 60 + 25 * cloud / cloud.std(), rng.normal(4, 1.5, (240, 320)))
    sky[rng.random((240, 320)) > 0.997] = 255  # stars
    pixels = np.repeat(np.clip(sky, 0, 255)[..., None], 3, axis=2).astype(np.uint8)
    crop = np.array([[125.0, 90.0], [195.0, 90.0], [195.0, 150.0], [125.0, 150.0]])
    assert not padded(pixels, crop, (320, 240))


def test_resolution_counts_within_ten_percent_as_the_same():
    """An edit two pixels wider is not sharper: the lossless original wins on the next rule;
    with resolution alone, the exact pixel count still breaks the tie."""
    png = ImageRecord(1, "a.png", None, "b", "q", 1900, 1080, "png", 10, 0, 0.0)
    wider = record(2, 1902, 1080)
    group = DuplicateGroup((png, wider), 1)
    assert apply_policy([group], ["resolution", "lossless"])[0].keeper == 1
    assert apply_policy([group], ["resolution"])[0].keeper == 2
    smaller = ImageRecord(3, "s.png", None, "b", "p", 1700, 1000, "png", 10, 0, 0.0)
    ordered = apply_policy([DuplicateGroup((smaller, png, wider), 1)], ["resolution", "lossless"])
    assert [m.id for m in ordered[0].members] == [1, 2, 3]  # 1.2x fewer pixels: last
    framed = record(4, 2000, 1200)  # larger, but judged an edited copy: it sets no band
    group = DuplicateGroup((framed, png, wider), 1, {4: 1})
    assert apply_policy([group], KEEPER_POLICY)[0].keeper == 1


@pytest.mark.parametrize("text", ["bytes,original", '["bytes", "original"]', " bytes , original "])
def test_the_keeper_policy_is_read_as_a_list_or_json(monkeypatch, text):
    monkeypatch.setenv("PICTRACE_KEEPER_POLICY", text)
    assert load_settings().keeper_policy == ("bytes", "original")


@pytest.mark.parametrize(
    "text", ['["orginal"]', "orginal", "[]", "", "[bad json", "original,oldest,newest"]
)
def test_a_bad_keeper_policy_is_a_one_line_configuration_error(monkeypatch, text):
    monkeypatch.setenv("PICTRACE_KEEPER_POLICY", text)
    with pytest.raises(ConfigError, match="keeper_policy") as caught:
        load_settings()
    assert "\n" not in caught.value.message


def test_a_setting_the_environment_cannot_parse_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("PICTRACE_ALLOW_HOSTS", '["a.com"')  # a JSON list left open
    with pytest.raises(ConfigError, match="allow_hosts"):
        load_settings()
    monkeypatch.setenv("PICTRACE_ALLOW_HOSTS", "a.com")  # plain commas are fine
    assert load_settings().allow_hosts == ("a.com",)


def test_a_policy_given_to_the_library_is_checked_before_any_work():
    assert checked_policy("bytes") == ("bytes",)
    assert checked_policy(["bytes", "exif", "bytes"]) == ("bytes", "exif")
    with pytest.raises(InputError, match="unknown keeper rules"):
        checked_policy(["bogus"])
    with pytest.raises(InputError, match="at least one rule"):
        checked_policy([])
    with pytest.raises(InputError, match="'oldest' or 'newest', not both"):
        checked_policy("original,oldest,newest")


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
    groups = index_copy.duplicates()
    group = next(g for g in groups if any(m.source.endswith("coffee.jpg") for m in g.members))
    assert {m.source for m in group.members} >= {str(tmp_path / f"{n}.jpg") for n in edits}
    keeper = next(m for m in group.members if m.id == group.keeper)
    assert keeper.source == str(photos / "coffee.jpg")
    assert group.members[0].id == group.keeper
    flagged = {m.source for m in group.members if group.edited.get(m.id)}
    padded_copies = {str(tmp_path / f"{n}.jpg") for n in ("rotated", "bordered", "captioned")}
    assert flagged == padded_copies  # the crop is not judged (it could be what a collage holds)
    plain = index_copy.duplicates(["resolution"])  # the largest canvas, without the evidence
    group = next(g for g in plain if any(m.source.endswith("coffee.jpg") for m in g.members))
    assert group.keeper != keeper.id


def test_a_copy_turned_on_its_own_canvas_is_the_edited_member(tmp_path, photos):
    """Turned without growing the canvas: each shows something the other does not, the copy
    flat corners, the original the picture's own. A blurred JPEG of it outweighs a small
    lossy original in bytes, yet the original is kept (it was the other way round)."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    for name in ("coffee.jpg", "rocket.jpg", "fruits.jpg"):
        original = load_rgb(photos / name)
        original.save(folder / f"{name}.webp", quality=70)
        turned = original.rotate(17, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(1))
        turned.save(folder / f"turned_{name}", quality=60)
    with Index.open(tmp_path / "index") as index:
        index.add([folder])
        groups = index.duplicates()
    assert len(groups) == 3
    for group in groups:
        keeper = next(m for m in group.members if m.id == group.keeper)
        assert keeper.source.endswith(".webp") and group.reason == "original"
        turned = next(m for m in group.members if m.id != group.keeper)
        assert group.edited.get(turned.id) == 1


def test_members_reached_through_another_say_so():
    """Keeper 1; 2 is a copy of it; 3 is a copy of 2 only (2 is a composite of 1 and 3)."""
    members = tuple(record(i, 400, 300) for i in (1, 2, 3))
    group = DuplicateGroup(members, 1, {}, ((1, 2), (2, 3)))
    assert group.matched_with() == {2: 1, 3: 2}
    rows = {m["id"]: m["matched_with"] for m in group.as_dict()["members"]}
    assert rows == {1: None, 2: 1, 3: 2}


def test_a_composite_of_two_pictures_links_them_but_says_how(index_copy, photos, tmp_path):
    """The astronaut pasted into a reduced coffee photo joins both in one group (the composite
    is a copy of each); the original that is not the keeper is reported as a copy of the
    composite, not of the keeper."""
    coffee, astronaut = load_rgb(photos / "coffee.jpg"), load_rgb(photos / "astronaut.jpg")
    composite = coffee.resize((450, 300))
    composite.paste(astronaut.resize((160, 160)), (30, 30))
    (tmp_path / "composite.jpg").write_bytes(jpeg_bytes(composite, 95))
    index_copy.add([tmp_path / "composite.jpg"])
    group = next(
        g
        for g in index_copy.duplicates()
        if any(m.source == str(tmp_path / "composite.jpg") for m in g.members)
    )
    ids = {m.source.rsplit("/", 1)[-1]: m.id for m in group.members}
    assert {"coffee.jpg", "astronaut.jpg", "composite.jpg"} <= set(ids)
    via = group.matched_with()
    originals = [ids["coffee.jpg"], ids["astronaut.jpg"]]
    assert group.keeper in originals  # the composite is the smallest
    other = next(i for i in originals if i != group.keeper)
    assert via[ids["composite.jpg"]] == group.keeper and via[other] == ids["composite.jpg"]


def test_a_collage_of_several_pictures_joins_none_of_their_groups(index_copy, photos, tmp_path):
    """A 2 x 2 grid of four collection pictures is a copy of all four; it stays in the group of
    one of them, marked as made from others, and the others keep their own groups (as plain
    connected components they became one group whose keeper was the collage). A copy of the
    grid on a dark border follows it instead of joining the groups again."""
    names = ("baboon.jpg", "building.jpg", "fruits.jpg", "squirrel.jpg")
    canvas = Image.new("RGB", (480, 480), "white")
    for i, name in enumerate(names):
        cell = load_rgb(photos / name)
        cell.thumbnail((240, 240))
        canvas.paste(cell, ((i % 2) * 240, (i // 2) * 240))
        edited = load_rgb(photos / name).rotate(90, expand=True)  # each has a copy of its own
        (tmp_path / f"turned_{name}").write_bytes(jpeg_bytes(edited))
    (tmp_path / "collage.jpg").write_bytes(jpeg_bytes(canvas, 95))
    framed = Image.new("RGB", (600, 600), (40, 40, 40))
    framed.paste(canvas, (60, 60))
    (tmp_path / "framed.jpg").write_bytes(jpeg_bytes(framed, 95))
    index_copy.add([tmp_path])
    groups = index_copy.duplicates()
    holding = {
        name: [g for g in groups if any(m.source.endswith("/" + name) for m in g.members)]
        for name in (*names, "collage.jpg", "framed.jpg")
    }
    assert len(holding["collage.jpg"]) == 1 and holding["framed.jpg"] == holding["collage.jpg"]
    assert all(len(holding[name]) == 1 for name in names)
    assert len({id(holding[name][0]) for name in names}) == len(names)  # four groups
    keeper = next(
        m for m in holding["collage.jpg"][0].members if m.id == holding["collage.jpg"][0].keeper
    )
    assert not keeper.source.endswith("collage.jpg")


def test_a_collage_of_cropped_cells_joins_none_of_their_groups(index_copy, photos, tmp_path):
    """Grid makers crop each picture to fill its cell: the picture's frame then maps past the
    cell's edges, but the cell's centre says which part it is."""
    names = ("baboon.jpg", "building.jpg", "fruits.jpg", "squirrel.jpg")
    canvas = Image.new("RGB", (500, 500), "white")
    for i, name in enumerate(names):
        picture = load_rgb(photos / name)
        canvas.paste(ImageOps.fit(picture, (240, 240)), ((i % 2) * 260, (i // 2) * 260))
        w, h = picture.size
        cropped = picture.crop((w // 10, h // 10, w - w // 10, h - h // 10))
        (tmp_path / f"crop_{name}").write_bytes(jpeg_bytes(cropped))
    (tmp_path / "grid.jpg").write_bytes(jpeg_bytes(canvas, 95))
    index_copy.add([tmp_path])
    groups = apart(index_copy.duplicates(), names, "grid.jpg")
    for name, group in groups.items():
        assert any(m.source.endswith("/crop_" + name) for m in group.members)


def test_a_collage_of_cells_cropped_to_fill_with_thin_gutters_stays_apart(
    index_copy, photos, tmp_path
):
    """Each photo's frame maps far past its cell, into its neighbours, where the collage does
    not break off; the cell is where the photo's own pixels agree (``composite._cell``)."""
    names = ("coffee.jpg", "rocket.jpg", "chelsea_cat.jpg", "motorcycle.jpg")
    canvas = Image.new("RGB", (800, 800), "white")
    for i, name in enumerate(names):
        picture = load_rgb(photos / name)
        canvas.paste(ImageOps.fit(picture, (396, 396)), ((i % 2) * 404, (i // 2) * 404))
        smaller = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4))
        (tmp_path / f"small_{name}").write_bytes(jpeg_bytes(smaller, 80))
    (tmp_path / "filled.jpg").write_bytes(jpeg_bytes(canvas, 90))
    index_copy.add([tmp_path])
    apart(index_copy.duplicates(), names, "filled.jpg")


def apart(
    groups: list[DuplicateGroup], names: tuple[str, ...], collage: str
) -> dict[str, DuplicateGroup]:
    """Each of ``names`` in a group of its own, none with ``collage`` as keeper."""
    found = {}
    for name in names:
        (group,) = [g for g in groups if any(m.source.endswith("/" + name) for m in g.members)]
        others = [n for n in names if n != name]
        assert not any(m.source.endswith(tuple("/" + n for n in others)) for m in group.members)
        keeper = next(m for m in group.members if m.id == group.keeper)
        assert not keeper.source.endswith(collage)
        found[name] = group
    return found


def test_copies_of_copies_join_their_original(index_copy, photos, tmp_path):
    """Five encodes of a picture and five of its copy turned by 40 degrees: each image's
    closest siblings are its own encodes, so verifying one round of candidates per image
    kept the two sets apart; duplicates verifies further while every round is sure copies."""
    original = load_rgb(photos / "coffee.jpg")
    turned = original.rotate(40, Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    paths = []
    for name, picture in (("plain", original), ("turned", turned)):
        for quality in (70, 78, 85, 92, 97):
            path = tmp_path / f"{name}_{quality}.jpg"
            path.write_bytes(jpeg_bytes(picture, quality))
            paths.append(str(path))
    index_copy.add(paths)
    group = next(g for g in index_copy.duplicates() if any(m.source == paths[0] for m in g.members))
    assert set(paths) | {str(photos / "coffee.jpg")} <= {m.source for m in group.members}


def test_each_group_says_which_rule_chose_its_keeper():
    png = ImageRecord(1, "a.png", None, "b", "q", 400, 300, "png", 10, 0, 0.0)
    jpeg = record(2, 400, 300, byte_size=99)
    framed = record(3, 480, 380)
    assert apply_policy([DuplicateGroup((jpeg, png), 1)], KEEPER_POLICY)[0].reason == "lossless"
    group = DuplicateGroup((framed, jpeg), 2, {3: 1})
    assert apply_policy([group], KEEPER_POLICY)[0].reason == "original"
    assert apply_policy([group], ["bytes"])[0].reason == "bytes"
    same = DuplicateGroup((record(4, 400, 300), record(5, 400, 300)), 4)
    ruled = apply_policy([same], KEEPER_POLICY)[0]
    assert ruled.reason is None and ruled.keeper == 4 and ruled.as_dict()["reason"] is None


def test_a_lossless_file_of_a_lossy_ones_very_pixels_gains_nothing():
    """A camera JPEG saved again as PNG: the same pixels, bigger, without the EXIF. The
    JPEG is kept before any rule (the PNG adds nothing); a PNG whose pixels differ (the
    original a JPEG was made from) still wins."""
    camera = ImageRecord(1, "a.jpg", None, "b1", "same", 400, 300, "jpeg", 900, 12, 0.0)
    resaved = ImageRecord(2, "a.png", None, "b2", "same", 400, 300, "png", 5000, 0, 0.0)
    ruled = apply_policy([DuplicateGroup((resaved, camera), 2)], KEEPER_POLICY)[0]
    assert ruled.keeper == 1 and ruled.reason == "resave"
    master = ImageRecord(3, "m.png", None, "b3", "other", 400, 300, "png", 5000, 0, 0.0)
    ruled = apply_policy([DuplicateGroup((camera, master), 1)], KEEPER_POLICY)[0]
    assert ruled.keeper == 3 and ruled.reason == "lossless"


def test_a_netpbm_file_of_a_smaller_files_pixels_comes_after_it():
    """A PNG and an uncompressed PPM of its very pixels (a new user's Klimt pair): the PPM is
    only bigger, and "largest file" kept it. The PNG is kept, before any rule; a third
    lossless file of other pixels still wins on the policy as before."""
    png = ImageRecord(1, "k.png", None, "b1", "same", 400, 300, "png", 90_000, 0, 0.0)
    ppm = ImageRecord(2, "k.ppm", None, "b2", "same", 400, 300, "ppm", 360_000, 0, 0.0)
    ruled = apply_policy([DuplicateGroup((ppm, png), 2)], KEEPER_POLICY)[0]
    assert ruled.keeper == 1 and ruled.reason == "resave"
    master = ImageRecord(3, "m.tiff", None, "b3", "other", 400, 300, "tiff", 500_000, 0, 0.0)
    ruled = apply_policy([DuplicateGroup((png, ppm, master), 1)], KEEPER_POLICY)[0]
    assert ruled.keeper == 3 and ruled.reason == "bytes"
    assert [m.id for m in ruled.members] == [3, 1, 2]


def test_lossless_files_that_may_hold_more_than_the_pixels_are_left_to_the_policy():
    """The pixel digest leaves out metadata, transparency and bit depth: a PNG with EXIF
    against the same PNG stripped keeps the EXIF one; two copies of one file (the same
    bytes) stay the policy's (``newest`` keeps the newer)."""
    tagged = ImageRecord(1, "a.png", None, "b1", "same", 400, 300, "png", 9_000, 12, 0.0)
    bare = ImageRecord(2, "b.png", None, "b2", "same", 400, 300, "png", 8_000, 0, 1.0)
    ruled = apply_policy([DuplicateGroup((bare, tagged), 2)], KEEPER_POLICY)[0]
    assert ruled.keeper == 1 and ruled.reason == "exif"
    first = ImageRecord(3, "c.ppm", None, "b3", "same", 400, 300, "ppm", 360_000, 0, 0.0)
    again = ImageRecord(4, "d.ppm", None, "b3", "same", 400, 300, "ppm", 360_000, 0, 1.0)
    ruled = apply_policy([DuplicateGroup((first, again), 3)], ("newest",))[0]
    assert ruled.keeper == 4 and ruled.reason == "newest"


@pytest.mark.parametrize("policy", [KEEPER_POLICY, ("newest",), ("bytes", "lossless")])
def test_a_lossless_resave_of_a_lossy_files_pixels_comes_after_it_and_is_no_edit(policy):
    """Without EXIF to tell them apart, a JPEG's pixels saved again as lossless WebP would
    win on bytes (or as the newest); no lossy encoder gives back a lossless file's pixels,
    so the lossless one adds nothing and comes after the JPEG, whatever the policy. Nothing
    was edited: neither is marked so."""
    jpeg = ImageRecord(1, "a.jpg", None, "b1", "same", 400, 300, "jpeg", 900, 0, 0.0)
    webp = ImageRecord(2, "a.webp", None, "b2", "same", 400, 300, "webp-lossless", 5000, 0, 1.0)
    other = ImageRecord(3, "b.png", None, "b3", "other", 400, 300, "png", 5000, 0, 0.0)
    records = {r.id: r for r in (jpeg, webp, other)}
    assert edited_counts(records, [], lambda i: None) == {}
    group = DuplicateGroup((webp, jpeg), 2, edited_counts(records, [], lambda i: None))
    ruled = apply_policy([group], policy)[0]
    assert ruled.keeper == 1 and ruled.reason == "resave" and not ruled.edited


def test_a_keeper_tied_with_its_own_copy_names_the_rule_that_set_them_before_the_rest():
    """Two copies of one file and a smaller re-encode: the file size chose the pair, the
    lowest id the keeper within it; the reason is the file size, not "a tie"."""
    same = (record(4, 400, 300, byte_size=900), record(5, 400, 300, byte_size=900))
    group = DuplicateGroup((*same, record(6, 400, 300, byte_size=500)), 4)
    ruled = apply_policy([group], KEEPER_POLICY)[0]
    assert ruled.keeper == 4 and ruled.reason == "bytes"
    # two different files the policy ties: the most pixels decide, whatever else is there
    small = ImageRecord(7, "s.png", None, "b7", "p7", 400, 300, "png", 10, 0, 0.0)
    large = ImageRecord(8, "l.png", None, "b8", "p8", 4000, 3000, "png", 10, 0, 0.0)
    tied = DuplicateGroup((small, large, record(9, 400, 300)), 7)
    assert apply_policy([tied], ["lossless"])[0].reason is None


def test_a_group_whose_link_was_removed_meanwhile_falls_apart():
    """Members 1-2-3 joined through 2; with 2 removed during the run, 1 and 3 are no group,
    and two parts that pairs still connect are two groups."""
    from pictrace.search.duplicates import _connected

    assert _connected([1, 3], [(1, 3)]) == [[1, 3]]
    assert _connected([1, 3], []) == []
    assert sorted(_connected([1, 2, 4, 5], [(1, 2), (4, 5)])) == [[1, 2], [4, 5]]
    single = apply_policy([DuplicateGroup((record(7, 10, 10),), 7)], KEEPER_POLICY)[0]
    assert single.reason is None and single.keeper == 7


def test_duplicates_report_progress_over_every_image(index_copy):
    seen: list[tuple[int, int]] = []
    index_copy.duplicates(progress=lambda done, total: seen.append((done, total)))
    total = index_copy.stats().images
    assert [done for done, _ in seen] == list(range(1, total + 1))
    assert {t for _, t in seen} == {total}


def test_groups_are_reused_until_the_catalogue_changes(index_copy, photos, tmp_path):
    """Asking again (with any policy) orders the same groups again without searching; an
    added image is searched (only it), and a fresh search searches every image again."""
    calls: list[int] = []
    first = index_copy.duplicates(progress=lambda done, total: calls.append(done))
    searched = len(calls)
    again = index_copy.duplicates(["bytes"], progress=lambda done, total: calls.append(done))
    assert len(calls) == searched  # nothing searched
    assert [sorted(m.id for m in g.members) for g in again] == [
        sorted(m.id for m in g.members) for g in first
    ]
    assert all(g.keeper == max(g.members, key=lambda m: m.byte_size).id for g in again)
    small = load_rgb(photos / "coffee.jpg").resize((300, 200))
    (tmp_path / "small_coffee.jpg").write_bytes(jpeg_bytes(small, 90))
    index_copy.add([tmp_path / "small_coffee.jpg"])
    after = index_copy.duplicates(progress=lambda done, total: calls.append(done))
    assert len(calls) == searched + 1  # only the new image
    assert any(m.source.endswith("small_coffee.jpg") for g in after for m in g.members)
    fresh = index_copy.duplicates(progress=lambda done, total: calls.append(done), fresh=True)
    assert len(calls) == 2 * searched + 2  # every image searched again
    assert [sorted(m.id for m in g.members) for g in fresh] == [
        sorted(m.id for m in g.members) for g in after
    ]


def test_a_thin_white_frame_marks_the_copy_not_the_original(photos, tmp_path):
    """A copy given a white frame 1.4 % of its width (9 px on 640: 4.5 px on the 320 px
    thumbnail, inside the margin the padding check leaves out along the shared part's edge),
    as it is or reduced to 96 % first: the frame is padding, the unframed photo the keeper,
    although the framed files are larger."""
    picture = load_rgb(photos / "china_temple.jpg")
    (tmp_path / "original.jpg").write_bytes(jpeg_bytes(picture, 60))
    framed = ImageOps.expand(picture, 9, fill=(255, 255, 255))
    (tmp_path / "framed.jpg").write_bytes(jpeg_bytes(framed, 64))
    smaller = picture.resize((614, 410), Image.Resampling.LANCZOS)
    (tmp_path / "reduced_framed.jpg").write_bytes(
        jpeg_bytes(ImageOps.expand(smaller, 9, "white"), 64)
    )
    with Index.open(tmp_path / "index") as index:
        index.add(
            [tmp_path / name for name in ("original.jpg", "framed.jpg", "reduced_framed.jpg")]
        )
        (group,) = index.duplicates()
        names = {m.id: m.source.rsplit("/", 1)[-1] for m in group.members}
        assert names[group.keeper] == "original.jpg", (names, group.edited)
        edited = {names[i] for i, count in group.edited.items() if count}
        assert {"framed.jpg", "reduced_framed.jpg"} <= edited


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_a_screenshot_of_a_small_photo_in_a_window_is_the_edited_member(photos, scale):
    """A 1600 x 900 viewer window showing a 420 x 280 photo (at its own size, or reduced):
    the window (its side bar, tool bar and info panel) is no padding, but it is mostly flat
    and the photo breaks off all round, so the window was made from the photo and the photo
    is kept, whatever the resolution."""
    from tests.search.test_inset import window

    photo = load_rgb(photos / "coffee.jpg").resize((420, 280))
    shot = window(photo, round(420 * scale))
    records = {1: record(1, 420, 280), 2: record(2, 1600, 900, 90000)}
    shown = (420 * scale, 280 * scale)
    link = Link(1, 2, shift_scale(scale, 780 - shown[0] // 2, 492 - shown[1] // 2))
    thumbs = {1: np.asarray(photo.resize((320, 213))), 2: np.asarray(shot.resize((320, 180)))}
    assert edited_member(link, records, thumbs.get) == 2
    assert keeper_of(records, [link], thumbs.get) == 1


def test_a_camera_photo_of_a_framed_painting_is_kept_over_a_crop_of_the_painting(photos):
    """The painting breaks off at its frame as a photo in a window does, but the room around
    it is a photo, not a flat frame: neither member is marked, and the room is kept."""
    room = load_rgb(photos / "fruits.jpg").resize((1280, 960))
    ImageDraw.Draw(room).rectangle((376, 276, 823, 623), fill=(90, 60, 30))
    room.paste(load_rgb(photos / "baboon.jpg").resize((400, 300)), (400, 300))
    crop = room.crop((400, 300, 800, 600))
    records = {1: record(1, 1280, 960), 2: record(2, 400, 300)}
    link = Link(2, 1, shift_scale(1.0, 400, 300))  # crop -> room
    thumbs = {1: np.asarray(room.resize((320, 240))), 2: np.asarray(crop.resize((320, 240)))}
    assert edited_member(link, records, thumbs.get) is None
    assert keeper_of(records, [link], thumbs.get) == 1


def test_a_crop_of_a_photo_is_still_not_judged_by_the_frame_test(picture):
    """The rest of the photo carries on around the crop: neither is marked."""
    records = {1: record(1, 300, 200), 2: record(2, 100, 80)}
    link = Link(2, 1, shift_scale(1.0, 120, 60))
    assert edited_member(link, records, lambda i: picture if i == 1 else None) is None


def test_a_larger_keeper_never_paired_with_a_smaller_member_is_verified_against_it(
    tmp_path, photos, monkeypatch
):
    """In a large group of edits of a flat picture, a bordered copy and its original may miss
    each other among their candidates, and the bordered copy's other pairs fit too loosely to
    judge (here: their pair dropped from every search, and its others without a transform);
    the file rules would keep the bordered copy, the larger file. The keeper is verified
    against the smaller members it has no pair with, and that pair shows the border is the
    edit."""
    from pictrace.search import duplicates as finding

    picture = load_rgb(photos / "rocket.jpg")
    files = {
        "original.jpg": picture,
        "border.jpg": ImageOps.expand(picture, border=picture.width // 8, fill=(200, 30, 30)),
        "mirror.jpg": ImageOps.mirror(picture),
        "grey.jpg": ImageOps.grayscale(picture).convert("RGB"),
    }
    for name, image in files.items():
        (tmp_path / name).write_bytes(jpeg_bytes(image, 92))
    with Index.open(tmp_path / "index") as index:
        index.add([str(tmp_path / name) for name in files])
        ids = {name: index.store.by_source(str(tmp_path / name)).id for name in files}
        apart = {ids["original.jpg"], ids["border.jpg"]}
        found = finding.copies_of

        def missing_the_pair(searcher, query, image_id):
            copies = found(searcher, query, image_id)
            border = ids["border.jpg"]
            return [
                (other, None if border in (image_id, other) else transform)
                for other, transform in copies
                if {image_id, other} != apart
            ]

        monkeypatch.setattr(finding, "copies_of", missing_the_pair)
        (group,) = index.duplicates()
    assert group.keeper != ids["border.jpg"]
    assert group.edited.get(ids["border.jpg"], 0) >= 1


def _app_screenshot(photo: Image.Image) -> Image.Image:
    """``photo`` enlarged across a 1080 x 1920 phone screenshot, an app's bars, a caption and
    buttons above and below it on white."""
    shot = Image.new("RGB", (1080, 1920), "white")
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1080, 60), fill=(20, 20, 20))
    draw.rectangle((0, 60, 1080, 200), fill=(245, 245, 245))
    draw.ellipse((30, 90, 110, 170), fill=(200, 60, 90))
    draw.text((40, 240), "You won't BELIEVE what happened here!!! #breaking", fill="black")
    shot.paste(photo.resize((1080, 720)), (0, 300))
    for k in range(5):
        draw.rectangle((60 + 200 * k, 1800, 120 + 200 * k, 1860), outline=(40, 40, 40), width=3)
    return shot


@pytest.mark.parametrize("reverse", [False, True])
def test_a_phone_screenshot_showing_a_photo_enlarged_across_it_is_the_edited_member(
    photos, reverse
):
    """The screenshot holds all of the 768 x 512 photo at twice its pixels, on a canvas of
    app bars and white: enlarged and padded, so the photo is kept (it was the larger file by
    resolution). Found from either side."""
    photo = load_rgb(photos / "coffee.jpg").resize((768, 512))
    shot = _app_screenshot(photo)
    records = {1: record(1, 768, 512, 600_000), 2: record(2, 1080, 1920, 170_000)}
    placed = shift_scale(1080 / 768, 0, 300)
    link = Link(2, 1, np.linalg.inv(placed)) if reverse else Link(1, 2, placed)
    thumbs = {1: np.asarray(photo.resize((320, 213))), 2: np.asarray(shot.resize((180, 320)))}
    assert edited_member(link, records, thumbs.get) == 2
    assert keeper_of(records, [link], thumbs.get) == 1


def test_an_enlarged_photo_with_more_picture_around_it_is_not_judged(photos):
    """The larger member holds all of the smaller at twice its pixels, and more photo around
    it: the smaller may be a reduced crop of it, so neither is marked."""
    wide = load_rgb(photos / "fruits.jpg").resize((1600, 1200))
    crop = wide.crop((400, 300, 1200, 900)).resize((560, 420))
    records = {1: record(1, 1600, 1200), 2: record(2, 560, 420)}
    link = Link(2, 1, shift_scale(800 / 560, 400, 300))
    thumbs = {1: np.asarray(wide.resize((320, 240))), 2: np.asarray(crop.resize((320, 240)))}
    assert edited_member(link, records, thumbs.get) is None


def test_a_scan_on_its_flat_bed_is_not_the_copy_of_a_reduced_crop_of_it(photos):
    """The scan holds the web copy's picture at twice its pixels on white, but not across its
    width or height: a reduced crop of it looks the same to stored features, so neither is
    marked and the larger file is kept (a review's repro)."""
    photo = load_rgb(photos / "coffee.jpg").resize((1536, 1024))
    scan = Image.new("RGB", (1800, 1400), (250, 250, 248))
    scan.paste(photo, (132, 188))
    web = photo.resize((768, 512))
    records = {1: record(1, 1800, 1400, 2_400_000), 2: record(2, 768, 512, 90_000)}
    link = Link(2, 1, shift_scale(2.0, 132, 188))  # web -> scan
    thumbs = {1: np.asarray(scan.resize((320, 249))), 2: np.asarray(web.resize((320, 213)))}
    assert edited_member(link, records, thumbs.get) is None
    assert keeper_of(records, [link], thumbs.get) == 1


def test_a_desktop_screenshot_with_its_own_bars_and_text_is_the_edited_member(photos):
    """The photo enlarged 1.5 times in the middle of a window, not across it: the window's
    title bar, caption and buttons are things of its own, no bare ground."""
    photo = load_rgb(photos / "coffee.jpg").resize((512, 341))
    shot = Image.new("RGB", (1024, 640), (250, 250, 250))
    draw = ImageDraw.Draw(shot)
    draw.rectangle((0, 0, 1024, 30), fill=(40, 90, 160))
    draw.text((12, 40), "Holiday photos - shared album", fill=(30, 30, 30))
    shot.paste(photo.resize((768, 512)), (128, 70))
    for k in range(4):
        draw.ellipse((200 + 180 * k, 600, 220 + 180 * k, 620), fill=(30, 30, 30))
    records = {1: record(1, 512, 341, 300_000), 2: record(2, 1024, 640, 120_000)}
    link = Link(1, 2, shift_scale(1.5, 128, 70))
    thumbs = {1: np.asarray(photo.resize((320, 213))), 2: np.asarray(shot.resize((320, 200)))}
    assert edited_member(link, records, thumbs.get) == 2
    assert keeper_of(records, [link], thumbs.get) == 1


def grid(
    photos, names: tuple[str, ...], cells: list[tuple[int, int, int, int]], size
) -> Image.Image:
    """A collage: each picture cropped to fill its cell (left, top, width, height)."""
    canvas = Image.new("RGB", size, "white")
    for name, (left, top, width, height) in zip(names, cells, strict=True):
        canvas.paste(ImageOps.fit(load_rgb(photos / name), (width, height)), (left, top))
    return canvas


QUARTERS = [(4, 4, 396, 296), (404, 4, 396, 296), (4, 304, 396, 296), (404, 304, 396, 296)]


def test_two_collages_sharing_a_picture_join_none_of_their_groups(index_copy, photos, tmp_path):
    """Two 2 x 2 grids show the cat, one in its top right cell, the other in its bottom right:
    each grid's frame, fitted into the other through the cat, covers a whole row of it, so
    each grid held the other as a part larger than its cells and kept the pictures of that
    row: the coffee, the cat and the motorcycle became one group."""
    first = ("coffee.jpg", "chelsea_cat.jpg", "baboon.jpg", "building.jpg")
    second = ("fruits.jpg", "squirrel.jpg", "motorcycle.jpg", "chelsea_cat.jpg")
    watched = ("coffee.jpg", "chelsea_cat.jpg", "motorcycle.jpg")
    for name in watched:  # each has a copy of its own, so each has a group
        picture = load_rgb(photos / name)
        smaller = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4))
        (tmp_path / f"small_{name}").write_bytes(jpeg_bytes(smaller, 80))
    for number, names in enumerate((first, second)):
        collage = grid(photos, names, QUARTERS, (804, 604))
        (tmp_path / f"grid{number}.jpg").write_bytes(jpeg_bytes(collage, 90))
    index_copy.add([tmp_path])
    groups = index_copy.duplicates()
    apart(groups, watched, "grid0.jpg")
    apart(groups, watched, "grid1.jpg")


def test_a_framed_copy_of_one_cell_stays_with_that_cell(index_copy, photos, tmp_path):
    """A photo of a screen showing the whole coffee picture, wide, maps past the collage's
    narrow coffee cell (a crop of it) over the centre of the larger rocket cell beside it;
    its own centre stays in the coffee cell, so it does not join the rocket's group."""
    coffee = load_rgb(photos / "coffee.jpg")
    cells = [(4, 4, 300, 396), (308, 4, 492, 396)]
    collage = grid(photos, ("coffee.jpg", "rocket.jpg"), cells, (804, 404))
    (tmp_path / "grid.jpg").write_bytes(jpeg_bytes(collage, 90))
    screen = Image.new("RGB", (coffee.width + 400, coffee.height + 160), (120, 110, 100))
    screen.paste((10, 10, 10), (180, 60, coffee.width + 220, coffee.height + 100))
    screen.paste(coffee, (200, 80))
    (tmp_path / "screen.jpg").write_bytes(jpeg_bytes(screen, 85))
    index_copy.add([tmp_path])
    apart(index_copy.duplicates(), ("coffee.jpg", "rocket.jpg"), "grid.jpg")


def test_copies_of_a_grid_stay_with_one_of_its_pictures(index_copy, photos, tmp_path):
    """A 3 x 3 grid, the grid under a caption band (which holds the whole grid, breaking off
    at the band) and the grid at a smaller size: each holds the others and all nine
    pictures, yet all three stay with the one picture they lead with, and the pictures
    that have copies of their own keep their own groups."""
    names = ("baboon.jpg", "building.jpg", "fruits.jpg", "squirrel.jpg", "coffee.jpg")
    names += ("rocket.jpg", "chelsea_cat.jpg", "motorcycle.jpg", "flower.jpg")
    cells = [(4 + (i % 3) * 304, 4 + (i // 3) * 304, 300, 300) for i in range(9)]
    collage = grid(photos, names, cells, (912, 912))
    (tmp_path / "grid.jpg").write_bytes(jpeg_bytes(collage, 90))
    captioned = Image.new("RGB", (912, 1032), "black")
    captioned.paste(collage, (0, 120))
    ImageDraw.Draw(captioned).text((20, 30), "NINE PICTURES", fill="white", font_size=60)
    (tmp_path / "captioned.jpg").write_bytes(jpeg_bytes(captioned, 90))
    (tmp_path / "small.jpg").write_bytes(jpeg_bytes(collage.resize((640, 640)), 85))
    for name in names[:6]:
        picture = load_rgb(photos / name)
        smaller = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4))
        (tmp_path / f"small_{name}").write_bytes(jpeg_bytes(smaller, 80))
    index_copy.add([tmp_path])
    groups = index_copy.duplicates()
    apart(groups, names[:6], "grid.jpg")
    for name in ("captioned.jpg", "small.jpg"):  # each in the grid's group, none alone
        assert holding(groups, name) == holding(groups, "grid.jpg") != []


def holding(groups: list[DuplicateGroup], name: str) -> list[DuplicateGroup]:
    return [g for g in groups if any(m.source.endswith("/" + name) for m in g.members)]


def test_a_grid_without_gutters_joins_none_of_its_pictures_groups(index_copy, photos, tmp_path):
    """Cells cropped to fill and laid edge to edge, each picture with copies of its own (a
    guard: the helper's grid this stands for joined four pictures' groups; these bundled
    photos did not before ``composite._dense`` either)."""
    names = ("coffee.jpg", "rocket.jpg", "chelsea_cat.jpg", "motorcycle.jpg")
    cells = [((i % 2) * 400, (i // 2) * 400, 400, 400) for i in range(4)]
    (tmp_path / "grid.jpg").write_bytes(jpeg_bytes(grid(photos, names, cells, (800, 800)), 85))
    for name in names:
        picture = load_rgb(photos / name)
        smaller = picture.resize((picture.width * 3 // 4, picture.height * 3 // 4))
        (tmp_path / f"small_{name}").write_bytes(jpeg_bytes(smaller, 80))
        bordered = ImageOps.expand(picture, 40, fill=(255, 255, 255))
        (tmp_path / f"bordered_{name}").write_bytes(jpeg_bytes(ImageOps.mirror(bordered), 80))
    index_copy.add([tmp_path])
    apart(index_copy.duplicates(), names, "grid.jpg")


def test_patches_of_a_neighbour_agreeing_by_chance_are_cut_off_a_cell():
    """A part's agreeing region: its 100 px cell, and patches of the next cell where the two
    pictures happen to agree, joined to it on a few rows: they widened its box by 60 px."""
    region = np.zeros((200, 300), bool)
    region[50:150, 20:120] = True
    region[60:70, 120:180] = True
    region[130:135, 120:150] = True
    x, y, w, h = 20, 50, 160, 100
    assert _dense(region, x, y, w, h) == (20, 50, 100, 100)
