"""Duplicate groups over a whole collection: PicTrace against the peers' rules, in one run.

    .venv/bin/python bench/bench_duplicates.py [--per-family 8] [--seed 5]

Collection: every development photo (1,169 files; the manifest's near-duplicate clusters hold
resolution ladders, encodes, mild and hard edits, small crops and stereo partners) plus attacked
copies of a seeded sample of its photos (``--per-family`` per attack family; pasted-in copies
go onto synthetic backgrounds so that a composite shows one collection photo only). Ground
truth: two files are duplicates when they show the same picture (the same manifest cluster; an
attacked copy belongs to its source's cluster). Negatives (colours inverted) are left out:
``duplicates`` does not join a picture with its negative by design.

Rules compared on the same files, in the same run:

* PicTrace ``Index.duplicates`` (groups: every pair inside a group counts, as a user sees it);
* pHash at Hamming distance <= 10 computed with the ``imagehash`` library: imagededup's default
  rule for its hashing methods (which report pairs, so pairs are counted);
* the same pHash at <= 4 (a cautious setting), and dHash (``imagehash``) at <= 10;
* CNN cosine >= 0.9: imagededup's default rule for its CNN method, here with PicTrace's
  EfficientNet-Lite0 embedding (imagededup's MobileNet weights cannot be downloaded here).

Reports pair precision, recall and F1; recall per kind of pair (the manifest role, or the
attack family, of the edited member); false pairs between different photos of the same subject;
and whether each group's suggested keeper is an original (a ``photo`` or ``variant`` of the
manifest) rather than an edit, a crop or an attacked copy, whenever the group holds one.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devset import ManifestRow, read_manifest
from workspace import FAMILIES, ROOT, feature_key, publish

from pictrace import Index
from pictrace.evaluate import build_attacked_set
from pictrace.ingest.files import expand
from pictrace.search.keeper import apply_policy
from pictrace.types import KEEPER_POLICY, DuplicateGroup

ORIGINAL_ROLES = frozenset({"photo", "variant"})
Pair = tuple[str, str]


@dataclass(frozen=True)
class Member:
    """A file of the collection: its cluster, and what it is (a manifest role or an attack)."""

    path: str
    cluster: str
    kind: str
    subject: str
    originals: frozenset[str] = frozenset()  # what it is a copy of: its cluster's photos


def collection(seed: int, per_family: int) -> list[Member]:
    """Every manifest file, plus attacked copies of sampled photos (cached per seed and size)."""
    rows = read_manifest()
    photos = [r for r in rows if r.role == "photo"]
    cluster_photos: dict[str, set[str]] = defaultdict(set)
    for r in photos:
        cluster_photos[r.cluster].add(str(r.path))
    members = [
        Member(str(r.path), r.cluster, r.role, r.subject, frozenset(cluster_photos[r.cluster]))
        for r in rows
        if r.role != "photo"
    ] + [Member(str(r.path), r.cluster, r.role, r.subject) for r in photos]
    by_path = {str(r.path): r for r in photos}
    families = [f for f in FAMILIES if f != "negative"]
    out = ROOT / f"dups-s{seed}-f{per_family}"
    cases = build_attacked_set(
        [r.path for r in photos], out, families, per_family, [], 0, seed,
        backgrounds=[], id_of=str,
    )  # fmt: skip
    for case in cases:
        source: ManifestRow = by_path[str(case.expected)]
        kind = f"attack: {case.family}"
        members.append(
            Member(str(case.query), source.cluster, kind, "", frozenset({str(source.path)}))
        )
    return members


def heldout_collection(folder: Path, count: int, seed: int, per_family: int) -> list[Member]:
    """``count`` photos of a folder nothing here was tuned on, each its own cluster, plus
    attacked copies of them (the folder may hold near-duplicates under other names, which
    then count as false pairs: read the attacked copies' rows)."""
    photos = sorted(Path(p) for p in expand([str(folder)]))[:count]
    members = [Member(str(p), str(p), "photo", "") for p in photos]
    families = [f for f in FAMILIES if f != "negative"]
    out = ROOT / f"dups-{folder.name}-{count}-s{seed}-f{per_family}"
    cases = build_attacked_set(photos, out, families, per_family, [], 0, seed,
                               backgrounds=[], id_of=str)  # fmt: skip
    members += [
        Member(
            str(c.query), str(c.expected), f"attack: {c.family}", "", frozenset({str(c.expected)})
        )
        for c in cases
    ]
    return members


def build_index(members: list[Member], tag: str) -> tuple[Path, float]:
    folder = ROOT / f"dups-index-{feature_key()}-{tag}"
    started = time.perf_counter()
    with Index.open(folder) as index:
        report = index.add([m.path for m in members])
    if report.failed:
        print(f"{len(report.failed)} files failed to index", file=sys.stderr)
    return folder, time.perf_counter() - started if report.added else 0.0


def true_pairs(members: Iterable[Member]) -> set[Pair]:
    clusters: dict[str, list[str]] = defaultdict(list)
    for m in members:
        clusters[m.cluster].append(m.path)
    return {pair(a, b) for paths in clusters.values() for a, b in itertools.combinations(paths, 2)}


def pair(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def group_pairs(groups: Iterable[DuplicateGroup]) -> set[Pair]:
    return {
        pair(a.source, b.source) for g in groups for a, b in itertools.combinations(g.members, 2)
    }


def hash_pairs(codes: Mapping[str, np.ndarray], limit: int) -> set[Pair]:
    """Every pair of 64-bit codes within Hamming ``limit`` (brute force, as imagededup does)."""
    paths = list(codes)
    words = np.array([int.from_bytes(codes[p].tobytes(), "big") for p in paths], dtype=np.uint64)
    found = set()
    for i in range(len(paths)):
        distance = np.bitwise_count(words[i + 1 :] ^ words[i])
        found.update(pair(paths[i], paths[i + 1 + j]) for j in np.flatnonzero(distance <= limit))
    return found


def cosine_pairs(vectors: Mapping[str, np.ndarray], threshold: float) -> set[Pair]:
    paths = list(vectors)
    matrix = np.stack([vectors[p] for p in paths]).astype(np.float32)
    similarity = matrix @ matrix.T
    rows, cols = np.nonzero(np.triu(similarity >= threshold, k=1))
    return {pair(paths[i], paths[j]) for i, j in zip(rows, cols, strict=True)}


def imagehash_codes(paths: Iterable[str], method: Callable[[Image.Image], object]) -> dict:
    codes = {}
    for path in paths:
        with Image.open(path) as image:
            bits = np.asarray(method(image).hash, dtype=bool).flatten()  # type: ignore[attr-defined]
        codes[path] = np.packbits(bits)
    return codes


def linked(members: Iterable[Member], found: set[Pair]) -> dict[str, tuple[int, int]]:
    """Per kind of file: (files, files paired with one of their originals)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for m in members:
        if m.originals:
            tally[m.kind][0] += 1
            tally[m.kind][1] += any(pair(m.path, o) in found for o in m.originals)
    return {kind: (n, hit) for kind, (n, hit) in sorted(tally.items())}


def scores(found: set[Pair], truth: set[Pair]) -> tuple[float, float, float, int]:
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, len(found - truth)


def subject_pairs(members: Iterable[Member]) -> set[Pair]:
    """Different photos of the same subject (two giraffes): similar, never duplicates."""
    by_subject: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        if m.subject:
            by_subject[m.subject].append(m)
    return {
        pair(a.path, b.path)
        for group in by_subject.values()
        for a, b in itertools.combinations(group, 2)
        if a.cluster != b.cluster
    }


def keeper_roles(groups: Iterable[DuplicateGroup], kinds: Mapping[str, str]) -> Counter[str]:
    """Per group holding an original: the kind of its suggested keeper."""
    tally: Counter[str] = Counter()
    for g in groups:
        members = {m.id: kinds.get(m.source, "?") for m in g.members}
        if any(k in ORIGINAL_ROLES for k in members.values()):
            keeper = members[g.keeper]
            tally["original" if keeper in ORIGINAL_ROLES else keeper] += 1
    return tally


def report(args: argparse.Namespace) -> str:
    if args.heldout is None:
        members = collection(args.seed, args.per_family)
        tag = f"s{args.seed}-f{args.per_family}"
    else:
        members = heldout_collection(args.heldout, args.photos, args.seed, args.per_family)
        tag = f"{args.heldout.name}-{args.photos}-s{args.seed}-f{args.per_family}"
    folder, index_seconds = build_index(members, tag)
    truth = true_pairs(members)
    with Index.open(folder) as index:
        started = time.perf_counter()
        groups = index.duplicates(fresh=True)  # every image searched, whatever was kept
        dup_seconds = time.perf_counter() - started
        ids = index.store.all_ids()
        records = index.store.records(ids)
        vectors = index.store.features("cnn", ids)
    cnn = {records[i].source: np.asarray(v) for i, v in vectors.items()}
    paths = [m.path for m in members]
    started = time.perf_counter()
    phashes = imagehash_codes(paths, imagehash.phash)
    dhashes = imagehash_codes(paths, imagehash.dhash)
    hash_seconds = time.perf_counter() - started
    rules = {
        "PicTrace `duplicates` (groups)": group_pairs(groups),
        "pHash <= 10 (imagehash; imagededup's default)": hash_pairs(phashes, 10),
        "pHash <= 4 (imagehash)": hash_pairs(phashes, 4),
        "dHash <= 10 (imagehash)": hash_pairs(dhashes, 10),
        "CNN cosine >= 0.9 (imagededup's CNN rule, our embedding)": cosine_pairs(cnn, 0.9),
    }
    per_kind = {name: linked(members, found) for name, found in rules.items()}
    same_subject = subject_pairs(members)
    attacked = sum(m.kind.startswith("attack: ") for m in members)
    held = "" if args.heldout is None else f" --heldout {args.heldout} --photos {args.photos}"
    held += f" --later {args.later}"
    lines = [
        "# Duplicate groups: PicTrace against the peers' rules",
        "",
        f"Command: `python bench/bench_duplicates.py --per-family {args.per_family} "
        f"--seed {args.seed}{held}` on {platform.machine()}, "
        f"Python {platform.python_version()}.",
        "",
        f"Collection: {len(members)} files ({len(members) - attacked} photos, "
        f"{attacked} attacked copies), "
        f"{len(truth)} true pairs, {len(same_subject)} pairs of different photos of one subject. "
        f"PicTrace found {len(groups)} groups of {sum(len(g.members) for g in groups)} files "
        f"in {dup_seconds:.1f} s (indexing took {index_seconds:.1f} s; 0 when cached); "
        f"imagehash took {hash_seconds:.1f} s for both hashes of every file.",
        "",
        "| rule | pairs found | precision | recall | F1 | false pairs | same-subject pairs |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, found in rules.items():
        precision, recall, f1, false = scores(found, truth)
        lines.append(
            f"| {name} | {len(found)} | {precision:.3f} | {recall:.3f} | {f1:.3f} | {false} "
            f"| {len(found & same_subject)} |"
        )
    lines += [
        "",
        "Files linked to their original (a group, or a pair, holding the file and one of its "
        "cluster's `photo` files; for an attacked copy, its source), per kind of file:",
        "",
    ]
    lines.append("| kind | files | " + " | ".join(n.split(" (")[0] for n in rules) + " |")
    lines.append("|---|---|" + "---|" * len(rules))
    first = next(iter(per_kind.values()))
    for kind, (files, _) in first.items():
        cells = " | ".join(f"{table[kind][1] / files:.2f}" for table in per_kind.values())
        lines.append(f"| {kind} | {files} | {cells} |")
    totals = [sum(hit for _, hit in t.values()) for t in per_kind.values()]
    files = sum(n for n, _ in first.values())
    lines.append(f"| all | {files} | " + " | ".join(f"{t / files:.3f}" for t in totals) + " |")
    kinds_by_path = {m.path: m.kind for m in members}
    total = sum(keeper_roles(groups, kinds_by_path).values())
    lines += ["", f"Suggested keepers, over the {total} PicTrace groups that hold an original "
              "(a manifest `photo` or `variant`):", ""]  # fmt: skip
    file_rules = [rule for rule in KEEPER_POLICY if rule != "original"]
    policies = {
        f"default policy {list(KEEPER_POLICY)}": groups,
        f"file rules only {file_rules}": apply_policy(groups, file_rules),
    }
    for label, ordered in policies.items():
        tally = ", ".join(f"{k} {n}" for k, n in keeper_roles(ordered, kinds_by_path).most_common())
        lines.append(f"* {label}: {tally}.")
    marked = Counter(
        "original" if kinds_by_path[m.source] in ORIGINAL_ROLES else "edited or attacked"
        for g in groups
        for m in g.members
        if g.edited.get(m.id)
    )
    lines += ["", "Members marked \"likely edited\": " + ", ".join(
        f"{k} {n}" for k, n in marked.most_common()) + "."]  # fmt: skip
    if args.later:
        full = next(iter(rules.values()))
        lines += incremental(folder, members, truth, args.later, args.seed, full, dup_seconds)
    return "\n".join(lines)


def incremental(
    folder: Path,
    members: list[Member],
    truth: set[Pair],
    share: float,
    seed: int,
    full: set[Pair],
    full_seconds: float,
) -> list[str]:
    """Groups kept between runs: a copy of the index without a random ``share`` of its files
    (originals and copies alike) is searched in full, the files are added back, and the next
    ``duplicates`` searches only them. Against the full search of the whole collection."""
    later = np.random.default_rng(seed).permutation(len(members))[: round(share * len(members))]
    added = [members[i].path for i in sorted(later)]
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(folder, Path(tmp) / "index", ignore=shutil.ignore_patterns("copies.*"))
        with Index.open(Path(tmp) / "index") as index:
            for path in added:
                index.remove(path)
            started = time.perf_counter()
            index.duplicates(fresh=True)
            first = time.perf_counter() - started
            index.add(added)
            searched: list[int] = []
            started = time.perf_counter()
            groups = index.duplicates(progress=lambda done, total: searched.append(done))
            then = time.perf_counter() - started
    found = group_pairs(groups)
    precision, recall, f1, false = scores(found, truth)
    linked_now = sum(hit for _, hit in linked(members, found).values())
    linked_full = sum(hit for _, hit in linked(members, full).values())
    return [
        "",
        f"Kept between runs: a random {share:.0%} of the files ({len(added)}, originals and "
        f"copies alike) added after a first `duplicates` over the rest ({first:.1f} s); the "
        f"next one searched {len(searched)} images in {then:.1f} s (the full search above: "
        f"{full_seconds:.1f} s for all {len(members)}). Its groups: pair precision "
        f"{precision:.3f}, recall {recall:.3f}, F1 {f1:.3f} ({false} false pairs); files "
        f"linked to their original {linked_now} against {linked_full} by the full search; "
        f"{len(found & full)} of the full search's {len(full)} pairs, and "
        f"{len(found - full)} it did not have.",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-family", type=int, default=8)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, help="default: bench/results/duplicates.md, or "
                        "duplicates-heldout.md with --heldout")  # fmt: skip
    parser.add_argument(
        "--heldout", type=Path, help="a folder of other photos instead of the development set"
    )
    parser.add_argument("--photos", type=int, default=400, help="photos taken from --heldout")
    parser.add_argument(
        "--later", type=float, default=0.2,
        help="share of files added after a first run, to measure kept searches (0: skip)",
    )  # fmt: skip
    args = parser.parse_args()
    name = "duplicates.md" if args.heldout is None else "duplicates-heldout.md"
    publish(report(args), args.out or Path(__file__).parent / "results" / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
