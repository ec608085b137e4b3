"""What searches for duplicates found is kept in the index folder: a later run (another
process, after a restart, a read-only one beside a writer) searches only new images, an
interrupted run resumes, removed images drop out, and anything that changes what a search
calls a copy (settings, the calibration, a new catalogue) searches every image again. A
damaged file is set aside."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import pictrace.search.duplicates as finding
from pictrace import Index
from pictrace.errors import IndexCorrupt
from pictrace.store.copylinks import CopyLinks
from tests.conftest import jpeg_bytes, load_rgb


def members(groups) -> list[list[int]]:
    return sorted(sorted(m.id for m in g.members) for g in groups)


def counted(index: Index, **options) -> tuple[list, int]:
    calls: list[int] = []
    groups = index.duplicates(progress=lambda done, total: calls.append(done), **options)
    return groups, len(calls)


def test_another_process_reuses_what_was_found(index_copy):
    first, searched = counted(index_copy)
    assert searched == index_copy.store.count() and first
    with Index.open(index_copy.location, readonly=True) as reader:  # a new process, say
        again, none = counted(reader)
    assert none == 0 and members(again) == members(first)


def test_new_images_alone_are_searched_and_removed_ones_drop_out(index_copy, photos, tmp_path):
    counted(index_copy)
    turned = tmp_path / "turned_rocket.jpg"
    turned.write_bytes(jpeg_bytes(load_rgb(photos / "rocket.jpg").rotate(90, expand=True)))
    (added,) = index_copy.add([turned]).added
    grown, searched = counted(index_copy)
    assert searched == 1
    group = next(g for g in grown if added in [m.id for m in g.members])
    assert any(m.source.endswith("rocket.jpg") for m in group.members if m.id != added)
    assert members(grown) == members(counted(index_copy, fresh=True)[0])

    index_copy.remove(added)
    shrunk, none = counted(index_copy)
    assert none == 0
    assert all(added not in [m.id for m in g.members] for g in shrunk)


def test_an_interrupted_search_resumes(index_copy, monkeypatch, caplog):
    monkeypatch.setattr(finding, "CHUNK", 4)
    total = index_copy.store.count()

    def stop_after_six(done, _total):
        if done > 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_copy.duplicates(progress=stop_after_six)
    assert f"the copies found for 4 of the {total} images searched for are kept" in caplog.text
    rest, searched = counted(index_copy)
    assert searched == total - 4  # the first chunk of four was kept
    assert members(rest) == members(counted(index_copy, fresh=True)[0])


@pytest.mark.parametrize(
    "change",
    [{"copy_threshold": 0.6}, {"hash_radius": 10}, {"verify_top": 3}, {"candidates": 16}],
)
def test_other_settings_search_every_image_again(index_copy, change):
    counted(index_copy)
    with Index.open(index_copy.location, readonly=True, **change) as other:
        assert counted(other)[1] == index_copy.store.count()
        assert counted(other)[1] == 0  # and keeps what it found under its own settings


def test_a_refitted_calibration_searches_every_image_again(index_copy):
    counted(index_copy)
    calibrator = index_copy.searcher.calibrator
    index_copy.searcher.calibrator = dataclasses.replace(calibrator, bias=calibrator.bias - 0.5)
    assert counted(index_copy)[1] == index_copy.store.count()  # as calibrate() does


def test_a_new_catalogue_in_the_folder_starts_over(index_copy, photos):
    folder = Path(index_copy.location)
    counted(index_copy)
    index_copy.close()
    (folder / "catalogue.sqlite").unlink()
    shutil.rmtree(folder / "vectors")
    with Index.open(folder) as fresh:  # image ids start again at 1
        fresh.add([photos / "coffee.jpg", photos / "rocket.jpg"])
        groups, searched = counted(fresh)
    assert searched == 2 and groups == []


def test_a_read_only_index_keeps_its_searches_too(index_copy):
    total = index_copy.store.count()
    with Index.open(index_copy.location, readonly=True) as reader:  # beside the writer
        assert counted(reader)[1] == total
    assert counted(index_copy)[1] == 0  # the writer reads what the reader kept


def test_a_damaged_file_is_set_aside(index_copy):
    kept = Path(index_copy.location) / "copies.sqlite"
    first, _ = counted(index_copy)
    index_copy.close()
    kept.write_bytes(b"not a database" * 100)
    with Index.open(index_copy.location) as reopened:
        again, searched = counted(reopened)
        assert searched == reopened.store.count() and members(again) == members(first)
    assert [p.name.split(".damaged-")[0] for p in kept.parent.glob("*.damaged-*")] == [
        "copies.sqlite"
    ]


def test_kept_links_round_trip(tmp_path):
    path = tmp_path / "copies.sqlite"
    links = CopyLinks(path, "key-1")
    turn = np.array([[0.0, -1.0, 10.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    links.record([(1, [(2, turn), (3, None)]), (4, [])])
    assert links.searched() == {1, 4}
    found = links.links({1, 2, 3, 4})
    assert [(a, b) for a, b, _ in found] == [(1, 2), (1, 3)]
    assert np.array_equal(found[0][2], turn) and found[1][2] is None
    assert links.links({1, 3}) == [(1, 3, None)]  # 2 was removed
    links.forget([1])
    assert links.searched() == {4} and links.links({1, 2, 3, 4}) == []
    links.close()
    assert CopyLinks(path, "key-1").searched() == {4}
    assert CopyLinks(path, "key-2").searched() == set()  # another key starts over

    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO links VALUES ('key-2', 5, 6, x'0102')")
    with pytest.raises(IndexCorrupt, match="--fresh"):
        CopyLinks(path, "key-2").links({5, 6})


def test_processes_with_other_settings_share_the_file_without_mixing(tmp_path):
    """Each key keeps its own rows (a server and a command with other settings), and only
    the most recently used few keys are kept."""
    path = tmp_path / "copies.sqlite"
    strict, loose = CopyLinks(path, "strict"), CopyLinks(path, "loose")
    strict.record([(1, [(2, None)])])
    loose.record([(1, []), (3, [(4, None)])])
    assert strict.searched() == {1} and strict.links({1, 2, 3, 4}) == [(1, 2, None)]
    assert loose.searched() == {1, 3} and loose.links({1, 2, 3, 4}) == [(3, 4, None)]
    loose.clear()
    assert strict.searched() == {1} and loose.searched() == set()
    for n in range(5):
        CopyLinks(path, f"other-{n}").close()
    assert CopyLinks(path, "strict").searched() == set()  # pushed out by newer keys


def test_a_file_damaged_inside_or_unwritable_costs_searches_not_the_run(tmp_path):
    path = tmp_path / "copies.sqlite"
    links = CopyLinks(path, "key")
    links.record([(i, [(i + 1, None)]) for i in range(2000)])
    links.close()
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # the header reads, the pages do not
    path.write_bytes(bytes(data))
    damaged = CopyLinks(path, "key")
    assert damaged.searched() in (set(), set(range(2000)))  # never an error
    damaged.record([(7, [])])
    assert 7 in damaged.searched()

    readonly = tmp_path / "readonly.sqlite"
    CopyLinks(readonly, "key").record([(1, [])])
    broken = CopyLinks(readonly, "key")
    broken._db.execute("PRAGMA query_only = ON")  # as a file this user cannot write
    broken.record([(2, [])])  # in memory from here on
    assert broken.searched() == {2}


def test_kept_searches_do_not_outlive_a_catalogue_restored_from_a_backup(photos, tmp_path):
    """A catalogue put back from a backup gives out again the ids it had not given then:
    the links kept for the image that had such an id are not another image's."""
    from PIL import Image

    folder = tmp_path / "a"
    folder.mkdir()
    for name in ("coffee.jpg", "rocket.jpg"):
        shutil.copy(photos / name, folder / name)
    index_dir = tmp_path / "index"
    with Index.open(index_dir) as index:
        index.add([folder])
    shutil.copy(index_dir / "catalogue.sqlite", tmp_path / "backup.sqlite")
    Image.open(folder / "coffee.jpg").resize((200, 150)).save(tmp_path / "small.jpg")
    with Index.open(index_dir) as index:
        (copy,) = index.add([tmp_path / "small.jpg"]).added
        assert [len(g.members) for g in index.duplicates()] == [2]
    for suffix in ("", "-wal", "-shm"):
        (index_dir / f"catalogue.sqlite{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.sqlite", index_dir / "catalogue.sqlite")
    with Index.open(index_dir) as index:
        assert index.add([photos / "astronaut.jpg"]).added == (copy,)  # the same id again
        assert index.duplicates() == []


@pytest.mark.parametrize("step", ["record", "links"])
def test_a_file_that_fails_during_a_run_costs_searches_not_the_groups(
    index_copy, photos, tmp_path, monkeypatch, step
):
    """The file locked too long (or a full disk) as a run records what it found, or reads
    the links back: what it held is lost, so every image is searched again, in memory, and
    the groups (which later requests are answered with) are whole, not only this run's."""
    before = members(counted(index_copy)[0])
    turned = tmp_path / "turned_rocket.jpg"
    turned.write_bytes(jpeg_bytes(load_rgb(photos / "rocket.jpg").rotate(90, expand=True)))
    (added,) = index_copy.add([turned]).added
    original = getattr(CopyLinks, step)

    def locked_once(self, *args):
        if not getattr(self, "locked_once", False):
            self.locked_once, real = True, self._db

            class Locked:
                def __enter__(self):
                    raise sqlite3.OperationalError("database is locked")

                def __exit__(self, *exc):
                    return False

                def execute(self, *args, **kwargs):
                    raise sqlite3.OperationalError("database is locked")

                def __getattr__(self, name):
                    return getattr(real, name)

            self._db = Locked()
        return original(self, *args)

    monkeypatch.setattr(CopyLinks, step, locked_once)
    groups, searched = counted(index_copy)
    assert searched >= index_copy.store.count() - 1  # every image again (the new one twice)
    assert all(group in members(groups) for group in before)  # the earlier runs' groups too
    assert any(added in g for g in members(groups))
    assert members(index_copy.known_duplicates()) == members(groups)
    assert members(counted(index_copy, fresh=True)[0]) == members(groups)
