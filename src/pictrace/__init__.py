"""PicTrace: reverse image search that finds exact files, edited copies and similar pictures.

The public names are imported when first used: ``import pictrace`` alone stays quick, so the
``pictrace`` command (``pictrace.console``) can end a Ctrl-C during its imports cleanly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pictrace.threads import quiet_native_threads

quiet_native_threads()  # before any OpenCV or BLAS call (see pictrace.threads)

# ruff: noqa: E402

from pictrace.errors import PicTraceError

if TYPE_CHECKING:
    from pictrace.index import Index
    from pictrace.settings import Settings, load_settings
    from pictrace.types import (
        AddReport,
        Comparison,
        DuplicateGroup,
        Evidence,
        ImageRecord,
        Match,
        SearchResult,
        Stats,
    )

_HOMES = {
    "Index": "pictrace.index",
    "Settings": "pictrace.settings",
    "load_settings": "pictrace.settings",
    **dict.fromkeys(
        (
            "AddReport",
            "Comparison",
            "DuplicateGroup",
            "Evidence",
            "ImageRecord",
            "Match",
            "SearchResult",
            "Stats",
        ),
        "pictrace.types",
    ),
}

__all__ = [
    "AddReport",
    "Comparison",
    "DuplicateGroup",
    "Evidence",
    "ImageRecord",
    "Index",
    "Match",
    "PicTraceError",
    "SearchResult",
    "Settings",
    "Stats",
    "load_settings",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pictrace' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
