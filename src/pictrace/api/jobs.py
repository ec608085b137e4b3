"""Long jobs (crawls, bulk adds) run as tasks on the server's event loop; pages and API clients
poll their live progress by id."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pictrace.errors import NotFound, PicTraceError
from pictrace.ingest.crawl import CrawlProgress
from pictrace.types import AddReport

State = Literal["queued", "running", "done", "failed"]
KEEP_FINISHED = 100
log = logging.getLogger("pictrace.api")


@dataclass
class Job:
    id: str
    kind: str  # "crawl" or "add"
    target: str  # what the job works on, for people
    state: State = "queued"
    done: int = 0  # items through the indexer
    total: int = 0  # items known so far (grows while a crawl discovers images)
    crawl: CrawlProgress = field(default_factory=CrawlProgress)
    report: AddReport | None = None
    error: tuple[str, str] | None = None  # (code, message)
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def progress(self, done: int, total: int) -> None:
        """Called from the indexing thread after each batch."""
        self.done = done
        self.total = max(total, done, self.crawl.images_found)

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
            "error": {"code": self.error[0], "message": self.error[1]} if self.error else None,
            "started": self.started,
            "finished": self.finished,
        }


Work = Callable[[Job], Awaitable[AddReport]]


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, kind: str, target: str, work: Work) -> Job:
        job = Job(secrets.token_hex(8), kind, target)
        self._jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._forget_old()
        return job

    def get(self, job_id: str) -> Job:
        if job_id not in self._jobs:
            raise NotFound(f"no job {job_id!r} (finished jobs are forgotten after a while)")
        return self._jobs[job_id]

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, job: Job, work: Work) -> None:
        job.state = "running"
        try:
            job.report = await work(job)
        except PicTraceError as exc:
            job.state, job.error = "failed", (exc.code, exc.message)
        except Exception as exc:  # a bug: keep the server up, say so, log the traceback
            log.exception("job %s failed", job.id)
            job.state, job.error = "failed", ("internal_error", f"unexpected error: {exc!r}")
        else:
            job.state = "done"
        finally:
            job.finished = time.time()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished is not None]
        for job in sorted(finished, key=lambda j: j.started)[:-KEEP_FINISHED]:
            del self._jobs[job.id]
