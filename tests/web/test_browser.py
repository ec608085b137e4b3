"""End to end in headless Chromium against the real server (uvicorn on 127.0.0.1): upload a
photo, see its original first, open the match view, run a compare, add images with live
progress, and check the pages on a phone-sized screen. Screenshots land in a tmp folder."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pictrace.api.app import create_app
from tests.api.live import live_server
from tests.conftest import jpeg_bytes, load_rgb, png_bytes

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (make browser installs it)",
    ),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def base_url(app_index, app_settings) -> Iterator[str]:
    with live_server(create_app(app_index, app_settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("PICTRACE_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def files(photos, tmp_path_factory) -> dict[str, Path]:
    """An edited copy of the cat photo (cropped, resized, re-encoded) and two pictures to add."""
    folder = tmp_path_factory.mktemp("uploads")
    cat = load_rgb(photos / "chelsea_cat.jpg")
    edited = cat.crop((20, 10, cat.width - 30, cat.height - 20)).resize((300, 220))
    made = {
        "edited_cat": jpeg_bytes(edited, 70),
        "mirrored_fruits": png_bytes(load_rgb(photos / "fruits.jpg").transpose(0)),
        "grey_rocket": jpeg_bytes(load_rgb(photos / "rocket.jpg").convert("L").convert("RGB")),
    }
    paths = {}
    for name, data in made.items():
        suffix = ".png" if data.startswith(b"\x89PNG") else ".jpg"
        paths[name] = folder / f"{name}{suffix}"
        paths[name].write_bytes(data)
    return paths


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_upload_match_view_and_compare(browser, base_url, files, photos, shots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch(page)
    page.goto(base_url + "/")
    page.set_input_files("input[name=file]", str(files["edited_cat"]))
    assert page.locator(".drop-text").inner_text() == "edited_cat.jpg"
    page.click("form[action='/search'] button[type=submit]")
    page.wait_for_selector("ol.results li.tile")
    first = page.locator("ol.results li.tile").first
    assert first.get_attribute("data-tier") == "copy"
    assert first.locator(".source").inner_text().startswith("chelsea_cat.jpg")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    page.screenshot(path=str(shots / "results.png"), full_page=True)

    first.locator("a.thumb").click()
    page.wait_for_selector(".verdict .badge")
    assert page.locator(".verdict .badge").inner_text().lower() == "copy"
    assert page.locator("figure.overlay img").count() == 1
    page.screenshot(path=str(shots / "match.png"), full_page=True)

    page.click("nav >> text=Compare")
    page.set_input_files("input[name=a]", str(photos / "box.png"))
    page.set_input_files("input[name=b]", str(photos / "box_in_scene.png"))
    page.click("form[action='/compare'] button[type=submit]")
    page.wait_for_selector("table.metrics")
    shown = page.locator("tr[data-metric]").evaluate_all("rows => rows.map(r => r.dataset.metric)")
    assert {"ssim", "orb_matches", "colour", "phash", "dhash", "cosine"} <= set(shown)
    page.screenshot(path=str(shots / "compare.png"), full_page=True)
    assert not problems, problems
    page.close()


def test_drop_an_image_on_the_search_page(browser, base_url, photos):
    page = browser.new_page()
    problems = watch(page)
    page.goto(base_url + "/")
    data = base64.b64encode((photos / "rocket.jpg").read_bytes()).decode()
    transfer = page.evaluate_handle(
        """(b64) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "rocket.jpg", {type: "image/jpeg"}));
        return transfer; }""",
        data,
    )
    page.dispatch_event("[data-drop]", "drop", {"dataTransfer": transfer})
    assert page.locator(".drop-text").inner_text() == "rocket.jpg"
    assert page.locator(".drop-preview").is_visible()
    page.click("form[action='/search'] button[type=submit]")
    first = page.locator("ol.results li.tile").first
    first.wait_for()
    assert first.get_attribute("data-tier") == "exact"
    assert first.locator(".source").inner_text().startswith("rocket.jpg")
    assert not problems, problems
    page.close()


def test_the_drop_zone_shows_where_the_keyboard_is(browser, base_url):
    """Tabbing to the (invisible) file input outlines its drop zone, as other fields are."""
    page = browser.new_page()
    page.goto(base_url + "/")
    zone = page.locator("[data-drop]").first
    before = zone.evaluate("z => getComputedStyle(z).outlineStyle")
    page.focus("[data-drop] input[type=file]")
    after = zone.evaluate("z => getComputedStyle(z).outlineStyle")
    assert before == "none" and after == "solid"
    page.close()


def test_bulk_add_shows_progress_then_the_report(browser, base_url, files, shots):
    page = browser.new_page()
    problems = watch(page)
    page.goto(base_url + "/collection")
    page.set_input_files(
        "input[name=files]", [str(files["mirrored_fruits"]), str(files["grey_rocket"])]
    )
    assert page.locator("form[action='/collection/add'] .drop-text").inner_text() == (
        "2 files chosen"
    )
    page.click("form[action='/collection/add'] button[type=submit]")
    page.wait_for_url("**/jobs/*")
    assert page.locator("[data-job] progress").count() == 1
    page.wait_for_selector(".report", timeout=60_000)  # the page polls, then shows the report
    assert "2 added" in page.locator(".report").inner_text()
    page.screenshot(path=str(shots / "job.png"), full_page=True)
    page.goto(base_url + "/collection")
    page.screenshot(path=str(shots / "collection.png"))
    page.locator("li.tile a.open").first.click()  # the copies of the collection's first image
    page.wait_for_url("**/collection/*/search")
    assert page.locator("section.query h1").count() == 1
    page.goto(base_url + "/duplicates")
    keeper = page.locator("li.tile.keeper").first
    assert keeper.locator(".badge").inner_text().lower() == "keep"
    page.screenshot(path=str(shots / "duplicates.png"), full_page=True)
    assert not problems, problems
    page.close()


def test_a_job_page_polls_on_through_a_busy_server_and_reloads_for_a_job_it_lost(
    browser, base_url, files
):
    """A 503 (the server busy or closing) is asked again; a 404 (the server restarted and no
    longer knows the job) reloads the page, which says so, instead of "running" for ever."""
    page = browser.new_page()
    answers = {"busy": 2}

    def busy_then_real(route):
        if answers["busy"]:
            answers["busy"] -= 1
            route.fulfill(status=503, json={"code": "stopped", "message": "busy"})
        else:
            route.continue_()

    def is_job_page(url: str) -> bool:
        return "/jobs/" in url and "/api/" not in url

    def running_at_first(route):  # a job quicker than the page's first load still polls
        answer = route.fetch()
        body = answer.text()
        if answers.setdefault("loads", 0) == 0:
            body = re.sub(r'<p class="report">.*?</p>', "", body, flags=re.S)
            body = body.replace('data-state="done"', 'data-state="running"')
        answers["loads"] += 1
        route.fulfill(response=answer, body=body)

    page.route("**/api/jobs/*", busy_then_real)
    page.route(is_job_page, running_at_first)
    page.goto(base_url + "/collection")
    page.set_input_files("input[name=files]", [str(files["edited_cat"])])
    page.click("form[action='/collection/add'] button[type=submit]")
    page.wait_for_url("**/jobs/*")
    page.goto(page.url)  # a load of its own: Playwright does not route a redirect's target
    page.wait_for_selector(".report", timeout=60_000)
    assert answers["busy"] == 0 and answers["loads"] >= 2  # polled through, then reloaded
    page.unroute("**/api/jobs/*")
    page.unroute(is_job_page, running_at_first)
    page.route("**/api/jobs/*", lambda route: route.fulfill(status=404, json={"code": "x"}))
    shown = []

    def job_page(route):  # first as running (so it polls), then as the restarted server has it
        shown.append(route.request.url)
        if len(shown) > 1:
            route.fulfill(status=404, content_type="text/html", body="<p id=gone>no such job</p>")
            return
        answer = route.fetch()
        body = answer.text().replace('data-state="done"', 'data-state="running"')
        route.fulfill(response=answer, body=body)

    page.route(lambda url: "/jobs/" in url and "/api/" not in url, job_page)
    page.reload()
    page.wait_for_selector("#gone", timeout=10_000)
    assert len(shown) == 2
    page.close()


def test_pages_fit_a_phone_screen(browser, base_url, files, shots):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    for path in ("/", "/compare", "/collection", "/duplicates"):
        page.goto(base_url + path)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert fits, f"{path} scrolls sideways on a phone"
    page.goto(base_url + "/")
    page.set_input_files("input[name=file]", str(files["edited_cat"]))
    page.click("form[action='/search'] button[type=submit]")
    page.wait_for_selector("ol.results li.tile")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(shots / "phone-results.png"), full_page=True)
    context.close()


def test_duplicates_page_waits_for_the_search_then_shows_the_groups(
    browser, base_url, app_index, photos, tmp_path, monkeypatch, shots
):
    import pictrace.api.pages.collection as pages

    monkeypatch.setattr(pages, "PAGE_WAIT", 0.0)  # as on a collection too large to wait for
    turned = tmp_path / "turned-fruits.jpg"
    turned.write_bytes(jpeg_bytes(load_rgb(photos / "fruits.jpg").rotate(90, expand=True)))
    (added,) = app_index.add([str(turned)]).added  # the groups found before are stale now
    page = browser.new_page()
    problems = watch(page)
    page.goto(base_url + "/duplicates")
    assert page.locator("[data-job] progress").count() == 1  # the search runs as a job
    page.screenshot(path=str(shots / "duplicates-searching.png"), full_page=True)
    page.wait_for_selector(f"li.tile[data-id='{added}']", timeout=60_000)  # reloaded when done
    assert page.locator("[data-job]").count() == 0
    assert page.locator("li.tile.keeper").count() >= 1
    assert not problems, problems
    page.close()
    app_index.remove(added)


def test_duplicates_page_shows_why_a_search_failed(
    browser, base_url, app_index, photos, tmp_path, monkeypatch
):
    import time

    import pictrace.api.pages.collection as pages
    from pictrace.errors import IndexCorrupt

    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        time.sleep(1.0)  # the page is shown, and polls, before the search fails
        raise IndexCorrupt("stored keypoints cannot be read; re-add the image")

    monkeypatch.setattr(pages, "PAGE_WAIT", 0.0)
    monkeypatch.setattr("pictrace.search.kept.find_duplicates", broken)
    turned = tmp_path / "turned-coffee.jpg"
    turned.write_bytes(jpeg_bytes(load_rgb(photos / "coffee.jpg").rotate(90, expand=True)))
    (added,) = app_index.add([str(turned)]).added
    page = browser.new_page()
    page.goto(base_url + "/duplicates")
    error = page.locator("[data-job] .error")
    error.wait_for(state="visible", timeout=30_000)
    assert "re-add the image" in error.inner_text()
    page.wait_for_timeout(1500)  # no reload that would search again
    assert len(calls) == 1
    page.close()
    app_index.remove(added)


def test_the_api_docs_render_without_internet(browser, base_url):
    """/docs loads Swagger UI from the server itself: every request stays on 127.0.0.1."""
    page = browser.new_page()
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith((base_url, "data:")) else elsewhere.append(r.url),
    )
    page.goto(base_url + "/docs")
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/search" in paths and "/api/images" in paths
    assert not elsewhere, elsewhere
    page.close()


def test_a_long_file_name_never_hides_the_link_to_its_page(browser, base_url, client, site, photos):
    """A result found by a crawl links its page; a long name is cut short before it."""
    from tests.api.test_collection import wait_for

    name = "a-product-photo-with-a-very-long-file-name-from-the-shop-" + "x" * 60 + ".jpg"
    site.file(f"/img/{name}", (photos / "squirrel.jpg").read_bytes())
    site.page("/product.html", f'<img src="/img/{name}">')
    job = client.post("/api/crawl", json={"url": site.url("/product.html")}).json()["job"]
    assert wait_for(client, job)["report"]["added"] == 1
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base_url + "/")
    page.set_input_files("input[name=file]", str(photos / "squirrel.jpg"))
    page.click("form[action='/search'] button[type=submit]")
    tile = page.locator("ol.results li.tile", has=page.locator(f"[title$='{name}']")).first
    link = tile.locator(".source .page a")
    assert link.get_attribute("href") == site.url("/product.html")
    source, shown = tile.locator(".source").bounding_box(), link.bounding_box()
    assert source and shown and shown["x"] + shown["width"] <= source["x"] + source["width"] + 1
