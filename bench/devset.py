"""The development split of /work/shared/photos: what to index, what to query, what must not match.

Reads ``manifest.tsv`` (file, cluster, role, subject, source, ...; see the folder's README):

* index: one ``photo`` per near-duplicate cluster (the largest, ties by file name);
* natural positives: every other file of an indexed cluster (``variant``, ``edit``,
  ``edit_hard``, ``crop``, or a second ``photo``) expects its cluster's indexed photo;
* held out (not indexed): a seeded share of single-file clusters, plus all but one cluster of
  each same-``subject`` group (two different giraffe photos: similar, not a copy). Their photos are
  the ``negatives`` pool for attacked negative queries and are natural negative queries too;
* ``unrelated`` files (filter outputs that no longer show the photo) are natural negatives.

    python bench/devset.py --out /tmp/devset --per-family 20 --n-negative 200

writes ``index.txt`` (files to index), ``natural.csv`` and the attacked ``queries.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pictrace.evaluate import FAMILIES, QueryCase, build_attacked_set, source_id, write_cases

MANIFEST = Path("/work/shared/photos/manifest.tsv")
QUERY_ROLES = frozenset({"photo", "variant", "edit", "edit_hard", "crop"})


@dataclass(frozen=True)
class ManifestRow:
    path: Path
    cluster: str
    role: str
    subject: str
    source: str
    width: int
    height: int


@dataclass(frozen=True)
class DevSplit:
    index: tuple[Path, ...]
    negatives: tuple[Path, ...]
    natural: tuple[QueryCase, ...]


def read_manifest(path: Path = MANIFEST) -> list[ManifestRow]:
    """Rows of the manifest with file paths made absolute (relative to the manifest's folder)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            ManifestRow(
                path=path.parent / row["file"],
                cluster=row["cluster"],
                role=row["role"],
                subject=row.get("subject") or "",
                source=row.get("source") or "",
                width=int(row.get("width") or 0),
                height=int(row.get("height") or 0),
            )
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def representative(members: Sequence[ManifestRow]) -> ManifestRow | None:
    """The cluster's largest ``photo`` (ties: file name), or None if it has no photo."""
    photos = [row for row in members if row.role == "photo"]
    return min(photos, key=lambda r: (-r.width * r.height, r.path.name), default=None)


def _subject_holdouts(clusters: dict[str, list[ManifestRow]]) -> set[str]:
    """All clusters but the one with the largest photo in each same-subject group."""
    groups: dict[str, list[ManifestRow]] = defaultdict(list)
    for members in clusters.values():
        rep = representative(members)
        if rep is not None and rep.subject:
            groups[rep.subject].append(rep)
    held: set[str] = set()
    for reps in groups.values():
        ordered = sorted(reps, key=lambda r: (-r.width * r.height, r.path.name))
        held.update(r.cluster for r in ordered[1:])
    return held


def _random_holdouts(clusters: dict[str, list[ManifestRow]], share: float, seed: int) -> set[str]:
    """A seeded ``share`` of the single-file photo clusters."""
    singles = sorted(c for c, members in clusters.items() if len(members) == 1)
    singles = [c for c in singles if clusters[c][0].role == "photo"]
    picked = np.random.default_rng(seed).permutation(len(singles))[: round(share * len(singles))]
    return {singles[int(i)] for i in picked}


def split_devset(
    rows: Sequence[ManifestRow],
    holdout: float = 0.2,
    seed: int = 0,
    id_of: Callable[[Path], str] = source_id,
) -> DevSplit:
    clusters: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in rows:
        clusters[row.cluster].append(row)
    subject_held = _subject_holdouts(clusters)
    held = subject_held | _random_holdouts(clusters, holdout, seed)
    index, negatives, natural = [], [], []
    for cluster in sorted(clusters, key=lambda c: clusters[c][0].path.name):
        members, rep = clusters[cluster], representative(clusters[cluster])
        if rep is None:  # filter outputs that no longer show the photo
            natural += [QueryCase(r.path, None, "unrelated") for r in members]
        elif cluster in held:
            negatives.append(rep.path)
            family = "same_subject" if cluster in subject_held else "unindexed"
            natural += [QueryCase(r.path, None, family) for r in members if r.role in QUERY_ROLES]
        else:
            index.append(rep.path)
            natural += [
                QueryCase(r.path, id_of(rep.path), "variant" if r.role == "photo" else r.role)
                for r in members
                if r is not rep and r.role in QUERY_ROLES
            ]
    return DevSplit(index=tuple(index), negatives=tuple(negatives), natural=tuple(natural))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the development query sets.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES))
    parser.add_argument("--per-family", type=int, default=20)
    parser.add_argument("--n-negative", type=int, default=200)
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    split = split_devset(read_manifest(args.manifest), args.holdout, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "index.txt").write_text("".join(f"{p}\n" for p in split.index), encoding="utf-8")
    write_cases(split.natural, args.out / "natural.csv")
    cases = build_attacked_set(
        list(split.index),
        args.out,
        args.families,
        args.per_family,
        list(split.negatives),
        args.n_negative,
        args.seed,
    )
    print(
        f"index {len(split.index)} photos, natural {len(split.natural)} queries, "
        f"attacked {len(cases)} queries, negatives pool {len(split.negatives)} -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
