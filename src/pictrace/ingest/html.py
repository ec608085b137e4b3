"""Web page -> the image URLs it shows and the links it offers (selectolax).

Images, in the order a person would call them the page's "main" images: ``og:image`` /
``twitter:image`` first, then ``<picture>`` and ``<img>`` in document order (the largest
candidate of each: of a picture's sources in formats PicTrace reads and its fallback, of an
image's ``srcset`` and the attributes lazy-loading scripts use), then ``<a href>`` links that
point at image files. Tiny images
(declared width or height under ``MIN_SIDE``: icons, spacers, tracking pixels) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

from PIL import Image
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from pictrace.ingest.files import IMAGE_EXTENSIONS

MIN_SIDE = 48
_META_IMAGES = (
    "og:image",
    "og:image:url",
    "og:image:secure_url",
    "twitter:image",
    "twitter:image:src",
)


@dataclass(frozen=True)
class PageMedia:
    """What one page offers: image URLs (best first) and same-or-other-site page links."""

    url: str
    title: str
    images: tuple[str, ...]
    links: tuple[str, ...]


def normalise(url: str) -> str | None:
    """An absolute http(s) URL without fragment, lower-case scheme/host; None if unusable."""
    url = urldefrag(url.strip())[0]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    if parts.username:
        return None  # credentials in URLs are never followed
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def is_image_path(url: str) -> bool:
    return PurePosixPath(urlsplit(url).path).suffix.lower() in IMAGE_EXTENSIONS


def extract(html: str | bytes, url: str) -> PageMedia:
    tree = HTMLParser(html)
    base = _base(tree, url)
    images: list[str] = []
    for name in _META_IMAGES:
        for node in tree.css(f'meta[property="{name}"], meta[name="{name}"]'):
            images.append(node.attributes.get("content") or "")
    for node in tree.css("link[rel=image_src]"):
        images.append(node.attributes.get("href") or "")
    for node in tree.css("picture, img"):
        if node.tag == "img" and node.parent is not None and node.parent.tag == "picture":
            continue  # counted with its <picture>
        best = _picture(node) if node.tag == "picture" else _img(node)
        if best:
            images.append(best)
    links: list[str] = []
    for node in tree.css("a[href]"):
        href = node.attributes.get("href") or ""
        (images if is_image_path(urljoin(base, href)) else links).append(href)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    return PageMedia(url, title, _absolute(base, images), _absolute(base, links))


def _base(tree: HTMLParser, url: str) -> str:
    node = tree.css_first("base[href]")
    href = node.attributes.get("href") if node is not None else None
    return urljoin(url, href) if href else url


def _absolute(base: str, urls: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for raw in urls:
        if raw and not raw.strip().lower().startswith(("data:", "javascript:", "mailto:")):
            absolute = normalise(urljoin(base, raw.strip()))
            if absolute:
                seen.setdefault(absolute, None)
    return tuple(seen)


def _img(node: Node) -> str | None:
    if _tiny(node):
        return None
    return _best(_img_candidates(node))


def _img_candidates(node: Node) -> list[tuple[str, float]]:
    """An ``<img>``'s candidates: its ``srcset``, then the attributes lazy-loading scripts
    keep the real picture in, then ``src`` (often a placeholder when those are set)."""
    attrs = node.attributes
    found: list[tuple[str, float]] = []
    for name in ("srcset", "data-srcset"):
        found += _candidates(attrs.get(name) or "")
    for name in ("data-src", "data-original", "data-lazy-src", "src"):
        found += [(url, 1.0) for url in [(attrs.get(name) or "").strip()] if url]
    return found


def _picture(node: Node) -> str | None:
    """The largest picture a ``<picture>`` offers in a format PicTrace reads: its
    ``<source>`` candidates (what a browser shows, when it reads the format) before its
    ``<img>`` fallback's."""
    img = node.css_first("img")
    if img is not None and _tiny(img):
        return None
    found = [
        candidate
        for source in node.css("source")
        if _readable(source.attributes.get("type") or "")
        for candidate in _candidates(source.attributes.get("srcset") or "")
    ]
    return _best(found + (_img_candidates(img) if img is not None else []))


def _readable(mime: str) -> bool:
    """Whether a ``<source type>`` is a format PicTrace decodes (no type: any)."""
    mime = mime.split(";")[0].strip().lower()
    return not mime or mime in _decoded_types()


@cache
def _decoded_types() -> frozenset[str]:
    Image.init()  # every format Pillow reads here (HEIF too when pillow-heif is installed)
    return frozenset(Image.MIME.values()) | {"image/jpg"}


def _best(candidates: list[tuple[str, float]]) -> str | None:
    """The largest candidate that is not inline data; the first of equals."""
    usable = [(url, size) for url, size in candidates if not url.lower().startswith("data:")]
    return max(usable, key=lambda c: c[1])[0] if usable else None


def _candidates(srcset: str) -> list[tuple[str, float]]:
    """(url, size) of each ``srcset`` candidate, its size the width (``640w``) or the
    density (``2x``, counted as 2,000) it declares, 1 when it declares none."""
    found = []
    for candidate in srcset.split(","):
        fields = candidate.split()
        if not fields:
            continue
        size = 1.0
        if len(fields) > 1:
            descriptor = fields[1].lower()
            try:
                size = float(descriptor[:-1]) * (1.0 if descriptor.endswith("w") else 1000.0)
            except ValueError:
                size = 1.0
        found.append((fields[0], size))
    return found


def _tiny(node: Node) -> bool:
    for name in ("width", "height"):
        value = (node.attributes.get(name) or "").strip().removesuffix("px")
        if value.isdigit() and int(value) < MIN_SIDE:
            return True
    return False
