"""``python -m pictrace.cli``: the ``pictrace`` command."""

import sys

from pictrace.console import run

sys.exit(run())
