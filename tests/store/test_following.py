"""A store opened read-only beside a writer follows what the writer adds: its
searches find copies of images added after it opened, and a search for duplicates never
calls an image searched that its spaces did not hold."""

from dataclasses import replace

import numpy as np
import pytest

from pictrace import Index
from pictrace.store.embedded import EmbeddedStore
from tests.conftest import load_rgb
from tests.store.test_embedded import SPECS, _entry


def _hits(store: EmbeddedStore, n: int) -> list[int]:
    code = np.frombuffer(bytes([n]) * 8, np.uint8)[None]
    return [i for i, _ in store.nearest("h", code, k=5, radius=0)[0]]


def test_a_reader_catches_up_with_a_writers_adds_and_removals(tmp_path):
    """Removed images leave the reader's spaces too: many removed versions of one picture
    took its votes from the current one (a helper's long-lived reader ranked it 13th)."""
    writer = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    first, second = writer.add([_entry(1), _entry(2)])
    writer.flush()
    reader = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    (third,) = writer.add([_entry(3)])
    writer.remove([first])
    assert _hits(reader, 3) == [] and reader.searchable_ids() == [second]  # not caught up
    reader.catch_up()
    assert _hits(reader, 3) == [third] and _hits(reader, 1) == []
    assert {name: space.size for name, space in reader.spaces.items()} == {"h": 2, "v": 2, "r": 6}
    assert reader.searchable_ids() == [second, third]
    reader.catch_up()  # nothing new: the same spaces, nothing added twice
    assert _hits(reader, 3) == [third] and reader.spaces["h"].size == 2
    reader.close()
    writer.close()


def test_a_read_only_index_finds_copies_of_what_a_server_added_since(photos, tmp_path):
    cat = load_rgb(photos / "chelsea_cat.jpg")
    with Index.open(tmp_path / "lib") as writer:
        writer.add([str(photos / "coffee.jpg"), str(photos / "rocket.jpg")])
        with Index.open(tmp_path / "lib", readonly=True) as reader:
            writer.add([str(photos / "chelsea_cat.jpg")])  # after the reader opened
            small = cat.resize((cat.width // 2, cat.height // 2)).crop((20, 20, 220, 180))
            best = reader.search(small, k=1).matches[0]
            assert best.source.endswith("chelsea_cat.jpg") and best.tier == "copy"


def test_duplicates_beside_a_writer_leave_its_new_images_to_the_next_run(photos, tmp_path):
    cat = load_rgb(photos / "chelsea_cat.jpg")
    cat.resize((cat.width // 2, cat.height // 2)).save(tmp_path / "cat_half.jpg", quality=85)
    with Index.open(tmp_path / "lib") as writer:
        writer.add([str(photos / "coffee.jpg"), str(photos / "rocket.jpg")])
        with Index.open(tmp_path / "lib", readonly=True) as reader:
            reader.store.catch_up = lambda: None  # the writer adds while the run goes on
            writer.add([str(photos / "chelsea_cat.jpg"), str(tmp_path / "cat_half.jpg")])
            assert reader.duplicates() == []  # not searched yet: not called searched either
        with Index.open(tmp_path / "lib", readonly=True) as reader:
            groups = reader.duplicates()
    assert [sorted(m.source.rsplit("/", 1)[-1] for m in g.members) for g in groups] == [
        ["cat_half.jpg", "chelsea_cat.jpg"]
    ]


def test_reads_in_one_snapshot_see_one_moment_of_the_catalogue(tmp_path):
    """stats counts the images and their features in one snapshot: a write between the
    two counts made features look missing ("outdated") that were not."""
    writer = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    writer.add([_entry(1)])
    reader = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    with reader.consistent():
        before = reader.count(), reader.feature_counts()
        writer.add([_entry(2)])
        assert (reader.count(), reader.feature_counts()) == before
    assert reader.count() == 2
    reader.close()
    writer.close()


def test_a_write_while_a_reader_opens_is_caught_up_once(tmp_path, monkeypatch):
    """The reader reads its spaces and notes what they hold in one read of the catalogue: a
    write in between used to be in the spaces already and then added again."""
    writer = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    writer.add([_entry(1)])  # not saved: the reader rebuilds its spaces from the catalogue
    load = EmbeddedStore._load_space

    def load_beside_a_write(self, spec):
        if self.readonly and not writer.catalogue.newest_id() > 1:
            writer.add([_entry(2)])
        return load(self, spec)

    monkeypatch.setattr(EmbeddedStore, "_load_space", load_beside_a_write)
    reader = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    reader.catch_up()
    assert {name: space.size for name, space in reader.spaces.items()} == {"h": 2, "v": 2, "r": 6}
    assert len(_hits(reader, 2)) == 1
    reader.close()
    writer.close()


@pytest.mark.parametrize("removals", [False, True])
def test_features_computed_again_under_the_same_id_are_read_again(tmp_path, removals):
    """An upgrade computes an image's features again and keeps its id: no new id tells the
    reader, but spaces holding fewer than the catalogue's current values do (also when
    removals since would have made up the count)."""
    older = {name: replace(spec, version=0) for name, spec in SPECS.items()}
    stale = _entry(1)
    stale = replace(stale, features={n: (0, blob) for n, (_, blob) in stale.features.items()})
    first = EmbeddedStore(tmp_path, older, hnsw_threshold=1000)
    first.add([stale])
    first.close()
    writer = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    (other,) = writer.add([_entry(2)])
    reader = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert reader.spaces["h"].size == 1  # the stale image's values are an older version's
    if removals:
        writer.remove([other])
    (same,) = writer.add([_entry(1)])  # the same bytes: the same id, current values
    reader.catch_up()
    assert _hits(reader, 1) == [same]
    assert reader.searchable_ids() == ([same] if removals else sorted([same, other]))
    reader.close()
    writer.close()
