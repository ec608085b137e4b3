"""Jobs end cleanly: a server shutting down mid-crawl stops its downloads promptly."""

from __future__ import annotations

import shutil
import time

from pictrace import Index, load_settings
from pictrace.api.app import create_app
from tests.api.conftest import TestClient
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
