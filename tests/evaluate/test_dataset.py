"""Attacked query sets: files and answer key written, reproducible, and read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pictrace.errors import InputError
from pictrace.evaluate import (
    QueryCase,
    build_attacked_set,
    load_cases,
    load_folder_cases,
    write_cases,
)

from .test_attacks import picture

FAMILIES = ["crop_small", "overlay", "mirror"]


def photo_files(folder: Path, count: int, first_seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for offset in range(count):
        path = folder / f"photo{first_seed + offset}.png"
        picture(seed=first_seed + offset).save(path)
        paths.append(path)
    return paths


def build(tmp_path: Path, out: str) -> list[QueryCase]:
    photos = photo_files(tmp_path / "indexed", 4, 0)
    negatives = photo_files(tmp_path / "held_out", 2, 100)
    return build_attacked_set(photos, tmp_path / out, FAMILIES, 2, negatives, 3, seed=5)


def test_builds_queries_and_answer_key(tmp_path: Path) -> None:
    cases = build(tmp_path, "set")
    assert len(cases) == len(FAMILIES) * 2 + 3
    positives = [c for c in cases if c.expected is not None]
    assert len(positives) == 6
    assert {c.expected for c in positives} <= {f"photo{i}" for i in range(4)}
    assert all(sum(c.family == f for c in positives) == 2 for f in FAMILIES)
    assert {c.family for c in cases if c.expected is None} <= set(FAMILIES)
    for case in cases:
        with Image.open(case.query) as img:
            assert img.format == "JPEG" and img.mode == "RGB"
    loaded = load_cases(tmp_path / "set" / "queries.csv")
    assert [(c.query.resolve(), c.expected, c.family) for c in loaded] == [
        (c.query.resolve(), c.expected, c.family) for c in cases
    ]
    header = (tmp_path / "set" / "queries.csv").read_text().splitlines()[0]
    assert header == "query,expected,family"


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first, second = build(tmp_path, "one"), build(tmp_path, "two")
    assert [c.query.read_bytes() for c in first] == [c.query.read_bytes() for c in second]


def test_unknown_family_and_empty_inputs_are_refused(tmp_path: Path) -> None:
    photos = photo_files(tmp_path / "p", 1, 0)
    with pytest.raises(InputError, match="unknown attack families"):
        build_attacked_set(photos, tmp_path / "o", ["nope"], 1, [], 0, seed=0)
    with pytest.raises(InputError, match="negative"):
        build_attacked_set(photos, tmp_path / "o", ["mirror"], 1, [], 2, seed=0)


def test_write_and_load_cases_with_outside_paths(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "x.jpg"
    cases = [QueryCase(outside, "x", "variant"), QueryCase(tmp_path / "k" / "q.jpg", None, "crop")]
    write_cases(cases, tmp_path / "k" / "cases.csv")
    text = (tmp_path / "k" / "cases.csv").read_text()
    assert "q.jpg,,crop" in text and str(outside) in text
    assert load_cases(tmp_path / "k" / "cases.csv") == cases


def test_load_cases_needs_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("file,answer\na.jpg,b\n")
    with pytest.raises(InputError, match="missing columns"):
        load_cases(path)


def test_folder_layout(tmp_path: Path) -> None:
    photo_files(tmp_path / "root" / "photo0", 2, 0)
    photo_files(tmp_path / "root" / "_negatives", 1, 9)
    (tmp_path / "root" / "photo0" / "notes.txt").write_text("not a query")
    cases = load_folder_cases(tmp_path / "root")
    assert [(c.query.name, c.expected) for c in cases] == [
        ("photo9.png", None),
        ("photo0.png", "photo0"),
        ("photo1.png", "photo0"),
    ]


def test_listed_queries_are_found_beside_the_list_or_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "beside.jpg").write_bytes(b"x")
    (tmp_path / "q" / "cases.csv").write_text(
        "query,expected\nbeside.jpg,a\nq/beside.jpg,a\nnowhere.jpg,\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    loaded = load_cases(Path("q/cases.csv"))
    assert [str(c.query) for c in loaded] == ["q/beside.jpg", "q/beside.jpg", "q/nowhere.jpg"]


def test_a_folder_without_query_folders_says_how_to_lay_them_out(tmp_path: Path) -> None:
    (tmp_path / "flat.jpg").write_bytes(b"x")
    with pytest.raises(InputError, match="one folder per expected image"):
        load_folder_cases(tmp_path)
