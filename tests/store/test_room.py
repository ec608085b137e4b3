"""Room made in a space's storage before an add, with searches going on (``store.room``)."""

import threading

import numpy as np
import pytest

from pictrace.features.base import FeatureSpec
from pictrace.store import growing, vectors
from pictrace.store.catalogue import NewImage
from pictrace.store.embedded import EmbeddedStore
from pictrace.store.room import make_room
from pictrace.store.rwlock import ReadWriteLock
from pictrace.store.vectors import VectorSpace, room_for

DIM = 16


def _rows(n: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _space(hnsw: bool, n: int = 300) -> VectorSpace:
    space = VectorSpace(DIM, hnsw=hnsw)
    space.add(np.arange(1, n + 1) * 7, _rows(n, 1))
    return space


def _entries(count: int, start: int) -> list[NewImage]:
    """Images with one vector and two regional vectors each."""
    vectors, regions = _rows(count, start).astype(np.float16), _rows(2 * count, start + 1000)
    images = []
    for n in range(count):
        name = f"{start + n}"
        features = {
            "v": (1, vectors[n].tobytes()),
            "r": (1, regions[2 * n : 2 * n + 2].astype(np.float16).tobytes()),
        }
        args = (f"b{name}", f"p{name}", 10, 10, "jpeg", 100, 0, features, ())
        images.append(NewImage(f"img{name}.jpg", None, *args))
    return images


def _buffer(space: VectorSpace) -> int:
    """Where the space's rows lie in memory."""
    return int(space.storage().codes.data())


@pytest.fixture(autouse=True)
def _small_room(monkeypatch):
    monkeypatch.setattr(vectors, "ROOM_FROM", 100)


@pytest.mark.parametrize("hnsw", [False, True])
def test_a_roomier_copy_holds_the_same_rows_and_takes_adds_without_moving_them(hnsw):
    space = _space(hnsw)
    queries = _rows(5, 2)
    before = space.search(queries, 10)
    assert space.wants_room(50)
    space.index, space.room = space.roomier(50)
    assert space.room == room_for(350) == 437  # a quarter more than the rows it will hold
    assert space.search(queries, 10) == before
    assert np.array_equal(space.rows(np.array([7, 700, 2100])), _rows(300, 1)[[0, 99, 299]])
    where = _buffer(space)
    space.add(np.arange(301, 438) * 7, _rows(137, 3))  # up to the room: nothing moves
    assert _buffer(space) == where and space.size == 437
    assert space.search(_rows(137, 3)[:1], 1)[0][0][0] == 301 * 7
    assert space.wants_room(1)
    space.add(np.arange(438, 488) * 7, _rows(50, 4))  # past it: faiss grows it again
    assert space.size == 487


def test_a_space_built_as_hnsw_beside_a_flat_one_has_room_for_what_it_catches_up_with():
    built = growing.built_beside(DIM, np.arange(1, 201), _rows(200, 1))
    assert built.room == room_for(200) == 250
    where = _buffer(built)
    built.add(np.arange(201, 251), _rows(50, 2))
    assert _buffer(built) == where and built.size == 250


def test_a_small_space_wants_no_room():
    assert not _space(False, n=50).wants_room(1000)


def test_room_is_made_while_searches_go_on_and_only_taken_for_an_unchanged_space():
    guard = ReadWriteLock()
    spec = FeatureSpec("v", 1, "vector", DIM)
    searched = threading.Event()

    class Watched(VectorSpace):
        def roomier(self, rows):
            search = threading.Thread(target=lambda: guard.reading().__enter__() or searched.set())
            search.start()
            search.join(10)  # a search takes the read lock while the copy is made
            return super().roomier(rows)

    space = Watched(DIM)
    space.add(np.arange(1, 301), _rows(300, 1))
    spaces = {"v": space}
    assert make_room(guard, spaces, {"v": spec}, 10) == ["v"]
    assert searched.is_set() and space.room == room_for(310)

    class Changed(VectorSpace):
        def roomier(self, rows):
            made = super().roomier(rows)
            self.remove(np.array([1]))  # another writer's change before the copy is put in place
            return made

    changed = Changed(DIM)
    changed.add(np.arange(1, 301), _rows(300, 1))
    index = changed.index
    assert make_room(ReadWriteLock(), {"v": changed}, {"v": spec}, 10) == []
    assert changed.index is index and changed.size == 299


def test_a_store_makes_room_before_an_add_and_keeps_every_row(tmp_path):
    """Regional vectors count as many rows per image as they may have."""
    specs = {"v": FeatureSpec("v", 1, "vector", DIM), "r": FeatureSpec("r", 1, "vectors", DIM)}
    store = EmbeddedStore(tmp_path, specs, hnsw_threshold=10_000)
    first = store.add(_entries(120, 0))
    assert store.spaces["v"].room == 0  # it grew past ROOM_FROM by this add
    reader = EmbeddedStore(tmp_path, specs, hnsw_threshold=10_000, readonly=True)
    ids = first + store.add(_entries(30, 120))
    assert store.spaces["v"].room == room_for(120 + 30)
    assert store.spaces["r"].room == room_for(240 + 30 * 64)
    reader.catch_up()  # a reader following the writer makes room as well
    assert reader.spaces["v"].room == room_for(120 + 30) and reader.spaces["v"].size == 150
    reader.close()
    query = store.features("v", [ids[-1]])[ids[-1]][None]
    assert store.nearest("v", query, k=1)[0][0][0] == ids[-1]
    store.close()
    reopened = EmbeddedStore(tmp_path, specs, hnsw_threshold=10_000)
    assert reopened.spaces["v"].size == 150 and reopened.spaces["r"].size == 300
    assert reopened.nearest("v", query, k=1)[0][0][0] == ids[-1]
    reopened.close()
