"""The search's verifier: a query's candidates fitted against their stored keypoints
(``verify``), with the pixel checks that need pictures: a flagged middle (``middle``),
unmatched detail (``unmatched``) or a picture of its own placed in a shared frame (``inset``)
judged on stored thumbnails, and compare's warped SSIM against its decoded hit."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import replace
from functools import cache

import numpy as np

from pictrace.errors import IndexCorrupt
from pictrace.features.keypoints import Keypoints, decode_keypoints
from pictrace.features.thumbnail import open_thumbnail
from pictrace.search.candidates import Candidate, Query, Verifier, tries_negative
from pictrace.search.captions import band_rows
from pictrace.search.inset import INSET_FROM, differs_in, free_block, laid_in
from pictrace.search.inset import SIDE as INSET_SIDE
from pictrace.search.middle import FINE, middle_alike
from pictrace.search.pasted import pasted_in
from pictrace.search.unmatched import unmatched_alike
from pictrace.search.verify import (
    Fit,
    Outcome,
    apply,
    evidence_of,
    fit_either,
    probe_of,
    sides_of,
    spread_of,
)
from pictrace.search.warped import (
    Sizes,
    grey_of,
    grey_thumbnail,
    on_canvas,
    thumbnail_of,
    warped_pair,
    warped_ssim,
)
from pictrace.settings import Settings
from pictrace.store.base import Store

log = logging.getLogger("pictrace")


class GeometricVerifier:
    """The search's Verifier. Hits' keypoints come from the store, or from ``other`` when
    compare passes the decoded hit; only then is the warped SSIM computed (see above)."""

    def __init__(self, store: Store, pool: Executor | None = None) -> None:
        self.store = store
        self.pool = pool

    def __call__(
        self,
        query: Query,
        candidates: list[Candidate],
        other: Query | None,
        inline: bool = False,
    ) -> None:
        if not candidates or "keypoints" not in query.features:
            return
        probe = probe_of(query.features["keypoints"])
        hits = self._keypoints(candidates, other)
        plans = {c.id: (sides_of(c.signals), tries_negative(c.signals)) for c in candidates}
        jobs = [(kp, *plans[i]) for i, kp in hits.items()]
        pairs = (
            self.pool.map(lambda job: fit_either(probe, *job), jobs)
            if self.pool and not inline and len(jobs) > 1
            else (fit_either(probe, *job) for job in jobs)
        )
        fits = dict(zip(hits, pairs, strict=True))
        fits.update(self._judge(query, other, fits, hits))
        ssims = warped_ssims(query, other, fits, hits, probe.kp.size) if other else {}
        for cand in candidates:
            if cand.id in fits:
                apply(cand, evidence_of(fits[cand.id], ssims.get(cand.id)))
                cand.focus = spread_of(fits[cand.id].spots)

    def _judge(
        self,
        query: Query,
        other: Query | None,
        fits: dict[int, Outcome],
        hits: dict[int, Keypoints],
    ) -> dict[int, Outcome]:
        """The fits whose inliers leave out the middle, or some of the detail, and whose
        pictures do not look alike there either, with no coverage: the confidence's
        ``supported`` input (the inliers weighted by their coverage) is then 0
        (``search.middle``, ``search.unmatched``, ``search.inset``). A hit without a
        thumbnail to judge it on keeps its fit."""
        flagged = {i: o for i, o in fits.items() if o.fit is not None and o.fit.flagged}
        if not flagged:
            return {}
        if other is not None:
            pictures = dict.fromkeys(flagged, thumbnail_of(other.features, other.image))
        else:
            stored = self.store.features("thumbnail", list(flagged))
            pictures = {i: open_thumbnail(blob) for i, blob in stored.items()}
        picture = thumbnail_of(query.features, query.image)
        mine = cache(lambda negative: _looks(255 - picture if negative else picture))
        size = (query.image.width, query.image.height)
        return {
            i: o._replace(fit=replace(o.fit, coverage=0.0))
            for i, o in flagged.items()
            if o.fit is not None
            and i in pictures
            and not _alike(mine(o.negative), pictures[i], *_in_place(o.fit, size, hits[i].size))
        }

    def _keypoints(self, candidates: list[Candidate], other: Query | None) -> dict[int, Keypoints]:
        if other is not None:
            if "keypoints" not in other.features:
                return {}
            kp = decode_keypoints(other.features["keypoints"])
            return {c.id: kp for c in candidates}
        stored = self.store.features("keypoints", [c.id for c in candidates])
        return dict(_readable(stored))


def _readable(stored: dict[int, bytes]) -> Iterator[tuple[int, Keypoints]]:
    """Stored keypoints, decoded; an image whose keypoints are damaged is not verified (its
    global signals still rank it), and the log names it, instead of failing the search."""
    for image_id, blob in stored.items():
        try:
            yield image_id, decode_keypoints(blob)
        except IndexCorrupt as exc:
            log.warning(
                "image %d: %s (it is not verified; remove it and add its file again)",
                image_id,
                exc.message,
            )


Looks = tuple[np.ndarray, np.ndarray]  # a colour thumbnail and its grey
# Two pictures of one size with at least IN_PLACE_SHARE of the fit's inliers at most IN_PLACE
# of the long side from where they lie in the other are judged as they lie (``_in_place``).
IN_PLACE = 0.01
IN_PLACE_SHARE = 0.6


def _in_place(
    fit: Fit, query_size: tuple[int, int], hit_size: tuple[int, int]
) -> tuple[Fit, Sizes]:
    """The fit as the pixel judges take it, with the pictures' sizes. Two pictures of one size
    whose inliers mostly lie at the same place in both (an app's page or a template around
    different photos, an edit drawn on the same canvas) are compared as they lie: a transform
    fitted on a few lines of identical text can be off by a few percent away from them (two
    app pages' bars gave a scale of 0.90 x 1.21), and the judges then find those lines
    differing too. Its inliers are then those in place (a line that moved with a taller
    photo above it is no part of the frame the two share)."""
    sizes = (query_size, hit_size)
    if query_size != hit_size or not len(fit.query_pts):
        return fit, sizes
    placed = np.linalg.norm(fit.query_pts - fit.hit_pts, axis=1) <= IN_PLACE * max(query_size)
    if np.mean(placed) < IN_PLACE_SHARE:
        return fit, sizes
    whole = (0.0, 0.0, float(query_size[0]), float(query_size[1]))
    points = {"query_pts": fit.query_pts[placed], "hit_pts": fit.hit_pts[placed]}
    return replace(
        fit, transform=np.eye(3), query_box_in_hit=whole, hit_box_in_query=whole, **points
    ), sizes


def _looks(picture: np.ndarray) -> Looks:
    return picture, grey_thumbnail(picture)


def _alike(query: Looks, hit: np.ndarray, fit: Fit, sizes: Sizes) -> bool:
    """Whether a flagged fit's pictures (the query's colour and grey thumbnails, the hit's
    colour one) look alike where its inliers are missing, or differ there only by something
    laid over the query (``inset.laid_over``: a caption band over the middle of a copy whose
    own detail it hides) or a picture pasted over either (``pasted.pasted_over``), and do not
    differ in a picture of their own placed in one frame (``inset``, judged from
    ``INSET_FROM`` of the detail left out; always after a paste, which two photos of one
    floor, each on a card of its own, resemble). The colour pair the judges read, and the
    block where it differs (``inset.free_block``), are found once, and only when one of them
    is asked (the frame is still judged after a band laid over: the window of a small photo
    shows both)."""
    query_colour, query_grey = query
    differ = _differ(query_grey, hit, fit, sizes)
    if not differ and fit.unmatched_share < INSET_FROM:
        return True
    warped = warped_pair(query_colour, hit, fit, *sizes, side=INSET_SIDE)
    if warped is None:
        return not differ  # too small an overlap to judge
    block = free_block(*warped, on_canvas(fit.query_pts, fit, warped[0].shape))
    if differ and not laid_in(*warped, block):  # pasted, unless each holds its own there
        return pasted_in(*warped, block) and not differs_in(*warped, block)
    return fit.unmatched_share < INSET_FROM or not differs_in(*warped, block)


def _differ(query_grey: np.ndarray, hit: np.ndarray, fit: Fit, sizes: Sizes) -> bool:
    """Whether the middle judge or the unmatched-detail judge, where the fit flagged for
    either, finds the grey pictures different; a fit on caption bands is judged on the
    rows outside them (``search.captions``)."""
    if not (fit.middle_missed or fit.unmatched or fit.bands):
        return False
    hit_grey = grey_thumbnail(hit)
    if fit.middle_missed and not middle_alike(query_grey, hit_grey, fit, sizes):
        return True
    warped = warped_pair(query_grey, hit_grey, fit, *sizes) if fit.unmatched or fit.bands else None
    if warped is None:
        return False
    rows = band_rows(fit.bands, fit.hit_box_in_query, FINE) if fit.bands else None
    if rows is not None and not unmatched_alike(*warped, rows):
        return True
    return fit.unmatched and not unmatched_alike(*warped)


def warped_ssims(
    query: Query,
    hit: Query,
    fits: Mapping[int, Outcome],
    keypoints: Mapping[int, Keypoints],
    query_size: tuple[int, int],
) -> dict[int, float]:
    """The warped SSIM of each fitted candidate against ``hit`` (compare's decoded hit), 0
    where the geometry did not hold."""
    if not any(outcome.fit is not None for outcome in fits.values()):
        return dict.fromkeys(fits, 0.0)
    query_grey, hit_grey = grey_of(query.features, query.image), grey_of(hit.features, hit.image)
    return {
        i: 0.0
        if outcome.fit is None
        else warped_ssim(
            255 - query_grey if outcome.negative else query_grey,
            hit_grey,
            outcome.fit,
            query_size,
            keypoints[i].size,
        )
        for i, outcome in fits.items()
    }


def make_verifier(settings: Settings, store: Store, pool: Executor | None = None) -> Verifier:
    """The geometric verifier; with a pool, candidates are verified on its threads."""
    return GeometricVerifier(store, pool)
