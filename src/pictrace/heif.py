"""HEIC/HEIF (and AVIF on a Pillow without it) through the optional pillow-heif, the extra
``pictrace[heif]``: importing this module registers it with Pillow when it is installed."""

from __future__ import annotations


def _register_heif() -> bool:
    """Whether HEIC/HEIF/AVIF pictures can be read."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


HEIF_READABLE = _register_heif()
