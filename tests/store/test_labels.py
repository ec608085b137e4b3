"""Text search over stored labels matches whole words (and plurals), in a real catalogue."""

from __future__ import annotations

import pytest

from pictrace.store.catalogue import Catalogue, NewImage

LABELS = {
    "goldfish.jpg": (("goldfish, Carassius auratus", 0.9),),
    "car.jpg": (("sports car, sport car", 0.8), ("convertible", 0.1)),
    "cat.jpg": (("tabby, tabby cat", 0.7), ("Egyptian cat", 0.2)),
    "panda.jpg": (("lesser panda, red panda, panda, bear cat, cat bear, Ailurus fulgens", 0.6),),
    "carton.jpg": (("carton", 0.5),),
    "glass.jpg": (("beer glass", 0.4),),
    "berry.jpg": (("strawberry", 0.3),),
}


@pytest.fixture
def catalogue(tmp_path):
    catalogue = Catalogue(tmp_path / "catalogue.sqlite")
    ids = {}
    with catalogue.transaction() as db:
        for name, labels in LABELS.items():
            image = NewImage(name, None, name, name, 10, 10, "jpeg", 100, 0, {}, labels)
            ids[name] = catalogue.insert(db, image)
    yield lambda text: [
        next(n for n, i in ids.items() if i == hit)
        for hit, _ in catalogue.label_hits(text.split(), 10)
    ]
    catalogue.close()


def test_words_not_parts_of_words(catalogue):
    assert catalogue("car") == ["car.jpg"]  # not Carassius, not carton
    assert catalogue("cat") == ["cat.jpg", "panda.jpg"]  # tabby 0.9 in all, "bear cat" 0.6
    assert catalogue("tabby cat") == ["cat.jpg"]
    assert catalogue("sports-car") == ["car.jpg"]


def test_plurals_and_wildcards(catalogue):
    assert catalogue("cats") == ["cat.jpg", "panda.jpg"]
    assert catalogue("glasses") == ["glass.jpg"]
    assert catalogue("strawberries") == ["berry.jpg"]
    assert catalogue("%") == [] and catalogue("_") == [] and catalogue("c%") == []
    assert catalogue("zzzz") == []


def test_a_label_named_by_the_words_counts_more_than_one_with_them_in_a_synonym(tmp_path):
    """A tabby at 0.4 ranks before a red panda at 0.95 for "cat": the panda is a cat only in
    its fourth synonym, "bear cat", the tabby in its second, "tabby cat"."""
    catalogue = Catalogue(tmp_path / "catalogue.sqlite")
    with catalogue.transaction() as db:
        panda = (("lesser panda, red panda, panda, bear cat, cat bear, Ailurus fulgens", 0.95),)
        tabby = (("tabby, tabby cat", 0.4),)
        ids = [
            catalogue.insert(db, NewImage(n, None, n, n, 10, 10, "jpeg", 100, 0, {}, labels))
            for n, labels in (("panda.jpg", panda), ("tabby.jpg", tabby))
        ]
    assert [hit for hit, _ in catalogue.label_hits(["cat"], 10)] == [ids[1], ids[0]]
    assert [hit for hit, _ in catalogue.label_hits(["panda"], 10)] == [ids[0]]
    catalogue.close()


def test_records_of_more_ids_than_one_statement_may_bind_come_with_their_labels(tmp_path):
    import sqlite3

    catalogue = Catalogue(tmp_path / "catalogue.sqlite")
    with catalogue.transaction() as db:
        for n in range(1_200):
            labels = (("tabby, tabby cat", 0.5),) if n % 2 else ()
            image = NewImage(f"{n}.jpg", None, f"b{n}", f"p{n}", 10, 10, "jpeg", 100, 0, {}, labels)
            catalogue.insert(db, image)
    catalogue._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)  # SQLite's old default
    records = catalogue.records(catalogue.all_ids())
    assert len(records) == 1_200
    assert sum(1 for r in records.values() if r.labels == ("tabby, tabby cat",)) == 600
    catalogue.close()
