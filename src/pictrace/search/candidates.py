"""What a search works with: the query, its candidates, and which candidates are worth the
geometric verification (the policy ``Searcher`` applies round by round)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import NamedTuple, Protocol

from pictrace.features.base import FeatureValue
from pictrace.search.ranking import similarity_from
from pictrace.search.signals import Signals
from pictrace.types import Box, DecodedImage, Evidence

MIN_VOTES = 2.0  # local-descriptor votes below this are chance matches
NEGATIVE_VOTES = 2 * MIN_VOTES  # from this many own votes a pair is not matched as a negative
VERIFY_COSINE = 0.6  # unrelated photos score 0.3-0.45; copies without votes >= 0.6
VERIFY_HAMMING = 12  # pHash/dHash distance; both gates lose no copy on the dev queries
ALIKE_COSINE = 0.8  # edited copies (caption, re-encode, colour, mirror) mostly score above
ALIKE_HAMMING = 8
# pHash and dHash both this close: the same picture (re-encoded, resized, lightly edited)
NEAR_HAMMING = 6


@dataclass(frozen=True)
class Query:
    """A decoded query and its features. ``pending``: features (the local ones) still being
    computed on a pool; the search reads global candidates meanwhile (``completed`` waits).
    ``look``: the local look a search has already started on them (``Searcher.look_ahead``);
    ``hashed``: the exact duplicates and hash-space neighbours it has started to look up."""

    label: str
    image: DecodedImage
    features: Mapping[str, FeatureValue]
    pending: Future[dict[str, FeatureValue]] | None = None
    look: Future[LocalLook] | None = None
    hashed: Future[HashedLook] | None = None  # Searcher.hashed_ahead

    def completed(self) -> Query:
        if self.pending is None:
            return self
        merged = {**self.features, **self.pending.result()}
        return Query(self.label, self.image, merged, None, self.look, self.hashed)


@dataclass(frozen=True)
class HashedLook:
    """What ``Searcher.hashed_ahead`` found while the CNN ran: exact duplicates and the
    neighbours in the ``searched`` spaces, ``depth`` deep."""

    searched: frozenset[str]
    found: Mapping[int, Candidate]
    depth: int


@dataclass
class Candidate:
    id: int
    signals: Signals = field(default_factory=dict)
    exact: bool = False
    evidence: Evidence | None = None
    confidence: float = 0.0
    # where in the query (full-size pixels) the inliers of its verification lie, also below
    # the inliers a transform needs: where a search's zoomed look sees the query closer
    focus: Box | None = None

    def copy_at(self, threshold: float) -> bool:
        """Whether it is a copy: exact, or confident from ``threshold`` on."""
        return self.exact or self.confidence >= threshold


class Verifier(Protocol):
    """Adds geometric signals and evidence to candidates in place. ``other`` is the hit as a
    decoded Query when it is at hand (compare); during search it reads stored features.
    ``inline``: on the calling thread only (the caller is itself a pool task)."""

    def __call__(
        self,
        query: Query,
        candidates: list[Candidate],
        other: Query | None,
        inline: bool = False,
    ) -> None: ...


class Votes(NamedTuple):
    """Local-descriptor votes for one image: by the query's descriptors as they are, by
    their mirror, and (a search's second look only) by those of the query's negative. The
    negative's votes are kept apart (signal ``negative_votes``; ``votes`` are the query's
    own): they only earn a candidate the one extra verification that
    ``Searcher._verify_negative`` gives, because chance votes of the negative's descriptors
    are as common as the query's own and would otherwise push real candidates out of
    verification."""

    direct: float
    mirror: float
    negative: float = 0.0

    @property
    def own(self) -> float:
        return self.direct + self.mirror

    @property
    def strength(self) -> float:
        return max(self.own, self.negative)

    def signals(self) -> Signals:
        """The query's own votes count from MIN_VOTES, as when nothing else voted."""
        own = self.own >= MIN_VOTES
        return {
            "votes": self.own if own else 0.0,
            "mirror_votes": self.mirror if own else 0.0,
            "negative_votes": self.negative,
        }


NO_VOTES = Votes(0.0, 0.0)


@dataclass(frozen=True)
class LocalLook:
    """What a query's local features found on their own: votes per image, and the
    best-voted candidates already verified (as soon as the votes are in, usually while the
    CNN still runs or the global candidates are being compared)."""

    votes: dict[int, Votes]
    verified: dict[int, Candidate]


class Refiner(Protocol):
    """Gives a query finer local features (of one region of it, in full-size pixels, when
    one is given), or None when that would add nothing. ``enlarge``: a picture too small for
    finer features is looked at enlarged (a query's look; an indexed hit never is)."""

    def __call__(
        self, query: Query, region: Box | None = None, enlarge: bool = True
    ) -> Query | None: ...


LOCAL_SIGNALS = frozenset(
    {
        "votes",
        "mirror_votes",
        "negative_votes",
        "inliers",
        "inlier_ratio",
        "coverage",
        "warped_ssim",
        "negative",
    }
)


def without_local(candidate: Candidate) -> Candidate:
    """A fresh copy of a candidate with its global signals only (no votes, no geometry)."""
    kept = {k: v for k, v in candidate.signals.items() if k not in LOCAL_SIGNALS}
    return Candidate(candidate.id, kept, exact=candidate.exact)


def take_local(candidate: Candidate, verified: Candidate) -> None:
    """Give ``candidate`` the geometric signals and evidence of its early verification."""
    candidate.signals.update({k: v for k, v in verified.signals.items() if k in LOCAL_SIGNALS})
    if verified.evidence is not None:
        candidate.evidence = verified.evidence
    candidate.focus = verified.focus


def tries_negative(signals: Mapping[str, float]) -> bool:
    """Whether a pair that does not fit as it is is also matched as a negative: when no more
    than chance votes of the query's own descriptors point to it (a negative's descriptors
    vote only as the query's negative, in a search's second look; compare has no votes).
    Candidates that reach verification without votes look alike globally, as a negative
    does to the CNN (cosine 0.73-0.97 on the development photos), or by its complementary
    hashes."""
    return signals.get("votes", 0.0) < NEGATIVE_VOTES


def globally_alike(candidate: Candidate) -> bool:
    """Global signals as close as an edited copy's usually are (not just the same subject)."""
    signals = candidate.signals
    return (
        signals.get("cosine", 0.0) >= ALIKE_COSINE
        or min(signals.get("phash", 64.0), signals.get("dhash", 64.0)) <= ALIKE_HAMMING
    )


def near_identical(candidate: Candidate) -> bool:
    """Both hashes nearly equal: the same picture unless it is nearly blank (a dark star
    field's or a flat picture's hashes say little; verification decides)."""
    signals = candidate.signals
    return max(signals.get("phash", 64.0), signals.get("dhash", 64.0)) <= NEAR_HAMMING


def worth_verifying(candidate: Candidate) -> bool:
    """Skip geometric verification where nothing hints at a copy: no local-descriptor votes,
    a generic embedding similarity and distant hashes (verification fails on those anyway)."""
    signals = candidate.signals
    hashes = (signals.get("phash", 32.0), signals.get("dhash", 32.0))
    return (
        signals.get("votes", 0.0) >= MIN_VOTES
        or signals.get("cosine", 0.0) >= VERIFY_COSINE
        or min(hashes) <= VERIFY_HAMMING
        or max(hashes) >= 64 - VERIFY_HAMMING  # a negative's hashes are the complement
    )


def to_verify(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """Pick candidates for geometric verification, alternating between the best by local
    votes (crops, rotations, overlays) and the best by global signals (edits)."""
    pending = [c for c in candidates if not c.exact and worth_verifying(c)]
    by_votes = sorted(
        (c for c in pending if c.signals.get("votes", 0.0) > 0), key=lambda c: -c.signals["votes"]
    )
    by_global = sorted(pending, key=lambda c: -max(c.confidence, similarity_from(c.signals)))
    chosen: dict[int, Candidate] = {}
    for pair in zip_longest(by_votes, by_global):
        for cand in pair:
            if cand is not None and len(chosen) < limit:
                chosen.setdefault(cand.id, cand)
    return list(chosen.values())
