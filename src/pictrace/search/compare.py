"""Pairwise compare: every metric of the seeds plus our calibrated copy confidence.

Metrics: SSIM (structure, on aligned thumbnails), ORB+FLANN good matches (ratio test),
colour histogram correlation, pHash/dHash distances, CNN cosine, and, when geometric
verification is available, inliers, the share of the overlap they span (coverage) and SSIM
after warping.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings

import cv2
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

from pictrace.features.hashes import grey
from pictrace.search.candidates import Query, Refiner
from pictrace.search.engine import Searcher
from pictrace.search.ranking import similarity_from
from pictrace.types import SIMILAR_AT, Comparison, Evidence, Source, Verdict

SSIM_SIZE = 256


def ssim(a: np.ndarray, b: np.ndarray, size: int = SSIM_SIZE) -> float:
    """SSIM of two RGB images squashed to the same square grey thumbnail."""
    ga = cv2.resize(grey(a), (size, size), interpolation=cv2.INTER_AREA)
    gb = cv2.resize(grey(b), (size, size), interpolation=cv2.INTER_AREA)
    return float(structural_similarity(ga, gb, data_range=255.0))


ORB_SEED = 20_240_601


def orb_matches(a: np.ndarray, b: np.ndarray, ratio: float = 0.75) -> tuple[int, float]:
    """ORB keypoints matched with FLANN (LSH) and Lowe's ratio test: (good, good/min_kp).
    The picture with fewer keypoints is matched against the other, so each of its keypoints
    counts once and the share stays at most 1 (matched the other way, several keypoints of
    a large picture could match one of a crop's: a trial saw 1.125)."""
    if min(a.shape[:2]) < 2 or min(b.shape[:2]) < 2:
        return 0, 0.0  # ORB's image pyramid cannot shrink a 1-pixel side (cv2.error)
    orb = cv2.ORB_create(nfeatures=1000)
    _, da = orb.detectAndCompute(grey(a).astype(np.uint8), None)
    _, db = orb.detectAndCompute(grey(b).astype(np.uint8), None)
    if da is None or db is None or len(da) < 2 or len(db) < 2:
        return 0, 0.0
    if len(da) > len(db):
        da, db = db, da
    # FLANN's LSH tables are drawn from OpenCV's (per-thread) random generator: seeded, the
    # same pair gets the same count every time (it varied by ~25 % between calls)
    cv2.setRNGSeed(ORB_SEED)
    flann = cv2.FlannBasedMatcher(
        {"algorithm": 6, "table_number": 6, "key_size": 12, "multi_probe_level": 1},
        {"checks": 50},
    )
    pairs = flann.knnMatch(da, db, k=2)
    good = sum(1 for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance)
    return good, good / max(1, len(da))


def compare_images(
    a: Query, b: Query, searcher: Searcher, refine: Refiner | None = None
) -> Comparison:
    """``a`` as a query against ``b`` as an indexed hit, as search would meet them."""
    candidate = searcher.pair(a, b, refine)
    exact = candidate.exact
    good, good_ratio = orb_matches(a.image.pixels, b.image.pixels)
    metrics = {
        **candidate.signals,
        "ssim": ssim(a.image.pixels, b.image.pixels),
        "orb_matches": float(good),
        "orb_match_ratio": good_ratio,
    }
    similarity = 1.0 if exact else similarity_from(candidate.signals)
    return Comparison(
        metrics,
        similarity,
        candidate.confidence,
        _verdict(exact, candidate.confidence, similarity, searcher.settings.copy_threshold),
        candidate.evidence,
    )


def reversed_comparison(comparison: Comparison) -> Comparison:
    """The comparison of b with a given that of a with b (the evidence reversed)."""
    evidence = comparison.evidence
    return dataclasses.replace(
        comparison, evidence=reversed_evidence(evidence) if evidence else None
    )


def reversed_evidence(evidence: Evidence) -> Evidence:
    """Evidence of query -> hit as hit -> query (the transform inverted, boxes and matched
    points swapped; ``coverage`` stays the share measured on the original hit's side)."""
    transform = evidence.transform
    if transform is not None:
        matrix = np.asarray(transform, dtype=np.float64)
        inverse = np.linalg.inv(matrix) if abs(np.linalg.det(matrix)) > 1e-12 else None
        transform = (
            None
            if inverse is None or abs(inverse[2, 2]) < 1e-12
            else tuple(tuple(float(v) for v in row) for row in inverse / inverse[2, 2])
        )
    return dataclasses.replace(
        evidence,
        transform=transform,
        query_box_in_hit=evidence.hit_box_in_query,
        hit_box_in_query=evidence.query_box_in_hit,
        matches=tuple((hx, hy, qx, qy) for qx, qy, hx, hy in evidence.matches),
    )


def _verdict(exact: bool, confidence: float, similarity: float, threshold: float) -> Verdict:
    if exact:
        return "exact"
    if confidence >= threshold:
        return "copy"
    return "similar" if similarity >= SIMILAR_AT else "different"


def query_first(x: Source, y: Source) -> bool:
    """Whether ``x`` is compared as the query against ``y``: the one with fewer pixels (read
    from the headers), then the lower byte digest, so the order of the arguments never
    matters. Unreadable sizes count as 0 (decoding then says what is wrong)."""
    return query_order(x) < query_order(y)


def query_order(source: Source) -> tuple[int, bytes]:
    """What ``query_first`` orders a picture by: its pixel count, then its bytes' digest."""
    return _pixels(source), hashlib.sha256(source.data).digest()


def _pixels(source: Source) -> int:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source.data)) as image:
                return image.width * image.height
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return 0
