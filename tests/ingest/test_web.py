"""Downloads over HTTP against a site on 127.0.0.1: guard, redirects, caps, timeouts, sniffing,
concurrency limits, and the synchronous entry points the library uses."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib

import pytest

from pictrace import Index, load_settings
from pictrace.errors import BlockedURL, FetchError, FetchTimeout, ImageTooLarge, NotAnImage
from pictrace.ingest.body import CappedBody
from pictrace.ingest.web import Fetcher, fetch_one, fetch_sources
from pictrace.types import AddFailure, Source
from tests.ingest.site import Reply, Site

LOCAL = load_settings(allow_hosts=("127.0.0.1",), fetch_timeout=1.5, max_redirects=2)
GZIPPED = {"Content-Encoding": "gzip"}


@pytest.fixture(scope="module")
def site(photos):
    web = Site()
    web.file("/coffee.jpg", (photos / "coffee.jpg").read_bytes())
    web.file("/box", (photos / "box.png").read_bytes(), "text/plain")  # lying header
    web.file("/fake.jpg", b'{"json": "not a picture"}', "image/jpeg")
    web.file("/unknown.jpg", b"\x00\x01 binary noise", "image/jpeg")
    web.page("/page.html", '<html><img src="/coffee.jpg"><img src="/box"></html>')
    web.redirect("/hop1", "/hop2")
    web.redirect("/hop2", "/coffee.jpg", status=301)
    web.redirect("/loop", "/loop")
    web.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    web.redirect("/to-other-loopback", "http://127.0.0.2:1/coffee.jpg")
    web.routes["/declared-big"] = Reply(b"\xff\xd8\xff" + b"0" * 300_000)
    web.routes["/endless"] = Reply(b"0" * 65_536, repeat=1000)
    web.routes["/slow"] = Reply(b"\xff\xd8\xff", delay=3.0)
    coffee = (photos / "coffee.jpg").read_bytes()
    web.routes["/gzipped.jpg"] = Reply(gzip.compress(coffee), "image/jpeg", headers=GZIPPED)
    wrapped = zlib.compress(coffee)
    web.routes["/deflated.jpg"] = Reply(
        wrapped, "image/jpeg", headers={"Content-Encoding": "deflate"}
    )
    web.routes["/raw-deflated.jpg"] = Reply(  # raw deflate, as some servers send it
        wrapped[2:-4], "image/jpeg", headers={"Content-Encoding": "deflate"}
    )
    zeros = gzip.compress(b"\0" * 50_000_000, 9)  # ~50 kB expanding to 50 MB
    web.routes["/gzip-bomb.jpg"] = Reply(zeros, "image/jpeg", headers=GZIPPED)
    web.routes["/stacked-bomb.jpg"] = Reply(
        gzip.compress(zeros, 9), "image/jpeg", headers={"Content-Encoding": "gzip, gzip"}
    )
    web.routes["/brotli.jpg"] = Reply(
        b"\x0b\x01\x80", "image/jpeg", headers={"Content-Encoding": "br"}
    )
    for i in range(12):
        web.routes[f"/queued{i}.jpg"] = Reply(coffee, "image/jpeg", delay=0.3)
    web.routes["/drip"] = Reply(b"\xff" * 100, repeat=100, drip=0.05)
    for i in range(8):
        web.routes[f"/busy{i}.jpg"] = Reply(
            (photos / "coffee.jpg").read_bytes(), "image/jpeg", delay=0.2
        )
    with web.running():
        yield web


def test_downloads_an_image(site):
    source = fetch_one(site.url("/coffee.jpg"), LOCAL)
    assert source.uri == site.url("/coffee.jpg") and source.data[:3] == b"\xff\xd8\xff"


def test_the_guard_refuses_the_test_server_unless_relaxed(site):
    with pytest.raises(BlockedURL, match="loopback"):
        fetch_one(site.url("/coffee.jpg"), load_settings())
    with pytest.raises(BlockedURL, match=r"resolves to 127\.0\.0\.1"):
        fetch_one(site.url("/coffee.jpg", host="localhost"), load_settings())
    assert site.hits["/coffee.jpg"] <= 1  # only the relaxed test above reached it


def test_redirects_are_followed_and_each_hop_is_checked(site):
    assert fetch_one(site.url("/hop1"), LOCAL).uri == site.url("/hop1")
    with pytest.raises(BlockedURL, match="link-local"):
        fetch_one(site.url("/to-metadata"), LOCAL)
    with pytest.raises(BlockedURL, match=r"127\.0\.0\.2"):
        fetch_one(site.url("/to-other-loopback"), LOCAL)
    with pytest.raises(FetchError, match="more than 2 redirects"):
        fetch_one(site.url("/loop"), LOCAL)


def test_bodies_are_capped_while_streaming(site):
    small = load_settings(allow_hosts=("127.0.0.1",), max_bytes=100_000)
    with pytest.raises(ImageTooLarge, match="exceeds the limit"):
        fetch_one(site.url("/declared-big"), small)
    started = time.monotonic()
    with pytest.raises(ImageTooLarge, match="download was stopped"):
        fetch_one(site.url("/endless"), small)
    assert time.monotonic() - started < 5


def test_encoded_bodies_are_decoded_within_the_cap(site):
    coffee = fetch_one(site.url("/coffee.jpg"), LOCAL).data
    for path in ("/gzipped.jpg", "/deflated.jpg", "/raw-deflated.jpg"):
        assert fetch_one(site.url(path), LOCAL).data == coffee
    small = load_settings(allow_hosts=("127.0.0.1",), max_bytes=1_000_000)
    with pytest.raises(ImageTooLarge, match="download was stopped"):
        fetch_one(site.url("/gzip-bomb.jpg"), small)
    body = CappedBody("gzip", 1_000_000, "bomb")
    with pytest.raises(ImageTooLarge):
        body.feed(gzip.compress(b"\0" * 50_000_000, 9))
    assert body.size <= 1_000_001  # inflated in bounded steps, never the whole 50 MB
    for path, encoding in (("/stacked-bomb.jpg", "gzip, gzip"), ("/brotli.jpg", "br")):
        with pytest.raises(FetchError, match=f"encoded as '{encoding}'"):
            fetch_one(site.url(path), small)


def _fed(body: CappedBody, data: bytes, chunk: int) -> bytes:
    for start in range(0, len(data), chunk):
        body.feed(data[start : start + chunk])
    return body.finish()


def test_encoded_bodies_arrive_in_any_chunks():
    data = bytes(range(256)) * 400
    wrapped, gzipped = zlib.compress(data), gzip.compress(data)
    for chunk in (1, 7, 4096):
        assert _fed(CappedBody("deflate", 10**6, "u"), wrapped, chunk) == data
        assert _fed(CappedBody("deflate", 10**6, "u"), wrapped[2:-4], chunk) == data  # raw
        assert _fed(CappedBody("gzip", 10**6, "u"), gzipped, chunk) == data
    two_members = gzip.compress(b"first ") + gzip.compress(b"second")
    assert _fed(CappedBody("gzip", 100, "u"), two_members, 5) == b"first second"
    for cut in range(1, len(two_members)):  # a chunk may end anywhere, a member's end too
        body = CappedBody("gzip", 100, "u")
        body.feed(two_members[:cut])
        body.feed(two_members[cut:])
        assert body.finish() == b"first second"
    assert _fed(CappedBody("gzip", 100, "u"), b"", 1) == b""  # no body at all
    with pytest.raises(FetchError, match="ended early"):
        _fed(CappedBody("gzip", 10**6, "u"), gzipped[: len(gzipped) // 2], 64)


def test_bytes_after_the_end_of_an_encoded_body_are_ignored_up_to_the_cap():
    """A few stray bytes after the end are ignored; megabytes of them are a hostile server
    (zlib would keep them all, and copy them again with every chunk)."""
    for encoding, body in (("deflate", zlib.compress(b"tiny")), ("gzip", gzip.compress(b"tiny"))):
        assert _fed(CappedBody(encoding, 1000, "u"), body + b"junk" * 100, 64) == b"tiny"
        flooded = CappedBody(encoding, 10_000, "u")
        flooded.feed(body)
        with pytest.raises(ImageTooLarge, match="after the end"):
            for _ in range(1000):
                flooded.feed(b"\xff" * 4096)
        assert flooded.after <= 10_000 + 4096


def test_waiting_for_a_download_slot_does_not_count_against_the_deadline(site):
    """6 answers of 0.3 s, one at a time: the last starts ~1.5 s after it was asked for,
    past a 1 s deadline, yet each answer itself is quick."""
    one_at_a_time = load_settings(
        allow_hosts=("127.0.0.1",), fetch_timeout=1.0, host_concurrency=1, fetch_concurrency=1
    )

    async def run() -> list[Source]:
        async with Fetcher(one_at_a_time) as fetcher:
            urls = [site.url(f"/queued{i}.jpg") for i in range(6)]
            return await asyncio.gather(*(fetcher.image(u) for u in urls))

    site.settle()
    assert len(asyncio.run(run())) == 6  # the last waited ~1.5 s before its own 0.3 s


def test_waiting_for_a_slot_is_capped(site):
    """... but not for ever: a search by URL beside a long crawl fails after QUEUE_WAIT
    deadlines (here 4 x 0.5 s) instead of waiting for the whole queue (12 x 0.3 s)."""
    one_at_a_time = load_settings(
        allow_hosts=("127.0.0.1",), fetch_timeout=0.5, host_concurrency=1, fetch_concurrency=1
    )

    async def run() -> list[Source | BaseException]:
        async with Fetcher(one_at_a_time) as fetcher:
            urls = [site.url(f"/queued{i}.jpg") for i in range(12)]
            return await asyncio.gather(*(fetcher.image(u) for u in urls), return_exceptions=True)

    site.settle()
    outcomes = asyncio.run(run())
    assert all(isinstance(o, Source | FetchTimeout) for o in outcomes), outcomes
    # a loaded machine may also time an answer out itself (0.3 s of its 0.5 s deadline)
    waited = [o for o in outcomes if "no download slot within 2 s" in str(o)]
    assert 2 <= len(waited) <= 10
    assert sum(isinstance(o, Source) for o in outcomes) >= 2


def test_slow_servers_time_out(site):
    for path in ("/slow", "/drip"):
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"within 1\.5 s"):
            fetch_one(site.url(path), LOCAL)
        assert time.monotonic() - started < 3.5


def test_http_errors_and_refused_connections(site):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_one(site.url("/missing.jpg"), LOCAL)
    with pytest.raises(FetchError, match="cannot connect"):
        fetch_one("http://127.0.0.1:9/nothing-listens.jpg", LOCAL)


def test_content_is_sniffed_not_trusted(site):
    assert fetch_one(site.url("/box"), LOCAL).data[:4] == b"\x89PNG"
    with pytest.raises(NotAnImage, match="JSON"):
        fetch_one(site.url("/fake.jpg"), LOCAL)
    with pytest.raises(NotAnImage, match="web page"):
        fetch_one(site.url("/page.html"), LOCAL)
    # unknown bytes are handed to the decoder, which has the last word
    assert fetch_one(site.url("/unknown.jpg"), LOCAL).data.startswith(b"\x00\x01")


def test_fetch_sources_streams_images_and_failures(site):
    urls = [
        site.url("/coffee.jpg"),
        site.url("/page.html"),
        site.url("/missing.jpg"),
        "ftp://example.org/x.jpg",
    ]
    items = list(fetch_sources(urls, LOCAL))
    sources = sorted((i.uri, i.page or "") for i in items if isinstance(i, Source))
    failures = {f.source: f.code for f in items if isinstance(f, AddFailure)}
    assert sources == sorted(
        [
            (site.url("/coffee.jpg"), ""),
            (site.url("/coffee.jpg"), site.url("/page.html")),
            (site.url("/box"), site.url("/page.html")),
        ]
    )
    assert failures == {
        site.url("/missing.jpg"): "fetch_failed",
        "ftp://example.org/x.jpg": "blocked_url",
    }


def test_stopping_early_cancels_the_downloads(site):
    stream = fetch_sources([site.url(f"/busy{i}.jpg") for i in range(8)], LOCAL)
    first = next(stream)
    stream.close()
    assert isinstance(first, Source)


def test_concurrency_is_limited_per_host(site):
    site.settle()  # the downloads the test before hung up on may still be served
    limited = load_settings(allow_hosts=("127.0.0.1",), host_concurrency=2, fetch_concurrency=8)

    async def run() -> list[Source]:
        async with Fetcher(limited) as fetcher:
            return await asyncio.gather(
                *(fetcher.image(site.url(f"/busy{i}.jpg")) for i in range(8))
            )

    started = time.monotonic()
    assert len(asyncio.run(run())) == 8
    assert site.peak == 2
    assert time.monotonic() - started >= 0.8  # 8 requests, 2 at a time, 0.2 s each


def test_index_adds_and_searches_urls(site, tmp_path):
    with Index.open(tmp_path / "index", settings=LOCAL) as index:
        report = index.add([site.url("/coffee.jpg"), site.url("/box"), site.url("/nope.png")])
        assert len(report.added) == 2
        assert [f.code for f in report.failed] == ["fetch_failed"]
        top = index.search(site.url("/hop1"), k=1).matches[0]
        assert top.tier == "exact" and top.source == site.url("/coffee.jpg")
