"""Tiers and order of a search's candidates, and the Matches it returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from pictrace.search.expansion import EXPANDED
from pictrace.types import TIER_ORDER, ImageRecord, Match, Tier

if TYPE_CHECKING:
    from pictrace.search.candidates import Candidate

# Cosine of the global embedding at which "similarity" starts above zero: typical unrelated
# photos score around this value (measured on the development photos, see BENCHMARKS.md).
COSINE_FLOOR = 0.35
POSSIBLE_COPY = 0.02  # about 20x the base rate of copies among candidates (calibration set)
# A pHash this close (of 64 bits) is partial copy evidence too: a thumbnail a few dozen pixels
# across has no keypoints to verify and little for the CNN, but its pHash still agrees with its
# original's (its dHash less often: on star fields, the gradients' signs are noise).
CLOSE_PHASH = 8


def similarity_from(signals: Mapping[str, float]) -> float:
    """The query's own cosine (the best of its vector features), mapped to 0..1 from
    COSINE_FLOOR: the order in which candidates are verified, and compare's similarity."""
    cosine = max((v for k, v in signals.items() if k.startswith("cosine")), default=0.0)
    return _mapped(cosine)


def shown_similarity(signals: Mapping[str, float]) -> float:
    """The similarity a search reports and ranks the ``similar`` tier by: the better of the
    query's own CNN cosine and the candidate's cosine with the expanded query
    (``search.expansion``), mapped as ``similarity_from`` (the best of any other vector
    features' own cosines too). A picture much like the query keeps its own; an unrelated
    one may rise a little when the query has close neighbours."""
    cosines = [v for k, v in signals.items() if k.startswith("cosine")]
    return _mapped(max([*cosines, signals.get(EXPANDED, 0.0)], default=0.0))


def _mapped(cosine: float) -> float:
    return min(max((float(cosine) - COSINE_FLOOR) / (1.0 - COSINE_FLOOR), 0.0), 1.0)


def tier_of(candidate: Candidate, copy_threshold: float) -> Tier:
    if candidate.exact:
        return "exact"
    return "copy" if candidate.confidence >= copy_threshold else "similar"


def rank(candidates: Sequence[Candidate], copy_threshold: float) -> list[Candidate]:
    """Exact, then copies by confidence, then similar pictures (``order_key``)."""
    return sorted(
        candidates,
        key=lambda c: order_key(tier_of(c, copy_threshold), c.confidence, c.signals),
    )


def order_key(
    tier: Tier,
    confidence: float,
    signals: Mapping[str, float],
    similarity: Callable[[Mapping[str, float]], float] = shown_similarity,
) -> tuple[int, int, float]:
    """Where a hit goes: by tier; within ``similar``, hits with partial copy evidence
    (confidence at least POSSIBLE_COPY: some verified geometry; or a pHash within
    CLOSE_PHASH bits) first by confidence, the rest by ``similarity``."""
    if tier != "similar":
        return (TIER_ORDER[tier], 0, -confidence)
    if confidence >= POSSIBLE_COPY or signals.get("phash", 64.0) <= CLOSE_PHASH:
        return (TIER_ORDER[tier], 0, -confidence)
    return (TIER_ORDER[tier], 1, -similarity(signals))


def to_match(candidate: Candidate, record: ImageRecord, copy_threshold: float) -> Match:
    similarity = 1.0 if candidate.exact else shown_similarity(candidate.signals)
    return Match.of(
        record,
        tier_of(candidate, copy_threshold),
        candidate.confidence,
        similarity,
        candidate.signals,
        candidate.evidence,
    )
