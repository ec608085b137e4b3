"""`pictrace serve` stopped the usual way (SIGTERM, as a service manager or `kill` does)
saves what it added: the next command finds the index's searchable copies current."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import faiss
import httpx
import pytest

from pictrace.store.catalogue import Catalogue
from tests.conftest import load_rgb, png_bytes

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _generation(folder: Path) -> int:
    catalogue = Catalogue(folder / "catalogue.sqlite", readonly=True)
    try:
        return catalogue.generation()
    finally:
        catalogue.close()


def _hnsw(path: Path) -> bool:
    saved = faiss.read_index(str(path))  # held: the inner index is its own
    return "HNSW" in type(faiss.downcast_index(saved.index)).__name__


def _saved_generations(folder: Path) -> set[int]:
    return {json.loads(p.read_text())["generation"] for p in (folder / "vectors").glob("*.json")}


def test_sigterm_saves_the_searchable_copies(built_index, tmp_path, photos):
    """... as closing the index would: an embedding space grown past the HNSW threshold
    (here 3 images) is saved as HNSW, also when the server saved it flat once writes paused
    (it was kept flat, and rebuilt by every open); the server builds it while it runs."""
    folder = tmp_path / "index"
    shutil.copytree(built_index, folder)
    port = free_port()
    command = [sys.executable, "-m", "pictrace.cli", "--index", str(folder), "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PICTRACE_HNSW_THRESHOLD": "3"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "no server"
            time.sleep(0.2)
        picture = png_bytes(load_rgb(photos / "coffee.jpg").rotate(90, expand=True))
        added = httpx.post(base + "/api/images", files=[("files", ("turned.png", picture))])
        assert added.status_code == 201
        # a search beside the server: the files on disk are behind, which is expected while
        # a writer holds the index (it saves them when it stops), so nothing to warn about
        beside = subprocess.run(
            [*command[:-1], "search", str(photos / "coffee.jpg"), "-k", "1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert beside.returncode == 0 and not beside.stderr.strip(), beside.stderr
        while _saved_generations(folder) != {_generation(folder)}:  # the idle save, flat
            assert time.monotonic() < deadline, "the server never saved its searchable copies"
            time.sleep(0.2)
        while not _hnsw(folder / "vectors" / "cnn.faiss"):  # built beside it, and saved
            assert time.monotonic() < deadline, "the server never built its grown space"
            time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert _saved_generations(folder) == {_generation(folder)}
    assert Path(folder / "write.lock").exists()
    assert _hnsw(folder / "vectors" / "cnn.faiss")


def test_a_read_only_open_of_stale_files_warns_once(built_index, tmp_path, photos):
    folder = tmp_path / "index"
    shutil.copytree(built_index, folder)
    for meta in (folder / "vectors").glob("*.json"):
        meta.unlink()  # as after a crash: every searchable copy is rebuilt
    command = [sys.executable, "-m", "pictrace.cli", "--index", str(folder)]
    done = subprocess.run(
        [*command, "search", str(photos / "coffee.jpg"), "-k", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if "searchable copies" in line]
    assert len(warnings) == 1 and "keypoints" in warnings[0] and "pictrace add" in warnings[0]
