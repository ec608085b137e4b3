"""Which EfficientNet-Lite0 embedding best finds "the same kind of thing"?

Standalone benchmark (onnxruntime + numpy + pillow only; no pictrace imports).

For every class-labelled set (each sub-folder is a class) every image is a query against all
the others of that set (itself excluded); an answer is relevant when it has the query's class.
Reports precision@10 and mean average precision (mAP) for a list of embedding choices, under
two preprocessings: `crop` (shorter side -> 224, centre crop 224x224) and `squash` (whole
image resized to 224x224). Raw features are cached under --cache (npz), so re-runs only
re-score.

PCA-whitening is fitted on the general photo set (/work/shared/photos, one image per
near-duplicate cluster), never on the labelled sets, so it is not tuned to the test classes.

    python bench/semantic_eval.py                         # extract (cached) + table
    python bench/semantic_eval.py --latency 60            # + per-image cost, 1 and 2 threads
    python bench/semantic_eval.py --save-whitening src/pictrace/models/whitening_lite0.npz
    python bench/semantic_eval.py --model /tmp/efficientnet_lite0.int8.onnx --modes crop

The table goes to stdout and to bench/results/semantic.md (--out).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import pathlib
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "src" / "pictrace" / "models" / "efficientnet_lite0.onnx"
LABELLED = pathlib.Path("/work/shared/labelled")
PHOTOS = pathlib.Path("/work/shared/photos")
SETS = ("oxford17", "clothing16")
MODES = ("crop", "squash")
SIZE = 224
EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
WHITEN_DIMS = (128, 256, 512)
FEATURE_VERSION = 2  # bump when pool_features/phash64 change (part of the cache file name)


# --------------------------------------------------------------------------- preprocessing
def load_rgb(path: pathlib.Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def prep_crop(im: Image.Image, size: int = SIZE) -> Image.Image:
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def prep_squash(im: Image.Image, size: int = SIZE) -> Image.Image:
    return im.resize((size, size), Image.BILINEAR)


PREP: dict[str, Callable[[Image.Image], Image.Image]] = {"crop": prep_crop, "squash": prep_squash}


def to_pixels(im: Image.Image) -> np.ndarray:
    """HWC uint8 -> CHW float32 0..255 (the model normalises inside the graph)."""
    return np.asarray(im, dtype=np.float32).transpose(2, 0, 1)


# --------------------------------------------------------------------------- pHash baseline
def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT32 = _dct_matrix(32)


def phash64(im: Image.Image) -> np.ndarray:
    """64-bit DCT pHash: 32x32 grey, 2-D DCT-II, top-left 8x8, bit = coeff > median(AC)."""
    grey = np.asarray(im.convert("L").resize((32, 32), Image.LANCZOS), dtype=np.float64)
    low = (_DCT32 @ grey @ _DCT32.T)[:8, :8].ravel()
    return low > np.median(low[1:])


# --------------------------------------------------------------------------- feature extraction
def list_labelled(root: pathlib.Path) -> tuple[list[pathlib.Path], np.ndarray, list[str]]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    paths, labels = [], []
    for ci, c in enumerate(classes):
        for p in sorted((root / c).iterdir()):
            if p.suffix.lower() in EXTS:
                paths.append(p)
                labels.append(ci)
    return paths, np.asarray(labels), classes


def list_photos_for_fit(root: pathlib.Path) -> list[pathlib.Path]:
    """One image per near-duplicate cluster (prefer role=photo), so ladders/edits don't dominate."""
    chosen: dict[str, tuple[int, pathlib.Path]] = {}
    with open(root / "manifest.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rank = 0 if row["role"] == "photo" else 1
            # an `unrelated` filter output no longer shows its cluster's photo: keep it apart
            unrelated = row["role"] == "unrelated"
            key = "u:" + row["file"] if unrelated else "c:" + row["cluster"]
            if key not in chosen or rank < chosen[key][0]:
                chosen[key] = (rank, root / row["file"])
    return sorted(p for _, p in chosen.values())


def make_session(model: pathlib.Path, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])


def pool_features(block: np.ndarray, head: np.ndarray, logits: np.ndarray) -> dict[str, np.ndarray]:
    head = np.maximum(head, 0.0).astype(np.float64)  # ReLU6 output: already >= 0
    return {
        "head_gap": head.mean(axis=(2, 3)),
        "head_gem3": np.cbrt((np.maximum(head, 1e-6) ** 3).mean(axis=(2, 3))),
        "head_gem2": np.sqrt((head**2).mean(axis=(2, 3))),  # sensitivity check only
        "head_gem4": np.sqrt(np.sqrt((head**4).mean(axis=(2, 3)))),  # sensitivity check only
        "head_mac": head.max(axis=(2, 3)),
        "block_gap": block.astype(np.float64).mean(axis=(2, 3)),
        "logits": logits.astype(np.float64),
    }


def extract(
    paths: list[pathlib.Path], mode: str, sess: ort.InferenceSession, batch: int = 32
) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {}
    hashes = []
    for start in range(0, len(paths), batch):
        ims = [load_rgb(p) for p in paths[start : start + batch]]
        hashes.extend(phash64(im) for im in ims)
        x = np.stack([to_pixels(PREP[mode](im)) for im in ims])
        block, head, logits = sess.run(["block", "head", "logits"], {"pixels": x})
        for k, v in pool_features(block, head, logits).items():
            out.setdefault(k, []).append(v.astype(np.float32))
    feats = {k: np.concatenate(v) for k, v in out.items()}
    feats["phash"] = np.packbits(np.asarray(hashes), axis=1)
    return feats


def file_digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def cached_features(
    name: str,
    paths: list[pathlib.Path],
    mode: str,
    model: pathlib.Path,
    cache: pathlib.Path,
    threads: int,
) -> dict[str, np.ndarray]:
    key = hashlib.sha256("\n".join(map(str, paths)).encode()).hexdigest()[:8]
    f = cache / f"{name}_{mode}_{file_digest(model)}_{key}_v{FEATURE_VERSION}.npz"
    if f.exists():
        with np.load(f, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    t = time.perf_counter()
    feats = extract(paths, mode, make_session(model, threads))
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(f, **feats)
    print(f"  extracted {name}/{mode}: {len(paths)} images in {time.perf_counter() - t:.0f} s")
    return feats


# --------------------------------------------------------------------------- embeddings
def l2n(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ssqrt(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.sqrt(np.abs(x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Whitening:
    """y = l2n((l2n(pre(x)) - mean) @ proj); pre = signed sqrt when power=True."""

    mean: np.ndarray
    proj: np.ndarray
    power: bool
    eigvals: np.ndarray

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return l2n(ssqrt(x) if self.power else x)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return l2n((self.prepare(x) - self.mean) @ self.proj)


def fit_whitening(x: np.ndarray, dims: int, power: bool, shrink: float) -> Whitening:
    """PCA-whitening fitted on x (n, d): keep `dims` components, scale by (lambda + eps)^-1/2.

    eps = shrink * mean(kept eigenvalues) regularises the weakest kept directions (with ~1k fit
    images the tail of the spectrum is noise; shrink=0 is plain whitening).
    """
    z = l2n(ssqrt(x) if power else x).astype(np.float64)
    mean = z.mean(axis=0)
    cov = np.cov(z - mean, rowvar=False)
    lam, vec = np.linalg.eigh(cov)
    order = np.argsort(lam)[::-1][:dims]
    lam, vec = np.maximum(lam[order], 1e-12), vec[:, order]
    eps = shrink * lam.mean()
    proj = vec / np.sqrt(lam + eps)[None, :]
    return Whitening(
        mean.astype(np.float32), proj.astype(np.float32), power, lam.astype(np.float32)
    )


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    make: Callable[[dict[str, np.ndarray]], np.ndarray]
    metric: str = "cosine"  # or "hamming"
    candidate: bool = True  # False: a sensitivity check, not eligible as the pick


def concat(*parts: tuple[np.ndarray, float]) -> np.ndarray:
    return l2n(np.concatenate([w * l2n(p) for p, w in parts], axis=1))


def build_choices(whitenings: dict[tuple[str, int, bool, float], Whitening]) -> list[Choice]:
    c = [
        Choice("a", "head GAP 1280, cosine (BASELINE)", lambda f: l2n(f["head_gap"])),
        Choice("b", "block GAP 320, cosine", lambda f: l2n(f["block_gap"])),
        Choice("c1", "logits 1000, L2", lambda f: l2n(f["logits"])),
        Choice("c2", "softmax probs 1000, L2", lambda f: l2n(softmax(f["logits"]))),
        Choice(
            "c3", "sqrt(softmax) 1000, L2 (Hellinger)", lambda f: l2n(np.sqrt(softmax(f["logits"])))
        ),
        Choice("d", "head GeM p=3, cosine", lambda f: l2n(f["head_gem3"])),
        Choice("d2", "head MAC (max), cosine", lambda f: l2n(f["head_mac"])),
        Choice(
            "d3",
            "head GeM p=2, cosine (p sensitivity)",
            lambda f: l2n(f["head_gem2"]),
            candidate=False,
        ),
        Choice(
            "d4",
            "head GeM p=4, cosine (p sensitivity)",
            lambda f: l2n(f["head_gem4"]),
            candidate=False,
        ),
        Choice("e1", "head GAP, signed sqrt + L2", lambda f: l2n(ssqrt(f["head_gap"]))),
        Choice("e2", "head GeM3, signed sqrt + L2", lambda f: l2n(ssqrt(f["head_gem3"]))),
        Choice("e3", "block GAP, signed sqrt + L2", lambda f: l2n(ssqrt(f["block_gap"]))),
    ]
    for (feat, dims, power, shrink), w in sorted(whitenings.items()):
        short = {"head_gap": "", "head_gem3": "gem-"}[feat]
        tag = f"f-{short}{dims}{'p' if power else ''}{'' if shrink == 0 else f's{shrink:g}'}"
        desc = (
            f"head {'GAP' if feat == 'head_gap' else 'GeM3'}{' +sqrt' if power else ''} +L2, "
            f"PCA-whiten {dims}{'' if shrink == 0 else f' (shrink {shrink:g})'}, L2"
        )
        c.append(Choice(tag, desc, lambda f, w=w, feat=feat: w.apply(f[feat])))
    for wt in (0.5, 1.0):
        c.append(
            Choice(
                f"g1-{wt:g}",
                f"concat(head GAP, {wt:g}*block GAP), L2 each, L2",
                lambda f, wt=wt: concat((f["head_gap"], 1.0), (f["block_gap"], wt)),
            )
        )
        c.append(
            Choice(
                f"g2-{wt:g}",
                f"concat(head GAP, {wt:g}*softmax), L2 each, L2",
                lambda f, wt=wt: concat((f["head_gap"], 1.0), (softmax(f["logits"]), wt)),
            )
        )
        c.append(
            Choice(
                f"g3-{wt:g}",
                f"concat(sqrt head GAP, {wt:g}*sqrt softmax), L2 each, L2",
                lambda f, wt=wt: concat(
                    (ssqrt(f["head_gap"]), 1.0), (np.sqrt(softmax(f["logits"])), wt)
                ),
            )
        )
    best_w = whitenings.get(("head_gap", 256, True, 0.0))
    if best_w is not None:
        c.append(
            Choice(
                "g4",
                "concat(f-256p, 0.5*sqrt softmax), L2",
                lambda f: concat(
                    (best_w.apply(f["head_gap"]), 1.0), (np.sqrt(softmax(f["logits"])), 0.5)
                ),
            )
        )
    c.append(Choice("h", "pHash 64-bit DCT, Hamming", lambda f: f["phash"], metric="hamming"))
    return c


# --------------------------------------------------------------------------- scoring
def similarity(emb: np.ndarray, metric: str) -> np.ndarray:
    if metric == "hamming":
        bits = np.unpackbits(emb, axis=1).astype(np.float32)
        # hamming = ones(a) + ones(b) - 2 * common ones;  similarity = -hamming
        ones = bits.sum(axis=1)
        return -(ones[:, None] + ones[None, :] - 2.0 * bits @ bits.T)
    e = emb.astype(np.float32)
    return e @ e.T


def retrieval_scores(
    sim: np.ndarray, labels: np.ndarray, k: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query P@k and AP; ties (pHash distances) are broken by a fixed random order."""
    n = len(labels)
    perm = np.random.default_rng(seed).permutation(n)
    s = sim[np.ix_(perm, perm)].astype(np.float64)
    lab = labels[perm]
    np.fill_diagonal(s, -np.inf)
    order = np.argsort(-s, axis=1, kind="stable")[:, : n - 1]  # self is last: drop it
    rel = lab[order] == lab[:, None]
    p_at_k = rel[:, :k].mean(axis=1)
    hits = np.cumsum(rel, axis=1)
    precision = hits / np.arange(1, n)[None, :]
    n_rel = np.maximum(rel.sum(axis=1), 1)
    ap = (precision * rel).sum(axis=1) / n_rel
    inv = np.empty(n, dtype=int)
    inv[perm] = np.arange(n)
    return p_at_k[inv], ap[inv]


# --------------------------------------------------------------------------- latency
def measure_latency(model: pathlib.Path, n: int, passes: int = 3) -> list[str]:
    """Batch-1 cost per image; 1- and 2-thread sessions are interleaved image by image so a
    busy shared machine slows both alike; per stage, the median over images and passes."""
    photos = sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in EXTS)[::7][:n]
    sessions = {t: make_session(model, t) for t in (1, 2)}
    for sess in sessions.values():  # warm up
        sess.run(["head"], {"pixels": np.zeros((1, 3, SIZE, SIZE), np.float32)})
    # times[threads][image] = list of (decode, preprocess, inference) over passes
    times = {t: [[] for _ in photos] for t in sessions}
    for _ in range(passes):
        for i, p in enumerate(photos):
            for threads, sess in sessions.items():
                t0 = time.perf_counter()
                im = load_rgb(p)
                t1 = time.perf_counter()
                x = to_pixels(prep_crop(im))[None]
                t2 = time.perf_counter()
                sess.run(["block", "head", "logits"], {"pixels": x})
                t3 = time.perf_counter()
                times[threads][i].append((t1 - t0, t2 - t1, t3 - t2))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"Per-image cost, batch 1, crop-224, {len(photos)} images from {PHOTOS} "
        f"(up to 1024 px; JPEG/PNG/WebP), each timed {passes}x. Cells: median over images "
        f"of the per-image best of {passes} (median of all timings in brackets), ms. "
        f"Load average at the end: {load:.1f} on {os.cpu_count()} cores "
        "(a busy shared box inflates the bracketed numbers).",
        "",
        "| intra_op threads | decode | preprocess | inference | total |",
        "|---|---|---|---|---|",
    ]
    for threads, per_image in times.items():
        cells = []
        for stage in range(4):  # decode, preprocess, inference, total
            cost = [[sum(r) if stage == 3 else r[stage] for r in runs] for runs in per_image]
            best = [min(c) for c in cost]
            every = [v for c in cost for v in c]
            cells.append(
                f"{statistics.median(best) * 1e3:.1f} ({statistics.median(every) * 1e3:.1f})"
            )
        lines.append(f"| {threads} | " + " | ".join(cells) + " |")
    return lines


# --------------------------------------------------------------------------- report
def cpu_name() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fmt_table(rows: list[list[str]], header: list[str]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def pick_best(
    results: dict[tuple[str, str], dict[str, tuple[float, float]]], choices: Iterable[Choice]
) -> tuple[str, str] | None:
    """Best (mode, choice) that beats the crop baseline (a) in P@10 and mAP on every set."""
    base = results[("crop", "a")]
    eligible = {c.key for c in choices if c.candidate and c.key != "a"}
    best, best_score = None, -1.0
    for (mode, key), per_set in results.items():
        if key not in eligible:
            continue
        if all(per_set[s][0] > base[s][0] and per_set[s][1] > base[s][1] for s in per_set):
            score = float(np.mean([v[1] for v in per_set.values()]))
            if score > best_score:
                best, best_score = (mode, key), score
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=pathlib.Path, default=DEFAULT_MODEL)
    ap.add_argument("--labelled", type=pathlib.Path, default=LABELLED)
    ap.add_argument("--photos", type=pathlib.Path, default=PHOTOS)
    ap.add_argument("--cache", type=pathlib.Path, default=pathlib.Path("/tmp/pictrace_semantic"))
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results" / "semantic.md")
    ap.add_argument("--latency", type=int, default=0, help="also time N photos at batch 1")
    ap.add_argument(
        "--save-whitening",
        type=pathlib.Path,
        help="write the recommended whitening (crop mode) to this .npz",
    )
    ap.add_argument("--whiten-dims", type=int, default=256)
    ap.add_argument("--whiten-power", type=int, default=1, choices=(0, 1))
    args = ap.parse_args()

    fit_paths = list_photos_for_fit(args.photos)
    data = {s: list_labelled(args.labelled / s) for s in SETS}
    results: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}
    per_class: dict[tuple[str, str, str], np.ndarray] = {}
    labels_of: dict[str, str] = {}
    saved_whitening: Whitening | None = None
    choices: list[Choice] = []
    for mode in args.modes:
        fit = cached_features("photos", fit_paths, mode, args.model, args.cache, args.threads)
        whitenings = {
            ("head_gap", d, p, 0.0): fit_whitening(fit["head_gap"], d, p, 0.0)
            for d in WHITEN_DIMS
            for p in (False, True)
        }
        whitenings[("head_gap", 256, True, 1.0)] = fit_whitening(fit["head_gap"], 256, True, 1.0)
        for d in (256, 512):
            whitenings[("head_gem3", d, False, 0.0)] = fit_whitening(
                fit["head_gem3"], d, False, 0.0
            )
        if mode == "crop" and args.save_whitening:
            saved_whitening = fit_whitening(
                fit["head_gap"], args.whiten_dims, bool(args.whiten_power), 0.0
            )
        choices = build_choices(whitenings)
        for s, (paths, labels, classes) in data.items():
            feats = cached_features(s, paths, mode, args.model, args.cache, args.threads)
            for ch in choices:
                p10, ap_ = retrieval_scores(similarity(ch.make(feats), ch.metric), labels)
                results.setdefault((mode, ch.key), {})[s] = (float(p10.mean()), float(ap_.mean()))
                labels_of[ch.key] = ch.label
                per_class[(mode, ch.key, s)] = np.array(
                    [ap_[labels == ci].mean() for ci in range(len(classes))]
                )

    header = ["id", "embedding", "prep"] + [f"{s} {m}" for s in SETS for m in ("P@10", "mAP")]
    rows = []
    for ch in choices:
        for mode in args.modes:
            r = results[(mode, ch.key)]
            rows.append([ch.key, ch.label, mode] + [f"{r[s][i]:.3f}" for s in SETS for i in (0, 1)])
    table = fmt_table(rows, header)
    best = pick_best(results, choices) if "crop" in args.modes else None

    md = [
        "# Semantic similarity: EfficientNet-Lite0 embedding choices",
        "",
        f"Command: `python bench/semantic_eval.py {shlex.join(sys.argv[1:])}`".rstrip()
        + f" (model `{args.model.name}`, sha256 {file_digest(args.model)}).",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared), Python "
        f"{platform.python_version()}, onnxruntime {ort.__version__}, numpy {np.__version__}.",
        "",
        "Each image queries all other images of its set; relevant = same class folder. "
        "P@10 = precision of the top 10, mAP = mean average precision over all queries.",
        f"Whitening is fitted on {len(fit_paths)} general photos from `{args.photos}` "
        "(one per near-duplicate cluster), never on the labelled sets.",
        "",
        *table,
        "",
    ]
    if best:
        md.append(
            f"**Best choice beating the baseline (a, crop) on both sets: `{best[1]}` "
            f"({labels_of[best[1]]}), prep `{best[0]}`.**"
        )
        md.append("")
        for s in SETS:
            classes = data[s][2]
            base = per_class[("crop", "a", s)]
            win = per_class[(best[0], best[1], s)]
            md.append(f"Per-class AP on {s} (baseline a/crop -> {best[1]}/{best[0]}):")
            md.append("")
            md += fmt_table(
                [[c, f"{b:.3f}", f"{w:.3f}"] for c, b, w in zip(classes, base, win, strict=True)],
                ["class", "a", best[1]],
            )
            md.append("")
    if args.latency:
        md += measure_latency(args.model, args.latency)
        md.append("")
    print("\n".join(md))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(md) + "\n")
    print(f"wrote {args.out}")

    if saved_whitening is not None:
        w = saved_whitening
        np.savez(
            args.save_whitening,
            mean=w.mean,
            proj=w.proj,
            eigvals=w.eigvals,
            power=np.asarray(w.power),
            input=np.asarray("head_gap"),
            recipe=np.asarray(
                "y = l2n((l2n(ssqrt(gap(head))) - mean) @ proj)"
                if w.power
                else "y = l2n((l2n(gap(head)) - mean) @ proj)"
            ),
            fit_images=np.asarray(len(fit_paths)),
        )
        print(f"wrote {args.save_whitening} (proj {w.proj.shape}, power={w.power})")


if __name__ == "__main__":
    main()
