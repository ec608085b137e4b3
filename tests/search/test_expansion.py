"""Query expansion: the similar tier ranked by the query and its nearest few together."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pictrace import Index
from pictrace.features.base import FeatureRows
from pictrace.search.candidates import Candidate
from pictrace.search.expansion import (
    AT_LEAST,
    NEIGHBOURHOOD,
    NEIGHBOURS,
    POWER,
    Around,
    Neighbourhood,
    augmented,
    expand,
    expanded_query,
    grown_query,
)
from pictrace.search.ranking import (
    CLOSE_PHASH,
    POSSIBLE_COPY,
    shown_similarity,
    similarity_from,
)


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_the_query_moves_towards_its_nearest_few_weighted_by_their_cosines():
    query = _unit(1, 0, 0, 0)
    vectors = np.stack(
        [
            _unit(0.6, 0.8, 0, 0),
            _unit(0.9, 0, 0.3, 0),
            _unit(0.8, 0, 0, 0.6),
            _unit(0.7, 0, 0, -0.7),
        ]
    )
    cosines = vectors @ query
    grown = expanded_query(query, vectors, cosines)
    nearest = np.argsort(-cosines)[:NEIGHBOURS]  # 0.95, 0.8, 0.71: the fourth (0.6) is left out
    assert 0 not in nearest
    total = query + (cosines[nearest] ** POWER) @ vectors[nearest]
    np.testing.assert_allclose(grown, total / np.linalg.norm(total), atol=1e-6)
    assert float(np.linalg.norm(grown)) == pytest.approx(1.0)
    # it lies closer to its neighbours, on the whole, than the query did
    assert float((vectors[nearest] @ grown).sum()) > float(cosines[nearest].sum())
    assert float(vectors[nearest[0]] @ grown) > float(cosines[nearest[0]])


def test_pictures_less_alike_than_at_least_leave_the_query_as_it_is():
    query = _unit(1, 0, 0)
    far = np.stack([_unit(AT_LEAST - 0.05, 1, 0), _unit(0.2, 0, 1)])
    assert np.all(far @ query < AT_LEAST)
    np.testing.assert_allclose(expanded_query(query, far, far @ query), query)
    empty = np.zeros((0, 3), np.float32)
    np.testing.assert_allclose(expanded_query(query, empty, np.zeros(0, np.float32)), query)


def test_the_query_itself_is_no_neighbour_of_its_own():
    query = _unit(1, 0, 0)
    rows = np.stack([query, _unit(0.9, 0.3, 0), _unit(0.8, 0, 0.5)])
    without_itself = grown_query(query, [7, 8, 9], rows, exclude={7})
    np.testing.assert_allclose(without_itself, expanded_query(query, rows[1:], rows[1:] @ query))
    assert not np.allclose(without_itself, grown_query(query, [7, 8, 9], rows))


def test_a_candidate_grows_by_its_nearest_around_the_query_but_itself_and_the_query():
    rows = np.stack([_unit(1, 0, 0), _unit(0, 1, 0)])
    around = np.stack(
        [
            _unit(1, 0, 0),  # 5: the first candidate itself
            _unit(0.9, 0.3, 0),  # 6
            _unit(0.8, 0, 0.6),  # 7: the query, an exact duplicate
            _unit(0.7, 0.1, 0.7),  # 8
            _unit(0.6, 0, 0.8),  # 9: 0.6
            _unit(0.3, 0.9, 0.3),  # 10
        ]
    )
    ids, around_ids = [5, 11], [5, 6, 7, 8, 9, 10]
    grown = augmented(rows, ids, around, around_ids, exclude={7})
    cos = around @ rows[0]
    total = rows[0] + sum(cos[k] ** POWER * around[k] for k in (1, 3, 4))  # not 0, not 2
    np.testing.assert_allclose(grown[0], total / np.linalg.norm(total), atol=1e-6)
    near = around @ rows[1]  # only 10 is alike enough (0.9 >= AT_LEAST)
    assert sum(near >= AT_LEAST) == 1
    total = rows[1] + near[5] ** POWER * around[5]
    np.testing.assert_allclose(grown[1], total / np.linalg.norm(total), atol=1e-6)
    alone = augmented(rows, ids, np.zeros((0, 3), np.float32), [])
    np.testing.assert_allclose(alone, rows)


def test_a_search_reads_the_expanded_space_deeper_than_its_candidates(built_index, photos):
    """The candidates stay the ``depth`` nearest; the query's neighbourhood, which the
    expansion grows each candidate from, is the NEIGHBOURHOOD nearest."""
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "clothing_hat_0.jpg")
        around = Around()
        found = index.searcher._global_candidates(query, 3, around)
        nearest = index.store.nearest("cnn", np.asarray(query.features["cnn"])[None], 1000)[0]
    assert len(around.ids) == min(NEIGHBOURHOOD, len(nearest)) > 3
    assert around.ids == [image_id for image_id, _ in nearest][:NEIGHBOURHOOD]
    assert set(around.ids[:3]) <= set(found)
    assert not set(around.ids[3:]) & {i for i, c in found.items() if "cosine" in c.signals}


def test_candidates_grow_from_pictures_around_the_query_that_are_no_candidates(built_index, photos):
    """With fewer candidates than pictures around the query (3 nearest here, of 22), each
    candidate grows by its nearest among the query's NEIGHBOURHOOD nearest, candidates or
    not: its expanded cosine is not what growing among the candidates alone gives."""
    query_path = photos / "clothing_hat_0.jpg"
    with Index.open(built_index, readonly=True, candidates=3) as index:
        result = index.search(query_path, k=3)
        searched = index.searcher.scored(index.prepare_query(query_path), depth=3)
        query = index.prepare_query(query_path).features["cnn"]
        everything = index.store.stacked(["cnn"], range(1, 1000))["cnn"]
    ids = list(searched)
    assert len(ids) < len(everything.ids) <= NEIGHBOURHOOD
    rows = everything.values[[everything.ids.index(i) for i in ids]]
    exact = {i for i, c in searched.items() if c.exact}
    wide = augmented(rows, ids, everything.values, everything.ids, exact)
    narrow = augmented(rows, ids, rows, ids, exact)
    expected = dict(zip(ids, (wide @ grown_query(query, ids, wide, exact)).tolist(), strict=True))
    alone = dict(zip(ids, (narrow @ grown_query(query, ids, narrow, exact)).tolist(), strict=True))
    shown = {m.id: m.signals["expanded"] for m in result.matches}
    assert shown and set(shown) <= set(ids)
    for image_id, value in shown.items():
        assert value == pytest.approx(expected[image_id], abs=1e-4)
    assert any(abs(alone[i] - value) > 1e-3 for i, value in shown.items())


def test_growing_many_candidates_takes_memory_in_proportion_to_them():
    """A search for thousands grows them a block at a time against the pool: the same
    values as one candidate at a time."""
    rng = np.random.default_rng(3)
    pool = rng.normal(size=(50, 8)).astype(np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    rows = np.vstack([pool, pool[::-1]] * 25)[:2500]
    ids = list(range(1000, 3500))
    together = augmented(rows, ids, pool, list(range(50)), exclude={7})
    one_by_one = np.vstack(
        [augmented(rows[k : k + 1], ids[k : k + 1], pool, list(range(50)), {7}) for k in (0, 1999)]
    )
    np.testing.assert_allclose(together[[0, 1999]], one_by_one, atol=1e-6)


def test_shown_similarity_takes_the_better_of_the_own_and_the_expanded_cosine():
    plain = {"cosine": 0.8, "cosine_mine": 0.6}
    assert shown_similarity(plain) == similarity_from(plain)
    assert shown_similarity({**plain, "expanded": 0.7}) == similarity_from({"cosine": 0.8})
    assert shown_similarity({**plain, "expanded": 0.9}) == similarity_from({"cosine": 0.9})
    assert similarity_from({**plain, "expanded": 0.9}) == similarity_from(plain)  # verifying


def test_a_search_ranks_its_similar_tier_by_the_expanded_query(built_index, photos):
    """Through a real search of every bundled photo with a hat (another hat and a shoe are
    among its nearest): each result's similarity comes from its stored vector, grown by its
    three nearest stored vectors, and its cosine with the query grown by its three nearest
    grown vectors (never the query itself), where that is higher than its own, and the plain
    similar tier is ordered by it."""
    with Index.open(built_index, readonly=True) as index:
        everything = index.store.count()
        result = index.search(photos / "clothing_hat_0.jpg", k=everything)
        query = index.prepare_query(photos / "clothing_hat_0.jpg").features["cnn"]
        stored = index.store.stacked(["cnn"], [m.id for m in result.matches])["cnn"]
        exact = {m.id for m in result.matches if m.tier == "exact"}
        assert everything <= NEIGHBOURHOOD  # every picture is around the query here
        rows = augmented(stored.values, stored.ids, stored.values, stored.ids, exact)
        grown = grown_query(query, stored.ids, rows, exact)
        expected = dict(zip(stored.ids, (rows @ grown).tolist(), strict=True))
    plain = [
        m
        for m in result.matches
        if m.tier == "similar"
        and m.copy_confidence < POSSIBLE_COPY
        and m.signals["phash"] > CLOSE_PHASH
    ]
    assert len(plain) >= 5 and exact
    changed = 0
    for match in plain:
        assert match.signals["expanded"] == pytest.approx(expected[match.id], abs=1e-4)
        best = max(match.signals["cosine"], expected[match.id])
        assert match.similarity == pytest.approx(similarity_from({"cosine": best}), abs=1e-5)
        changed += abs(match.signals["expanded"] - match.signals["cosine"]) > 0.01
    assert changed >= len(plain) // 2  # expanded: not the plain cosine
    shown = [m.similarity for m in plain]
    assert shown == sorted(shown, reverse=True)


def test_the_query_is_expanded_once_among_a_searchs_final_candidates(built_index, photos):
    """``scored`` (also duplicates' searches) leaves the expansion to ``search``, which makes
    it once, after its last look; with no stored vector, nothing fails."""
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "clothing_hat_0.jpg")
        candidates = index.searcher.scored(query)
        assert candidates and not any("expanded" in c.signals for c in candidates.values())
        expand(index.store, query.features, candidates)
        assert all("expanded" in c.signals for c in candidates.values())
        unknown = {10_000: Candidate(10_000)}  # no stored vector
        expand(index.store, query.features, unknown)
        assert "expanded" not in unknown[10_000].signals
    query_only = np.array([1.0, 0.0], np.float32)
    np.testing.assert_allclose(grown_query(query_only, [], np.zeros((0, 0))), query_only)


def _counting(monkeypatch) -> list[int]:
    """Count the neighbourhoods read (one per growing, on the pool or not)."""
    made: list[int] = []
    read = Neighbourhood.__init__

    def counted(self, *args, **kwargs):
        made.append(1)
        read(self, *args, **kwargs)

    monkeypatch.setattr(Neighbourhood, "__init__", counted)
    return made


def test_candidates_grown_ahead_on_the_pool_are_those_grown_at_the_end(
    built_index, photos, monkeypatch
):
    """A search starts growing its first candidates on the pool as soon as it has them; the
    expansion takes them from there (no second neighbourhood read) and grows only the
    candidates that came later (the local look's): every value as when all are grown at the
    end."""
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "clothing_hat_0.jpg")
        around = Around()
        found = index.searcher._global_candidates(query, 3, around)
        first = dict(list(found.items())[:2])
        later = {i: Candidate(i) for i in around.ids[5:8]}
        made = _counting(monkeypatch)
        with ThreadPoolExecutor(1) as pool:
            around.start(index.store, first, pool)
        ahead = {**first, **later}  # the pool has grown the first ones by now
        expand(index.store, query.features, ahead, around)
        assert len(made) == 1
        at_end = {i: Candidate(i, exact=c.exact) for i, c in ahead.items()}
        whole = Around()
        whole.ids.extend(around.ids)
        expand(index.store, query.features, at_end, whole)
    assert len(ahead) == 5
    for image_id, cand in ahead.items():
        assert cand.signals["expanded"] == pytest.approx(
            at_end[image_id].signals["expanded"], abs=1e-6
        )


def test_a_search_starts_growing_its_first_candidates(built_index, photos, monkeypatch):
    started = []
    start = Around.start

    def spied(self, store, candidates, pool):
        started.append(dict(candidates))
        start(self, store, candidates, pool)

    monkeypatch.setattr(Around, "start", spied)
    with Index.open(built_index, readonly=True) as index:
        index.search(photos / "clothing_hat_0.jpg", k=3)
    assert len(started) == 1 and len(started[0]) >= 3


def test_growing_ahead_is_done_again_when_the_exact_duplicates_changed(built_index, photos):
    """Growing leaves the query's exact duplicates (itself) out of the neighbourhood: when the
    candidates at the end hold another exact duplicate than those it started with, the growing
    is done again, without the started result."""
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "clothing_hat_0.jpg")
        around = Around()
        found = index.searcher._global_candidates(query, 4, around)
        plain = {i: Candidate(i) for i in found}
        with ThreadPoolExecutor(1) as pool:
            around.start(index.store, plain, pool)
        one = next(iter(plain))
        marked = {**plain, one: Candidate(one, exact=True)}
        hood = around.neighbourhood(index.store, marked)
    assert hood.exact == {one}


def test_growing_not_begun_on_a_busy_pool_is_done_by_the_search_itself(built_index, photos):
    """A search does not wait behind other work queued on the pool: growing that has not
    begun when the expansion needs it is cancelled there and done on the search's thread."""
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "clothing_hat_0.jpg")
        around = Around()
        found = index.searcher._global_candidates(query, 4, around)
        release = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(release.wait, 10)
            around.start(index.store, found, pool)
            expand(index.store, query.features, found, around)
            done_while_busy = not busy.done()
            release.set()
    assert done_while_busy
    assert all("expanded" in c.signals for c in found.values())


def test_a_growing_nobody_takes_is_cancelled(built_index, photos, monkeypatch):
    """A search that fails, or ends without candidates, leaves the shared pool no growing to
    run for nothing."""
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "clothing_hat_0.jpg")
        release = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(release.wait, 10)
            with pytest.raises(RuntimeError), Around() as around:
                found = index.searcher._global_candidates(query, 4, around)
                made = _counting(monkeypatch)
                around.start(index.store, found, pool)
                raise RuntimeError("the search failed")
            release.set()
    assert made == []


def test_growing_takes_a_store_whose_empty_rows_have_no_width():
    """``Store.stacked``'s default gives (0, 0) for no rows: a neighbourhood without vectors
    still grows (leaves as it is) a candidate that has one."""

    class Rows:
        def stacked(self, names, ids):
            return {"cnn": FeatureRows.of({i: _unit(1, 2, 2) for i in ids if i == 7})}

    hood = Neighbourhood(Rows(), [1, 2, 3], frozenset())
    hood.grow([7])
    np.testing.assert_allclose(hood.grown_rows[7], _unit(1, 2, 2))
