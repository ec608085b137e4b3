"""The collection over HTTP: add / get / list / remove, thumbnails, duplicates, crawl jobs."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.conftest import load_rgb, png_bytes


def wait_for(client, job_id, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_list_is_paginated(client):
    total = client.get("/api/images", params={"limit": 1}).json()["total"]
    first = client.get("/api/images", params={"offset": 0, "limit": 5}).json()
    second = client.get("/api/images", params={"offset": 5, "limit": 5}).json()
    assert first["total"] == total and len(first["images"]) == 5
    assert {i["id"] for i in first["images"]}.isdisjoint(i["id"] for i in second["images"])
    assert first["images"][0]["thumbnail"] == f"/api/images/{first['images'][0]['id']}/thumbnail"
    assert client.get("/api/images", params={"limit": 0}).status_code == 422


def test_upload_is_kept_in_the_index_folder_and_removable(client, app_index, tmp_path):
    picture = load_rgb(Path(__file__).parents[2] / "examples/photos/fruits.jpg").rotate(
        90, expand=True
    )
    data = png_bytes(picture)
    answer = client.post("/api/images", files=[("files", ("fruits-rotated.png", data))])
    assert answer.status_code == 201, answer.text
    (new_id,) = answer.json()["added_ids"]
    record = client.get(f"/api/images/{new_id}").json()
    box = Path(app_index.location) / "uploads" / hashlib.sha256(data).hexdigest()
    kept = box / "fruits-rotated.png"  # the name the user gave, in a folder of its own
    assert record["source"] == str(kept) and kept.read_bytes() == data

    again = client.post("/api/images", files=[("files", ("again.png", data))]).json()
    assert again["added"] == 0 and again["skipped_unchanged"] == 1
    assert again["unchanged"] == [{"source": str(kept), "id": new_id}]  # which one holds it

    found = client.post("/api/search", files={"file": ("q.png", data)}).json()["results"][0]
    assert found["id"] == new_id and found["tier"] == "exact"

    removed = client.delete(f"/api/images/{new_id}")
    assert removed.status_code == 200 and removed.json()["removed"]["id"] == new_id
    assert "thumbnail" not in removed.json()["removed"]
    assert not kept.exists() and not box.exists()
    assert client.get(f"/api/images/{new_id}").status_code == 404
    assert client.delete(f"/api/images/{new_id}").status_code == 404
    assert client.get(f"/api/images/{new_id}/thumbnail").status_code == 404


def test_uploading_bytes_added_from_a_folder_names_that_image(client, app_index, photos):
    data = (photos / "coffee.jpg").read_bytes()  # indexed from the photo folder
    held = app_index.store.by_source(str(photos / "coffee.jpg"))
    answer = client.post("/api/images", files=[("files", ("my coffee.jpg", data))])
    assert answer.status_code == 200, answer.text
    assert answer.json()["added"] == 0 and answer.json()["skipped_unchanged"] == 1
    assert answer.json()["unchanged"] == [{"source": held.source, "id": held.id}]
    assert not (Path(app_index.location) / "uploads" / hashlib.sha256(data).hexdigest()).exists()


def test_upload_names_are_made_safe(app_index, tmp_path):
    from pictrace.api.collection import store_upload, upload_name

    assert upload_name("../../etc/evil.JPEG", "jpg") == "evil.JPEG"
    assert upload_name("C:\\Users\\me\\cat.png", "png") == "cat.png"
    assert upload_name("holiday.png", "jpg") == "holiday.png.jpg"  # the bytes are a JPEG
    assert upload_name("", "png") == upload_name("...", "png") == "upload.png"
    assert upload_name("a\x00b\n.webp", "webp") == "ab.webp"
    assert len(upload_name("x" * 500 + ".jpg", "jpg")) == 204
    emoji = upload_name("\U0001f4f7" * 110 + ".png", "png")
    assert len(emoji.encode()) <= 204 and emoji.endswith("\U0001f4f7.png")  # whole characters
    assert upload_name("photo.", "jpg") == "photo.jpg"

    data = (Path(__file__).parents[2] / "examples/photos/rocket.jpg").read_bytes()
    folder = tmp_path / "uploads"
    legacy = folder / f"{hashlib.sha256(data).hexdigest()}.jpg"  # as an older release kept it
    legacy.parent.mkdir()
    legacy.write_bytes(data)
    assert store_upload(folder, data, "rocket.jpg") == (legacy, False)
    legacy.unlink()
    first, new = store_upload(folder, data, "../rocket.jpg")
    assert new and first.parent.parent == folder and first.name == "rocket.jpg"
    assert store_upload(folder, data, "other-name.jpg") == (first, False)


def test_an_upload_that_cannot_be_kept_fails_alone(client, app_index, photos, monkeypatch):
    import pictrace.api.collection as collection

    named = collection.upload_name
    monkeypatch.setattr(  # a name the file system refuses (ENAMETOOLONG), for one upload
        collection,
        "upload_name",
        lambda name, ext: "x" * 300 if name == "bad.png" else named(name, ext),
    )
    good = png_bytes(load_rgb(photos / "coffee.jpg").rotate(180))
    bad = png_bytes(load_rgb(photos / "rocket.jpg").rotate(180))
    answer = client.post(
        "/api/images", files=[("files", ("good.png", good)), ("files", ("bad.png", bad))]
    ).json()
    assert answer["added"] == 1
    (failure,) = answer["failed"]
    assert failure["source"] == "bad.png" and "cannot be kept" in failure["reason"]
    uploads = Path(app_index.location) / "uploads"
    assert not (uploads / hashlib.sha256(bad).hexdigest()).exists()  # no temp file left
    client.delete(f"/api/images/{answer['added_ids'][0]}")


def test_adding_without_files_or_urls_names_the_fields(client):
    answer = client.post("/api/images", files=[("file", ("a.png", b"x"))])
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        "files: give image files in the multipart field 'files', or 'urls' (page or "
        "image URLs) (this request has file)"
    )


def test_uploads_an_add_that_stopped_kept_for_no_image_are_deleted(index_copy, photos, monkeypatch):
    """A full disk stops an add after its first image: that one keeps its file, the others'
    are deleted (a disk already full is not filled further), and the error stands."""
    from pictrace.api.collection import add_uploads
    from pictrace.errors import IndexError_

    add = type(index_copy).add_sources

    def first_then_full(self, sources, total=0, progress=None):  # type: ignore[no-untyped-def]
        add(self, list(sources)[:1], 1)
        raise IndexError_("cannot write the catalogue: disk I/O error")

    monkeypatch.setattr(type(index_copy), "add_sources", first_then_full)
    rocket = load_rgb(photos / "rocket.jpg")
    uploads = [(f"turned{angle}.png", png_bytes(rocket.rotate(angle))) for angle in (10, 20, 30)]
    with pytest.raises(IndexError_, match="disk I/O error"):
        add_uploads(index_copy, index_copy.uploads, uploads)
    kept = [p for p in index_copy.uploads.rglob("*") if p.is_file()]
    assert [p.name for p in kept] == ["turned10.png"]
    assert index_copy.with_source(str(kept[0])) is not None


def test_removing_an_uploaded_image_from_the_library_deletes_its_file(index_copy, photos):
    from pictrace.api.collection import add_uploads

    data = png_bytes(load_rgb(photos / "rocket.jpg").rotate(90, expand=True))
    report = add_uploads(index_copy, index_copy.uploads, [("turned rocket.png", data)])
    (image_id,) = report.added
    kept = Path(index_copy.get(image_id).source)
    assert kept.parent.parent == index_copy.uploads and kept.name == "turned rocket.png"
    index_copy.remove(image_id)  # as `pictrace remove` does
    assert not kept.exists() and not kept.parent.exists()
    index_copy.remove(str(photos / "rocket.jpg"))  # a file that is not kept: left alone
    assert (photos / "rocket.jpg").is_file()


def test_failed_uploads_leave_nothing_behind(client, app_index):
    answer = client.post("/api/images", files=[("files", ("notes.jpg", b"not an image"))])
    assert answer.status_code == 415  # nothing was added: the failure's own status
    assert answer.json()["code"] == "not_an_image" and answer.json()["added"] == 0
    assert answer.json()["message"].startswith("no image was added: notes.jpg: ")
    (failure,) = answer.json()["failed"]
    assert failure["source"] == "notes.jpg" and failure["code"] == "not_an_image"
    assert not list((Path(app_index.location) / "uploads").glob("**/*.bin"))
    assert not list((Path(app_index.location) / "uploads").glob("**/notes*"))
    assert all(any(box.iterdir()) for box in (Path(app_index.location) / "uploads").iterdir()
               if box.is_dir())  # fmt: skip


def test_an_add_in_which_everything_fails_is_an_error_with_the_report(client, site):
    files = [("files", ("notes.jpg", b"not an image")), ("files", ("empty.png", b""))]
    same = client.post("/api/images", files=files)
    assert same.status_code == 415 and same.json()["code"] == "not_an_image"
    assert same.json()["message"].endswith("(and 1 more failed)")
    mixed = client.post(
        "/api/images",
        data={"urls": "http://[::1"},
        files=[("files", ("notes.jpg", b"not an image"))],
    )
    assert mixed.status_code == 422 and mixed.json()["code"] == "nothing_added"
    assert {f["code"] for f in mixed.json()["failed"]} == {"not_an_image", "bad_url"}
    missing = client.post("/api/images", json={"urls": [site.url("/img/missing.jpg")]})
    assert missing.status_code == 502 and missing.json()["code"] == "fetch_failed"


def test_add_by_url_keeps_the_url_as_source(client, site):
    url = site.url("/img/rocket.jpg")
    answer = client.post("/api/images", json={"urls": [url]})
    assert answer.status_code == 201
    (new_id,) = answer.json()["added_ids"]
    assert client.get(f"/api/images/{new_id}").json()["source"] == url
    client.delete(f"/api/images/{new_id}")


def test_thumbnail_is_a_jpeg(client):
    answer = client.get("/api/images/1/thumbnail")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert answer.content[:3] == b"\xff\xd8\xff"


def test_duplicates_suggest_a_keeper_by_policy(client, photos):
    picture = load_rgb(photos / "squirrel.jpg")
    small = picture.resize((picture.width // 2, picture.height // 2))
    added = client.post("/api/images", files=[("files", ("small-squirrel.png", png_bytes(small)))])
    (copy_id,) = added.json()["added_ids"]
    groups = client.get("/api/duplicates").json()
    group = next(g for g in groups["groups"] if copy_id in [m["id"] for m in g["members"]])
    original = next(m for m in group["members"] if m["source"].endswith("squirrel.jpg"))
    assert groups["policy"] == ["original", "resolution", "lossless", "exif", "bytes"]
    assert group["keeper"] == original["id"]  # the larger one
    edited = {m["id"]: m["edited"] for m in group["members"]}
    assert edited == {copy_id: 0, original["id"]: 0}  # a half-size copy: no verdict, the larger

    lossless = client.get(
        "/api/duplicates", params=[("keeper", "lossless"), ("keeper", "resolution")]
    ).json()
    group = next(g for g in lossless["groups"] if copy_id in [m["id"] for m in g["members"]])
    assert group["keeper"] == copy_id and group["members"][0]["id"] == copy_id
    assert client.get("/api/duplicates", params={"keeper": "prettiest"}).status_code == 422
    commas = client.get("/api/duplicates", params={"keeper": "lossless,resolution"}).json()
    assert commas["policy"] == ["lossless", "resolution"]
    twice = client.get("/api/duplicates", params=[("keeper", "bytes"), ("keeper", "bytes")])
    assert twice.json()["policy"] == ["bytes"]
    member = twice.json()["groups"][0]["members"][0]
    assert member["thumbnail"] == f"/api/images/{member['id']}/thumbnail"
    assert client.get(member["thumbnail"]).status_code == 200
    client.delete(f"/api/images/{copy_id}")


def test_crawl_job_indexes_page_images_with_their_page(client, site):
    before = client.get("/api/health").json()["images"]
    answer = client.post("/api/crawl", json={"url": site.url("/gallery.html"), "depth": 1})
    assert answer.status_code == 202 and answer.json()["state"] in ("queued", "running", "done")
    job = wait_for(client, answer.json()["job"])
    assert job["state"] == "done", job
    assert job["report"]["added"] == 4 and not job["report"]["failed"]
    assert job["crawl"]["pages"] == 2 and job["crawl"]["images_found"] == 4
    assert job["done"] == job["total"] == 4
    assert client.get("/api/health").json()["images"] == before + 4
    listed = client.get("/api/images", params={"offset": before, "limit": 10}).json()["images"]
    pages = {i["source"]: i["page"] for i in listed}
    assert pages[site.url("/img/chelsea_cat.jpg")] == site.url("/more.html")
    assert pages[site.url("/img/coffee.jpg")] == site.url("/gallery.html")
    for image in listed:
        client.delete(f"/api/images/{image['id']}")


def test_a_crawls_failures_count_the_downloads_that_did_not_decode(client, site):
    answer = client.post("/api/crawl", json={"url": site.url("/broken.html")})
    job = wait_for(client, answer.json()["job"])
    codes = sorted(f["code"] for f in job["report"]["failed"])
    assert codes == ["fetch_failed", "not_an_image"]  # a 404, and a truncated JPEG
    assert job["crawl"]["failed"] == 2 and job["crawl"]["images_fetched"] == 1


def test_crawl_validation_and_unknown_jobs(client):
    assert client.post("/api/crawl", json={"url": "not a url"}).status_code == 422
    assert client.post("/api/crawl", json={"url": "http://x.org/", "depth": 9}).status_code == 422
    missing = client.get("/api/jobs/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_crawl_of_a_refused_host_is_refused_at_once(client):
    """As a search by URL is: no job waits behind other writes only to fail."""
    for url, code in (("http://192.168.1.1/", "blocked_url"), ("http://bad!host.org/", "bad_url")):
        answer = client.post("/api/crawl", json={"url": url})
        assert answer.status_code == 400 and answer.json()["code"] == code


def test_the_same_upload_twice_in_one_request_is_one_image(client):
    data = png_bytes(load_rgb(Path(__file__).parents[2] / "examples/photos/flower.jpg").rotate(180))
    answer = client.post(
        "/api/images", files=[("files", ("one.png", data)), ("files", ("two.png", data))]
    ).json()
    assert answer["added"] == 1 and answer["skipped_unchanged"] == 1
    assert answer["unchanged"][0]["id"] == answer["added_ids"][0]  # the image holding it
    client.delete(f"/api/images/{answer['added_ids'][0]}")


def test_tiny_images_compare_without_crashing(client):
    dot = png_bytes(
        load_rgb(Path(__file__).parents[2] / "examples/photos/flower.jpg").resize((1, 1))
    )
    answer = client.post("/api/compare", files={"a": ("a.png", dot), "b": ("b.png", dot)})
    assert answer.status_code == 200 and answer.json()["verdict"] == "exact"


def test_a_server_start_deletes_uploads_no_image_was_made_of(built_index, photos, tmp_path):
    """kill -9 between keeping uploads and indexing them leaves files behind; the next
    server start deletes those, and keeps every upload an image holds, also after the
    index folder moved (its catalogue still names the old place)."""
    import shutil

    from pictrace import Index
    from pictrace.api.app import create_app
    from pictrace.api.collection import add_uploads, store_upload
    from pictrace.api.matchview import hit_source
    from tests.api.conftest import TestClient

    first = tmp_path / "first"
    shutil.copytree(built_index, first)
    kept_data = png_bytes(load_rgb(photos / "coffee.jpg").rotate(90, expand=True))
    with Index.open(first) as index:
        add_uploads(index, index.uploads, [("kept.png", kept_data)])
        orphan, _ = store_upload(index.uploads, png_bytes(load_rgb(photos / "rocket.jpg")), "o.png")
        (orphan.parent / ".upload-partial").write_bytes(b"half")
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    with TestClient(create_app(moved)) as client:
        assert client.get("/api/health").status_code == 200
    left = sorted(p.relative_to(moved / "uploads") for p in (moved / "uploads").rglob("*"))
    digest = hashlib.sha256(kept_data).hexdigest()
    assert left == [Path(digest), Path(digest) / "kept.png"]
    with Index.open(moved) as index:  # the upload is found where the folder is now
        image = index.resolve(str(first / "uploads" / digest / "kept.png"))
        assert index.kept_file(image.source) == moved / "uploads" / digest / "kept.png"
        assert hit_source(index, image)[1] == "original file"  # the match view's picture
        index.remove(image.id)
    assert not (moved / "uploads" / digest).exists()


def test_a_removal_the_disk_refuses_is_503_try_later(client, monkeypatch):
    from pictrace.errors import IndexError_

    image_id = client.get("/api/images").json()["images"][0]["id"]

    def full(*_: object) -> None:
        raise IndexError_("cannot write the catalogue: database or disk is full")

    monkeypatch.setattr(client.app.state.pictrace.index, "remove", full)
    answer = client.delete(f"/api/images/{image_id}")
    assert answer.status_code == 503 and answer.json()["code"] == "index_error"
    assert client.get(f"/api/images/{image_id}").status_code == 200


def test_the_match_view_of_an_image_itself_is_exact_also_from_its_thumbnail(photos, tmp_path):
    """The original file is gone (or elsewhere): the view compares with the thumbnail, and
    still says the query is the indexed image."""
    from pictrace import Index
    from pictrace.api.matchview import match_view
    from pictrace.types import Source

    path = tmp_path / "coffee.jpg"
    data = (photos / "coffee.jpg").read_bytes()
    path.write_bytes(data)
    with Index.open(tmp_path / "index") as index:
        image_id = index.add([path]).added[0]
        path.unlink()
        view = match_view(index, Source("query.jpg", data), image_id)
    assert view.hit_from == "stored thumbnail" and view.comparison.verdict == "exact"


def test_the_match_view_reads_an_original_added_by_a_relative_path_from_any_folder(
    photos, tmp_path, monkeypatch
):
    """Added as "pics/coffee.jpg" from one folder, served from another: the catalogued
    location finds the original (the thumbnail would blur the evidence)."""
    from pictrace import Index
    from pictrace.api.matchview import hit_source

    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "coffee.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    monkeypatch.chdir(tmp_path)
    with Index.open(tmp_path / "index") as index:
        image_id = index.add(["pics/coffee.jpg"]).added[0]
    monkeypatch.chdir(photos)  # the server's folder
    with Index.open(tmp_path / "index", readonly=True) as index:
        source, kind = hit_source(index, index.get(image_id))
    assert kind == "original file" and source.uri == "pics/coffee.jpg"


def test_removing_the_images_whose_files_are_gone(client, app_index, photos, tmp_path):
    for name in ("kept.jpg", "gone.jpg"):
        load_rgb(photos / "fruits.jpg").rotate(90 if name == "gone.jpg" else 0).save(
            tmp_path / name
        )
    app_index.add([str(tmp_path)])
    (tmp_path / "gone.jpg").unlink()
    answer = client.delete("/api/images/missing")
    assert answer.status_code == 200
    assert [r["source"] for r in answer.json()["removed"]] == [str(tmp_path / "gone.jpg")]
    assert app_index.store.by_source(str(tmp_path / "kept.jpg")) is not None
    assert client.delete("/api/images/missing").json() == {"removed": []}


def test_a_users_own_uploads_folder_in_the_index_folder_is_theirs(built_index, photos, tmp_path):
    """A folder the user called ``uploads`` inside the index folder, added as any other
    folder: neither a server start nor removing its images deletes a file of it (only files
    laid out as PicTrace keeps uploads, ``<sha256>/<name>``, are PicTrace's)."""
    import shutil

    from pictrace import Index
    from pictrace.api.app import create_app
    from tests.api.conftest import TestClient

    folder = tmp_path / "site"
    shutil.copytree(built_index, folder)
    mine = folder / "uploads"
    (mine / "2023").mkdir(parents=True)
    shutil.copy(photos / "box.png", mine / "holiday.png")
    shutil.copy(photos / "coffee.jpg", mine / "2023" / "coffee.jpg")
    (mine / "notes.txt").write_text("not an image", encoding="utf-8")
    with Index.open(folder) as index:
        assert len(index.add([str(mine)]).added) == 2
    with TestClient(create_app(folder)) as client:
        assert client.get("/api/health").status_code == 200
    files = sorted(str(p.relative_to(mine)) for p in mine.rglob("*") if p.is_file())
    assert files == ["2023/coffee.jpg", "holiday.png", "notes.txt"]
    with Index.open(folder) as index:
        assert index.kept_file(str(mine / "holiday.png")) is None
        index.remove(str(mine / "holiday.png"))
        index.remove(str(mine / "2023" / "coffee.jpg"))
    assert (mine / "holiday.png").is_file() and (mine / "2023" / "coffee.jpg").is_file()


def test_an_upload_whose_only_other_file_is_gone_is_kept(index_copy, photos, tmp_path):
    """The same bytes as an image whose file was deleted: the upload is kept and indexed
    (it was "unchanged", held by the missing image), so removing the missing images does
    not lose the picture."""
    from pictrace.api.collection import add_uploads

    gone = tmp_path / "gone.png"
    data = png_bytes(load_rgb(photos / "rocket.jpg").rotate(90, expand=True))
    gone.write_bytes(data)
    (missing_id,) = index_copy.add([str(gone)]).added
    gone.unlink()
    report = add_uploads(index_copy, index_copy.uploads, [("turned.png", data)])
    assert len(report.added) == 1 and not report.skipped
    assert [r.id for r in index_copy.remove_missing()] == [missing_id]
    top = index_copy.search(data, k=1).matches[0]
    assert top.tier == "exact" and top.id == report.added[0]


def test_bytes_sent_twice_that_fail_fail_twice(client, app_index):
    """The same non-image bytes twice in one request: both fail (415, as once), where the
    second was "unchanged", held by an upload that was never added."""
    before = app_index.stats().images
    files = [("files", (name, b"not an image at all")) for name in ("a.jpg", "b.jpg")]
    answer = client.post("/api/images", files=files)
    assert answer.status_code == 415, answer.text
    body = answer.json()
    assert [f["source"] for f in body["failed"]] == ["a.jpg", "b.jpg"]
    assert body["skipped_unchanged"] == 0 and body["added"] == 0
    assert app_index.stats().images == before


def test_a_users_file_named_as_an_upload_is_still_theirs(built_index, photos, tmp_path):
    """Only an upload (an image with no location of its own) takes its kept file along when
    removed: a user's own picture added from uploads/<its sha256>/ stays. A server start
    deletes only files laid out as uploads whose bytes their digest names and no image holds:
    that picture (an image of the index holds its bytes), a file named as an upload with
    other bytes and an empty folder of theirs stay."""
    import shutil

    from pictrace import Index
    from pictrace.api.app import create_app
    from tests.api.conftest import TestClient

    folder = tmp_path / "site"
    shutil.copytree(built_index, folder)
    data = (photos / "box.png").read_bytes()
    mine = folder / "uploads" / hashlib.sha256(data).hexdigest() / "mine.png"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(data)
    lookalike = folder / "uploads" / f"{'ab' * 32}.pdf"
    lookalike.write_bytes(b"%PDF- a document of the user's")
    (folder / "uploads" / "empty").mkdir()
    with Index.open(folder) as index:
        (added,) = index.add([str(mine)]).added
        index.remove(added)
    assert mine.is_file()
    with TestClient(create_app(folder)) as client:
        assert client.get("/api/health").status_code == 200
    assert mine.is_file() and lookalike.is_file() and (folder / "uploads" / "empty").is_dir()


def test_an_upload_named_with_dots_and_spaces_first_is_kept_and_removed(index_copy, photos):
    from pictrace.api.collection import add_uploads, upload_name

    assert upload_name(". ..x.png", "png") == "x.png"
    data = png_bytes(load_rgb(photos / "rocket.jpg").rotate(270, expand=True))
    (image_id,) = add_uploads(index_copy, index_copy.uploads, [(". ..x.png", data)]).added
    kept = Path(index_copy.get(image_id).source)
    assert kept.name == "x.png"
    index_copy.remove(image_id)
    assert not kept.exists() and not kept.parent.exists()


def test_removing_a_url_image_leaves_an_upload_of_its_bytes(index_copy, photos):
    """A URL image has no location either, and its path read as a file's named the kept
    upload of the same bytes (its folder is their digest), which removing it deleted."""
    from pictrace.api.collection import add_uploads
    from pictrace.types import Source

    data = png_bytes(load_rgb(photos / "rocket.jpg").rotate(45))
    (upload,) = add_uploads(index_copy, index_copy.uploads, [("mine.png", data)]).added
    kept = Path(index_copy.get(upload).source)
    url = f"https://example.com/uploads/{kept.parent.name}/mine.png"
    (remote,) = index_copy.add_sources([Source(url, data)]).added  # the same bytes online
    index_copy.remove(remote)
    assert kept.is_file()


def test_a_server_says_when_features_of_another_release_are_stored(
    tmp_path, photos, app_settings, caplog
):
    from pictrace import Index
    from pictrace.api.app import create_app
    from tests.api.conftest import TestClient

    folder = tmp_path / "lib"
    with Index.open(folder) as index:
        index.add([photos / "coffee.jpg"])
        with index.store.catalogue.transaction() as db:
            db.execute("UPDATE features SET version = 0 WHERE name = 'colour'")
    with TestClient(create_app(folder, app_settings)) as client:  # opened for writing
        assert client.get("/api/health").status_code == 200
    assert "colour were computed by another release" in caplog.text
