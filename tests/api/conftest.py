"""Fixtures for the web app tests: a private copy of the sample index, the app over it, a
local web site serving the sample photos, and a TestClient."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from pictrace import Index, Settings, load_settings
from pictrace.api.app import create_app
from tests.ingest.site import Site

with warnings.catch_warnings():
    # starlette asks for the httpx2 package; plain httpx still works for the TestClient.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def app_settings() -> Settings:
    """Downloads may reach the test site on 127.0.0.1, and nothing else private."""
    return load_settings(allow_hosts=("127.0.0.1",), fetch_timeout=2.0, max_redirects=3)


@pytest.fixture(scope="module")
def app_index(
    built_index: Path, tmp_path_factory: pytest.TempPathFactory, app_settings: Settings
) -> Iterator[Index]:
    target = tmp_path_factory.mktemp("app") / "index"
    shutil.copytree(built_index, target)
    with Index.open(target, settings=app_settings) as index:
        yield index


@pytest.fixture(scope="module")
def client(app_index: Index, app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_index, app_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def site(photos: Path) -> Iterator[Site]:
    """A web site on 127.0.0.1 serving a few of the sample photos and a gallery page."""
    web = Site()
    for name in ("coffee.jpg", "rocket.jpg", "box.png", "chelsea_cat.jpg"):
        kind = "image/png" if name.endswith(".png") else "image/jpeg"
        web.file(f"/img/{name}", (photos / name).read_bytes(), kind)
    web.page(
        "/gallery.html",
        """<html><head><title>Gallery</title>
        <meta property="og:image" content="/img/rocket.jpg"></head>
        <body><img src="img/coffee.jpg" alt=""><a href="/img/box.png">box</a>
        <a href="/more.html">more</a></body></html>""",
    )
    web.page("/more.html", '<html><body><img src="/img/chelsea_cat.jpg"></body></html>')
    cut = (photos / "coffee.jpg").read_bytes()[:600]  # a JPEG's first bytes: it cannot decode
    web.file("/img/cut.jpg", cut)
    web.page("/broken.html", '<img src="/img/cut.jpg"><img src="/img/gone.jpg">')
    with web.running():
        yield web
