"""What the web app holds for its lifetime: the open index, the shared HTTP client, the job
table, recent query images, the single-writer lock and the CPU thread limiter.

Writes (adds, crawls) change the searchable copies in memory; they are saved to the index folder
once the server has had no write for ``SAVE_IDLE`` seconds (and at most ``SAVE_LATEST`` seconds
after the first unsaved one ended: a crawl is one write, saved when it ends), so that a command
beside the server (``pictrace search``) loads them instead of rebuilding them from the
catalogue, and a crash loses no time at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from starlette.templating import Jinja2Templates

from pictrace.api.jobs import Jobs
from pictrace.errors import NotFound, PicTraceError
from pictrace.index import Index
from pictrace.ingest.web import Fetcher
from pictrace.settings import Settings
from pictrace.threads import quiet_this_thread, usable_cores
from pictrace.types import Match

T = TypeVar("T")
QUERY_TTL = 30 * 60.0
QUERY_SLOTS = 32
# ... and at most this many bytes of them (the newest is always kept): 32 uploads of the
# 64 MB a request may carry would hold 2 GB for half an hour
QUERY_BYTES = 256 * 2**20
SAVE_IDLE = 2.0  # seconds without a write before the searchable copies are saved
SAVE_LATEST = 60.0  # ... but no later than this after the first write they do not hold
log = logging.getLogger("pictrace.api")


@dataclass(frozen=True)
class KeptQuery:
    """A query image held in memory (never on disk) so its match views can be opened."""

    token: str
    label: str
    data: bytes
    preview: bytes  # small JPEG shown next to the results
    kept_at: float

    name = "your image"  # what the pages call it
    kept_note = (  # when a results page's match links stop working
        f"Match views of this search open for {QUERY_TTL / 60:.0f} minutes (the server keeps "
        f"everyone's latest {QUERY_SLOTS} searches)."
    )

    @property
    def preview_url(self) -> str:
        return f"/queries/{self.token}/preview.jpg"

    def match_url(self, match: Match) -> str:
        return f"/match/{self.token}/{match.id}?{search_said(match)}"


@dataclass(frozen=True)
class IndexedQuery:
    """An image of the collection searched for its copies: nothing is kept for it (its file
    or thumbnail is read again for a match view), so a page that makes a visitor's browser
    open such searches cannot crowd out the visitor's own kept queries."""

    image_id: int
    label: str
    kept_note = ""  # its match views read the image again: they do not expire

    @property
    def name(self) -> str:
        return f"image #{self.image_id}"

    @property
    def preview_url(self) -> str:
        return f"/api/images/{self.image_id}/thumbnail"

    def match_url(self, match: Match) -> str:
        return f"/collection/{self.image_id}/match/{match.id}?{search_said(match)}"


QueryRef = KeptQuery | IndexedQuery  # what a results or match page was searched with


def search_said(match: Match) -> str:
    """What the search said of a match, as a match view's query string (``SearchSaid``)."""
    return f"tier={match.tier}&conf={match.copy_confidence:.4f}"


class RecentQueries:
    """The last few query images (``slots``, ``budget`` bytes), forgotten after ``ttl``
    seconds."""

    def __init__(
        self, slots: int = QUERY_SLOTS, ttl: float = QUERY_TTL, budget: int = QUERY_BYTES
    ) -> None:
        self.slots, self.ttl, self.budget = slots, ttl, budget
        self._items: OrderedDict[str, KeptQuery] = OrderedDict()

    def keep(self, label: str, data: bytes, preview: bytes) -> KeptQuery:
        self._expire()
        query = KeptQuery(secrets.token_urlsafe(12), label, data, preview, time.monotonic())
        self._items[query.token] = query
        while len(self._items) > self.slots or (
            len(self._items) > 1 and sum(len(q.data) for q in self._items.values()) > self.budget
        ):
            self._items.popitem(last=False)
        return query

    def get(self, token: str) -> KeptQuery:
        self._expire()
        if token not in self._items:
            raise NotFound(
                f"this query is no longer kept (the server keeps the latest {self.slots} "
                f"searches, of everyone's, for {self.ttl / 60:.0f} minutes at most); search again"
            )
        return self._items[token]

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.ttl
        for token in [t for t, q in self._items.items() if q.kept_at < cutoff]:
            del self._items[token]


@dataclass
class AppState:
    index: Index
    settings: Settings
    fetcher: Fetcher
    templates: Jinja2Templates
    jobs: Jobs = field(default_factory=Jobs)
    queries: RecentQueries = field(default_factory=RecentQueries)
    writer: anyio.Lock = field(default_factory=anyio.Lock)
    cpu: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(max(2, usable_cores()))
    )

    producers: set[asyncio.Task[None]] = field(default_factory=set)  # downloads feeding jobs
    saver: Saver = field(default_factory=lambda: Saver())

    async def aclose(self) -> None:
        """Stop downloads first (their indexing threads then finish), then the jobs; the
        caller saves what is left unsaved."""
        for task in list(self.producers):
            task.cancel()
        await self.jobs.aclose()
        await self.fetcher.aclose()
        await self.saver.aclose()

    @property
    def uploads(self) -> Path:
        """Where "add to index" uploads keep their original bytes (inside the index folder)."""
        return self.index.uploads

    async def compute(self, fn: Callable[..., T], *args: Any) -> T:
        """CPU work (decode, features, search) on a worker thread, never on the event loop."""
        return await anyio.to_thread.run_sync(partial(_quietly, fn, *args), limiter=self.cpu)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """A catalogue write: one at a time, on a worker thread; the searchable copies are
        saved once writes pause (``Saver``)."""
        try:
            async with self.writer:
                return await anyio.to_thread.run_sync(partial(_quietly, fn, *args))
        finally:
            self.saver.wrote(self._save)

    async def _save(self) -> None:
        async with self.writer:
            try:
                await anyio.to_thread.run_sync(partial(_quietly, self.index.flush))
            except PicTraceError as exc:  # a full disk: the catalogue has every image
                log.error("%s (saved again after the next write)", exc.message)


class Saver:
    """Runs a save once writes pause: ``SAVE_IDLE`` seconds after the last one, or
    ``SAVE_LATEST`` after the first unsaved one when they never pause."""

    def __init__(self, idle: float | None = None, latest: float | None = None) -> None:
        self.idle = SAVE_IDLE if idle is None else idle
        self.latest = SAVE_LATEST if latest is None else latest
        self._first = self._last = 0.0
        self._task: asyncio.Task[None] | None = None
        self._saving = self._closed = False

    def wrote(self, save: Callable[[], Awaitable[None]]) -> None:
        """A write happened (on the event loop): save with ``save`` when writes pause."""
        now = time.monotonic()
        if self._closed:
            return
        if self._task is None or self._task.done():
            self._first = now
            self._task = asyncio.get_running_loop().create_task(self._later(save))
        self._last = now

    async def _later(self, save: Callable[[], Awaitable[None]]) -> None:
        while True:
            while (due := min(self._last + self.idle, self._first + self.latest)) > (
                now := time.monotonic()
            ):
                await asyncio.sleep(due - now)
            self._first = started = time.monotonic()
            self._saving = True
            try:
                await save()
            finally:
                self._saving = False
            if self._closed or self._last < started:  # nothing written since it began
                return

    async def aclose(self) -> None:
        """Drop a save still waiting (shutdown saves everything); wait for one under way."""
        self._closed = True
        if self._task is None or self._task.done():
            return
        if not self._saving:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _quietly(fn: Callable[..., T], *args: Any) -> T:
    """``fn`` on a worker thread that follows PicTrace's thread policy (pictrace.threads)."""
    quiet_this_thread()
    return fn(*args)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.pictrace
    return state


StateDep = Annotated[AppState, Depends(app_state)]
