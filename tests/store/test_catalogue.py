"""The catalogue refuses what it must not write to."""

import sqlite3

import pytest

from pictrace.errors import IndexTooNew
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
