"""Chaining work to futures without blocking a pool thread on another."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


def then(future: Future[T], fn: Callable[[T], U], pool: Executor | None = None) -> Future[U]:
    """``fn`` of the future's result, run by the thread that completes it (no queueing behind
    other pool tasks, and no pool thread blocked waiting). Should the future be done by the
    time this is called, ``fn`` runs on ``pool`` rather than holding up the caller."""
    out: Future[U] = Future()
    caller = threading.get_ident()

    def settle(done: Future[T]) -> None:
        try:
            out.set_result(fn(done.result()))
        except BaseException as exc:  # handed to whoever waits on ``out``
            out.set_exception(exc)

    def run(done: Future[T]) -> None:
        if pool is not None and threading.get_ident() == caller:
            try:
                pool.submit(settle, done)
                return
            except RuntimeError:  # the pool is shut down: settle here rather than never
                pass
        settle(done)

    future.add_done_callback(run)
    return out


def resolved(value: T) -> Future[T]:
    """A future that already holds ``value``."""
    future: Future[T] = Future()
    future.set_result(value)
    return future
