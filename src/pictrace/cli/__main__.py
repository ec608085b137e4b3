"""``python -m pictrace.cli``: the ``pictrace`` command."""

import sys

from pictrace.cli import main

sys.exit(main())
