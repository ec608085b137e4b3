"""Crawl: a page URL -> the Sources of the images it shows (and of same-site pages it links to).

Breadth-first from the start page, ``depth`` link hops within the same site (host, ignoring a
leading ``www.``), at most ``max_pages`` pages and ``max_images`` images, every URL fetched once.
Image downloads run while further pages are fetched; the shared Fetcher bounds concurrency.
robots.txt is respected for everything the crawl discovers (the start URL is the user's own
request). Each image becomes ``Source(uri=image_url, data, page=page_url)``, the page being
where a redirect led; image URLs that lead to one picture (one redirects to the other) give
one Source, under the URL whose download ended first.
Every failure becomes an AddFailure, so the report says what was skipped and why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from pictrace.errors import PicTraceError
from pictrace.ingest.guard import without_credentials
from pictrace.ingest.html import extract, normalise
from pictrace.ingest.robots import Robots
from pictrace.ingest.sniff import describe
from pictrace.ingest.web import Fetcher
from pictrace.settings import Settings
from pictrace.types import AddFailure, Source

Emit = Callable[[Source | AddFailure], Awaitable[None]]


@dataclass(frozen=True)
class CrawlLimits:
    depth: int = 0
    max_pages: int = 50
    max_images: int = 500

    @classmethod
    def from_settings(cls, settings: Settings, depth: int | None = None) -> CrawlLimits:
        return cls(
            settings.crawl_depth if depth is None else depth,
            settings.crawl_max_pages,
            settings.crawl_max_images,
        )


@dataclass
class CrawlProgress:
    """Live counters (read by the job page while the crawl runs). ``failed`` counts the URLs
    that could not be fetched while it runs; a crawl job sets it to every failure of its
    report when it ends (a download that did not decode too)."""

    pages: int = 0
    images_found: int = 0
    images_fetched: int = 0
    failed: int = 0


class Crawler:
    def __init__(
        self,
        fetcher: Fetcher,
        limits: CrawlLimits,
        emit: Emit,
        progress: CrawlProgress | None = None,
        robots: Robots | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.limits = limits
        self.emit = emit
        self.progress = progress or CrawlProgress()
        self.robots = robots or Robots(fetcher, fetcher.settings.user_agent)
        self.pages: set[str] = set()
        self.images: set[str] = set()
        self.landed: set[str] = set()  # where the emitted images' URLs led (after redirects)
        self.site = ""

    async def run(self, start: str) -> CrawlProgress:
        frontier = [start]  # kept exactly as given: it may become a Source uri
        self.pages.update({start, normalise(start) or start})
        async with asyncio.TaskGroup() as downloads:
            for depth in range(self.limits.depth + 1):
                found = await asyncio.gather(
                    *(self._page(url, depth == 0, downloads) for url in frontier)
                )
                frontier = self._next_pages(link for links in found for link in links)
                if not frontier or depth == self.limits.depth:
                    break
        return self.progress

    def _next_pages(self, links: Iterable[str]) -> list[str]:
        chosen = []
        for link in links:
            if len(self.pages) >= self.limits.max_pages:
                break
            if link not in self.pages and _site(link) == self.site:
                self.pages.add(link)
                chosen.append(link)
        return chosen

    async def _page(self, url: str, is_start: bool, downloads: asyncio.TaskGroup) -> list[str]:
        refused = None if is_start else await self.robots.refusal(url, "this page")
        if refused:
            await self._fail(url, *refused)
            return []
        try:
            fetched = await self.fetcher.get(url)
        except PicTraceError as exc:
            await self._fail(url, exc.message, exc.code)
            return []
        self.progress.pages += 1
        if is_start:
            self.site = _site(fetched.final_url)
        if fetched.kind != "html":
            if is_start:  # the user gave an image (or something) directly: let decode judge
                self.images.add(url)
                self.progress.images_found += 1
                self.progress.images_fetched += 1
                await self.emit(Source(uri=url, data=fetched.data))
            return []
        media = await asyncio.to_thread(extract, fetched.data, fetched.final_url)
        for image_url in media.images:
            if image_url not in self.images and len(self.images) < self.limits.max_images:
                self.images.add(image_url)
                self.progress.images_found += 1
                downloads.create_task(self._image(image_url, fetched.final_url))
        return list(media.links)

    async def _image(self, url: str, page: str) -> None:
        if refused := await self.robots.refusal(url, "this image"):
            await self._fail(url, *refused)
            return
        try:
            fetched = await self.fetcher.get(url)
        except PicTraceError as exc:
            await self._fail(url, exc.message, exc.code)
            return
        if fetched.kind == "html":
            await self._fail(
                url, f"the server sent {describe(fetched.data)}, not an image", "not_an_image"
            )
            return
        landed = normalise(fetched.final_url) or fetched.final_url
        if landed in self.landed:  # the same picture under another URL, emitted already:
            self.progress.images_found -= 1  # one picture found, not two
            return
        self.landed.add(landed)
        self.progress.images_fetched += 1
        await self.emit(Source(uri=url, data=fetched.data, page=page))

    async def _fail(self, url: str, reason: str, code: str) -> None:
        """Report a URL that failed (without any user name or password in it)."""
        self.progress.failed += 1
        await self.emit(AddFailure(without_credentials(url), reason, code))


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


async def crawl(
    fetcher: Fetcher,
    start: str,
    limits: CrawlLimits,
    emit: Emit,
    progress: CrawlProgress | None = None,
) -> CrawlProgress:
    """Crawl from ``start``, awaiting ``emit`` for every Source or AddFailure."""
    return await Crawler(fetcher, limits, emit, progress).run(start)


async def crawl_many(
    fetcher: Fetcher,
    starts: Sequence[str],
    limits: CrawlLimits,
    emit: Emit,
    progress: CrawlProgress | None = None,
) -> CrawlProgress:
    """Crawl several start URLs concurrently, sharing robots.txt rules and progress."""
    progress = progress or CrawlProgress()
    robots = Robots(fetcher, fetcher.settings.user_agent)
    pending = iter(starts)

    async def worker() -> None:
        for start in pending:
            await Crawler(fetcher, limits, emit, progress, robots).run(start)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(len(starts), fetcher.settings.fetch_concurrency)):
            group.create_task(worker())
    return progress
