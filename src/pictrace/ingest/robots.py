"""robots.txt for crawls, one fetch per origin, read as RFC 9309 says (see ``robotstxt``).

A missing robots.txt (HTTP 4xx) allows everything; an unreachable one (5xx, network failure)
disallows everything, as the RFC asks. Only crawls consult it: a URL the user pastes is fetched
on the user's behalf.
"""

from __future__ import annotations

import asyncio
from typing import Protocol
from urllib.parse import urlsplit

from pictrace.errors import PicTraceError
from pictrace.ingest.robotstxt import DISALLOW_ALL, RobotRules, parse

# RFC 9309 2.5: a crawler parses at least 500 KiB of a robots.txt (and may ignore the rest)
ROBOTS_MAX_BYTES = 500 * 1024


SILENT = frozenset({"fetch_failed", "fetch_timeout"})  # errors of a site that did not answer
REFUSED = frozenset({"blocked_url", "bad_url"})  # a host or URL PicTrace itself refuses


class TextGetter(Protocol):
    async def robots_txt(self, url: str, max_bytes: int) -> tuple[int, bytes]: ...


class Robots:
    def __init__(self, getter: TextGetter, user_agent: str) -> None:
        self.getter = getter
        self.agent = user_agent.split("/", 1)[0]
        self._rules: dict[str, asyncio.Task[tuple[RobotRules, str, str]]] = {}

    async def refusal(self, url: str, what: str) -> tuple[str, str] | None:
        """None when the site's robots.txt lets us fetch ``url``, else why not and its error
        code (``what`` names the thing refused: "this image", "this page"). A site that could
        not be reached at all fails ``url`` as a download would ("fetch_failed"), and so does
        a host PicTrace refuses to fetch from ("blocked_url")."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = asyncio.ensure_future(self._load(origin))
        rules, unreachable, failed = await asyncio.shield(self._rules[origin])
        if rules.allows(url):
            return None
        if failed in REFUSED:
            return f"{url}: {unreachable}", failed
        if failed:
            return f"{url}: the site could not be reached ({unreachable})", failed
        if unreachable:
            return (
                f"{origin}/robots.txt could not be read ({unreachable}), and a crawler must "
                f"then fetch nothing from the site (RFC 9309), so not {what} either"
            ), "robots_disallowed"
        return f"robots.txt disallows {what}", "robots_disallowed"

    async def _load(self, origin: str) -> tuple[RobotRules, str, str]:
        """The rules, why robots.txt was unreachable ("" when it was read), and the error code
        for the site's URLs when it could not be reached at all (no answer, rather than an
        error status) or is a host PicTrace refuses ("" otherwise)."""
        unreachable, failed = "", ""
        try:
            url = origin + "/robots.txt"
            status, body = await self.getter.robots_txt(url, ROBOTS_MAX_BYTES + 1)
        except PicTraceError as exc:  # any failure means "unreachable" for RFC 9309
            status, body = 503, b""
            failed = (
                "fetch_failed" if exc.code in SILENT else exc.code if exc.code in REFUSED else ""
            )
            unreachable = exc.message.removeprefix(origin + "/robots.txt: ")
        if status >= 500:
            return DISALLOW_ALL, unreachable or f"HTTP {status}", failed
        if status >= 400:
            return RobotRules(), unreachable, failed
        if len(body) > ROBOTS_MAX_BYTES:  # longer: its first ROBOTS_MAX_BYTES, no line cut short
            body = body[:ROBOTS_MAX_BYTES]
            body = body[: max(body.rfind(b"\n"), body.rfind(b"\r")) + 1]
        return parse(body.decode("utf-8", "replace"), self.agent), unreachable, failed
