"""Tiers and order of a search's candidates, and the Matches it returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

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
    """The similarity a search reports and ranks the ``similar`` tier by: per vector feature,
    the better of the query's own cosine and the cosine with the expanded query where the
    search computed it (``search.expansion``: the signal named like the cosine's, "expanded"
    for "cosine"); the best of them, mapped as ``similarity_from``. (A picture much like the
    query keeps its own cosine; on the class-labelled sets, the same P@10 and mAP as the
    expanded cosine alone.)"""
    cosines = (
        max(value, signals.get("expanded" + key.removeprefix("cosine"), value))
        for key, value in signals.items()
        if key.startswith("cosine")
    )
    return _mapped(max(cosines, default=0.0))


def _mapped(cosine: float) -> float:
    return min(max((float(cosine) - COSINE_FLOOR) / (1.0 - COSINE_FLOOR), 0.0), 1.0)


def tier_of(candidate: Candidate, copy_threshold: float) -> Tier:
    if candidate.exact:
        return "exact"
    return "copy" if candidate.confidence >= copy_threshold else "similar"


def rank(candidates: Sequence[Candidate], copy_threshold: float) -> list[Candidate]:
    """Exact, then copies by confidence, then similar pictures. Within ``similar``, hits with
    partial copy evidence (confidence at least POSSIBLE_COPY: some verified geometry; or a
    pHash within CLOSE_PHASH bits) come first by confidence, the rest by visual
    similarity (``shown_similarity``)."""

    def key(c: Candidate) -> tuple[int, int, float]:
        tier = tier_of(c, copy_threshold)
        if tier != "similar":
            return (TIER_ORDER[tier], 0, -c.confidence)
        if c.confidence >= POSSIBLE_COPY or c.signals.get("phash", 64.0) <= CLOSE_PHASH:
            return (TIER_ORDER[tier], 0, -c.confidence)
        return (TIER_ORDER[tier], 1, -shown_similarity(c.signals))

    return sorted(candidates, key=key)


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
