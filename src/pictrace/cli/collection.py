"""Commands that change or list what the index holds: add, remove, list, stats."""

from __future__ import annotations

from typing import Annotated

import typer

from pictrace.cli.shell import COLLECTION, app, emit_json, err, open_index, out
from pictrace.errors import NotFound
from pictrace.formatting import (
    add_lines,
    image_line,
    past_the_end,
    progress_bar,
    removed_line,
    stats_lines,
)
from pictrace.types import ImageRecord


@app.command(rich_help_panel=COLLECTION)
def add(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) or URLs.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add images to the index; unchanged files are skipped, failures are listed with reasons."""
    with open_index() as index, progress_bar(err) as bar:
        task = bar.add_task("indexing", total=None)
        report = index.add(
            paths, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    if as_json:
        emit_json(report.as_dict())
    else:
        for line in add_lines(report):
            out.print(line, markup=False)
    if report.failed and not (report.added or report.skipped or report.updated):
        raise typer.Exit(1)


@app.command(rich_help_panel=COLLECTION)
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
    # a dry run only reads: it works beside a server too
    with open_index(readonly=dry, existing=True) as index:
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


@app.command("list", rich_help_panel=COLLECTION)
def list_images(
    offset: Annotated[int, typer.Option(help="Skip this many images.", min=0)] = 0,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image.")] = False,
) -> None:
    """The images, in the order they were added: id, size, format, source."""
    with open_index(readonly=True, existing=True) as index:
        records = index.list(offset, limit)
        for record in records:
            if as_json:
                emit_json(record.as_dict())
            else:
                out.print(image_line(record), markup=False, highlight=False)
        if not records and offset:  # past the end: say so, rather than print nothing
            err.print(past_the_end(offset, index.stats().images), markup=False)


@app.command(rich_help_panel=COLLECTION)
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """What the index holds."""
    with open_index(readonly=True) as index:
        summary = index.stats()
    if as_json:
        emit_json(summary.as_dict())
        return
    for line in stats_lines(summary):
        out.print(line, markup=False)
