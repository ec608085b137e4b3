"""The catalogue refuses what it must not write to."""

import sqlite3

import pytest

from pictrace.errors import IndexTooNew
from pictrace.store.catalogue import Catalogue


def test_a_catalogue_of_a_newer_layout_is_refused_untouched(tmp_path):
    path = tmp_path / "catalogue.sqlite"
    Catalogue(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
        db.execute("ALTER TABLE features RENAME TO feature_values")
    for readonly in (False, True):
        with pytest.raises(IndexTooNew, match="newer PicTrace"):
            Catalogue(path, readonly=readonly)
    with sqlite3.connect(path) as db:  # no empty table made beside the renamed one
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "features" not in tables
