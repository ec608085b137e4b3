"""Server-rendered pages through the TestClient: search, match view, compare, collection, jobs,
duplicates and error pages."""

from __future__ import annotations

import re
import time

from PIL import ImageOps
from selectolax.lexbor import LexborHTMLParser

from pictrace.types import KEEPER_POLICY
from pictrace.web import short_name
from tests.conftest import PHOTOS, jpeg_bytes, load_rgb, png_bytes

HTML = {"accept": "text/html"}


def page(answer):
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    return LexborHTMLParser(answer.text)


def test_search_page_offers_upload_and_url(client):
    tree = page(client.get("/"))
    form = tree.css_first("form[action='/search']")
    assert form.attributes["enctype"] == "multipart/form-data"
    assert form.css_first("input[type=file][name=file]") is not None
    assert form.css_first("input[name=url]") is not None
    assert tree.css_first("link[rel=stylesheet]").attributes["href"] == "/static/style.css"
    assert "viewport" in client.get("/").text


def test_results_grid_then_match_view(client, photos):
    answer = client.post(
        "/search", files={"file": ("box.png", (photos / "box.png").read_bytes())}, data={"k": "5"}
    )
    tree = page(answer)
    tiles = tree.css("ol.results > li.tile")
    assert len(tiles) == 5
    first = tiles[0]
    assert first.attributes["data-tier"] == "exact"
    assert first.css_first(".badge").text() == "exact"
    assert first.css_first(".score").text().startswith("100%")
    assert first.css_first("img").attributes["src"].endswith("/thumbnail")
    preview = tree.css_first(".query img").attributes["src"]
    assert client.get(preview).headers["content-type"] == "image/jpeg"

    match = page(client.get(first.css_first("a.thumb").attributes["href"]))
    assert match.css_first(".verdict .badge").text() == "exact"
    metrics = {row.attributes["data-metric"] for row in match.css("tr[data-metric]")}
    assert {"ssim", "orb_matches", "colour", "phash", "cosine"} <= metrics


def test_results_say_how_many_copies_were_found(client, photos):
    """The heading counts copies, not everything listed (a page of one copy and nine other
    pictures said "10 matches")."""
    answer = client.post(
        "/search", files={"file": ("box.png", (photos / "box.png").read_bytes())}, data={"k": "8"}
    )
    tree = page(answer)
    tiers = [t.attributes["data-tier"] for t in tree.css("ol.results > li.tile")]
    copies = sum(tier in ("exact", "copy") for tier in tiers)
    heading = tree.css_first(".query h1").text()
    assert heading == (f"{copies} cop{'y' if copies == 1 else 'ies'}" if copies else "No copies")
    assert f"{len(tiers) - copies} similar pictures" in tree.css_first(".query").text()
    assert "open for 30 minutes" in tree.css_first("[data-kept-note]").text()  # not a surprise 404


def test_the_match_view_says_when_it_finds_otherwise_than_the_search(client, photos):
    """The results link says what the search found; the match view compares the pair at
    full detail, and a verdict that differs (a screenshot the search called similar) is
    explained, not left to contradict the results page."""
    answer = client.post(
        "/search", files={"file": ("box.png", (photos / "box.png").read_bytes())}, data={"k": "3"}
    )
    href = page(answer).css_first("li.tile a.thumb").attributes["href"]
    assert "tier=exact" in href and "conf=1.0000" in href
    assert page(client.get(href)).css_first("[data-search-said]") is None  # they agree
    said = re.sub(r"tier=\w+&conf=[0-9.]+", "tier=similar&conf=0.0990", href)
    note = page(client.get(said)).css_first("[data-search-said]")
    text = " ".join(note.text().split()) if note is not None else ""
    assert "listed this match as similar (10% copy confidence)" in text and "is a copy" in text
    odd = client.get(re.sub(r"conf=[0-9.]+", "conf=7", href), headers=HTML)
    assert odd.status_code == 422


def test_copy_match_view_draws_the_evidence(client, photos):
    picture = load_rgb(photos / "chelsea_cat.jpg")
    edited = picture.crop((20, 10, picture.width - 30, picture.height - 20)).resize((300, 220))
    tree = page(
        client.post("/search", files={"file": ("cat.jpg", jpeg_bytes(edited, 70))}, data={"k": "3"})
    )
    top = tree.css_first("li.tile")
    assert top.attributes["data-tier"] == "copy"
    assert top.css_first("a.open").text().startswith("Match view")
    match = page(client.get(top.css_first("a.thumb").attributes["href"]))
    assert match.css_first(".verdict .badge").text() == "copy"
    overlay = match.css_first("figure.overlay img")
    assert overlay is not None and overlay.attributes["src"].startswith("data:image/jpeg;base64,")
    assert "keypoints agree" in match.text()


def test_a_page_url_offers_its_images(client, site):
    tree = page(client.post("/search", data={"url": site.url("/gallery.html"), "k": "5"}))
    offered = [i.attributes["value"] for i in tree.css("input[name=url]")]
    assert offered[0] == site.url("/img/rocket.jpg") and len(offered) == 3
    chosen = page(client.post("/search", data={"url": offered[0], "k": "5"}))
    assert chosen.css_first("li.tile .source").text().strip().startswith("rocket.jpg")


def compared(client, a: tuple[str, bytes], b: tuple[str, bytes], **options):
    """The compare page's answer for two uploaded files (name, bytes)."""
    return client.post("/compare", files={"a": a, "b": b}, **options)


def test_compare_page_shows_metrics_and_verdict(client, photos):
    assert page(client.get("/compare")).css_first("input[name=a_url]") is not None
    coffee = (photos / "coffee.jpg").read_bytes()
    answer = compared(client, ("coffee.jpg", coffee), ("coffee-again.jpg", coffee))
    tree = page(answer)
    assert tree.css_first(".verdict .badge").text() == "exact"
    assert len(tree.css("tr[data-metric]")) >= 5


def test_collection_paginates_and_adds_with_a_progress_page(client, photos):
    tree = page(client.get("/collection"))
    total = int(re.search(r"(\d+) image", tree.css_first("h1").text()).group(1))
    assert len(tree.css("ul.collection li.tile")) == min(total, 48)
    picture = load_rgb(photos / "motorcycle.jpg").transpose(0)
    answer = client.post(
        "/collection/add",
        files=[("files", ("mirror.png", png_bytes(picture)))],
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/")
    job_url = answer.headers["location"]
    job = page(client.get(job_url)).css_first("[data-job]")
    assert job.attributes["data-state"] in ("queued", "running", "done")
    deadline = time.monotonic() + 30
    while client.get("/api" + job_url).json()["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    done = page(client.get(job_url))
    assert "1</b> added" in done.css_first(".report").html
    assert done.css_first("progress").attributes["value"] == "1"

    grid = page(client.get("/collection"))
    assert f"{total + 1} images" in grid.css_first("h1").text()
    newest = max(int(t.attributes["data-id"]) for t in grid.css("li.tile"))
    removed = client.post(f"/collection/{newest}/delete", follow_redirects=False)
    assert removed.status_code == 303
    assert f"{total} images" in page(client.get("/collection")).css_first("h1").text()


def test_a_job_page_says_when_nothing_could_be_added(client):
    answer = client.post(
        "/collection/add",
        files=[("files", ("notes.jpg", b"not a picture at all"))],
        follow_redirects=False,
    )
    job_url = answer.headers["location"]
    deadline = time.monotonic() + 30
    while client.get("/api" + job_url).json()["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    done = page(client.get(job_url))
    assert done.css_first("h1").text().startswith("Could not add")
    assert done.css_first("h2").text() == "Failed"
    assert "1</b> failed" in done.css_first(".report").html


def test_a_collection_tile_searches_with_its_image(client, app_index, photos, tmp_path):
    """A tile links to the copies of its image, found without the image itself."""
    box = app_index.resolve(str(photos / "box.png"))
    tile = page(client.get("/collection")).css_first(f"li.tile[data-id='{box.id}']")
    link = tile.css_first("a.open").attributes["href"]
    assert link == f"/collection/{box.id}/search"
    tree = page(client.get(link))
    tiles = tree.css("ol.results > li.tile")
    assert tiles and box.id not in {int(t.attributes["data-id"]) for t in tiles}
    scene = app_index.resolve(str(photos / "box_in_scene.png"))
    assert tiles[0].attributes["data-id"] == str(scene.id)
    assert tiles[0].attributes["data-tier"] == "copy"
    assert "box.png" in tree.css_first(".query b").attributes["title"]
    preview = tree.css_first(".query img").attributes["src"]
    assert client.get(preview).headers["content-type"] == "image/jpeg"
    match = page(client.get(tiles[0].css_first("a.thumb").attributes["href"]))
    assert match.css_first(".verdict .badge").text() == "copy"
    assert f"image #{box.id}" in match.css_first(".overlay figcaption").text()


def test_searching_a_collection_tile_keeps_nothing(client, app_index, photos):
    """Such a search is a GET a page on another site can make a visitor's browser send: it
    must not take the place of the visitor's own kept queries (32 of them)."""
    answer = client.post(
        "/search", files={"file": ("box.png", (photos / "box.png").read_bytes())}, data={"k": "2"}
    )
    mine = page(answer).css_first("ol.results a.thumb").attributes["href"]
    coffee = app_index.resolve(str(photos / "coffee.jpg"))
    for _ in range(40):
        assert client.get(f"/collection/{coffee.id}/search?k=1").status_code == 200
    assert client.get(mine).status_code == 200
    gone = client.get(f"/collection/{coffee.id}/match/999999", headers=HTML)
    assert gone.status_code == 404


def test_a_collection_tile_whose_file_is_gone_searches_with_its_thumbnail(
    client, app_index, photos, tmp_path
):
    moved = tmp_path / "coffee.jpg"
    moved.write_bytes((photos / "coffee.jpg").read_bytes())
    app_index.add([moved])
    coffee = app_index.resolve(str(moved))
    moved.unlink()
    tree = page(client.get(f"/collection/{coffee.id}/search?k=3"))
    tiles = tree.css("ol.results > li.tile")
    assert len(tiles) <= 3 and coffee.id not in {int(t.attributes["data-id"]) for t in tiles}
    original = app_index.resolve(str(photos / "coffee.jpg"))
    assert tiles[0].attributes["data-id"] == str(original.id)
    assert tiles[0].attributes["data-tier"] in ("exact", "copy")
    moved.write_bytes(b"not a picture any more")  # the path now holds something else
    replaced = page(client.get(f"/collection/{coffee.id}/search?k=3"))
    assert replaced.css("ol.results > li.tile")[0].attributes["data-id"] == str(original.id)
    app_index.remove(coffee.id)
    assert client.get(f"/collection/{coffee.id}/search", headers=HTML).status_code == 404


def test_crawl_form_starts_a_job(client, site):
    answer = client.post(
        "/collection/crawl",
        data={"url": site.url("/gallery.html"), "depth": "0"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    job = page(client.get(answer.headers["location"])).css_first("[data-job]")
    assert job.css_first("[data-field='crawl.pages']") is not None
    deadline = time.monotonic() + 60
    while job.attributes["data-state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = page(client.get(answer.headers["location"])).css_first("[data-job]")
    assert job.attributes["data-state"] == "done"
    assert job.css_first("h1").text().startswith("Crawled ")  # not "Crawling" once done


def test_duplicates_page_marks_the_keeper(client, photos):
    picture = load_rgb(photos / "butterfly.jpg")
    small = picture.resize((picture.width // 2, picture.height // 2))
    added = client.post("/api/images", files=[("files", ("small.png", png_bytes(small)))]).json()
    tree = page(client.get("/duplicates"))
    keepers = tree.css("li.tile.keeper")
    assert keepers and all(k.css_first(".badge").text() == "keep" for k in keepers)
    chosen = [
        option.attributes["value"]
        for select in tree.css("form.policy select")
        for option in select.css("option")
        if "selected" in option.attributes
    ]
    assert tuple(chosen) == (*KEEPER_POLICY, "")  # sent as it is, the form keeps the policy
    assert tree.css_first(f"li.tile[data-id='{added['added_ids'][0]}'] .edited") is None
    framed = jpeg_bytes(ImageOps.expand(picture, 50, fill=(255, 255, 255)), 95)
    framed_id = client.post("/api/images", files=[("files", ("framed.jpg", framed))]).json()
    tree = page(client.get("/duplicates"))
    reasons = [r.text() for r in tree.css(".reason")]
    assert reasons and all(re.fullmatch(r"\d+ images · kept by [a-z :,]+", r) for r in reasons)
    copy = tree.css_first(f"li.tile[data-id='{framed_id['added_ids'][0]}']")
    assert copy.css_first(".edited").text() == "likely edited"  # its white frame is padding
    client.delete(f"/api/images/{framed_id['added_ids'][0]}")
    unchanged = page(client.get("/duplicates", params=[("keeper", "bytes"), ("keeper", "")]))
    assert len(unchanged.css("form.policy select")) == 2  # the rule chosen, and one more
    flipped = page(client.get("/duplicates", params=[("keeper", "lossless")]))
    ids = [int(t.attributes["data-id"]) for t in flipped.css("li.tile.keeper")]
    assert added["added_ids"][0] in ids


def test_duplicates_page_says_when_a_member_is_a_copy_of_another_member(client, photos):
    """The chelsea cat pasted into a reduced rocket photo joins both; the original that is
    not the keeper is linked through the composite, not a duplicate of the keeper."""
    rocket, cat = load_rgb(photos / "rocket.jpg"), load_rgb(photos / "chelsea_cat.jpg")
    composite = rocket.resize((rocket.width * 3 // 4, rocket.height * 3 // 4))
    composite.paste(cat.resize((cat.width // 3, cat.height // 3)), (20, 20))
    added = client.post("/api/images", files=[("files", ("mix.jpg", jpeg_bytes(composite, 95)))])
    mix = added.json()["added_ids"][0]
    tree = page(client.get("/duplicates"))
    group = next(g for g in tree.css("section.group") if g.css_first(f"li.tile[data-id='{mix}']"))
    linked = [t for t in group.css("li.tile") if t.css_first(".badge").text() == "linked"]
    assert len(linked) == 1 and linked[0].css_first(".via").text() == (
        f"matches #{mix}, not the keeper"
    )
    client.delete(f"/api/images/{mix}")


def test_errors_render_as_pages_for_browsers(client):
    answer = client.get("/match/no-such-query/1", headers=HTML)
    assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]
    assert "no longer kept" in answer.text and "latest 32 searches" in answer.text
    bad = client.post("/search", files={"file": ("x.txt", b"plain text")}, headers=HTML)
    assert bad.status_code == 415 and "x.txt" in bad.text
    empty = client.post("/search", data={"url": "", "k": "10"}, headers=HTML)
    assert empty.status_code == 400 and "Choose a picture to upload" in empty.text
    assert "body.file" not in empty.text
    one = client.post("/compare", data={"a_url": "", "b_url": "https://x.example/b.jpg"})
    assert one.status_code == 400 and "Choose picture A" in one.text
    picture = ("q.png", (PHOTOS / "box.png").read_bytes())
    url = "https://x.example/a.jpg"
    for where, files, form in (
        ("/search", {"file": picture}, {"url": url}),
        ("/compare", {"a": picture, "b": picture}, {"a_url": url}),
    ):
        both = client.post(where, files=files, data=form, headers=HTML)
        assert both.status_code == 422 and "not both" in both.text  # one rule on both pages


def test_cross_site_posts_are_refused(client):
    evil = {"origin": "https://evil.example", "accept": "text/html"}
    answer = client.post("/collection/1/delete", headers=evil, follow_redirects=False)
    assert answer.status_code == 403 and "cross-site" in answer.text
    api = client.post("/api/images", headers={"origin": "null"}, files=[("files", ("a", b"x"))])
    assert api.status_code == 403 and api.json()["code"] == "forbidden"
    assert client.get("/api/images/1").status_code == 200  # still there
    same = {"origin": "http://testserver"}
    assert client.post("/compare", headers=same).status_code == 415  # reached the handler


def test_duplicates_page_marks_a_member_whose_file_is_gone(client, app_index, photos, tmp_path):
    """A local file added, then deleted behind the server's back: its tile says so, and it
    is not the keeper (the groups kept in memory look at the files again)."""
    picture = load_rgb(photos / "butterfly.jpg")
    copy = tmp_path / "big.png"
    copy.write_bytes(png_bytes(picture.resize((picture.width * 2, picture.height * 2))))
    (image_id,) = app_index.add([copy]).added
    tree = page(client.get("/duplicates"))  # the groups, now kept in memory
    assert "keeper" in tree.css_first(f"li.tile[data-id='{image_id}']").attributes["class"]
    copy.unlink()
    tile = page(client.get("/duplicates")).css_first(f"li.tile[data-id='{image_id}']")
    assert tile.css_first(".missing").text() == "file missing"
    assert "keeper" not in tile.attributes["class"]
    app_index.remove(image_id)


def test_captions_keep_a_file_name_with_a_question_mark_and_drop_a_urls_query():
    assert short_name("/photos/is it a cat?.png") == "is it a cat?.png"
    assert short_name("https://example.org/img/cat.jpg?w=200") == "cat.jpg"
    assert short_name("https://example.org/") == "example.org"


def test_a_pair_no_transform_fits_says_so_instead_of_zeros(client, photos):
    """Unrelated pictures: "0 keypoints agree on one transform (0 % ...); SSIM after
    alignment 0.00" read as measurements of an alignment that was never found."""
    answer = compared(
        client,
        ("coffee.jpg", (photos / "coffee.jpg").read_bytes()),
        ("rocket.jpg", (photos / "rocket.jpg").read_bytes()),
    )
    tree = page(answer)
    assert tree.css_first("[data-no-fit]") is not None
    assert "no transform fits" in tree.css_first("[data-no-fit]").text()
    assert tree.css_first("tr[data-metric=warped_ssim]") is None
    assert "agree on one transform" not in tree.text()


def test_a_compare_of_a_file_that_is_no_picture_names_it(client, photos):
    answer = compared(
        client,
        ("coffee.jpg", (photos / "coffee.jpg").read_bytes()),
        ("notes.jpg", b"not a picture at all"),
        headers=HTML,
    )
    assert (
        answer.status_code == 415
        and "notes.jpg" in answer.text
        and "&lt;bytes&gt;" not in answer.text
    )
