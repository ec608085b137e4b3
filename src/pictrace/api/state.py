"""What the web app holds for its lifetime: the open index, the shared HTTP client, the job
table, recent query images, the single-writer lock and the CPU thread limiter."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from starlette.templating import Jinja2Templates

from pictrace.api.jobs import Jobs
from pictrace.errors import NotFound
from pictrace.index import Index
from pictrace.ingest.web import Fetcher
from pictrace.settings import Settings
from pictrace.threads import quiet_this_thread

T = TypeVar("T")
QUERY_TTL = 30 * 60.0
QUERY_SLOTS = 32


@dataclass(frozen=True)
class KeptQuery:
    """A query image held in memory (never on disk) so its match views can be opened."""

    token: str
    label: str
    data: bytes
    preview: bytes  # small JPEG shown next to the results
    kept_at: float


class RecentQueries:
    """The last few query images, forgotten after ``QUERY_TTL`` seconds."""

    def __init__(self, slots: int = QUERY_SLOTS, ttl: float = QUERY_TTL) -> None:
        self.slots, self.ttl = slots, ttl
        self._items: OrderedDict[str, KeptQuery] = OrderedDict()

    def keep(self, label: str, data: bytes, preview: bytes) -> KeptQuery:
        self._expire()
        query = KeptQuery(secrets.token_urlsafe(12), label, data, preview, time.monotonic())
        self._items[query.token] = query
        while len(self._items) > self.slots:
            self._items.popitem(last=False)
        return query

    def get(self, token: str) -> KeptQuery:
        self._expire()
        if token not in self._items:
            raise NotFound(
                "this query is no longer kept (queries are forgotten after 30 "
                "minutes); search again"
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
        default_factory=lambda: anyio.CapacityLimiter(max(2, os.cpu_count() or 2))
    )

    producers: set[asyncio.Task[None]] = field(default_factory=set)  # downloads feeding jobs

    async def aclose(self) -> None:
        """Stop downloads first (their indexing threads then finish), then the jobs."""
        for task in list(self.producers):
            task.cancel()
        await self.jobs.aclose()
        await self.fetcher.aclose()

    @property
    def uploads(self) -> Path:
        """Where "add to index" uploads keep their original bytes (inside the index folder)."""
        return self.index.uploads

    async def compute(self, fn: Callable[..., T], *args: Any) -> T:
        """CPU work (decode, features, search) on a worker thread, never on the event loop."""
        return await anyio.to_thread.run_sync(partial(_quietly, fn, *args), limiter=self.cpu)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """A catalogue write: one at a time, on a worker thread."""
        async with self.writer:
            return await anyio.to_thread.run_sync(partial(_quietly, fn, *args))


def _quietly(fn: Callable[..., T], *args: Any) -> T:
    """``fn`` on a worker thread that follows PicTrace's thread policy (pictrace.threads)."""
    quiet_this_thread()
    return fn(*args)


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.pictrace
    return state


StateDep = Annotated[AppState, Depends(app_state)]
