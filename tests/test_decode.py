import hashlib
import io
import struct
import warnings
import zlib
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image, features

from pictrace import decode as decode_module
from pictrace.decode import _orient, decode, decode_pixels, pixel_digest
from pictrace.errors import ImageTooLarge, NotAnImage
from pictrace.settings import load_settings
from pictrace.types import Source
from tests.conftest import jpeg_bytes, load_rgb, png_bytes


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming huge dimensions with almost no data: a decompression bomb shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_decodes_rgb_with_identity(photos, settings):
    data = (photos / "coffee.jpg").read_bytes()
    image = decode(Source("coffee.jpg", data), settings)
    assert image.pixels.dtype == np.uint8 and image.pixels.shape[2] == 3
    assert image.format == "jpeg" and image.byte_size == len(data)
    assert len(image.byte_sha256) == 64 and len(image.pixel_sha256) == 64


@pytest.mark.parametrize("scale", [1, 3])  # the working copy is the picture / is smaller
def test_pixel_digest_computed_on_a_pool_is_the_digest_of_every_pixel(photos, settings, scale):
    picture = Image.open(photos / "coffee.jpg").convert("RGB")
    picture = picture.resize((picture.width * scale, picture.height * scale))
    source = Source("coffee.png", png_bytes(picture))
    full = pixel_digest(np.asarray(picture))
    inline = decode(source, settings)
    assert (max(inline.pixels.shape) < max(picture.size)) == (scale > 1)
    with ThreadPoolExecutor(1) as pool:
        later = decode(source, settings, digests=pool)
        assert isinstance(later.pixel_digest, Future)
        assert later.pixel_sha256 == inline.pixel_sha256 == inline.pixel_digest == full
    np.testing.assert_array_equal(later.pixels, inline.pixels)


def test_pixel_digest_is_sha256_of_size_and_rgb_bytes(settings):
    picture = Image.new("RGB", (2, 1), (1, 2, 3))
    expected = hashlib.sha256(b"2x1:" + picture.tobytes()).hexdigest()
    assert decode(Source("p.png", png_bytes(picture)), settings).pixel_sha256 == expected


def test_decoding_pixels_alone_gives_the_same_picture_without_identity(photos, settings):
    source = Source("coffee.jpg", (photos / "coffee.jpg").read_bytes())
    full, alone = decode(source, settings), decode_pixels(source, settings)
    np.testing.assert_array_equal(full.pixels, alone.pixels)
    assert (alone.width, alone.height, alone.format, alone.byte_size) == (
        full.width,
        full.height,
        full.format,
        full.byte_size,
    )
    assert alone.byte_sha256 == alone.pixel_sha256 == ""


def test_lossless_resave_has_same_pixel_hash(photos, settings):
    original = load_rgb(photos / "rocket.jpg")
    as_png = decode(Source("a.png", png_bytes(original)), settings)
    as_bmp_like = decode(Source("b.png", png_bytes(original.copy())), settings)
    reencoded = decode(Source("c.jpg", jpeg_bytes(original, 70)), settings)
    assert as_png.pixel_sha256 == as_bmp_like.pixel_sha256
    assert as_png.pixel_sha256 != reencoded.pixel_sha256


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "zero-byte"),
        (b"hello, I am a text file\n" * 20, "not a readable image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable image"),
    ],
)
def test_bad_bytes_raise_clear_errors(data, needle, settings):
    with pytest.raises(NotAnImage, match=needle):
        decode(Source("bad", data), settings)


def test_truncated_file_is_refused(photos, settings):
    data = (photos / "coffee.jpg").read_bytes()
    with pytest.raises(NotAnImage, match=r"truncated|not a readable"):
        decode(Source("cut.jpg", data[: len(data) // 3]), settings)


@pytest.mark.parametrize(
    ("side", "pixels"),
    [(12_000, "12000x12000 pixels"), (60_000, "3,600,000,000 pixels")],  # Pillow's limit too
)
def test_decompression_bomb_is_refused_before_decoding(settings, side, pixels):
    with pytest.raises(ImageTooLarge) as refused:
        decode(Source("bomb.png", _png_header_only(side, side)), settings)
    assert refused.value.message == (
        f"bomb.png: {pixels} exceeds the limit of 80,000,000 pixels (possible "
        "decompression bomb; PICTRACE_MAX_PIXELS raises the limit)"
    )


def test_a_pixel_limit_above_pillows_own_is_the_one_that_decides():
    # 182 MP: over Pillow's default refusal (twice 89.5 MP), under the limit asked for
    raised = load_settings(max_pixels=300_000_000)
    with pytest.raises(NotAnImage, match="truncated or corrupt"):  # read past the size check
        decode(Source("big.png", _png_header_only(13_500, 13_500)), raised)
    with pytest.raises(ImageTooLarge, match="exceeds the limit of 300,000,000 pixels"):
        decode(Source("bigger.png", _png_header_only(18_000, 18_000)), raised)


def test_byte_limit(photos):
    small = load_settings(max_bytes=1000)
    with pytest.raises(ImageTooLarge, match="exceeds the limit"):
        decode(Source("big.jpg", (photos / "coffee.jpg").read_bytes()), small)


def test_exif_orientation_is_applied(settings):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buffer = __import__("io").BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    decoded = decode(Source("o.jpg", buffer.getvalue()), settings)
    assert (decoded.width, decoded.height) == (20, 40)
    assert decoded.exif_tags >= 1


@pytest.mark.parametrize("orientation", [None, 0, 1, 3, 6, 9])
def test_orientation_turns_only_when_it_must_and_never_copies_an_upright_picture(
    settings, orientation
):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 20, 20))  # left half blue
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    opened = Image.open(io.BytesIO(buffer.getvalue()))
    assert (_orient(opened) is opened) == (orientation not in (3, 6))
    pixels = decode(Source("o.png", buffer.getvalue()), settings).pixels
    left, right = pixels[0, 0], pixels[-1, -1]
    if orientation == 6:  # turned 90 degrees clockwise: blue on top, red below
        assert pixels.shape[:2] == (40, 20) and left[2] == 255 and right[0] == 255
    elif orientation == 3:  # turned 180 degrees: red on the left
        assert pixels.shape[:2] == (20, 40) and left[0] == 255 and right[2] == 255
    else:
        assert pixels.shape[:2] == (20, 40) and left[2] == 255 and right[0] == 255


def test_transparent_png_is_composited_on_white(settings):
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    decoded = decode(Source("t.png", png_bytes(image)), settings)
    assert decoded.pixels.min() == 255


def test_working_copy_is_capped(settings):
    big = Image.new("RGB", (3000, 1500), (10, 20, 30))
    decoded = decode(Source("big.png", png_bytes(big)), settings)
    assert max(decoded.pixels.shape[:2]) == settings.work_size
    assert (decoded.width, decoded.height) == (3000, 1500)


def test_a_16_bit_grey_picture_is_scaled_to_8_bits_over_the_16_bit_range():
    # taller than one strip of rows, so the strips are stitched in order
    values = (np.arange(300 * 600).reshape(600, 300) % 40000).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, "PNG")
    decoded = decode(Source(uri="deep.png", data=buffer.getvalue()), load_settings())
    expected = (values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert decoded.pixels.shape == (600, 300, 3)
    assert np.abs(decoded.pixels[..., 0].astype(int) - expected).max() <= 1
    assert (decoded.pixels[..., 0] == decoded.pixels[..., 2]).all()


def test_a_12_bit_picture_in_16_bits_is_read_over_its_12_bits():
    """A sensor's or a scanner's 12 bits in a 16-bit file: as bright as the same picture in
    8 bits, not almost black."""
    values = (np.arange(64 * 48).reshape(48, 64) % 4096).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, "PNG")
    grey = decode(Source(uri="deep.png", data=buffer.getvalue()), load_settings()).pixels[..., 0]
    assert np.abs(grey.astype(int) - values.astype(np.int64) * 255 // 4095).max() <= 1


def test_a_darker_16_bit_picture_is_no_exact_copy_of_a_brighter_one():
    values = (np.arange(64 * 48).reshape(48, 64) % 256).astype(np.uint16)
    digests = set()
    for bright in (64, 128):
        buffer = io.BytesIO()
        Image.fromarray(values * bright).save(buffer, "PNG")
        digests.add(
            decode(Source(uri="deep.png", data=buffer.getvalue()), load_settings()).pixel_sha256
        )
    assert len(digests) == 2


@pytest.mark.parametrize(
    ("values", "low"),
    [
        (np.linspace(0.0, 1.0, 64 * 48, dtype=np.float32), 0.0),  # a float picture of 0..1
        (np.linspace(-100.0, 155.0, 64 * 48, dtype=np.float32), -100.0),
        (np.linspace(-100, 155, 64 * 48).astype(np.int32), -100.0),
    ],
)
def test_float_and_signed_grey_pictures_span_0_to_255_from_their_lowest_value(values, low):
    buffer = io.BytesIO()
    Image.fromarray(values.reshape(48, 64)).save(buffer, "TIFF")
    decoded = decode(Source(uri="deep.tif", data=buffer.getvalue()), load_settings())
    grey = decoded.pixels[..., 0].astype(int).ravel()
    expected = (values.astype(np.float64) - low) * 255 / (values.max() - low)
    assert grey.min() == 0 and grey.max() == 255
    assert np.abs(grey - expected).max() <= 1
    assert (np.diff(grey) >= 0).all()  # no value wraps around


def test_exif_counts_metadata_not_a_tiffs_layout(settings, photos):
    """A TIFF saved without metadata has no EXIF tags (its width, strips and compression are
    how TIFF stores pixels); a camera JPEG counts its own tags and its Exif block's."""
    picture = Image.open(photos / "coffee.jpg").convert("RGB")
    plain = io.BytesIO()
    picture.save(plain, format="TIFF")
    assert decode(Source("plain.tif", plain.getvalue()), settings).exif_tags == 0
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Camera maker", "Model 1", "2026:11:23 10:00:00"
    exif.get_ifd(0x8769)[0x829A] = 0.01  # exposure time, in the Exif block
    camera = io.BytesIO()
    picture.save(camera, format="JPEG", exif=exif)
    assert decode(Source("camera.jpg", camera.getvalue()), settings).exif_tags == 4
    tagged = io.BytesIO()
    picture.save(tagged, format="TIFF", exif=exif)
    assert (
        decode(Source("tagged.tif", tagged.getvalue()), settings).exif_tags >= 3
    )  # (Pillow may leave the Exif block out of a TIFF)


@pytest.mark.parametrize(("options", "name"), [({"lossless": True}, "webp-lossless"),
                                               ({"quality": 80}, "webp")])  # fmt: skip
def test_a_lossless_webp_is_told_from_a_lossy_one(settings, photos, options, name):
    picture = load_rgb(photos / "coffee.jpg").resize((120, 90))
    data = io.BytesIO()
    picture.save(data, format="WEBP", **options)
    assert decode(Source("a.webp", data.getvalue()), settings).format == name


@pytest.mark.parametrize(("mode", "name"), [("1", "pbm"), ("L", "pgm"), ("RGB", "ppm")])
def test_each_netpbm_file_is_named_for_its_own_kind(settings, photos, mode, name):
    """Pillow calls every Netpbm file "PPM": a grey PGM was listed as a ppm."""
    data = io.BytesIO()
    load_rgb(photos / "coffee.jpg").resize((64, 48)).convert(mode).save(data, format="PPM")
    assert decode(Source(f"a.{name}", data.getvalue()), settings).format == name


def test_a_heic_picture_without_the_extra_says_what_to_install(monkeypatch):
    monkeypatch.setattr(decode_module, "HEIF_READABLE", False)
    box = b"ftypheic\0\0\0\0mif1heic"
    data = (len(box) + 4).to_bytes(4, "big") + box + bytes(200)
    with pytest.raises(NotAnImage, match=r"install pictrace\[heif\]"):
        decode(Source(uri="photo.heic", data=data), load_settings())


def _damaged_avif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, "AVIF")
    data = bytearray(buffer.getvalue())
    data[data.find(b"pitm") + 8] ^= 0x55  # the primary item is one the file does not hold
    return bytes(data)


def _unknown_blp() -> bytes:
    header = b"BLP2" + (0xFF0001).to_bytes(4, "little") + (1).to_bytes(4, "little")
    return header + (64).to_bytes(4, "little") + (48).to_bytes(4, "little") + bytes(4000)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            "bad.avif",
            _damaged_avif,
            marks=pytest.mark.skipif(not features.check("avif"), reason="Pillow reads no AVIF"),
        ),
        ("bad.blp", _unknown_blp),
    ],
)
def test_a_damaged_file_a_format_plugin_raises_on_is_not_an_image(name, data):
    """Pillow's AVIF plugin raises RuntimeError, its BLP one NotImplementedError."""
    with pytest.raises(NotAnImage, match=name):
        decode(Source(uri=name, data=data()), load_settings())


def _decoded(picture: Image.Image, kind: str = "PNG", **options) -> np.ndarray:
    buffer = io.BytesIO()
    picture.save(buffer, format=kind, **options)
    return decode(Source("x", buffer.getvalue()), load_settings()).pixels


def test_a_16_bit_picture_with_a_transparency_key_is_scaled_before_the_key_is_applied():
    """Its transparency was applied first, by a conversion that clips at 255: 99 % of a
    16-bit picture came out white, no exact copy of its 8-bit twin."""
    grey = (np.arange(240 * 320).reshape(240, 320) % 256).astype(np.uint8)
    twin = _decoded(Image.fromarray(grey))
    keyed = _decoded(Image.fromarray(grey.astype(np.uint16) * 257), transparency=1 * 257)
    assert np.array_equal(twin[grey != 1], keyed[grey != 1])
    assert (keyed[grey == 1] == 255).all()  # the key is transparent: laid on white


def test_a_float_picture_with_no_data_or_infinite_pixels_keeps_its_range():
    """A NaN (no-data) or infinite pixel set the range of the whole picture (it came out
    white, and an infinity warned about an overflow)."""
    values = (np.arange(100 * 120).reshape(100, 120) % 1020).astype(np.float32)
    plain = _decoded(Image.fromarray(values), "TIFF")
    for odd in (np.nan, np.inf):
        marked = values.copy()
        marked[5, 7] = odd
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = _decoded(Image.fromarray(marked), "TIFF")
        same = np.ones(values.shape, bool)
        same[5, 7] = False
        assert np.array_equal(plain[same], got[same]), odd
