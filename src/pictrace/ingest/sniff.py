"""What downloaded bytes really are, read from their first bytes (headers are not trusted)."""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["image", "html", "other"]

# (offset, magic, format) checked in order; ISO-BMFF (HEIC/AVIF) is handled separately.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"GIF87a", "gif"),
    (0, b"GIF89a", "gif"),
    (0, b"BM", "bmp"),
    (0, b"II*\x00", "tiff"),
    (0, b"MM\x00*", "tiff"),
    (0, b"\x00\x00\x01\x00", "ico"),
)
# Netpbm: "P" and a kind, then whitespace (two letters alone start many a text)
_NETPBM = {b"1": "pbm", b"4": "pbm", b"2": "pgm", b"5": "pgm", b"3": "ppm", b"6": "ppm"}
_NETPBM |= {b"f": "pfm", b"F": "pfm"}
_HEIF_BRANDS = {
    b"heic": "heif",
    b"heix": "heif",
    b"mif1": "heif",
    b"msf1": "heif",
    b"avif": "avif",
    b"avis": "avif",
}
# The tags a page may open with (the WHATWG sniffing algorithm's, and the other elements of a
# page's head or body a page without a doctype starts with), each ended by whitespace, "/" or
# ">": "<p" or "<pre" opens a page, "<svg" or "<param" does not.
_HTML_TAGS = frozenset(
    b"""html head body meta title link base script noscript style iframe table font div
    span p br b a i em strong img picture figure h1 h2 h3 h4 h5 h6 header nav main section
    article aside footer ul ol li form center pre""".split()
)
_HTML_OPENING = re.compile(rb"<(!doctype\s*html|[a-z][a-z0-9]*)(?:[\s/>]|$)")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")

EXTENSIONS = {
    "jpeg": "jpg",
    "png": "png",
    "gif": "gif",
    "bmp": "bmp",
    "tiff": "tif",
    "ico": "ico",
    "ppm": "ppm",
    "pgm": "pgm",
    "pbm": "pbm",
    "pfm": "pfm",
    "webp": "webp",
    "heif": "heic",
    "avif": "avif",
}


def image_format(data: bytes) -> str | None:
    """The image format the bytes start with (``jpeg``, ``png``, ...) or None."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return _HEIF_BRANDS.get(data[8:12])
    for offset, magic, name in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[:1] == b"P" and data[2:3] in (b" ", b"\t", b"\r", b"\n"):
        return _NETPBM.get(data[1:2])
    return None


def looks_like_html(data: bytes) -> bool:
    """Whether bytes are a web page: they open (after a byte-order mark and whitespace) with
    a doctype, a comment or a tag a page starts with (``_HTML_TAGS``); UTF-16 pages too."""
    head = utf8_head(data).lstrip(b"\xef\xbb\xbf \t\r\n\x0c").lower()
    if head.startswith(b"<?xml"):
        return b"<html" in head
    if head.startswith(b"<!--"):
        return True
    opening = _HTML_OPENING.match(head)
    return opening is not None and (
        opening.group(1).startswith(b"!doctype") or opening.group(1) in _HTML_TAGS
    )


def utf8_head(data: bytes, size: int = 1024) -> bytes:
    """The first ``size`` bytes, as UTF-8 when they are UTF-16 with a byte-order mark."""
    if data[:2] in _UTF16_BOMS:
        return data[: 2 * size].decode("utf-16", "ignore").encode("utf-8")[:size]
    return data[:size]


def as_text(data: bytes) -> str | bytes:
    """A page's bytes for the HTML parser: decoded when UTF-16 (which it would take for
    UTF-8), else as they are (it reads their own charset)."""
    return data.decode("utf-16", "replace") if data[:2] in _UTF16_BOMS else data


def kind_of(data: bytes) -> Kind:
    if image_format(data):
        return "image"
    return "html" if looks_like_html(data) else "other"


def describe(data: bytes) -> str:
    """A short human description of bytes that are not an image, for error messages."""
    head = utf8_head(data, 512).lstrip(b"\xef\xbb\xbf \t\r\n\x0c").lower()
    if not data:
        return "an empty body"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG drawing (vector images are not supported)"
    if looks_like_html(data):
        return "a web page"
    if head.startswith((b"{", b"[")):
        return "JSON"
    if head.startswith(b"%pdf"):
        return "a PDF document"
    return "not an image"
