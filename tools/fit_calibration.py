"""Fit the shipped copy-confidence model (``src/pictrace/search/calibration.json``).

Reproduce with: ``.venv/bin/python tools/fit_calibration.py`` (and, for indexes without local
features, ``PICTRACE_LOCAL_FEATURES=false .venv/bin/python tools/fit_calibration.py``)

Labelled pairs come from real searches on the development photos (bench/workspace.py): each
query (attacked copies made with a seed the benchmark does not use, the manifest's natural
variants/edits/crops, held-out photos and same-subject photos as negatives) is searched, and
every candidate becomes a pair labelled by whether it is the query's true source. So the
negatives are exactly the hard ones search meets: nearest neighbours that are not copies.
A second index holds development photos carrying shared credit marks (``evaluate.credits``:
invented photographers' lines, four marks over 240 photos), searched with every other
development photo and 200 held-out ones carrying the same marks (not copies, though the marks'
keypoints match) and with edited copies of the credited photos (copies).
The script prints a held-out check (fit on half the sources, score the other half) and writes
parameters fitted on all pairs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from workspace import ROOT, Workspace, attacked, prepare

from pictrace import Index, load_settings
from pictrace.errors import PicTraceError
from pictrace.evaluate import QueryCase, load_cases, source_key
from pictrace.evaluate.attacks import build_attacks
from pictrace.evaluate.credits import shared_credit_set
from pictrace.search.confidence import Calibrator, fit, shipped_name
from pictrace.search.signals import Signals

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "pictrace" / "search"
# Signals every path computes for a pair (search, compare, calibrate). Local-descriptor votes
# only exist in search (they count matches across the whole index), so they choose what to
# verify but do not enter the model; the warped SSIM only exists in compare (search skips it:
# fitted with it, held-out precision / recall were 0.933 / 0.857, without it 0.940 / 0.854).
# The inliers enter weighted by the share of the overlap they span ("supported"), which keeps
# two different photos with one credit line from being copies (BENCHMARKS.md, "Calibration").
NAMES = ("cosine", "phash", "dhash", "colour", "inlier_ratio", "supported")
GLOBAL_NAMES = ("cosine", "phash", "dhash", "colour")  # with PICTRACE_LOCAL_FEATURES=false
SEED = 101  # the benchmark uses other seeds
CREDITED = 240  # indexed photos with credit marks, and as many edited copies of them
CREDIT_EDITS = ("crop_large", "resize", "jpeg_heavy", "colour", "crop_medium", "caption", "blur")


def collect(index: Index, cases: list[QueryCase]) -> list[tuple[Signals, int, str]]:
    rows = []
    searcher = index.searcher
    for case in cases:
        try:
            query = index.start_query(case.query)  # the first look, as search makes it
        except PicTraceError:
            continue
        candidates = searcher.scored(query)
        records = index.store.records(candidates)
        want = source_key(case.expected) if case.expected else None
        group = want or source_key(str(case.query))
        for cand in candidates.values():
            if cand.exact or cand.id not in records:
                continue
            label = int(source_key(records[cand.id].source) == want)
            rows.append((dict(cand.signals), label, group))
    return rows


def credited_index(work: Workspace) -> tuple[Path, list[QueryCase]]:
    """An index of credited development photos and its cases (made once per seed)."""
    folder = ROOT / f"credits-s{SEED}-{CREDITED}-all"
    attacks = build_attacks(())
    photos = list(work.split.index[:CREDITED])
    others = list(work.split.index[CREDITED:]) + list(work.split.negatives[:200])
    index_dir = folder / "catalogue"
    if not (index_dir / "done").exists():
        pictures, cases = shared_credit_set(
            photos, others, folder, [attacks[name] for name in CREDIT_EDITS], seed=SEED
        )
        with Index.open(index_dir) as index:
            index.add([str(pictures)])
        (index_dir / "done").write_text("", encoding="utf-8")
        return index_dir, cases
    return index_dir, load_cases(folder / "queries.csv")


def held_out_check(
    rows: list[tuple[Signals, int, str]], threshold: float, names: tuple[str, ...]
) -> str:
    def half(group: str) -> int:
        return hashlib.sha256(group.encode()).digest()[0] % 2

    train = [r for r in rows if half(r[2]) == 0]
    test = [r for r in rows if half(r[2]) == 1]
    model = fit([r[0] for r in train], [r[1] for r in train], names)
    lines = [f"held-out: fit on {len(train)} pairs, scored {len(test)}"]
    scored = [(model.confidence(s), y) for s, y, _ in test]
    for low in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9):
        high = {0.0: 0.1, 0.1: 0.3, 0.3: 0.5, 0.5: 0.7, 0.7: 0.9, 0.9: 1.01}[low]
        inside = [y for c, y in scored if low <= c < high]
        share = sum(inside) / len(inside) if inside else float("nan")
        lines.append(
            f"  confidence {low:.1f}-{min(high, 1):.1f}: {len(inside):6d} pairs, "
            f"observed precision {share:.3f}"
        )
    tp = sum(1 for c, y in scored if c >= threshold and y)
    fp = sum(1 for c, y in scored if c >= threshold and not y)
    fn = sum(1 for c, y in scored if c < threshold and y)
    lines.append(
        f"  at {threshold}: precision {tp / max(1, tp + fp):.4f}, "
        f"recall {tp / max(1, tp + fn):.4f}, false copies {fp}"
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-family", type=int, default=15)
    parser.add_argument("--negatives", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    local = load_settings().local_features
    names = NAMES if local else GLOBAL_NAMES
    out = SHIPPED / shipped_name(local)
    work = prepare()
    cases = attacked(work.split, SEED, args.per_family, args.negatives)
    cases += list(work.split.natural)
    credit_index, credit_cases = credited_index(work) if local else (None, [])
    for round_no in range(args.rounds):
        with Index.open(work.index_dir, readonly=True) as index:
            rows = collect(index, cases)
            threshold = index.settings.copy_threshold
        if credit_index is not None:
            with Index.open(credit_index, readonly=True) as index:
                rows += collect(index, credit_cases)
        print(
            f"round {round_no}: {len(rows)} pairs, {sum(r[1] for r in rows)} copies",
            file=sys.stderr,
        )
        print(held_out_check(rows, threshold, names), file=sys.stderr)
        model = fit(
            [r[0] for r in rows],
            [r[1] for r in rows],
            names,
            fitted_on=f"tools/fit_calibration.py: {len(rows)} pairs from the dev photos",
        )
        out.write_text(Calibrator.to_json(model) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
