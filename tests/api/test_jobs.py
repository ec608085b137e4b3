"""Jobs end cleanly: a server shutting down mid-crawl stops its downloads promptly."""

from __future__ import annotations

import asyncio
import shutil
import time
import types

import anyio.to_thread

from pictrace import Index, load_settings
from pictrace.api.app import create_app
from pictrace.api.crawl import index_stream
from pictrace.errors import IndexError_
from pictrace.types import Source
from tests.api.conftest import TestClient
from tests.conftest import load_rgb, png_bytes
from tests.ingest.site import Reply, Site


def test_shutdown_during_a_crawl_is_prompt(built_index, tmp_path, photos):
    shutil.copytree(built_index, tmp_path / "index")
    settings = load_settings(allow_hosts=("127.0.0.1",), host_concurrency=1, batch_size=2)
    web = Site()
    data = (photos / "coffee.jpg").read_bytes()
    for i in range(40):
        web.routes[f"/img/{i}.jpg"] = Reply(data, "image/jpeg", delay=0.3)
    web.page("/", "".join(f'<img src="/img/{i}.jpg">' for i in range(40)))
    with web.running(), Index.open(tmp_path / "index", settings=settings) as index:
        with TestClient(create_app(index, settings)) as client:
            job = client.post("/api/crawl", json={"url": web.url("/")}).json()["job"]
            deadline = time.monotonic() + 20
            while client.get(f"/api/jobs/{job}").json()["done"] < 2:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            state = client.get(f"/api/jobs/{job}").json()
            assert state["state"] == "running" and state["total"] == 40
            started = time.monotonic()
        assert time.monotonic() - started < 5  # not the ~12 s the whole crawl would take
        assert web.hits["/img/39.jpg"] == 0


def test_a_crawl_waiting_on_a_slow_download_leaves_other_writes_free(built_index, tmp_path, photos):
    """Each arrived batch is its own write: a removal does not wait for the slowest image."""
    shutil.copytree(built_index, tmp_path / "index")
    settings = load_settings(allow_hosts=("127.0.0.1",), batch_size=2)
    web = Site()
    web.routes["/fast.jpg"] = Reply((photos / "coffee.jpg").read_bytes(), "image/jpeg")
    web.routes["/slow.jpg"] = Reply((photos / "rocket.jpg").read_bytes(), "image/jpeg", delay=4)
    web.page("/", '<img src="/fast.jpg"><img src="/slow.jpg">')
    with web.running(), Index.open(tmp_path / "index", settings=settings) as index:
        with TestClient(create_app(index, settings)) as client:
            gone = client.get("/api/images").json()["images"][0]["id"]
            job = client.post("/api/crawl", json={"url": web.url("/")}).json()["job"]
            deadline = time.monotonic() + 20
            while web.hits["/slow.jpg"] < 1 or web.hits["/fast.jpg"] < 1:  # both asked for
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.5)  # the fast one arrived (and is being stored)
            started = time.monotonic()
            assert client.delete(f"/api/images/{gone}").status_code == 200
            assert time.monotonic() - started < 3.5  # not after the slow download's 4 s
            while client.get(f"/api/jobs/{job}").json()["state"] == "running":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert client.get(f"/api/jobs/{job}").json()["state"] == "done"
        sources = {record.source for record in index.list()}
        assert {web.url("/fast.jpg"), web.url("/slow.jpg")} <= sources


def test_a_bulk_add_never_shows_done_before_its_urls_are(built_index, tmp_path, photos):
    shutil.copytree(built_index, tmp_path / "index")
    settings = load_settings(allow_hosts=("127.0.0.1",))
    web = Site()
    web.routes["/slow.jpg"] = Reply((photos / "rocket.jpg").read_bytes(), "image/jpeg", delay=2)
    upload = ("files", ("flipped.png", png_bytes(load_rgb(photos / "coffee.jpg").transpose(0))))
    with (
        web.running(),
        Index.open(tmp_path / "index", settings=settings) as index,
        TestClient(create_app(index, settings)) as client,
    ):
        answer = client.post(
            "/collection/add",
            files=[upload],
            data={"urls": web.url("/slow.jpg")},
            follow_redirects=False,
        )
        job_url = "/api" + answer.headers["location"]
        seen, deadline = [], time.monotonic() + 20
        while (state := client.get(job_url).json())["state"] in ("queued", "running"):
            seen.append((state["done"], state["total"]))
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert state["state"] == "done" and (state["done"], state["total"]) == (2, 2)
    assert all(total == 2 for _, total in seen), seen  # never "1 of 1" while a URL waits


def test_a_write_failing_mid_crawl_says_what_the_earlier_batches_stored(tmp_path, photos):
    """Each arrived batch is its own write: a full disk at the third still names the two
    images stored before it, as one add's error does."""
    names = ["coffee.jpg", "rocket.jpg", "fruits.jpg", "flower.jpg"]
    with Index.open(tmp_path / "index", local_features=False) as index:
        real, calls = index.store.add, []

        def full_at_third(images):
            calls.append(1)
            if len(calls) == 3:
                raise IndexError_("cannot write the catalogue: database or disk is full")
            return real(images)

        index.store.add = full_at_third

        async def write(fn, *args):
            return await anyio.to_thread.run_sync(lambda: fn(*args))

        async def produce(emit):
            for name in names:  # one at a time: each is a batch of its own
                await emit(Source(f"http://127.0.0.1/{name}", (photos / name).read_bytes()))
                await asyncio.sleep(0.3)

        state = types.SimpleNamespace(
            settings=index.settings, producers=set(), write=write, index=index
        )
        try:
            asyncio.run(index_stream(state, produce))
        except IndexError_ as exc:
            message = exc.message
        assert "2 images of this add were stored before it" in message
        assert len(index.list()) == 2
