"""Query expansion for the ``similar`` tier: rank by closeness to the query and its nearest few.

One picture's embedding is a noisy sample of what it shows: a daffodil photographed against
grass lies near other daffodils, but also near grass. Its nearest neighbours in the
collection (the pictures most like it) mostly show the same thing, each with its own noise,
so the query's vector plus theirs, weighted by how close each is, points at what they share
(average query expansion, alpha-QE: Chum et al. 2007, Radenovic et al. 2018). The candidates
are then ranked by their cosine with that expanded vector.

Only the ``similar`` tier's order and the reported ``similarity`` (the better of the own and
the expanded cosine) change: exact and copy tiers, the copy confidence (calibrated on the
plain cosine) and the order in which candidates are verified keep the query's own cosine.
The query is expanded once per search, among its final candidates. Only the shipped CNN's
embedding is expanded: the limits below suit its cosines (another model's unrelated pictures
may lie far above 0.5). Measured in BENCHMARKS.md, "Semantic similarity"
(``bench/semantic_product.py``): on the class-labelled sets mAP rises by 0.04 (flowers) and
0.01 (clothing), for a few per cent more time per search; among the natural near-duplicates of the
development set, a few whose original only the CNN's weak likeness finds move among
look-alikes (R@10 0.851 -> 0.845).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pictrace.features.base import FeatureValue
    from pictrace.search.candidates import Candidate
    from pictrace.store.base import Store

NEIGHBOURS = 3  # nearest candidates added to the query (2 or 5: within 0.01 mAP; more help
# flowers and not clothing, whose neighbours are less often of the same kind)
POWER = 3.0  # each weighted by its cosine to this power (equal weights: -0.006 P@10 clothing)
FEATURE = "cnn"  # the embedding expanded: the shipped CNN, whose cosines the limits suit
EXPANDED = "expanded"  # the signal: a candidate's cosine with the expanded query
# Neighbours less alike than this are not added: unrelated photos lie around 0.35, and a
# small collection holding nothing like the query would pull it towards whatever is there.
AT_LEAST = 0.5


def expanded_query(
    query: np.ndarray,
    vectors: np.ndarray,
    cosines: np.ndarray,
    neighbours: int = NEIGHBOURS,
    power: float = POWER,
) -> np.ndarray:
    """The query vector (L2-normalised) plus the ``neighbours`` rows of ``vectors`` with the
    highest ``cosines`` (their cosines with it) from ``AT_LEAST``, each weighted by its cosine
    to the ``power``, normalised again. With no such neighbour, the query itself."""
    query = np.asarray(query, dtype=np.float32).ravel()
    order = np.argsort(-cosines, kind="stable")[:neighbours]
    chosen = order[cosines[order] >= AT_LEAST]
    if not len(chosen):
        return query
    weights = np.power(cosines[chosen].astype(np.float32), power)
    total = query + weights @ np.asarray(vectors[chosen], dtype=np.float32)
    return total / max(float(np.linalg.norm(total)), 1e-12)


def grown_query(
    query: np.ndarray, ids: Sequence[int], rows: np.ndarray, exclude: Collection[int] = ()
) -> np.ndarray:
    """``expanded_query`` with its neighbours taken among the stored vectors ``rows`` (those
    of ``ids``, one per row) but ``exclude`` (the query's exact duplicates: itself)."""
    query = np.asarray(query, dtype=np.float32).ravel()
    others = [k for k, image_id in enumerate(ids) if image_id not in exclude]
    if not others:
        return query
    kept = np.asarray(rows, dtype=np.float32).reshape(len(ids), -1)[others]
    return expanded_query(query, kept, kept @ query)


def expand(
    store: Store, features: Mapping[str, FeatureValue], candidates: Mapping[int, Candidate]
) -> None:
    """Give each candidate of a search its cosine with the expanded query (the ``expanded``
    signal), the query's ``FEATURE`` grown by its nearest candidates' (not its exact
    duplicates: itself); candidates without a stored vector keep their own cosine only."""
    if FEATURE not in features or not candidates:
        return
    rows = store.stacked([FEATURE], list(candidates))[FEATURE]
    if not rows.ids:
        return
    exact = {image_id for image_id, c in candidates.items() if c.exact}
    grown = grown_query(np.asarray(features[FEATURE]).ravel(), rows.ids, rows.values, exact)
    for image_id, score in zip(rows.ids, (rows.values @ grown).tolist(), strict=True):
        candidates[image_id].signals[EXPANDED] = score
