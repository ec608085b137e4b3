"""Run an index against labelled queries: the engine behind ``pictrace eval``.

A case's ``expected`` names the source it should find: the exact source string as added (or
its end, from a folder on), its file name, or its file name without extension (so a CSV can
say ``coffee``); a result counts when it is what the name says as far as it says it (``a/x``
is not ``b/x``). A query listed on several rows should find any of their expected names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pictrace.decode import decode_pixels
from pictrace.errors import PicTraceError
from pictrace.evaluate.dataset import QueryCase, load_cases, load_folder_cases
from pictrace.evaluate.metrics import QueryOutcome, Report, evaluate
from pictrace.ingest.files import IMAGE_EXTENSIONS
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


def names(expected: str, source: str) -> bool:
    """Whether ``source`` is the image the ``expected`` name names, as far as it says: a path
    (the source, or its end from a folder on), a file name, or either without its extension."""
    if source == expected:
        return True
    wanted = _plain(expected)
    path = _plain(source.split("?", 1)[0].rstrip("/"))
    if Path(wanted).suffix.lower() not in IMAGE_EXTENSIONS:  # "2020.01.05" has none
        path = path[: len(path) - len(Path(path).suffix)]
    if "/" in wanted:
        return path == wanted or path.endswith("/" + wanted.lstrip("/"))
    return Path(path).name == wanted


def _plain(name: str) -> str:
    """A path with forward slashes and no leading "./"."""
    text = name.replace("\\", "/")
    while text.startswith("./"):
        text = text[2:]
    return text


def unknown_expected(cases: Sequence[QueryCase], index: Index) -> list[str]:
    """The expected names that no indexed image has (a typo in a label file would otherwise
    only lower recall)."""
    sources = [record.source for record in index.list()]
    held = {part for s in sources for part in (s, Path(s).name, Path(s).stem)}  # most names
    wanted = {case.expected for case in cases if case.expected}
    return sorted(
        name for name in wanted if name not in held and not any(names(name, s) for s in sources)
    )


def run_cases(
    cases: Sequence[QueryCase],
    search: Search,
    progress: Callable[[int, int], None] | None = None,
    baseline: Baseline | None = None,
    ks: Sequence[int] = (1, 10),
) -> EvalRun:
    """Search every case; with ``baseline``, also time decoding and embedding each query
    alone right after its search (the reference cost search latency is judged against; after,
    so that the search, not the baseline, pays for reading a query from a cold cache)."""
    outcomes: list[QueryOutcome] = []
    failed: list[str] = []
    negatives_as_copy = 0
    wanted = _wanted(cases)
    cases = _once(cases)
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
        expected = wanted[case.query]
        if not expected and any(m.tier == "copy" for m in result.matches):
            negatives_as_copy += 1
        ranked = tuple((_key(expected, m.source), m.copy_confidence) for m in result.matches)
        outcomes.append(
            QueryOutcome(str(case.query), expected, ranked, case.family, elapsed, alone)
        )
        if progress:
            progress(done, len(cases))
    return EvalRun(evaluate(outcomes, ks), tuple(outcomes), negatives_as_copy, tuple(failed))


def _wanted(cases: Sequence[QueryCase]) -> dict[Path, frozenset[str]]:
    """Per query, the expected names of all its rows (none: a negative)."""
    found: dict[Path, set[str]] = {}
    for case in cases:
        found.setdefault(case.query, set()).update([case.expected] if case.expected else [])
    return {query: frozenset(expected) for query, expected in found.items()}


def _once(cases: Sequence[QueryCase]) -> list[QueryCase]:
    """Each query's first row (its family), in order."""
    first: dict[Path, QueryCase] = {}
    for case in cases:
        first.setdefault(case.query, case)
    return list(first.values())


def _key(expected: frozenset[str], source: str) -> str:
    """A result as the outcome ranks it: the expected name it is, else its source."""
    return next((name for name in sorted(expected) if names(name, source)), f"\0{source}")


def _timed(fn: Baseline, query: Path) -> float:
    started = time.perf_counter()
    fn(query)
    return time.perf_counter() - started


def eval_listed(
    index: Index, listed: Path, k: int, cost: bool
) -> tuple[EvalRun, dict[str, int], int]:
    """``pictrace eval``: the queries of a CSV or a folder (``dataset``) searched for ``k``
    results (recall at 1 and at ``k`` up to 10), with ``cost`` each query's decode+embed timed
    too; with the count of each expected name no indexed image has (left out), and how many
    queries were searched."""
    loaded = load_folder_cases(listed) if listed.is_dir() else load_cases(listed)
    unknown = unknown_expected(loaded, index)
    known = [case for case in loaded if case.expected not in unknown]
    baseline = decode_and_embed(index) if cost else None
    ks = tuple(sorted({1, min(k, 10)}))  # recall at 10 needs 10 results
    run = run_cases(known, lambda q: index.search(q, k), baseline=baseline, ks=ks)
    measured = {case.query for case in known}
    left_out = {
        name: len({c.query for c in loaded if c.expected == name} - measured) for name in unknown
    }
    return run, left_out, len(measured)


def decode_and_embed(index: Index) -> Baseline:
    """The reference cost of a query: reading, decoding and embedding it with the index's
    CNN(s), as fast as they run alone (all cores), and nothing else (no identity digests)."""
    cnns = [e for e in index.query_extractors if e.batched]

    def run(query: Path) -> None:
        image = decode_pixels(index.load_query(query), index.settings)
        for cnn in cnns:
            cnn.extract([image])

    return run
