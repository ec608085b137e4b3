"""``pictrace calibrate``: a user's labelled pairs refit copy_confidence for their index."""

import itertools
import json
from pathlib import Path

import pytest

from pictrace import Index
from pictrace.errors import IndexLocked
from pictrace.search.confidence import load_calibrator
from tests.conftest import load_rgb

NAMES = ["astronaut.jpg", "coffee.jpg", "rocket.jpg", "chelsea_cat.jpg", "fruits.jpg", "baboon.jpg"]
OLDER = {  # a calibration an earlier release wrote into an index folder
    "names": ["cosine", "phash", "dhash", "colour", "inliers", "inlier_ratio"],
    "weights": [-1.3, -2.9, -1.4, 0.6, 2.1, 2.9],
    "bias": -3.6,
    "fitted_on": "an earlier release",
}


def _pairs(photos, folder) -> str:
    rows = ["a,b,is_copy"]
    for name in NAMES:
        picture = load_rgb(photos / name)
        w, h = picture.size
        picture.crop((w // 8, h // 8, w, h)).save(folder / f"crop_{name}", quality=75)
        rows.append(f"{folder / f'crop_{name}'},{photos / name},1")
    for first, second in zip(NAMES, NAMES[1:] + NAMES[:1], strict=True):
        rows.append(f"{photos / first},{photos / second},0")
    (folder / "pairs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(folder / "pairs.csv")


def test_a_refit_uses_the_shipped_inputs_and_replaces_an_older_calibration(photos, tmp_path):
    index_dir = tmp_path / "index"
    with Index.open(index_dir) as index:
        index.add([str(photos / name) for name in NAMES])
    (index_dir / "calibration.json").write_text(json.dumps(OLDER), encoding="utf-8")
    pairs = _pairs(photos, tmp_path)
    with Index.open(index_dir) as index:
        assert list(index.searcher.calibrator.names) == OLDER["names"]  # the index's own
        report = index.calibrate(pairs)
        assert report is not None
        shipped = load_calibrator(None).names
        assert index.searcher.calibrator.names == shipped and "supported" in shipped
        best = index.search(tmp_path / "crop_coffee.jpg", k=1).matches[0]
        assert best.source.endswith("coffee.jpg") and best.tier == "copy"
    saved = json.loads((index_dir / "calibration.json").read_text(encoding="utf-8"))
    assert saved["names"] == list(shipped)
    with Index.open(index_dir, readonly=True) as index:  # the refit is the index's from now on
        assert index.searcher.calibrator.names == shipped


def test_the_hashes_of_a_negative_count_against_the_query_negative():
    """Every hash bit of a colour-inverted copy flips; once the geometry shows the query is
    the hit's negative, its hash distances are read as distances to that negative."""
    from pictrace.search.confidence import model_inputs

    plain = {"cosine": 0.9, "phash": 62.0, "dhash": 64.0, "inliers": 80.0, "inlier_ratio": 0.9}
    names = ("phash", "dhash", "cosine")
    assert model_inputs(plain, names) == [62 / 64, 1.0, 0.9]
    assert model_inputs({**plain, "negative": 1.0}, names) == [2 / 64, 0.0, 0.9]
    shipped = load_calibrator(None)
    assert shipped.confidence({**plain, "negative": 1.0}) > shipped.confidence(plain)


def test_pairs_are_found_beside_the_list_or_from_the_current_folder_and_unreadable_ones_named(
    photos, tmp_path, monkeypatch
):
    index_dir = tmp_path / "index"
    with Index.open(index_dir) as index:
        index.add([str(photos / name) for name in NAMES])
    listed = tmp_path / "lists"
    listed.mkdir()
    rows = ["a,b,is_copy"]
    for name in NAMES:  # written from tmp_path: "lists/crop_x.jpg", not beside the list
        picture = load_rgb(photos / name)
        picture.crop((20, 20, picture.width, picture.height)).save(listed / f"crop_{name}")
        rows.append(f"lists/crop_{name},{photos / name},1")
    rows += [f"{photos / a},{photos / b},0" for a, b in itertools.pairwise(NAMES)]
    rows.append(f"missing.jpg,{photos / NAMES[0]},0")
    (listed / "pairs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with Index.open(index_dir) as index:
        report = index.calibrate(listed / "pairs.csv")
    assert report.pairs == 2 * len(NAMES) - 1 and report.skipped == 1
    assert "missing.jpg" in report.unreadable[0]


def test_a_reset_goes_back_to_the_shipped_calibration(photos, tmp_path, run):
    index_dir = tmp_path / "index"
    with Index.open(index_dir) as index:
        index.add([str(photos / name) for name in NAMES])
    pairs = _pairs(photos, tmp_path)
    code, out, _ = run("--index", str(index_dir), "calibrate", pairs)
    assert code == 0 and "only 12 pairs" in out and "calibrate --reset" in out
    assert (index_dir / "calibration.json").exists()
    code, out, _ = run("--index", str(index_dir), "calibrate", "--reset")
    assert code == 0 and not (index_dir / "calibration.json").exists()
    with Index.open(index_dir, readonly=True) as index:
        assert index.searcher.calibrator == load_calibrator(None)
    code, _, err = run("--index", str(index_dir), "calibrate")
    assert code == 2 and "--reset" in err


def test_a_spreadsheet_list_with_a_byte_order_mark_and_paths_beside_it_is_read(photos, tmp_path):
    """Excel's "CSV UTF-8" starts with a byte-order mark; a list named by a string finds its
    relative paths beside it as one named by a Path does."""
    index_dir = tmp_path / "index"
    with Index.open(index_dir) as index:
        index.add([str(photos / name) for name in NAMES])
    listed = Path(_pairs(photos, tmp_path))
    rows = listed.read_text(encoding="utf-8").replace(f"{tmp_path}/", "")  # beside the list
    listed.write_text("\ufeff" + rows, encoding="utf-8")
    with Index.open(index_dir) as index:
        report = index.calibrate(str(listed))
    assert report.pairs == 2 * len(NAMES) and report.skipped == 0


def test_an_index_open_read_only_is_not_calibrated(photos, tmp_path):
    index_dir = tmp_path / "index"
    with Index.open(index_dir) as index:
        index.add([str(photos / name) for name in NAMES])
    pairs = _pairs(photos, tmp_path)
    with (
        Index.open(index_dir, readonly=True) as index,
        pytest.raises(IndexLocked, match="calibrate"),
    ):
        index.calibrate(pairs)
    assert not (index_dir / "calibration.json").exists()


def test_too_few_pairs_are_counted_in_words_that_fit_one(photos, tmp_path):
    from pictrace.errors import ConfigError

    listed = tmp_path / "pairs.csv"
    listed.write_text(f"a,b,is_copy\n{photos / 'rocket.jpg'},{photos / 'rocket.jpg'},1\n")
    with Index.open(tmp_path / "index") as index, pytest.raises(ConfigError) as caught:
        index.calibrate(listed)
    assert "1 readable pair with 1 copy;" in str(caught.value)


def test_the_order_of_a_pairs_columns_does_not_change_the_fit(photos, tmp_path):
    """Each pair is taken as compare takes it, the smaller picture as the query: a list
    written as (original, copy) fitted another model than the same list as (copy, original)."""
    pairs = Path(_pairs(photos, tmp_path))
    rows = pairs.read_text(encoding="utf-8").splitlines()
    flipped = tmp_path / "flipped.csv"
    swapped = [",".join([b, a, label]) for a, b, label in (r.split(",") for r in rows[1:])]
    flipped.write_text("\n".join([rows[0], *swapped]) + "\n", encoding="utf-8")
    fitted = []
    for listed in (pairs, flipped):
        with Index.open(tmp_path / f"index-{listed.stem}") as index:
            index.add([str(photos / name) for name in NAMES])
            calibrator = index.calibrate(listed).calibrator
            fitted.append((calibrator.weights, calibrator.bias))
    assert fitted[0] == fitted[1]


def test_a_calibration_on_inputs_a_search_no_longer_computes_is_not_used(tmp_path, caplog):
    """An older release's refit on compare's warped SSIM (and "geometry" made of it) scored
    every copy a search found as if its warping had failed: a crop was "similar"."""
    stale = {
        "names": ["cosine", "phash", "dhash", "colour", "inlier_ratio", "geometry"],
        "weights": [1.0, -2.0, -0.5, 1.5, 4.0, 2.0],
        "bias": -6.0,
        "fitted_on": "a release that searched with the warped SSIM",
    }
    (tmp_path / "calibration.json").write_text(json.dumps(stale), encoding="utf-8")
    assert load_calibrator(tmp_path) == load_calibrator(None)
    assert "geometry" in caplog.text and "pictrace calibrate" in caplog.text
    (tmp_path / "calibration.json").write_text(json.dumps(OLDER), encoding="utf-8")
    assert list(load_calibrator(tmp_path).names) == OLDER["names"]  # inputs a search has
    # ... but not one without local features: its keypoint inputs would all read 0
    assert load_calibrator(tmp_path, False) == load_calibrator(None, False)
    for local in (True, False):  # the shipped ones are always used
        assert load_calibrator(None, local).names == load_calibrator(tmp_path / "none", local).names
