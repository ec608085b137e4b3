"""The searcher's candidates: where their signals come from."""

import shutil
from dataclasses import replace

import pytest

from pictrace import Index
from pictrace.futures import resolved
from pictrace.search.candidates import Candidate, HashedLook


def _stored_cosines(index: Index, query, ids) -> dict[int, float]:
    read = index.store.stacked(["cnn"], list(ids))["cnn"]
    return dict(zip(read.ids, (read.values @ query.features["cnn"]).tolist(), strict=True))


def test_the_cosine_from_the_embedding_search_is_the_stored_vectors_cosine(built_index, photos):
    # Candidates found in the embedding space take the search's inner product; the others
    # (found by hashes or votes) have their stored vectors read: both give the same cosine.
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "astronaut.jpg")
        found = index.searcher._global_candidates(query, 2)
        others = [Candidate(i) for i in index.store.all_ids() if i not in found]
        assert all("cosine" in c.signals for c in found.values()) and others
        every = [*found.values(), *others]
        index.searcher._signal(query, every)
        expected = _stored_cosines(index, query, [c.id for c in every])
        for cand in every:
            assert cand.signals["cosine"] == pytest.approx(expected[cand.id], abs=1e-5)


def test_an_hnsw_neighbour_removed_from_the_catalogue_is_no_candidate(tmp_path, photos):
    names = ["astronaut.jpg", "coffee.jpg", "rocket.jpg", "chelsea_cat.jpg"]
    for name in names:
        shutil.copy(photos / name, tmp_path / name)
    with Index.open(tmp_path / "index") as index:
        index.add([str(tmp_path / n) for n in names])
    (tmp_path / "index" / "vectors" / "cnn.json").unlink()  # rebuilt on open, past the threshold
    with Index.open(tmp_path / "index", hnsw_threshold=1) as index:
        assert index.store.spaces["cnn"].hnsw
        removed = index.resolve(str(tmp_path / "coffee.jpg")).id
        index.store.remove([removed])  # until the space is saved (and rebuilt, then)
        query = index.prepare_query(photos / "coffee.jpg")
        hits = index.store.nearest("cnn", query.features["cnn"][None], 4)[0]
        assert removed in {i for i, _ in hits}  # HNSW cannot delete: the catalogue decides
        candidates = index.searcher.scored(query)
        assert removed not in candidates and len(candidates) == 3
        expected = _stored_cosines(index, query, candidates)
        for image_id, cand in candidates.items():
            assert cand.signals["cosine"] == pytest.approx(expected[image_id], abs=1e-5)


def test_spaces_the_early_lookup_did_not_search_are_searched_after_the_cnn(built_index, photos):
    # e.g. a batched (learned) hash extractor: its values come with the CNN's, not early
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "coffee.jpg")
        early = index.searcher._exact(query.image)
        searched: list[str] = []
        nearest = index.store.nearest

        def recording(name, *args, **kwargs):
            searched.append(name)
            return nearest(name, *args, **kwargs)

        index.store.nearest = recording  # type: ignore[method-assign]
        hashed = resolved(HashedLook(frozenset({"phash"}), early, 32))
        found = index.searcher._global_candidates(replace(query, hashed=hashed), 32)
        assert sorted(searched) == ["cnn", "dhash"] and early.keys() <= found.keys()
        searched.clear()
        index.searcher._global_candidates(replace(query, hashed=hashed), 40)  # deeper: all
        assert sorted(searched) == ["cnn", "dhash", "phash"]


def test_near_identical_copies_are_verified_after_the_rounds_stop(tmp_path, photos, monkeypatch):
    """A collection with many versions of a picture: when a round of verification stops at
    one that is not a sure copy (forced here), plain re-encodes further down are verified
    all the same, up to the matches asked for, instead of ranking as merely similar."""
    from pictrace.search import rounds
    from tests.conftest import jpeg_bytes, load_rgb

    picture = load_rgb(photos / "coffee.jpg")
    for quality in (95, 85, 75, 65, 55, 45):
        (tmp_path / f"q{quality}.jpg").write_bytes(jpeg_bytes(picture, quality))
    for scale in (0.9, 0.8, 0.7, 0.6):
        size = (round(picture.width * scale), round(picture.height * scale))
        (tmp_path / f"s{scale}.jpg").write_bytes(jpeg_bytes(picture.resize(size), 90))
    monkeypatch.setattr(rounds, "SURE_COPY", 1.01)  # no round is ever all sure copies
    with Index.open(tmp_path / "index", verify_top=4) as index:
        assert len(index.add([str(tmp_path)]).added) == 10
        matches = index.search(photos / "coffee.jpg", k=10).matches
    assert len(matches) == 10 and all(m.tier == "copy" for m in matches)


def test_an_image_met_twice_in_an_embedding_space_keeps_its_nearest_cosine(built_index, photos):
    """An HNSW space keeps the vector an image had before its features were computed again
    (under the same id) until it is rebuilt: the search meets that id twice, nearest first,
    and the candidate's cosine is the nearest's, not whichever came last."""
    with Index.open(built_index, readonly=True) as index:
        query = index.prepare_query(photos / "astronaut.jpg")
        index.store.nearest = lambda *args, **kwargs: [[(7, 0.93), (3, 0.5), (7, 0.21)]]
        found = index.searcher._global_candidates(query, 3)
    assert found[7].signals["cosine"] == pytest.approx(0.93)
