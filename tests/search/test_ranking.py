"""The order of a search's candidates within and across tiers."""

from pictrace.search.candidates import Candidate
from pictrace.search.ranking import CLOSE_PHASH, POSSIBLE_COPY, rank

THRESHOLD = 0.5


def _ids(candidates):
    return [c.id for c in rank(candidates, THRESHOLD)]


def test_exact_then_copies_then_similar():
    similar = Candidate(1, {"cosine": 0.99, "phash": 30.0}, confidence=0.001)
    copy = Candidate(2, {"cosine": 0.5, "phash": 20.0}, confidence=0.9)
    exact = Candidate(3, {"cosine": 1.0, "phash": 0.0}, exact=True, confidence=1.0)
    assert _ids([similar, copy, exact]) == [3, 2, 1]


def test_a_close_phash_ranks_before_mere_look_alikes():
    """A tiny thumbnail's original: nothing verified, a low cosine, but its pHash agrees; it
    comes before pictures that only look alike, as partial copy evidence does."""
    alike = Candidate(1, {"cosine": 0.9, "phash": 30.0}, confidence=0.005)
    original = Candidate(2, {"cosine": 0.5, "phash": float(CLOSE_PHASH)}, confidence=0.004)
    verified = Candidate(3, {"cosine": 0.4, "phash": 28.0}, confidence=POSSIBLE_COPY)
    assert _ids([alike, original, verified]) == [3, 2, 1]
    far = Candidate(2, {"cosine": 0.5, "phash": CLOSE_PHASH + 1.0}, confidence=0.004)
    assert _ids([alike, far]) == [1, 2]
