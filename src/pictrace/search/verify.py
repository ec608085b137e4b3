"""Geometric verification: prove a candidate is a copy by fitting a transform between keypoints.

For each candidate the query's RootSIFT descriptors (and those of its left-right mirror, which
are a fixed permutation of them: see ``features.keypoints.mirrored``) are matched against the
hit's with one matrix product and Lowe's ratio test. A similarity transform is fitted with
RANSAC and, when enough matches agree, a homography with MAGSAC++ (or, when the similarity
finds no fit among many matches, a full affine: a copy squashed to another aspect); implausible
transforms (flipped, collapsed, extreme perspective) are rejected, and inliers whose keypoint
orientation or scale disagree with the transform are dropped. When enough inliers remain and
the hit is at hand as a decoded picture (compare, the match view), it is warped into the
query's frame and compared with SSIM over the overlap. Search skips that step: the warped SSIM
adds nothing measurable to the calibrated confidence (held-out precision 0.933 with it, 0.940
without; recall 0.857 / 0.854) and reading, decoding and warping thumbnails cost ~2-3 ms per
verified candidate, 5 % of a search (BENCHMARKS.md, "Speed").

Signals set on every candidate whose hit has keypoints (with ``Evidence``; its transform, boxes
and matches only from ``MIN_INLIERS`` inliers up):

* ``inliers``      matches consistent with the transform: 0 for most different photos, but
  another photo of the same scene (a facade, a chessboard) can reach dozens
* ``inlier_ratio`` inliers / max(tentative matches, ``RATIO_FLOOR``)
* ``coverage``     the area the inliers span (convex hull) over the area the hit's keypoints
  span inside the overlap (only with a fit): a copy matches all over the part the two share, while
  two different photos with the same watermark, logo or credit line in the same place match
  only there (on the development copies the median is 0.78; on different photos that carry the
  same credit line, 0.03)
* ``warped_ssim``  (compare only) SSIM of the query vs the warped hit over the overlap, grey,
  brightness and contrast equalised, at the coarser of the two resolutions (0 below
  ``MIN_INLIERS``): high for copies, lower for the same scene photographed again

Cost on one core (``bench/results/verify.md``): ~1-2 ms per candidate, ~2 ms more for the
warped SSIM; search verifies at most ``verify_top`` = 4 candidates at a time, and matches only
the side (direct or mirrored) the local-descriptor votes point to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from pictrace.features.keypoints import (
    Keypoints,
    decode_keypoints,
    mirrored,
    negative,
    unit_rows,
)
from pictrace.search.candidates import MIN_VOTES, Candidate
from pictrace.search.captions import Bands, caption_bands
from pictrace.search.inset import INSET_FROM
from pictrace.search.middle import middle_missed
from pictrace.search.overlap import coverage, overlap, shared_share
from pictrace.search.unmatched import REPEATED, repeated_share, unmatched_cells
from pictrace.search.warped import jacobians
from pictrace.types import Box, Evidence

RATIO = 0.8  # Lowe's ratio test on descriptor distances
THRESHOLD = 0.01  # RANSAC reprojection error, as a fraction of the hit's long side
MIN_INLIERS = 8  # fewer inliers: no transform is reported
HOMOGRAPHY_MIN = 12  # similarity inliers needed before trying a full homography
# tentative matches from which a full affine (which also stretches) is tried when the
# similarity finds no fit: a copy squashed to another aspect by 2x or more keeps its
# matches but a similarity explains only a strip of them
AFFINE_MIN = 12
RATIO_FLOOR = 16  # denominator floor of inlier_ratio
MAX_ANGLE = 30.0  # degrees an inlier's keypoint orientation may deviate from the transform's
MAX_SCALE = 2.0  # factor an inlier's keypoint size may deviate from the transform's
MAX_MATCHES = 50  # inlier pairs reported as evidence
# A copy shows most of one of the two pictures (the query is a crop: all of it; a copy pasted
# into a larger picture: all of the hit). A fit whose shared part is less than this share of
# either picture, with its inliers along one line, matched a line of text both happen to show:
# two memes with the same caption words, at other sizes and places. Such a fit spans none of
# what a copy would share (coverage 0); one photo pasted small into two pictures still does.
# Measured once: the smallest share of a development copy was 0.45; of 21 false copies among
# captioned memes, 19 were under 0.26 (bench_memes.py: 34 -> 3 of 150; BENCHMARKS.md, "Memes").
SHARED_MIN = 0.3
LINE = 0.45  # spread across over along under which inliers lie on a line (4:3 photo: 0.75)
_ITERS = 2000
_NONE = np.empty((0, 0), np.float32)  # gemm's absent third operand


@dataclass(frozen=True, eq=False)
class Probe:
    """The query prepared once: keypoints, their mirror, both descriptor sets as unit rows
    (and the same for the query's negative, prepared when first needed)."""

    kp: Keypoints
    mirror: Keypoints
    stacked: np.ndarray  # (2n, 128) float32

    @classmethod
    def of(cls, kp: Keypoints) -> Probe:
        mirror = mirrored(kp)
        return cls(kp, mirror, unit_rows(np.vstack([kp.descriptors, mirror.descriptors])))

    @cached_property
    def inverted(self) -> Probe:
        """The probe of the query's negative: a colour-inverted copy matches it."""
        return Probe.of(negative(self.kp))


@lru_cache(maxsize=8)
def probe_of(blob: bytes) -> Probe:
    """The query's Probe, prepared once per query even when search verifies in batches."""
    return Probe.of(decode_keypoints(blob))


@dataclass(frozen=True, eq=False)
class Fit:
    """A verified transform and its inliers, in full-size pixels of each image."""

    transform: np.ndarray  # 3x3, query -> hit
    query_pts: np.ndarray  # (k, 2)
    hit_pts: np.ndarray  # (k, 2)
    query_box_in_hit: Box
    hit_box_in_query: Box
    coverage: float  # see the module docstring
    middle_missed: bool = False  # the inliers leave out the middle (``search.middle``)
    unmatched: bool = False  # the inliers leave out most of the detail (``search.unmatched``)
    unmatched_share: float = 0.0  # the share of the detail they leave out (``unmatched_cells``)
    bands: Bands | None = None  # the caption bands the inliers lie in (``search.captions``)

    @property
    def flagged(self) -> bool:
        """Whether the pictures are to be compared where the inliers are missing: a missed
        middle, unmatched detail, or enough detail left out for a picture of its own placed
        in a shared frame (``search.inset``)."""
        return (
            self.middle_missed
            or self.unmatched
            or self.bands is not None
            or self.unmatched_share >= INSET_FROM
        )


def ratio_matches(
    query: np.ndarray, hit: np.ndarray, ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """(query rows, hit rows) of nearest neighbours passing the ratio test, best first."""
    if len(query) == 0 or len(hit) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # OpenCV's gemm stays on one core: BLAS threads thrash on small products under load.
    sims = np.asarray(cv2.gemm(query, hit, 1.0, _NONE, 0.0, flags=cv2.GEMM_2_T))
    rows = np.arange(len(sims))
    best = sims.argmax(axis=1)
    first = sims[rows, best]
    sims[rows, best] = -2.0
    second = sims.max(axis=1)
    d1 = np.sqrt(np.maximum(2.0 - 2.0 * first, 0.0))
    d2 = np.sqrt(np.maximum(2.0 - 2.0 * second, 0.0))
    good = np.flatnonzero(d1 < ratio * d2)
    good = good[np.argsort(d1[good], kind="stable")]
    return good, best[good]


def one_per_hit(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first (best) match of each hit keypoint, in the given order."""
    _, first = np.unique(cols, return_index=True)
    keep = np.sort(first)
    return rows[keep], cols[keep]


class Outcome(NamedTuple):
    """What verifying one pair found: the fit (only from ``MIN_INLIERS`` inliers up, with a
    plausible transform), the inliers of the best transform and the tentative matches."""

    fit: Fit | None
    inliers: int
    tentative: int
    negative: bool = False  # the query matched as the hit's negative (colours inverted)
    spots: np.ndarray | None = None  # (k, 2) the inliers in the query, from 3 of them


NO_FIT = Outcome(None, 0, 0)


def sides_of(signals: Mapping[str, float]) -> tuple[bool, bool]:
    """(match the query as it is, match its mirror). Search knows from the local-descriptor
    votes which side a copy is on: a side is skipped when the other has clearly more votes
    (twice as many), or for the mirror when it has fewer than MIN_VOTES. Without votes (compare,
    or no local features) both sides are tried."""
    if "votes" not in signals:
        return True, True
    mirror = signals.get("mirror_votes", 0.0)
    direct = signals["votes"] - mirror
    try_mirror = mirror >= MIN_VOTES and 2 * mirror >= direct
    return (not try_mirror or 2 * direct >= mirror), try_mirror


def fit_either(probe: Probe, hit: Keypoints, sides: tuple[bool, bool], negatives: bool) -> Outcome:
    """``fit_pair``, and when that finds no fit and ``negatives`` is set, the same for the
    query's negative (both sides). The negative counts only with a fit: its few inliers
    without one are not kept (a pair that is neither a copy nor a negative copy stays at
    what the query itself matched)."""
    outcome = fit_pair(probe, hit, sides)
    if outcome.fit is not None or not negatives:
        return outcome
    inverted = fit_pair(probe.inverted, hit)
    return outcome if inverted.fit is None else inverted._replace(negative=True)


def fit_pair(probe: Probe, hit: Keypoints, sides: tuple[bool, bool] = (True, True)) -> Outcome:
    """Best transform over the direct and the mirrored query (the ``sides`` asked for). The
    side with more tentative matches goes first; the other is skipped when it cannot reach as
    many inliers."""
    n = len(probe.kp)
    start, stop = (0 if sides[0] else n), (2 * n if sides[1] else n)
    rows, cols = ratio_matches(probe.stacked[start:stop], unit_rows(hit.descriptors), RATIO)
    rows = rows + start
    candidates = []
    for kp, side, shift, wanted in (
        (probe.kp, rows < n, 0, sides[0]),
        (probe.mirror, rows >= n, n, sides[1]),
    ):
        if wanted:
            qi, hi = one_per_hit(rows[side] - shift, cols[side])
            candidates.append((kp, qi, hi, shift))
    best = NO_FIT
    for kp, qi, hi, shift in sorted(candidates, key=lambda c: -len(c[1])):
        if best.inliers >= max(len(qi), 1):
            break
        fit, inliers, spots = estimate(kp, hit, qi, hi)
        if shift:
            fit = None if fit is None else unmirror(fit, kp.size[0])
            spots = None if spots is None else unmirror_points(spots, kp.size[0])
        outcome = Outcome(fit, inliers, len(qi), spots=spots)
        best = max(best, outcome, key=lambda o: (o.inliers, o.tentative))
    return best


def wants_homography(inliers: int, tentative: int) -> bool:
    """Whether a similarity's inliers call for a homography: from HOMOGRAPHY_MIN of them, or
    from MIN_INLIERS when they explain less than half of the tentative matches (a squashed or
    stretched copy: a similarity explains only a strip of it)."""
    return inliers >= HOMOGRAPHY_MIN or (inliers >= MIN_INLIERS and 2 * inliers < tentative)


def estimate(
    query: Keypoints, hit: Keypoints, qi: np.ndarray, hi: np.ndarray
) -> tuple[Fit | None, int, np.ndarray | None]:
    """Similarity by RANSAC, upgraded to a MAGSAC++ homography when that explains more:
    (the accepted fit, the inlier count, the inliers' query points)."""
    if len(qi) < 3:
        return None, 0, None
    q_long, h_long = float(max(query.size)), float(max(hit.size))
    qn = (query.xy[qi] / q_long).astype(np.float32)
    hn = (hit.xy[hi] / h_long).astype(np.float32)
    models: list[tuple[np.ndarray, np.ndarray]] = []  # the better explanation first
    affine, mask = cv2.estimateAffinePartial2D(
        qn,
        hn,
        method=cv2.RANSAC,
        ransacReprojThreshold=THRESHOLD,
        maxIters=_ITERS,
        confidence=0.995,
        refineIters=10,
    )
    if affine is not None:
        models.append((np.vstack([affine, [0.0, 0.0, 1.0]]), mask.ravel().astype(bool)))
    if len(qi) >= AFFINE_MIN and (not models or models[0][1].sum() < MIN_INLIERS):
        full, fmask = cv2.estimateAffine2D(
            qn, hn, method=cv2.RANSAC, ransacReprojThreshold=THRESHOLD, maxIters=_ITERS,
            confidence=0.995, refineIters=10,
        )  # fmt: skip
        if full is not None and (not models or fmask.sum() > models[0][1].sum()):
            models.insert(0, (np.vstack([full, [0.0, 0.0, 1.0]]), fmask.ravel().astype(bool)))
    if models and wants_homography(int(models[0][1].sum()), len(qi)):
        homography, hmask = cv2.findHomography(
            qn, hn, cv2.USAC_MAGSAC, THRESHOLD, maxIters=_ITERS, confidence=0.995
        )
        if homography is not None and hmask.sum() >= models[0][1].sum():
            models.insert(0, (homography / homography[2, 2], hmask.ravel().astype(bool)))
    scale_q = np.diag([1.0 / q_long, 1.0 / q_long, 1.0])
    outcome: tuple[Fit | None, int, np.ndarray | None] = (None, 0, None)
    for model, inliers in models:  # an implausible homography falls back to the similarity
        transform = np.diag([h_long, h_long, 1.0]) @ model @ scale_q
        outcome = accept(transform, query, hit, qi[inliers], hi[inliers])
        if outcome[0] is not None:
            return outcome
    return outcome


def accept(
    transform: np.ndarray, query: Keypoints, hit: Keypoints, qi: np.ndarray, hi: np.ndarray
) -> tuple[Fit | None, int, np.ndarray | None]:
    """Keep the inliers whose orientation and size agree with the transform; below
    ``MIN_INLIERS`` only their count (and where they lie in the query) matters, from there
    on the transform must be plausible (else no inliers at all) and the fit carries both
    overlap boxes."""
    keep = consistent(transform, query, hit, qi, hi)
    inliers = int(keep.sum())
    if inliers < 3:  # two points always fit a similarity: that is no evidence
        return None, 0, None
    spots = query.xy[qi[keep]]
    if inliers < MIN_INLIERS:
        return None, inliers, spots
    boxes = overlap(transform, query.size, hit.size)
    if boxes is None:
        return None, 0, None
    hit_pts = hit.xy[hi[keep]]
    strip = not shows_most(boxes, query, hit) and along_a_line(spots)
    covered = 0.0 if strip else coverage(hit.xy, hit_pts, boxes[0])
    sides = (query.xy, spots, boxes[1]), (hit.xy, hit_pts, boxes[0])
    share, cells = unmatched_cells(*sides)  # judged further unless the detail left out repeats
    unmatched = cells is not None and repeated_share(transform, query, hit, cells, spots) < REPEATED
    missed = middle_missed(*sides)
    bands = caption_bands(spots, query.xy, boxes[1])
    fit = Fit(
        transform, spots, hit_pts, boxes[0], boxes[1], covered, missed, unmatched, share, bands
    )
    return fit, inliers, spots


def along_a_line(points: np.ndarray) -> bool:
    """Whether points spread along one line (a line of text) more than ``1 / LINE`` times as
    far as across it."""
    spread = np.linalg.eigvalsh(np.cov(np.asarray(points, np.float64).T))
    return bool(spread[1] > 0 and np.sqrt(max(spread[0], 0.0) / spread[1]) < LINE)


def shows_most(boxes: tuple[Box, Box], query: Keypoints, hit: Keypoints) -> bool:
    """Whether the overlap ``boxes`` (in the hit, in the query) take at least SHARED_MIN of
    one of the two pictures."""
    return shared_share(boxes, query.size, hit.size) >= SHARED_MIN


def consistent(
    transform: np.ndarray, query: Keypoints, hit: Keypoints, qi: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Mask of matches whose keypoint rotation and scale agree with the local Jacobian."""
    jac = jacobians(transform, query.xy[qi])
    det = jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0]
    rotation = np.degrees(np.arctan2(jac[:, 1, 0], jac[:, 0, 0]))
    turned = hit.angle[hi] - query.angle[qi]
    angle_err = np.abs((turned - rotation + 180.0) % 360.0 - 180.0)
    scale = np.sqrt(np.maximum(det, 1e-12))
    scale_err = np.abs(np.log(hit.scale[hi] / np.maximum(query.scale[qi] * scale, 1e-6)))
    return (det > 0) & (angle_err <= MAX_ANGLE) & (scale_err <= np.log(MAX_SCALE))


def unmirror_points(points: np.ndarray, width: int) -> np.ndarray:
    return np.column_stack([width - points[:, 0], points[:, 1]])


def unmirror(fit: Fit, width: int) -> Fit:
    """A fit of the mirrored query, expressed for the query itself (a reflection in front)."""
    flip = np.array([[-1.0, 0.0, float(width)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    pts = unmirror_points(fit.query_pts, width)
    x0, y0, x1, y1 = fit.hit_box_in_query
    return Fit(
        fit.transform @ flip,
        pts,
        fit.hit_pts,
        fit.query_box_in_hit,
        (width - x1, y0, width - x0, y1),
        fit.coverage,
        fit.middle_missed,
        fit.unmatched,
        fit.unmatched_share,
        fit.bands,  # rows: a mirror keeps them
    )


# --- evidence ---------------------------------------------------------------------------------
def evidence_of(outcome: Outcome, ssim: float | None) -> Evidence:
    fit, inliers = outcome.fit, outcome.inliers
    ratio = inliers / max(outcome.tentative, RATIO_FLOOR)
    if fit is None:
        return Evidence(inliers, ratio, None if ssim is None else 0.0, None, None, None)
    pairs = np.round(np.hstack([fit.query_pts, fit.hit_pts])[:MAX_MATCHES], 1).tolist()
    return Evidence(
        inliers,
        ratio,
        ssim,
        tuple(tuple(map(float, row)) for row in fit.transform),
        fit.query_box_in_hit,
        fit.hit_box_in_query,
        tuple(map(tuple, pairs)),
        fit.coverage,
        outcome.negative,
    )


def spread_of(points: np.ndarray | None) -> Box | None:
    """The box the points span (full-size query pixels), or None without points."""
    if points is None or not len(points):
        return None
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def apply(cand: Candidate, evidence: Evidence) -> None:
    cand.signals["inliers"] = float(evidence.inliers)
    cand.signals["inlier_ratio"] = float(evidence.inlier_ratio)
    if evidence.coverage is None:  # only a fit has an overlap to span (see NEUTRAL)
        cand.signals.pop("coverage", None)
    else:
        cand.signals["coverage"] = float(evidence.coverage)
    if evidence.warped_ssim is not None:
        cand.signals["warped_ssim"] = float(evidence.warped_ssim)
    if evidence.negative:  # the hashes are then read against the query's negative
        cand.signals["negative"] = 1.0
    else:
        cand.signals.pop("negative", None)
    cand.evidence = evidence
