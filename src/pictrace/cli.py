"""The ``pictrace`` command: a thin shell over ``pictrace.Index``.

Errors are rendered in one place (``main``): a one-line message on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console

from pictrace import __version__
from pictrace.errors import NotFound, PicTraceError, needs_extra
from pictrace.formatting import (
    add_lines,
    calibration_lines,
    comparison_table,
    failure_json,
    group_lines,
    image_line,
    past_the_end,
    percent,
    progress_bar,
    removed_line,
    result_table,
    stats_lines,
    unknown_lines,
    unreadable_lines,
)
from pictrace.index import Index
from pictrace.labelwords import label_hint
from pictrace.search.keeper import checked_policy
from pictrace.search.overlay import check_overlay_target, save_overlay
from pictrace.settings import Settings, load_settings
from pictrace.store.base import local_folder
from pictrace.store.embedded import CATALOGUE
from pictrace.types import KEEPER_POLICY, ImageRecord, SearchResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Reverse image search: exact files, edited copies and similar pictures.",
)
# No emoji codes: a file named "a:cat:b.jpg" is printed (and emitted in JSON) as it is.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class State:
    index: Path | None = None


STATE = State()


def _version(asked: bool) -> None:
    if asked:
        out.print(f"pictrace {__version__}", markup=False, highlight=False)
        raise typer.Exit(0)


@app.callback()
def _options(
    index: Annotated[
        Path | None,
        typer.Option(
            "--index", "-i", envvar="PICTRACE_INDEX", help="Index folder (or PICTRACE_INDEX)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    STATE.index = index


def _settings() -> Settings:
    return load_settings(index=STATE.index)


@contextmanager
def _open(readonly: bool = False, existing: bool = False) -> Iterator[Index]:
    """The index of --index / PICTRACE_INDEX; with ``existing``, only one already there (a
    mistyped folder is an error, not a new empty index)."""
    settings = _settings()
    if existing and settings.index and not (local_folder(settings.index) / CATALOGUE).exists():
        raise NotFound(f"no PicTrace index at {settings.index}")
    with Index.open(settings=settings, readonly=readonly) as index:
        yield index


def _emit_json(data: Any) -> None:
    out.print(json.dumps(data, ensure_ascii=False), markup=False, highlight=False)


@app.command()
def add(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) or URLs.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add images to the index; unchanged files are skipped, failures are listed with reasons."""
    with _open() as index, progress_bar(err) as bar:
        task = bar.add_task("indexing", total=None)
        report = index.add(
            paths, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    if as_json:
        _emit_json(report.as_dict())
    else:
        for line in add_lines(report):
            out.print(line, markup=False)
    if report.failed and not (report.added or report.skipped or report.updated):
        raise typer.Exit(1)


@app.command()
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
    with _open(readonly=True) as index:
        # a label search measures no copy confidence: its table leaves those columns out
        labelled = [(index.search_text(text, k), False)] if text is not None else []
        found = ((o, True) for o in index.search_many(queries or [], k, min_confidence))
        for outcome, copies in [*labelled, *found]:
            if isinstance(outcome, PicTraceError):
                failures += 1
                err.print(f"error: {outcome.message}", markup=False)
                if as_json:
                    _emit_json(failure_json(outcome))
            elif as_json:
                data = outcome.as_dict()
                if not copies and not outcome.matches:
                    data["hint"] = label_hint(outcome.query)
                _emit_json(data)
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


@app.command()
def compare(
    a: str,
    b: str,
    overlay: Annotated[
        Path | None, typer.Option("--overlay", help="Write a side-by-side picture of the evidence.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
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
        _emit_json(comparison.as_dict())
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
    settings = _settings()
    if settings.index is not None and (local_folder(settings.index) / CATALOGUE).exists():
        with _open(readonly=True) as index:
            yield index
        return
    with (
        tempfile.TemporaryDirectory(prefix="pictrace-") as tmp,
        Index.open(Path(tmp), settings=settings) as index,
    ):
        yield index


@app.command()
def duplicates(
    as_json: Annotated[bool, typer.Option("--json")] = False,
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
    with _open(readonly=True) as index, progress_bar(err) as bar:
        policy = checked_policy(keeper or [], index.settings.keeper_policy)
        task = bar.add_task("searching", total=None)
        groups = index.duplicates(
            policy,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            fresh=fresh,
        )
    if as_json:
        _emit_json({"policy": list(policy), "groups": [g.as_dict() for g in groups]})
        return
    if not groups:
        out.print("no duplicate groups")
    for number, group in enumerate(groups, 1):
        for line in group_lines(number, group):
            out.print(line, markup=False)


@app.command()
def remove(
    items: Annotated[list[str] | None, typer.Argument(help="Image ids or sources.")] = None,
    gone: Annotated[
        bool, typer.Option("--missing", help="Also every image whose local file is gone.")
    ] = False,
    dry: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
) -> None:
    """Remove images from the index (each one found; those not found are named)."""
    if not items and not gone:
        raise typer.BadParameter("name images to remove, or give --missing")
    unknown = 0
    with _open(readonly=dry, existing=True) as index:  # a dry run only reads: beside a server too
        named: dict[int, ImageRecord] = {}  # found first: named twice, or missing too, goes once
        for item in dict.fromkeys(items or []):
            try:
                named.setdefault((record := index.resolve(item)).id, record)
            except NotFound as exc:
                unknown += 1
                err.print(f"error: {exc.message}", markup=False)
        found = (index.missing() if dry else index.remove_missing()) if gone else ()
        for record in found:
            named.pop(record.id, None)
            out.print(removed_line(record, dry, "file missing"), markup=False)
        if gone and not found:
            out.print("no image's local file is missing")
        for record in named.values():
            out.print(removed_line(record if dry else index.remove(record.id), dry), markup=False)
    if unknown:
        raise typer.Exit(1)


@app.command("list")
def list_images(
    offset: Annotated[int, typer.Option(help="Skip this many images.", min=0)] = 0,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image.")] = False,
) -> None:
    """The images, in the order they were added: id, size, format, source."""
    with _open(readonly=True, existing=True) as index:
        records = index.list(offset, limit)
        for record in records:
            if as_json:
                _emit_json(record.as_dict())
            else:
                out.print(image_line(record), markup=False, highlight=False)
        if not records and offset:  # past the end: say so, rather than print nothing
            err.print(past_the_end(offset, index.stats().images), markup=False)


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What the index holds."""
    with _open(readonly=True) as index:
        summary = index.stats()
    if as_json:
        _emit_json(summary.as_dict())
        return
    for line in stats_lines(summary):
        out.print(line, markup=False)


@app.command()
def calibrate(
    pairs: Annotated[Path | None, typer.Argument(help="CSV with columns a,b,is_copy.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Go back to the shipped calibration.")
    ] = False,
) -> None:
    """Refit copy_confidence from your labelled pairs; stored in the index folder."""
    if pairs is not None and reset:
        raise typer.BadParameter("give either a CSV of labelled pairs or --reset, not both")
    if pairs is None and not reset:
        raise typer.BadParameter("give a CSV of labelled pairs (a,b,is_copy), or --reset")
    with _open(existing=True) as index:
        if pairs is None:
            index.reset_calibration()
            out.print("back to the shipped calibration", markup=False)
            return
        report = index.calibrate(pairs)
    if as_json:
        _emit_json(report.as_dict())
        return
    for line in calibration_lines(report):
        out.print(line, markup=False)
    for reason in report.unreadable:
        err.print(f"skipped pair: {reason}", markup=False)


@app.command("eval")
def evaluate_cmd(
    cases: Annotated[Path, typer.Argument(help="queries.csv (query,expected,family) or a folder")],
    k: Annotated[int, typer.Option("-k", min=1)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    cost: Annotated[
        bool,
        typer.Option(
            "--cost/--no-cost",
            help="Also time decoding+embedding each query alone and report search latency as "
            "a multiple of it.",
        ),
    ] = True,
) -> None:
    """Measure recall@1/@10, micro-AP, recall at 90% precision and latency on labelled queries."""
    from pictrace.evaluate import report_markdown
    from pictrace.evaluate.run import eval_listed

    with _open(readonly=True) as index:
        run, left_out, searched = eval_listed(index, cases, k, cost)
    for line in unknown_lines(left_out):
        err.print(line, markup=False)
    if as_json:
        _emit_json(run.as_dict(left_out))
        if run.failed or left_out:
            raise typer.Exit(1)
        return
    out.print(report_markdown(run.report), markup=False)
    out.print(f"negative queries with a copy-tier result: {run.negatives_as_copy}")
    for line in unreadable_lines(run.failed, searched):
        err.print(line, markup=False)
    if run.failed or left_out:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to bind (0: any free one).", min=0, max=65535)
    ] = 8000,
    server_name: Annotated[
        list[str] | None,
        typer.Option(
            "--server-name",
            help="A host name the server is reached by (repeat it; adds to "
            "PICTRACE_SERVER_NAMES): other names are refused, against DNS rebinding.",
        ),
    ] = None,
) -> None:
    """Serve the web app and HTTP API."""
    with needs_extra("web"):
        from pictrace.api.app import serve as run_server

    settings = _settings()
    if server_name:
        names = (*settings.server_names, *server_name)
        settings = settings.model_copy(update={"server_names": names})
    if settings.index is None:
        raise typer.BadParameter("give --index or set PICTRACE_INDEX")
    run_server(settings.index, host, port, settings)


def _usage_errors() -> tuple[type[Exception], ...]:
    """click's ClickException and typer's vendored copy of it (typer >= 0.2x ships its own)."""
    found: set[type[Exception]] = {click.ClickException}
    found.update(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    return tuple(found)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app and renders every error in one place."""
    # Pillow warns on stderr about damaged metadata (corrupt EXIF, say) of pictures it still
    # decodes; a failed picture is reported in its own line, the rest are added as they are.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
    logging.getLogger("PIL").addHandler(logging.NullHandler())  # its errors: ours say it
    try:
        code = app(args=argv, standalone_mode=False)
    except PicTraceError as exc:
        err.print(f"error: {exc.message}", markup=False)
        return 2
    except (click.exceptions.Exit, typer.Exit) as exc:
        return int(exc.exit_code)
    except _usage_errors() as exc:
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except (click.exceptions.Abort, typer.Abort):
        err.print("aborted")
        return 130
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
