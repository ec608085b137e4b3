"""Crawling a small site on 127.0.0.1: depth, same-site links, robots.txt, de-duplication."""

from __future__ import annotations

import asyncio

import pytest

from pictrace import load_settings
from pictrace.ingest.crawl import CrawlLimits, CrawlProgress, crawl
from pictrace.ingest.web import Fetcher
from pictrace.types import AddFailure, Source
from tests.ingest.site import Reply, Site

SETTINGS = load_settings(allow_hosts=("127.0.0.1",), fetch_timeout=3.0)
JPEG = b"\xff\xd8\xff\xe0 pretend jpeg"


def build_site(robots: Reply | None) -> Site:
    web = Site()
    if robots is not None:
        web.routes["/robots.txt"] = robots
    for name in ("a", "b", "c", "d", "secret"):
        web.file(f"/img/{name}.jpg", JPEG + name.encode())
    web.page(
        "/",
        """<html><img src="/img/a.jpg"><img src="/img/a.jpg#again">
        <a href="/p1.html">p1</a><a href="/private/p.html">private</a>
        <a href="http://localhost:{port}/elsewhere.html">another site</a></html>""",
    )
    web.page("/p1.html", '<img src="img/b.jpg"><img src="/img/a.jpg"><a href="/p2.html">p2</a>')
    web.page("/p2.html", '<img src="/img/c.jpg"><a href="/">home</a>')
    web.page("/private/p.html", '<img src="/img/secret.jpg">')
    web.page("/elsewhere.html", '<img src="/img/d.jpg">')
    return web


async def _collect(start: str, limits: CrawlLimits) -> tuple[list, CrawlProgress]:
    items: list[Source | AddFailure] = []

    async def emit(item: Source | AddFailure) -> None:
        items.append(item)

    async with Fetcher(SETTINGS) as fetcher:
        progress = await crawl(fetcher, start, limits, emit)
    return items, progress


def run_crawl(web: Site, depth: int, **limits: int) -> tuple[dict, dict, CrawlProgress]:
    for path in ("/",):
        web.routes[path].body = web.routes[path].body.replace(b"{port}", str(web.port).encode())
    items, progress = asyncio.run(_collect(web.url("/"), CrawlLimits(depth, **limits)))
    images = {
        i.uri.rsplit("/", 1)[-1]: i.page.rsplit("/", 1)[-1] for i in items if isinstance(i, Source)
    }
    failures = {f.source.rsplit("/", 1)[-1]: f.code for f in items if isinstance(f, AddFailure)}
    return images, failures, progress


ROBOTS = Reply(b"User-agent: *\nDisallow: /private/\n", "text/plain")


def test_depth_limits_how_far_links_are_followed():
    web = build_site(ROBOTS)
    with web.running():
        shallow, _, progress = run_crawl(web, depth=0)
        deep, failures, _ = run_crawl(web, depth=2)
    assert shallow == {"a.jpg": ""} and progress.pages == 1
    assert deep == {"a.jpg": "", "b.jpg": "p1.html", "c.jpg": "p2.html"}
    assert failures == {"p.html": "robots_disallowed"}  # robots.txt keeps /private/ out


def test_each_url_is_fetched_once_and_other_sites_are_not_followed():
    web = build_site(ROBOTS)
    with web.running():
        run_crawl(web, depth=3)
    assert web.hits["/img/a.jpg"] == 1 and web.hits["/"] == 1
    assert web.hits["/elsewhere.html"] == 0 and web.hits["/img/secret.jpg"] == 0
    assert web.hits["/robots.txt"] == 1


def test_page_and_image_budgets():
    web = build_site(ROBOTS)
    with web.running():
        images, _, progress = run_crawl(web, depth=3, max_pages=2, max_images=2)
    assert progress.pages == 2 and len(images) == 2


@pytest.mark.parametrize(
    ("robots", "allowed"),
    [
        (None, True),  # 404: no rules, everything allowed
        (Reply(b"oops", status=503), False),  # unreachable: nothing allowed (RFC 9309)
        (Reply(b"User-agent: PicTrace\nDisallow: /img/\n", "text/plain"), False),
    ],
)
def test_robots_txt_semantics(robots, allowed):
    web = build_site(robots)
    with web.running():
        images, failures, _ = run_crawl(web, depth=1)
    if allowed:
        assert set(images) == {"a.jpg", "b.jpg", "secret.jpg"}
    else:
        assert not images and "a.jpg" in failures
        assert set(failures.values()) == {"robots_disallowed"}


def test_an_unreachable_robots_txt_is_named_as_the_reason():
    web = build_site(Reply(b"oops", status=503))
    with web.running():
        web.routes["/"].body = web.routes["/"].body.replace(b"{port}", str(web.port).encode())
        items, _ = asyncio.run(_collect(web.url("/"), CrawlLimits(0)))
    (refused,) = [i for i in items if isinstance(i, AddFailure)]
    assert refused.code == "robots_disallowed"
    assert "robots.txt could not be read (HTTP 503)" in refused.reason
    assert "RFC 9309" in refused.reason


def test_an_image_on_a_site_that_cannot_be_reached_fails_as_a_download():
    """Its robots.txt cannot be read either, but the site's silence is the reason to give."""
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}/photo.jpg"
    web = build_site(None)
    web.page("/", f'<html><img src="/img/a.jpg"><img src="{gone}"></html>')
    with web.running():
        items, _ = asyncio.run(_collect(web.url("/"), CrawlLimits(0)))
    (failed,) = [i for i in items if isinstance(i, AddFailure)]
    assert failed.code == "fetch_failed" and failed.reason.startswith(gone)
    assert "robots" not in failed.reason and "could not be reached" in failed.reason


def test_a_start_url_that_is_an_image_is_indexed_as_is():
    web = build_site(None)
    with web.running():
        items, progress = asyncio.run(_collect(web.url("/img/b.jpg"), CrawlLimits(2)))
    assert [i.uri for i in items] == [web.url("/img/b.jpg")] and progress.images_fetched == 1


def test_an_image_url_redirecting_to_a_fetched_one_is_not_emitted_twice():
    """Two URLs of one picture (an old path redirected to the new one, and the new one):
    it is emitted once; and a page reached by a redirect is the page its images name."""
    web = Site()
    web.file("/img/new.jpg", JPEG)
    web.redirect("/img/old.jpg", "/img/new.jpg", status=301)
    web.redirect("/img/older.jpg", "/img/old.jpg")
    web.page("/moved.html", '<img src="/img/old.jpg"><img src="/img/new.jpg">'
                            '<img src="/img/older.jpg">')  # fmt: skip
    web.redirect("/", "/moved.html")
    with web.running():
        images, failures, progress = run_crawl(web, depth=0)
    assert len(images) == 1 and set(images.values()) == {"moved.html"}
    assert not failures and progress.images_fetched == progress.images_found == 1


@pytest.mark.parametrize(("encoding", "end"), [("", b"\n"), ("gzip", b"\n"), ("", b"\r")])
def test_a_robots_txt_past_500_kib_is_read_to_there(encoding, end):
    """RFC 9309 asks a crawler to parse at least 500 KiB: a longer robots.txt (comments, a
    long list of rules) was "unreachable", so the whole site was refused. Its rules up to
    there hold (a line cut at the limit is left out), those past it are ignored."""
    import gzip

    rules = b"User-agent: *" + end + b"Disallow: /private/" + end
    cut = b"Disallow: /im"  # the limit falls here: read, this line would refuse /img/
    padding = 500 * 1024 - len(rules) - len(cut)
    body = rules + b"#" * (padding - 1) + end + cut + b"g/" + end + b"Disallow: /" + end
    headers = {"Content-Encoding": encoding} if encoding else {}
    web = build_site(Reply(gzip.compress(body) if encoding else body, "text/plain", 200, headers))
    with web.running():
        images, failures, _ = run_crawl(web, depth=2)
    assert set(images) == {"a.jpg", "b.jpg", "c.jpg"}
    assert failures == {"p.html": "robots_disallowed"}
