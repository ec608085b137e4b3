"""What every ``pictrace`` command shares: the typer app and its global options, the consoles,
and the index the options name."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pictrace import __version__
from pictrace.errors import NotFound
from pictrace.index import Index
from pictrace.settings import Settings, load_settings
from pictrace.store.base import local_folder
from pictrace.store.embedded import CATALOGUE

# --help shows the commands in these panels, each in the order its module defines them
COLLECTION, SEARCHING, ADMIN = "The collection", "Searching", "Tuning and serving"
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
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also log details, such as the traceback of a picture that failed, on stderr.",
        ),
    ] = False,
) -> None:
    STATE.index = index
    _log_verbosely(verbose)


VERBOSE = "pictrace-verbose"  # the name of the handler ``-v`` adds


def _log_verbosely(verbose: bool) -> None:
    """With ``-v``, PicTrace's own log (not the libraries' debug output) down to debug on
    the stderr of this run; without, none of it (a process may run the command again, as
    tests do: a run without ``-v`` after one with it is not verbose)."""
    logger = logging.getLogger("pictrace")
    for handler in [h for h in logger.handlers if h.get_name() == VERBOSE]:
        logger.removeHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.NOTSET)
    if verbose:
        handler = logging.StreamHandler()
        handler.set_name(VERBOSE)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def current_settings() -> Settings:
    return load_settings(index=STATE.index)


@contextmanager
def open_index(readonly: bool = False, existing: bool = False) -> Iterator[Index]:
    """The index of --index / PICTRACE_INDEX; with ``existing``, only one already there (a
    mistyped folder is an error, not a new empty index)."""
    settings = current_settings()
    if existing and settings.index and not holds_index(settings.index):
        raise NotFound(f"no PicTrace index at {settings.index}")
    if not readonly and settings.index and (note := foreign_folder(settings.index)):
        err.print(note, markup=False)
    with Index.open(settings=settings, readonly=readonly) as index:
        yield index


def foreign_folder(index: Path | str) -> str | None:
    """What to say when a writer is about to make an index in a folder that holds other
    things (a mistyped --index, say ~/Pictures): it is made there all the same."""
    if "://" in str(index) and not str(index).startswith("file:"):
        return None
    folder = local_folder(index)
    if not folder.is_dir() or holds_index(folder):
        return None
    others = sum(1 for _ in itertools.islice(folder.iterdir(), 1001))
    if not others:
        return None
    count = "over 1,000 files or folders" if others > 1000 else f"{others} files or folders"
    if others == 1:
        count = "1 file or folder"
    return (
        f"note: {folder} held no PicTrace index but {count}; the index is made there beside "
        "them (was --index mistyped?)"
    )


def holds_index(index: Path | str) -> bool:
    """Whether the folder of ``index`` (a path or file:// URI) holds a PicTrace catalogue."""
    return (local_folder(index) / CATALOGUE).exists()


def emit_json(data: Any) -> None:
    out.print(json.dumps(data, ensure_ascii=False), markup=False, highlight=False)
