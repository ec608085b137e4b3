"""Cross-site request refusal: a page on another site must not make a visitor's browser add,
crawl or remove images here, or read them (the app has no accounts, so no CSRF tokens).

* Browsers send an ``Origin`` header with every cross-site POST; when it names another host
  than the one the request is addressed to, the request is refused with 403. Clients that
  send no Origin (curl, scripts, the CLI) are not browsers and are not affected.
* That check trusts the ``Host`` header, which a page can make its own through DNS
  rebinding (its host name re-resolved to 127.0.0.1). So a running server answers only
  requests addressed to an IP address, ``localhost`` or one of ``server_names``
  (``KnownHosts``, 400 ``unknown_host`` otherwise).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if request.method not in UNSAFE or not origin:
        return
    host = request.headers.get("host", "")
    if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
        raise HTTPException(403, f"cross-site request from {origin} refused")


def host_name(host: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower-case ("" when it
    cannot be read)."""
    try:
        name = urlsplit(f"//{host}").hostname if host else ""
    except ValueError:  # "[::1", say
        return ""
    return (name or "").rstrip(".").lower()


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def guards_hosts(bound: str | None, names: Iterable[str]) -> bool:
    """Whether an app checks Host headers: when a server runs it (``bound``: the address it
    listens on; a wildcard address listens on loopback too), or when given names."""
    return bound is not None or bool(tuple(names))


class KnownHosts:
    """ASGI middleware answering 400 ``unknown_host`` to a request whose Host is a name other
    than ``localhost`` and ``names``. Addresses pass (``http://192.168.1.5:8000`` reaches a
    server bound to all addresses): a rebinding page's requests carry its own host *name*."""

    def __init__(self, app: ASGIApp, names: Iterable[str] = ()) -> None:
        self.app = app
        self.names = frozenset(host_name(n) for n in names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            name = host_name(Headers(scope=scope).get("host", ""))
            local = name == "localhost" or name.endswith(".localhost")
            if not (local or is_address(name) or name in self.names):
                known = ", ".join(["an IP address", "localhost", *sorted(self.names)])
                message = (
                    f"this server answers to {known}, not {name or 'a request without a host'} "
                    "(add a name with PICTRACE_SERVER_NAMES)"
                )
                answer = JSONResponse({"code": "unknown_host", "message": message}, 400)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
