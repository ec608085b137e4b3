"""PicTrace: reverse image search that finds exact files, edited copies and similar pictures."""

from pictrace.threads import quiet_native_threads

quiet_native_threads()  # before any OpenCV or BLAS call (see pictrace.threads)

# ruff: noqa: E402

from pictrace.errors import PicTraceError
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
