"""Coarse to fine: a second, finer look at queries in which the first search found no copy
(or copies that show in under three quarters of the query: ``EXPLAINED``)."""

import contextlib
from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageFilter

from pictrace import Index
from pictrace.evaluate import synthetic_background
from pictrace.features import keypoints
from pictrace.features.keypoints import FINE_SIDE, FIRST_LOOK_SIDE, SIDE, SMALL_LOOK_SIDE
from pictrace.search.candidates import Candidate
from pictrace.search.engine import Searcher
from pictrace.search.zoom import explained
from pictrace.types import Evidence
from tests.conftest import jpeg_bytes, load_rgb


def _pasted_small(photos, name: str, width: int = 260, left: int = 820) -> Image.Image:
    """``name`` ``width`` px wide (19% by default) inside a large, busy picture that is not in
    the index."""
    canvas = synthetic_background(np.random.default_rng(3)).resize((1400, 1050))
    piece = load_rgb(photos / name)
    piece = piece.resize((width, round(width * piece.height / piece.width)))
    canvas.paste(piece, (left, 90))
    return canvas


def _counting(index: Index) -> list[int]:
    calls: list[int] = []
    original = index._refine

    def refine(query, region=None, enlarge=True):
        calls.append(1 if region is None else region)
        return original(query, region, enlarge)

    index._refine = refine  # type: ignore[method-assign]
    return calls


def test_a_found_copy_needs_no_second_look(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        calls = _counting(index)
        result = index.search(photos / "rocket.jpg", k=3)
        assert result.matches[0].tier == "exact" and not calls


def test_a_small_paste_is_looked_at_again_and_found(built_index, photos):
    query = _pasted_small(photos, "coffee.jpg")
    with Index.open(built_index, readonly=True) as index:
        calls = _counting(index)
        best = index.search(query, k=3).matches[0]
        assert calls == [1]
        assert best.source.endswith("coffee.jpg") and best.tier == "copy"
        assert best.evidence is not None and best.evidence.hit_box_in_query is not None
        x0, _, x1, _ = best.evidence.hit_box_in_query
        assert 800 < x0 < 840 and 1060 < x1 < 1100  # where it was pasted, in query pixels


def _story(photos, name: str, width: int) -> Image.Image:
    """``name`` at ``width`` px, at its own size in a 1080x1920 story on a blurred fill."""
    piece = load_rgb(photos / name)
    canvas = piece.resize((1080, 1920)).filter(ImageFilter.GaussianBlur(40))
    canvas.paste(piece.resize((width, round(width * piece.height / piece.width))), (450, 700))
    return canvas


def test_a_picture_small_in_a_story_is_found_by_looking_closer(built_index, photos):
    """At FINE_SIDE the 160 px picture spans 32 px of the story: a few keypoints agree, not
    enough for a copy; the third look sees only the part around them, as closely."""
    with Index.open(built_index, readonly=True) as index:
        calls = _counting(index)
        best = index.search(_story(photos, "astronaut.jpg", 160), k=3).matches[0]
    assert calls[0] == 1 and len(calls) == 2
    x0, y0, x1, y1 = calls[1]
    assert x0 <= 450 and y0 <= 700 and x1 >= 610 and y1 >= 860  # around the picture
    assert (x1 - x0) <= 0.6 * 1920  # and not the whole story
    assert best.source.endswith("astronaut.jpg") and best.tier == "copy"
    assert best.evidence is not None and best.evidence.hit_box_in_query is not None
    bx0, by0, bx1, by1 = best.evidence.hit_box_in_query  # in the whole story's pixels
    assert abs(bx0 - 450) < 15 and abs(by0 - 700) < 15 and abs(bx1 - 610) < 15
    assert by1 > by0


def test_region_keypoints_are_in_the_whole_pictures_frame(built_index, photos):
    from pictrace.features.keypoints import decode_keypoints

    story = _story(photos, "astronaut.jpg", 160)
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(story)
        zoomed = index._refine(query, (300.0, 550.0, 780.0, 1030.0))
    kp = decode_keypoints(zoomed.features["keypoints"])
    assert kp.size == (1080, 1920) and len(kp) > 50
    assert kp.xy[:, 0].min() >= 299 and kp.xy[:, 0].max() <= 781
    assert kp.xy[:, 1].min() >= 549 and kp.xy[:, 1].max() <= 1031


def test_only_the_second_look_votes_with_the_query_negative(index_copy, photos):
    with contextlib.nullcontext(index_copy) as index:  # duplicates keeps its searches there
        flags: list[bool] = []
        votes = index.searcher._votes

        def recording(query, again=False):
            flags.append(again)
            return votes(query, again)

        index.searcher._votes = recording  # type: ignore[method-assign]
        index.search(photos / "rocket.jpg", k=3)  # found: the first look only
        assert flags == [False]
        flags.clear()
        index.search(_pasted_small(photos, "coffee.jpg"), k=3)
        assert flags == [False, True]
        flags.clear()
        index.duplicates()
        assert flags and not any(flags)


def test_small_queries_are_looked_at_again_enlarged(built_index, monkeypatch):
    """A query smaller than SMALL_LOOK_SIDE gets its second look enlarged smoothly to it (no
    finer detail is there to see), never a hit (compare's other side: search never enlarges
    an indexed picture); a query between it and the first look's finer size gets none."""
    sizes = []
    original = keypoints.detect

    def spy(pixels, size, count, side, *args, **kwargs):
        sizes.append((max(pixels.shape[:2]), side, kwargs.get("enlarge", False)))
        return original(pixels, size, count, side, *args, **kwargs)

    monkeypatch.setattr(keypoints, "detect", spy)
    rng = np.random.default_rng(2)
    small = Image.fromarray(rng.integers(0, 255, (100, 100, 3), dtype=np.uint8))
    between = Image.fromarray(np.full((SMALL_LOOK_SIDE + 20,) * 2 + (3,), 90, np.uint8))
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(small)
        sizes.clear()
        again = index._refine(query)
        assert again is not None and sizes == [(100, SMALL_LOOK_SIDE, True)]
        assert index._refine(query, enlarge=False) is None
        assert index._refine(index.prepare_query(between)) is None
    assert FINE_SIDE > SIDE > FIRST_LOOK_SIDE >= SMALL_LOOK_SIDE


def test_compare_takes_the_second_look_on_either_side(built_index, photos):
    pasted = _pasted_small(photos, "coffee.jpg")
    with Index.open(built_index, readonly=True) as index:
        for a, b in ((pasted, photos / "coffee.jpg"), (photos / "coffee.jpg", pasted)):
            comparison = index.compare(a, b)
            assert comparison.verdict == "copy" and comparison.evidence is not None


def test_compare_agrees_with_search_on_a_picture_small_in_a_story(built_index, photos):
    """The story as the query finds the picture with its zoomed look; compare meets the
    pair the other way round (the smaller picture as the query), and then looks from the
    story's side as well."""
    story = Image.new("RGB", (1080, 1920), (60, 80, 160))
    picture = load_rgb(photos / "rocket.jpg")
    picture.thumbnail((420, 420))
    story.paste(picture, (330, 700))
    with Index.open(built_index, readonly=True) as index:
        found = index.search(story, k=1).matches[0]
        assert found.source.endswith("rocket.jpg") and found.tier == "copy"
        for a, b in ((story, photos / "rocket.jpg"), (photos / "rocket.jpg", story)):
            comparison = index.compare(a, b)
            assert comparison.verdict == "copy"
            assert abs(comparison.copy_confidence - found.copy_confidence) < 0.1


def test_a_collage_is_looked_at_again_after_its_first_copy(built_index, photos):
    """Four indexed pictures side by side: the first look finds some, each showing in a
    quarter of the query, so the second look runs all the same and finds another."""
    canvas = Image.new("RGB", (320, 320), "white")
    for i, name in enumerate(("baboon.jpg", "building.jpg", "fruits.jpg", "squirrel.jpg")):
        cell = load_rgb(photos / name)
        cell.thumbnail((160, 160))
        canvas.paste(cell, ((i % 2) * 160, (i // 2) * 160))
    with Index.open(built_index, readonly=True) as index:
        calls = _counting(index)
        matches = index.search(jpeg_bytes(canvas), k=6).matches
    assert calls and calls[0] == 1
    assert sum(m.tier == "copy" for m in matches) >= 3


def test_tiny_thumbnails_are_found_as_copies(built_index, photos):
    """A thumbnail a few dozen pixels across (an avatar, a favicon-sized preview) is enlarged
    smoothly before its keypoints and embedding: each bundled photo's 36 px JPEG is found at
    rank 1 as a copy. (Enlarged by repeating pixels, the blocks' edges made up most of its
    keypoints: few of these were called copies.)"""
    names = ["astronaut.jpg", "coffee.jpg", "rocket.jpg", "chelsea_cat.jpg", "fruits.jpg"]
    with Index.open(built_index, readonly=True) as index:
        for name in names:
            tiny = load_rgb(photos / name)
            tiny.thumbnail((36, 36), Image.Resampling.LANCZOS)
            top = index.search(jpeg_bytes(tiny, 85), k=3).matches[0]
            assert top.source.endswith(name) and top.tier == "copy", (name, top)


def test_compare_never_enlarges_the_hit_side(built_index, photos):
    """compare's hit stands for an indexed picture, which search never enlarges: its second
    look is asked for without the enlarged one, so compare agrees with search."""
    asked = []
    with Index.open(built_index, readonly=True) as index:
        original = index._refine

        def refine(query, region=None, enlarge=True):
            asked.append((query.label, region, enlarge))
            return original(query, region, enlarge)

        tiny = load_rgb(photos / "rocket.jpg")
        tiny.thumbnail((40, 40))
        other = load_rgb(photos / "coffee.jpg")
        other.thumbnail((40, 40))
        a, b = index.prepare_query(jpeg_bytes(tiny, 85)), index.prepare_hit(jpeg_bytes(other, 85))
        index.searcher.pair(a, b, refine)
    assert (a.label, None, True) in asked and (b.label, None, False) in asked


def test_an_indexed_collage_still_finds_its_cells(index_copy, photos, tmp_path):
    """A collage that is in the collection itself: its exact hit does not end the search,
    the pictures it was made from are found as copies after it (a collection tile's "Find
    copies" leaves the image itself out and shows them)."""
    canvas = Image.new("RGB", (480, 480), "white")
    for i, name in enumerate(("baboon.jpg", "building.jpg", "fruits.jpg", "squirrel.jpg")):
        cell = load_rgb(photos / name)
        cell.thumbnail((160, 160))
        canvas.paste(cell, (40 + (i % 2) * 200, 40 + (i // 2) * 200))
    (tmp_path / "collage.jpg").write_bytes(jpeg_bytes(canvas))
    index_copy.add([tmp_path / "collage.jpg"])
    matches = index_copy.search(tmp_path / "collage.jpg", k=6).matches
    assert matches[0].tier == "exact" and matches[0].source.endswith("collage.jpg")
    cells = {m.source.rsplit("/", 1)[-1] for m in matches[1:] if m.tier == "copy"}
    assert len(cells) >= 3, matches


SUBJECTS = ["clothing_shoes_1.jpg", "clothing_shoes_2.jpg", "rocket.jpg", "chelsea_cat.jpg"]


def _pasted_into(photos, background: str, name: str) -> Image.Image:
    """``name`` at 30% width right of the middle of ``background``, a photo not in the index."""
    canvas = load_rgb(photos / background).resize((960, 720))
    piece = load_rgb(photos / name)
    height = round(288 * piece.height / piece.width)
    canvas.paste(piece.resize((288, height)), (528, 360 - height // 2))
    return canvas


def test_a_photo_pasted_into_another_is_found_by_the_second_looks_votes(photos, tmp_path):
    """A search's second look votes with all of its keypoints: of a spread-out prefix, the
    few on a piece pasted into a busy photo were too few to vote for it (the two garments
    were found only as similar before; the other two were copies already)."""
    with Index.open(tmp_path / "index") as index:
        index.add([str(photos / name) for name in SUBJECTS])
        for background, name in [
            ("baboon.jpg", "rocket.jpg"),
            ("building.jpg", "clothing_shoes_2.jpg"),
            ("china_temple.jpg", "chelsea_cat.jpg"),
            ("china_temple.jpg", "clothing_shoes_1.jpg"),
        ]:
            found = index.search(_pasted_into(photos, background, name), k=3).matches
            assert found and found[0].source.endswith(name), (background, name, found)
            assert found[0].tier == "copy", (background, name, found[0])


def test_a_collage_is_looked_at_until_its_copies_show_in_most_of_it(built_index, photos):
    """A 2 x 2 collage of indexed photos: the copies found first show in half of it while
    other candidates' keypoints agree in the rest, so the search looks again (until the
    copies show in ``EXPLAINED`` of it: three of the four, where half stopped at two)."""
    cells = ["chelsea_cat.jpg", "squirrel.jpg", "astronaut.jpg", "motorcycle.jpg"]
    canvas = Image.new("RGB", (1000, 800), "white")
    for k, name in enumerate(cells):
        canvas.paste(load_rgb(photos / name).resize((490, 390)), ((k % 2) * 505, (k // 2) * 405))
    with Index.open(built_index, readonly=True) as index:
        found = index.search(canvas, k=8).matches
    copies = {m.source.rsplit("/", 1)[-1] for m in found if m.tier == "copy"}
    assert len(copies & set(cells)) >= 3 and copies <= set(cells), copies


def test_a_copy_found_first_does_not_hide_another_copy_of_the_same_picture(photos, tmp_path):
    """A re-post of a picture explains the query (its box is all of it), but the archive's
    original inside it is no copy at the first look's scale (a fit of 9 keypoints, below the
    threshold): as that fit lies inside the re-post's box, the search still looks again, and
    finds it too."""
    query = _pasted_small(photos, "coffee.jpg", width=360, left=700)
    (tmp_path / "repost.jpg").write_bytes(jpeg_bytes(query, quality=90))
    with Index.open(tmp_path / "index") as index:
        index.add([str(photos / "coffee.jpg"), str(tmp_path / "repost.jpg")])
        calls = _counting(index)
        found = index.search(query, k=3).matches
    tiers = {m.source.rsplit("/", 1)[-1]: m.tier for m in found}
    assert tiers == {"repost.jpg": "copy", "coffee.jpg": "copy"} and calls[0] == 1


W, H = 1400, 1050
IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _copy_and_corner(fitted: bool) -> dict[int, Candidate]:
    """A copy whose box is all of the query, and a candidate whose keypoints agree in one
    corner of it (12 of them; with ``fitted``, a fit below the threshold: a shared
    watermark, or another copy the first look's scale is too coarse for)."""
    whole = (0.0, 0.0, float(W), float(H))
    copy = Candidate(1, {"inliers": 200.0}, confidence=0.99, focus=(10.0, 10.0, W - 10.0, H - 10.0),
                     evidence=Evidence(200, 0.9, None, IDENTITY, whole, whole))  # fmt: skip
    corner = (1200.0, 950.0, 1390.0, 1040.0)
    fit = Evidence(12, 0.3, None, IDENTITY, corner, corner, coverage=0.02) if fitted else None
    mark = Candidate(2, {"inliers": 12.0}, confidence=0.05, evidence=fit, focus=corner)
    return {1: copy, 2: mark}


def test_only_a_fitted_candidate_inside_a_copy_asks_for_the_second_look():
    image = SimpleNamespace(width=W, height=H)
    assert not explained(_copy_and_corner(fitted=True), image, 0.5)
    assert explained(_copy_and_corner(fitted=True), image, 0.5, again=True)  # no zoom for it
    assert explained(_copy_and_corner(fitted=False), image, 0.5)  # keypoints merely agree


def test_a_candidate_fitted_inside_a_copy_gets_the_second_look_but_no_zoomed_one():
    """After the finer look it is still no copy (a watermark the two share): the zoomed look
    is for a picture the search found no copy of."""
    searcher = Searcher.__new__(Searcher)
    searcher.settings = SimpleNamespace(copy_threshold=0.5)
    searcher.scored = lambda query, **kw: _copy_and_corner(fitted=True)  # type: ignore[method-assign]
    searcher._looked_again = lambda finer, candidates, k: candidates  # type: ignore[method-assign]
    query = SimpleNamespace(image=SimpleNamespace(width=W, height=H))
    query.completed = lambda: query
    regions = []

    def refine(q, region):
        regions.append(region)
        return q

    searcher._looked(query, 5, refine, None)
    assert regions == [None]
