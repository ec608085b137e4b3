"""Bytes -> DecodedImage: size-capped, EXIF-oriented RGB with exact-identity hashes."""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Iterator
from concurrent.futures import Executor
from functools import partial

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError, features

from pictrace.errors import ImageTooLarge, NotAnImage
from pictrace.heif import HEIF_READABLE
from pictrace.ingest.sniff import image_format
from pictrace.settings import Settings
from pictrace.types import DecodedImage, Source

BIT_DEPTHS = (8, 10, 12, 14, 16)  # the ranges a deep grey picture's values are read in
DIGEST_ROWS = 32  # rows per strip of a large picture's pixel digest (~0.5 MB at 4,000 px)
# What Pillow raises on a damaged file: a format plugin may also raise RuntimeError or one of
# its subclasses (a damaged AVIF; a BLP of a compression Pillow does not know).
_CORRUPT = (OSError, SyntaxError, ValueError, EOFError, RuntimeError, UnidentifiedImageError)


def decode(
    source: Source,
    settings: Settings,
    digests: Executor | None = None,
    byte_sha256: str | None = None,
) -> DecodedImage:
    """Decode ``source`` or raise NotAnImage / ImageTooLarge with a one-line reason. With
    ``digests``, the pixel digest (a hash of every full-size pixel, ~0.5 ms per megapixel) is
    computed there while the caller goes on with the working copy (a query's features).
    ``byte_sha256``: the file's digest when the caller has it already (``byte_digest``)."""
    original, rgb = _picture(source, settings)
    working = _working_copy(rgb, settings.work_size)
    byte_sha256 = byte_sha256 or byte_digest(source.data)
    exif_tags = _exif_count(original)
    digest = partial(_digest_of, rgb, working)  # nothing else reads the picture from here on
    return DecodedImage(
        pixels=working,
        width=rgb.width,
        height=rgb.height,
        format=_format(original, source.data),
        byte_sha256=byte_sha256,
        pixel_digest=digest() if digests is None else digests.submit(digest),
        byte_size=len(source.data),
        exif_tags=exif_tags,
    )


def byte_digest(data: bytes) -> str:
    """The sha256 of a file's bytes (its exact identity), as hex."""
    return hashlib.sha256(data).hexdigest()


def decode_pixels(source: Source, settings: Settings) -> DecodedImage:
    """``decode`` without the identity digests (left empty) and EXIF count (0): the picture as
    the features see it, at the cost of just decoding (the reference cost the benchmarks
    compare with). Never add or search such an image: empty digests would all be equal."""
    original, rgb = _picture(source, settings)
    working = _working_copy(rgb, settings.work_size)
    kind = _format(original, source.data)
    return DecodedImage(working, rgb.width, rgb.height, kind, "", "", len(source.data))


def _picture(source: Source, settings: Settings) -> tuple[Image.Image, Image.Image]:
    """(the opened image, its EXIF-oriented RGB picture), after the size checks."""
    data = source.data
    if not data:
        raise NotAnImage(f"{source.uri}: zero-byte file")
    if len(data) > settings.max_bytes:
        raise ImageTooLarge.of_bytes(source.uri, len(data), settings.max_bytes)
    image = _open(source.uri, data, settings.max_pixels)
    return image, _to_rgb(_orient(image))


def _format(image: Image.Image, data: bytes) -> str:
    """Pillow's name for the format, lower case; a still WebP whose picture is coded
    losslessly is "webp-lossless" (the keeper policy's lossless rule tells it from a lossy
    one)."""
    name = (image.format or "unknown").lower()
    if name == "ppm":  # Pillow's name for the whole Netpbm family: say which one it is
        return image_format(data[:3]) or name
    return "webp-lossless" if name == "webp" and _webp_coding(data) == b"VP8L" else name


def _webp_coding(data: bytes) -> bytes | None:
    """The first picture chunk of a WebP file's RIFF container: ``VP8L`` (lossless), ``VP8 ``
    (lossy), ``ANIM`` (animated: frames may mix both), None if there is none."""
    at = 12
    while at + 8 <= len(data):
        kind, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        if kind in (b"VP8L", b"VP8 ", b"ANIM"):
            return kind
        at += 8 + size + (size & 1)
    return None


def _digest_of(rgb: Image.Image, working: np.ndarray) -> str:
    """The pixel digest of ``rgb``, from its working copy when that is the whole picture
    (hashing releases the GIL; converting a Pillow image to an array holds it), else strip by
    strip: the same bytes as one array of the whole picture, without allocating it (a 12 MP
    photo's 36 MB array cost more in page faults than hashing it)."""
    if working.shape[:2] == (rgb.height, rgb.width):
        return pixel_digest(working)
    width, height = rgb.size
    digest = hashlib.sha256(f"{width}x{height}:".encode())
    for top in range(0, height, DIGEST_ROWS):
        digest.update(rgb.crop((0, top, width, min(height, top + DIGEST_ROWS))).tobytes())
    return digest.hexdigest()


def pixel_digest(pixels: np.ndarray) -> str:
    """sha256 of an RGB array and its shape: equal for losslessly re-saved pictures."""
    digest = hashlib.sha256(f"{pixels.shape[1]}x{pixels.shape[0]}:".encode())
    digest.update(np.ascontiguousarray(pixels).data)  # the buffer itself: no copy
    return digest.hexdigest()


def _open(uri: str, data: bytes, max_pixels: int) -> Image.Image:
    _pillow_allows(max_pixels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(uri, _bomb_pixels(exc), max_pixels) from exc
        except _CORRUPT as exc:
            raise NotAnImage(f"{uri}: not a readable image ({_unreadable(data, exc)})") from exc
        if image.size[0] * image.size[1] > max_pixels:
            raise _too_many_pixels(uri, "{}x{} pixels".format(*image.size), max_pixels)
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(uri, _bomb_pixels(exc), max_pixels) from exc
        except _CORRUPT as exc:
            raise NotAnImage(f"{uri}: truncated or corrupt image data ({_short(exc)})") from exc
    return image


def _unreadable(data: bytes, exc: BaseException) -> str:
    """Why Pillow could not open a picture: for a HEIC/HEIF or AVIF file without the extra
    that reads them, what to install."""
    kind = image_format(data[:16])
    if not HEIF_READABLE and (kind == "heif" or (kind == "avif" and not features.check("avif"))):
        return "a HEIC/HEIF or AVIF picture: install pictrace[heif] to read it"
    return _short(exc)


def _pillow_allows(max_pixels: int) -> None:
    """Raise Pillow's own decompression-bomb limit (it refuses twice its ``MAX_IMAGE_PIXELS``,
    ~179 MP by default) to ``max_pixels`` when that is higher, so PICTRACE_MAX_PIXELS decides
    (``_open`` checks it right after reading the size). Never lowered, nor set when a user
    turned Pillow's check off."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and 2 * limit < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _too_many_pixels(uri: str, pixels: str, max_pixels: int) -> ImageTooLarge:
    """One message for every picture over the pixel limit, whoever noticed it (Pillow refuses
    some at open, from its own limit, before PicTrace's check sees the size)."""
    return ImageTooLarge(
        f"{uri}: {pixels} exceeds the limit of {max_pixels:,} pixels (possible decompression "
        "bomb; PICTRACE_MAX_PIXELS raises the limit)"
    )


def _bomb_pixels(exc: Exception) -> str:
    """The picture's pixel count from Pillow's decompression-bomb message, if it says."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{int(found[1]):,} pixels" if found else "its pixel count"


def _orient(image: Image.Image) -> Image.Image:
    """The picture turned as its EXIF orientation says (Pillow copies it even when it is
    upright: ~10 ms of page faults for a 12 MP photo, so that case is left to the caller)."""
    try:
        if image.getexif().get(ExifTags.Base.Orientation) not in range(2, 9):
            return image  # upright, or a value Pillow would not turn either
        oriented = ImageOps.exif_transpose(image)
    except _CORRUPT:
        return image  # a broken EXIF block must not lose an otherwise fine picture
    return oriented if oriented is not None else image


_DEEP = ("I;16", "I;16B", "I;16L", "I", "F")  # grey pictures of more than 8 bits


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in _DEEP:  # scaled to 8 bits first: Pillow's conversions clip at 255
        grey = Image.fromarray(_to_8bit(image))
        key = image.info.get("transparency")  # a grey value (a file's key is never a tuple)
        if isinstance(key, int | float) and not isinstance(key, bool):
            return _on_white(grey.convert("RGB"), _keyed(image, key))
        return grey.convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return _on_white(rgba, rgba.getchannel("A"))
    return image.convert("RGB")


def _on_white(picture: Image.Image, mask: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", picture.size, (255, 255, 255))
    canvas.paste(picture, mask=mask)  # its colour bands only: the mask says where
    return canvas


def _keyed(image: Image.Image, key: object, strip: int = 256) -> Image.Image:
    """The opacity of a deep grey picture with a transparency key: 0 where a pixel is the
    key, 255 elsewhere (a strip of rows at a time, as ``_to_8bit``)."""
    mask = np.empty((image.height, image.width), dtype=np.uint8)
    for top, rows in _strips(image, strip):
        mask[top : top + strip] = np.where(rows == key, 0, 255)
    return Image.fromarray(mask)


def _strips(image: Image.Image, strip: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, rows) of a picture, ``strip`` rows at a time: a deep picture as one array
    costs up to 8 bytes per pixel (1.6 GB for 80 MP)."""
    for top in range(0, image.height, strip):
        yield top, np.asarray(image.crop((0, top, image.width, min(top + strip, image.height))))


def _to_8bit(image: Image.Image, strip: int = 256) -> np.ndarray:
    """A 16- or 32-bit grey picture (integer or float) scaled to 0..255 from its minimum
    (or 0, when that is lower) to the top of its range, a strip of rows at a time: one float
    array of the whole picture took 8 bytes per pixel (1.6 GB for 80 MP). The range of an
    integer picture is the fewest of 8, 10, 12, 14 or 16 bits its values fit in, as a sensor
    or a scanner writes them (so a darker picture stays darker, and is no exact copy of a
    brighter one), else its maximum; a float picture's is at least 1 (a picture of 0..1
    spans all of it)."""
    low, high = _finite_range(image, strip)
    low = min(low, 0.0)
    if image.mode != "F" and low >= 0.0:
        high = next((float(2**bits - 1) for bits in BIT_DEPTHS if high < 2**bits), high)
    scale = np.float32(255.0 / max(high - low, 1.0))
    out = np.empty((image.height, image.width), dtype=np.uint8)
    for top, rows in _strips(image, strip):
        finite = np.nan_to_num(rows.astype(np.float32), nan=low, posinf=high, neginf=low)
        scaled = (finite - np.float32(low)) * scale
        out[top : top + strip] = np.clip(scaled, 0.0, 255.0).astype(np.uint8)
    return out


def _finite_range(image: Image.Image, strip: int) -> tuple[float, float]:
    """The lowest and highest value of a one-band picture, of its finite values only (a
    float picture's no-data NaN or an infinity must not set its range)."""
    first, last = image.getextrema()[:2]
    numbers = isinstance(first, int | float) and isinstance(last, int | float)
    if numbers and np.isfinite(first) and np.isfinite(last):
        return float(first), float(last)  # type: ignore[arg-type]
    low, high = np.inf, -np.inf
    for _, rows in _strips(image, strip):
        finite = rows[np.isfinite(rows)]
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return (low, high) if low <= high else (0.0, 0.0)


def _working_copy(image: Image.Image, long_side: int) -> np.ndarray:
    if max(image.size) <= long_side:
        return np.asarray(image, dtype=np.uint8)
    scale = long_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def _exif_count(image: Image.Image) -> int:
    """How many metadata tags the picture carries (camera, date, author, GPS, ...): its
    EXIF tags and those of its Exif and GPS blocks, without a TIFF's layout fields."""
    try:
        exif = image.getexif()
        own = sum(1 for tag in exif if tag not in _LAYOUT_TAGS)
        return own + sum(len(exif.get_ifd(block)) for block in _BLOCKS if block in exif)
    except _CORRUPT:
        return 0


# The fields that say how a TIFF stores its pixels (size, strips, tiles, compression, colour
# layout, resolution) and where blocks start: every TIFF has them, so they are not metadata
# (a plain TIFF re-save counted 10 tags and was kept "by richest EXIF" over the camera's JPEG).
_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 282, 283, 284, 296, 317}
    | {320, 322, 323, 324, 325, 338, 339, 347, 513, 514, 529, 530, 531, 532, 0x8769, 0x8825}
)
_BLOCKS = (0x8769, 0x8825)  # the Exif block (exposure, lens, original date) and GPS


def _short(exc: BaseException) -> str:
    if isinstance(exc, UnidentifiedImageError):
        return "unknown or unsupported image format"
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
