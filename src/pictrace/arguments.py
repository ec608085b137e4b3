"""Checks of the values callers give ``Index``: a clear ``InputError`` at once, not a wrong
answer or a traceback from deep inside."""

from __future__ import annotations

import numbers

from pictrace.errors import InputError

LARGEST = 2**63 - 1  # what SQLite's integers hold


def checked_k(k: object) -> int:
    """``k``: a whole number of matches, at least one (bool is not one)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise InputError(f"k must be a whole number of matches, at least 1, not {k!r}")
    return int(k)


def checked_confidence(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"min_confidence must be a number in 0..1, not {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise InputError(f"min_confidence must lie in 0..1, not {value!r}")
    return float(value)


def checked_id(value: object) -> int:
    """An image id: a whole number, or a string of ASCII digits (as a URL or a form gives
    one; "²" or " 7 " is none)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(
            f"an image id is a whole number, not {value!r} (resolve() takes a source too)"
        )
    return int(value)


def checked_page(offset: object, limit: object) -> tuple[int, int | None]:
    """``list``'s page: an offset of 0 or more, a limit of 0 or more (or None: all)."""
    return _count("offset", offset), None if limit is None else _count("limit", limit)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InputError(f"{name} must be a whole number, 0 or more, not {value!r}")
    if int(value) > LARGEST:
        raise InputError(f"{name} must be at most {LARGEST:,}, not {int(value):,}")
    return int(value)
