"""How well does geometric verification separate copies from different photos, and at what cost?

Builds (query, hit) pairs from the development photos (/work/shared/photos, see its README):

* positives: attacked copies of a photo (query) against the photo (hit), one family at a time:
  crop 10-15% / 20-40% of the area, rotation by any angle, mirror + crop, perspective, pasted
  at 40-70% width onto another photo, caption, heavy JPEG, colour shift, random combos; plus
  the manifest's natural pairs (the same cluster: variants, edits, hard edits, crops).
* negatives: a photo (plain or attacked) against its nearest *other* photo by CNN embedding
  (the candidates the search would actually verify), same-subject different photos (manifest
  ``subject``), different photos from the same source package (e.g. star field vs star field),
  and the manifest's ``unrelated`` filter outputs against the photo they came from.

Every pair runs through the real verifier (``pictrace.search.verify``) reading encoded
``keypoints`` and ``thumbnail`` blobs from a small in-memory store, exactly as the search does.

    python bench/verify_eval.py                       # chosen config, report -> results/verify.md
    python bench/verify_eval.py --sweep               # + keypoint type/count/resolution sweep

Timing is single-threaded (OpenCV and BLAS threads pinned to 1).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2
import numpy as np
from PIL import Image, ImageOps

from pictrace.evaluate import attacks
from pictrace.features import keypoints as kpmod
from pictrace.features.thumbnail import make_thumbnail
from pictrace.search import verifier, verify, warped
from pictrace.search.candidates import Candidate, Query
from pictrace.types import DecodedImage, Evidence

cv2.setNumThreads(1)
PHOTOS = Path("/work/shared/photos")
OUT = Path(__file__).resolve().parent / "results" / "verify.md"
MAX_SIDE = 1024
POSITIVE_FAMILIES = (
    "crop_small",
    "crop_medium",
    "rotate_any",
    "mirror_crop",
    "perspective",
    "overlay",
    "caption",
    "jpeg_heavy",
    "colour",
    "combo",
)
BOXED = ("crop_small", "crop_medium", "mirror_crop", "overlay")


# --------------------------------------------------------------------------- photos and pairs
@dataclass(frozen=True)
class Photo:
    file: str
    cluster: str
    role: str
    subject: str
    source: str


@dataclass(frozen=True, eq=False)
class Pair:
    family: str
    positive: bool
    query: np.ndarray
    hit: np.ndarray
    hit_box: tuple[float, float, float, float] | None = None  # true query_box_in_hit
    query_box: tuple[float, float, float, float] | None = None  # true hit_box_in_query
    names: str = ""


def read_manifest(root: Path) -> list[Photo]:
    with (root / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [Photo(r["file"], r["cluster"], r["role"], r["subject"], r["source"]) for r in rows]


def load(root: Path, photo: Photo) -> np.ndarray:
    with Image.open(root / photo.file) as image:
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    rgb.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(rgb)


def crop_pair(family: str, src: np.ndarray, rng: np.random.Generator) -> Pair:
    """Crops with their true box (the attacks module does not return it)."""
    lo, hi = {"crop_small": (0.10, 0.15), "crop_medium": (0.20, 0.40), "mirror_crop": (0.30, 0.60)}[
        family
    ]
    h, w = src.shape[:2]
    area, aspect = rng.uniform(lo, hi), float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
    x0, y0, x1, y1 = attacks.crop_box(w, h, area, aspect, rng)
    base = src[:, ::-1] if family == "mirror_crop" else src
    query = np.ascontiguousarray(base[y0:y1, x0:x1])
    box = (w - x1, y0, w - x0, y1) if family == "mirror_crop" else (x0, y0, x1, y1)
    return Pair(family, True, query, src, hit_box=tuple(float(v) for v in box))


def overlay_pair(src: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> Pair:
    """The photo resized to 40-70% of another photo's width and pasted on it."""
    canvas = background.copy()
    ch, cw = canvas.shape[:2]
    scale = min(cw * rng.uniform(0.4, 0.7) / src.shape[1], ch * 0.95 / src.shape[0])
    pw, ph = max(1, round(src.shape[1] * scale)), max(1, round(src.shape[0] * scale))
    pasted = cv2.resize(src, (pw, ph), interpolation=cv2.INTER_AREA)
    x, y = int(rng.integers(0, cw - pw + 1)), int(rng.integers(0, ch - ph + 1))
    canvas[y : y + ph, x : x + pw] = pasted
    return Pair("overlay", True, canvas, src, query_box=(x, y, x + pw, y + ph))


def attacked(
    family: str, src: np.ndarray, rng: np.random.Generator, backgrounds: Sequence[np.ndarray]
) -> Pair:
    if family in ("crop_small", "crop_medium", "mirror_crop"):
        return crop_pair(family, src, rng)
    if family == "overlay":
        return overlay_pair(src, backgrounds[int(rng.integers(0, len(backgrounds)))], rng)
    out = attacks.ATTACKS[family](Image.fromarray(src), rng)
    return Pair(family, True, np.asarray(out.convert("RGB")), src)


def sources(photos: list[Photo], n: int, seed: int) -> list[Photo]:
    """Up to n representative photos, spread over the source packages."""
    by_source: dict[str, list[Photo]] = defaultdict(list)
    for p in photos:
        if p.role == "photo":
            by_source[p.source].append(p)
    rnd = random.Random(seed)
    for group in by_source.values():
        rnd.shuffle(group)
    chosen: list[Photo] = []
    while len(chosen) < n and any(by_source.values()):
        for group in by_source.values():
            if group and len(chosen) < n:
                chosen.append(group.pop())
    return chosen


def cnn_neighbours(root: Path, pool: list[Photo]) -> Callable[[Photo], Photo]:
    """The most similar photo of another cluster by the CNN embedding (a hard negative)."""
    from pictrace.features.cnn import global_embedding, preprocess, run_model

    vectors = []
    for start in range(0, len(pool), 16):
        batch = np.stack([preprocess(load(root, p)) for p in pool[start : start + 16]])
        vectors.append(global_embedding(run_model(batch, 1)["head"]))
    emb = np.vstack(vectors)

    def nearest(photo: Photo) -> Photo:
        i = pool.index(photo)
        sims = emb @ emb[i]
        for j in np.argsort(-sims):
            if pool[j].cluster != photo.cluster and pool[j].subject in ("", None):
                return pool[j]
        return pool[(i + 1) % len(pool)]

    return nearest


def build_pairs(
    root: Path, n_sources: int, seed: int, families: Sequence[str] = POSITIVE_FAMILIES
) -> list[Pair]:
    photos = read_manifest(root)
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    chosen = sources(photos, n_sources, seed)
    images = {p.file: load(root, p) for p in chosen}
    backgrounds = [images[p.file] for p in chosen[::3]]
    pairs: list[Pair] = []
    for p in chosen:
        for family in families:
            pairs.append(attacked(family, images[p.file], rng, backgrounds))
    pairs += natural_positives(root, photos, rnd)
    pool = [p for p in photos if p.role == "photo"]
    nearest = cnn_neighbours(root, pool)
    for p in chosen:
        near = nearest(p)
        other, names = load(root, near), f"{p.file} vs {near.file}"
        pairs.append(Pair("neg:cnn_nearest", False, images[p.file], other, names=names))
        family = POSITIVE_FAMILIES[int(rng.integers(0, len(POSITIVE_FAMILIES)))]
        pairs.append(
            Pair(
                "neg:attacked_vs_nearest",
                False,
                attacked(family, images[p.file], rng, backgrounds).query,
                other,
                names=f"{family}({p.file}) vs {near.file}",
            )
        )
    pairs += same_subject(root, photos) + same_source(root, photos, rnd, 60)
    pairs += unrelated_role(root, photos)
    return pairs


def natural_positives(
    root: Path, photos: list[Photo], rnd: random.Random, per_role: int = 40
) -> list[Pair]:
    heads = {p.cluster: p for p in photos if p.role == "photo"}
    by_role: dict[str, list[Photo]] = defaultdict(list)
    for p in photos:
        if p.role in ("variant", "edit", "edit_hard", "crop") and p.cluster in heads:
            by_role[p.role].append(p)
    pairs = []
    for role, members in sorted(by_role.items()):
        for p in rnd.sample(members, min(per_role, len(members))):
            pairs.append(
                Pair(
                    f"natural:{role}",
                    True,
                    load(root, p),
                    load(root, heads[p.cluster]),
                    names=f"{p.file} vs {heads[p.cluster].file}",
                )
            )
    return pairs


def same_subject(root: Path, photos: list[Photo]) -> list[Pair]:
    groups: dict[str, list[Photo]] = defaultdict(list)
    for p in photos:
        if p.subject:
            groups[p.subject].append(p)
    pairs = []
    for members in groups.values():
        for a in members:
            for b in members:
                if a.cluster != b.cluster:
                    pairs.append(
                        Pair(
                            "neg:same_subject",
                            False,
                            load(root, a),
                            load(root, b),
                            names=f"{a.file} vs {b.file}",
                        )
                    )
    return pairs


def same_source(root: Path, photos: list[Photo], rnd: random.Random, n: int) -> list[Pair]:
    heads = [p for p in photos if p.role == "photo"]
    by_source: dict[str, list[Photo]] = defaultdict(list)
    for p in heads:
        by_source[p.source].append(p)
    pairs = []
    while len(pairs) < n:
        group = by_source[rnd.choice(sorted(by_source))]
        if len(group) > 1:
            a, b = rnd.sample(group, 2)
            pairs.append(
                Pair(
                    f"neg:same_source:{a.source}",
                    False,
                    load(root, a),
                    load(root, b),
                    names=f"{a.file} vs {b.file}",
                )
            )
    return pairs


def unrelated_role(root: Path, photos: list[Photo]) -> list[Pair]:
    """Filter outputs that no longer show the photo, against the photo they were made from
    (the GIMP Taj Mahal: the gimp-help cluster with the most members)."""
    sizes: dict[str, int] = defaultdict(int)
    for p in photos:
        if p.source == "gimp-help":
            sizes[p.cluster] += 1
    taj = max(sizes, key=lambda c: sizes[c])
    head = next(p for p in photos if p.cluster == taj and p.role == "photo")
    return [
        Pair(
            "neg:unrelated_role",
            False,
            load(root, p),
            load(root, head),
            names=f"{p.file} vs {head.file}",
        )
        for p in photos
        if p.role == "unrelated"
    ]


# --------------------------------------------------------------------------- methods
class MemoryStore:
    """Just enough of the Store interface for the verifier."""

    def __init__(self) -> None:
        self.values: dict[str, dict[int, bytes]] = defaultdict(dict)

    def features(self, name: str, ids: Iterable[int]) -> dict[int, bytes]:
        return {i: self.values[name][i] for i in ids if i in self.values[name]}


Result = tuple[list["Row"], dict[str, float]]


@dataclass
class Row:
    family: str
    positive: bool
    inliers: float
    ratio: float
    ssim: float
    ms: float
    iou: float | None
    names: str = ""


def decoded(pixels: np.ndarray) -> DecodedImage:
    h, w = pixels.shape[:2]
    return DecodedImage(pixels, w, h, "png", "", "", 0)


def features_of(pixels: np.ndarray, extract: Callable[[np.ndarray], bytes]) -> dict[str, bytes]:
    return {"keypoints": extract(pixels), "thumbnail": make_thumbnail(decoded(pixels))}


def run_sift(
    pairs: list[Pair],
    count: int,
    side: int,
    grid: int = kpmod.GRID,
    contrast: float = kpmod.CONTRAST,
    layers: int = kpmod.LAYERS,
) -> tuple[list[Row], dict[str, float]]:
    def extract(pixels: np.ndarray) -> bytes:
        size = (pixels.shape[1], pixels.shape[0])
        found = kpmod.detect(pixels, size, count, side, grid, contrast, layers)
        return kpmod.encode_keypoints(found)

    return run_method(pairs, extract, lambda store: verifier.GeometricVerifier(store))


def run_method(
    pairs: list[Pair],
    extract: Callable[[np.ndarray], bytes],
    make: Callable[[MemoryStore], Callable[..., None]],
) -> tuple[list[Row], dict[str, float]]:
    store = MemoryStore()
    verifier = make(store)
    rows, extract_ms, hit_ids = [], [], {}
    for index, pair in enumerate(pairs):
        started = time.perf_counter()
        q_features = {"keypoints": extract(pair.query)}
        extract_ms.append((time.perf_counter() - started) * 1000)
        q_features["thumbnail"] = make_thumbnail(decoded(pair.query))
        key = id(pair.hit)
        if key not in hit_ids:
            hit_ids[key] = len(hit_ids) + 1
            for name, value in features_of(pair.hit, extract).items():
                store.values[name][hit_ids[key]] = value
        query = Query(f"q{index}", decoded(pair.query), q_features)
        cand = Candidate(hit_ids[key])
        ms = timed(lambda q=query, c=cand: verifier(q, [c], None))
        # The search skips the warped SSIM; compare computes it from the hit passed along.
        hit_features = {name: store.values[name][hit_ids[key]] for name in q_features}
        verifier(query, [cand], Query("hit", decoded(pair.hit), hit_features))
        ev = cand.evidence or Evidence(0, 0.0, 0.0, None, None, None)
        rows.append(row_of(pair, ev, ms))
    stored = [len(blob) for blob in store.values["keypoints"].values()]  # catalogue images
    cost = {"bytes": statistics.mean(stored), "extract_ms": statistics.median(extract_ms)}
    return rows, cost


def timed(run: Callable[[], object], repeats: int = 3) -> float:
    """Milliseconds of the fastest of ``repeats`` runs (other processes share the CPU)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def row_of(pair: Pair, ev: Evidence, ms: float) -> Row:
    """One measured pair: its labels, the verification evidence and the time it took."""
    return Row(
        pair.family,
        pair.positive,
        ev.inliers,
        ev.inlier_ratio,
        ev.warped_ssim,
        ms,
        box_iou(pair, ev),
        pair.names,
    )


def box_iou(pair: Pair, ev: Evidence) -> float | None:
    """IoU of the reported box with the true one (verified pairs with a known box only)."""
    if ev.transform is None:
        return None
    if pair.hit_box is not None:
        return iou(pair.hit_box, ev.query_box_in_hit)
    if pair.query_box is not None:
        return iou(pair.query_box, ev.hit_box_in_query)
    return None


def iou(a: Sequence[float], b: Sequence[float] | None) -> float:
    if b is None:
        return 0.0
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def patched(
    values: dict[str, object], run: Callable[[], Result], module: object = verify
) -> Result:
    """Run with some module constants (or functions) replaced (the verifier's by default)."""
    saved = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        return run()
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


# --------------------------------------------------------------------------- ORB alternative
def orb_keypoints(pixels: np.ndarray, count: int) -> kpmod.Keypoints:
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    found, desc = cv2.ORB_create(count).detectAndCompute(grey, None)
    size = (pixels.shape[1], pixels.shape[0])
    if desc is None:
        return kpmod.Keypoints(
            np.zeros((0, 2), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.float32),
            np.zeros((0, 32), np.uint8),
            size,
        )
    return kpmod.Keypoints(
        np.array([k.pt for k in found], np.float32) + 0.5,
        np.array([k.angle for k in found], np.float32),  # same convention as SIFT
        np.array([k.size for k in found], np.float32),
        desc,
        size,
    )


def run_orb(pairs: list[Pair], count: int) -> tuple[list[Row], dict[str, float]]:
    """ORB at the working size, Hamming ratio test, the mirror by re-extraction; the same
    RANSAC, plausibility checks and warped SSIM as the SIFT verifier."""
    rows, extract_ms, sizes = [], [], {}
    for pair in pairs:
        started = time.perf_counter()
        qk = orb_keypoints(pair.query, count)
        extract_ms.append((time.perf_counter() - started) * 1000)
        # the mirror needs a second extraction, once per query (not counted per candidate)
        mk = orb_keypoints(np.ascontiguousarray(pair.query[:, ::-1]), count)
        hk = orb_keypoints(pair.hit, count)
        sizes[id(pair.hit)] = len(hk) * 38 + 900  # 32-byte descriptor, xy, angle, scale
        qg, hg = warped.grey_thumbnail(pair.query), warped.grey_thumbnail(pair.hit)
        ev = orb_verify(qk, mk, hk, qg, hg)
        ms = timed(lambda qk=qk, mk=mk, hk=hk, qg=qg, hg=hg: orb_verify(qk, mk, hk, qg, hg))
        rows.append(row_of(pair, ev, ms))
    return rows, {
        "bytes": statistics.mean(sizes.values()),
        "extract_ms": statistics.median(extract_ms),
    }


def orb_verify(
    qk: kpmod.Keypoints, mk: kpmod.Keypoints, hk: kpmod.Keypoints, qg: np.ndarray, hg: np.ndarray
) -> Evidence:
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    best = verify.NO_FIT
    for kp, mirrored in ((qk, False), (mk, True)):
        qi, hi = orb_matches(matcher, kp.descriptors, hk.descriptors)
        fit, inliers, _ = verify.estimate(kp, hk, qi, hi)
        if fit is not None and mirrored:
            fit = verify.unmirror(fit, kp.size[0])
        outcome = verify.Outcome(fit, inliers, len(qi))
        best = max(best, outcome, key=lambda o: (o.inliers, o.tentative))
    ssim = 0.0
    if best.fit is not None:
        ssim = warped.warped_ssim(qg, hg, best.fit, qk.size, hk.size)
    return verify.evidence_of(best, ssim)


def orb_matches(
    matcher: cv2.BFMatcher, qd: np.ndarray, hd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if len(qd) < 2 or len(hd) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = matcher.knnMatch(qd, hd, k=2)
    good = [
        (m.queryIdx, m.trainIdx)
        for m, n in (p for p in pairs if len(p) == 2)
        if m.distance < verify.RATIO * n.distance
    ]
    seen: set[int] = set()
    unique = [(q, h) for q, h in good if not (h in seen or seen.add(h))]
    arr = np.array(unique, np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


# --------------------------------------------------------------------------- report
def auc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not pos or not neg:
        return float("nan")
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def q(values: Sequence[float], *quantiles: float) -> str:
    arr = np.asarray(values, dtype=float)
    return " / ".join(f"{np.quantile(arr, x):.2f}".rstrip("0").rstrip(".") for x in quantiles)


def summary_line(name: str, rows: list[Row], cost: dict[str, float]) -> str:
    pos = [r for r in rows if r.positive]
    neg = [r for r in rows if not r.positive]
    verified = sum(r.inliers >= verify.MIN_INLIERS for r in pos) / len(pos)
    false = sum(r.inliers >= verify.MIN_INLIERS for r in neg) / len(neg)
    crop_ok, overlay_ok = (
        rate([r for r in pos if r.family == f]) for f in ("crop_small", "overlay")
    )
    ms = [r.ms for r in rows]
    rule_tp = sum(copy_rule(r) for r in pos) / len(pos)
    rule_fp = sum(copy_rule(r) for r in neg) / len(neg)
    return (
        f"| {name} | {cost['bytes'] / 1024:.1f} | {cost['extract_ms']:.0f} | "
        f"{statistics.mean(ms):.2f} | {np.quantile(ms, 0.9):.2f} | {verified:.3f} | "
        f"{crop_ok:.3f} | {overlay_ok:.3f} | {false:.3f} | {max(r.inliers for r in neg):.0f} | "
        f"{auc([np.log1p(r.inliers) for r in pos], [np.log1p(r.inliers) for r in neg]):.4f} | "
        f"{rule_tp:.3f} / {rule_fp:.3f} |"
    )


def rate(rows: list[Row]) -> float:
    return sum(r.inliers >= verify.MIN_INLIERS for r in rows) / len(rows) if rows else 0.0


def copy_rule(row: Row) -> bool:
    """A fixed illustrative rule (the calibrator learns the real one)."""
    return row.inliers >= verify.MIN_INLIERS and row.ssim >= 0.5


SUMMARY_HEAD = (
    "| config | kB/image | extract ms | verify ms mean | p90 | positives verified | "
    "crop 10-15% verified | overlay verified | negatives verified | max negative inliers | "
    "AUC log1p(inliers) | "
    "inliers >= 8 & ssim >= 0.5: positives / negatives |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def family_table(rows: list[Row]) -> str:
    neg_rows = [r for r in rows if not r.positive]
    neg_all = {
        "inliers": [r.inliers for r in neg_rows],
        "ratio": [r.ratio for r in neg_rows],
        "ssim": [r.ssim for r in neg_rows],
    }
    lines = [
        "| family | pairs | verified (inliers >= 8) | inliers p10 / p50 / p90 | "
        "inlier_ratio p10 / p50 / p90 | warped_ssim p10 / p50 / p90 | "
        "box IoU p10 / p50 (verified) | AUC inliers / ratio / ssim vs all negatives | "
        "verify ms mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    families = sorted({r.family for r in rows}, key=lambda f: (f.startswith("neg"), f))
    for family in families:
        sel = [r for r in rows if r.family == family]
        ious = [r.iou for r in sel if r.iou is not None]
        verified = sum(r.inliers >= verify.MIN_INLIERS for r in sel) / len(sel)
        aucs = "-"
        if sel[0].positive:
            aucs = " / ".join(
                f"{auc([getattr(r, k) for r in sel], neg_all[k]):.3f}"
                for k in ("inliers", "ratio", "ssim")
            )
        lines.append(
            f"| {family} | {len(sel)} | {verified:.2f} | "
            f"{q([r.inliers for r in sel], 0.1, 0.5, 0.9)} | "
            f"{q([r.ratio for r in sel], 0.1, 0.5, 0.9)} | "
            f"{q([r.ssim for r in sel], 0.1, 0.5, 0.9)} | "
            f"{q(ious, 0.1, 0.5) if ious else '-'} | {aucs} | "
            f"{statistics.mean(r.ms for r in sel):.2f} |"
        )
    return "\n".join(lines)


def negative_tail(rows: list[Row]) -> str:
    neg = [r for r in rows if not r.positive]
    pos = [r for r in rows if r.positive]
    return (
        f"Verify ms per candidate: positives mean {statistics.mean(r.ms for r in pos):.2f}, "
        f"negatives mean {statistics.mean(r.ms for r in neg):.2f} (no SSIM when the "
        f"geometry fails).\n\n"
        f"negatives: {len(neg)} pairs; inliers p99 / max = "
        f"{np.quantile([r.inliers for r in neg], 0.99):.1f} / "
        f"{max(r.inliers for r in neg):.0f}; warped_ssim p99 / max = "
        f"{np.quantile([r.ssim for r in neg], 0.99):.2f} / {max(r.ssim for r in neg):.2f}; "
        f"inlier_ratio p99 = {np.quantile([r.ratio for r in neg], 0.99):.2f}"
        + "\n\nNegatives with at least 8 inliers:\n\n"
        + "\n".join(
            f"* {r.family}: {r.names}: {r.inliers:.0f} inliers, ratio "
            f"{r.ratio:.2f}, warped_ssim {r.ssim:.2f}"
            for r in sorted(neg, key=lambda r: -r.inliers)
            if r.inliers >= verify.MIN_INLIERS
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--sources", type=int, default=40, help="photos attacked per family")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sweep", action="store_true", help="compare keypoint configs too")
    parser.add_argument("--only", nargs="*", help="run only sweep configs containing these")
    parser.add_argument(
        "--families", nargs="*", default=POSITIVE_FAMILIES, help="positive attack families"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    started = time.perf_counter()
    pairs = build_pairs(args.photos, args.sources, args.seed, args.families)
    print(f"{len(pairs)} pairs built in {time.perf_counter() - started:.0f} s")
    configs: list[tuple[str, Callable[[], tuple[list[Row], dict[str, float]]]]] = []
    if args.sweep:
        configs += [
            ("ORB 500 @1024", lambda: run_orb(pairs, 500)),
            ("ORB 1000 @1024", lambda: run_orb(pairs, 1000)),
            (
                "RootSIFT 384 @512, contrast 0.04 (before)",
                lambda: run_sift(pairs, 384, 512, 4, 0.04),
            ),
            ("RootSIFT 384 @256, contrast 0.04", lambda: run_sift(pairs, 384, 256, 4, 0.04)),
            ("RootSIFT 384 @224", lambda: run_sift(pairs, 384, 224)),
            ("RootSIFT 384 @320", lambda: run_sift(pairs, 384, 320)),
            ("RootSIFT 256 @256", lambda: run_sift(pairs, 256, 256)),
            ("RootSIFT 512 @256", lambda: run_sift(pairs, 512, 256)),
            ("RootSIFT 384 @256 grid 8", lambda: run_sift(pairs, 384, 256, 8)),
            ("RootSIFT 384 @256 2 layers", lambda: run_sift(pairs, 384, 256, layers=2)),
            ("RootSIFT 384 @224 2 layers", lambda: run_sift(pairs, 384, 224, layers=2)),
            ("RootSIFT 320 @256", lambda: run_sift(pairs, 320, 256)),
            ("RootSIFT 384 @240", lambda: run_sift(pairs, 384, 240)),
        ]

        def chosen_run() -> Result:
            return run_sift(pairs, kpmod.COUNT, kpmod.SIDE)

        configs += [
            (f"chosen, {name}", lambda v=v: patched(v, chosen_run))
            for name, v in (
                ("ratio 0.75", {"RATIO": 0.75}),
                ("ratio 0.85", {"RATIO": 0.85}),
                ("RANSAC threshold 0.005", {"THRESHOLD": 0.005}),
                ("RANSAC threshold 0.02", {"THRESHOLD": 0.02}),
                (
                    "no orientation/scale check",
                    {"consistent": lambda t, q, h, qi, hi: np.ones(len(qi), bool)},
                ),
                ("similarity only", {"HOMOGRAPHY_MIN": 10**9}),
            )
        ]
        configs = [(n, r) for n, r in configs if not args.only or any(o in n for o in args.only)]
    chosen = f"RootSIFT {kpmod.COUNT} @{kpmod.SIDE} (chosen)"
    configs.append((chosen, lambda: run_sift(pairs, kpmod.COUNT, kpmod.SIDE)))
    summary, detail = [], ""
    for name, run in configs:
        rows, cost = run()
        summary.append(summary_line(name, rows, cost))
        print(summary[-1], flush=True)
        if name == chosen:
            detail = family_table(rows) + "\n\n" + negative_tail(rows)
    write_report(args, pairs, summary, detail)


def write_report(
    args: argparse.Namespace, pairs: list[Pair], summary: list[str], detail: str
) -> None:
    n_pos = sum(p.positive for p in pairs)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    quoted = [f"'{o}'" if " " in o else o for o in args.only or ()]
    only = " --only " + " ".join(quoted) if quoted else ""
    text = f"""# Geometric verification: copies vs different photos

Command: `python bench/verify_eval.py{" --sweep" if args.sweep else ""}{only} --sources
{args.sources} --seed {args.seed}` on {platform.machine()} / {platform.processor() or "cpu"}, Python
{platform.python_version()}, OpenCV {cv2.__version__}, single-threaded.
Pairs: {n_pos} positive, {len(pairs) - n_pos} negative (query against hit; see the script's
docstring for the families). "verified" = at least {verify.MIN_INLIERS} inliers. Verify ms is
per candidate: blob decoding, matching (direct and mirrored), RANSAC, boxes and, for verified
pairs, thumbnail decoding and warped SSIM.

Load average (1, 5, 15 min) at the end of the run: {load}, on {os.cpu_count()} cores shared
with other work; verify ms is the fastest of 3 runs per pair to damp that noise; extract ms
is the median.

## Configurations

{SUMMARY_HEAD}
{chr(10).join(summary)}

## Per family, chosen configuration

{detail}

## Notes

* `natural:crop` pairs are 74-px round pieces of GCompris photos (about 2% of the picture), far
  below the 10% crop the verifier is designed for; they are listed, not tuned for.
* The negatives that verify show the same scene in another photo (MRPT stereo frames of one
  room, OpenCV chessboard calibration shots: real planar overlap), plus a GIMP "unrelated" filter
  output whose uncovered strip still is the photo. Their warped SSIM stays low: the calibrator
  should lean on `warped_ssim` (and `inlier_ratio`) to tell copies from same-scene photos.
* ORB's verify ms leaves out the second extraction its mirror test needs (ORB descriptors of a
  mirrored picture are not a permutation of the originals): one more extraction per query.
* Box IoU compares `query_box_in_hit` (crops) or `hit_box_in_query` (overlay) with the truth,
  over verified pairs.
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
