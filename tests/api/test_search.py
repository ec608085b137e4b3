"""POST /api/search and /api/compare, GET /api/page: the CLI's JSON contract and honest errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import jpeg_bytes, load_rgb
from tests.ingest.site import Reply, Site

RESULT_KEYS = {"id", "source", "tier", "copy_confidence", "similarity", "evidence"}


def upload(path, name=None):
    return {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}


def test_health(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["images"] > 0


def test_upload_finds_the_same_photo_first(client, photos):
    answer = client.post("/api/search", files=upload(photos / "coffee.jpg"), data={"k": "3"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["query"] == "coffee.jpg" and body["elapsed_ms"] > 0
    top = body["results"][0]
    assert set(top) >= RESULT_KEYS and top["tier"] == "exact"
    assert top["source"].endswith("coffee.jpg") and len(body["results"]) == 3


def test_k_may_come_in_the_query_string(client, photos):
    answer = client.post("/api/search?k=2", files=upload(photos / "coffee.jpg"))
    assert answer.status_code == 200 and len(answer.json()["results"]) == 2
    both = client.post("/api/search?k=2", files=upload(photos / "coffee.jpg"), data={"k": "4"})
    assert len(both.json()["results"]) == 4  # the body's field wins
    assert client.post("/api/search?k=0", files=upload(photos / "coffee.jpg")).status_code == 422


def test_edited_copy_is_found_as_a_copy(client, photos):
    picture = load_rgb(photos / "chelsea_cat.jpg")
    edited = picture.crop((20, 10, picture.width - 30, picture.height - 20)).resize((300, 220))
    answer = client.post(
        "/api/search",
        files={"file": ("cat.jpg", jpeg_bytes(edited, 70))},
        data={"k": "5", "min_confidence": "0.5"},
    )
    top = answer.json()["results"][0]
    assert top["source"].endswith("chelsea_cat.jpg") and top["tier"] == "copy"
    assert all(r["copy_confidence"] >= 0.5 for r in answer.json()["results"])


def test_search_by_url_uses_the_shared_client(client, site):
    url = site.url("/img/rocket.jpg")
    body = client.post("/api/search", json={"url": url, "k": 2}).json()
    assert body["query"] == url
    assert body["results"][0]["source"].endswith("rocket.jpg")


def test_an_upload_and_a_url_at_once_is_refused(client, site, photos):
    url = site.url("/img/rocket.jpg")
    answer = client.post("/api/search", files=upload(photos / "coffee.jpg"), data={"url": url})
    assert answer.status_code == 422
    assert answer.json()["message"].endswith("as an uploaded file or as a URL, not both")
    pair = {"b": ("b.png", (photos / "box.png").read_bytes())}
    answer = client.post("/api/compare", files=pair, data={"a": url, "b": url})
    assert (
        answer.status_code == 422
        and "image b as an uploaded file or as a URL" in (answer.json()["message"])
    )


def test_a_page_url_is_not_an_image_but_lists_its_images(client, site):
    answer = client.post("/api/search", json={"url": site.url("/gallery.html")})
    assert answer.status_code == 415 and answer.json()["code"] == "not_an_image"
    assert "web page" in answer.json()["message"]
    listed = client.get("/api/page", params={"url": site.url("/gallery.html")}).json()
    assert listed["title"] == "Gallery"
    assert listed["images"] == [
        site.url("/img/rocket.jpg"),
        site.url("/img/coffee.jpg"),
        site.url("/img/box.png"),
    ]


def test_a_malformed_url_is_explained_in_words(client):
    answer = client.post("/api/search", json={"url": "ftp://example.org/a.jpg"})
    expected = "url: give a whole http:// or https:// URL (a host name, no spaces)"
    assert answer.json()["message"] == expected
    assert answer.json()["errors"][0]["loc"] == ["body", "url"]  # the machine's form kept
    keeper = client.get("/api/duplicates", params={"keeper": "prettiest"}).json()["message"]
    assert keeper.startswith("keeper, value 1: keeper rules are original, resolution")
    both = client.get("/api/duplicates", params=[("keeper", "oldest"), ("keeper", "newest")])
    assert both.status_code == 400  # rules the schema allows, contradicting each other
    assert both.json()["message"] == "a keeper policy takes 'oldest' or 'newest', not both"
    lines = client.post("/api/images", json={"urls": ["https://example.org/a.jpg", "ftp://b"]})
    assert lines.json()["message"].startswith("urls, line 2: ")


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"files": {"file": ("notes.txt", b"just some text")}}, 415, "not_an_image"),
        ({"files": {"file": ("empty.jpg", b"")}}, 415, "not_an_image"),
        ({"json": {"k": 3}}, 422, "validation_error"),
        ({"json": {"url": "ftp://example.org/a.jpg"}}, 422, "validation_error"),
        ({"json": {"url": "http://example.org/a.jpg", "k": 0}}, 422, "validation_error"),
        (
            {"json": {"url": "http://example.org/a.jpg", "min_confidence": 2}},
            422,
            "validation_error",
        ),
        ({"json": ["not", "an", "object"]}, 422, "validation_error"),
        (
            {"content": b"{broken", "headers": {"content-type": "application/json"}},
            422,
            "validation_error",
        ),
        (
            {"content": b"raw", "headers": {"content-type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ({"json": {"url": "http://10.1.2.3/private.jpg"}}, 400, "blocked_url"),
        ({"json": {"url": "http://169.254.169.254/latest/meta-data"}}, 400, "blocked_url"),
    ],
)
def test_bad_requests_get_honest_errors(client, request_kwargs, status, code):
    answer = client.post("/api/search", **request_kwargs)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code and body["message"]


def test_upstream_failures_are_502_and_504(client):
    slow = Site()
    slow.routes["/slow.jpg"] = Reply(b"\xff\xd8\xff", delay=3.0)
    with slow.running():
        timeout = client.post("/api/search", json={"url": slow.url("/slow.jpg")})
        missing = client.post("/api/search", json={"url": slow.url("/missing.jpg")})
        port = slow.port
    refused = client.post("/api/search", json={"url": f"http://127.0.0.1:{port}/gone.jpg"})
    assert (timeout.status_code, timeout.json()["code"]) == (504, "fetch_timeout")
    assert (missing.status_code, missing.json()["code"]) == (502, "fetch_failed")
    assert "HTTP 404" in missing.json()["message"]
    assert (refused.status_code, refused.json()["code"]) == (502, "fetch_failed")


def test_compare_reports_every_metric(client, photos):
    answer = client.post(
        "/api/compare",
        files={
            "a": ("box.png", (photos / "box.png").read_bytes()),
            "b": ("scene.png", (photos / "box_in_scene.png").read_bytes()),
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert {"ssim", "orb_matches", "colour", "phash", "dhash", "cosine"} <= set(body["metrics"])
    assert 0.0 <= body["similarity"] <= 1.0
    assert body["verdict"] in {"exact", "copy", "similar", "different"}
    assert (body["a"], body["b"]) == ("box.png", "scene.png")


def test_compare_by_urls_and_identical_images(client, site):
    url = site.url("/img/coffee.jpg")
    body = client.post("/api/compare", json={"a": url, "b": url}).json()
    assert body["verdict"] == "exact" and body["similarity"] == 1.0


def test_compare_needs_both_images(client, photos):
    answer = client.post("/api/compare", files={"a": ("a.png", (photos / "box.png").read_bytes())})
    assert answer.status_code == 422
    assert answer.json()["message"].endswith("give image b as an uploaded file or a URL")


def test_compare_names_the_image_it_cannot_read(client, photos):
    files = {
        "a": ("box.png", (photos / "box.png").read_bytes()),
        "b": ("notes.jpg", b"just some text, not a picture"),
    }
    answer = client.post("/api/compare", files=files)
    assert answer.status_code == 415
    assert answer.json()["message"].startswith("notes.jpg: not a readable image")


def test_any_decodable_format_is_accepted(client, photos):
    buffer = io.BytesIO()
    load_rgb(photos / "baboon.jpg").save(buffer, format="WEBP", quality=90)
    answer = client.post("/api/search", files={"file": ("baboon.webp", buffer.getvalue())})
    assert answer.json()["results"][0]["source"].endswith("baboon.jpg")


def test_openapi_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/search",
        "/api/compare",
        "/api/images",
        "/api/images/{image_id}",
        "/api/images/{image_id}/thumbnail",
        "/api/duplicates",
        "/api/crawl",
        "/api/jobs/{job_id}",
        "/api/health",
    ):
        assert path in paths
    body = paths["/api/search"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(body)
    assert not any(p.startswith(("/match", "/collection")) for p in paths)


def test_not_found_routes_answer_json_for_api_clients(client):
    answer = client.get("/api/nothing-here")
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"


def test_queries_are_not_written_anywhere(client, photos, app_index):
    folder = Path(app_index.location)
    before = sorted(p.name for p in folder.rglob("*"))
    client.post("/api/search", files=upload(photos / "flower.jpg"))
    after = sorted(p.name for p in folder.rglob("*"))
    assert before == after
    Image.open(io.BytesIO(client.get("/api/images/1/thumbnail").content)).verify()
