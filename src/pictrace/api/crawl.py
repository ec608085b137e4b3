"""Downloads that feed the index: crawls and URL lists, as background jobs or awaited inline.

Downloads run on the event loop with the shared Fetcher and hand each Source over a bounded
Channel to ``Index.add_sources``, which decodes and extracts on a worker thread while holding
the write lock; the job's counters move as batches land.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from pictrace.api.collection import add_uploads
from pictrace.api.errors import ERROR_RESPONSES
from pictrace.api.inputs import CrawlFields
from pictrace.api.jobs import Job
from pictrace.api.origin import same_origin
from pictrace.api.state import AppState, StateDep
from pictrace.errors import FetchError, IndexError_
from pictrace.ingest.channel import Channel
from pictrace.ingest.crawl import CrawlLimits, CrawlProgress, Emit, crawl, crawl_many
from pictrace.tally import stored_before
from pictrace.types import AddFailure, AddReport, Source

router = APIRouter(
    prefix="/api",
    tags=["jobs"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(same_origin)],
)
Produce = Callable[[Emit], Awaitable[Any]]
Progress = Callable[[int, int], None]


async def index_stream(
    state: AppState, produce: Produce, progress: Progress | None = None
) -> AddReport:
    """Run ``produce`` (downloads) and index what it emits, as it arrives: each batch that
    has arrived is stored in a write of its own, so other writes (an upload, a removal) go
    on between them instead of waiting for the slowest download."""
    channel: Channel[Source | AddFailure] = Channel(2 * state.settings.fetch_concurrency)

    async def producer() -> None:
        try:
            await produce(channel.put)
        except asyncio.CancelledError:
            channel.close(FetchError("the downloads were cancelled (server shutting down)"))
            raise
        except Exception as exc:
            channel.close(exc)
            return
        channel.close()

    task = asyncio.create_task(producer())
    state.producers.add(task)
    task.add_done_callback(state.producers.discard)
    report, stored = AddReport(), 0
    try:
        while (batch := await channel.batch(state.settings.batch_size)) is not None:
            try:
                part = await state.write(
                    state.index.add_sources, batch, len(batch), _offset(progress, stored)
                )
            except IndexError_ as exc:  # a full disk, say: with what earlier batches stored
                if not report.added:
                    raise
                raise stored_before(exc, len(report.added)) from exc
            report, stored = report.merged(part), stored + len(batch)
        return report
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _offset(progress: Progress | None, before: int) -> Progress | None:
    """``progress`` of one batch counted after the ``before`` items of the earlier ones."""
    if progress is None:
        return None
    return lambda done, total: progress(before + done, before + total)


async def add_urls(
    state: AppState,
    urls: Sequence[str],
    limits: CrawlLimits,
    progress: CrawlProgress | None = None,
    on_batch: Progress | None = None,
) -> AddReport:
    """Image URLs are added; page URLs add the images they show."""
    return await index_stream(
        state, lambda emit: crawl_many(state.fetcher, urls, limits, emit, progress), on_batch
    )


def start_crawl(state: AppState, url: str, limits: CrawlLimits) -> Job:
    """A crawl as a job; a start page the guard refuses without a lookup (a private
    address, a malformed host) is refused at once (BlockedURL, BadURL), as a search is."""
    state.fetcher.guard.check_url(url)

    async def work(job: Job) -> AddReport:
        report = await index_stream(
            state, lambda emit: crawl(state.fetcher, url, limits, emit, job.crawl), job.progress
        )
        job.crawl.failed = len(report.failed)  # with the downloads that did not decode
        return report

    return state.jobs.start("crawl", url, work)


def start_add(state: AppState, uploads: list[tuple[str, bytes]], urls: list[str]) -> Job:
    """A bulk add (files and URLs) as a job, so its page can show progress."""
    target = ", ".join([name for name, _ in uploads[:3]] + urls[:3])
    extra = len(uploads) + len(urls) - min(3, len(uploads)) - min(3, len(urls))
    target += f" and {extra} more" if extra > 0 else ""

    async def work(job: Job) -> AddReport:
        whole = job.total = len(uploads) + len(urls)  # the uploads' part never shows it done
        report = AddReport()
        if uploads:
            report = await state.write(
                add_uploads,
                state.index,
                state.uploads,
                uploads,
                lambda done, total: job.progress(done, max(total, whole)),
            )
        if urls:
            base = job.done
            limits = CrawlLimits(0, 1, state.settings.crawl_max_images)
            more = await add_urls(
                state,
                urls,
                limits,
                job.crawl,
                lambda done, total: job.progress(base + done, max(base + total, whole)),
            )
            report = report.merged(more)
        return report

    return state.jobs.start("add", target, work)


def limits_of(state: AppState, fields: CrawlFields) -> CrawlLimits:
    base = CrawlLimits.from_settings(state.settings, fields.depth)
    return CrawlLimits(
        base.depth, fields.max_pages or base.max_pages, fields.max_images or base.max_images
    )


@router.post(
    "/crawl",
    status_code=202,
    summary="Crawl a page and add its images (a job)",
    description="Fetches the page, its images (img/srcset, picture, og:image, linked "
    "image files) and, up to `depth` hops, same-site pages it links to, "
    "respecting robots.txt. Answers a job id to poll.",
)
async def start_crawl_job(state: StateDep, fields: CrawlFields) -> JSONResponse:
    job = start_crawl(state, fields.url, limits_of(state, fields))
    return JSONResponse(
        {"job": job.id, "status": f"/api/jobs/{job.id}", "state": job.state},
        status_code=202,
        headers={"Location": f"/api/jobs/{job.id}"},
    )


@router.get(
    "/jobs/{job_id}",
    summary="Progress and result of a job: a crawl, a bulk add or a search for duplicates",
)
async def job_status(state: StateDep, job_id: str) -> dict[str, Any]:
    return state.jobs.get(job_id).as_dict()
