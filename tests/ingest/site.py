"""A tiny web site on 127.0.0.1 for network tests: fixed replies, redirects, slow and endless
bodies, and a hit counter per path. Nothing here touches the internet."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the answer
    repeat: int = 1  # >1: body sent repeatedly without Content-Length (a stream)
    drip: float = 0.0  # seconds between repeats


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.hits: Counter[str] = Counter()
        self.server: ThreadingHTTPServer | None = None
        self.active = 0  # requests being answered right now
        self.peak = 0  # the most answered at once
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("the site is not running")
        return int(self.server.server_address[1])

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being answered (an earlier test may have hung up on
        some that are still being served), then count the peak afresh."""
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            self.peak = self.active

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def page(self, path: str, html: str) -> None:
        self.routes[path] = Reply(html.encode(), "text/html; charset=utf-8")

    def file(self, path: str, data: bytes, content_type: str = "image/jpeg") -> None:
        self.routes[path] = Reply(data, content_type)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Reply(status=status, headers={"Location": location})

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site._lock:
                    site.hits[self.path] += 1
                    site.active += 1
                    site.peak = max(site.peak, site.active)
                reply = site.routes.get(self.path)
                if reply is None:
                    reply = Reply(b"not found", "text/plain", status=404)
                try:
                    time.sleep(reply.delay)
                finally:
                    # no longer busy before the answer goes out: once the client has it, it may
                    # start its next request before this thread would get to count down
                    with site._lock:
                        site.active -= 1
                # the client may hang up on purpose (size cap, timeout)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.repeat == 1:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                for _ in range(reply.repeat):
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                    time.sleep(reply.drip)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    @contextmanager
    def running(self) -> Iterator[Site]:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=5)
