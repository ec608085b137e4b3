"""A search looks up global candidates while the query's keypoints are still computing."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pictrace import Index
from pictrace.decode import decode
from pictrace.errors import IndexCorrupt, NotAnImage
from pictrace.features.keypoints import COUNT, FIRST_LOOK_COUNT, decode_keypoints
from pictrace.futures import then
from pictrace.search.verify import Probe, fit_pair
from pictrace.types import Source


def test_a_started_query_holds_global_features_and_pends_the_local_ones(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        started = index.start_query(photos / "coffee.jpg")
        assert {"cnn", "phash", "dhash"} <= set(started.features)
        assert "keypoints" not in started.features and started.pending is not None
        first = decode_keypoints(started.completed().features["keypoints"])
        assert (
            index.prepare_query(photos / "coffee.jpg").features["keypoints"]
            == (started.completed().features["keypoints"])
        )
        full = decode_keypoints(index.prepare_hit(photos / "coffee.jpg").features["keypoints"])
        assert len(first) <= FIRST_LOOK_COUNT < len(full) <= COUNT
        # a smaller picture, the same frame: the first look verifies against the full set
        # with the identity transform (coordinates are full-size pixels on both sides)
        outcome = fit_pair(Probe.of(first), full)
        assert outcome.fit is not None and outcome.inliers >= 40
        corners = np.array([[0, 0, 1], [600, 400, 1]], dtype=float)
        mapped = corners @ np.asarray(outcome.fit.transform).T
        np.testing.assert_allclose(mapped[:, :2] / mapped[:, 2:], corners[:, :2], atol=6)


def test_first_look_and_fully_prepared_queries_find_the_same_copies(built_index, photos):
    from PIL import Image

    rotated = Image.open(photos / "coffee.jpg").convert("RGB").rotate(33, expand=True)
    with Index.open(built_index, readonly=True) as index:
        for query in (photos / "rocket.jpg", rotated):
            first = index.searcher.search(index.start_query(query), 5)
            full = index.searcher.search(index.prepare_hit(query), 5)
            assert first[0].tier in ("exact", "copy")
            assert (first[0].id, first[0].tier) == (full[0].id, full[0].tier)


def test_voting_runs_off_the_calling_thread(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        seen: list[str] = []
        votes = index.searcher._votes

        def recording(query, *args):
            seen.append(threading.current_thread().name)
            return votes(query, *args)

        index.searcher._votes = recording  # type: ignore[method-assign]
        for name in ("coffee.jpg", "astronaut.jpg", "rocket.jpg"):  # keypoints pending or done
            index.search(photos / name, k=3)
        assert len(seen) >= 3 and all(name.startswith("pictrace") for name in seen)


@pytest.mark.parametrize("where", ["_votes", "by_hash"])  # the local look, the hash lookup
def test_a_failure_on_the_pool_reaches_the_caller(built_index, photos, where):
    with Index.open(built_index, readonly=True) as index:

        def broken(*args):
            raise IndexCorrupt(f"{where}: the index cannot be read")

        owner = index.searcher if where == "_votes" else index.store
        setattr(owner, where, broken)
        with pytest.raises(IndexCorrupt, match="cannot be read"):
            index.search(photos / "coffee.jpg", k=3)


def test_a_failing_keypoint_extractor_fails_the_search_instead_of_hanging(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        local = next(e for e in index.first_look if e.specs[0].kind == "local")

        def broken(image):
            raise NotAnImage("keypoints could not be computed")

        local.extract_one = broken  # type: ignore[method-assign]
        with pytest.raises(NotAnImage, match="keypoints could not be computed"):
            index.search(photos / "coffee.jpg", k=3)
        local.__dict__.pop("extract_one")
        assert index.search(photos / "coffee.jpg", k=3).matches[0].tier == "exact"


def test_the_best_voted_candidates_are_verified_on_the_voting_thread_once(built_index, photos):
    from PIL import Image

    rotated = Image.open(photos / "coffee.jpg").convert("RGB").rotate(33, expand=True)
    with Index.open(built_index, readonly=True) as index:
        calls: list[tuple[str, tuple[int, ...], bool]] = []
        verifier = index.searcher.verifier
        assert verifier is not None

        def recording(query, candidates, other, inline=False):
            calls.append((threading.current_thread().name, tuple(c.id for c in candidates), inline))
            verifier(query, candidates, other, inline)

        index.searcher.verifier = recording
        result = index.search(rotated, k=3)
        coffee = index.store.by_source(str(photos / "coffee.jpg"))
        assert coffee is not None and result.matches[0].id == coffee.id
        assert result.matches[0].tier == "copy" and result.matches[0].evidence is not None
        early = [c for c in calls if c[2]]
        assert early and all(name.startswith("pictrace") for name, _, _ in early)
        assert coffee.id in early[0][1]
        verified = [i for _, ids, _ in calls for i in ids]
        assert len(verified) == len(set(verified))  # nothing is verified twice
        calls.clear()
        exact = index.search(photos / "coffee.jpg", k=3).matches[0]
        assert exact.tier == "exact" and exact.evidence is None  # exact needs no geometry
        assert all(coffee.id not in ids for _, ids, _ in calls)


def test_work_chained_to_a_done_future_settles_even_when_the_pool_is_shut_down():
    from concurrent.futures import Future, ThreadPoolExecutor

    from pictrace.futures import then

    done: Future[int] = Future()
    done.set_result(20)
    pool = ThreadPoolExecutor(1)
    running = then(done, lambda v: v + 1, pool)
    assert running.result(timeout=5) == 21  # on the pool, not on this thread
    pool.shutdown()
    assert then(done, lambda v: v + 2, pool).result(timeout=5) == 22


def test_a_pool_thread_reading_the_digest_never_waits_on_a_digest_queued_behind_it(
    photos, settings
):
    # Index._started's order on a pool of one thread: the digest, then the keypoints, whose
    # follow-up (the local look) reads the digest on that same thread.
    source = Source("coffee.jpg", (photos / "coffee.jpg").read_bytes())
    pool, attached = ThreadPoolExecutor(1), threading.Event()
    try:
        image = decode(source, settings, digests=pool)
        pending = pool.submit(attached.wait)  # done only once the look is chained to it
        look = then(pending, lambda _: image.pixel_sha256, pool)
        attached.set()
        assert look.result(timeout=10) == decode(source, settings).pixel_sha256
    finally:  # on a deadlock, cancelling the queued digest frees the waiting thread
        pool.shutdown(wait=False, cancel_futures=True)


def test_a_search_looks_up_exact_and_hash_neighbours_while_the_cnn_runs(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        callers: list[str] = []
        by_hash = index.store.by_hash

        def recording(byte_sha256, pixel_sha256):
            callers.append(threading.current_thread().name)
            return by_hash(byte_sha256, pixel_sha256)

        index.store.by_hash = recording  # type: ignore[method-assign]
        started = index.start_query(photos / "coffee.jpg")
        assert started.hashed is not None and started.completed().hashed is started.hashed
        early = started.hashed.result(timeout=10)
        exact = [i for i, c in early.found.items() if c.exact]
        assert len(exact) == 1 and {"phash", "dhash"} <= early.searched
        callers.clear()
        shallow = index.search(photos / "coffee.jpg", k=5).matches
        assert callers and all(name.startswith("pictrace") for name in callers)
        callers.clear()
        deep = index.search(photos / "coffee.jpg", k=40).matches  # deeper than the default
        assert all(name.startswith("pictrace") for name in callers)  # looked up that deep
        assert shallow[0].id == deep[0].id == exact[0] and shallow[0].tier == "exact"
        assert [m.id for m in deep[:5]] == [m.id for m in shallow]


def test_a_search_on_a_pool_of_one_thread_finishes(built_index, photos):
    # The digest, the keypoints, the hashes: the local look and the hashed lookup both read
    # the digest on that one thread, which only works in that order.
    with Index.open(built_index, readonly=True) as index:
        one = ThreadPoolExecutor(1, "pictrace-one")
        index.pool = index.searcher.pool = one
        index.searcher.verifier.pool = one  # type: ignore[union-attr]
        results: list[object] = []
        worker = threading.Thread(
            target=lambda: results.append(index.search(photos / "coffee.jpg", k=3)), daemon=True
        )
        worker.start()
        worker.join(timeout=30)
        finished = not worker.is_alive()
        one.shutdown(wait=False, cancel_futures=True)
        assert finished and results
