"""The ``pictrace`` console script. The command's imports take about a second: a Ctrl-C
during them ends it as one during a command does ("aborted", exit 130), not in a traceback."""

from __future__ import annotations

import sys


def run() -> int:
    try:
        from pictrace.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("aborted\n")
        return 130
    return main()
