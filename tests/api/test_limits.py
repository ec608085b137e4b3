"""Uploads over the size cap are refused with 413 while they stream in."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from pictrace import Index, load_settings
from pictrace.api.app import create_app
from tests.api.conftest import TestClient
from tests.api.live import live_server

CAP = 100_000


@pytest.fixture(scope="module")
def small_client(built_index) -> Iterator[TestClient]:
    settings = load_settings(max_bytes=CAP, max_upload_bytes=3 * CAP)
    with (
        Index.open(built_index, readonly=True, settings=settings) as index,
        TestClient(create_app(index, settings)) as client,
    ):
        yield client


def test_declared_length_over_the_cap_is_refused(small_client):
    answer = small_client.post("/api/search", files={"file": ("big.jpg", b"\xff" * (2 * CAP))})
    assert answer.status_code == 413 and answer.json()["code"] == "image_too_large"


def test_streamed_body_over_the_cap_is_stopped(small_client):
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 16_384

    answer = small_client.post(
        "/api/search", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json()["code"] == "image_too_large"
    assert "stopped" in answer.json()["message"]


def test_file_just_over_the_cap_inside_a_small_body_is_refused(small_client):
    answer = small_client.post("/api/search", files={"file": ("a.jpg", b"\xff" * (CAP + 10))})
    assert answer.status_code == 413
    assert answer.json()["message"].startswith("a.jpg:")


def test_bulk_adds_have_their_own_cap(small_client):
    files = [("files", (f"{i}.jpg", bytes([i]) * (CAP // 2))) for i in range(4)]
    answer = small_client.post("/api/images", files=files)
    # 200 KB total: within the bulk cap, so the request reaches the index (read-only here,
    # which refuses to add before decoding anything)
    assert answer.status_code == 503 and answer.json()["code"] == "index_locked"
    too_many = [("files", (f"{i}.jpg", b"\xff" * (CAP // 2))) for i in range(8)]
    assert small_client.post("/api/images", files=too_many).status_code == 413


def test_streamed_multipart_upload_over_the_cap_is_stopped(small_client):
    boundary = "pictrace-test-boundary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        for _ in range(64):
            yield b"\xff" * 8192
        yield f"\r\n--{boundary}--\r\n".encode()

    answer = small_client.post(
        "/api/search",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 413 and answer.json()["code"] == "image_too_large"


def test_the_connection_closes_after_an_endless_upload_is_refused(built_index):
    """A chunked upload without end: after the 413 the server reads no more of it."""
    settings = load_settings(max_bytes=CAP, max_upload_bytes=3 * CAP)
    with (
        Index.open(built_index, readonly=True, settings=settings) as index,
        live_server(create_app(index, settings)) as url,
    ):
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /api/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"%x\r\n%s\r\n" % (65_536, b"x" * 65_536)
            answer, deadline = b"", time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    sock.sendall(chunk)
                except OSError:  # closed while we were still sending: what is wanted
                    break
                sock.setblocking(False)
                try:
                    got = sock.recv(65_536)
                except BlockingIOError:
                    got = None
                except ConnectionError:  # closed with our chunks unread: reset
                    break
                sock.setblocking(True)
                if got == b"":
                    break  # the server closed the connection
                answer += got or b""
            assert b" 413 " in answer.split(b"\r\n", 1)[0] or answer == b""
            assert time.monotonic() < deadline, "the server kept reading the refused upload"


def test_kept_query_images_are_held_within_a_byte_budget():
    """The match views' query images live in memory: the oldest go once they pass the
    budget (32 uploads of 64 MB would have held 2 GB), the newest always stays."""
    from pictrace.api.state import RecentQueries
    from pictrace.errors import NotFound

    kept = RecentQueries(slots=32, budget=100)
    first = kept.keep("a", b"x" * 60, b"")
    second = kept.keep("b", b"y" * 60, b"")
    assert kept.get(second.token).data == b"y" * 60
    with pytest.raises(NotFound):
        kept.get(first.token)
    huge = kept.keep("c", b"z" * 500, b"")  # larger than the budget: kept alone
    assert kept.get(huge.token).label == "c"
    with pytest.raises(NotFound):
        kept.get(second.token)
