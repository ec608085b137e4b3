"""What a picture to search with or compare can be given as, read into a Source."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO, cast

from PIL import Image

from pictrace.errors import InputError, needs_extra
from pictrace.ingest.files import is_url, read_file
from pictrace.settings import Settings
from pictrace.types import Source

# a path or URL, bytes, a binary file object, a PIL image, or named bytes (uploads, downloads)
QueryInput = str | Path | bytes | Image.Image | Source | BinaryIO


def load_query(query: QueryInput, settings: Settings) -> Source:
    """The bytes of ``query`` (read, downloaded or encoded), named as it was given."""
    if isinstance(query, Source):
        return query
    if hasattr(query, "read"):  # a binary file object: at most one byte over the limit
        return _from_stream(cast(BinaryIO, query), settings.max_bytes)
    if isinstance(query, Image.Image):
        return Source("<image>", _lossless(query))
    if isinstance(query, bytes | bytearray):
        return Source("<bytes>", bytes(query))
    if not isinstance(query, str | Path):
        raise InputError(
            f"cannot read a picture from a {type(query).__name__}: give a file path, a "
            "URL, bytes, a binary file object or a PIL image"
        )
    text = str(query)
    if is_url(text):
        with needs_extra("web"):
            from pictrace.ingest.web import fetch_one

        return fetch_one(text, settings)
    if "://" in text:
        raise InputError(f"{text}: unsupported URL scheme (use http:// or https://)")
    return read_file(os.path.expanduser(text), settings.max_bytes)


# modes a PNG keeps as they are, and those decoding scales from their own range (a TIFF,
# compressed); any other (CMYK, YCbCr, ...) decodes as its RGB conversion does
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B"})
_TIFF_MODES = frozenset({"I", "I;16L", "F"})


def _lossless(picture: Image.Image) -> bytes:
    """A PIL image as a lossless file of its own mode, transparency and EXIF block, so that
    decoding it is decoding the file it came from: a 16-bit grey picture scaled as one, a
    transparent one laid on white, a photo turned as its EXIF says (a query that is the
    picture of an indexed file is its exact duplicate). What no file holds (a grey picture's
    key given as a tuple) is left out; a picture that still cannot be written goes as plain
    RGB, once, and InputError when even that fails (an empty picture, say)."""
    if picture.mode not in _PNG_MODES | _TIFF_MODES:
        picture = _plain(picture, "RGBA" if picture.mode == "PA" else "RGB")
    key = picture.info.get("transparency")
    if key is not None and not isinstance(key, int | bytes) and picture.mode != "RGB":
        picture = picture.copy()
        del picture.info["transparency"]  # a file's key is a value: a tuple fits no file
    try:
        return _saved(picture)
    except (OSError, ValueError, TypeError):
        try:
            return _saved(_plain(picture, "RGB"))
        except (OSError, ValueError, TypeError) as exc:
            raise InputError(f"cannot read the query picture ({exc})") from exc


def _saved(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    if picture.mode in _TIFF_MODES:
        picture.save(buffer, format="TIFF", exif=picture.getexif(), compression="tiff_deflate")
    else:
        picture.save(buffer, format="PNG", exif=picture.getexif())
    return buffer.getvalue()


def _plain(picture: Image.Image, mode: str) -> Image.Image:
    """A picture converted to ``mode`` with only the original's EXIF block (its orientation)
    of what Pillow keeps beside the pixels."""
    converted = picture.convert(mode)
    converted.info = {"exif": picture.getexif().tobytes()}
    return converted


def _from_stream(stream: BinaryIO, max_bytes: int) -> Source:
    try:
        data = stream.read(max_bytes + 1)
    except (OSError, ValueError) as exc:  # closed, or text mode on binary data
        raise InputError(f"cannot read the query file object ({exc})") from exc
    if not isinstance(data, bytes):
        raise InputError("a query file object must be opened in binary mode ('rb')")
    return Source(str(getattr(stream, "name", "<stream>")), data)


def listed_path(csv_path: Path, value: str) -> str:
    """A path as a CSV lists it: relative to the CSV's folder, or, when nothing is there but
    something is, to the current folder (a list written from where the command runs). URLs
    and absolute paths as they are."""
    if is_url(value) or Path(value).is_absolute():
        return value
    beside = csv_path.parent / value
    return value if not beside.exists() and Path(value).exists() else str(beside)
