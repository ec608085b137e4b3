"""Which of a query's candidates are verified geometrically, and in what order.

Verification (``verify.py``) is the costly part of a search, so it goes in rounds of
``verify_top`` candidates: the best by local-descriptor votes and the best by global signals,
alternately (``candidates.to_verify``), the voted ones first within a round; further rounds
only while every candidate of the last one was a sure copy; then any candidate whose hashes
say it is the same picture; then the twins of the sure copies (``_twins``); and, in a
search's second look, the image the query's negative voted for most.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pictrace.features.base import FeatureRows
from pictrace.features.hashes import hamming
from pictrace.search.candidates import (
    MIN_VOTES,
    NEAR_HAMMING,
    Candidate,
    Query,
    Verifier,
    globally_alike,
    near_identical,
    to_verify,
    tries_negative,
)
from pictrace.search.ranking import similarity_from

SURE_COPY = 0.9  # observed precision 0.975 above it (calibration held-out, BENCHMARKS.md)
TWIN_COSINE = 0.02  # a twin of a copy is as far from the query as the copy, give or take
TWIN_HASHES = ("phash", "dhash")
Hashes = Callable[[Sequence[int]], Mapping[str, FeatureRows]]  # stored hashes of images


@dataclass(frozen=True)
class Rounds:
    """The verification of one query's candidates: ``confide`` recomputes the confidence of
    the candidates verification changed."""

    verifier: Verifier
    query: Query
    confide: Callable[[Iterable[Candidate]], None]
    verify_top: int
    hashes: Hashes | None = None

    def run(self, candidates: list[Candidate], wanted: int, verified: set[int]) -> None:
        """The rounds, then the near-identical candidates they left, then the twins of the
        sure copies (``wanted``: the matches asked for; ``verified``: ids verified early, on
        the votes' thread)."""
        done = self._rounds(candidates, wanted, verified)
        self._near_identical(candidates, wanted, done)
        self._twins(candidates, wanted)

    def _rounds(self, candidates: list[Candidate], wanted: int, verified: set[int]) -> set[int]:
        """Verify ``verify_top`` candidates; when every one of them is a sure copy, the index
        holds many copies of this picture, so verify the next ``verify_top`` too, and so on,
        until a round finds anything less or ``wanted`` (the matches asked for) are verified.
        (Only sure copies go on: photos of a repetitive subject, such as chessboards, verify
        as likely copies of each other, and more rounds would only find more of them.)
        Candidates in ``verified`` (verified early, on the votes' thread) are not verified
        again when chosen; those not chosen keep their evidence all the same."""
        limit, done = self.verify_top, set[int]()
        while True:
            pending = [c for c in candidates if c.id not in done]
            chosen = to_verify(pending, min(limit, max(wanted, limit) - len(done)))
            if not chosen:
                return done
            self._chosen(chosen, verified)
            self.confide(chosen)  # the only ones verification changed
            done.update(c.id for c in chosen)
            if len(chosen) < limit or any(c.confidence < SURE_COPY for c in chosen):
                return done

    def _near_identical(self, candidates: list[Candidate], wanted: int, done: set[int]) -> None:
        """Verify the candidates whose hashes say they are the same picture, as many as the
        matches asked for, when the rounds stopped before them: a collection holding many
        edited versions of a picture stops the rounds at its first heavily edited one, and
        a plain re-encode left unverified would rank as merely similar (without keypoints
        its global signals alone are calibrated as a look-alike's)."""
        todo = [
            c
            for c in candidates
            if c.id not in done and c.evidence is None and not c.exact and near_identical(c)
        ]
        todo.sort(key=lambda c: -similarity_from(c.signals))
        todo = todo[: max(wanted, self.verify_top)]
        if todo:
            self.verifier(self.query, todo, None)
            self.confide(todo)

    def _twins(self, candidates: list[Candidate], wanted: int) -> None:
        """Verify the candidates that are the same picture as a sure copy (both stored
        hashes within NEAR_HAMMING of its), as many as the matches asked for (at least a
        round's ``verify_top``). A collection holding many re-encodes of one picture gives a
        crop of it no votes for most of them: their descriptors tie, and the ratio test lets
        ties of a few copies vote, not of a dozen (a 20 % crop found 7 of 11 such copies);
        nor do its global signals, far from a crop's, get them verified. Only candidates
        whose signals match a sure copy's (the query meets twins alike) have their hashes
        read."""
        sure = [c for c in candidates if c.confidence >= SURE_COPY and c.evidence is not None]
        left = [c for c in candidates if "inliers" not in c.signals and not c.exact]  # unverified
        alike = [c for c in left if any(_met_alike(c, s) for s in sure)]
        if not alike or self.hashes is None:
            return
        stored = self.hashes([c.id for c in sure + alike])
        if any(name not in stored for name in TWIN_HASHES):
            return
        rows = {
            name: dict(zip(stored[name].ids, stored[name].values, strict=True))
            for name in TWIN_HASHES
        }
        budget = max(wanted, self.verify_top)
        while budget > 0:  # a twin verified as a sure copy may have twins of its own
            todo = [c for c in alike if any(_twins(rows, c.id, s.id) for s in sure)][:budget]
            if not todo:
                return
            self.verifier(self.query, todo, None)
            self.confide(todo)
            budget -= len(todo)
            sure = [c for c in todo if c.confidence >= SURE_COPY and c.evidence is not None]
            alike = [c for c in alike if all(c is not t for t in todo)]

    def _chosen(self, chosen: list[Candidate], verified: set[int]) -> None:
        """Verify the candidates with local-descriptor votes first. When one of them is a
        copy beyond doubt (confidence >= SURE_COPY), the query is explained: the candidates
        without votes (only globally alike, as different photos of a subject are) keep their
        global-signal confidence instead of being verified too. Those in ``verified`` already
        are not verified again."""
        voted = [c for c in chosen if c.signals.get("votes", 0.0) >= MIN_VOTES]
        rest = [c for c in chosen if c.signals.get("votes", 0.0) < MIN_VOTES]
        if voted:
            if todo := [c for c in voted if c.id not in verified]:
                self.verifier(self.query, todo, None)
            self.confide(voted)
            if any(c.confidence >= SURE_COPY for c in voted):
                # Copies of one picture tie in the votes (the ratio test rejects ties), so
                # further copies may come without votes: still verify the look-alikes.
                rest = [c for c in rest if globally_alike(c)]
        if todo := [c for c in rest if c.id not in verified]:
            self.verifier(self.query, todo, None)

    def negative(self, candidates: list[Candidate]) -> None:
        """Verify the image the query's negative voted for most (a negative's descriptors
        vote only in a search's second look) unless it is verified already, or has enough
        votes of the query's own not to be matched as a negative."""
        voted = [c for c in candidates if c.signals.get("negative_votes", 0.0) >= MIN_VOTES]
        if not voted:
            return
        best = max(voted, key=lambda c: c.signals["negative_votes"])
        if best.evidence is None and not best.exact and tries_negative(best.signals):
            self.verifier(self.query, [best], None)
            self.confide([best])


def _met_alike(candidate: Candidate, copy: Candidate) -> bool:
    """Whether the query meets ``candidate`` as it meets ``copy``: the same cosine and
    hash distances, give or take (a twin of the copy, as far as global signals tell)."""
    a, b = candidate.signals, copy.signals
    if abs(a.get("cosine", 0.0) - b.get("cosine", 1.0)) > TWIN_COSINE:
        return False
    return all(abs(a.get(h, 64.0) - b.get(h, 0.0)) <= NEAR_HAMMING for h in TWIN_HASHES)


def _twins(rows: Mapping[str, Mapping[int, np.ndarray]], a: int, b: int) -> bool:
    """Whether two images' stored hashes are both within NEAR_HAMMING of each other."""
    for name in TWIN_HASHES:
        if a not in rows[name] or b not in rows[name]:
            return False
        if hamming(rows[name][a], rows[name][b]) > NEAR_HAMMING:
            return False
    return True
