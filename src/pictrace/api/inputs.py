"""Request bodies -> typed inputs. An image arrives either as a multipart upload or as a URL
(in a form field or a JSON body); the fields beside it are validated with pydantic models, so
bad values answer 422 like any FastAPI parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from pictrace.api.errors import PATTERN_HINTS
from pictrace.errors import ImageTooLarge, NotAnImage
from pictrace.ingest.web import Fetcher
from pictrace.types import Source

URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$"
PATTERN_HINTS[URL_PATTERN] = "give a whole http:// or https:// URL (a host name, no spaces)"
M = TypeVar("M", bound=BaseModel)


def url_field(description: str) -> Any:
    return Field(None, pattern=URL_PATTERN, max_length=2048, description=description)


class SearchFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = url_field("Image URL (instead of an uploaded file).")
    k: int = Field(10, ge=1, le=100, description="How many matches to return.")
    min_confidence: float = Field(
        0.0, ge=0.0, le=1.0, description="Drop matches below this copy confidence."
    )


class CompareFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: str | None = url_field("URL of the first image (instead of uploading file a).")
    b: str | None = url_field("URL of the second image (instead of uploading file b).")


URL = Annotated[str, Field(pattern=URL_PATTERN, max_length=2048)]


class AddFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    urls: list[URL] = Field(
        ...,
        min_length=1,
        max_length=100,
        description="Image or page URLs to add (a page adds its images).",
    )


class CrawlFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(..., pattern=URL_PATTERN, max_length=2048, description="Page to crawl.")
    depth: int | None = Field(None, ge=0, le=5, description="Same-site link hops to follow.")
    max_pages: int | None = Field(None, ge=1, le=1000, description="Pages to fetch at most.")
    max_images: int | None = Field(None, ge=1, le=10000, description="Images to add at most.")


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


@dataclass(frozen=True)
class Body:
    fields: dict[str, Any]
    files: dict[str, list[Upload]]


async def read_body(request: Request, max_bytes: int) -> Body:
    """Fields and files of a multipart form, or the fields of a JSON object."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data" or kind == "application/x-www-form-urlencoded":
        return await _form(request, max_bytes)
    if kind == "application/json" or kind.endswith("+json"):
        try:
            payload = await request.json()
        except ValueError as exc:
            raise invalid(
                [{"type": "json_invalid", "loc": ("body",), "msg": "the body is not valid JSON"}]
            ) from exc
        if not isinstance(payload, dict):
            raise invalid(
                [{"type": "dict_type", "loc": ("body",), "msg": "the body must be a JSON object"}]
            )
        return Body(payload, {})
    raise HTTPException(415, "send multipart/form-data (with a file) or application/json")


async def _form(request: Request, max_bytes: int) -> Body:
    fields: dict[str, Any] = {}
    files: dict[str, list[Upload]] = {}
    async with request.form(max_files=1000, max_fields=100) as form:  # closes spooled files
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                upload = await _read_upload(key, value, max_bytes)
                if upload is not None:
                    files.setdefault(key, []).append(upload)
            elif value.strip():
                fields[key] = [*_as_list(fields[key]), value] if key in fields else value
    return Body(fields, files)


async def _read_upload(key: str, value: UploadFile, max_bytes: int) -> Upload | None:
    if not value.filename and not value.size:
        return None  # a file input left empty
    name = value.filename or key
    if value.size is not None and value.size > max_bytes:
        raise ImageTooLarge.of_bytes(name, value.size, max_bytes)
    data = await value.read()
    if len(data) > max_bytes:
        raise ImageTooLarge.of_bytes(name, len(data), max_bytes)
    return Upload(name, data)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def validate(model: type[M], fields: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        raise invalid(exc.errors(include_url=False)) from exc


def invalid(errors: Any) -> RequestValidationError:
    return RequestValidationError(
        [
            {**e, "loc": ("body", *tuple(e.get("loc", ())))} if e.get("loc") != ("body",) else e
            for e in errors
        ]
    )


async def load_image(
    fetcher: Fetcher, upload: Upload | None, url: str | None, what: str = "image"
) -> Source:
    """The bytes of an uploaded file or of an image URL (fetched with the shared client);
    both at once is a mistake to say, not a choice to make silently."""
    if upload is not None and url:
        raise _one_image(what, "value_error", "as an uploaded file or as a URL, not both")
    if upload is not None:
        if not upload.data:
            raise NotAnImage(f"{upload.name}: zero-byte file")
        return Source(upload.name, upload.data)
    if url:
        return await fetcher.image(url)
    fields = " (field 'file') or a URL (field 'url')" if what in ("image", "file") else " or a URL"
    raise _one_image(what, "missing", "as an uploaded file" + fields)


def _one_image(what: str, kind: str, how: str) -> RequestValidationError:
    """The 422 about image ``what`` of a form: give it ``how``."""
    named = "the image" if what in ("image", "file") else f"image {what}"
    return invalid([{"type": kind, "loc": (what,), "msg": f"give {named} {how}"}])


def first(files: Mapping[str, list[Upload]], key: str) -> Upload | None:
    found = files.get(key)
    return found[0] if found else None
