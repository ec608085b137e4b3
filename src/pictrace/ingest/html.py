"""Web page -> the image URLs it shows and the links it offers (selectolax).

Images, in the order a person would call them the page's "main" images: ``og:image`` /
``twitter:image`` first, then ``<picture>`` and ``<img>`` in document order (the largest
``srcset`` candidate of each), then ``<a href>`` links that point at image files. Tiny images
(declared width or height under ``MIN_SIDE``: icons, spacers, tracking pixels) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

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
    attrs = node.attributes
    srcset = attrs.get("srcset") or attrs.get("data-srcset")
    return _largest(srcset) if srcset else (attrs.get("src") or attrs.get("data-src"))


def _picture(node: Node) -> str | None:
    img = node.css_first("img")
    if img is not None and _tiny(img):
        return None
    chosen = _img(img) if img is not None else None
    if chosen:
        return chosen
    for source in node.css("source"):
        best = _largest(source.attributes.get("srcset") or "")
        if best:
            return best
    return None


def _largest(srcset: str) -> str | None:
    """The candidate with the largest width (``640w``) or density (``2x``) descriptor."""
    best, best_size = None, -1.0
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
        if size > best_size:
            best, best_size = fields[0], size
    return best


def _tiny(node: Node) -> bool:
    for name in ("width", "height"):
        value = (node.attributes.get(name) or "").strip().removesuffix("px")
        if value.isdigit() and int(value) < MIN_SIDE:
            return True
    return False
