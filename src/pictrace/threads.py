"""Thread policy: every native library computes on the thread that calls it, without spinning.

PicTrace gets its parallelism from its own two-level plan (feature extractors and geometric
verification on a small pool, onnxruntime's intra-op threads for the CNN) and from concurrent
requests. Native libraries that bring their own thread pools fight that plan on a small machine:
after each call their idle workers spin-wait for more work, burning the cores the next stage
needs. Measured on the 2-core dev machine over 138 queries: 114 ms CPU per query for 59 ms wall
before, 59 ms CPU for 41 ms wall with this policy (BENCHMARKS.md, "Speed").

* OpenBLAS (numpy's, scipy's, OpenCV's and faiss's copies) and faiss's OpenMP: one thread.
  (faiss's OpenMP workers spinning next to onnxruntime's threads made a 1-query search over one
  million 64-bit codes many times slower, in an early measurement whose script was not kept.)
  OpenMP keeps that setting per thread: a thread started later takes OMP_NUM_THREADS (set here
  when faiss is not loaded yet; a user's own setting wins) or else one per core, so the threads
  PicTrace starts or runs work on (its pool, the add's writer, the HTTP API's workers) also call
  ``quiet_this_thread``. (A search's votes on a pool thread used two OpenMP threads: 0.96x the
  search time with one.)
* OpenCV's own pool keeps its threads (SIFT uses both cores) but they sleep when idle; its
  settings are read when the pool starts, so ``quiet_native_threads`` must run before the first
  OpenCV call (``pictrace`` runs it on import). (Keeping OpenCV on one thread while adding,
  when every core is busy with an image of its own, measured within noise: 1.01x the time.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from pictrace.errors import IndexClosed

T = TypeVar("T")

_OPENCV_WAIT = (
    "OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER",
    "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN",
)


@cache
def quiet_native_threads() -> bool:
    """Apply the policy once per process (a user's own environment settings win). True when
    faiss's OpenMP is PicTrace's to set (the user did not set OMP_NUM_THREADS)."""
    user_blas = "OPENBLAS_NUM_THREADS" in os.environ
    ours = "OMP_NUM_THREADS" not in os.environ
    for name in _OPENCV_WAIT:
        os.environ.setdefault(name, "0")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if ours and "faiss" not in sys.modules:
        os.environ["OMP_NUM_THREADS"] = "1"  # read when faiss loads, for every later thread
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # copies loaded from now on
    if ours and "faiss" in sys.modules:  # else it reads OMP_NUM_THREADS when it loads
        import faiss

        faiss.omp_set_num_threads(1)  # this thread's own setting
    if not user_blas:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")  # copies loaded already
    return ours


@contextmanager
def all_cores() -> Iterator[None]:
    """faiss's OpenMP on every core this process may use, for the calling thread, while
    nothing of its own waits beside it for the cores (a space rebuilt as an index opens or
    closes: an HNSW space of 10,000 CNN vectors built in 5.3-6.9 s on two threads against
    10.7-11.5 s on one; a search's second look, once its CNN is done), then on one again; a
    user's own OMP_NUM_THREADS stands."""
    if not quiet_native_threads():
        yield
        return
    import faiss

    faiss.omp_set_num_threads(usable_cores())
    try:
        yield
    finally:
        faiss.omp_set_num_threads(1)


@cache
def usable_cores() -> int:
    """The cores this process may run on (its affinity, which a container or ``taskset``
    may limit below the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


def quiet_this_thread() -> None:
    """faiss's OpenMP on one thread for the calling thread (a pool's initializer), unless
    the user chose the thread count."""
    if quiet_native_threads():
        import faiss

        faiss.omp_set_num_threads(1)


class Pool(ThreadPoolExecutor):
    """An index's pool: its threads quiet (``quiet_this_thread``), and work asked of it once
    the index is closed refused as ``IndexClosed`` (not the executor's RuntimeError)."""

    def __init__(self, workers: int, name: str) -> None:
        super().__init__(workers, name, initializer=quiet_this_thread)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        try:
            return super().submit(fn, *args, **kwargs)
        except RuntimeError as exc:  # shut down: the index was closed
            raise IndexClosed("the index is closed: open it again to use it") from exc
