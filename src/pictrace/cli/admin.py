"""Commands that tune, measure and serve an index: calibrate, eval, serve."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pictrace.cli.shell import (
    ADMIN,
    app,
    current_settings,
    emit_json,
    err,
    foreign_folder,
    open_index,
    out,
)
from pictrace.errors import needs_extra
from pictrace.formatting import calibration_lines, unknown_lines, unreadable_lines


@app.command(rich_help_panel=ADMIN)
def calibrate(
    pairs: Annotated[Path | None, typer.Argument(help="CSV with columns a,b,is_copy.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit as JSON.")] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Go back to the shipped calibration.")
    ] = False,
) -> None:
    """Refit copy_confidence from your labelled pairs; stored in the index folder."""
    if pairs is not None and reset:
        raise typer.BadParameter("give either a CSV of labelled pairs or --reset, not both")
    if pairs is None and not reset:
        raise typer.BadParameter("give a CSV of labelled pairs (a,b,is_copy), or --reset")
    with open_index(existing=True) as index:
        if pairs is None:
            index.reset_calibration()
            out.print("back to the shipped calibration", markup=False)
            return
        report = index.calibrate(pairs)
    if as_json:
        emit_json(report.as_dict())
        return
    for line in calibration_lines(report):
        out.print(line, markup=False)
    for reason in report.unreadable:
        err.print(f"skipped pair: {reason}", markup=False)


@app.command("eval", rich_help_panel=ADMIN)
def evaluate_cmd(
    cases: Annotated[Path, typer.Argument(help="queries.csv (query,expected,family) or a folder")],
    k: Annotated[int, typer.Option("-k", min=1, help="Results per query.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the measures as JSON.")] = False,
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

    with open_index(readonly=True) as index:
        run, left_out, searched = eval_listed(index, cases, k, cost)
    for line in unknown_lines(left_out):
        err.print(line, markup=False)
    if as_json:
        emit_json(run.as_dict(left_out))
        if run.failed or left_out:
            raise typer.Exit(1)
        return
    out.print(report_markdown(run.report), markup=False)
    out.print(f"negative queries with a copy-tier result: {run.negatives_as_copy}")
    for line in unreadable_lines(run.failed, searched):
        err.print(line, markup=False)
    if run.failed or left_out:
        raise typer.Exit(1)


@app.command(rich_help_panel=ADMIN)
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
        import python_multipart  # noqa: F401  (Starlette reads uploads with it, at the first)

        from pictrace.api.app import serve as run_server

    settings = current_settings()
    if server_name:
        names = (*settings.server_names, *server_name)
        settings = settings.model_copy(update={"server_names": names})
    if settings.index is None:
        raise typer.BadParameter("give --index or set PICTRACE_INDEX")
    if note := foreign_folder(settings.index):
        err.print(note, markup=False)
    with needs_extra("web"):  # the server's own imports (uvicorn) come as it starts
        run_server(settings.index, host, port, settings)
