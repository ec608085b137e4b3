"""Attacked query sets: photos in, attacked JPEG queries and a ``queries.csv`` answer key out.

``queries.csv`` has the columns ``query,expected,family``. ``query`` is a path relative to the
CSV's folder (or absolute), ``expected`` is the id of the indexed source (empty for a negative:
an attacked copy of a photo that is *not* in the index), ``family`` the attack family.

Ids default to the source file's stem (``source_id``); pass ``id_of`` to use something else.
Every query's pixels depend only on (seed, family, source, copy number), so adding a family or a
photo leaves the other queries byte-identical.
"""

from __future__ import annotations

import csv
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pictrace.errors import InputError, SourceUnreadable
from pictrace.evaluate.attacks import FAMILIES, build_attacks
from pictrace.evaluate.canvas import load_rgb
from pictrace.ingest.queries import listed_path

COLUMNS = ("query", "expected", "family")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
JPEG_QUALITY = 90


@dataclass(frozen=True)
class QueryCase:
    """One query image and the id it should find (None: nothing in the index should match)."""

    query: Path
    expected: str | None
    family: str


@dataclass(frozen=True)
class _Job:
    source: Path
    expected: str | None
    family: str
    copy: int


def source_id(path: Path) -> str:
    """The default id of an indexed photo: its file name without the suffix."""
    return path.stem


def query_rng(seed: int, family: str, source: Path, copy: int) -> np.random.Generator:
    """The generator for one query: a function of its identity only, not of list order."""
    key = zlib.crc32(f"{family}|{source.as_posix()}|{copy}".encode())
    return np.random.default_rng([seed, key])


def _cycled(count: int, pool: Sequence[Path], rng: np.random.Generator) -> Iterator[Path]:
    """``count`` picks from ``pool``: a shuffled pass, then another, so repeats are spread out."""
    for start in range(0, count, max(1, len(pool))):
        order = rng.permutation(len(pool))[: count - start]
        yield from (pool[int(i)] for i in order)


def _plan(
    photos: Sequence[Path],
    families: Sequence[str],
    per_family: int,
    negatives: Sequence[Path],
    n_negative: int,
    seed: int,
    id_of: Callable[[Path], str],
) -> list[_Job]:
    jobs: list[_Job] = []
    for family in families:
        rng = np.random.default_rng([seed, zlib.crc32(family.encode())])
        for copy, photo in enumerate(_cycled(per_family, photos, rng)):
            jobs.append(_Job(photo, id_of(photo), family, copy))
    rng = np.random.default_rng([seed, 1])
    for copy, photo in enumerate(_cycled(n_negative, negatives, rng)):
        jobs.append(_Job(photo, None, families[int(rng.integers(0, len(families)))], copy))
    shuffled = np.random.default_rng([seed, 2]).permutation(len(jobs))
    return [jobs[int(i)] for i in shuffled]  # positives and negatives interleaved, names blind


def _check(
    photos: Sequence[Path],
    families: Sequence[str],
    per_family: int,
    negatives: Sequence[Path],
    n_negative: int,
) -> None:
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        raise InputError(f"unknown attack families {unknown}; choose from {list(FAMILIES)}")
    if not families and (per_family > 0 or n_negative > 0):
        raise InputError("no attack families given; pass at least one")
    if per_family > 0 and not photos:
        raise InputError("per_family > 0 but the photo list is empty")
    if n_negative > 0 and not negatives:
        raise InputError("n_negative > 0 but the negative photo list is empty")


def build_attacked_set(
    photos: list[Path],
    out_dir: Path,
    families: list[str],
    per_family: int,
    negatives: list[Path],
    n_negative: int,
    seed: int,
    *,
    backgrounds: Sequence[Path] | None = None,
    id_of: Callable[[Path], str] = source_id,
) -> list[QueryCase]:
    """Write attacked JPEG queries under ``out_dir/queries/<family>/`` and ``queries.csv``.

    Each family gets ``per_family`` queries made from ``photos`` (the indexed set); then
    ``n_negative`` queries are made from ``negatives`` (photos that are not indexed) with families
    drawn from ``families``. ``overlay`` pastes onto ``backgrounds`` (default: ``negatives``, never
    the query's own source), or onto a synthetic background when there are none.
    """
    _check(photos, families, per_family, negatives, n_negative)
    pool = tuple(negatives if backgrounds is None else backgrounds)
    jobs = _plan(photos, families, per_family, negatives, n_negative, seed, id_of)
    cases = []
    for number, job in enumerate(jobs):
        attack = build_attacks(tuple(p for p in pool if p != job.source))[job.family]
        image = attack(load_rgb(job.source), query_rng(seed, job.family, job.source, job.copy))
        path = out_dir / "queries" / job.family / f"{number:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="JPEG", quality=JPEG_QUALITY)
        cases.append(QueryCase(query=path, expected=job.expected, family=job.family))
    write_cases(cases, out_dir / "queries.csv")
    return cases


def write_cases(cases: Sequence[QueryCase], csv_path: Path) -> None:
    """Write the answer key; query paths inside the CSV's folder are stored relative to it."""
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    base = csv_path.parent.resolve()
    partial = csv_path.with_name(csv_path.name + ".tmp")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for case in cases:
            writer.writerow([_relative(case.query, base), case.expected or "", case.family])
    os.replace(partial, csv_path)


def _relative(path: Path, base: Path) -> str:
    resolved = path.resolve()
    return resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else str(path)


def load_cases(csv_path: Path) -> list[QueryCase]:
    """Read a ``query,expected,family`` CSV; relative query paths as ``listed_path`` says."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:  # a BOM too
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = set(reader.fieldnames or ())
    except OSError as exc:
        raise SourceUnreadable(f"{csv_path}: cannot read the query list ({exc})") from exc
    missing = sorted({"query", "expected"} - header)
    if missing:
        raise InputError(f"{csv_path}: missing columns {missing}; expected {','.join(COLUMNS)}")
    return [
        QueryCase(
            query=Path(listed_path(csv_path, row["query"])),
            expected=(row["expected"] or "").strip() or None,
            family=(row.get("family") or "").strip() or "unknown",
        )
        for row in rows
    ]


def load_folder_cases(root: Path, negative_folder: str = "_negatives") -> list[QueryCase]:
    """Queries laid out as ``root/<expected id>/<query images>``; ``root/_negatives/`` has none.

    The family of each case is its folder layout's name, ``folder``.
    """
    if not root.is_dir():
        raise SourceUnreadable(f"{root}: not a folder of query folders")
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        expected = None if folder.name == negative_folder else folder.name
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                cases.append(QueryCase(query=path, expected=expected, family="folder"))
    if not cases:
        raise InputError(
            f"{root}: no queries; a folder of queries holds one folder per expected image, "
            f"named as its file without the extension, with its queries in it, and "
            f"{negative_folder}/ for queries that have no copy in the index"
        )
    return cases
