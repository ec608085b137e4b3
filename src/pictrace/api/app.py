"""The FastAPI app: ``create_app(index_or_folder, settings)`` and ``serve(...)`` for the CLI.

The index is opened once at start-up (or handed in already open) and shared by every request:
reads run concurrently on worker threads, writes take the one writer lock. One Fetcher (the
shared HTTP client) serves every download for the app's lifetime.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pictrace import __version__
from pictrace.api import crawl, docs, errors, images, search
from pictrace.api.collection import discard_orphans
from pictrace.api.limits import BodyLimit, limit_for
from pictrace.api.origin import KnownHosts, guards_hosts
from pictrace.api.pages import collection as collection_pages
from pictrace.api.pages import search as search_pages
from pictrace.api.state import AppState
from pictrace.errors import InputError, PicTraceError
from pictrace.index import Index
from pictrace.ingest.web import Fetcher
from pictrace.settings import Settings, load_settings
from pictrace.web import STATIC, make_templates

log = logging.getLogger("pictrace.api")

DESCRIPTION = """Reverse image search over a persistent index: upload an image (or give its
URL) and get exact files, edited copies and similar pictures, best first. Errors are JSON
`{"code": ..., "message": ...}` with honest status codes."""


def create_app(
    index: Index | str | Path, settings: Settings | None = None, bound: str | None = None
) -> FastAPI:
    """The web app over an open Index, or over the index folder it opens at start-up.
    ``bound``: the address the server listens on (a loopback one makes the app refuse
    requests addressed to other host names: see ``origin.py``)."""
    if settings is None:
        settings = index.settings if isinstance(index, Index) else load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = index if isinstance(index, Index) else Index.open(index, settings=settings)
        if not opened.readonly and (orphans := discard_orphans(opened)):
            log.info("deleted %d uploaded files no image was made of (an earlier crash)", orphans)
        if not opened.readonly:  # a reader is told as it opens; a server's log says so here
            opened.tell_outdated()
        fetcher = Fetcher(settings)
        app.state.pictrace = AppState(opened, settings, fetcher, make_templates())
        try:
            yield
        finally:
            await app.state.pictrace.aclose()
            # Save the searchable copies now, as closing would (rebuilding a space that kept
            # removed images, or grew past the HNSW threshold): uvicorn ends a SIGTERM'd
            # process by raising the signal again once the app has shut down, before the
            # caller could close it.
            try:
                opened.flush(final=True)
            except PicTraceError as exc:  # a full disk: the catalogue has every image
                log.error("%s (rebuilt from the catalogue when next opened)", exc.message)
            if opened is not index:
                opened.close()

    app = FastAPI(
        title="PicTrace",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from the installed Swagger UI, not from a CDN
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, limit=limit_for(settings))
    if guards_hosts(bound, settings.server_names):
        app.add_middleware(KnownHosts, names=settings.server_names)
    errors.install(app)
    for module in (search, images, crawl, search_pages, collection_pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    docs.install(app)
    return app


def serve(index_dir: Path, host: str, port: int, settings: Settings) -> None:
    """Run the app with uvicorn until interrupted (``pictrace serve``). The index is opened
    first, so that a locked or unreadable one fails with its one-line error, not a traceback
    from the server's start-up."""
    import uvicorn

    sockets = listening(host, port)
    try:
        with Index.open(index_dir, settings=settings) as index:
            app = create_app(index, settings, bound=host)
            shown = f"[{host}]" if ":" in host else host
            where = f"http://{shown}:{bound_port(sockets[0])}/"
            print(f"PicTrace serving {where} (Ctrl+C stops)", file=sys.stderr)
            uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()


def listening(host: str, port: int) -> list[socket.socket]:
    """Sockets listening on every address of ``host`` (``localhost``: IPv4 and IPv6, as
    uvicorn binds them; an IPv6 socket takes IPv6 only), or InputError saying why not, such
    as a port in use."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc}") from exc
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if not port and len(sockets) > 1:  # port 0: every address on the first's port
                address = (address[0], bound_port(sockets[0]), *address[2:])
            sock.bind(address)
            sock.listen(2048)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sockets


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])
