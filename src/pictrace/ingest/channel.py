"""Hand-over from async downloads (an event loop) to the synchronous indexer (a thread).

Producers ``await channel.put(item)`` on the loop; a bounded queue gives back-pressure, so
downloads run ahead of decoding by at most ``maxsize`` items. The consumer thread iterates
``channel.drain(call)``, where ``call`` runs a coroutine function on the loop and waits for it:
``anyio.from_thread.run`` inside a worker thread of the loop, ``BlockingPortal.call`` elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
LoopCall = Callable[..., Any]  # (coroutine function) -> its result, run on the loop


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


class Channel(Generic[T]):
    def __init__(self, maxsize: int = 32) -> None:
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self._end: _End | None = None
        self._ready = asyncio.Event()

    async def put(self, item: T) -> None:
        await self._queue.put(item)
        self._ready.set()

    def close(self, error: BaseException | None = None) -> None:
        """No more items (never blocks); the consumer raises ``error`` if one is given."""
        self._end = _End(error)
        self._ready.set()

    async def _next(self) -> T | _End:
        while True:
            if not self._queue.empty():
                return self._queue.get_nowait()
            if self._end is not None:
                return self._end
            self._ready.clear()
            await self._ready.wait()

    async def batch(self, most: int) -> list[T] | None:
        """The items there are, at most ``most``, once there is one; None at the end (or its
        error raised)."""
        first = await self._next()
        if isinstance(first, _End):
            if first.error is not None:
                raise first.error
            return None
        items = [first]
        while len(items) < most and not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def drain(self, call: LoopCall) -> Iterator[T]:
        """Items in order, then the end (or its error), in the consumer's thread."""
        while True:
            item = call(self._next)
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
