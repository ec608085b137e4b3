"""What downloaded bytes really are, read from their first bytes (headers are not trusted)."""

from __future__ import annotations

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
_HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<meta",
    b"<title",
    b"<!--",
    b"<div",
    b"<p",
    b"<a ",
    b"<img",
)

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
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml"):
        return b"<html" in head
    return head.startswith(_HTML_STARTS)


def kind_of(data: bytes) -> Kind:
    if image_format(data):
        return "image"
    return "html" if looks_like_html(data) else "other"


def describe(data: bytes) -> str:
    """A short human description of bytes that are not an image, for error messages."""
    head = data[:512].lstrip().lower()
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
