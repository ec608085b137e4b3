"""The ``pictrace`` command: a thin shell over ``pictrace.Index``.

``shell`` holds what every command shares (the app, its global options, the consoles); the
commands live by what they do: ``collection`` (add, remove, list, stats), ``searching``
(search, compare, duplicates) and ``admin`` (calibrate, eval, serve). Errors are rendered in
one place (``main``): a one-line message on stderr and a non-zero exit.
"""

from __future__ import annotations

import logging
import warnings

import click
import typer

# The command modules register their commands with the app (--help: one panel each).
# isort: off
from pictrace.cli import collection  # noqa: F401  add, remove, list, stats
from pictrace.cli import searching  # noqa: F401  search, compare, duplicates
from pictrace.cli import admin  # noqa: F401  calibrate, eval, serve

# isort: on
from pictrace.cli.shell import app, err
from pictrace.errors import PicTraceError

__all__ = ["app", "main"]
INTERRUPTED = 130  # the exit code of a command stopped by Ctrl-C


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
        code = INTERRUPTED
    if code == INTERRUPTED:  # typer >= 0.2x returns it for a Ctrl-C, saying nothing
        err.print("aborted")
    return code if isinstance(code, int) else 0
