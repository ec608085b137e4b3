import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from pictrace.decode import decode
from pictrace.evaluate.attacks import ATTACKS
from pictrace.features.keypoints import KeypointExtractor
from pictrace.features.pipeline import extract_all
from pictrace.features.thumbnail import ThumbnailExtractor
from pictrace.search.candidates import Candidate, Query
from pictrace.search.overlap import overlap, project
from pictrace.search.verifier import make_verifier
from pictrace.search.verify import MAX_MATCHES, MIN_INLIERS, Fit
from pictrace.search.warped import grey_thumbnail, warped_ssim
from pictrace.settings import load_settings
from pictrace.types import Evidence, Source
from tests.conftest import jpeg_bytes, load_rgb, png_bytes

EXTRACTORS = (KeypointExtractor(), ThumbnailExtractor())
UNRELATED = (
    "baboon.jpg",
    "coffee.jpg",
    "rocket.jpg",
    "building.jpg",
    "fruits.jpg",
    "china_temple.jpg",
    "flower.jpg",
    "butterfly.jpg",
)


def as_query(image: Image.Image, label: str = "q") -> Query:
    decoded = decode(Source(label, png_bytes(image)), load_settings())
    return Query(label, decoded, extract_all(EXTRACTORS, [decoded])[0])


def verified(query: Image.Image, hit: Image.Image) -> Evidence:
    cand = Candidate(1)
    make_verifier(load_settings(), store=None)(as_query(query), [cand], as_query(hit))  # type: ignore[arg-type]
    assert cand.evidence is not None
    assert cand.signals["inliers"] == cand.evidence.inliers
    assert cand.signals["inlier_ratio"] == cand.evidence.inlier_ratio
    assert cand.signals["warped_ssim"] == cand.evidence.warped_ssim
    return cand.evidence


def iou(a, b) -> float:
    if b is None:
        return 0.0
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union


@pytest.fixture(scope="module")
def cat(photos) -> Image.Image:
    return load_rgb(photos / "chelsea_cat.jpg")


@pytest.fixture(scope="module")
def astronaut(photos) -> Image.Image:
    return load_rgb(photos / "astronaut.jpg")


@settings(max_examples=8, deadline=None)
@given(angle=st.floats(0.0, 360.0))
def test_a_copy_rotated_by_any_angle_verifies(astronaut, angle):
    rotated = astronaut.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=(9, 9, 9))
    ev = verified(rotated, astronaut)
    assert ev.inliers >= 30
    assert ev.warped_ssim > 0.6
    t = np.asarray(ev.transform)
    turned = np.degrees(np.arctan2(t[1, 0], t[0, 0]))  # y points down: undoes the ccw turn
    assert abs((turned - angle + 180) % 360 - 180) < 3
    assert iou((0, 0, *astronaut.size), ev.query_box_in_hit) > 0.9


@settings(max_examples=8, deadline=None)
@given(area=st.floats(0.10, 0.40), fx=st.floats(0, 1), fy=st.floats(0, 1), mirror=st.booleans())
def test_a_crop_verifies_and_its_box_is_found(astronaut, area, fx, fy, mirror):
    width, height = astronaut.size
    w, h = round(width * np.sqrt(area)), round(height * np.sqrt(area))
    x, y = round((width - w) * fx), round((height - h) * fy)
    source = ImageOps.mirror(astronaut) if mirror else astronaut
    crop = source.crop((x, y, x + w, y + h))
    ev = verified(crop, astronaut)
    box = (width - x - w, y, width - x, y + h) if mirror else (x, y, x + w, y + h)
    assert ev.inliers >= MIN_INLIERS
    assert iou(box, ev.query_box_in_hit) > 0.5
    assert iou((0, 0, w, h), ev.hit_box_in_query) > 0.5
    assert (np.linalg.det(np.asarray(ev.transform)[:2, :2]) < 0) == mirror


def test_a_copy_pasted_into_another_photo_is_located(photos, cat):
    scene = load_rgb(photos / "building.jpg").resize((640, 480))
    pasted = cat.resize((round(cat.width * 320 / cat.width), round(cat.height * 320 / cat.width)))
    scene.paste(pasted, (200, 120))
    ev = verified(scene, cat)  # a smooth cat on a busy facade: the facade takes most keypoints
    assert ev.inliers >= MIN_INLIERS
    assert iou((200, 120, 200 + pasted.width, 120 + pasted.height), ev.hit_box_in_query) > 0.7
    assert ev.warped_ssim > 0.6


@pytest.mark.parametrize(
    "family", ["perspective", "caption", "jpeg_heavy", "colour", "emoji_overlay", "screenshot"]
)
def test_edited_copies_verify(cat, family):
    copy = ATTACKS[family](cat, np.random.default_rng(5))
    ev = verified(copy, cat)
    assert ev.inliers >= 20
    assert ev.warped_ssim > 0.4
    assert not ev.negative


@pytest.mark.parametrize("edit", ["plain", "mirrored crop", "rotated"])
def test_a_negative_verifies_as_one(cat, edit):
    copy = {
        "plain": cat,
        "mirrored crop": ImageOps.mirror(cat).crop((60, 40, 400, 300)),
        "rotated": cat.rotate(25, expand=True),
    }[edit]
    ev = verified(ImageOps.invert(copy), cat)
    assert ev.negative and ev.inliers >= 20
    assert ev.warped_ssim > 0.4  # compared with the query's negative


@pytest.mark.parametrize(("name", "aspect"), [("coffee.jpg", 0.5), ("flower.jpg", 1.7)])
def test_a_squashed_or_stretched_copy_verifies_all_over(photos, name, aspect):
    """A similarity explains only a strip of it (8-11 inliers for these two); a homography
    explains all of it."""
    photo = load_rgb(photos / name)
    copy = photo.resize((round(photo.width * aspect), photo.height), Image.Resampling.BICUBIC)
    ev = verified(copy, photo)
    assert ev.inliers >= 20 and ev.coverage is not None and ev.coverage > 0.5
    assert iou((0, 0, photo.width, photo.height), ev.query_box_in_hit) > 0.9


@pytest.mark.parametrize(
    ("name", "fx", "fy"),
    [("coffee.jpg", 0.45, 1.0), ("chelsea_cat.jpg", 1.0, 0.5), ("astronaut.jpg", 1.0, 0.45)],
)
def test_a_copy_squashed_by_twice_or_more_verifies(photos, name, fx, fy):
    """Squashed to less than half its width or height, a copy keeps its matches but a
    similarity explains at most 7 of them (no fit); a full affine explains most."""
    photo = load_rgb(photos / name)
    size = (round(photo.width * fx), round(photo.height * fy))
    ev = verified(photo.resize(size, Image.Resampling.BICUBIC), photo)
    assert ev.inliers >= 12
    assert iou((0, 0, photo.width, photo.height), ev.query_box_in_hit) > 0.8


def test_a_homography_is_tried_for_many_inliers_or_for_a_similarity_that_explains_little():
    from pictrace.search.verify import HOMOGRAPHY_MIN, wants_homography

    assert wants_homography(HOMOGRAPHY_MIN, HOMOGRAPHY_MIN)
    assert wants_homography(MIN_INLIERS, 3 * MIN_INLIERS)  # a squashed copy
    assert not wants_homography(MIN_INLIERS, MIN_INLIERS + 2)  # a small, clean match
    assert not wants_homography(MIN_INLIERS - 1, 100)


def test_an_implausible_homography_falls_back_to_the_similarity(cat, monkeypatch):
    from pictrace.search import verify

    collapsed = np.diag([1.0, 1e-4, 1.0])

    def everything_fits(src, dst, *args, **kwargs):
        return collapsed, np.ones((len(src), 1), np.uint8)

    monkeypatch.setattr(verify.cv2, "findHomography", everything_fits)
    ev = verified(cat.crop((40, 30, 400, 270)), cat)
    assert ev.inliers >= 20 and ev.transform is not None
    assert iou((40, 30, 400, 270), ev.query_box_in_hit) > 0.9


@pytest.mark.parametrize("pair", [(a, b) for a in UNRELATED[:3] for b in UNRELATED[5:]])
def test_negatives_of_unrelated_photos_do_not_verify(photos, pair):
    ev = verified(ImageOps.invert(load_rgb(photos / pair[0])), load_rgb(photos / pair[1]))
    assert ev.inliers < MIN_INLIERS and not ev.negative


def test_the_box_is_found_in_the_scene(photos):
    ev = verified(load_rgb(photos / "box.png"), load_rgb(photos / "box_in_scene.png"))
    assert ev.inliers >= MIN_INLIERS
    x0, y0, x1, y1 = ev.query_box_in_hit
    assert 150 < (x0 + x1) / 2 < 260 and 150 < (y0 + y1) / 2 < 280  # the box sits there


@pytest.mark.parametrize("pair", [(a, b) for a in UNRELATED[:4] for b in UNRELATED[4:]])
def test_unrelated_photos_do_not_verify(photos, pair):
    ev = verified(load_rgb(photos / pair[0]), load_rgb(photos / pair[1]))
    assert ev.inliers < MIN_INLIERS
    assert ev.warped_ssim == 0.0
    assert ev.transform is None and ev.matches == ()


def test_evidence_is_in_full_size_pixels_and_self_consistent(cat):
    big = cat.resize((cat.width * 3, cat.height * 3), Image.Resampling.BICUBIC)  # > work_size
    crop = big.crop((300, 150, 1100, 800))
    ev = verified(Image.open(__import__("io").BytesIO(jpeg_bytes(crop, 40))), big)
    assert 20 <= len(ev.matches) <= MAX_MATCHES
    t = np.asarray(ev.transform)
    q = np.array([m[:2] for m in ev.matches])
    h = np.array([m[2:] for m in ev.matches])
    assert np.median(np.linalg.norm(project(t, q) - h, axis=1)) < 0.01 * big.width
    assert iou((300, 150, 1100, 800), ev.query_box_in_hit) > 0.9
    assert all(0 <= v <= max(big.size) for v in ev.query_box_in_hit)


def test_warped_ssim_of_an_exact_mirror_is_one(cat):
    pixels = np.asarray(cat)
    w, h = cat.size
    flip = np.array([[-1.0, 0, w], [0, 1, 0], [0, 0, 1]])
    fit = Fit(flip, np.zeros((0, 2)), np.zeros((0, 2)), (0, 0, w, h), (0, 0, w, h), 1.0)
    mirrored = grey_thumbnail(np.ascontiguousarray(pixels[:, ::-1]))
    assert warped_ssim(mirrored, grey_thumbnail(pixels), fit, (w, h), (w, h)) > 0.99


@pytest.mark.parametrize(
    "transform",
    [
        np.diag([1.0, 1e-4, 1.0]),  # collapsed
        np.array([[1.0, 0, 0], [0, 1, 0], [-0.005, 0, 1]]),  # horizon through the picture
        np.array([[1.0, 0, 0], [0, 1, 0], [0.01, 0, 1]]),  # squashed 5x across
        np.array([[1.0, 0, 5000], [0, 1, 0], [0, 0, 1]]),  # no overlap
    ],
)
def test_implausible_transforms_are_rejected(transform):
    assert overlap(transform, (400, 300), (400, 300)) is None


class NoStoredFeatures:
    def features(self, name, ids):
        return {}


def test_candidates_without_stored_keypoints_are_left_alone(cat):
    cand = Candidate(7, signals={"cosine": 0.9})
    make_verifier(load_settings(), NoStoredFeatures())(as_query(cat), [cand], None)  # type: ignore[arg-type]
    assert cand.signals == {"cosine": 0.9} and cand.evidence is None


def test_search_verifies_candidates_from_the_store(index_copy, photos, cat):
    copy = ImageOps.mirror(cat).rotate(33, expand=True).crop((100, 100, 420, 380))
    result = index_copy.search(copy, k=3)
    top = result.matches[0]
    assert top.source.endswith("chelsea_cat.jpg")
    assert top.evidence is not None and top.evidence.inliers >= 20
    assert top.signals["inliers"] >= 20
    # search skips the warped SSIM (it adds nothing to the confidence); compare computes it
    assert "warped_ssim" not in top.signals and top.evidence.warped_ssim is None
    others = [m for m in result.matches[1:] if m.evidence is not None]
    assert all(m.signals["inliers"] < MIN_INLIERS for m in others)


def test_compare_reports_the_evidence(index_copy, photos):
    comparison = index_copy.compare(photos / "box.png", photos / "box_in_scene.png")
    assert comparison.evidence is not None and comparison.evidence.inliers >= MIN_INLIERS
    assert comparison.metrics["inliers"] == comparison.evidence.inliers


def test_verification_sides_follow_the_votes():
    from pictrace.search.verify import sides_of

    assert sides_of({}) == (True, True)  # compare: no votes known
    assert sides_of({"votes": 0.0, "mirror_votes": 0.0}) == (True, False)
    assert sides_of({"votes": 40.0, "mirror_votes": 1.0}) == (True, False)
    assert sides_of({"votes": 31.0, "mirror_votes": 30.0}) == (False, True)
    assert sides_of({"votes": 12.0, "mirror_votes": 6.0}) == (True, True)
    assert sides_of({"votes": 10.0, "mirror_votes": 3.0}) == (True, False)


def test_only_candidates_with_at_most_chance_votes_are_tried_as_negatives():
    """A negative's descriptors do not vote; a well-voted candidate that does not fit is not one."""
    from pictrace.search.candidates import tries_negative

    assert tries_negative({})  # compare
    assert tries_negative({"votes": 1.0, "mirror_votes": 0.0, "cosine": 0.9})
    assert not tries_negative({"votes": 6.0, "mirror_votes": 0.0})
    assert not tries_negative({"votes": 4.0, "mirror_votes": 2.0})


def test_a_later_plain_fit_clears_the_negative_flag_and_a_second_look_starts_without_it():
    from pictrace.search.candidates import without_local
    from pictrace.search.verify import apply

    cand = Candidate(3, {"cosine": 0.9, "phash": 62.0})
    apply(cand, Evidence(40, 0.9, None, None, None, None, negative=True))
    assert cand.signals["negative"] == 1.0
    assert "negative" not in without_local(cand).signals  # the finer look verifies again
    apply(cand, Evidence(40, 0.9, None, None, None, None))
    assert "negative" not in cand.signals and cand.signals["phash"] == 62.0


def test_complementary_hashes_are_worth_verifying():
    from pictrace.search.candidates import worth_verifying

    assert worth_verifying(Candidate(1, {"cosine": 0.4, "phash": 61.0, "dhash": 40.0}))
    assert not worth_verifying(Candidate(1, {"cosine": 0.4, "phash": 33.0, "dhash": 30.0}))


def test_a_couple_of_chance_votes_do_not_rule_out_a_negative():
    from pictrace.search.candidates import NEGATIVE_VOTES, tries_negative

    assert tries_negative({"votes": NEGATIVE_VOTES - 1.0, "mirror_votes": 0.0})
    assert not tries_negative({"votes": NEGATIVE_VOTES, "mirror_votes": 0.0})


def test_a_rotated_negative_the_cnn_misses_is_found_by_its_negative_votes(index_copy, photos):
    """Its CNN cosine (0.51) is below the verification gate and its own descriptors do not
    vote: the second look's votes of the query's negative find it."""
    building = load_rgb(photos / "building.jpg")
    w, h = building.size
    query = ImageOps.invert(building.rotate(35, expand=True).crop((w * 0.2, h * 0.2, w, h)))
    top = index_copy.search(query, k=3).matches[0]
    assert top.source.endswith("building.jpg") and top.tier == "copy"
    assert top.evidence is not None and top.evidence.negative
    assert top.signals["negative_votes"] >= 10 and top.signals["votes"] < 4


def test_search_finds_a_negative_as_a_copy(index_copy, cat):
    result = index_copy.search(ImageOps.invert(cat.crop((0, 0, 400, 330))), k=3)
    top = result.matches[0]
    assert top.source.endswith("chelsea_cat.jpg") and top.tier == "copy"
    assert top.evidence is not None and top.evidence.negative
    assert top.signals["negative"] == 1.0
    assert all(not m.evidence.negative for m in result.matches[1:] if m.evidence is not None)


def test_the_negative_votes_are_kept_apart_from_the_query_own():
    """Chance votes of the negative's descriptors must not outrank the query's own votes."""
    from pictrace.search.candidates import Votes

    votes = Votes(3.0, 2.0, 9.0)
    assert votes.signals() == {"votes": 5.0, "mirror_votes": 2.0, "negative_votes": 9.0}
    assert votes.strength == 9.0 and Votes(1.0, 0.0).strength == 1.0
    # own votes below MIN_VOTES count as none, as when the negative's did not vote
    assert Votes(1.0, 0.0, 3.0).signals() == {
        "votes": 0.0,
        "mirror_votes": 0.0,
        "negative_votes": 3.0,
    }
