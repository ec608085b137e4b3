"""Request-body caps enforced while the body streams in: an upload over the cap is refused with
413 as soon as its declared length or its running byte count says so, before it is all read."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pictrace.errors import ImageTooLarge
from pictrace.settings import Settings

SLACK = 64 * 1024  # multipart boundaries, headers and small form fields
BULK_PATHS = ("/api/images", "/collection/add")
PAIR_PATHS = ("/api/compare", "/compare")


def limit_for(settings: Settings) -> Callable[[str], int]:
    """Body cap by path: bulk adds, a pair of images, or one image."""

    def limit(path: str) -> int:
        if path in BULK_PATHS:
            return settings.max_upload_bytes
        if path in PAIR_PATHS:
            return 2 * settings.max_bytes + SLACK
        return settings.max_bytes + SLACK

    return limit


class BodyLimit:
    """ASGI middleware: raises ImageTooLarge from ``receive``; the app's handler answers 413."""

    def __init__(self, app: ASGIApp, limit: Callable[[str], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.limit(scope["path"])
        declared = _content_length(scope)
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            if declared is not None and declared > cap:
                raise _too_large(scope["path"], f"the request body ({declared:,} bytes)", cap)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise _too_large(scope["path"], "the request body", cap, stopped=True)
            return message

        await self.app(scope, capped, send)


def _too_large(path: str, what: str, cap: int, stopped: bool = False) -> ImageTooLarge:
    """The refusal of a body over ``cap``, naming the setting the cap comes from."""
    setting = (
        "PICTRACE_MAX_UPLOAD_BYTES"
        if path in BULK_PATHS
        else "PICTRACE_MAX_BYTES per picture, and 64 KiB for the rest of the form"
    )
    end = "; the upload was stopped" if stopped else ""
    return ImageTooLarge(f"{what} exceeds the limit of {cap:,} bytes ({setting}){end}")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
