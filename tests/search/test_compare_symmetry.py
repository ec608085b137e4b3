"""compare(a, b) and compare(b, a) agree: the more confident direction decides, and the
evidence still maps a onto b."""

from __future__ import annotations

import numpy as np

from pictrace.search.compare import reversed_evidence
from pictrace.types import Evidence
from tests.conftest import jpeg_bytes, load_rgb, png_bytes


def test_either_order_gives_one_verdict(built_index, photos, tmp_path):
    from pictrace import Index

    cat = load_rgb(photos / "chelsea_cat.jpg")
    crop = cat.crop((60, 40, 60 + cat.width // 3, 40 + cat.height // 3)).rotate(25, expand=True)
    (tmp_path / "crop.jpg").write_bytes(jpeg_bytes(crop, 50))
    copies = 0
    pairs = [
        (photos / "box.png", photos / "box_in_scene.png"),
        (photos / "chelsea_cat.jpg", tmp_path / "crop.jpg"),
        (photos / "coffee.jpg", photos / "rocket.jpg"),
    ]
    with Index.open(built_index, readonly=True) as index:
        for a, b in pairs:
            ab, ba = index.compare(a, b), index.compare(b, a)
            assert ab.verdict == ba.verdict and ab.copy_confidence == ba.copy_confidence
            copies += ab.verdict == "copy"
            if ab.verdict == "copy":  # each maps its own first image onto its second
                assert ab.evidence is not None and ba.evidence is not None
                assert ab.evidence.query_box_in_hit is not None
                assert ba.evidence.hit_box_in_query is not None
                assert np.allclose(ab.evidence.query_box_in_hit, ba.evidence.hit_box_in_query)
    assert copies == 2


def test_reversed_evidence_inverts_the_transform():
    turn = ((0.0, -2.0, 100.0), (2.0, 0.0, 10.0), (0.0, 0.0, 1.0))
    evidence = Evidence(
        inliers=3,
        inlier_ratio=1.0,
        warped_ssim=None,
        transform=turn,
        query_box_in_hit=(1.0, 2.0, 3.0, 4.0),
        hit_box_in_query=(5.0, 6.0, 7.0, 8.0),
        matches=((1.0, 2.0, 96.0, 12.0),),
    )
    back = reversed_evidence(evidence)
    assert np.allclose(np.asarray(back.transform) @ np.asarray(turn), np.eye(3))
    assert back.query_box_in_hit == (5.0, 6.0, 7.0, 8.0)
    assert back.hit_box_in_query == (1.0, 2.0, 3.0, 4.0)
    assert back.matches == ((96.0, 12.0, 1.0, 2.0),)
    assert reversed_evidence(back) == evidence


def test_the_smaller_picture_is_the_query(photos):
    from pictrace.search.compare import query_first as _query_first
    from pictrace.types import Source

    big = Source("big.png", png_bytes(load_rgb(photos / "coffee.jpg")))
    small = Source("small.png", png_bytes(load_rgb(photos / "coffee.jpg").resize((60, 40))))
    assert _query_first(small, big) and not _query_first(big, small)
    twin = Source("twin.png", png_bytes(load_rgb(photos / "rocket.jpg").resize((60, 40))))
    assert _query_first(small, twin) != _query_first(twin, small)  # same size: by digest
    broken = Source("broken.png", b"not a picture")
    assert _query_first(broken, small)  # unreadable: first, so decoding says what is wrong


def test_orb_matches_are_the_same_every_time(photos):
    from pictrace.search.compare import orb_matches
    from tests.conftest import load_rgb

    a = np.asarray(load_rgb(photos / "coffee.jpg"))
    b = np.asarray(load_rgb(photos / "rocket.jpg"))
    assert len({orb_matches(a, b) for _ in range(6)}) == 1


def test_the_orb_match_ratio_is_a_share_either_way_round(photos):
    """A crop holds fewer keypoints than the picture: matched from the picture, several of
    its keypoints matched one of the crop's (this crop: 81 "matches" of 53 keypoints, 1.53).
    The smaller set is matched, whichever comes first."""
    from pictrace.search.compare import orb_matches
    from tests.conftest import load_rgb

    whole = np.asarray(load_rgb(photos / "coffee.jpg"))
    part = np.ascontiguousarray(whole[30:130, 50:200])
    good, ratio = orb_matches(whole, part)
    assert 0.0 <= ratio <= 1.0
    assert orb_matches(part, whole) == (good, ratio)
