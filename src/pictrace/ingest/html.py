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
from pictrace.ingest.sniff import as_text

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
    try:
        url = urldefrag(url.strip())[0]
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
    tree = HTMLParser(as_text(html) if isinstance(html, bytes) else html)
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
        (images if is_image_path(_joined(base, href) or "") else links).append(href)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    return PageMedia(url, title, _absolute(base, images), _absolute(base, links))


def _base(tree: HTMLParser, url: str) -> str:
    node = tree.css_first("base[href]")
    href = node.attributes.get("href") if node is not None else None
    return (_joined(url, href) or url) if href else url


def _absolute(base: str, urls: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for raw in urls:
        if raw and not raw.strip().lower().startswith(("data:", "javascript:", "mailto:")):
            joined = _joined(base, raw.strip())
            absolute = normalise(joined) if joined else None
            if absolute:
                seen.setdefault(absolute, None)
    return tuple(seen)


def _joined(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base``, or None when it is no URL at all (a broken
    IPv6 host such as ``http://[::1/x``): that link is left out, not the whole page."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def _img(node: Node) -> str | None:
    if _tiny(node):
        return None
    return _best(_img_candidates(node))


def _img_candidates(node: Node) -> list[tuple[str, float]]:
    """An ``<img>``'s candidates: its ``srcset``, then the attributes lazy-loading scripts
    keep the real picture in, then ``src`` (often a placeholder when those are set)."""
    attrs = node.attributes
    found = _srcset_candidates(node)
    for name in ("data-src", "data-original", "data-lazy-src", "src"):
        found += [(url, 1.0) for url in [(attrs.get(name) or "").strip()] if url]
    return found


def _srcset_candidates(node: Node) -> list[tuple[str, float]]:
    """The candidates of an element's ``srcset`` and of the copies lazy-loading scripts
    (lazysizes and the like) keep until the element scrolls into view."""
    found: list[tuple[str, float]] = []
    for name in ("srcset", "data-srcset", "data-lazy-srcset"):
        found += _candidates(node.attributes.get(name) or "")
    return found


def _picture(node: Node) -> str | None:
    """What a browser that reads every format PicTrace reads would show of a ``<picture>``:
    the first ``<source>`` in such a format for every screen (no ``media``), else its
    ``<img>``, else the first source for some screens (art direction); the largest
    candidate of that one."""
    img = node.css_first("img")
    if img is not None and _tiny(img):
        return None
    sources = [s for s in node.css("source") if _readable(s.attributes.get("type") or "")]
    some_screens = [s for s in sources if (s.attributes.get("media") or "").strip()]
    every_screen = [s for s in sources if s not in some_screens]
    fallback = [] if img is None else [_img_candidates(img)]
    offers = [_srcset_candidates(s) for s in every_screen]
    offers += fallback + [_srcset_candidates(s) for s in some_screens]
    return next((best for offer in offers if (best := _best(offer))), None)


def _readable(mime: str) -> bool:
    """Whether a ``<source type>`` is a picture format PicTrace decodes (no type: any)."""
    mime = mime.split(";")[0].strip().lower()
    return not mime or mime in _decoded_types()


@cache
def _decoded_types() -> frozenset[str]:
    """The MIME types of the formats Pillow opens here (HEIF too when pillow-heif is
    installed: importing ``heif`` registers it)."""
    import pictrace.heif  # noqa: F401

    Image.init()
    opened = {Image.MIME.get(name, "") for name in Image.OPEN}
    return frozenset(m for m in opened if m.startswith("image/")) | {"image/jpg"}


def _best(candidates: list[tuple[str, float]]) -> str | None:
    """The largest candidate that is not inline data; the first of equals."""
    usable = [(url, size) for url, size in candidates if not url.lower().startswith("data:")]
    return max(usable, key=lambda c: c[1])[0] if usable else None


def _candidates(srcset: str) -> list[tuple[str, float]]:
    """(url, size) of each ``srcset`` candidate, as HTML splits them: a URL runs to the next
    white space (it may hold commas: a ``data:`` URI, a resizing service's ``w_640,h_480``),
    its descriptors to the next comma. Its size is the width it declares (``640w``) or its
    density (``2x``, counted as 2,000), 1 when it declares none."""
    found = []
    pos, end = 0, len(srcset)
    while pos < end:
        while pos < end and (srcset[pos].isspace() or srcset[pos] == ","):
            pos += 1
        start = pos
        while pos < end and not srcset[pos].isspace():
            pos += 1
        url, descriptor = srcset[start:pos], ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            comma = srcset.find(",", pos)
            comma = end if comma < 0 else comma
            descriptor, pos = srcset[pos:comma], comma + 1
        if url:
            found.append((url, _declared_size(descriptor)))
    return found


def _declared_size(descriptor: str) -> float:
    fields = descriptor.split()
    if not fields:
        return 1.0
    size = fields[0].lower()
    try:
        return float(size[:-1]) * (1.0 if size.endswith("w") else 1000.0)
    except ValueError:
        return 1.0


def _tiny(node: Node) -> bool:
    for name in ("width", "height"):
        value = (node.attributes.get(name) or "").strip().removesuffix("px")
        if value.isascii() and value.isdigit() and int(value) < MIN_SIDE:
            return True
    return False
