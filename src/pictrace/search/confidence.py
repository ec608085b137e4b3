"""Calibrated copy confidence: a small logistic model over pairwise signals.

The shipped parameters (``calibration.json`` next to this file) were fitted by
``tools/fit_calibration.py`` on labelled pairs from the development photos; ``pictrace
calibrate`` refits them from a user's own ``a,b,is_copy`` CSV and stores the result in the
index folder, where it takes precedence.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from pictrace.errors import ConfigError

log = logging.getLogger("pictrace")

# Signal -> (value used when the signal is missing, transform to a model input)
NEUTRAL: dict[str, float] = {
    "cosine": 0.0,
    "phash": 32.0,
    "dhash": 32.0,
    "colour": 0.0,
    "votes": 0.0,
    "inliers": 0.0,
    "inlier_ratio": 0.0,
    # Without a fit (fewer than 8 inliers) nothing is measured and the few inliers count as
    # they are: measuring them over the whole hit, or over the overlap their transform implies,
    # cost natural crops and attacked R@1 and spared no shared-credit pair (BENCHMARKS.md).
    "coverage": 1.0,
    "warped_ssim": 0.0,
}


# The inputs a search computes for its candidates (and each extra model's "cosine_<name>"); a
# model on others (compare's warped SSIM, an older release's "geometry" made of it) is not used.
GLOBAL_SEARCHED = frozenset({"cosine", "phash", "dhash", "colour"})  # without local features
SEARCHED = GLOBAL_SEARCHED | {"votes", "inliers", "inlier_ratio", "coverage", "supported"}

FULL_COVERAGE = 0.3  # chosen with tools/fit_calibration.py's pairs (BENCHMARKS.md)


def supported(signals: Mapping[str, float]) -> float:
    """The inliers weighted by how much of the shared part they span (``coverage``), in full
    from FULL_COVERAGE up: many inliers in one corner (a credit line two different photos
    share) count for little, a small pasted copy's inliers spread over it count in full."""
    covered = max(signals.get("coverage", NEUTRAL["coverage"]), 0.0)
    return math.log1p(signals.get("inliers", 0.0)) * min(1.0, covered / FULL_COVERAGE)


# Derived inputs: geometry that holds *and* looks the same after warping is what a copy is;
# the product lets a few inliers with a near-perfect warped SSIM count.
DERIVED = {
    "geometry": lambda s: math.log1p(s.get("inliers", 0.0)) * s.get("warped_ssim", 0.0),
    "supported": supported,
}


def model_inputs(signals: Mapping[str, float], names: Sequence[str]) -> list[float]:
    """The model's input row for one pair: each named signal, transformed. Plain floats:
    a search scores every candidate several times, and numpy's per-call cost dominated."""
    row = []
    for name in names:
        if name in DERIVED:
            row.append(float(DERIVED[name](signals)))
            continue
        value = float(signals.get(name, NEUTRAL.get(name, 0.0)))
        if name in ("phash", "dhash"):
            # a negative's hashes are the complement of its original's (every bit flips)
            value = (64.0 - value if signals.get("negative") else value) / 64.0
        elif name in ("inliers", "votes"):
            value = math.log1p(value)
        row.append(value)
    return row


@dataclass(frozen=True)
class Calibrator:
    names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""

    def confidence(self, signals: Mapping[str, float]) -> float:
        inputs = model_inputs(signals, self.names)
        z = sum(x * w for x, w in zip(inputs, self.weights, strict=True)) + self.bias
        return 1.0 / (1.0 + math.exp(-min(max(z, -40.0), 40.0)))

    def to_json(self) -> str:
        return json.dumps(
            {
                "names": list(self.names),
                "weights": list(self.weights),
                "bias": self.bias,
                "fitted_on": self.fitted_on,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str, origin: str) -> Calibrator:
        try:
            raw = json.loads(text)
            names = tuple(str(n) for n in raw["names"])
            weights = tuple(float(w) for w in raw["weights"])
            if len(names) != len(weights):
                raise ValueError("names and weights differ in length")
            return cls(names, weights, float(raw["bias"]), str(raw.get("fitted_on", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"bad calibration file {origin}: {exc}") from exc


def shipped_name(local_features: bool) -> str:
    """The shipped parameters for an index with or without local features."""
    return "calibration.json" if local_features else "calibration-global.json"


def load_calibrator(index_dir: Path | None, local_features: bool = True) -> Calibrator:
    """The index's own calibration if it has one (and this release computes its inputs),
    else the shipped parameters."""
    name = shipped_name(local_features)
    text = (resources.files("pictrace") / "search" / name).read_text("utf-8")
    shipped = Calibrator.from_json(text, f"shipped {name}")
    if index_dir is None or not (index_dir / "calibration.json").is_file():
        return shipped
    path = index_dir / "calibration.json"
    own = Calibrator.from_json(path.read_text("utf-8"), str(path))
    searched = SEARCHED if local_features else GLOBAL_SEARCHED
    foreign = sorted(n for n in own.names if n not in searched and not n.startswith("cosine_"))
    if not foreign:
        return own
    log.warning(  # they would count as missing: copies scored as look-alikes
        "%s was fitted by an older release on inputs a search does not compute (%s); the "
        "shipped calibration is used: run `pictrace calibrate` with your pairs again",
        path,
        ", ".join(foreign),
    )
    return shipped


def fit(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    names: Sequence[str],
    l2: float = 1.0,
    fitted_on: str = "",
) -> Calibrator:
    """Fit a logistic regression by Newton's method (a few hundred pairs are enough).

    ``l2`` is a fixed ridge penalty on the weights (not the bias): it keeps the model sane on
    small or separable sets and fades as the number of pairs grows."""
    if len(rows) != len(labels) or len(set(labels)) < 2:
        raise ConfigError("calibration needs both copy and non-copy pairs")
    x = np.stack([model_inputs(r, names) for r in rows])
    x = np.hstack([x, np.ones((len(x), 1))])
    y = np.asarray(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (p - y) + penalty @ w
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Calibrator(tuple(names), tuple(float(v) for v in w[:-1]), float(w[-1]), fitted_on)
