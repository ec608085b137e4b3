"""Search, compare and page-inspection endpoints (JSON), plus the helpers the pages share."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from pictrace.api.errors import ERROR_RESPONSES
from pictrace.api.inputs import (
    URL_PATTERN,
    CompareFields,
    SearchFields,
    first,
    load_image,
    read_body,
    validate,
)
from pictrace.api.openapi import body_doc
from pictrace.api.origin import same_origin
from pictrace.api.state import AppState, StateDep
from pictrace.decode import decode_pixels
from pictrace.errors import NotAnImage, PicTraceError
from pictrace.features.thumbnail import make_thumbnail
from pictrace.ingest.html import extract
from pictrace.ingest.sniff import describe
from pictrace.settings import Settings
from pictrace.types import Comparison, SearchResult, Source

router = APIRouter(
    prefix="/api",
    tags=["search"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(same_origin)],
)


async def search_source(
    state: AppState, source: Source, k: int, min_confidence: float
) -> SearchResult:
    with _named(source):
        result = await state.compute(state.index.search, source, k, min_confidence)
    return dataclasses.replace(result, query=source.uri)


async def compare_sources(state: AppState, a: Source, b: Source) -> Comparison:
    with _named(a, b):
        return await state.compute(state.index.compare, a, b)


@contextmanager
def _named(*sources: Source) -> Iterator[None]:
    """Errors about in-memory bytes name the upload or URL they came from."""
    try:
        yield
    except PicTraceError as exc:
        owner = next((s.uri for s in sources if s.uri != "<bytes>"), "the upload")
        if len(sources) == 2 and "<bytes>" in exc.message:
            owner = f"{sources[0].uri} or {sources[1].uri}"
        raise type(exc)(exc.message.replace("<bytes>", owner)) from exc


def preview(source: Source, settings: Settings) -> bytes:
    """A small JPEG of a query image, to show it beside its results (worker thread)."""
    return make_thumbnail(decode_pixels(source, settings))


async def page_or_image(state: AppState, url: str) -> Source | dict[str, Any]:
    """The image at ``url``, or, for a web page, the images it shows (best first)."""
    fetched = await state.fetcher.get(url)
    if fetched.kind == "html":
        media = await state.compute(extract, fetched.data, fetched.final_url)
        return {"url": url, "title": media.title, "images": list(media.images)}
    if fetched.kind == "other" and describe(fetched.data) != "not an image":
        raise NotAnImage(f"{url}: the server sent {describe(fetched.data)}, not an image")
    return Source(url, fetched.data)


async def page_images(state: AppState, url: str) -> dict[str, Any]:
    found = await page_or_image(state, url)
    if isinstance(found, Source):
        return {"url": url, "title": "", "images": [url]}
    return found


@router.post(
    "/search",
    summary="Find the best matches of one image",
    description='Upload the image as multipart field `file`, or send JSON `{"url": ...}`. '
    "`k` and `min_confidence` may also be given in the query string (`?k=3`). "
    "Answers the CLI's JSON contract: query, elapsed_ms and ranked results with "
    "tier (exact / copy / similar), copy_confidence, similarity and evidence.",
    openapi_extra=body_doc(SearchFields, files=("file",), url_required=True),
)
async def search(state: StateDep, request: Request) -> dict[str, Any]:
    body = await read_body(request, state.settings.max_bytes)
    # the body's fields win over the query string's (a form posted to "?k=3" says both)
    asked = {k: v for k, v in request.query_params.items() if k in ("k", "min_confidence")}
    fields = validate(SearchFields, {**asked, **body.fields})
    source = await load_image(state.fetcher, first(body.files, "file"), fields.url, "file")
    result = await search_source(state, source, fields.k, fields.min_confidence)
    return result.as_dict()


@router.post(
    "/compare",
    summary="Compare two images metric by metric",
    description="Upload files `a` and `b` (multipart), or give their URLs as fields `a` and "
    "`b` (multipart or JSON). Answers every metric (SSIM, ORB matches, colour "
    "histogram correlation, hash distances, CNN cosine), the similarity, the copy "
    "confidence and the verdict.",
    openapi_extra=body_doc(CompareFields, files=("a", "b"), url_required=True),
)
async def compare(state: StateDep, request: Request) -> dict[str, Any]:
    body = await read_body(request, state.settings.max_bytes)
    fields = validate(CompareFields, body.fields)
    a = await load_image(state.fetcher, first(body.files, "a"), fields.a, "a")
    b = await load_image(state.fetcher, first(body.files, "b"), fields.b, "b")
    comparison = await compare_sources(state, a, b)
    return {"a": a.uri, "b": b.uri, **comparison.as_dict()}


@router.get("/page", summary="List the images a web page shows (best first)")
async def page(
    state: StateDep,
    url: str = Query(..., pattern=URL_PATTERN, max_length=2048, description="Page URL."),
) -> dict[str, Any]:
    return await page_images(state, url)
