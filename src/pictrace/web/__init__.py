"""Server-rendered pages: Jinja2 templates, one small stylesheet, a little JavaScript."""

from __future__ import annotations

import base64
from pathlib import Path, PurePath

from starlette.templating import Jinja2Templates

from pictrace.formatting import filesize, label_name, match_heading, percent

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def is_web(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("http://", "https://"))


def short_name(source: str) -> str:
    """The last path segment of a file path or URL (without a URL's query), for captions."""
    path = source.split("?", 1)[0] if is_web(source) else source
    tail = PurePath(path.rstrip("/")).name
    return tail or source


def data_uri(data: bytes, media_type: str = "image/jpeg") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters.update(
        percent=percent,
        filesize=filesize,
        short_name=short_name,
        data_uri=data_uri,
        label_name=label_name,
        match_heading=match_heading,
    )
    templates.env.tests["web"] = is_web
    return templates
