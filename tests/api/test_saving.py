"""A running server saves the searchable copies once writes pause, so a command beside it
(``pictrace search``) loads them instead of rebuilding them from the catalogue."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time

import httpx

from pictrace import Index
from pictrace.api import state
from pictrace.api.app import create_app
from pictrace.api.state import Saver
from tests.api.live import live_server
from tests.conftest import load_rgb, png_bytes


def run_writes(saver: Saver, gaps: list[float], wait: float) -> list[float]:
    """Times (from the first write) at which ``saver`` saved, for writes ``gaps`` apart."""
    saves: list[float] = []

    async def save() -> None:
        saves.append(time.monotonic() - start)

    async def main() -> None:
        for gap in gaps:
            saver.wrote(save)
            await asyncio.sleep(gap)
        await asyncio.sleep(wait)
        await saver.aclose()

    start = time.monotonic()
    asyncio.run(main())
    return saves


def test_writes_close_together_are_saved_once_after_they_pause():
    saves = run_writes(Saver(idle=0.2, latest=10), [0.02] * 5, wait=0.5)
    assert len(saves) == 1 and saves[0] >= 0.2 + 4 * 0.02


def test_writes_that_never_pause_are_saved_at_the_latest_after_the_first():
    saves = run_writes(Saver(idle=0.2, latest=0.3), [0.05] * 16, wait=0.5)
    assert len(saves) >= 2 and saves[0] < 0.7  # not only once all 0.8 s of writes ended


def test_a_write_during_a_save_is_saved_again():
    saver, saves = Saver(idle=0.05, latest=10), []

    async def slow_save() -> None:
        saves.append("started")
        await asyncio.sleep(0.2)

    async def main() -> None:
        saver.wrote(slow_save)
        await asyncio.sleep(0.1)  # the save is under way
        saver.wrote(slow_save)
        await asyncio.sleep(0.6)
        await saver.aclose()

    asyncio.run(main())
    assert saves == ["started", "started"]


def test_a_search_beside_the_server_loads_what_it_added(
    built_index, tmp_path, photos, caplog, monkeypatch
):
    monkeypatch.setattr(state, "SAVE_IDLE", 0.2)
    folder = tmp_path / "index"
    shutil.copytree(built_index, folder)
    picture = png_bytes(load_rgb(photos / "coffee.jpg").rotate(90, expand=True))
    with Index.open(folder) as index, live_server(create_app(index)) as base:
        added = httpx.post(base + "/api/images", files=[("files", ("turned.png", picture))])
        assert added.status_code == 201
        caplog.set_level(logging.INFO, logger="pictrace")
        deadline = time.monotonic() + 30
        while True:
            caplog.clear()
            with Index.open(folder, readonly=True) as beside:
                assert beside.stats().images == index.stats().images
            if "rebuilt" not in caplog.text:
                break
            assert time.monotonic() < deadline, "the server never saved its searchable copies"
            time.sleep(0.2)


def test_closing_waits_for_a_save_under_way_and_drops_one_waiting():
    saver, done = Saver(idle=0.0, latest=10), []

    async def slow_save() -> None:
        await asyncio.sleep(0.2)
        done.append("saved")

    async def main() -> None:
        saver.wrote(slow_save)
        await asyncio.sleep(0.05)  # the save is under way
        await saver.aclose()
        assert done == ["saved"]  # not cut short
        saver.wrote(slow_save)  # after closing: nothing more is started
        await asyncio.sleep(0.3)

    asyncio.run(main())
    assert done == ["saved"]
