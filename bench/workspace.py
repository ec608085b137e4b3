"""A cached development workspace for benchmarks and calibration fitting.

Builds (once per feature-version set) an index of the development split of
/work/shared/photos, and attacked query sets for a given seed. Everything lives under
``/tmp/pictrace-bench`` by default (``PICTRACE_BENCH_DIR`` overrides).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devset import DevSplit, read_manifest, split_devset

from pictrace import Index, load_settings
from pictrace.evaluate import QueryCase, build_attacked_set, load_cases
from pictrace.features.registry import all_specs, build_extractors

ROOT = Path(os.environ.get("PICTRACE_BENCH_DIR", "/tmp/pictrace-bench"))
# The attack families of the copy-detection issue plus the milder ones of the core issue.
FAMILIES = [
    "crop_small",
    "crop_medium",
    "crop_large",
    "overlay",
    "rotate_any",
    "rotate_90",
    "mirror",
    "mirror_crop",
    "perspective",
    "caption",
    "emoji_overlay",
    "shapes",
    "jpeg_heavy",
    "resize",
    "colour",
    "negative",
    "blur",
    "noise",
    "border",
    "screenshot",
    "combo",
]


@dataclass(frozen=True)
class Workspace:
    split: DevSplit
    index_dir: Path
    index_seconds: float  # wall time of building the index (0 when it was cached)


def feature_key() -> str:
    specs = all_specs(build_extractors(load_settings()))
    text = ",".join(sorted(spec.key for spec in specs.values()))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def prepare(rebuild: bool = False) -> Workspace:
    split = split_devset(read_manifest())
    index_dir = ROOT / f"index-{feature_key()}"
    seconds = 0.0
    if rebuild and index_dir.exists():
        shutil.rmtree(index_dir)
    started = time.perf_counter()
    with Index.open(index_dir) as index:  # incremental: a cached, complete index adds nothing
        report = index.add([str(p) for p in split.index])
    if report.added:
        seconds = time.perf_counter() - started
        print(
            f"indexed {len(report.added)} photos in {seconds:.1f} s ({len(report.failed)} failed)",
            file=sys.stderr,
        )
    return Workspace(split, index_dir, seconds)


def attacked(
    split: DevSplit, seed: int, per_family: int, n_negative: int, families: list[str] | None = None
) -> list[QueryCase]:
    families = families or FAMILIES
    tag = hashlib.sha256(",".join(families).encode()).hexdigest()[:6]
    out = ROOT / f"queries-s{seed}-f{per_family}-n{n_negative}-{tag}"
    if (out / "queries.csv").exists():
        return load_cases(out / "queries.csv")
    return build_attacked_set(
        list(split.index), out, families, per_family, list(split.negatives), n_negative, seed
    )


def publish(text: str, out: Path, scratch: Path | None = None) -> None:
    """Write a bench's report to ``out`` (its folder made if need be) and print it; then
    remove the bench's ``scratch`` folder, if any."""
    text = text if text.endswith("\n") else text + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text, end="")
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
