"""Chaining work to futures without blocking a pool thread on another."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import TypeVar

from pictrace.errors import IndexClosed

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
            except (RuntimeError, IndexClosed):  # the pool is shut down: settle here, not never
                pass
        settle(done)

    future.add_done_callback(run)
    return out


def gathered(futures: Sequence[Future[T]]) -> Future[list[T]]:
    """A future of all the futures' results (in their order), completed by the thread that
    completes the last of them, or failed by the first failure (it cannot be cancelled)."""
    out: Future[list[T]] = Future()
    out.set_running_or_notify_cancel()
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(done: Future[T]) -> None:
        try:
            done.result()
        except BaseException as exc:  # a failure or a cancellation: handed to the waiter
            with lock:
                first, left[0] = left[0] > 0, 0
            if first:
                out.set_exception(exc)
            return
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            out.set_result([f.result() for f in futures])

    if not futures:
        out.set_result([])
    for future in futures:
        future.add_done_callback(one_done)
    return out


def resolved(value: T) -> Future[T]:
    """A future that already holds ``value``."""
    future: Future[T] = Future()
    future.set_result(value)
    return future
