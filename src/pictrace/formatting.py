"""Numbers as people read them, shared by the command line and the web pages."""

from __future__ import annotations


def percent(value: float, digits: int = 0) -> str:
    return f"{100.0 * float(value):.{digits}f}%"


def filesize(size: int) -> str:
    """A byte count in binary units: 512 B, 2.4 MB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
