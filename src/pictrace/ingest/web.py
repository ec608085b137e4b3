"""URLs -> Sources over HTTP(S).

``Fetcher`` is the one shared async client: connect/read timeouts plus an overall deadline per
URL, a body cap enforced while streaming, a concurrency limit overall and per host, redirects
followed by hand (each hop goes through the SSRF guard, see ``guard.py``) and content sniffed
from the bytes. The web app keeps one Fetcher for its lifetime; the library's synchronous entry
points below open one per call on a private event loop thread:

- ``fetch_one(url, settings) -> Source`` for a query image;
- ``fetch_sources(urls, settings)`` for ``Index.add``: downloads concurrently and yields each
  Source (or AddFailure) as it lands; a page URL contributes the images it shows.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin

import anyio
import httpx
from anyio.from_thread import start_blocking_portal

from pictrace.errors import (
    BadURL,
    FetchError,
    FetchTimeout,
    ImageTooLarge,
    NotAnImage,
    needs_extra,
)
from pictrace.ingest.body import CappedBody
from pictrace.ingest.channel import Channel
from pictrace.ingest.guard import Guard, GuardedTransport
from pictrace.ingest.sniff import Kind, describe, kind_of
from pictrace.settings import Settings
from pictrace.types import AddFailure, Source

ACCEPT = "image/avif,image/webp,image/*;q=0.9,text/html;q=0.8,*/*;q=0.5"
ACCEPT_ENCODING = "gzip, deflate"  # what CappedBody decodes
QUEUE_WAIT = 4  # fetch deadlines a download may wait for a slot


@dataclass(frozen=True)
class Fetched:
    url: str  # as requested
    final_url: str  # after redirects
    status: int
    data: bytes
    kind: Kind


class Fetcher:
    """The shared async HTTP client (use ``async with``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.guard = Guard(settings.allow_hosts)
        limits = httpx.Limits(
            max_connections=settings.fetch_concurrency,
            max_keepalive_connections=settings.fetch_concurrency,
        )
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(self.guard, limits),
            timeout=httpx.Timeout(settings.fetch_timeout, connect=settings.connect_timeout),
            follow_redirects=False,
            trust_env=False,  # a proxy from the environment would bypass the guard
            headers={
                "User-Agent": settings.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )
        self._overall = asyncio.Semaphore(settings.fetch_concurrency)
        self._hosts: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.host_concurrency)
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(self, url: str, max_bytes: int | None = None) -> Fetched:
        """Download ``url``; FetchError (HTTP errors too), FetchTimeout or ImageTooLarge."""
        fetched = await self._get(url, max_bytes or self.settings.max_bytes)
        if fetched.status >= 400:
            raise FetchError(f"{url}: the server answered HTTP {fetched.status}")
        return fetched

    async def image(self, url: str) -> Source:
        """Download one image URL; a web page or other non-image raises NotAnImage."""
        fetched = await self.get(url)
        if fetched.kind == "html":
            raise NotAnImage(
                f"{url}: this is a web page, not an image; search with the address of "
                "one of its images (adding the page adds the images it shows)"
            )
        if fetched.kind == "other" and describe(fetched.data) != "not an image":
            raise NotAnImage(f"{url}: the server sent {describe(fetched.data)}, not an image")
        return Source(uri=url, data=fetched.data)

    async def robots_txt(self, url: str, max_bytes: int) -> tuple[int, bytes]:
        """A robots.txt's status and its first ``max_bytes`` (the rest is left unread)."""
        fetched = await self._get(url, max_bytes, truncate=True)
        return fetched.status, fetched.data

    async def _get(self, url: str, max_bytes: int, truncate: bool = False) -> Fetched:
        deadline = self.settings.fetch_timeout
        try:
            return await self._follow(url, max_bytes, truncate)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise FetchTimeout(
                f"{url}: no complete answer within {deadline:g} s; the server "
                "is too slow or unreachable"
            ) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {_reason(exc)}") from exc
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise BadURL(f"{url}: not a valid URL ({exc})") from exc

    async def _follow(self, url: str, max_bytes: int, truncate: bool = False) -> Fetched:
        """Follow redirects by hand. The deadline counts only the time spent holding a
        download slot: a URL queued behind others (a crawl of a page with hundreds of
        images) is not timed out for waiting its turn."""
        current, left = url, float(self.settings.fetch_timeout)
        for _hop in range(self.settings.max_redirects + 1):
            host = self.guard.check_url(current)
            async with self._slot(host):
                started = anyio.current_time()
                with anyio.fail_after(left):
                    async with self.client.stream("GET", current) as response:
                        if not response.is_redirect:
                            data = await _read_capped(response, max_bytes, url, truncate)
                            return Fetched(url, current, response.status_code, data, kind_of(data))
                        location = response.headers["location"]
                left -= anyio.current_time() - started
            current = _redirect_target(current, location)
        raise FetchError(f"{url}: more than {self.settings.max_redirects} redirects")

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """A download slot for ``host``: its own first (a queue for one busy host holds no
        overall slot the other hosts could use), waited for at most QUEUE_WAIT deadlines (a
        search by URL beside a long crawl fails instead of waiting for all of it)."""
        wait = QUEUE_WAIT * self.settings.fetch_timeout
        own = self._hosts[host.lower()]
        await _acquire(own, wait, host)
        try:
            await _acquire(self._overall, wait, host)
            try:
                yield
            finally:
                self._overall.release()
        finally:
            own.release()


async def _acquire(semaphore: asyncio.Semaphore, wait: float, host: str) -> None:
    try:
        with anyio.fail_after(wait):
            await semaphore.acquire()
    except TimeoutError:
        raise FetchTimeout(f"{host}: no download slot within {wait:g} s (busy)") from None


def _redirect_target(current: str, location: str) -> str:
    try:
        return urljoin(current, location)
    except ValueError as exc:
        raise FetchError(f"{current}: the server redirected to an invalid URL") from exc


async def _read_capped(
    response: httpx.Response, limit: int, url: str, truncate: bool = False
) -> bytes:
    """The body, decoded (gzip or deflate, one layer) in bounded steps: a few kilobytes of
    compressed zeros never expand past ``limit`` in memory. With ``truncate``, a longer body
    is its first ``limit`` bytes (the rest is not read)."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise ImageTooLarge.of_bytes(url, int(declared), limit)
    body = CappedBody(response.headers.get("content-encoding", ""), limit, url, truncate)
    async for chunk in response.aiter_raw():
        body.feed(chunk)
        if body.full:
            break
    return body.finish()


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc or 'connection refused'})"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return f"the connection broke ({exc or type(exc).__name__})"
    return str(exc) or type(exc).__name__


# --- synchronous entry points used by the library (Index.add / Index.load_query) ----------
def fetch_one(url: str, settings: Settings) -> Source:
    """Download one image URL (for a query)."""

    async def job() -> Source:
        async with Fetcher(settings) as fetcher:
            return await fetcher.image(url)

    with start_blocking_portal() as portal:
        return portal.call(job)


def fetch_sources(urls: Sequence[str], settings: Settings) -> Iterator[Source | AddFailure]:
    """Download URLs concurrently, yielding each Source or AddFailure as soon as it lands.

    A page URL contributes the images it shows (a crawl of depth 0, robots.txt respected for
    the images); the page itself never becomes an image."""
    with start_blocking_portal() as portal:
        channel: Channel[Source | AddFailure] = Channel(2 * settings.fetch_concurrency)
        future = portal.start_task_soon(_download_all, list(urls), settings, channel)
        try:
            yield from channel.drain(portal.call)
        finally:
            future.cancel()


async def _download_all(
    urls: list[str], settings: Settings, channel: Channel[Source | AddFailure]
) -> None:
    try:  # whatever fails (the page reader's extra, even) ends the channel, or add waits on
        with needs_extra("web"):
            from pictrace.ingest.crawl import CrawlLimits, crawl_many

        limits = CrawlLimits(depth=0, max_pages=1, max_images=settings.crawl_max_images)
        async with Fetcher(settings) as fetcher:
            await crawl_many(fetcher, urls, limits, channel.put)
    except Exception as exc:
        channel.close(exc)
        return
    channel.close()
