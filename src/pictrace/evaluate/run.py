"""Run an index against labelled queries: the engine behind ``pictrace eval``.

A case's ``expected`` names the source it should find: the exact source string as added, its
file name, or its file name without extension all count (so a CSV can say ``coffee``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pictrace.decode import decode_pixels
from pictrace.errors import PicTraceError
from pictrace.evaluate.dataset import QueryCase
from pictrace.evaluate.metrics import QueryOutcome, Report, evaluate
from pictrace.types import SearchResult

if TYPE_CHECKING:
    from pictrace.index import Index

Search = Callable[[Path], SearchResult]
Baseline = Callable[[Path], object]  # decodes and embeds a query alone (its cost is timed)


@dataclass(frozen=True)
class EvalRun:
    report: Report
    outcomes: tuple[QueryOutcome, ...]
    negatives_as_copy: int  # negative queries that got any copy-tier (non-exact) result
    failed: tuple[str, ...]  # queries that could not be read

    def as_dict(self, left_out: dict[str, int]) -> dict[str, object]:
        """``eval --json``: ``left_out`` counts the queries of each expected name that no
        indexed file has."""
        return {
            "report": self.report.as_dict(),
            "negatives_as_copy": self.negatives_as_copy,
            "failed": list(self.failed),
            "left_out": left_out,
        }


def source_key(source: str) -> str:
    """The comparable name of a source: its file name without extension."""
    return Path(source.split("?", 1)[0].rstrip("/")).stem


def unknown_expected(cases: Sequence[QueryCase], index: Index) -> list[str]:
    """The expected names that no indexed image has (a typo in a label file would otherwise
    only lower recall)."""
    held = {source_key(record.source) for record in index.list()}
    wanted = {case.expected for case in cases if case.expected}
    return sorted(name for name in wanted if source_key(name) not in held)


def run_cases(
    cases: Sequence[QueryCase],
    search: Search,
    progress: Callable[[int, int], None] | None = None,
    baseline: Baseline | None = None,
) -> EvalRun:
    """Search every case; with ``baseline``, also time decoding and embedding each query
    alone right after its search (the reference cost search latency is judged against; after,
    so that the search, not the baseline, pays for reading a query from a cold cache)."""
    outcomes: list[QueryOutcome] = []
    failed: list[str] = []
    negatives_as_copy = 0
    for done, case in enumerate(cases, start=1):
        started = time.perf_counter()
        try:
            result = search(case.query)
            elapsed = time.perf_counter() - started
            alone = _timed(baseline, case.query) if baseline else None
        except PicTraceError as exc:
            named = exc.message.startswith(f"{case.query}:")  # most messages name their file
            failed.append(exc.message if named else f"{case.query}: {exc.message}")
            continue
        if case.expected is None and any(m.tier == "copy" for m in result.matches):
            negatives_as_copy += 1
        ranked = tuple((source_key(m.source), m.copy_confidence) for m in result.matches)
        expected = frozenset({source_key(case.expected)} if case.expected else set())
        outcomes.append(
            QueryOutcome(str(case.query), expected, ranked, case.family, elapsed, alone)
        )
        if progress:
            progress(done, len(cases))
    return EvalRun(evaluate(outcomes), tuple(outcomes), negatives_as_copy, tuple(failed))


def _timed(fn: Baseline, query: Path) -> float:
    started = time.perf_counter()
    fn(query)
    return time.perf_counter() - started


def decode_and_embed(index: Index) -> Baseline:
    """The reference cost of a query: reading, decoding and embedding it with the index's
    CNN(s), as fast as they run alone (all cores), and nothing else (no identity digests)."""
    cnns = [e for e in index.query_extractors if e.batched]

    def run(query: Path) -> None:
        image = decode_pixels(index.load_query(query), index.settings)
        for cnn in cnns:
            cnn.extract([image])

    return run
