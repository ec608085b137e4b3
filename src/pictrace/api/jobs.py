"""Long jobs (crawls, bulk adds, finding duplicates) run as tasks on the server's event loop;
pages and API clients poll their live progress by id."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pictrace.errors import NotFound, PicTraceError, Stopped
from pictrace.ingest.crawl import CrawlProgress
from pictrace.types import AddReport, DuplicateGroup

State = Literal["queued", "running", "done", "failed"]
KEEP_FINISHED = 100
STOP_WAIT = 30.0  # seconds a shutdown waits for stoppable jobs (one step: milliseconds)
log = logging.getLogger("pictrace.api")


@dataclass
class Job:
    id: str
    kind: str  # "crawl", "add" or "duplicates"
    target: str  # what the job works on, for people
    state: State = "queued"
    done: int = 0  # items through the indexer
    total: int = 0  # items known so far (grows while a crawl discovers images)
    crawl: CrawlProgress = field(default_factory=CrawlProgress)
    report: AddReport | None = None
    # a duplicates job: what it searched (Index.duplicates_basis), its groups (kept by the
    # latest finished one only) and how many it found
    basis: object = None
    groups: list[DuplicateGroup] | None = None
    found: dict[str, int] | None = None
    error: tuple[str, str] | None = None  # (code, message)
    failure: BaseException | None = None  # the error itself, raised to requests waiting on it
    stoppable: bool = False  # ends by itself soon after ``stopping`` is set (see ``step``)
    stopping: bool = False  # the server is shutting down
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def progress(self, done: int, total: int) -> None:
        """Called from the indexing thread after each batch."""
        self.done = done
        self.total = max(total, done, self.crawl.images_found)

    def fail(self, failure: BaseException, code: str, message: str) -> None:
        """Failed: the error as shown (code, message) and as raised to waiting requests."""
        self.state, self.error, self.failure = "failed", (code, message), failure

    def step(self, done: int, total: int) -> None:
        """Progress of a job that may stop between any two steps (a duplicates search,
        reported after each searched image): raises Stopped once the server is closing, so
        its worker thread ends within a step instead of holding the shutdown."""
        if self.stopping:
            raise Stopped("the server is shutting down; this job was stopped")
        self.progress(done, total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "state": self.state,
            "done": self.done,
            "total": max(self.total, self.crawl.images_found),
            "crawl": asdict(self.crawl) if self.kind == "crawl" else None,
            "report": self.report.as_dict() if self.report else None,
            "duplicates": {**self.found, "groups_url": "/api/duplicates"} if self.found else None,
            "error": {"code": self.error[0], "message": self.error[1]} if self.error else None,
            "started": self.started,
            "finished": self.finished,
        }


Work = Callable[[Job], Awaitable[AddReport | None]]


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}  # by job id, while running

    def start(self, kind: str, target: str, work: Work, stoppable: bool = False) -> Job:
        """Run ``work`` as a job; a ``stoppable`` one calls ``Job.step`` between short steps."""
        job = Job(secrets.token_hex(8), kind, target, stoppable=stoppable)
        self._jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job, work))
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))
        self._forget_old()
        return job

    def running(self, kind: str) -> Job | None:
        """The unfinished job of ``kind``, if there is one."""
        return next((j for j in self._jobs.values() if j.kind == kind and j.finished is None), None)

    def latest(self, kind: str) -> Job | None:
        """The job of ``kind`` started last, if any is remembered."""
        return max(self.of_kind(kind), key=lambda j: j.started, default=None)

    def of_kind(self, kind: str) -> list[Job]:
        return [j for j in self._jobs.values() if j.kind == kind]

    async def wait(self, job: Job, seconds: float) -> bool:
        """Wait up to ``seconds`` for ``job`` to finish (it goes on either way); whether it has."""
        task = self._tasks.get(job.id)
        if task is not None and seconds > 0:
            await asyncio.wait({task}, timeout=seconds)
        return job.finished is not None

    def get(self, job_id: str) -> Job:
        if job_id not in self._jobs:
            raise NotFound(f"no job {job_id!r} (finished jobs are forgotten after a while)")
        return self._jobs[job_id]

    async def aclose(self) -> None:
        """Stop every job: stoppable ones end at their next step (their worker threads must
        not outlive the index they work on), the others are cancelled."""
        for job in self._jobs.values():
            job.stopping = True
        stoppable = [t for i, t in self._tasks.items() if self._jobs[i].stoppable]
        if stoppable:
            await asyncio.wait(stoppable, timeout=STOP_WAIT)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, job: Job, work: Work) -> None:
        job.state = "running"
        try:
            job.report = await work(job)
        except PicTraceError as exc:
            job.fail(exc, exc.code, exc.message)
        except asyncio.CancelledError:  # the server is shutting down
            stopped = Stopped("the server shut down before this job finished")
            job.fail(stopped, stopped.code, stopped.message)
            raise
        except Exception as exc:  # a bug: keep the server up, say so, log the traceback
            log.exception("job %s failed", job.id)
            job.fail(
                exc, "internal_error", "an unexpected error happened; the server log has details"
            )
        else:
            job.state = "done"
        finally:
            job.finished = time.time()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished is not None]
        for job in sorted(finished, key=lambda j: j.started)[:-KEEP_FINISHED]:
            del self._jobs[job.id]
