"""Any ONNX image model a user supplies (their own ResNet, a CLIP image tower, ...) as an
additional embedding, described by a small JSON config::

    {"name": "resnet50", "path": "resnet50.onnx", "size": [224, 224],
     "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": 255.0,
     "layout": "NCHW", "channels": "RGB", "output": null}

Pixels are divided by ``scale``, then normalised by ``mean``/``std``. ``output`` picks an
output by name (default: the first). A 4-D output is average-pooled; the result is L2-normalised.
The feature version is derived from the model bytes and the config, so swapping either marks
stored vectors stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pictrace.errors import ConfigError
from pictrace.features.base import Extractor, FeatureSpec, l2_normalise
from pictrace.features.onnx_runtime import session
from pictrace.features.views import resized
from pictrace.settings import Settings
from pictrace.types import DecodedImage

# How pictures become the model's input: part of every user model's version, so a change
# here marks the vectors stored before as outdated. 2: enlarging is bicubic (it was area).
PREPROCESS = "preprocess 2"


@dataclass(frozen=True)
class ModelConfig:
    name: str
    path: Path
    size: tuple[int, int]  # width, height
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale: float
    layout: str
    channels: str
    output: str | None
    version: int


def load_config(config_path: Path) -> ModelConfig:
    """Read and validate a model config; relative model paths are taken from its folder."""
    try:
        raw = json.loads(Path(config_path).read_text("utf-8"))
        return _parse(raw, Path(config_path).parent)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"bad model config {config_path}: {exc}") from exc


def _parse(raw: dict[str, Any], base: Path) -> ModelConfig:
    name = str(raw["name"])
    if not name.isidentifier() or name in {"cnn", "phash", "dhash", "colour", "labels"}:
        raise ValueError(f"model name {name!r} must be an identifier not used by PicTrace")
    path = Path(raw["path"])
    path = path if path.is_absolute() else base / path
    layout, channels = str(raw.get("layout", "NCHW")), str(raw.get("channels", "RGB"))
    if layout not in ("NCHW", "NHWC") or channels not in ("RGB", "BGR"):
        raise ValueError("layout must be NCHW or NHWC and channels RGB or BGR")
    size = raw.get("size", [224, 224])
    digest = hashlib.sha256(path.read_bytes())
    digest.update(json.dumps(raw, sort_keys=True).encode())
    digest.update(PREPROCESS.encode())
    return ModelConfig(
        name=name,
        path=path,
        size=(int(size[0]), int(size[1])),
        mean=_triple(raw.get("mean", [0.0, 0.0, 0.0])),
        std=_triple(raw.get("std", [1.0, 1.0, 1.0])),
        scale=float(raw.get("scale", 255.0)),
        layout=layout,
        channels=channels,
        output=raw.get("output"),
        version=int(digest.hexdigest()[:7], 16),
    )


def _triple(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) != 3:
        raise ValueError("mean and std need three values")
    return (float(values[0]), float(values[1]), float(values[2]))


def preprocess(pixels: np.ndarray, config: ModelConfig) -> np.ndarray:
    array = resized(pixels, config.size).astype(np.float32) / config.scale
    if config.channels == "BGR":
        array = array[:, :, ::-1]
    mean, std = np.array(config.mean, np.float32), np.array(config.std, np.float32)
    array = ((array - mean) / std).astype(np.float32)
    return array.transpose(2, 0, 1) if config.layout == "NCHW" else array


class OnnxModelExtractor(Extractor):
    batched = True

    def __init__(self, config: ModelConfig, threads: int) -> None:
        self.config = config
        self.threads = threads
        sess = session(str(config.path), threads)
        self._input = sess.get_inputs()[0].name
        outputs = [o.name for o in sess.get_outputs()]
        if config.output is not None and config.output not in outputs:
            raise ConfigError(f"model {config.name}: no output {config.output!r} in {outputs}")
        self._output = config.output or outputs[0]
        dim = self._probe_dim()
        self.specs = (FeatureSpec(config.name, config.version, "vector", dim),)

    def _probe_dim(self) -> int:
        blank = np.zeros((8, 8, 3), np.uint8)
        return int(self._run(np.stack([preprocess(blank, self.config)])).shape[1])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        sess = session(str(self.config.path), self.threads)
        out = np.asarray(sess.run([self._output], {self._input: batch.astype(np.float32)})[0])
        if out.ndim == 4:
            out = out.mean(axis=(2, 3) if self.config.layout == "NCHW" else (1, 2))
        if out.ndim != 2:
            raise ConfigError(f"model {self.config.name}: output must be 2-D or 4-D")
        return l2_normalise(out)

    def extract(self, images: Sequence[DecodedImage]) -> list[dict[str, object]]:
        if not images:
            return []
        vectors = self._run(np.stack([preprocess(i.pixels, self.config) for i in images]))
        return [{self.config.name: v} for v in vectors]

    def extract_one(self, image: DecodedImage) -> dict[str, object]:
        return self.extract([image])[0]

    def beside_local(self) -> Extractor:
        """One thread beside a query's keypoints when threads are automatic (as the CNN)."""
        return OnnxModelExtractor(self.config, 1) if self.threads == 0 else self


def extra_model_extractors(settings: Settings) -> list[Extractor]:
    return [OnnxModelExtractor(load_config(p), settings.threads) for p in settings.extra_models]
