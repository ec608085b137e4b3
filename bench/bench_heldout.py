"""Copy detection on photos no calibration or benchmark here tunes on (default: Oxford flowers).

    .venv/bin/python bench/bench_heldout.py [--folder DIR] [--photos 600] [--per-family 10]

Indexes every other photo of ``--folder`` (up to ``--photos``), attacks them (every family,
``--per-family`` each) and as many of the others as negatives, and reports R@1 / R@10 / µAP
per family, the negatives with a copy-tier result, and search latency against each query's
decode + embed. The flowers hold near-duplicate photos under different names, so a
"negative" can have a true copy in the index (``pictrace duplicates`` shows them).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_copy import latencies
from workspace import ROOT, publish

from pictrace import Index
from pictrace.evaluate import FAMILIES, build_attacked_set, load_cases, report_markdown, run_cases
from pictrace.ingest.files import expand

FOLDER = Path("/work/shared/labelled/oxford17")
SEED = 11
OUT = Path(__file__).parent / "results" / "heldout.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=FOLDER)
    parser.add_argument("--photos", type=int, default=600)
    parser.add_argument("--per-family", type=int, default=10)
    parser.add_argument("--negatives", type=int, default=80)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    photos = sorted(Path(p) for p in expand([args.folder]))
    indexed, others = photos[0::2][: args.photos], photos[1::2]
    tag = hashlib.sha256(",".join(FAMILIES).encode()).hexdigest()[:6]  # queries per family set
    name = f"heldout-{args.folder.name}-{args.photos}-f{args.per_family}-n{args.negatives}-{tag}"
    out = ROOT / name
    if (out / "queries.csv").exists():
        cases = load_cases(out / "queries.csv")
    else:
        cases = build_attacked_set(
            indexed, out, list(FAMILIES), args.per_family, others, args.negatives, SEED
        )
    with tempfile.TemporaryDirectory() as tmp:
        with Index.open(Path(tmp) / "index") as index:
            index.add([str(p) for p in indexed])
            found = run_cases(cases, lambda query: index.search(query, 10))
        alone, search, _ = latencies(cases, Path(tmp) / "index")
    alone.sort()
    search.sort()
    one, p50 = alone[len(alone) // 2], search[len(search) // 2]
    text = "\n".join(
        [
            f"# Held-out photos: {args.folder.name}\n",
            f"Command: `python bench/bench_heldout.py --folder {args.folder} --photos "
            f"{args.photos} --per-family {args.per_family} --negatives {args.negatives}`\n",
            f"{len(indexed)} photos indexed, {len(cases)} queries; negatives with a copy-tier "
            f"result: {found.negatives_as_copy}. Search p50 {p50:.1f} ms = {p50 / one:.2f}× "
            f"decode + embed of the query alone (p50 {one:.1f} ms).\n",
            report_markdown(found.report),
        ]
    )
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
