"""Pages: search (upload, drop or URL), pick an image of a page, results, match view, compare."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from pictrace.api.inputs import (
    CompareFields,
    SearchFields,
    Upload,
    first,
    load_image,
    read_body,
    validate,
)
from pictrace.api.matchview import compare_view, hit_source, match_view, metric_rows
from pictrace.api.origin import same_origin
from pictrace.api.search import page_or_image, preview, search_source
from pictrace.api.state import AppState, IndexedQuery, QueryRef, StateDep
from pictrace.errors import InputError
from pictrace.types import Source, Tier

router = APIRouter(include_in_schema=False, dependencies=[Depends(same_origin)])


class SearchSaid(BaseModel):
    """What the search that listed a match said of it (the results page's link carries it):
    the match view compares the pair more closely, and says so when it finds otherwise."""

    tier: Tier | None = None
    conf: float | None = Field(None, ge=0.0, le=1.0)  # its copy confidence


Found = Annotated[SearchSaid, Depends()]


def render(
    state: AppState, request: Request, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    return state.templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/", response_class=HTMLResponse)
async def home(state: StateDep, request: Request) -> HTMLResponse:
    images = await state.compute(state.index.count)
    return render(state, request, "search.html", images=images, url="", k=10)


@router.post("/search", response_class=HTMLResponse)
async def search(state: StateDep, request: Request) -> HTMLResponse:
    body = await read_body(request, state.settings.max_bytes)
    fields = validate(SearchFields, body.fields)
    upload = first(body.files, "file")
    if upload is None and not fields.url:
        raise InputError("Choose a picture to upload, or paste the address (URL) of one.")
    if upload is None and fields.url:
        found = await page_or_image(state, fields.url)
        if not isinstance(found, Source):
            return render(state, request, "pick.html", page=found, k=fields.k)
        source = found
    else:
        source = await load_image(state.fetcher, upload, fields.url, "file")  # not both
    result = await search_source(state, source, fields.k, fields.min_confidence)
    kept = state.queries.keep(
        source.uri, source.data, await state.compute(preview, source, state.settings)
    )
    return render(state, request, "results.html", result=result, query=kept)


@router.get("/collection/{image_id}/search", response_class=HTMLResponse)
async def search_indexed(
    state: StateDep, request: Request, image_id: int, k: int = Query(10, ge=1, le=100)
) -> HTMLResponse:
    """The copies and look-alikes of an image in the collection, searched with its original
    file when it is still readable (else its stored thumbnail); the image itself is left out
    of its results. Nothing is kept: its match views read the image again."""
    record = await state.compute(state.index.get, image_id)
    source, _ = await state.compute(hit_source, state.index, record)
    result = await search_source(state, source, k + 1, 0.0)
    others = tuple(m for m in result.matches if m.id != image_id)[:k]
    query = IndexedQuery(image_id, record.source)
    return render(
        state, request, "results.html", result=replace(result, matches=others), query=query
    )


@router.get("/collection/{query_id}/match/{image_id}", response_class=HTMLResponse)
async def match_indexed(
    state: StateDep, request: Request, query_id: int, image_id: int, found: Found
) -> HTMLResponse:
    """The match view of a hit of ``search_indexed``."""
    record = await state.compute(state.index.get, query_id)
    source, _ = await state.compute(hit_source, state.index, record)
    query = IndexedQuery(query_id, record.source)
    return await _match_page(state, request, query, source, image_id, found)


@router.get("/queries/{token}/preview.jpg")
async def query_preview(state: StateDep, token: str) -> Response:
    kept = state.queries.get(token)
    return Response(
        kept.preview, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=1800"}
    )


@router.get("/match/{token}/{image_id}", response_class=HTMLResponse)
async def match(
    state: StateDep, request: Request, token: str, image_id: int, found: Found
) -> HTMLResponse:
    kept = state.queries.get(token)
    source = Source(kept.label, kept.data)
    return await _match_page(state, request, kept, source, image_id, found)


async def _match_page(
    state: AppState,
    request: Request,
    query: QueryRef,
    source: Source,
    image_id: int,
    found: SearchSaid,
) -> HTMLResponse:
    view = await state.compute(match_view, state.index, source, image_id)
    return render(
        state,
        request,
        "match.html",
        query=query,
        view=view,
        metrics=metric_rows(view.comparison),
        record=view.record,
        found=found if found.tier is not None and found.conf is not None else None,
    )


@router.get("/compare", response_class=HTMLResponse)
async def compare_form(state: StateDep, request: Request) -> HTMLResponse:
    return render(state, request, "compare.html", view=None)


@router.post("/compare", response_class=HTMLResponse)
async def compare(state: StateDep, request: Request) -> HTMLResponse:
    body = await read_body(request, state.settings.max_bytes)
    renamed = {{"a_url": "a", "b_url": "b"}.get(k, k): v for k, v in body.fields.items()}
    fields = validate(CompareFields, renamed)
    for side, url in (("a", fields.a), ("b", fields.b)):
        if first(body.files, side) is None and not url:
            raise InputError(f"Choose picture {side.upper()}: upload one, or paste its URL.")
    a = await load_image(state.fetcher, _upload(body.files, "a"), fields.a, "a")
    b = await load_image(state.fetcher, _upload(body.files, "b"), fields.b, "b")
    view = await state.compute(compare_view, state.index, a, b)
    previews = [await state.compute(preview, s, state.settings) for s in (a, b)]
    return render(
        state,
        request,
        "compare.html",
        view=view,
        a=a.uri,
        b=b.uri,
        previews=previews,
        metrics=metric_rows(view.comparison),
    )


def _upload(files: dict[str, list[Upload]], key: str) -> Upload | None:
    found = first(files, key)
    if found is not None and not found.data:
        raise InputError(f"{found.name}: zero-byte file")
    return found
