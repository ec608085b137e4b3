"""Query expansion for the ``similar`` tier: rank by closeness to the query and its nearest few.

One picture's embedding is a noisy sample of what it shows: a daffodil photographed against
grass lies near other daffodils, but also near grass. Its nearest neighbours in the
collection (the pictures most like it) mostly show the same thing, each with its own noise,
so the query's vector plus theirs, weighted by how close each is, points at what they share
(average query expansion, alpha-QE: Chum et al. 2007, Radenovic et al. 2018). The candidates
are then ranked by their cosine with that expanded vector. Each candidate's own vector is
grown the same way first, by its nearest few among the query's ``NEIGHBOURHOOD`` nearest
pictures (database-side augmentation, Arandjelovic & Zisserman 2012, done per search over
the part of the collection around the query instead of over all of it at indexing time).

Only the ``similar`` tier's order and the reported ``similarity`` (the better of the own and
the expanded cosine) change: exact and copy tiers, the copy confidence (calibrated on the
plain cosine) and the order in which candidates are verified keep the query's own cosine.
The query is expanded once per search, among its final candidates. The growing costs ~1 ms
of one core per search (its product of ~40 candidates by 200 vectors of 1,280 values): the
first candidates are grown on the pool as soon as the search has them (``Around``), while it
goes on with their signals and the local look, and only the later ones (voted for) at the
end: 1.22 -> 0.29 ms p50 on the search's own thread, a gain within the machine's noise in
side-by-side runs (BENCHMARKS.md, "Speed"). Only the shipped CNN's
embedding is expanded: the limits below suit its cosines (another model's unrelated pictures
may lie far above 0.5). Measured in BENCHMARKS.md, "Semantic similarity"
(``bench/semantic_product.py``, the product's searches of the class-labelled sets): P@10 of a
search for 10 0.861 / 0.557 (flowers / clothing) with the query expanded, 0.871 / 0.577 with
the candidates grown too, for ~0.5 ms more per search (searches for all: 0.838 / 0.555 by
the matches' own cosine); among the natural near-duplicates of the development set, a few
whose original only the CNN's weak likeness finds move among look-alikes (R@1 / R@10 0.813 /
0.849 -> 0.811 / 0.855 with the candidates grown).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
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
# The query's nearest pictures a candidate's own neighbours are taken from (its search of the
# embedding space reads this deep). P@10 on the labelled sets, each image searching all
# others with 32 candidates re-ranked (flowers / clothing): no augmentation 0.849 / 0.553;
# neighbours among the 32 candidates only 0.834 / 0.555; among the nearest 100 0.858 / 0.563;
# among the nearest 200 0.864 / 0.570; among the whole set 0.865 / 0.573 (BENCHMARKS.md).
NEIGHBOURHOOD = 200
BLOCK = 1024  # candidates grown at a time


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
    cos = np.asarray(cosines, dtype=np.float32).reshape(1, -1)
    pool = np.asarray(vectors, dtype=np.float32).reshape(cos.shape[1], len(query))
    return moved(query[None], cos, pool, neighbours, power)[0]


def moved(
    rows: np.ndarray, cos: np.ndarray, pool: np.ndarray, neighbours: int, power: float
) -> np.ndarray:
    """Each of ``rows`` plus its ``neighbours`` rows of ``pool`` of the highest ``cos`` (rows
    x pool; -inf: never) from ``AT_LEAST``, each weighted by its cosine to the ``power``,
    normalised again: the one rule the query and the candidates are grown by."""
    take = min(neighbours, cos.shape[1])
    total = rows
    if take:
        near = np.argpartition(-cos, take - 1, axis=1)[:, :take]  # the nearest, in any order
        weight = np.take_along_axis(cos, near, axis=1)
        weight = np.where(weight >= AT_LEAST, np.power(np.maximum(weight, 0.0), power), 0.0)
        total = rows + np.einsum("ij,ijk->ik", weight.astype(np.float32), pool[near])
    return total / np.maximum(np.linalg.norm(total, axis=1, keepdims=True), 1e-12)


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


def augmented(
    rows: np.ndarray,
    ids: Sequence[int],
    around: np.ndarray,
    around_ids: Sequence[int],
    exclude: Collection[int] = (),
    neighbours: int = NEIGHBOURS,
    power: float = POWER,
) -> np.ndarray:
    """Each of ``rows`` (those of ``ids``) plus its ``neighbours`` most alike rows of
    ``around`` (those of ``around_ids``) from ``AT_LEAST``, itself and ``exclude`` (the
    query's exact duplicates: itself) left out, each weighted by its cosine to the ``power``,
    normalised again; ``BLOCK`` rows at a time (a search for 20,000 grows them all)."""
    rows = np.asarray(rows, dtype=np.float32)
    if not len(ids) or not len(around_ids):
        return rows
    pool = np.asarray(around, dtype=np.float32)
    pool_ids = np.asarray(around_ids, dtype=np.int64)
    left_out = np.isin(pool_ids, np.fromiter(exclude, np.int64, len(exclude)))
    own = np.asarray(ids, dtype=np.int64)
    blocks = []
    for start in range(0, len(rows), BLOCK):
        part = rows[start : start + BLOCK]
        cos = part @ pool.T
        cos[(own[start : start + BLOCK, None] == pool_ids[None, :]) | left_out[None, :]] = -np.inf
        blocks.append(moved(part, cos, pool, neighbours, power))
    return np.vstack(blocks)


class Around:
    """The query's nearest pictures in the expanded space (``ids``: the search of that space
    fills them) and, once ``start`` is called with a search's first candidates, their
    vectors read and those candidates grown among them on a pool thread, while the search
    goes on (verification, the local look); ``expand`` grows the rest at the end. As a
    context, it cancels on leaving a growing nobody took (a search that failed, or ended
    without candidates), so the shared pool does not run it for nothing."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self._started: Future[Neighbourhood] | None = None
        self._exact: frozenset[int] = frozenset()

    def __enter__(self) -> Around:
        return self

    def __exit__(self, *_: object) -> None:
        if self._started is not None:
            self._started.cancel()

    def start(
        self, store: Store, candidates: Mapping[int, Candidate], pool: Executor | None
    ) -> None:
        if not self.ids or pool is None:
            return
        self._exact = _exact(candidates)
        first = list(candidates)
        hood = self.ids[:NEIGHBOURHOOD]
        self._started = pool.submit(Neighbourhood.grown, store, hood, first, self._exact)

    def neighbourhood(self, store: Store, candidates: Mapping[int, Candidate]) -> Neighbourhood:
        """The neighbourhood the candidates grow in: the started one when it holds the same
        exact duplicates (else, or when its task has not begun, one read here); without
        ``ids``, the candidates themselves."""
        exact = _exact(candidates)
        started, self._started = self._started, None
        if started is not None and not started.cancel() and exact == self._exact:
            return started.result()
        return Neighbourhood(store, self.ids[:NEIGHBOURHOOD] or list(candidates), exact)


class Neighbourhood:
    """The stored vectors of the pictures candidates grow among, and the candidates grown."""

    def __init__(self, store: Store, ids: Sequence[int], exact: frozenset[int]) -> None:
        self.store = store
        rows = store.stacked([FEATURE], list(dict.fromkeys(ids)))[FEATURE]
        self.ids, self.vectors = list(rows.ids), np.asarray(rows.values, dtype=np.float32)
        self.exact = exact
        self.grown_rows: dict[int, np.ndarray] = {}

    @classmethod
    def grown(
        cls, store: Store, ids: Sequence[int], first: Sequence[int], exact: frozenset[int]
    ) -> Neighbourhood:
        hood = cls(store, ids, exact)
        hood.grow(first)
        return hood

    def grow(self, ids: Iterable[int]) -> None:
        """Grow the candidates ``ids`` not grown yet (one without a stored vector stays
        so); those among the neighbourhood are not read again."""
        new = [i for i in dict.fromkeys(ids) if i not in self.grown_rows]
        at = {image_id: k for k, image_id in enumerate(self.ids)}
        held = [i for i in new if i in at]
        unheld = [i for i in new if i not in at]
        read = self.store.stacked([FEATURE], unheld)[FEATURE] if unheld else None
        ids_read = held + list(read.ids if read is not None else ())
        if not ids_read:
            return
        parts = [self.vectors[[at[i] for i in held]]] if held else []
        if read is not None and read.ids:  # (a store's empty rows may have no width)
            parts.append(np.asarray(read.values, dtype=np.float32))
        vectors = np.vstack(parts)
        grown = augmented(vectors, ids_read, self.vectors, self.ids, self.exact)
        self.grown_rows.update(zip(ids_read, grown, strict=True))


def expand(
    store: Store,
    features: Mapping[str, FeatureValue],
    candidates: Mapping[int, Candidate],
    around: Around | None = None,
) -> None:
    """Give each candidate of a search its cosine with the expanded query (the ``expanded``
    signal): its own ``FEATURE`` grown by its nearest among the query's nearest pictures
    (``around``, their first ``NEIGHBOURHOOD``; without them, among the candidates), and the
    query's grown by its nearest grown candidates (never by its exact duplicates: itself);
    candidates without a stored vector keep their own cosine only."""
    if FEATURE not in features or not candidates:
        return
    hood = (around or Around()).neighbourhood(store, candidates)
    hood.grow(candidates)
    ids = [i for i in candidates if i in hood.grown_rows]
    if not ids:
        return
    grown_rows = np.stack([hood.grown_rows[i] for i in ids])
    grown = grown_query(np.asarray(features[FEATURE]).ravel(), ids, grown_rows, hood.exact)
    for image_id, score in zip(ids, (grown_rows @ grown).tolist(), strict=True):
        candidates[image_id].signals[EXPANDED] = score


def _exact(candidates: Mapping[int, Candidate]) -> frozenset[int]:
    return frozenset(image_id for image_id, c in candidates.items() if c.exact)
