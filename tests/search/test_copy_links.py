"""What searches for duplicates found is kept in the index folder: a later run (another
process, after a restart) searches only new images, an interrupted run resumes, removed
images drop out, and anything that changes what a search calls a copy searches every image
again. A read-only index never writes the file."""

from __future__ import annotations

import sqlite3

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


def test_an_interrupted_search_resumes(index_copy, monkeypatch):
    monkeypatch.setattr(finding, "CHUNK", 4)
    total = index_copy.store.count()

    def stop_after_six(done, _total):
        if done > 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        index_copy.duplicates(progress=stop_after_six)
    rest, searched = counted(index_copy)
    assert searched == total - 4  # the first chunk of four was kept
    assert members(rest) == members(counted(index_copy, fresh=True)[0])


def test_other_settings_search_every_image_again(index_copy):
    counted(index_copy)
    location = index_copy.location
    with Index.open(location, readonly=True, copy_threshold=0.6) as stricter:
        _, searched = counted(stricter)
    assert searched == index_copy.store.count()
    with Index.open(location, readonly=True) as same:
        assert counted(same)[1] == 0  # the read-only run did not replace what was kept


def test_a_read_only_index_writes_nothing(index_copy, tmp_path):
    index_copy.close()
    kept = tmp_path / "index" / "copies.sqlite"
    assert not kept.exists()
    with Index.open(tmp_path / "index", readonly=True) as reader:
        _, searched = counted(reader)
        assert searched == reader.store.count()
        assert counted(reader, fresh=False)[1] == 0  # kept in memory meanwhile
    assert not kept.exists()


def test_kept_links_round_trip_and_refuse_damage(tmp_path):
    path = tmp_path / "copies.sqlite"
    links = CopyLinks(path, "key-1")
    turn = np.array([[0.0, -1.0, 10.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    links.record([(1, [(2, turn), (3, None)]), (4, [])])
    assert links.searched() == {1, 4}
    found = links.links({1, 2, 3, 4})
    assert [(a, b) for a, b, _ in found] == [(1, 2), (1, 3)]
    assert np.array_equal(found[0][2], turn) and found[1][2] is None
    assert links.links({1, 3}) == [(1, 3, None)]  # 2 was removed
    links.close()
    assert CopyLinks(path, "key-1").searched() == {1, 4}
    assert CopyLinks(path, "key-2").searched() == set()  # another key starts over

    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO links VALUES (5, 6, x'0102')")
    with pytest.raises(IndexCorrupt):
        CopyLinks(path, "key-2").links({5, 6})
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(IndexCorrupt):
        CopyLinks(path, "key-2")
