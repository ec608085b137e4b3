"""``python -m pictrace``: the ``pictrace`` command (as ``python -m pictrace.cli``)."""

import sys

from pictrace.console import run

sys.exit(run())
