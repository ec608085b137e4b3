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
<picture><source srcset="pic.webp 1x, pic@2x.webp 2x" type="image/webp">
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
        base + "pic@2x.webp",
        base + "only-source.webp",
        base + "photos/full.JPG",
    )


def test_links_are_absolute_without_fragments():
    media = extract(PAGE, "https://www.example.org/holiday/")
    assert media.links == ("https://cdn.example.org/site/page2.html", "https://other.example/")


def test_density_descriptors_pick_the_sharpest():
    media = extract('<img srcset="a.jpg, b.jpg 2x, c.jpg 1.5x">', "http://x.org/")
    assert media.images == ("http://x.org/b.jpg",)


def test_a_picture_gives_what_a_browser_shows():
    """A ``<picture>`` gives its first source in a format Pillow opens (a browser shows it,
    not the ``<img>`` fallback), its largest candidate; a source for some screens only
    (``media``: art direction, a mobile crop) only when there is nothing else."""
    page = """<picture>
      <source type="image/jxl" srcset="p.jxl 3200w">
      <source type="application/pdf" srcset="p.pdf 3200w">
      <source type="image/webp; codecs=x" srcset="p-800.webp 800w, p-1600.webp 1600w">
      <img src="p-400.jpg" srcset="p-400.jpg 1x, p-800.jpg 2x"></picture>
    <picture><source media="(max-width: 600px)" srcset="mobile-crop.jpg 1200w">
      <img src="wide.jpg"></picture>
    <picture><source media="(min-width: 800px)" srcset="only-wide.jpg"></picture>
    <picture><source type="image/x-unknown" srcset="odd.bin">
      <img src="plain.jpg"></picture>"""
    assert extract(page, "http://x.org/").images == (
        "http://x.org/p-1600.webp",
        "http://x.org/wide.jpg",
        "http://x.org/only-wide.jpg",
        "http://x.org/plain.jpg",
    )


def test_srcset_urls_run_to_white_space():
    """A ``data:`` URI or a resizing service's path holds commas: the URL runs to the next
    white space, as HTML reads it (splitting at every comma made the base64 payload a URL)."""
    page = """<img srcset="data:image/gif;base64,R0lGODlhAQABAIAAAP 1x" data-src="real.jpg">
    <img srcset="https://c.org/w_640,h_480/a.jpg 640w,https://c.org/w_1280,h_960/a.jpg 1280w">"""
    assert extract(page, "http://x.org/").images == (
        "http://x.org/real.jpg",
        "https://c.org/w_1280,h_960/a.jpg",
    )


def test_lazy_loaded_images_give_the_real_picture_not_the_placeholder():
    page = """<img src="data:image/gif;base64,R0lGOD" data-src="real.jpg">
    <img src="blank.gif" data-srcset="r-640.jpg 640w, r-1280.jpg 1280w">
    <img src="/spinner.gif" data-original="orig.jpg">
    <img src="blank.gif" data-lazy-srcset="l-800.jpg 800w, l-1600.jpg 1600w">"""
    assert extract(page, "http://x.org/").images == (
        "http://x.org/real.jpg",
        "http://x.org/r-1280.jpg",
        "http://x.org/orig.jpg",
        "http://x.org/l-1600.jpg",
    )


def test_a_lazy_loaded_picture_gives_its_sources_real_pictures():
    """lazysizes keeps a ``<source>``'s candidates in ``data-srcset`` until it scrolls in."""
    page = """<picture>
      <source type="image/webp" srcset="data:image/gif;base64,R0lGOD"
              data-srcset="p-800.webp 800w, p-1600.webp 1600w">
      <img src="blank.gif" data-src="p.jpg"></picture>"""
    assert extract(page, "http://x.org/").images == ("http://x.org/p-1600.webp",)


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
    netpbm = {b"P1\n": "pbm", b"P4 ": "pbm", b"P2\n": "pgm", b"P5\n": "pgm", b"P3\r\n": "ppm"}
    for start, name in {**netpbm, b"P6\n": "ppm", b"Pf\n": "pfm"}.items():
        assert image_format(start + b"640 480\n255\n") == name
    assert image_format(b"P1: the plan") is None  # no whitespace after the kind: text
    assert kind_of(b"  <!DOCTYPE html><html>") == "html"
    assert kind_of(b"GIF89a....") == "image"
    assert describe(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">').startswith(
        "an SVG"
    )
    assert describe(b'{"a": 1}') == "JSON"


def test_a_broken_link_or_size_leaves_out_only_itself():
    page = (
        '<base href="http://[::1/broken"><img src="/a.jpg"><img width="²" src="/b.jpg">'
        '<a href="http://[::1/x">broken</a><a href="/next.html">next</a>'
        '<img src="http://[::1/c.jpg">'
    )
    media = extract(page, "http://example.org/gallery/")
    assert media.images == ("http://example.org/a.jpg", "http://example.org/b.jpg")
    assert media.links == ("http://example.org/next.html",)
    assert normalise("http://[::1/x") is None


def test_a_page_is_known_by_any_tag_a_page_opens_with():
    """A page without a doctype that opens with a script, a style, a table, a heading, a
    link, an iframe or a link tag broken over lines was "not an image" and fetched as one;
    so was a UTF-16 page. Text that merely starts with "<" and a word is none, and a UTF-16
    drawing is still described as one."""
    for page in (
        b"<script>var x = 1;</script><img src='a.jpg'>",
        b"<style>body {}</style><img src='a.jpg'>",
        b"<table><tr><td><img src='a.jpg'></td></tr></table>",
        b"\n  <H1>Gallery</H1><img src='a.jpg'>",
        b"<link rel=stylesheet href=s.css><img src='a.jpg'>",
        b"<iframe src=x></iframe><img src='a.jpg'>",
        b"<a\nhref=x>pic</a><img src='a.jpg'>",
        b"<br/><img src='a.jpg'>",
        "<!doctype html><img src=a.jpg>".encode("utf-16"),
    ):
        assert kind_of(page) == "html", page
        assert extract(page, "http://example.com/g/").images == ("http://example.com/g/a.jpg",)
    for text in (b"<param name=x>", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"<tr>"):
        assert kind_of(text) == "other", text
    drawing = "<svg xmlns='http://www.w3.org/2000/svg'/>".encode("utf-16")
    assert describe(drawing).startswith("an SVG")
