"""Refit ``copy_confidence`` from a user's own labelled pairs (``pictrace calibrate``).

The CSV has a header ``a,b,is_copy``: two image paths (or URLs) and 1/0 (also true/false,
yes/no). Each pair is compared exactly as search compares a query with a hit, the logistic
model is refitted on the resulting signals, and the parameters are written to
``<index>/calibration.json``, which takes precedence over the shipped ones.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pictrace.errors import ConfigError, PicTraceError
from pictrace.ingest.queries import listed_path
from pictrace.search.candidates import Query
from pictrace.search.compare import query_order
from pictrace.search.confidence import Calibrator, fit, load_calibrator
from pictrace.search.engine import Searcher
from pictrace.search.signals import Signals
from pictrace.types import Source

MIN_PAIRS = 10
MIN_PER_CLASS = 3
TRUE = {"1", "true", "yes", "y", "copy"}
FALSE = {"0", "false", "no", "n", "different"}


@dataclass(frozen=True)
class LabelledPair:
    a: str
    b: str
    is_copy: bool


def read_pairs(path: Path) -> list[LabelledPair]:
    """The labelled pairs of a CSV file (a spreadsheet's "CSV UTF-8" starts with a byte-order
    mark); relative paths in it are relative to the file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ConfigError(f"cannot read pairs file {path}: {exc.strerror or exc}") from exc
    pairs = []
    for line, row in enumerate(rows, start=2):
        try:
            label = str(row["is_copy"]).strip().lower()
            if label not in TRUE | FALSE:
                raise ValueError(f"is_copy must be 1/0, got {label!r}")
            a, b = (listed_path(path, row[side].strip()) for side in ("a", "b"))
            pairs.append(LabelledPair(a, b, label in TRUE))
        except (KeyError, AttributeError, ValueError) as exc:
            raise ConfigError(f"{path}:{line}: need columns a,b,is_copy ({exc})") from exc
    return pairs


def refit(
    pairs: list[LabelledPair],
    prepare: tuple[Callable[[str], Query], Callable[[str], Query]],
    searcher: Searcher,
    origin: str,
    load: Callable[[str], Source] | None = None,
) -> tuple[Calibrator, list[Signals], list[int], tuple[str, ...]]:
    """Fit a calibrator on the pairs; returns it, the signal rows, their labels and why the
    pairs skipped could not be read ("path: why"). ``prepare`` makes one side a query as
    search sees it and the other an image as the index holds it: ``a`` the query, or with
    ``load`` (which reads a picture), the smaller of the two, as compare orients a pair (so
    the columns' order does not matter)."""
    rows: list[Signals] = []
    labels: list[int] = []
    skipped: list[str] = []
    as_query, as_hit = (lru_cache(maxsize=256)(fn) for fn in prepare)
    order = lru_cache(maxsize=None)(lambda path: query_order(load(path))) if load else None
    for pair in pairs:
        try:
            swapped = order is not None and order(pair.b) < order(pair.a)  # compare's order
            qa, qb = as_query(pair.b if swapped else pair.a), as_hit(pair.a if swapped else pair.b)
        except PicTraceError as exc:
            skipped.append(exc.message)
            continue
        rows.append(searcher.pair(qa, qb).signals)
        labels.append(int(pair.is_copy))
    if len(rows) < MIN_PAIRS or min(sum(labels), len(labels) - sum(labels)) < MIN_PER_CLASS:
        raise ConfigError(
            f"{origin}: {len(rows)} readable pair{_plural(len(rows))} with "
            f"{sum(labels)} cop{'ies' if sum(labels) != 1 else 'y'}; calibration needs "
            f"at least {MIN_PAIRS} pairs and {MIN_PER_CLASS} of each kind"
            + (
                f" ({len(skipped)} pair{_plural(len(skipped))} unreadable, the first: {skipped[0]})"
                if skipped
                else ""
            )
        )
    # the shipped model's inputs, not those of an older calibration the index may hold
    names = load_calibrator(None, searcher.settings.local_features).names
    return fit(rows, labels, names, fitted_on=origin), rows, labels, tuple(skipped)


@dataclass(frozen=True)
class CalibrationReport:
    calibrator: Calibrator
    pairs: int
    skipped: int
    accuracy: float  # on the fitted pairs, at the copy threshold
    reliability: tuple[tuple[float, float, int, float], ...]  # low, high, count, precision
    unreadable: tuple[str, ...] = ()  # the skipped pairs' reasons ("path: why")

    def as_dict(self) -> dict[str, object]:
        """``calibrate --json``."""
        return {
            "pairs": self.pairs,
            "skipped": self.skipped,
            "unreadable": list(self.unreadable),
            "accuracy": self.accuracy,
            "model": self.calibrator.to_json(),
        }

    @classmethod
    def of(
        cls,
        calibrator: Calibrator,
        rows: list[Signals],
        labels: list[int],
        skipped: tuple[str, ...],
        threshold: float,
    ) -> CalibrationReport:
        scores = [calibrator.confidence(r) for r in rows]
        right = sum((s >= threshold) == bool(y) for s, y in zip(scores, labels, strict=True))
        bins = []
        for low in (0.0, 0.2, 0.4, 0.6, 0.8):
            inside = [
                y
                for s, y in zip(scores, labels, strict=True)
                if low <= s < low + 0.2 or (low == 0.8 and s == 1.0)
            ]
            precision = sum(inside) / len(inside) if inside else float("nan")
            bins.append((low, low + 0.2, len(inside), precision))
        accuracy = right / max(1, len(rows))
        return cls(calibrator, len(rows), len(skipped), accuracy, tuple(bins), skipped)


def _plural(count: int) -> str:
    return "s" if count != 1 else ""
