"""A saved space is used only when it is the catalogue's: restored backups, a second writer, a
damaged file and removals from HNSW all lead to a rebuild, never to wrong neighbours."""

import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np

from pictrace.store.embedded import EmbeddedStore
from tests.store.test_embedded import SPECS, _entry


def _hits(store: EmbeddedStore, n: int) -> list[int]:
    """The ids whose hash is exactly that of entry ``n``."""
    code = np.frombuffer(bytes([n]) * 8, np.uint8)[None]
    return [i for i, _ in store.nearest("h", code, k=5, radius=0)[0]]


def _sizes(store: EmbeddedStore) -> dict[str, int]:
    return {name: space.size for name, space in store.spaces.items()}


def test_a_restored_catalogue_written_to_again_does_not_reuse_the_saved_spaces(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(1)])
    store.close()
    shutil.copy(tmp_path / "catalogue.sqlite", tmp_path / "backup.sqlite")
    for n in (2, 3):  # two writes: the saved spaces are two generations on
        store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
        store.add([_entry(n)])
        store.close()
    os.replace(tmp_path / "backup.sqlite", tmp_path / "catalogue.sqlite")
    # two other writes bring the restored catalogue to the same generation, and the process
    # dies before it saves its spaces (a server killed after two uploads)
    script = (
        "import os, sys; sys.path[:0] = sys.argv[2:]\n"
        "from tests.store.test_embedded import SPECS, _entry\n"
        "from pictrace.store.embedded import EmbeddedStore\n"
        "store = EmbeddedStore(__import__('pathlib').Path(sys.argv[1]), SPECS, 1000)\n"
        "store.add([_entry(4)]); store.add([_entry(5)])\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path), *sys.path], check=False)
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert _hits(store, 2) == [] and _hits(store, 3) == []  # not the lost images' values
    assert len(_hits(store, 4)) == 1 and len(_hits(store, 5)) == 1
    store.close()


def test_a_space_that_missed_another_writers_images_is_rebuilt(tmp_path):
    first = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    first.add([_entry(1)])
    (tmp_path / "write.lock").unlink()  # someone took the lock file for a stale one
    second = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    second.add([_entry(2)])
    second.close()
    first.add([_entry(3)])  # saved last, with the latest marks, without image 2
    first.close()
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert len(_hits(store, 2)) == 1
    assert _sizes(store)["h"] == _sizes(store)["v"] == store.count() == 3
    store.close()


def test_a_damaged_space_file_that_faiss_still_reads_is_rebuilt(tmp_path, caplog):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    ids = store.add([_entry(n) for n in range(1, 6)])
    store.close()
    path = tmp_path / "vectors" / "h.faiss"
    data = bytearray(path.read_bytes())
    data[-16:] = b"\xff" * 16  # the end of the id map: two ids garbled
    path.write_bytes(bytes(data))
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert _hits(store, 5) == [ids[4]]
    assert "rebuilt in memory" in caplog.text
    store.close()


def test_removals_from_an_hnsw_space_are_not_saved_with_it(tmp_path):
    """HNSW cannot remove ids: the space is saved only once rebuilt, when the store closes."""
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=2)
    ids = store.add([_entry(n) for n in range(1, 8)])
    store.close()
    (tmp_path / "vectors" / "v.json").unlink()  # rebuilt at the next open: HNSW from 2 on
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=2)
    assert store.spaces["v"].hnsw
    store.remove(ids[:3])
    store.flush()  # as after every removal: the other spaces are saved, this one is not
    assert not (tmp_path / "vectors" / "v.json").exists()
    assert (tmp_path / "vectors" / "h.json").exists()
    store.close()  # rebuilt and saved when the store closes
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=2, readonly=True)
    assert _sizes(store)["v"] == 4 and store.spaces["v"].hnsw
    store.close()


def test_damaged_vectors_with_their_ids_and_size_intact_are_rebuilt(tmp_path, caplog):
    """Bytes garbled inside the vectors (not the ids, not the size) passed every mark, and a
    search answered from them; the file's CRC-32 now tells, and the space is rebuilt."""
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(n) for n in range(1, 6)])
    before = store.nearest("v", store.stacked(["v"], [3])["v"].values, 5)[0]
    store.close()
    path = tmp_path / "vectors" / "v.faiss"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = b"X" * 16  # inside the vector data
    path.write_bytes(bytes(data))
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert store.nearest("v", store.stacked(["v"], [3])["v"].values, 5)[0] == before
    assert "damaged" in caplog.text
    store.close()


def test_features_of_another_version_are_named_by_both_ways_of_finding_them(tmp_path):
    """The catalogue's two index lookups per feature agree with counting every value (the
    way any store can tell), for a version older and one newer than the current."""
    from pictrace.store.base import Store

    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(n) for n in range(1, 4)])
    versions = {name: spec.version for name, spec in SPECS.items()}
    assert store.outdated(versions) == Store.outdated(store, versions) == []
    for shift, name in ((-1, "h"), (1, "v")):
        changed = {**versions, name: versions[name] + shift}
        assert store.outdated(changed) == Store.outdated(store, changed) == [name]
    store.close()


def test_a_damaged_stored_value_is_left_out_of_a_rebuilt_space_with_a_warning(tmp_path, caplog):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    ids = store.add([_entry(n) for n in (1, 2, 3)])
    store.close()
    with sqlite3.connect(tmp_path / "catalogue.sqlite") as db:  # a disk error in one blob
        db.execute(
            "UPDATE features SET value = x'0102' WHERE image_id = ? AND name = 'v'", (ids[1],)
        )
    shutil.rmtree(tmp_path / "vectors")  # the spaces are rebuilt from the catalogue
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert _sizes(store)["v"] == 2 and _sizes(store)["h"] == 3
    assert len(_hits(store, 2)) == 1  # the image itself is still found by its other values
    assert f"the stored v of 1 image cannot be read (ids {ids[1]}); they are left out" in (
        caplog.text
    )
    store.close()
    caplog.clear()
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)  # a writer drops the value
    assert "they are dropped: add their files again" in caplog.text
    assert store.feature_versions(ids[1]).get("v") is None  # so an add computes it anew
    store.close()
    caplog.clear()
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert not caplog.text and _sizes(store)["v"] == 2  # saved whole: no rebuild any more
    store.close()


def test_damaged_containers_of_every_kind_are_unreadable_values():
    from pictrace.features.arrays import MAGIC, save_arrays
    from pictrace.features.base import FeatureSpec
    from pictrace.store.rows import readable

    local = FeatureSpec("k", 1, "local", 128)
    blobs = [MAGIC + b"\x01", b"nonsense", save_arrays(other=np.zeros((2, 2), np.float32))]
    damaged: list[int] = []
    assert list(readable(local, [(i, 1, b) for i, b in enumerate(blobs)], damaged)) == []
    assert damaged == [0, 1, 2]


def test_a_reader_that_met_a_writer_at_work_is_not_told_to_save_what_it_saved(
    tmp_path, caplog, monkeypatch
):
    """A read-only open finds the spaces behind a writer at work, which saves them and stops
    while they are rebuilt: expected (a line of info), not a warning to open it for writing."""
    writer = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    writer.add([_entry(n) for n in (1, 2)])  # not saved yet: the files are behind
    rebuild = EmbeddedStore._rebuild_space

    def writer_stops_meanwhile(store, spec):  # type: ignore[no-untyped-def]
        if not writer.catalogue._closed:
            writer.close()
        return rebuild(store, spec)

    monkeypatch.setattr(EmbeddedStore, "_rebuild_space", writer_stops_meanwhile)
    caplog.set_level("INFO", logger="pictrace")
    reader = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert _sizes(reader)["v"] == 2
    reader.close()
    assert "while a writer holds it" in caplog.text
    assert not [r for r in caplog.records if r.levelname == "WARNING"], caplog.text
