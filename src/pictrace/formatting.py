"""Numbers and results as people read them, shared by the command line and the web pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from pictrace.errors import PicTraceError
from pictrace.search.keeper import reason_label
from pictrace.types import (
    AddFailure,
    AddReport,
    Comparison,
    DuplicateGroup,
    ImageRecord,
    Match,
    SearchResult,
    Stats,
)

FEW_PAIRS = 200  # a calibration fitted on fewer pairs is said to be uncertain

if TYPE_CHECKING:
    from pictrace.search.calibrate import CalibrationReport

# Metrics that are counts (Hamming distances, inliers, matches, votes), shown as integers.
COUNTS = frozenset(
    {
        "phash",
        "dhash",
        "inliers",
        "orb_matches",
        "votes",
        "mirror_votes",
        "negative_votes",
        "negative",
    }
)


def metric(name: str, value: float) -> str:
    """Counts as integers, scores with four decimals."""
    return str(round(value)) if name in COUNTS else f"{value:.4f}"


def group_lines(number: int, group: DuplicateGroup) -> list[str]:
    """A duplicate group as text: its heading, then a line per member (the keeper marked),
    noting likely edits and members that copy another member rather than the keeper."""
    why = reason_label(group.reason)
    lines = [f"group {number} ({len(group.members)} images; keeper by {why})"]
    via = group.matched_with()
    for member in group.members:
        mark = "keep" if member.id == group.keeper else "    "
        notes = ["file missing"] if member.id in group.missing else []
        notes += ["likely edited"] if group.edited.get(member.id) else []
        if via.get(member.id, group.keeper) != group.keeper:
            notes.append(f"matches {via[member.id]}, not the keeper")
        lines.append(
            f"  {mark} {member.id:>6} {member.width}x{member.height} {member.format:<5}"
            f" {filesize(member.byte_size):>9}  {member.source}"
            + (f"  ({'; '.join(notes)})" if notes else "")
        )
    return lines


def image_line(record: ImageRecord) -> str:
    """An image as ``list`` shows it: id, size, format and file size, source."""
    size = f"{record.width}x{record.height} {record.format} {filesize(record.byte_size)}"
    return f"{record.id:>6}  {size:<28} {one_line(record.source)}"


def removed_line(record: ImageRecord, dry: bool, note: str = "") -> str:
    """A removed image (or one ``remove --dry-run`` would remove), with a note."""
    line = f"{'would remove' if dry else 'removed'} {record.id} {record.source}"
    return f"{line} ({note})" if note else line


def percent(value: float, digits: int = 0) -> str:
    """A share as a percentage that never rounds to certainty: 0.9998 is ">99%", not "100%",
    and 0.002 is "<1%" (exactly 1 and 0 stay "100%" and "0%")."""
    value = float(value)
    step = 10.0**-digits
    shown = round(100.0 * value, digits)
    if shown >= 100.0 and value < 1.0:
        return f">{100.0 - step:.{digits}f}%"
    if shown <= 0.0 and value > 0.0:
        return f"<{step:.{digits}f}%"
    return f"{shown:.{digits}f}%"


def label_name(label: str) -> str:
    """An ImageNet label's first name ("sulphur butterfly, sulfur butterfly": the first)."""
    return label.split(",", 1)[0].strip()


def filesize(size: int) -> str:
    """A byte count in binary units: 512 B, 2.4 MB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def result_table(result: SearchResult, copies: bool = True) -> Table:
    """The ranked matches as a table; without ``copies`` (a search of predicted labels,
    which measures no copy confidence) the tier and copy columns are left out, and the
    score is the matching labels' probability, not a similarity."""
    # Text, not markup: a source may hold "[/...]" or "[red]"
    title = Text(f"{result.query}  ({result.elapsed_ms:.0f} ms)")
    table = Table(title=title, title_justify="left")
    columns = ("#", "id", "tier", "copy", "similar", "source")
    for column in columns if copies else ("#", "id", "label probability", "source"):
        table.add_column(column, overflow="fold")
    for rank, match in enumerate(result.matches, 1):
        scores = (match.tier, percent(match.copy_confidence, 1)) if copies else ()
        similar = percent(match.similarity, 1)
        table.add_row(str(rank), str(match.id), *scores, similar, Text(match.source))
    return table


def comparison_table(a: str, b: str, comparison: Comparison) -> Table:
    """``compare``'s metrics of a pair as a table titled with both names (text, not markup)."""
    table = Table(title=Text(f"{a}  vs  {b}"), title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in comparison.metrics.items():
        table.add_row(name, metric(name, value))
    return table


def progress_bar(console: Console) -> Progress:
    """A bar of done out of total on ``console``, shown only on a terminal: a log file gets
    the report, not a blank line."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def add_lines(report: AddReport) -> list[str]:
    """What ``add`` says: the counts, each changed file's old and new id, each failure."""
    changed = f" ({len(report.replaced)} of them changed files)" if report.replaced else ""
    moved = f" ({len(report.moved)} of them moved files)" if report.moved else ""
    updated = f", updated {len(report.updated)} (features computed again)" if report.updated else ""
    return [
        f"added {len(report.added)}{changed}, skipped unchanged {len(report.skipped)}{moved}"
        f"{updated}, failed {len(report.failed)}",
        *(
            f"  changed: image {old} is now image {new}"
            for new, old in zip(report.replaced, report.previous, strict=True)
        ),
        *(f"  failed: {_named(failure)}" for failure in report.failed),
        *(
            f"  left out {count} "
            f"{'file that is not an image' if count == 1 else 'files that are not images'} "
            f"by name under {one_line(folder)} (name a file to add it)"
            for folder, count in report.left_out
        ),
        *(
            f"  left out {count} hidden {'image or folder' if count == 1 else 'images or folders'}"
            f" (names starting with a dot) under {one_line(folder)} (name one to add it)"
            for folder, count in report.hidden
        ),
        *(
            f"  did not follow {count} symlinked {'folder' if count == 1 else 'folders'} "
            f"under {one_line(folder)} (name one to add it)"
            for folder, count in report.linked
        ),
        *(
            ["  no image files found"]
            if not (report.added or report.skipped or report.failed or report.updated)
            else []
        ),
    ]


def _named(failure: AddFailure) -> str:
    """A failure's reason with what failed, on one line: a file's reason names it already, a
    download's (the server sent a web page, say) does not. A file name may hold a line break:
    it is shown escaped, so no name can pass for a line of the report."""
    if failure.source and not failure.reason.startswith(failure.source):
        return one_line(f"{failure.source}: {failure.reason}")
    return one_line(failure.reason)


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (a line break as ``\\n``)."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def calibration_lines(report: CalibrationReport) -> list[str]:
    """What ``calibrate`` says: the fit, then how sure each confidence band turned out."""
    return [
        f"fitted on {report.pairs} pairs ({report.skipped} skipped), "
        f"accuracy at the copy threshold {report.accuracy:.1%}",
        *(
            f"  confidence {low:.1f}-{high:.1f}: {count:5d} pairs, copies {precision:.1%}"
            for low, high, count, precision in report.reliability
            if count
        ),
        *(
            [f"only {report.pairs} pairs: the fit may not carry over to other pictures"]
            if report.pairs < FEW_PAIRS
            else []
        ),
        "this index now uses it: check with `pictrace eval` on queries it was not fitted on; "
        "`pictrace calibrate --reset` goes back to the shipped calibration",
    ]


def unknown_lines(left_out: dict[str, int]) -> list[str]:
    """What ``eval`` says of expected names no indexed file has (name -> its queries left out
    of the measures: those without another expected name that is indexed)."""
    return [
        f"no indexed file is named {name!r} (an expected name is a file's name, with or "
        "without its extension, or the end of its path): "
        + (
            f"{count} quer{'ies' if count != 1 else 'y'} left out of the measures"
            if count
            else "its queries were measured by their other expected names"
        )
        for name, count in left_out.items()
    ]


def unreadable_lines(failed: Sequence[str], total: int) -> list[str]:
    """What ``eval`` says of the queries it could not read."""
    lines = [f"unreadable query: {failure}" for failure in failed]
    return lines + ([f"{len(failed)} of {total} queries could not be read"] if failed else [])


def stats_lines(summary: Stats) -> list[str]:
    """What ``stats`` says: where the index is, what it holds, what is out of date."""
    store = "embedded" if summary.store == "EmbeddedStore" else summary.store
    return [
        f"index {summary.index_dir} ({store} store)",
        f"images {summary.images}, {filesize(summary.bytes_indexed)} of image files",
        *(f"  {name}: {count}" for name, count in summary.extractors.items()),
        *(
            f"  {name}: {count} image{'' if count == 1 else 's'} without a current value; add "
            "their sources again to refresh them"
            for name, count in summary.outdated.items()
        ),
    ]


def match_heading(matches: Sequence[Match]) -> tuple[str, str]:
    """A results page's heading (how many copies) and the line under it (the rest)."""
    copies = sum(m.tier in ("exact", "copy") for m in matches)
    rest = len(matches) - copies
    heading = f"{copies} cop{'y' if copies == 1 else 'ies'}" if copies else "No copies"
    if copies > 1 and not rest:  # every result listed is a copy: the index may hold more
        return f"At least {heading}", "ask for more results to see whether there are others"
    return heading, (f"{rest} similar picture{'' if rest == 1 else 's'}" if rest else "")


def past_the_end(offset: int, held: int) -> str:
    """What ``list`` says when ``offset`` is past the last of the ``held`` images."""
    return f"no images from offset {offset}: the index holds {held}"


def failure_json(error: PicTraceError) -> dict[str, object]:
    """``search --json``'s line for a query that failed: its error, and no results."""
    return {
        "query": error.query,
        "error": {"code": error.code, "message": error.message},
        "results": [],
    }
