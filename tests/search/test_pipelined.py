"""A search looks up global candidates while the query's keypoints are still computing."""

import threading

import pytest

from pictrace import Index
from pictrace.errors import NotAnImage


def test_a_started_query_holds_global_features_and_pends_the_local_ones(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        started = index.start_query(photos / "coffee.jpg")
        assert {"cnn", "phash", "dhash"} <= set(started.features)
        assert "keypoints" not in started.features and started.pending is not None
        done = started.completed()
        prepared = index.prepare_query(photos / "coffee.jpg")
        assert done.features["keypoints"] == prepared.features["keypoints"]


def test_pipelined_and_prepared_queries_rank_alike(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        for name in ("coffee.jpg", "rocket.jpg"):
            pipelined = index.searcher.search(index.start_query(photos / name), 5)
            prepared = index.searcher.search(index.prepare_query(photos / name), 5)
            assert [(m.id, m.tier) for m in pipelined] == [(m.id, m.tier) for m in prepared]
            assert [m.copy_confidence for m in pipelined] == pytest.approx(
                [m.copy_confidence for m in prepared]
            )


def test_voting_runs_on_the_thread_that_computed_the_keypoints(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        seen: list[str] = []
        votes = index.searcher._votes

        def recording(query):
            seen.append(threading.current_thread().name)
            return votes(query)

        index.searcher._votes = recording  # type: ignore[method-assign]
        index.search(photos / "coffee.jpg", k=3)
        assert seen and all(name.startswith("pictrace") for name in seen)


def test_a_failing_keypoint_extractor_fails_the_search_instead_of_hanging(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        local = next(e for e in index.query_extractors if e.specs[0].kind == "local")

        def broken(image):
            raise NotAnImage("keypoints could not be computed")

        local.extract_one = broken  # type: ignore[method-assign]
        with pytest.raises(NotAnImage, match="keypoints could not be computed"):
            index.search(photos / "coffee.jpg", k=3)
        local.__dict__.pop("extract_one")
        assert index.search(photos / "coffee.jpg", k=3).matches[0].tier == "exact"
