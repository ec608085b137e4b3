"""Chaining and gathering futures without blocking a thread on another."""

import threading
from concurrent.futures import CancelledError, Future

import pytest

from pictrace.futures import gathered


def test_gathered_results_come_in_order_from_the_thread_finishing_the_last():
    first, second = Future[int](), Future[int]()
    together = gathered([first, second])
    second.set_result(2)
    assert not together.done()
    finisher = threading.Thread(target=first.set_result, args=(1,))
    finisher.start()
    finisher.join()
    assert together.result(timeout=5) == [1, 2]


def test_gathered_fails_with_the_first_failure_or_cancellation():
    failing, fine = Future[int](), Future[int]()
    together = gathered([failing, fine])
    failing.set_exception(ValueError("broken"))
    fine.set_result(1)
    with pytest.raises(ValueError, match="broken"):
        together.result(timeout=5)
    cancelled = Future[int]()
    cancelled.cancel()
    with pytest.raises(CancelledError):
        gathered([cancelled]).result(timeout=5)


def test_gathered_of_nothing_is_done():
    assert gathered([]).result(timeout=1) == []


def test_gathered_cannot_be_cancelled_and_ignores_later_failures():
    first, second = Future[int](), Future[int]()
    together = gathered([first, second])
    assert not together.cancel()
    first.set_exception(KeyError("first"))
    second.set_exception(ValueError("second"))
    with pytest.raises(KeyError):
        together.result(timeout=5)
