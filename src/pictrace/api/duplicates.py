"""Duplicate groups for the API and the pages. Finding them searches every image not searched
before (~10 ms each on two cores, so minutes for a large new collection): groups found before
are answered at once while nothing has changed; otherwise the search runs as a job, one at a
time, that a request waits for up to a deadline before answering with the job to poll."""

from __future__ import annotations

import time
from collections.abc import Sequence

from pictrace.api.jobs import Job
from pictrace.api.state import AppState
from pictrace.search.keeper import apply_policy
from pictrace.types import DuplicateGroup, KeeperRule

API_WAIT = 20.0  # seconds an API request waits for the groups before answering with the job
PAGE_WAIT = 3.0  # the page shows the job's progress sooner
RETRY_AFTER = 30.0  # seconds a failed search is reported again instead of searching again


async def groups_or_job(
    state: AppState, policy: Sequence[KeeperRule], wait: float
) -> list[DuplicateGroup] | Job:
    """The current groups under ``policy`` if they are known or found within ``wait``
    seconds, else the job finding them. A job that started before the catalogue last changed
    is waited for, then followed by one that searches the images added meanwhile. A failed
    search raises its error (again, for RETRY_AFTER seconds, to anyone asking)."""
    deadline = time.monotonic() + wait
    while True:
        known = await state.compute(state.index.known_duplicates, policy)
        if known is not None:
            return known
        basis = await state.compute(state.index.duplicates_basis)
        job = _current_job(state, basis)
        if not await state.jobs.wait(job, deadline - time.monotonic()):
            return job
        if job.failure is not None:
            raise job.failure
        if job.groups is not None and (basis is None or job.basis == basis):
            return apply_policy(job.groups, policy)  # a store that cannot tell: the latest
        if time.monotonic() >= deadline:  # changed while it searched, and no time is left
            return _current_job(state, basis)


def _current_job(state: AppState, basis: object) -> Job:
    """The running duplicates job, a recent failed one with the same basis, or a new one."""
    running = state.jobs.running("duplicates")
    if running is not None:
        return running
    latest = state.jobs.latest("duplicates")
    if (
        latest is not None
        and latest.failure is not None
        and latest.basis == basis
        and time.time() - (latest.finished or 0.0) < RETRY_AFTER
    ):
        return latest
    return _start(state, basis)


def _start(state: AppState, basis: object) -> Job:
    async def work(job: Job) -> None:
        groups = await state.compute(state.index.duplicates, None, job.step)
        for older in state.jobs.of_kind("duplicates"):
            older.groups = None  # only the latest keeps its groups (the index has them too)
        job.groups = groups
        job.found = {"groups": len(groups), "images": sum(len(g.members) for g in groups)}

    job = state.jobs.start("duplicates", "the whole collection", work, stoppable=True)
    job.basis = basis  # taken before the search starts: an add meanwhile makes it differ
    return job
