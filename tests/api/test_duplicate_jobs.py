"""Duplicate groups over HTTP when finding them takes long: the request answers with a job to
poll, the groups are answered once it is done (under any keeper policy) and include what was
added while it searched, a failed search says why (and is not retried at once), and a server
shutting down stops the search between two images before the index closes."""

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


@pytest.fixture
def searches(monkeypatch) -> list[int]:
    """Every image's search takes 0.3 s longer (the bundled collection is small); the ids
    searched, in order."""
    search = finding._copies_of_stored
    searched: list[int] = []

    def slow(searcher, records, stored, image_id):
        time.sleep(0.3)
        searched.append(image_id)
        return search(searcher, records, stored, image_id)

    monkeypatch.setattr(finding, "_copies_of_stored", slow)
    return searched


def turned(client, photos, name: str, photo: str = "chelsea_cat.jpg") -> int:
    """Add a turned copy of ``photo`` (the catalogue changes: groups found before are
    stale); its id."""
    picture = load_rgb(photos / photo).rotate(90, expand=True)
    answer = client.post("/api/images", files=[("files", (name, jpeg_bytes(picture)))])
    return answer.json()["added_ids"][0]


def group_of(groups: list[dict], image_id: int) -> dict:
    return next(g for g in groups if image_id in [m["id"] for m in g["members"]])


def test_a_request_that_cannot_wait_gets_the_job_then_the_groups(client, photos, searches):
    copy_id = turned(client, photos, "turned.jpg")
    answer = client.get("/api/duplicates", params={"wait": 0})
    assert answer.status_code == 202
    job_id = answer.json()["job"]
    assert answer.headers["location"] == answer.json()["status"] == f"/api/jobs/{job_id}"
    again = client.get("/api/duplicates", params={"wait": 0})  # joins it, starts no other
    assert again.status_code == 202 and again.json()["job"] == job_id

    job = wait_for(client, job_id)
    assert job["state"] == "done" and job["kind"] == "duplicates"
    assert job["done"] == job["total"] == len(searches) >= 1 and copy_id in searches
    found = job["duplicates"]
    assert found["groups_url"] == "/api/duplicates"

    known = client.get("/api/duplicates", params={"wait": 0})  # nothing changed: at once
    assert known.status_code == 200
    groups = known.json()["groups"]
    assert len(groups) == found["groups"]
    assert sum(len(g["members"]) for g in groups) == found["images"]
    by_bytes = client.get("/api/duplicates", params={"wait": 0, "keeper": "bytes"}).json()
    same = group_of(by_bytes["groups"], copy_id)
    assert {m["id"] for m in same["members"]} == {
        m["id"] for m in group_of(groups, copy_id)["members"]
    }
    assert same["keeper"] == max(same["members"], key=lambda m: m["byte_size"])["id"]
    client.delete(f"/api/images/{copy_id}")


def test_what_was_added_during_a_search_is_in_the_answer(client, photos, searches):
    first = turned(client, photos, "turned-first.jpg", "rocket.jpg")
    job_id = client.get("/api/duplicates", params={"wait": 0}).json()["job"]
    late = turned(client, photos, "turned-late.jpg", "coffee.jpg")  # while it searches
    answer = client.get("/api/duplicates", params={"wait": 60})
    assert answer.status_code == 200
    assert wait_for(client, job_id)["state"] == "done"
    groups = answer.json()["groups"]
    assert any(m["source"].endswith(".jpg") for m in group_of(groups, first)["members"])
    late_group = group_of(groups, late)  # searched by a second job after the first ended
    assert len(late_group["members"]) >= 2
    client.delete(f"/api/images/{first}")
    client.delete(f"/api/images/{late}")


def test_the_page_shows_progress_then_the_groups(client, photos, monkeypatch):
    import pictrace.api.pages.collection as pages

    monkeypatch.setattr(pages, "PAGE_WAIT", 0.0)
    copy_id = turned(client, photos, "turned-page.jpg")
    searching = client.get("/duplicates").text
    assert "searching" in searching and 'data-reload="done"' in searching
    assert "No duplicates" not in searching  # not before it knows
    job_id = searching.split('data-job="')[1].split('"')[0]
    assert client.get(f"/jobs/{job_id}").status_code == 200  # its own page works too
    assert wait_for(client, job_id)["state"] == "done"
    assert "Show the groups" in client.get(f"/jobs/{job_id}").text
    shown = client.get("/duplicates").text
    assert "data-job" not in shown and f'data-id="{copy_id}"' in shown
    client.delete(f"/api/images/{copy_id}")


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            IndexCorrupt("stored keypoints cannot be read; re-add the image"),
            "index_corrupt",
            "re-add the image",
        ),
        (ValueError("a secret /srv/path"), "internal_error", "the server log has details"),
    ],
)
def test_a_failed_search_says_why_and_is_not_retried_at_once(
    client, photos, monkeypatch, error, code, message
):
    calls: list[int] = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise error

    monkeypatch.setattr("pictrace.search.kept.find_duplicates", broken)
    copy_id = turned(client, photos, f"turned-{code}.jpg")
    answering = TestClient(client.app, raise_server_exceptions=False)  # as a server would
    for _ in range(2):
        answer = answering.get("/api/duplicates")
        assert answer.status_code == 500 and answer.json()["code"] == code
        assert message in answer.json()["message"] and "secret" not in answer.text
    assert len(calls) == 1  # the second request was told, not searched again
    monkeypatch.undo()
    client.delete(f"/api/images/{copy_id}")  # the catalogue changed: a new search
    assert client.get("/api/duplicates").status_code == 200


def test_shutdown_stops_a_duplicates_search(built_index, tmp_path, searches):
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
        after_shutdown = len(searches)
    time.sleep(0.7)
    assert len(searches) == after_shutdown  # no search outlived the server (or the index)
    job = jobs.get(job_id)
    assert job.state == "failed" and job.error == (
        "stopped",
        "the server is shutting down; this job was stopped",
    )
    assert job.done < job.total  # it stopped between two images, not at the end
