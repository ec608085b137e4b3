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

from pictrace.errors import ConfigError, Unprocessable
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


def load_config(config_path: Path, taken: frozenset[str] = frozenset()) -> ModelConfig:
    """Read and validate a model config; relative model paths are taken from its folder.
    ``taken``: the feature names already used (the built-in ones, earlier models')."""
    try:
        raw = json.loads(Path(config_path).read_text("utf-8"))
        return _parse(raw, Path(config_path).parent, taken)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise ConfigError(f"bad model config {config_path}: {exc}") from exc


def _parse(raw: dict[str, Any], base: Path, taken: frozenset[str]) -> ModelConfig:
    name = str(raw["name"])
    if not name.isidentifier() or name in taken:
        raise ValueError(
            f"model name {name!r} must be an identifier no other feature has "
            f"({', '.join(sorted(taken))})"
        )
    path = Path(raw["path"])
    path = path if path.is_absolute() else base / path
    layout, channels = str(raw.get("layout", "NCHW")), str(raw.get("channels", "RGB"))
    if layout not in ("NCHW", "NHWC") or channels not in ("RGB", "BGR"):
        raise ValueError("layout must be NCHW or NHWC and channels RGB or BGR")
    size = raw.get("size", [224, 224])
    if len(size) != 2 or min(int(size[0]), int(size[1])) < 1:
        raise ValueError(f"size must be two positive numbers (width, height), not {size!r}")
    if float(raw.get("scale", 255.0)) == 0.0 or 0.0 in _triple(raw.get("std", [1.0, 1.0, 1.0])):
        raise ValueError("scale and std must not be 0")
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
        # a model exported for one image at a time (a batch dimension fixed at 1) runs so
        self._step = 1 if sess.get_inputs()[0].shape[:1] == [1] else 0
        dim = self._probe_dim()
        self.specs = (FeatureSpec(config.name, config.version, "vector", dim),)

    def _probe_dim(self) -> int:
        blank = preprocess(np.zeros((8, 8, 3), np.uint8), self.config)
        probe = self._run(np.stack([blank] * (self._step or 2)))
        if not np.isfinite(probe).all():
            raise ConfigError(f"model {self.config.name}: its output is not finite (NaN or inf)")
        return int(probe.shape[1])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """The model's L2-normalised vectors of a batch; ConfigError when the model cannot
        run on what the config makes of pictures (an input of another size, layout or type)."""
        sess = session(str(self.config.path), self.threads)
        try:
            out = np.asarray(sess.run([self._output], {self._input: batch.astype(np.float32)})[0])
        except Exception as exc:  # onnxruntime's own errors: the model and its config disagree
            raise ConfigError(f"model {self.config.name} failed: {_last_line(exc)}") from exc
        if out.ndim == 4:
            out = out.mean(axis=(2, 3) if self.config.layout == "NCHW" else (1, 2))
        if out.ndim != 2 or len(out) != len(batch):
            raise ConfigError(
                f"model {self.config.name}: output must be 2-D or 4-D, one row per picture"
            )
        return l2_normalise(out)

    def extract(self, images: Sequence[DecodedImage]) -> list[dict[str, object]]:
        """One vector per image; an image whose vector is not finite (NaN or inf) fails
        alone (``adding`` retries a failed batch one image at a time)."""
        if not images:
            return []
        step = self._step or len(images)
        vectors = np.vstack(
            [
                self._run(
                    np.stack([preprocess(i.pixels, self.config) for i in images[k : k + step]])
                )
                for k in range(0, len(images), step)
            ]
        )
        if not np.isfinite(vectors).all():
            raise Unprocessable(f"model {self.config.name} gave no finite vector for the picture")
        return [{self.config.name: v} for v in vectors]

    def extract_one(self, image: DecodedImage) -> dict[str, object]:
        return self.extract([image])[0]

    def beside_local(self) -> Extractor:
        """One thread beside a query's keypoints when threads are automatic (as the CNN)."""
        return OnnxModelExtractor(self.config, 1) if self.threads == 0 else self


def extra_model_extractors(settings: Settings, taken: frozenset[str]) -> list[Extractor]:
    """The extractors of the user's models; ``taken``: the built-in features' names, which
    no model may have (nor two models one name)."""
    models: list[Extractor] = []
    for path in settings.extra_models:
        config = load_config(path, taken)
        taken |= {config.name}
        models.append(OnnxModelExtractor(config, settings.threads))
    return models


def _last_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
