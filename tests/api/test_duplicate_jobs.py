"""Duplicate groups over HTTP when finding them takes long: the request answers with a job to
poll, the groups are answered once it is done (under any keeper policy), a failed search says
why, and a server shutting down stops the search between two images."""

from __future__ import annotations

import shutil
import time

import pytest

import pictrace.search.duplicates as finding
from pictrace import Index, load_settings
from pictrace.api.app import create_app
from pictrace.errors import IndexCorrupt
from tests.api.conftest import TestClient
from tests.api.test_collection import wait_for
from tests.conftest import jpeg_bytes, load_rgb


def changed(client, photos, name="turned.jpg") -> int:
    """Add a copy (the catalogue changes, so groups found before are stale); its id."""
    picture = load_rgb(photos / "chelsea_cat.jpg").rotate(90, expand=True)
    answer = client.post("/api/images", files=[("files", (name, jpeg_bytes(picture)))])
    return answer.json()["added_ids"][0]


def test_a_request_that_cannot_wait_gets_the_job_then_the_groups(client, photos):
    copy_id = changed(client, photos)
    answer = client.get("/api/duplicates", params={"wait": 0})
    assert answer.status_code == 202
    job_id = answer.json()["job"]
    assert answer.headers["location"] == answer.json()["status"] == f"/api/jobs/{job_id}"
    again = client.get("/api/duplicates", params={"wait": 0})  # joins it, starts no other
    assert again.status_code in (200, 202)
    if again.status_code == 202:
        assert again.json()["job"] == job_id

    job = wait_for(client, job_id)
    assert job["state"] == "done" and job["kind"] == "duplicates"
    assert job["done"] == job["total"] == client.get("/api/health").json()["images"]
    found = job["duplicates"]
    assert found["groups_url"] == "/api/duplicates"

    known = client.get("/api/duplicates", params={"wait": 0})  # nothing changed: at once
    assert known.status_code == 200
    groups = known.json()["groups"]
    assert len(groups) == found["groups"]
    assert sum(len(g["members"]) for g in groups) == found["images"]
    group = next(g for g in groups if copy_id in [m["id"] for m in g["members"]])
    by_bytes = client.get("/api/duplicates", params={"wait": 0, "keeper": "bytes"}).json()
    same = next(g for g in by_bytes["groups"] if copy_id in [m["id"] for m in g["members"]])
    assert {m["id"] for m in same["members"]} == {m["id"] for m in group["members"]}
    largest = max(same["members"], key=lambda m: m["byte_size"])
    assert same["keeper"] == largest["id"]
    client.delete(f"/api/images/{copy_id}")


def test_the_page_shows_progress_then_the_groups(client, photos, monkeypatch):
    import pictrace.api.pages.collection as pages

    monkeypatch.setattr(pages, "PAGE_WAIT", 0.0)
    copy_id = changed(client, photos, "turned-page.jpg")
    searching = client.get("/duplicates").text
    assert "searching" in searching and 'data-reload="done"' in searching
    job_id = searching.split('data-job="')[1].split('"')[0]
    assert client.get(f"/jobs/{job_id}").status_code == 200  # its own page works too
    assert wait_for(client, job_id)["state"] == "done"
    assert "Show the groups" in client.get(f"/jobs/{job_id}").text
    shown = client.get("/duplicates").text
    assert "data-job" not in shown and f'data-id="{copy_id}"' in shown
    client.delete(f"/api/images/{copy_id}")


def test_a_failed_search_says_why(client, photos, monkeypatch):
    def broken(*args, **kwargs):
        raise IndexCorrupt("stored keypoints cannot be read; re-add the image")

    monkeypatch.setattr("pictrace.index.find_duplicates", broken)
    copy_id = changed(client, photos, "turned-broken.jpg")
    answer = client.get("/api/duplicates")
    assert answer.status_code == 500
    assert answer.json()["code"] == "index_corrupt"
    assert "re-add the image" in answer.json()["message"]
    monkeypatch.undo()
    assert client.get("/api/duplicates").status_code == 200  # a new search, not the old error
    client.delete(f"/api/images/{copy_id}")


@pytest.fixture
def slow_searches(monkeypatch):
    """Every image's search takes 0.3 s longer (the bundled collection is small)."""
    search = finding._copies_of_stored

    def slow(*args):
        time.sleep(0.3)
        return search(*args)

    monkeypatch.setattr(finding, "_copies_of_stored", slow)


def test_shutdown_stops_a_duplicates_search(built_index, tmp_path, slow_searches):
    shutil.copytree(built_index, tmp_path / "index")
    settings = load_settings()
    with Index.open(tmp_path / "index", settings=settings) as index:
        with TestClient(create_app(index, settings)) as client:
            job_id = client.get("/api/duplicates", params={"wait": 0}).json()["job"]
            deadline = time.monotonic() + 20
            while client.get(f"/api/jobs/{job_id}").json()["done"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            state = client.get(f"/api/jobs/{job_id}").json()
            assert state["state"] == "running" and state["done"] < state["total"]
            jobs = client.app.state.pictrace.jobs
        job = jobs.get(job_id)
        assert job.state == "failed" and job.error[0] == "stopped"
        assert job.done < job.total  # it stopped between two images, not at the end
