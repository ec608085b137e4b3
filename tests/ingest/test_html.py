"""Image and link extraction from web pages."""

from __future__ import annotations

from pictrace.ingest.html import extract, normalise
from pictrace.ingest.sniff import describe, image_format, kind_of

PAGE = """<!doctype html><html><head><title> Holiday </title>
<base href="https://cdn.example.org/site/">
<meta property="og:image" content="https://cdn.example.org/og.jpg">
<meta name="twitter:image" content="/og.jpg">
</head><body>
<img src="small.jpg" srcset="small.jpg 320w, large.jpg 1280w, medium.jpg 640w">
<img src="icon.png" width="16" height="16">
<img data-src="lazy.webp">
<picture><source srcset="pic.avif 1x, pic@2x.avif 2x" type="image/avif">
  <img src="pic.jpg"></picture>
<picture><source srcset="only-source.webp"></picture>
<img src="data:image/gif;base64,R0lGOD">
<a href="photos/full.JPG#top">full size</a>
<a href="page2.html">next</a> <a href="page2.html#again">again</a>
<a href="mailto:me@example.org">mail</a> <a href="javascript:void(0)">js</a>
<a href="https://other.example/">elsewhere</a>
</body></html>"""


def test_images_come_best_first_and_once():
    media = extract(PAGE, "https://www.example.org/holiday/")
    base = "https://cdn.example.org/site/"
    assert media.title == "Holiday"
    assert media.images == (
        "https://cdn.example.org/og.jpg",
        base + "large.jpg",
        base + "lazy.webp",
        base + "pic.jpg",
        base + "only-source.webp",
        base + "photos/full.JPG",
    )


def test_links_are_absolute_without_fragments():
    media = extract(PAGE, "https://www.example.org/holiday/")
    assert media.links == ("https://cdn.example.org/site/page2.html", "https://other.example/")


def test_density_descriptors_pick_the_sharpest():
    media = extract('<img srcset="a.jpg, b.jpg 2x, c.jpg 1.5x">', "http://x.org/")
    assert media.images == ("http://x.org/b.jpg",)


def test_normalise():
    assert normalise("HTTP://Example.ORG:80/a#b") == "http://example.org/a"
    assert normalise("https://example.org:8443") == "https://example.org:8443/"
    assert normalise("https://user:pw@example.org/") is None
    assert normalise("ftp://example.org/") is None


def test_sniffing_reads_bytes_not_names():
    assert image_format(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert image_format(b"\x89PNG\r\n\x1a\nrest") == "png"
    assert image_format(b"RIFF\0\0\0\0WEBPVP8 ") == "webp"
    assert image_format(b"\0\0\0\x1cftypavif") == "avif"
    assert image_format(b"<html>") is None
    assert kind_of(b"  <!DOCTYPE html><html>") == "html"
    assert kind_of(b"GIF89a....") == "image"
    assert describe(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">').startswith(
        "an SVG"
    )
    assert describe(b'{"a": 1}') == "JSON"
