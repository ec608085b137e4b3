"""The embedded store with a real SQLite file and real faiss files."""

import gc
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from pictrace import Index
from pictrace.errors import ConfigError, IndexLocked, NotFound
from pictrace.features.base import FeatureSpec
from pictrace.store.catalogue import NewImage
from pictrace.store.embedded import EmbeddedStore

SPECS = {
    "h": FeatureSpec("h", 1, "bits", 64),
    "v": FeatureSpec("v", 1, "vector", 4),
    "r": FeatureSpec("r", 1, "vectors", 4),
}


def _entry(n: int) -> NewImage:
    rng = np.random.default_rng(n)
    vector = rng.normal(size=4).astype(np.float16)
    regions = rng.normal(size=(3, 4)).astype(np.float16)
    return NewImage(
        source=f"img{n}.jpg",
        page=None,
        byte_sha256=f"b{n}",
        pixel_sha256=f"p{n}",
        width=10,
        height=10,
        format="jpeg",
        byte_size=100,
        exif_tags=0,
        features={
            "h": (1, bytes([n]) * 8),
            "v": (1, vector.tobytes()),
            "r": (1, regions.tobytes()),
        },
        labels=(("tabby, tabby cat", 0.9),),
    )


def test_add_search_remove_and_reopen(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    ids = store.add([_entry(n) for n in range(1, 6)])
    hits = store.nearest("h", np.frombuffer(bytes([1]) * 8, np.uint8)[None], k=3, radius=0)
    assert hits[0] == [(ids[0], 0.0)]
    store.remove([ids[0]])
    assert store.nearest("h", np.frombuffer(bytes([1]) * 8, np.uint8)[None], 3, 0)[0] == []
    query = store.features("v", [ids[1]])[ids[1]][None]
    before = store.nearest("v", query, k=4)
    regional = store.nearest("r", store.features("r", [ids[2]])[ids[2]][:1], k=2)
    assert regional[0][0][0] == ids[2]
    store.close()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    assert reopened.nearest("v", query, k=4) == before
    assert reopened.count() == 4
    assert reopened.label_hits(["tabby"], 10)[0][1] == pytest.approx(0.9)
    reopened.close()


def test_stale_vector_files_are_rebuilt_from_the_catalogue(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(n) for n in range(1, 4)])
    store.close()
    shutil.rmtree(tmp_path / "vectors")
    (tmp_path / "vectors").mkdir()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    assert reopened.spaces["v"].size == 3 and reopened.spaces["r"].size == 9
    reopened.close()


def test_hnsw_past_the_threshold(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=3)
    store.add([_entry(n) for n in range(1, 6)])
    store.close()
    (tmp_path / "vectors" / "v.json").unlink()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=3)
    assert reopened.spaces["v"].hnsw
    query = reopened.features("v", [2])[2][None]
    assert reopened.nearest("v", query, k=1)[0][0][0] == 2
    reopened.close()


def test_an_index_grown_past_the_threshold_by_adding_turns_hnsw_when_closed(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    store.add([_entry(n) for n in range(1, 4)])
    store.close()
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    assert not store.spaces["v"].hnsw  # 3 images: flat
    store.add([_entry(n) for n in range(4, 7)])
    query = store.features("v", [2])[2][None]
    flat = store.nearest("v", query, k=3)
    store.close()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4, readonly=True)
    assert reopened.spaces["v"].hnsw and reopened.spaces["r"].hnsw
    assert reopened.spaces["v"].size == 6 and reopened.spaces["r"].size == 18
    assert [i for i, _ in reopened.nearest("v", query, k=3)[0]] == [i for i, _ in flat[0]]
    reopened.close()


def test_a_space_grown_past_the_threshold_turns_hnsw_when_closed_after_a_save(tmp_path):
    """A save after the growth (a server's idle save, an add's own) leaves the store with
    nothing unsaved: closing it still builds the grown space as HNSW, and a writer that
    opens such a flat space and changes nothing builds it too."""
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    store.add([_entry(n) for n in range(1, 7)])
    store.flush()  # saved flat: 6 images, past the threshold
    store.close()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4, readonly=True)
    assert reopened.spaces["v"].hnsw and reopened.spaces["r"].hnsw
    reopened.close()

    folder = tmp_path / "flat"
    store = EmbeddedStore(folder, SPECS, hnsw_threshold=1000)
    store.add([_entry(n) for n in range(1, 7)])
    store.close()  # saved flat, below this store's threshold
    EmbeddedStore(folder, SPECS, hnsw_threshold=4).close()  # nothing changed
    reopened = EmbeddedStore(folder, SPECS, hnsw_threshold=4, readonly=True)
    assert reopened.spaces["v"].hnsw and reopened.spaces["v"].size == 6
    reopened.close()


def test_second_writer_is_refused_but_readers_work(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(1)])
    store.flush()
    with pytest.raises(IndexLocked, match="open for writing in this process already"):
        EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    reader = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000, readonly=True)
    assert reader.count() == 1
    with pytest.raises(IndexLocked, match="read-only"):
        reader.add([_entry(2)])
    reader.close()
    store.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # the store dropped unclosed, on purpose
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_writer_in_another_process_is_named_as_such_once_this_ones_are_gone(tmp_path):
    """This process's writers, closed or dropped unclosed, are forgotten: a lock another
    process takes afterwards is that process's."""
    EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000).close()
    dropped = EmbeddedStore(tmp_path / "other", SPECS, hnsw_threshold=1000)
    del dropped  # never closed: collected, its lock file closes
    gc.collect()
    for folder in (tmp_path, tmp_path / "other"):
        holder = subprocess.Popen(  # another process takes the folder's write lock and waits
            [sys.executable, "-c", _HOLD_LOCK, str(folder / "write.lock")],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            with pytest.raises(IndexLocked, match="open for writing by another process"):
                EmbeddedStore(folder, SPECS, hnsw_threshold=1000)
        finally:
            holder.kill()
            holder.communicate()  # also closes its pipe
        EmbeddedStore(folder, SPECS, hnsw_threshold=1000).close()  # free again


_HOLD_LOCK = """
import fcntl, sys, time
lock = open(sys.argv[1], "w")
fcntl.flock(lock, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


def test_a_failed_batch_leaves_nothing_behind(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(1)])
    broken = _entry(2)
    duplicate_in_batch = [broken, NewImage(**{**broken.__dict__, "features": {"h": (1, b"x")}})]
    with pytest.raises(Exception):  # noqa: B017 - sqlite's UNIQUE constraint
        store.add(duplicate_in_batch)
    assert store.count() == 1 and store.spaces["h"].size == 1
    store.close()


def test_crash_mid_ingest_recovers(tmp_path, photos):
    """Work committed before a crash survives; faiss files left stale are rebuilt."""
    with Index.open(tmp_path / "idx") as index:
        index.add([photos / "coffee.jpg"])
    index = Index.open(tmp_path / "idx")
    index.add([photos / "rocket.jpg"])
    index.store.catalogue.close()  # simulate a crash: no flush of the faiss files
    index.store._lock_file.close()  # type: ignore[union-attr]
    with Index.open(tmp_path / "idx") as reopened:
        assert reopened.stats().images == 2
        top = reopened.search(photos / "rocket.jpg", k=1).matches[0]
        assert top.tier == "exact" and top.source.endswith("rocket.jpg")


def test_get_unknown_id(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    with pytest.raises(NotFound):
        store.get(42)
    store.close()


def test_a_value_the_space_rejects_leaves_catalogue_and_spaces_consistent(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(1)])
    bad = _entry(2)
    bad = NewImage(**{**bad.__dict__, "features": {**bad.features, "v": (1, b"\x00\x01")}})
    with pytest.raises(ConfigError, match="extractor of feature 'v' gave a value"):
        store.add([bad])
    assert store.count() == 1
    assert {name: space.size for name, space in store.spaces.items()} == {"h": 1, "v": 1, "r": 3}
    store.close()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    assert reopened.spaces["v"].size == 1
    reopened.close()


def test_removing_an_image_removes_exactly_its_local_descriptors(tmp_path):
    specs = {"k": FeatureSpec("k", 1, "local", 128)}
    store = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    ids = store.add([_local_entry(1, 30), _local_entry(2, 40), _local_entry(3, 50)])
    store.remove([ids[1]])
    assert store.spaces["k"].size == 80
    query = _descriptors(3, 50)
    assert store.nearest("k", query, 5)[0][0][0] == ids[2]
    store.close()


def _descriptors(n: int, rows: int) -> np.ndarray:
    """Descriptor-like rows, the same for the same ``n`` (an image's own rows, or a query
    that is a copy of it): near a few of the shipped vocabulary's words, as RootSIFT lands.
    The stored codes cover residuals of that size; uniformly random rows lie far from every
    word, and there even an exact copy is encoded too coarsely to pass the ratio test (see
    ``LocalSpace``). A few words, so that their lists hold the third neighbour it needs."""
    from pictrace.store.vocabulary import local_centroids

    rng = np.random.default_rng(n)
    words = local_centroids()[rng.integers(0, 8, rows)]
    return np.clip(np.rint(words + rng.normal(0.0, 20.0, words.shape)), 0, 255).astype(np.uint8)


def _local_entry(n: int, rows: int) -> NewImage:
    from pictrace.features.arrays import save_arrays

    desc = _descriptors(n, rows)
    return NewImage(
        f"i{n}", None, f"b{n}", f"p{n}", 1, 1, "png", 1, 0, {"k": (1, save_arrays(desc=desc))}
    )


def test_a_local_space_of_an_older_layout_is_rebuilt(tmp_path):
    """A saved local space whose metadata names no layout (as releases before layouts were
    recorded wrote it) is rebuilt from the catalogue (and saved) on a writable open."""
    import json

    specs = {"k": FeatureSpec("k", 1, "local", 128)}
    store = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    ids = store.add([_local_entry(1, 30), _local_entry(2, 40)])
    store.close()
    meta_path = tmp_path / "vectors" / "k.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("layout")
    meta_path.write_text(json.dumps(meta))  # as an older release wrote it
    reopened = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    assert reopened.spaces["k"].size == 70
    query = _descriptors(2, 40)
    assert reopened.nearest("k", query, 5)[0][0][0] == ids[1]
    reopened.close()
    assert "layout" in json.loads(meta_path.read_text())


def test_a_local_space_saved_with_another_codebook_is_rebuilt(tmp_path, monkeypatch):
    """The saved layout names the shipped vocabulary and codebook: a release that ships
    another codebook rebuilds the space (its codes would not mean the same)."""
    import json

    import faiss

    from pictrace.store import vocabulary

    specs = {"k": FeatureSpec("k", 1, "local", 128)}
    store = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    store.add([_local_entry(1, 30)])
    store.close()
    meta_path = tmp_path / "vectors" / "k.json"
    assert json.loads(meta_path.read_text())["layout"] == vocabulary.local_layout()
    shipped = vocabulary.local_codebook()
    monkeypatch.setattr(vocabulary, "local_codebook", lambda: shipped * 1.01)
    vocabulary.local_layout.cache_clear()
    try:
        rebuilt = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
        assert rebuilt.spaces["k"].size == 30
        in_use = faiss.vector_to_array(rebuilt.spaces["k"].index.pq.centroids)
        assert np.array_equal(in_use, (shipped * 1.01).astype(np.float32).ravel())
        rebuilt.close()
        assert json.loads(meta_path.read_text())["layout"] == vocabulary.local_layout()
        assert vocabulary.local_layout().startswith(vocabulary.LOCAL_LAYOUT)
    finally:
        monkeypatch.undo()
        vocabulary.local_layout.cache_clear()
    assert json.loads(meta_path.read_text())["layout"] != vocabulary.local_layout()


def test_a_space_from_the_shipped_codebook_is_the_one_faiss_would_train():
    """Copying a trained codebook in (what every index does with the shipped one) gives the
    very index faiss's own training gives: the same bytes, so the same codes and distances."""
    import faiss

    from pictrace.store.vectors import LocalSpace
    from pictrace.store.vocabulary import local_centroids

    rows = _descriptors(7, 6000).astype(np.float32)
    trained = LocalSpace(128, local_centroids(), None)
    trained.index.train(rows)
    parts = faiss.vector_to_array(trained.index.pq.centroids).reshape(64, 16, 2)
    shipped = LocalSpace(128, local_centroids(), parts)
    assert np.array_equal(
        faiss.serialize_index(trained.index), faiss.serialize_index(shipped.index)
    )


def test_a_saved_local_space_loads_ready_to_encode_fast(tmp_path, monkeypatch):
    """The transposed codebook faiss encodes faster with is not saved: a loaded space makes
    it again, and encodes the same codes as a new one."""
    specs = {"k": FeatureSpec("k", 1, "local", 128)}
    store = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    store.add([_local_entry(1, 30)])
    fresh = store.spaces["k"].index
    store.close()

    def no_rebuild(self, spec):
        raise AssertionError("the saved space should load as it is")

    monkeypatch.setattr(EmbeddedStore, "_rebuild_space", no_rebuild)
    loaded = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000, readonly=True)
    index = loaded.spaces["k"].index
    assert index.pq.transposed_centroids.size() == 64 * 16 * 2
    rows = _descriptors(2, 40).astype(np.float32)
    assert np.array_equal(index.pq.compute_codes(rows), fresh.pq.compute_codes(rows))
    loaded.close()


def test_a_codebook_of_the_wrong_shape_is_a_configuration_error():
    from pictrace.errors import ConfigError
    from pictrace.store.vectors import LocalSpace
    from pictrace.store.vocabulary import local_centroids

    with pytest.raises(ConfigError, match="codebook"):
        LocalSpace(128, local_centroids(), np.zeros((32, 16, 4), np.float32))


@pytest.mark.parametrize("routing", ["flat", "grouped"])
def test_a_real_local_index_file_of_an_older_layout_is_rebuilt(tmp_path, routing):
    """The file itself of an older release (8-bit codes of the residuals, routed by a flat or
    a grouped coarse quantizer), even next to metadata that names the current layout, is not
    loaded as it is: rebuilt, searched, saved anew with product-quantised codes."""
    import faiss

    from pictrace.store.vectors import grouped_quantizer
    from pictrace.store.vocabulary import local_centroids

    specs = {"k": FeatureSpec("k", 1, "local", 128)}
    store = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    ids = store.add([_local_entry(1, 30), _local_entry(2, 40)])
    store.close()
    centroids = np.ascontiguousarray(local_centroids(), np.float32)
    quantizer = grouped_quantizer(centroids) if routing == "grouped" else faiss.IndexFlatL2(128)
    if routing == "flat":
        quantizer.add(centroids)
    old = faiss.IndexIVFScalarQuantizer(
        quantizer, 128, len(centroids), faiss.ScalarQuantizer.QT_8bit_direct, faiss.METRIC_L2
    )
    old.is_trained = True
    index_path = tmp_path / "vectors" / "k.faiss"
    faiss.write_index(old, str(index_path))  # empty and stored the old way
    reopened = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    assert reopened.spaces["k"].size == 70
    query = _descriptors(2, 40)
    assert reopened.nearest("k", query, 5)[0][0][0] == ids[1]
    reopened.close()
    saved = faiss.read_index(str(index_path))
    assert saved.ntotal == 70 and isinstance(saved, faiss.IndexIVFPQFastScan)
    assert isinstance(faiss.downcast_index(saved.quantizer), faiss.IndexIVFFlat)


def test_a_read_only_open_that_rebuilds_a_space_says_so(tmp_path, caplog):
    import json

    specs = {"k": FeatureSpec("k", 1, "local", 128)}
    store = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000)
    store.add([_local_entry(1, 30)])
    store.close()
    with caplog.at_level("WARNING", logger="pictrace.store"):
        EmbeddedStore(tmp_path, specs, hnsw_threshold=1000, readonly=True).close()
    assert not caplog.records  # saved and current: loaded as it is
    meta_path = tmp_path / "vectors" / "k.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("layout")
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level("WARNING", logger="pictrace.store"):
        reader = EmbeddedStore(tmp_path, specs, hnsw_threshold=1000, readonly=True)
    assert reader.spaces["k"].size == 30
    reader.close()
    assert "rebuilt in memory" in caplog.text and "open the index for writing" in caplog.text
    assert "layout" not in json.loads(meta_path.read_text())  # a reader writes nothing


def test_live_ids_in_chunks_and_without_removed_ones(tmp_path):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    ids = store.add([_entry(n) for n in range(1, 4)])
    store.remove([ids[1]])
    asked = [*range(10_000, 10_600), *ids]  # more than one chunk of ids, most unknown
    assert store.live(asked) == {ids[0], ids[2]}
    assert set(store.records(asked)) == {ids[0], ids[2]}
    store.close()


def test_stacked_features_equal_the_values_one_by_one(tmp_path, caplog):
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    ids = store.add([_entry(n) for n in range(1, 5)])
    with store.catalogue.transaction() as db:  # a stale value and a damaged one are left out
        for values in ((ids[1], "v", 0, bytes(8)), (ids[2], "h", 1, b"x")):
            db.execute("INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?)", values)
    asked = [*range(10_000, 10_600), *ids]  # more than one chunk of ids, most unknown
    stacked = store.stacked(["h", "v"], asked)
    for name in ("h", "v"):
        expected = store.features(name, asked)  # one by one, the damaged value is left out too
        assert ids[2] not in expected or name == "v"
        rows = stacked[name]
        assert rows.values.dtype == (np.uint8 if name == "h" else np.float32)
        assert sorted(rows.ids) == sorted(expected)
        for image_id, row in zip(rows.ids, rows.values, strict=True):
            np.testing.assert_array_equal(row, expected[image_id])
    assert ids[1] not in stacked["v"].ids
    assert "stored h values of the wrong length are ignored (1 of 4 read)" in caplog.text
    store.close()


def test_stacked_embeddings_come_from_their_space_when_it_holds_every_id(tmp_path, monkeypatch):
    """A search reads its candidates' embeddings from the space in memory when it holds them
    all, the same values the catalogue has; from the catalogue when one of them is not in
    the space (a flat space drops a removed row at once)."""
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    ids = store.add([_entry(n) for n in range(1, 6)])
    expected = store.features("v", ids)
    asked = _catalogue_asked(store, monkeypatch)
    wanted = [ids[3], ids[0], ids[3], ids[2]]  # any order, a repeat
    stacked = store.stacked(["v", "h"], wanted)
    assert stacked["v"].ids == (ids[3], ids[0], ids[2])
    for image_id, row in zip(stacked["v"].ids, stacked["v"].values, strict=True):
        np.testing.assert_array_equal(row, expected[image_id])
    assert asked == [["h"]]
    store.stacked(["h"], wanted)
    assert asked[-1] == ["h"]
    store.remove([ids[0]])
    assert sorted(store.stacked(["v"], wanted)["v"].ids) == sorted([ids[3], ids[2]])
    assert asked[-1] == ["v"]
    store.close()


def test_an_hnsw_space_that_kept_a_removed_row_is_not_read_for_embeddings(tmp_path, monkeypatch):
    """HNSW cannot drop a row: after a removal its space still holds the image's vector until
    it is rebuilt, so its embeddings come from the catalogue, which holds only what is there."""
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=2)
    ids = store.add([_entry(n) for n in range(1, 6)])
    store.close()  # built as HNSW at close
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=2)
    assert store.spaces["v"].hnsw
    asked = _catalogue_asked(store, monkeypatch)
    assert sorted(store.stacked(["v"], ids)["v"].ids) == sorted(ids)
    assert asked == [[]]
    store.remove([ids[0]])
    assert store.spaces["v"].rows(np.array([ids[0]])) is not None  # kept in the space
    assert sorted(store.stacked(["v"], ids)["v"].ids) == sorted(ids[1:])
    assert asked[-1] == ["v"]
    store.close()


def _catalogue_asked(store: EmbeddedStore, monkeypatch) -> list[list[str]]:
    """The feature names each later ``stacked`` asks the catalogue for, call by call."""
    asked: list[list[str]] = []
    feature_rows = store.catalogue.feature_rows

    def counted(names, wanted):
        asked.append(list(names))
        return feature_rows(names, wanted)

    monkeypatch.setattr(store.catalogue, "feature_rows", counted)
    return asked


def test_a_write_the_disk_refuses_leaves_every_image_searchable(tmp_path, monkeypatch):
    """Re-adding a changed file on a full disk: the catalogue rolls back, and the old image
    must stay in the searchable copies too, also after they are saved and read again."""
    from dataclasses import replace

    from pictrace.errors import IndexError_
    from pictrace.store.catalogue import Catalogue

    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    store.add([_entry(1), _entry(2)])
    insert = Catalogue.insert

    def full(self, db, image, same=None):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Catalogue, "insert", full)
    with pytest.raises(IndexError_, match="disk is full"):
        store.add([replace(_entry(3), source="img1.jpg")])  # img1.jpg, changed
    monkeypatch.setattr(Catalogue, "insert", insert)
    store.add([_entry(4)])
    store.close()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=1000)
    assert reopened.count() == 3
    assert all(space.size == 3 for name, space in reopened.spaces.items() if name != "r")
    assert reopened.nearest("h", np.frombuffer(bytes([1]) * 8, np.uint8)[None], 1)[0][0][1] == 0
    reopened.close()


def test_a_small_local_space_scans_more_lists_so_a_copy_still_votes():
    """Three images' descriptors spread over many words: each list holds one or two, no third
    neighbour for the ratio test in a query descriptor's own list; a small space scans more
    lists, a large one one (``LocalSpace.probes``)."""
    from pictrace.store.vectors import LIST_SCAN, LocalSpace
    from pictrace.store.vocabulary import local_centroids, local_codebook

    words = local_centroids()
    space = LocalSpace(128, words, local_codebook())
    rng = np.random.default_rng(3)
    images = [words[rng.choice(len(words), 100, replace=False)] for _ in range(3)]
    for n, rows in enumerate(images, start=1):
        noisy = np.clip(np.rint(rows + rng.normal(0.0, 10.0, rows.shape)), 0, 255)
        space.add(np.arange(100) + n * 1024, noisy.astype(np.float32))
    assert space.probes() == min(len(words), -(-LIST_SCAN * len(words) // 300))
    votes = space.votes(np.clip(np.rint(images[1]), 0, 255).astype(np.float32), 1024)
    assert votes.get(2, 0) >= 50 and max(votes.get(1, 0), votes.get(3, 0)) < 5


def _space_of(images: dict[int, np.ndarray]):
    from pictrace.store import vocabulary
    from pictrace.store.rows import LOCAL_SLOTS
    from pictrace.store.vectors import LocalSpace

    space = LocalSpace(128, vocabulary.local_centroids(), vocabulary.local_codebook())
    for n, desc in images.items():
        space.add(n * LOCAL_SLOTS + np.arange(len(desc)), desc)
    return space


def test_an_image_added_after_a_removal_gets_all_its_votes(tmp_path):
    """faiss leaves a removed code's bits behind in its fast-scan block, and a later add ORs
    into them; the space clears them, so an image added again votes as when first added."""
    from pictrace.store.rows import LOCAL_SLOTS
    from pictrace.store.vectors import LocalSpace

    images = {n: _descriptors(n, 300) for n in (1, 2, 3)}
    space = _space_of(images)
    first = space.votes(images[2].astype(np.float32), LOCAL_SLOTS)[2]
    assert space.remove(2 * LOCAL_SLOTS + np.arange(LOCAL_SLOTS))
    space.add(2 * LOCAL_SLOTS + np.arange(300), images[2])
    assert space.votes(images[2].astype(np.float32), LOCAL_SLOTS)[2] == first
    # a space an older release saved after a removal (bits left behind) is cleared on add
    stale = _space_of(images)
    stale.index.remove_ids((2 * LOCAL_SLOTS + np.arange(LOCAL_SLOTS)).astype(np.int64))
    stale.save(tmp_path / "k.faiss")
    loaded = LocalSpace.load(tmp_path / "k.faiss", 128)
    loaded.add(2 * LOCAL_SLOTS + np.arange(300), images[2])
    assert loaded.votes(images[2].astype(np.float32), LOCAL_SLOTS)[2] == first


def test_a_space_grown_past_the_threshold_is_built_as_hnsw_beside_it_after_a_save(tmp_path):
    """A long-running writer (a server) does not wait for its stop: a save that finds a
    grown flat space builds it as HNSW on a thread of its own, then searches use that."""
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    store.add([_entry(n) for n in range(1, 4)])
    store.flush()
    assert not store.spaces["v"].hnsw  # 3 images: nothing grown
    store.add([_entry(n) for n in range(4, 8)])
    query = store.features("v", [2])[2][None]
    flat = store.nearest("v", query, k=5)
    store.flush()
    store._growing.wait()
    assert store.spaces["v"].hnsw and store.spaces["r"].hnsw
    assert store.spaces["v"].size == 7 and store.spaces["r"].size == 21
    assert store.nearest("v", query, k=5) == flat
    store.close()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4, readonly=True)
    assert reopened.spaces["v"].hnsw and reopened.nearest("v", query, k=5) == flat
    reopened.close()


def test_what_changed_while_a_grown_space_was_built_is_in_the_space_that_replaces_it(
    tmp_path, monkeypatch
):
    """Images added while the HNSW space is built are added to it when it takes the flat
    one's place; one removed meanwhile makes it stale (HNSW keeps the row: the catalogue
    filters it out, and closing rebuilds the space without it)."""
    from pictrace.store import growing

    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    ids = store.add([_entry(n) for n in range(1, 7)])
    build = growing.built_beside

    def meanwhile(dim, rows, vectors):  # type: ignore[no-untyped-def]
        space = build(dim, rows, vectors)
        store.add([_entry(n) for n in (7, 8)])  # the flat space goes on taking writes
        store.remove([ids[0]])
        return space

    monkeypatch.setattr(growing, "built_beside", meanwhile)
    store._grow()  # as the build's thread runs it
    space = store.spaces["v"]
    assert space.hnsw and space.size == 8  # 6 taken + 2 added since; the removed one kept
    assert "v" in store._stale
    query = store.features("v", [7])[7][None]
    assert {7, 8} <= {i for i, _ in store.nearest("v", query, k=8)[0]}  # added meanwhile
    assert not store.live([ids[0]])  # what searches filter the kept row by
    monkeypatch.undo()
    store.close()
    reopened = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4, readonly=True)
    assert reopened.spaces["v"].hnsw and reopened.spaces["v"].size == 7
    reopened.close()


def test_closing_waits_for_the_build_under_way_instead_of_building_again(tmp_path, monkeypatch):
    """A stop (final save) while a grown space is being built beside it waits for that
    build: the space is built once, not twice at once."""
    import time

    from pictrace.store import growing

    builds, rebuilt = [], []
    build, rebuild = growing.built_beside, EmbeddedStore._rebuild_space

    def slow(dim, rows, vectors):  # type: ignore[no-untyped-def]
        time.sleep(0.5)
        builds.append(len(rows))
        return build(dim, rows, vectors)

    def counted(store, spec):  # type: ignore[no-untyped-def]
        rebuilt.append(spec.name)
        return rebuild(store, spec)

    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    store.add([_entry(n) for n in range(1, 7)])
    monkeypatch.setattr(growing, "built_beside", slow)
    monkeypatch.setattr(EmbeddedStore, "_rebuild_space", counted)
    store.flush()  # starts the build
    store.flush(final=True)  # as a server's stop does
    assert sorted(builds) == [6, 18] and rebuilt == []  # v and r, once each
    assert store.spaces["v"].hnsw and store.spaces["r"].hnsw
    store.close()


def test_one_build_at_a_time_and_none_again_after_one_failed():
    import threading

    from pictrace.store.growing import Grower

    grower, release, runs = Grower(), threading.Event(), []

    def held() -> None:
        runs.append("held")
        release.wait(10)

    def failing() -> None:
        runs.append("failing")
        raise MemoryError("no room for a second copy")

    starts = [threading.Thread(target=grower.start, args=(held, lambda: {"v"})) for _ in range(4)]
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join()
    release.set()
    grower.wait()
    assert runs == ["held"]
    grower.start(failing, lambda: {"v"})
    grower.wait()
    grower.start(failing, lambda: {"v"})  # closing builds it: no retry at every save
    grower.wait()
    assert runs == ["held", "failing"]


def test_a_space_rebuilt_as_the_store_closes_is_built_on_every_core(tmp_path, monkeypatch):
    """Nothing waits beside a rebuild at close (or open) for the cores: faiss's threads are
    all of them for it, and one again after (the thread policy, pictrace.threads)."""
    import os

    import faiss

    from pictrace.store.vectors import VectorSpace
    from pictrace.threads import quiet_native_threads

    if not quiet_native_threads():
        pytest.skip("OMP_NUM_THREADS is the user's: PicTrace leaves faiss's threads alone")
    seen, add = [], VectorSpace.add

    def counted(space, ids, rows):  # type: ignore[no-untyped-def]
        seen.append(faiss.omp_get_max_threads())
        return add(space, ids, rows)

    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    store.add([_entry(n) for n in range(1, 7)])
    monkeypatch.setattr(VectorSpace, "add", counted)
    store.close()  # grown past the threshold: rebuilt as HNSW
    assert seen and set(seen) == {os.cpu_count()}
    assert faiss.omp_get_max_threads() == 1


def test_a_build_whose_rows_moved_while_they_were_copied_is_left_for_the_next_save(
    tmp_path, monkeypatch
):
    """The rows are copied a few at a time; a removal between two parts moves the rows after
    it, so that build is dropped (the flat space stays, its journal cleared) and the next save
    starts another."""
    from pictrace.store import growing

    monkeypatch.setattr(growing, "COPY_ROWS", 2)
    store = EmbeddedStore(tmp_path, SPECS, hnsw_threshold=4)
    ids = store.add([_entry(n) for n in range(1, 7)])
    flat = store.spaces["v"]
    copy = flat.index.index.reconstruct_n
    calls = []

    class Removing:  # the flat index, with a removal landing between two parts of the copy
        def __init__(self, real):  # type: ignore[no-untyped-def]
            self.real = real
            self.index = self

        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(self.real, name)

        def reconstruct_n(self, start, count):  # type: ignore[no-untyped-def]
            calls.append(start)
            if len(calls) == 2:
                flat.journal.dropped = True  # what a removal now records
            return copy(start, count)

    monkeypatch.setattr(flat, "index", Removing(flat.index))
    monkeypatch.setattr(store, "flush", lambda final=False: None)  # no save: no build again
    store._grow()
    assert store.spaces["v"] is flat and not flat.hnsw and flat.journal is None
    assert calls == [0, 2]  # it stopped at the removal
    monkeypatch.undo()
    store.remove([ids[0]])  # a real removal; the save after it starts the build again
    store.flush()
    store._growing.wait()
    assert store.spaces["v"].hnsw and store.spaces["v"].size == 5
    store.close()
