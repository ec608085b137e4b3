"""Retrieval metrics for copy detection, as pure functions over typed per-query results.

A ``QueryOutcome`` is one query: what the engine returned (``ranked``: result id and confidence,
best first) and which ids are correct (``expected``; empty for a negative query, whose source is
not indexed). From a list of them:

* ``recall_at_k``: share of positive queries with a correct id among the first k results.
* ``micro_average_precision``: the DISC21 measure. Every (query, result, confidence) pair of every
  query, negatives included, goes into one list sorted by confidence; AP is taken over that list
  with the number of positive queries as denominator. A confident wrong answer to a negative query
  therefore costs as much as one to a positive query. Ties are broken pessimistically (wrong pairs
  first), as in the DISC21 reference code. Each positive query counts once: after its first correct
  pair, further correct pairs of the same query are skipped.
* ``recall_at_precision``: the best recall of "accept every pair with confidence >= t" over all
  thresholds t whose precision is at least the target, with that threshold.
* ``reliability_table``: confidence bins -> count and observed precision (calibration).
* ``evaluate`` puts it together, overall and per attack family; ``report_markdown`` renders it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import groupby
from typing import Any

import numpy as np


@dataclass(frozen=True)
class QueryOutcome:
    """One query's results. ``ranked`` is best first; ``expected`` is empty for a negative."""

    query: str
    expected: frozenset[str]
    ranked: tuple[tuple[str, float], ...]
    family: str = ""
    latency_s: float | None = None
    baseline_s: float | None = None  # decoding + embedding the query alone, timed beside it

    @property
    def is_positive(self) -> bool:
        return bool(self.expected)


@dataclass(frozen=True)
class OperatingPoint:
    """Accept pairs with confidence >= ``threshold`` (None: no threshold reaches the target)."""

    recall: float
    precision: float
    threshold: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Latency:
    n: int
    p50_s: float | None
    p95_s: float | None
    mean_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """Metrics over one set of queries (all of them, or one family)."""

    n_queries: int
    n_positive: int
    n_negative: int
    recall_at: tuple[tuple[int, float], ...]
    micro_ap: float
    at_precision: OperatingPoint
    target_precision: float
    latency: Latency
    baseline: Latency  # decode + embed of each query alone (n = 0 when not measured)

    def recall(self, k: int) -> float:
        return dict(self.recall_at)[k]

    @property
    def cost_ratio(self) -> float | None:
        """Search p50 over decode+embed p50: what finding and proving copies costs on top of
        reading the picture (None when the baseline was not measured)."""
        if not self.latency.p50_s or not self.baseline.p50_s:
            return None
        return self.latency.p50_s / self.baseline.p50_s

    def as_dict(self) -> dict[str, Any]:
        """As JSON; queries without positives have no recall or precision (null)."""
        out = asdict(self)
        found = self.n_positive > 0
        out["recall_at"] = {str(k): value if found else None for k, value in self.recall_at}
        out["micro_ap"] = self.micro_ap if found else None
        out["at_precision"]["recall"] = self.at_precision.recall if found else None
        out["cost_ratio"] = self.cost_ratio
        return out


@dataclass(frozen=True)
class Report:
    overall: Summary
    families: tuple[tuple[str, Summary], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "families": {name: summary.as_dict() for name, summary in self.families},
        }


@dataclass(frozen=True)
class ReliabilityBin:
    """Pairs with ``low <= confidence < high``; ``precision`` is None for an empty bin."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    precision: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- per-query measures


def hit_at_k(outcome: QueryOutcome, k: int) -> bool:
    return any(result in outcome.expected for result, _ in outcome.ranked[:k])


def recall_at_k(outcomes: Iterable[QueryOutcome], k: int) -> float:
    """Share of positive queries with a correct id in the top ``k`` (0.0 without positives)."""
    hits = [hit_at_k(o, k) for o in outcomes if o.is_positive]
    return sum(hits) / len(hits) if hits else 0.0


# ---------------------------------------------------------------- pooled measures


def pooled_pairs(outcomes: Iterable[QueryOutcome]) -> list[tuple[float, bool]]:
    """Every (confidence, correct) pair, most confident first; ties put wrong pairs first.

    A repeated (query, result) keeps its best confidence. A query's second and later correct
    pairs are dropped so that it adds at most one true positive.
    """
    best: dict[tuple[str, str], tuple[float, bool]] = {}
    for o in outcomes:
        for result, confidence in o.ranked:
            key = (o.query, result)
            if key not in best or confidence > best[key][0]:
                best[key] = (float(confidence), result in o.expected)
    ordered = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1]))
    found: set[str] = set()
    pairs = []
    for (query, _), (confidence, correct) in ordered:
        if correct:
            if query in found:
                continue
            found.add(query)
        pairs.append((confidence, correct))
    return pairs


def micro_average_precision(outcomes: Sequence[QueryOutcome]) -> float:
    positives = sum(o.is_positive for o in outcomes)
    if positives == 0:
        return 0.0
    true_positives, total = 0, 0.0
    for rank, (_, correct) in enumerate(pooled_pairs(outcomes), start=1):
        if correct:
            true_positives += 1
            total += true_positives / rank
    return total / positives


def recall_at_precision(outcomes: Sequence[QueryOutcome], target: float = 0.9) -> OperatingPoint:
    """Best recall among thresholds whose precision is >= ``target`` (ties share a threshold)."""
    positives = sum(o.is_positive for o in outcomes)
    best = OperatingPoint(recall=0.0, precision=0.0, threshold=None)
    accepted = true_positives = 0
    for confidence, group in groupby(pooled_pairs(outcomes), key=lambda pair: pair[0]):
        flags = [correct for _, correct in group]
        accepted += len(flags)
        true_positives += sum(flags)
        precision = true_positives / accepted
        recall = true_positives / positives if positives else 0.0
        if precision >= target and (best.threshold is None or recall > best.recall):
            best = OperatingPoint(recall=recall, precision=precision, threshold=confidence)
    return best


def reliability_table(
    outcomes: Iterable[QueryOutcome], bins: int = 10, top_only: bool = False
) -> tuple[ReliabilityBin, ...]:
    """Equal-width confidence bins over [0, 1] with the share of correct pairs in each.

    ``top_only`` uses each query's first result only; otherwise every returned pair counts.
    Confidences outside [0, 1] are clipped into the end bins.
    """
    confidences, correct = [], []
    for o in outcomes:
        for result, confidence in o.ranked[:1] if top_only else o.ranked:
            confidences.append(min(max(float(confidence), 0.0), 1.0))
            correct.append(result in o.expected)
    values, hits = np.asarray(confidences, dtype=float), np.asarray(correct, dtype=bool)
    index = np.minimum((values * bins).astype(int), bins - 1)
    return tuple(_bin(b, bins, values[index == b], hits[index == b]) for b in range(bins))


def _bin(b: int, bins: int, values: np.ndarray, hits: np.ndarray) -> ReliabilityBin:
    count = len(values)
    return ReliabilityBin(
        low=b / bins,
        high=(b + 1) / bins,
        count=count,
        mean_confidence=float(values.mean()) if count else None,
        precision=float(hits.mean()) if count else None,
    )


def expected_calibration_error(table: Sequence[ReliabilityBin]) -> float:
    """Count-weighted mean |observed precision - mean confidence| over non-empty bins."""
    total = sum(b.count for b in table)
    gaps = (
        b.count * abs(b.precision - b.mean_confidence)
        for b in table
        if b.precision is not None and b.mean_confidence is not None
    )
    return sum(gaps) / total if total else 0.0


def latency(seconds: Iterable[float | None]) -> Latency:
    values = np.asarray([s for s in seconds if s is not None], dtype=float)
    if values.size == 0:
        return Latency(n=0, p50_s=None, p95_s=None, mean_s=None)
    p50, p95 = (float(v) for v in np.percentile(values, [50, 95]))
    return Latency(n=int(values.size), p50_s=p50, p95_s=p95, mean_s=float(values.mean()))


# ---------------------------------------------------------------- reports


def summarise(
    outcomes: Sequence[QueryOutcome], ks: Sequence[int] = (1, 10), target_precision: float = 0.9
) -> Summary:
    positives = sum(o.is_positive for o in outcomes)
    return Summary(
        n_queries=len(outcomes),
        n_positive=positives,
        n_negative=len(outcomes) - positives,
        recall_at=tuple((k, recall_at_k(outcomes, k)) for k in ks),
        micro_ap=micro_average_precision(outcomes),
        at_precision=recall_at_precision(outcomes, target_precision),
        target_precision=target_precision,
        latency=latency(o.latency_s for o in outcomes),
        baseline=latency(o.baseline_s for o in outcomes),
    )


def evaluate(
    outcomes: Sequence[QueryOutcome], ks: Sequence[int] = (1, 10), target_precision: float = 0.9
) -> Report:
    """Overall and per-family summaries (families sorted by name)."""
    names = sorted({o.family for o in outcomes})
    families = tuple(
        (name, summarise([o for o in outcomes if o.family == name], ks, target_precision))
        for name in names
    )
    return Report(overall=summarise(outcomes, ks, target_precision), families=families)


def _fmt(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "–" if value is None else f"{value * scale:.{digits}f}"


def _row(name: str, s: Summary) -> str:
    """A summary's table row; a family of negatives only has no recall or precision ("–")."""
    cells = [name, str(s.n_queries), str(s.n_positive), str(s.n_negative)]
    found = s.n_positive > 0
    cells += [_fmt(value if found else None) for _, value in s.recall_at]
    cells += [_fmt(s.micro_ap if found else None), _fmt(s.at_precision.recall if found else None)]
    cells += [_fmt(s.at_precision.threshold)]
    cells += [_fmt(s.latency.p50_s, 1000, 1), _fmt(s.latency.p95_s, 1000, 1)]
    return "| " + " | ".join(cells) + " |"


def report_markdown(report: Report) -> str:
    """One Markdown table: the overall row first, then one row per family."""
    s = report.overall
    target = f"{s.target_precision:.0%}"
    heads = ["family", "queries", "pos", "neg", *(f"R@{k}" for k, _ in s.recall_at)]
    heads += ["µAP", f"R@P{target}", "threshold", "p50 ms", "p95 ms"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines.append(_row("**all**", s))
    lines += [_row(name, summary) for name, summary in report.families]
    if s.cost_ratio is not None:
        lines.append(
            f"\nSearch p50 {_fmt(s.latency.p50_s, 1000, 1)} ms = {s.cost_ratio:.2f}× decoding "
            f"and embedding the query alone (p50 {_fmt(s.baseline.p50_s, 1000, 1)} ms, each "
            "query's timed right after its search)."
        )
    return "\n".join(lines) + "\n"


def reliability_markdown(table: Sequence[ReliabilityBin]) -> str:
    lines = ["| confidence | pairs | mean confidence | observed precision |", "|---|---|---|---|"]
    for b in table:
        lines.append(
            f"| {b.low:.2f}–{b.high:.2f} | {b.count} | {_fmt(b.mean_confidence)} "
            f"| {_fmt(b.precision)} |"
        )
    lines.append(f"\nExpected calibration error: {expected_calibration_error(table):.3f}")
    return "\n".join(lines) + "\n"
