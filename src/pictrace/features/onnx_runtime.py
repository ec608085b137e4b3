"""Shared onnxruntime sessions (one per model file and thread count, created lazily)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pictrace.errors import ConfigError
from pictrace.threads import usable_cores


@lru_cache(maxsize=8)
def session(model_path: str, threads: int) -> Any:
    """An InferenceSession for ``model_path``; ``threads=0`` means one per core."""
    import onnxruntime as ort

    if not Path(model_path).is_file():
        raise ConfigError(f"ONNX model not found: {model_path}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or usable_cores()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Spinning worker threads fight the feature threads and faiss for two cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ConfigError(f"cannot load ONNX model {model_path}: {exc}") from exc
