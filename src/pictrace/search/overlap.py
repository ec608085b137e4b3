"""Where two pictures overlap under a fitted transform, and how much of it the inliers span.

``overlap`` rejects transforms no copy has (collapsed, extreme perspective or zoom, no shared
part) and gives the shared region as a box in each picture; ``coverage`` is the share of that
region the inliers span (see ``verify``: low when two different photos match only on a shared
credit line or watermark).
"""

from __future__ import annotations

import cv2
import numpy as np

from pictrace.search.warped import jacobians
from pictrace.types import Box

# Largest ratio of local area scales over the overlap. A keystone whose narrow side is 0.4 of
# the wide one (a poster shot from the side) reaches ~16, 0.3 of it ~40: at 12, 1 and 0 of 20
# held-out keystone copies were found; at 60, 19 and 13, with the development benchmarks'
# results, negatives included, unchanged (BENCHMARKS.md, "What two helpers broke in an
# earlier release", Keystones).
MAX_PERSPECTIVE = 60.0
MAX_ZOOM = 12.0  # largest linear scale between the two pictures, in long-side units


def overlap(
    t: np.ndarray, a_size: tuple[int, int], b_size: tuple[int, int]
) -> tuple[Box, Box] | None:
    """(box in b, box in a) of the region both images show under ``t``: a -> b, or None if
    ``t`` is implausible (collapsed, extreme perspective, no overlap)."""
    if abs(np.linalg.det(t)) < 1e-12:
        return None
    if project(t, corners(a_size)) is None or project(np.linalg.inv(t), corners(b_size)) is None:
        return None  # a horizon through a picture: part of it would be seen from behind
    for m, src, dst, swap in ((t, a_size, b_size, False), (np.linalg.inv(t), b_size, a_size, True)):
        quad = project(m, corners(src))
        if quad is None or not plausible_quad(quad, src, dst):
            continue
        area, poly = cv2.intersectConvexConvex(
            quad.astype(np.float32), corners(dst).astype(np.float32)
        )
        if area <= 1.0 or poly is None:
            return None
        back = project(np.linalg.inv(m), poly.reshape(-1, 2).astype(np.float64))
        if back is None or not even(m, back):
            return None
        in_dst, in_src = bbox(poly.reshape(-1, 2), dst), bbox(back, src)
        return (in_src, in_dst) if swap else (in_dst, in_src)
    return None


def plausible_quad(quad: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> bool:
    """The image of a rectangle is a convex quad of sane area and not squashed."""
    if not cv2.isContourConvex(quad.astype(np.float32).reshape(-1, 1, 2)):
        return False
    area = cv2.contourArea(quad.astype(np.float32))
    ratio = area / float(src[0] * src[1]) * (max(src) / max(dst)) ** 2  # in long-side units
    if not 1 / MAX_ZOOM**2 <= ratio <= MAX_ZOOM**2:
        return False
    sides = np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1)
    return bool(sides.min() > 0 and sides.max() / sides.min() < 8 * max(src) / min(src))


def even(t: np.ndarray, pts: np.ndarray) -> bool:
    """The local area scale varies by less than ``MAX_PERSPECTIVE`` over ``pts``."""
    jac = jacobians(t, pts)
    det = np.abs(jac[:, 0, 0] * jac[:, 1, 1] - jac[:, 0, 1] * jac[:, 1, 0])
    return bool(det.min() > 0 and det.max() / det.min() < MAX_PERSPECTIVE)


def corners(size: tuple[int, int]) -> np.ndarray:
    w, h = float(size[0]), float(size[1])
    return np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]])


def project(t: np.ndarray, pts: np.ndarray) -> np.ndarray | None:
    w = pts @ t[2, :2] + t[2, 2]
    if np.any(w <= 1e-6):
        return None
    return np.asarray((pts @ t[:2, :2].T + t[:2, 2]) / w[:, None])


def bbox(pts: np.ndarray, size: tuple[int, int]) -> Box:
    x = np.clip(pts[:, 0], 0.0, float(size[0]))
    y = np.clip(pts[:, 1], 0.0, float(size[1]))
    return (
        round(float(x.min()), 1),
        round(float(y.min()), 1),
        round(float(x.max()), 1),
        round(float(y.max()), 1),
    )


def shared_share(boxes: tuple[Box, Box], a_size: tuple[int, int], b_size: tuple[int, int]) -> float:
    """The larger of the two shares of its picture the overlap ``boxes`` (in b, in a) take: a
    copy is (nearly) all of one of the two pictures, a crop all of the query, a pasted copy
    all of the hit."""
    return max(_box_share(boxes[0], b_size), _box_share(boxes[1], a_size))


def _box_share(box: Box, size: tuple[int, int]) -> float:
    return (box[2] - box[0]) * (box[3] - box[1]) / max(1.0, float(size[0]) * float(size[1]))


def coverage(keypoints: np.ndarray, inliers: np.ndarray, box: Box) -> float:
    """The area of the inliers' convex hull over that of the ``keypoints`` inside ``box``
    (all in one image's pixels), at most 1."""
    x0, y0, x1, y1 = box
    inside = keypoints[
        (keypoints[:, 0] >= x0)
        & (keypoints[:, 0] <= x1)
        & (keypoints[:, 1] >= y0)
        & (keypoints[:, 1] <= y1)
    ]
    if len(inside) < 3 or len(inliers) < 3:
        return 0.0
    spanned = _hull_area(inside)
    return round(min(1.0, _hull_area(inliers) / spanned), 4) if spanned > 0 else 0.0


def _hull_area(points: np.ndarray) -> float:
    return float(cv2.contourArea(cv2.convexHull(np.ascontiguousarray(points, np.float32))))


def in_box(points: np.ndarray, box: Box) -> np.ndarray:
    """Which of ``points`` (x, y rows) lie in ``box``, its edges included."""
    x0, y0, x1, y1 = box
    x, y = points[:, 0], points[:, 1]
    return np.asarray((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
