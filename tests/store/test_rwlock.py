"""The store's readers-writer lock, with real threads."""

import threading
import time

from pictrace.store.rwlock import ReadWriteLock

WAIT = 5.0  # seconds: only reached when the lock is broken


def _in_thread(fn) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def test_readers_share_the_lock():
    lock = ReadWriteLock()
    inside = threading.Barrier(2, timeout=WAIT)

    def read():
        with lock.reading():
            inside.wait()  # both readers are inside at once, or this times out

    threads = [_in_thread(read) for _ in range(2)]
    for thread in threads:
        thread.join(WAIT)
    assert not inside.broken and not any(t.is_alive() for t in threads)


def test_a_writer_waits_for_readers_and_then_has_the_lock_alone():
    lock = ReadWriteLock()
    events: list[str] = []
    reading, release = threading.Event(), threading.Event()

    def read():
        with lock.reading():
            reading.set()
            release.wait(WAIT)
            events.append("read done")

    def write():
        with lock.writing():
            events.append("write")

    reader = _in_thread(read)
    assert reading.wait(WAIT)
    writer = _in_thread(write)
    writer.join(0.2)
    assert writer.is_alive() and events == []  # held back by the reader
    release.set()
    for thread in (reader, writer):
        thread.join(WAIT)
    assert events == ["read done", "write"]


def test_a_waiting_writer_goes_before_new_readers():
    lock = ReadWriteLock()
    events: list[str] = []
    reading, release = threading.Event(), threading.Event()

    def first_reader():
        with lock.reading():
            reading.set()
            release.wait(WAIT)

    def writer():
        with lock.writing():
            events.append("write")

    def late_reader():
        with lock.reading():
            events.append("late read")

    threads = [_in_thread(first_reader)]
    assert reading.wait(WAIT)
    threads.append(_in_thread(writer))
    deadline = time.monotonic() + WAIT
    while lock._writers_waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.005)  # until the writer is queued
    threads.append(_in_thread(late_reader))
    threads[-1].join(0.1)
    assert events == []  # the late reader queues behind the waiting writer
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert events == ["write", "late read"]


def test_an_error_inside_releases_the_lock():
    lock = ReadWriteLock()
    for enter in (lock.reading, lock.writing):
        try:
            with enter():
                raise ValueError("boom")
        except ValueError:
            pass
    writer = _in_thread(lambda: lock.writing().__enter__())  # the test fails, not hangs
    writer.join(WAIT)
    assert not writer.is_alive()  # neither a reader count nor the writer flag was left behind
