"""The catalogue refuses what it must not write to."""

import sqlite3

import pytest

from pictrace.errors import IndexTooNew, SourceUnreadable
from pictrace.store import layout
from pictrace.store.catalogue import Catalogue


def test_a_catalogue_of_a_newer_layout_is_refused_untouched(tmp_path):
    path = tmp_path / "catalogue.sqlite"
    with sqlite3.connect(path) as db:  # as a later release might lay it out
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema', '99')")
        db.execute("CREATE TABLE feature_values (image_id INTEGER, value BLOB)")
    for readonly in (False, True):
        with pytest.raises(IndexTooNew, match="newer PicTrace"):
            Catalogue(path, readonly=readonly)
    with sqlite3.connect(path) as db:  # no empty table made beside the renamed one
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert "features" not in tables and journal != "wal"  # nor its journal changed


def test_a_catalogue_is_created_whole_or_not_at_all(tmp_path, monkeypatch):
    """Its tables and meta rows land in one transaction: a reader opening it meanwhile finds
    no index yet (not a corrupt one), and a creation cut short leaves no table behind."""
    path = tmp_path / "catalogue.sqlite"
    sqlite3.connect(path).close()  # the file exists, nothing is in it yet
    with pytest.raises(SourceUnreadable, match=r"no PicTrace index at .* yet"):
        Catalogue(path, readonly=True)

    def cut_short() -> None:
        raise OSError("the creating process stopped here")

    monkeypatch.setattr(layout.uuid, "uuid4", cut_short)
    with pytest.raises(OSError):
        Catalogue(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT name FROM sqlite_master").fetchall() == []
    db.close()
    monkeypatch.undo()
    Catalogue(path).close()
    reader = Catalogue(path, readonly=True)
    assert reader.generation() == 0 and reader.identity()
    reader.close()
