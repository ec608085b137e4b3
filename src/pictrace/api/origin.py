"""Cross-site request refusal: a page on another site must not make a visitor's browser add,
crawl or remove images here (the app has no accounts, so no CSRF tokens). Browsers send an
``Origin`` header with every cross-site POST; when it names another host than the one the
request is addressed to, the request is refused with 403. Clients that send no Origin (curl,
scripts, the CLI) are not browsers and are not affected."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from starlette.exceptions import HTTPException

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if request.method not in UNSAFE or not origin:
        return
    host = request.headers.get("host", "")
    if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
        raise HTTPException(403, f"cross-site request from {origin} refused")
