"""Query -> candidates -> signals -> calibrated, tiered, ranked Matches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import nullcontext

import numpy as np

from pictrace.features.base import (
    SEARCHABLE,
    FeatureRows,
    FeatureSpec,
    FeatureValue,
    local_descriptors,
)
from pictrace.features.keypoints import COUNT, mirror_descriptors, negative_descriptors
from pictrace.futures import gathered, resolved, then
from pictrace.search.candidates import (
    MIN_VOTES,
    NO_VOTES,
    Candidate,
    HashedLook,
    LocalLook,
    Query,
    Refiner,
    Verifier,
    Votes,
    take_local,
    without_local,
)
from pictrace.search.confidence import Calibrator
from pictrace.search.expansion import FEATURE as EXPANDED_FEATURE
from pictrace.search.expansion import NEIGHBOURHOOD, Around, expand
from pictrace.search.ranking import rank, to_match
from pictrace.search.rounds import TWIN_HASHES, Rounds
from pictrace.search.signals import cosine_key, many_signals, pair_signals
from pictrace.search.zoom import explained, zoom_region
from pictrace.settings import Settings
from pictrace.store.base import Hits, Store
from pictrace.threads import all_cores
from pictrace.types import DecodedImage, Match

RERANK_FEATURES = ("cnn", "phash", "dhash", "colour")
GLOBAL_KINDS = SEARCHABLE - {"local"}  # spaces searched for global candidates
VOTE_KEYPOINTS = 96  # query keypoints (a spread-out prefix) that vote, each also mirrored
# ... and in a search's second and third looks, all of theirs: a copy pasted small into a
# larger picture holds a few of any spread-out prefix (one cell of the grid in 16 holds 6 of
# 96, and a flat garment yields few of them), too few to be voted for (BENCHMARKS.md, "A second
# look that votes with all its keypoints"). MIN_VOTES stays as set for 96: more voters give
# chance votes more often, so more candidates are verified, and a template the verifier is
# fooled by (a shared panel, a meme's caption) is met more often too.
AGAIN_VOTE_KEYPOINTS = COUNT


class Searcher:
    def __init__(
        self,
        store: Store,
        specs: Mapping[str, FeatureSpec],
        calibrator: Calibrator,
        settings: Settings,
        verifier: Verifier | None = None,
        pool: Executor | None = None,
    ) -> None:
        self.store = store
        self.pool = pool
        self.specs = specs
        self.calibrator = calibrator
        self.settings = settings
        self.verifier = verifier

    def search(
        self,
        query: Query,
        k: int,
        min_confidence: float = 0.0,
        refine: Refiner | None = None,
    ) -> tuple[Match, ...]:
        """The ranked matches. Coarse to fine: when nothing is a copy and ``refine`` can give
        the query finer local features (a copy pasted small into a large picture has too few
        pixels at the coarse keypoint resolution), the search runs again with those; each
        candidate keeps the better of its results. When that still finds no copy but some
        candidate's keypoints agreed in one small part of the query (a picture in a phone
        screenshot, a story frame or a grid), the search looks a third time, at that part
        alone (``zoom_region``). The second look also runs when the copies found show in
        less than ``zoom.EXPLAINED`` of the query (a collage of several indexed pictures:
        the others are as small in it as the first)."""
        with Around() as around:  # the query's nearest pictures, for the similar tier's order
            candidates = self._looked(query, k, refine, around)
            expand(self.store, query.completed().features, candidates, around)
        ranked = rank(list(candidates.values()), self.settings.copy_threshold)
        kept = [c for c in ranked if c.confidence >= min_confidence][:k]
        records = self.store.records(c.id for c in kept)
        return tuple(
            to_match(c, records[c.id], self.settings.copy_threshold)
            for c in kept
            if c.id in records  # else removed meanwhile
        )

    def _looked(
        self, query: Query, k: int, refine: Refiner | None, around: Around
    ) -> dict[int, Candidate]:
        """The candidates of a search's first look, and of its second and third when those
        are wanted (see ``search``)."""
        threshold = self.settings.copy_threshold
        candidates = self.scored(query, depth=k, around=around)
        query = query.completed()
        if refine is None or explained(candidates, query.image, threshold):
            return candidates
        finer = refine(query, None)
        if finer is not None:
            candidates = self._looked_again(finer, candidates, k)
        unfound = [c for c in candidates.values() if not self._copy(c)]
        region = zoom_region(unfound, query.image) if finer else None
        if region is not None and not explained(candidates, query.image, threshold, again=True):
            zoomed = refine(query, region)
            if zoomed is not None:
                candidates = self._looked_again(zoomed, candidates, k)
        return candidates

    def _copy(self, candidate: Candidate) -> bool:
        return candidate.copy_at(self.settings.copy_threshold)

    def _looked_again(
        self, finer: Query, candidates: dict[int, Candidate], k: int
    ) -> dict[int, Candidate]:
        """The candidates scored with the query's finer local features; each keeps the
        better of its two results."""
        looked = self.scored(finer, reuse=candidates, depth=k)
        for image_id, cand in candidates.items():
            if cand.confidence >= looked[image_id].confidence:
                looked[image_id] = cand
        return looked

    def scored(
        self,
        query: Query,
        exclude: int | None = None,
        reuse: Mapping[int, Candidate] | None = None,
        depth: int = 0,
        around: Around | None = None,
    ) -> dict[int, Candidate]:
        """Every candidate for ``query`` (but ``exclude``) still in the catalogue, with its
        signals, geometric evidence and calibrated confidence. Every global space gives its
        ``settings.candidates`` nearest, or ``depth`` when more are wanted (a search for the
        100 most similar pictures needs 100 neighbours).

        Local-descriptor voting, the slowest way to find candidates, and the verification of
        the best-voted ones run on the pool (``query.look`` when search started them with the
        query's keypoints) while this thread reads and compares the global features of the
        other candidates; the rest of ``verify_top`` is verified here. With
        ``reuse`` (the same query's candidates from a search with other local features) their
        global signals are kept and only the local part is redone. ``around`` is given the
        query's ``NEIGHBOURHOOD`` nearest pictures (the expansion starts on the pool)."""
        again = reuse is not None  # a second or third look votes with more, and its negative
        if reuse is None and exclude is None and query.look is not None:
            look = query.look
        else:
            look = self._local_later(query, exclude, again)
        if reuse is None:
            found = self._global_candidates(query, max(depth, self.settings.candidates), around)
            if around is not None:
                around.start(self.store, found, self.pool)
            self._signal(query, found.values())
        else:
            found = {i: without_local(c) for i, c in reuse.items()}
        # checked while the votes are being counted; the voted candidates follow
        alive = self.store.live(i for i in found if reuse is None or i not in reuse)
        query = query.completed()
        local = look.result()
        fresh = self._merge_local(query, found, local)
        self._signal(query, fresh)
        if exclude is not None:
            found.pop(exclude, None)
        alive |= self.store.live(c.id for c in fresh)
        # A space may still hold a removed image (HNSW cannot delete): the catalogue decides.
        live = {i: c for i, c in found.items() if i in alive or (reuse and i in reuse)}
        self._confide(live.values())
        self._verify(query, list(live.values()), depth, set(local.verified), again)
        return live

    def _verify(
        self,
        query: Query,
        candidates: list[Candidate],
        depth: int,
        verified: set[int],
        again: bool,
    ) -> None:
        """The verification rounds (``Rounds``) over a look's candidates (``again``: of a
        search's second or third look, which also verifies what the query's negative voted
        for)."""
        if self.verifier is None or self.settings.verify_top <= 0:
            return
        rounds = Rounds(self.verifier, query, self._confide, self.settings.verify_top, self._hashes)
        rounds.run(candidates, depth, verified)
        if again:
            rounds.negative(candidates)

    def _merge_local(
        self, query: Query, found: dict[int, Candidate], local: LocalLook
    ) -> list[Candidate]:
        """Give the candidates the local look's votes and early evidence; the voted images
        not among them become candidates too (returned: they still need global signals)."""
        fresh = []
        for image_id, votes in local.votes.items():
            if image_id not in found:
                found[image_id] = Candidate(image_id)
                fresh.append(found[image_id])
            found[image_id].signals.update(votes.signals())
            if image_id in local.verified:
                take_local(found[image_id], local.verified[image_id])
        if any(self.specs[n].kind == "local" for n in query.features if n in self.specs):
            none = NO_VOTES.signals()
            for cand in found.values():  # voting ran: no votes is information too
                for key, value in none.items():
                    cand.signals.setdefault(key, value)
        return fresh

    # --- candidates --------------------------------------------------------------------------
    def _global_candidates(
        self, query: Query, depth: int, around: Around | None = None
    ) -> dict[int, Candidate]:
        """Exact duplicates plus the neighbours in every global (non-local) space; those
        ``query.hashed`` looked up already (as deep as asked) are taken from it. A neighbour
        in a ``vector`` space gets its cosine from the search's inner product (the stored
        vector itself need not be read again)."""
        early = query.hashed.result() if query.hashed is not None else None
        if early is not None and early.depth >= depth:
            found = {i: Candidate(i, exact=c.exact) for i, c in early.found.items()}
            searched = early.searched
        else:
            found, searched = self._exact(query.image), frozenset()
        for name, spec in self.specs.items():
            if name in query.features and spec.kind in GLOBAL_KINDS and name not in searched:
                self._add_neighbours(found, name, spec, query.features[name], depth, around)
        return found

    def hashed_ahead(
        self,
        image: DecodedImage,
        started: Sequence[Future[dict[str, FeatureValue]]],
        depth: int,
    ) -> Future[HashedLook]:
        """Exact duplicates and hash-space neighbours of a query whose hashes are still being
        computed on the pool (``start_global``): looked up on that thread as soon as they are
        done, while the CNN runs on the caller's (``_global_candidates`` then takes them).
        Like the local look, it reads the pixel digest on a pool thread: the digest must have
        been handed to the pool before ``started`` (Index._started)."""

        def look_up(values: list[dict[str, FeatureValue]]) -> HashedLook:
            features = {name: value for row in values for name, value in row.items()}
            found = self._exact(image)
            names = [n for n, spec in self.specs.items() if n in features and spec.kind == "bits"]
            for name in names:
                self._add_neighbours(found, name, self.specs[name], features[name], depth)
            return HashedLook(frozenset(names), found, depth)

        return then(gathered(started), look_up, self.pool)

    def _exact(self, image: DecodedImage) -> dict[int, Candidate]:
        """The indexed pictures with the same bytes or the same pixels."""
        ids = self.store.by_hash(image.byte_sha256, image.pixel_sha256)
        return {image_id: Candidate(image_id, exact=True) for image_id in ids}

    def _add_neighbours(
        self,
        found: dict[int, Candidate],
        name: str,
        spec: FeatureSpec,
        value: FeatureValue,
        depth: int,
        around: Around | None = None,
    ) -> None:
        """The ``depth`` nearest in space ``name`` as candidates; the expanded space is read
        at least ``NEIGHBOURHOOD`` deep for ``around``, which is given the nearest."""
        collect = around.ids if around is not None and name == EXPANDED_FEATURE else None
        reach = depth if collect is None else max(depth, NEIGHBOURHOOD)
        for row, hits in enumerate(self._neighbours(name, spec, value, reach)):
            if collect is not None and row == 0:
                collect.extend(image_id for image_id, _ in hits[:NEIGHBOURHOOD])
            for image_id, score in hits[:depth]:
                cand = found.setdefault(image_id, Candidate(image_id))
                if spec.kind == "vector" and row == 0:
                    # the nearest first: an HNSW space keeps the vector an image had before
                    # its features were computed again (under its id) until it is rebuilt
                    cand.signals.setdefault(cosine_key(name), min(1.0, max(-1.0, score)))

    def _votes(self, query: Query, again: bool = False) -> dict[int, Votes]:
        """Matching local descriptors per image, for images with at least MIN_VOTES of them:
        the query's own, its mirrored ones (the verifier matches only the side that has the
        votes) and, ``again`` (a search's second or third look), of all AGAIN_VOTE_KEYPOINTS, with
        those of its negative, mirrored or not (two more searches of the space, of the
        VOTE_KEYPOINTS prefix)."""
        votes: dict[int, Votes] = {}
        for name, spec in self.specs.items():
            if name not in query.features or spec.kind != "local":
                continue
            voting = AGAIN_VOTE_KEYPOINTS if again else VOTE_KEYPOINTS
            desc = local_descriptors(query.features[name])[:voting]

            def count(rows: np.ndarray, name: str = name) -> dict[int, float]:
                # A second or third look votes with five times the descriptors once the
                # CNN is done, when this search leaves the other cores idle (unless other
                # searches run): faiss on all of them, 6.8 -> 3.8 ms on two.
                with all_cores() if again else nullcontext():
                    return dict(self.store.nearest(name, rows, self.settings.candidates)[0])

            direct, mirror, negative = count(desc), {}, {}
            if name == "keypoints":  # a mirrored copy matches the mirrored descriptors
                mirror = count(mirror_descriptors(desc))
                if again:  # a negative is a whole picture inverted: a prefix finds it
                    inverted = negative_descriptors(desc[:VOTE_KEYPOINTS])
                    negative = count(np.vstack([inverted, mirror_descriptors(inverted)]))
            for image_id in direct.keys() | mirror.keys() | negative.keys():
                got = Votes(*(side.get(image_id, 0.0) for side in (direct, mirror, negative)))
                if (
                    got.strength >= MIN_VOTES
                    and got.strength > votes.get(image_id, NO_VOTES).strength
                ):
                    votes[image_id] = got
        return votes

    def _local(self, query: Query, exclude: int | None, again: bool = False) -> LocalLook:
        """Votes, then the geometric verification of the best-voted candidates: as many as
        ``to_verify`` takes by votes in its first round (half of ``verify_top``), leaving out
        ``exclude`` and exact duplicates (rank 1 without verification)."""
        votes = self._votes(query, again)
        if self.verifier is None or self.settings.verify_top <= 0:
            return LocalLook(votes, {})
        image = query.image
        skip = {exclude, *self.store.by_hash(image.byte_sha256, image.pixel_sha256)}
        own = [i for i in votes if i not in skip and votes[i].own >= MIN_VOTES]
        ranked = sorted(own, key=lambda i: -votes[i].own)
        chosen = [
            Candidate(i, votes[i].signals()) for i in ranked[: (self.settings.verify_top + 1) // 2]
        ]
        if chosen:
            self.verifier(query, chosen, None, inline=True)
        return LocalLook(votes, {c.id: c for c in chosen})

    def look_ahead(self, query: Query) -> Future[LocalLook]:
        """Start the local look of a query whose local features are still computing: it
        runs on their thread as soon as they are done (``search`` then uses it)."""
        return self._local_later(query, None)

    def _local_later(
        self, query: Query, exclude: int | None, again: bool = False
    ) -> Future[LocalLook]:
        """The local look, the slowest part of a search, off this thread: right after the
        query's local features on the thread that computes them while they are pending, else
        on the pool (inline only without one)."""
        if query.pending is not None and not query.pending.done():
            return then(
                query.pending,
                lambda _: self._local(query.completed(), exclude, again),
                self.pool,
            )
        if self.pool is not None:
            return self.pool.submit(self._local, query.completed(), exclude, again)
        return resolved(self._local(query.completed(), exclude, again))

    def _neighbours(
        self, name: str, spec: FeatureSpec, value: FeatureValue, depth: int
    ) -> list[Hits]:
        rows = np.asarray(value)
        if spec.kind == "bits":
            rows = rows.reshape(-1, spec.dim // 8)
        elif rows.ndim == 1:
            rows = rows.reshape(1, -1)
        return self.store.nearest(name, rows, depth, radius=self.settings.hash_radius)

    # --- scoring -----------------------------------------------------------------------------
    def _signal(self, query: Query, candidates: Iterable[Candidate]) -> None:
        """Compare the query's global features with each candidate's stored ones."""
        chosen = {c.id: c for c in candidates}
        if not chosen:
            return
        names = [
            n
            for n in self.specs
            if n in query.features and (n in RERANK_FEATURES or self.specs[n].kind == "vector")
        ]
        searched = [n for n in names if self.specs[n].kind == "vector"]  # cosine may be known
        stored = self.store.stacked([n for n in names if n not in searched], chosen)
        for name in searched:
            wanted = [i for i, c in chosen.items() if cosine_key(name) not in c.signals]
            if wanted:
                stored.update(self.store.stacked([name], wanted))
        for image_id, signals in many_signals(query.features, stored, self.specs).items():
            chosen[image_id].signals.update(signals)

    def pair(self, a: Query, b: Query, refine: Refiner | None = None) -> Candidate:
        """``b`` as a hit of query ``a``: the signals, evidence and confidence search would give
        (used by compare and calibrate, where the hit is a decoded image, not a stored one).
        With ``refine``, a pair that is not a copy gets search's finer second look, on both
        sides (either picture may be the large one the other was pasted into), and then its
        zoomed third look at ``a``."""
        candidate = self._pair(a, b)
        if refine is None or candidate.exact:
            return candidate
        if candidate.confidence >= self.settings.copy_threshold:
            return candidate
        fine_a, fine_b = refine(a, None), refine(b, None, enlarge=False)  # b: as indexed
        if fine_a is None and fine_b is None:
            return candidate
        finer = self._pair(fine_a or a, fine_b or b)
        best = finer if finer.confidence > candidate.confidence else candidate
        region = zoom_region([finer], a.image) if fine_a is not None else None
        if region is None or best.confidence >= self.settings.copy_threshold:
            return best
        zoomed = refine(a, region)  # as search's third look: a's part where keypoints agree
        closer = self._pair(zoomed, fine_b or b) if zoomed is not None else best
        return closer if closer.confidence > best.confidence else best

    def _pair(self, a: Query, b: Query) -> Candidate:
        exact = a.image.byte_sha256 == b.image.byte_sha256 or (
            a.image.pixel_sha256 == b.image.pixel_sha256
        )
        candidate = Candidate(0, pair_signals(a.features, b.features, self.specs), exact=exact)
        if self.verifier is not None:
            self.verifier(a, [candidate], b)
        self._confide([candidate])
        return candidate

    def _hashes(self, ids: Sequence[int]) -> Mapping[str, FeatureRows]:
        """The stored perceptual hashes of ``ids`` (``Rounds`` compares a copy's twins)."""
        names = [n for n in TWIN_HASHES if n in self.specs]
        return self.store.stacked(names, ids)

    def _confide(self, candidates: Iterable[Candidate]) -> None:
        for cand in candidates:
            cand.confidence = 1.0 if cand.exact else self.calibrator.confidence(cand.signals)
