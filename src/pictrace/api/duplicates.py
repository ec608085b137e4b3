"""Duplicate groups for the API and the pages. Finding them searches every image (~10 ms
each on two cores, so minutes for a large collection): groups found before are answered at
once while nothing has changed; otherwise the search runs as a job, one at a time, that a
request waits for a few seconds before answering with the job to poll instead."""

from __future__ import annotations

from collections.abc import Sequence

from pictrace.api.jobs import Job
from pictrace.api.state import AppState
from pictrace.errors import PicTraceError
from pictrace.search.keeper import apply_policy
from pictrace.types import DuplicateGroup, KeeperRule

API_WAIT = 20.0  # seconds an API request waits for the groups before answering with the job
PAGE_WAIT = 3.0  # the page shows the job's progress sooner


async def groups_or_job(
    state: AppState, policy: Sequence[KeeperRule], wait: float
) -> list[DuplicateGroup] | Job:
    """The groups under ``policy`` if they are known or found within ``wait`` seconds, else
    the job finding them (started here unless one is running). A job that failed raises its
    error to the request that waited for it."""
    known = await state.compute(state.index.known_duplicates, policy)
    if known is not None:
        return known
    job = state.jobs.running("duplicates") or start_duplicates(state)
    if not await state.jobs.wait(job, wait):
        return job
    if job.groups is None:  # failed
        message = job.error[1] if job.error else "finding duplicates failed"
        raise job.failure or PicTraceError(message)
    return apply_policy(job.groups, policy)


def start_duplicates(state: AppState) -> Job:
    async def work(job: Job) -> None:
        job.total = await state.compute(state.index.store.count)
        job.groups = await state.compute(state.index.duplicates, None, job.step)

    return state.jobs.start("duplicates", "the whole collection", work)
