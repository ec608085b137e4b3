"""OpenAPI request-body documentation for endpoints that take an image either as a multipart
upload or as a URL in JSON (FastAPI cannot declare such either/or bodies by itself)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

BINARY = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}


def body_doc(
    model: type[BaseModel],
    files: tuple[str, ...],
    url_required: bool = False,
    multiple: bool = False,
) -> dict[str, Any]:
    """``openapi_extra`` for a body that is multipart (``files`` + fields) or JSON (fields).

    In JSON the URL fields are required when ``url_required``; in multipart the file fields
    are, and then the URL fields are left out of it (an image is a file or a URL, not both;
    a form may still send a URL field instead of the file)."""
    schema = model.model_json_schema()
    properties = {name: _plain(prop) for name, prop in schema.get("properties", {}).items()}
    url_fields = [n for n in properties if n in ("url", "a", "b", "urls")]
    json_schema = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": sorted(
            set(schema.get("required", [])) | (set(url_fields) if url_required else set())
        ),
    }
    file_schema: dict[str, Any] = (
        {"type": "array", "items": BINARY, "minItems": 1} if multiple else BINARY
    )
    form_properties = {
        n: p
        for n, p in properties.items()
        if n not in files and not (url_required and n in url_fields)
    }
    form_properties.update({name: file_schema for name in files})
    form_schema = {
        "type": "object",
        "properties": form_properties,
        "additionalProperties": False,
        "required": list(files),
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form_schema},
                "application/json": {"schema": json_schema},
            },
        }
    }


def _plain(prop: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` with a null default -> X (the field may simply be left out)."""
    options = prop.get("anyOf")
    if options and any(o.get("type") == "null" for o in options):
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            merged = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
            return {**kept[0], **merged}
    return prop
