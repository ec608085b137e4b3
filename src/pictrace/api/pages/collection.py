"""Pages: browse the collection, add (upload / URLs / crawl) as jobs with live progress, remove,
and duplicate groups with a suggested keeper under a chosen policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from pictrace.api.collection import (
    KEEPER_RULES,
)
from pictrace.api.crawl import limits_of, start_add, start_crawl
from pictrace.api.duplicates import PAGE_WAIT, groups_or_job
from pictrace.api.inputs import AddFields, CrawlFields, read_body, validate
from pictrace.api.jobs import Job
from pictrace.api.origin import same_origin
from pictrace.api.pages.search import render
from pictrace.api.state import StateDep
from pictrace.errors import InputError
from pictrace.search.keeper import KEEPER_LABELS, checked_policy, reason_label

router = APIRouter(include_in_schema=False, dependencies=[Depends(same_origin)])
PER_PAGE = 48


@router.get("/collection", response_class=HTMLResponse)
async def collection(
    state: StateDep, request: Request, page: int = Query(1, ge=1, le=10**9)
) -> HTMLResponse:
    total = await state.compute(state.index.count)
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    records = await state.compute(state.index.list, (page - 1) * PER_PAGE, PER_PAGE)
    return render(
        state,
        request,
        "collection.html",
        records=records,
        total=total,
        page=page,
        pages=pages,
        depth=state.settings.crawl_depth,
    )


@router.post("/collection/add")
async def add(state: StateDep, request: Request) -> RedirectResponse:
    body = await read_body(request, state.settings.max_bytes)
    text = body.fields.get("urls", "")
    listed = text.split() if isinstance(text, str) else text
    urls = validate(AddFields, {"urls": listed}).urls if listed else []
    uploads = [(u.name, u.data) for u in body.files.get("files", [])]
    if not uploads and not urls:
        raise InputError("choose image files or paste image or page URLs to add")
    job = start_add(state, uploads, urls)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/collection/crawl")
async def crawl(state: StateDep, request: Request) -> RedirectResponse:
    body = await read_body(request, state.settings.max_bytes)
    fields = validate(CrawlFields, body.fields)
    job = start_crawl(state, fields.url, limits_of(state, fields))
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/collection/{image_id}/delete")
async def delete(
    state: StateDep, image_id: int, back: str = Query("/collection")
) -> RedirectResponse:
    await state.compute(state.index.get, image_id)
    await state.write(state.index.remove, image_id)
    local = back.startswith("/") and not back.startswith(("//", "/\\"))
    target = back if local else "/collection"
    return RedirectResponse(target, status_code=303)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(state: StateDep, request: Request, job_id: str) -> HTMLResponse:
    return render(state, request, "job.html", job=state.jobs.get(job_id).as_dict())


@router.get("/duplicates", response_class=HTMLResponse)
async def duplicates(
    state: StateDep, request: Request, keeper: Annotated[list[str] | None, Query()] = None
) -> HTMLResponse:
    # the form's last select may be blank
    policy = list(checked_policy(keeper or [], state.settings.keeper_policy))
    found = await groups_or_job(state, policy, PAGE_WAIT)
    searching = found if isinstance(found, Job) else None
    return render(
        state,
        request,
        "duplicates.html",
        groups=[] if searching else found,
        job=searching.as_dict() if searching else None,
        policy=policy,
        rules=KEEPER_RULES,
        labels=KEEPER_LABELS,
        reason_label=reason_label,
    )
