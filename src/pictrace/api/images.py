"""The collection over HTTP: list / add / get / remove images, thumbnails, duplicates, health."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from pictrace.api.collection import (
    KEEPER_RULES,
    add_uploads,
    group_dict,
    record_dict,
)
from pictrace.api.duplicates import API_WAIT, groups_or_job
from pictrace.api.errors import ERROR_RESPONSES, PATTERN_HINTS, ErrorBody, failed_add_status
from pictrace.api.inputs import AddFields, invalid, read_body, validate
from pictrace.api.jobs import Job
from pictrace.api.openapi import body_doc
from pictrace.api.origin import same_origin
from pictrace.api.state import StateDep
from pictrace.errors import InputError, NotFound
from pictrace.index import Index
from pictrace.ingest.crawl import CrawlLimits
from pictrace.search.keeper import checked_policy
from pictrace.types import AddReport, KeeperRule, contrary_rules, rule_names

router = APIRouter(
    prefix="/api",
    tags=["collection"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(same_origin)],
)
ImageId = Annotated[int, Path(ge=1, le=2**62, description="Image id.")]


_RULE = f"(?:{'|'.join(KEEPER_RULES)})"
_RULE_LIST = f"^ *(?:{_RULE} *)?(?:, *(?:{_RULE} *)?)*$"  # "bytes", "bytes, exif", "exif,"
PATTERN_HINTS[_RULE_LIST] = f"keeper rules are {', '.join(KEEPER_RULES)} (comma-separated)"


def _policy(keeper: list[str], default: Sequence[KeeperRule]) -> list[KeeperRule]:
    """The requested keeper rules, each once; an unknown rule is an invalid field (422), and
    rules the schema allows but that contradict each other a bad request (400)."""
    if why := contrary_rules(rule_names(keeper)):
        raise InputError(why)
    try:
        return list(checked_policy(keeper, default))
    except InputError as exc:
        problem = {"type": "enum", "loc": ("query", "keeper"), "msg": exc.message}
        raise RequestValidationError([problem]) from exc


class DuplicatesBody(BaseModel):
    policy: list[KeeperRule]
    groups: list[dict[str, Any]] = Field(
        description="Largest first; each has keeper, reason, members (the keeper first)."
    )


class AddFailedBody(ErrorBody):
    added: int
    skipped_unchanged: int
    failed: list[dict[str, str]] = Field(description="source, reason and code of each failure")


ADD_FAILED: dict[int | str, dict[str, Any]] = {
    "default": {
        "model": AddFailedBody,
        "description": "No image could be added: the failures' own status when they share "
        "one (415 not images, 413 too large, 400 refused URLs, ...), else 422",
    }
}


class JobAccepted(BaseModel):
    job: str
    status: str = Field(description="Where to poll the job's progress.")
    state: str


@router.get("/health", summary="Liveness and index size")
async def health(state: StateDep) -> dict[str, Any]:
    images = await state.compute(state.index.count)
    return {"status": "ok", "images": images, "store": state.index.store_kind}


@router.get("/images", summary="Browse the index, newest last")
async def list_images(
    state: StateDep, offset: int = Query(0, ge=0, le=2**62), limit: int = Query(50, ge=1, le=500)
) -> dict[str, Any]:
    records = await state.compute(state.index.list, offset, limit)
    total = await state.compute(state.index.count)
    return {
        "total": total,
        "offset": offset,
        "limit": limit,
        "images": [record_dict(r) for r in records],
    }


@router.post(
    "/images",
    status_code=201,
    summary="Add images: uploaded files and/or image or page URLs",
    description="Multipart field `files` (repeat it for several files), or JSON "
    '`{"urls": [...]}`. Uploaded originals are kept in the index folder. '
    "Answers the add report (added, unchanged, failures with reasons). For a "
    "whole site, use POST /api/crawl.",
    openapi_extra=body_doc(AddFields, files=("files",), multiple=True),
    responses={
        201: {"description": "Images were added"},
        200: {"description": "Nothing new: every image was already indexed"},
        **ADD_FAILED,
    },
)
async def add_images(state: StateDep, request: Request) -> JSONResponse:
    body = await read_body(request, state.settings.max_bytes)
    fields = dict(body.fields)
    if isinstance(fields.get("urls"), str):
        fields["urls"] = fields["urls"].split()
    uploads = [(u.name, u.data) for u in body.files.get("files", [])]
    if not uploads and not fields.get("urls"):
        others = sorted({*body.files, *fields})
        named = f" (this request has {', '.join(others)})" if others else ""
        problem = "give image files in the multipart field 'files', or 'urls' (page or image URLs)"
        raise invalid([{"type": "missing", "loc": ("files",), "msg": problem + named}])
    urls = validate(AddFields, fields).urls if fields else []
    report = AddReport()
    if uploads:
        report = await state.write(add_uploads, state.index, state.uploads, uploads)
    if urls:
        from pictrace.api.crawl import add_urls

        more = await add_urls(state, urls, CrawlLimits(0, 1, state.settings.crawl_max_images))
        report = report.merged(more)
    answer = report.as_dict()
    answer["unchanged"] = await state.compute(_unchanged, state.index, report.skipped)
    if report.failed and not (report.added or report.skipped or report.updated):
        return _all_failed(answer, report)
    return JSONResponse(answer, status_code=201 if report.added else 200)


def _all_failed(answer: dict[str, Any], report: AddReport) -> JSONResponse:
    """Every image failed: an error answer (the failures' code and status when they share
    one) that still carries the whole report."""
    codes = {failure.code for failure in report.failed}
    first = report.failed[0]
    more = f" (and {len(report.failed) - 1} more failed)" if len(report.failed) > 1 else ""
    body = {
        "code": next(iter(codes)) if len(codes) == 1 else "nothing_added",
        "message": f"no image was added: {first.reason}{more}",  # the reason names it
        **answer,
    }
    return JSONResponse(body, status_code=failed_add_status(codes))


def _unchanged(index: Index, sources: Sequence[str]) -> list[dict[str, Any]]:
    """The images already indexed with the bytes a request sent again: the source each is
    kept under and its id (a file sent twice in one request: the image its first copy made;
    None when that image was removed meanwhile)."""
    found = [index.with_source(source) for source in sources]
    return [
        {"source": source, "id": record.id if record else None}
        for source, record in zip(sources, found, strict=True)
    ]


@router.get("/images/{image_id}", summary="One catalogued image")
async def get_image(state: StateDep, image_id: ImageId) -> dict[str, Any]:
    return record_dict(await state.compute(state.index.get, image_id))


@router.delete(
    "/images/missing",
    summary="Remove every image whose local file is gone",
    description="Images added from a local file that is no longer there (deleted, or moved "
    "and not added again from its new place). Answers the removed images.",
)
async def delete_missing(state: StateDep) -> dict[str, Any]:
    removed = await state.write(state.index.remove_missing)
    return {"removed": [record.as_dict() for record in removed]}


@router.delete("/images/{image_id}", summary="Remove an image from the index")
async def delete_image(state: StateDep, image_id: ImageId) -> dict[str, Any]:
    await state.compute(state.index.get, image_id)  # 404 before taking the write lock
    record = await state.write(state.index.remove, image_id)
    return {"removed": record.as_dict()}  # no thumbnail URL: it went with the image


@router.get(
    "/images/{image_id}/thumbnail",
    summary="The stored JPEG thumbnail (at most 320 px long and 224 px short)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG thumbnail"}},
)
async def thumbnail(state: StateDep, image_id: ImageId) -> Response:
    found = await state.compute(state.index.thumbnail, image_id)
    if found is None:
        raise NotFound(f"no thumbnail for image {image_id}: no such image in the index")
    return Response(
        found,
        media_type="image/jpeg",
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get(
    "/duplicates",
    summary="Groups of copies, each with a suggested keeper",
    description="Answers the groups at once when nothing changed since they were last "
    "found. Otherwise the images not searched before (every image, the first time: about "
    "10 ms each) are searched as a job: the request waits up to `wait` seconds for it, then "
    "answers 202 with the job to poll (`/api/jobs/{id}`); once it is done, this answers the "
    "groups. A client that cannot poll passes a `wait` long enough for its collection.",
    response_model=None,
    responses={
        200: {"model": DuplicatesBody, "description": "The groups"},
        202: {"model": JobAccepted, "description": "Still searching: poll the job, then ask again"},
        503: {"model": ErrorBody, "description": "The server is shutting down"},
    },
)
async def duplicates(
    state: StateDep,
    keeper: Annotated[
        list[Annotated[str, Query(pattern=_RULE_LIST)]] | None,
        Query(
            description="Keeper rules in order, repeated or comma-separated: "
            f"{', '.join(KEEPER_RULES)} (default: settings.keeper_policy)."
        ),
    ] = None,
    wait: Annotated[
        float, Query(ge=0, le=3600, description="Seconds to wait for a search to finish.")
    ] = API_WAIT,
) -> Any:
    policy = _policy(keeper or [], state.settings.keeper_policy)
    found = await groups_or_job(state, policy, wait)
    if isinstance(found, Job):
        status = f"/api/jobs/{found.id}"
        return JSONResponse(
            {"job": found.id, "status": status, "state": found.state},
            status_code=202,
            headers={"Location": status},
        )
    return {"policy": policy, "groups": [group_dict(g) for g in found]}
