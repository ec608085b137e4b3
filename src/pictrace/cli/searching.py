"""Commands that look for pictures: search, compare, duplicates."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from pictrace.cli.shell import (
    SEARCHING,
    app,
    current_settings,
    emit_json,
    err,
    holds_index,
    open_index,
    out,
)
from pictrace.errors import PicTraceError
from pictrace.formatting import (
    comparison_table,
    failure_json,
    group_lines,
    percent,
    progress_bar,
    result_table,
)
from pictrace.index import Index
from pictrace.labelwords import label_hint
from pictrace.search.keeper import checked_policy
from pictrace.search.overlay import check_overlay_target, save_overlay
from pictrace.types import KEEPER_POLICY, SearchResult


@app.command(rich_help_panel=SEARCHING)
def search(
    queries: Annotated[
        list[str] | None, typer.Argument(help="Query images (paths or URLs).")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="Results per query.")] = 10,
    min_confidence: Annotated[
        float,
        typer.Option(
            "--min-confidence", min=0.0, max=1.0, help="Drop results below this copy_confidence."
        ),
    ] = 0.0,
    text: Annotated[str | None, typer.Option("--text", help="Search ImageNet labels too.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per query.")] = False,
) -> None:
    """Find the index's best matches for each query image (or for --text)."""
    if not queries and text is None:
        raise typer.BadParameter("give query images or --text")
    if not queries and min_confidence > 0:
        raise typer.BadParameter(
            "--min-confidence drops image matches below a copy confidence, which a --text "
            "search does not measure"
        )
    failures = 0
    with open_index(readonly=True) as index:
        # a label search measures no copy confidence: its table leaves those columns out
        labelled = [(index.search_text(text, k), False)] if text is not None else []
        found = ((o, True) for o in index.search_many(queries or [], k, min_confidence))
        for outcome, copies in [*labelled, *found]:
            if isinstance(outcome, PicTraceError):
                failures += 1
                err.print(f"error: {outcome.message}", markup=False)
                if as_json:
                    emit_json(failure_json(outcome))
            elif as_json:
                data = outcome.as_dict()
                if not copies and not outcome.matches:
                    data["hint"] = label_hint(outcome.query)
                emit_json(data)
            else:
                _print_result(outcome, copies)
    if failures:
        raise typer.Exit(1)


def _print_result(result: SearchResult, copies: bool = True) -> None:
    """The ranked table; without ``copies`` (a search of predicted labels, which measures
    no copy confidence) the tier and copy columns are left out."""
    if not result.matches:
        hint = "" if copies else f" ({label_hint(result.query)})"
        err.print(f"{result.query}: no matches{hint}", markup=False)
        return
    out.print(result_table(result, copies))


@app.command(rich_help_panel=SEARCHING)
def compare(
    a: Annotated[str, typer.Argument(help="One picture (path or URL).")],
    b: Annotated[str, typer.Argument(help="The other picture.")],
    overlay: Annotated[
        Path | None, typer.Option("--overlay", help="Write a side-by-side picture of the evidence.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare two images: every metric, the similarity % and a verdict."""
    if overlay is not None:
        check_overlay_target(overlay)
    with _compare_index() as index:
        if overlay is None:
            comparison = index.compare(a, b)
        else:
            comparison, picture = index.compare_overlay(a, b)
            if picture is not None:
                save_overlay(picture, overlay)
                err.print(f"overlay written to {overlay}", markup=False)
            else:
                err.print("no geometric match to draw: overlay not written", markup=False)
    if as_json:
        emit_json({"a": a, "b": b, **comparison.as_dict()})  # as POST /api/compare answers
        return
    out.print(comparison_table(a, b, comparison))
    out.print(
        f"similarity {percent(comparison.similarity, 1)}, copy confidence "
        f"{percent(comparison.copy_confidence, 1)}, verdict: [bold]{comparison.verdict}[/bold]"
    )


@contextmanager
def _compare_index() -> Iterator[Index]:
    """The index, read-only, when there is one; else a throwaway one (compare works without
    an index: the features are computed there)."""
    settings = current_settings()
    if settings.index is not None and holds_index(settings.index):
        with open_index(readonly=True) as index:
            yield index
        return
    with (
        tempfile.TemporaryDirectory(prefix="pictrace-") as tmp,
        Index.open(Path(tmp), settings=settings) as index,
    ):
        yield index


@app.command(rich_help_panel=SEARCHING)
def duplicates(
    as_json: Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")] = False,
    keeper: Annotated[
        list[str] | None,
        typer.Option(
            "--keeper",
            help="Keeper rules in order, repeated or comma-separated: original, resolution, "
            "lossless, exif, bytes, oldest, newest (default: PICTRACE_KEEPER_POLICY or "
            f"{','.join(KEEPER_POLICY)}).",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Search every image again instead of only those added since."),
    ] = False,
) -> None:
    """Groups of copies, each with a suggested keeper (a run searches only images added since)."""
    with open_index(readonly=True) as index, progress_bar(err) as bar:
        policy = checked_policy(keeper or [], index.settings.keeper_policy)
        task = bar.add_task("searching", total=None)
        groups = index.duplicates(
            policy,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            fresh=fresh,
        )
    if as_json:
        emit_json({"policy": list(policy), "groups": [g.as_dict() for g in groups]})
        return
    if not groups:
        out.print("no duplicate groups")
    for number, group in enumerate(groups, 1):
        for line in group_lines(number, group):
            out.print(line, markup=False)
