"""Every error the web app answers with, rendered in one place.

API clients get JSON ``{"code": ..., "message": ...}``; a browser on a page gets the same code
and message in the error page. Status codes say what happened: 400 bad input (a refused URL
included), 404 unknown image / job / query, 413 too large, 415 not an image, 422 invalid
request fields, 502 the remote server failed, 504 the remote server was too slow.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from pictrace.errors import (
    BadURL,
    BlockedURL,
    FetchError,
    FetchTimeout,
    ImageTooLarge,
    IndexCorrupt,
    IndexError_,
    IndexLocked,
    InputError,
    NotAnImage,
    NotFound,
    PicTraceError,
    Stopped,
)

log = logging.getLogger("pictrace.api")

STATUS: dict[type[PicTraceError], int] = {
    NotFound: 404,
    ImageTooLarge: 413,
    NotAnImage: 415,
    FetchTimeout: 504,
    BlockedURL: 400,
    BadURL: 400,
    FetchError: 502,
    InputError: 400,
    IndexLocked: 503,
    Stopped: 503,
    IndexCorrupt: 500,
    IndexError_: 503,  # the index cannot be written now (a full disk): try again later
}
HTTP_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
}


class ErrorBody(BaseModel):
    """The shape of every error answer."""

    code: str
    message: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Bad input or refused URL"),
        (404, "Not found"),
        (413, "Too large"),
        (415, "Not an image"),
        (422, "Invalid request fields"),
        (502, "The remote server failed"),
        (504, "The remote server was too slow"),
    )
}


def status_of(exc: PicTraceError) -> int:
    return _status_of_class(type(exc))


def _status_of_class(kind: type[PicTraceError]) -> int:
    for cls in kind.__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _error_classes(root: type[PicTraceError]) -> list[type[PicTraceError]]:
    return [root] + [cls for sub in root.__subclasses__() for cls in _error_classes(sub)]


# an add failure's code -> the status its error is answered with
FAILURE_STATUS = {cls.code: _status_of_class(cls) for cls in _error_classes(PicTraceError)}


def failed_add_status(codes: set[str]) -> int:
    """The status of an add in which every image failed: the failures' own status when they
    share one (415 for files that are not images, 413 for ones too large, ...), else 422."""
    statuses = {FAILURE_STATUS.get(code, 422) for code in codes}
    status = statuses.pop() if len(statuses) == 1 else 422
    return 503 if status == 500 else status  # the index could not take them now (a full disk)


def describe(exc: Exception) -> tuple[int, str, str, dict[str, Any]]:
    """(status, code, message, extra fields) for any exception."""
    if isinstance(exc, PicTraceError):
        return status_of(exc), exc.code, exc.message, {}
    if isinstance(exc, RequestValidationError):
        errors = jsonable_encoder(
            [_plain(e) for e in exc.errors()], exclude={"input", "ctx", "url"}
        )
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = _where(first.get("loc", ()))
        message = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        return 422, "validation_error", message, {"errors": errors}
    if isinstance(exc, HTTPException):
        return (exc.status_code, HTTP_CODES.get(exc.status_code, "http_error"), str(exc.detail), {})
    log.exception("unexpected error", exc_info=exc)
    return 500, "internal_error", "an unexpected error happened; the server log has details", {}


def _where(loc: Any) -> str:
    """A field's place as a person names it: the field ("url", not "body.url"), and a line
    of a list counted from 1 ("urls, line 2", not "body.urls.1"; of a query parameter given
    more than once, "keeper, value 2"). The errors' ``loc`` in the JSON keeps the machine's
    form."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    named = [str(p) for p in parts if not isinstance(p, int)]
    word = "value" if tuple(loc[:1]) == ("query",) else "line"
    lines = [f"{word} {p + 1}" for p in parts if isinstance(p, int)]
    return ", ".join([".".join(named), *lines]) if named else ", ".join(lines)


# What a field's pattern asks for, in words (pydantic says "String should match pattern ...").
PATTERN_HINTS: dict[str, str] = {}


def _plain(error: Any) -> Any:
    """A validation error whose pattern has a hint, with the hint as its message."""
    pattern = (error.get("ctx") or {}).get("pattern")
    if error.get("type") == "string_pattern_mismatch" and pattern in PATTERN_HINTS:
        return {**error, "msg": PATTERN_HINTS[pattern]}
    return error


def wants_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/docs", "/openapi")) and (
        "text/html" in request.headers.get("accept", "")
    )


async def handle(request: Request, exc: Exception) -> Response:
    """The one exception handler of the app."""
    status, code, message, extra = describe(exc)
    if wants_page(request):
        templates = request.app.state.pictrace.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "code": code, "message": message},
            status_code=status,
        )
    answer = JSONResponse({"code": code, "message": message, **extra}, status_code=status)
    if status == 413:  # the rest of the body is not wanted: the connection is not read on
        answer.headers["connection"] = "close"
    return answer


def install(app: FastAPI) -> None:
    for kind in (PicTraceError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, handle)
