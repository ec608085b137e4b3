"""A user-supplied ONNX model as an extra embedding, with a tiny model the test builds."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pictrace import Index
from pictrace.errors import ConfigError
from pictrace.features.onnx_model import OnnxModelExtractor, load_config
from pictrace.types import DecodedImage
from tests.conftest import load_rgb


def _tiny_model(path):
    """conv 3->8 (fixed random weights) + ReLU: a 4-D output the extractor must pool."""
    rng = np.random.default_rng(0)
    weights = helper.make_tensor(
        "w",
        TensorProto.FLOAT,
        [8, 3, 3, 3],
        rng.normal(size=(8, 3, 3, 3)).astype(np.float32).ravel(),
    )
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["input", "w"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["features"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 8, 32, 32])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


@pytest.fixture
def model_config(tmp_path):
    _tiny_model(tmp_path / "tiny.onnx")
    config = {
        "name": "tiny",
        "path": "tiny.onnx",
        "size": [32, 32],
        "mean": [0.5, 0.5, 0.5],
        "std": [0.25, 0.25, 0.25],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(config))
    return path


def test_extractor_pools_and_normalises(model_config, photos):
    extractor = OnnxModelExtractor(load_config(model_config), threads=1)
    assert extractor.specs[0].dim == 8
    pixels = np.asarray(load_rgb(photos / "coffee.jpg"))
    value = extractor.extract_one(DecodedImage(pixels, 1, 1, "jpeg", "a", "b", 1))["tiny"]
    assert value.shape == (8,) and abs(float(np.linalg.norm(value)) - 1) < 1e-5


def test_index_uses_the_extra_model(model_config, photos, tmp_path):
    with Index.open(tmp_path / "idx", extra_models=(model_config,)) as index:
        index.add([photos / "coffee.jpg", photos / "rocket.jpg"])
        assert index.stats().extractors["tiny"] == 2
        result = index.search(photos / "coffee.jpg", k=2)
    assert "cosine_tiny" in result.matches[0].signals


@pytest.mark.parametrize("local", [True, False])
def test_a_first_look_beside_keypoints_runs_the_models_on_one_thread(model_config, tmp_path, local):
    with Index.open(tmp_path / "idx", extra_models=(model_config,), local_features=local) as index:
        threads = {type(e).__name__: e.threads for e in index.first_look if e.batched}
    # automatic threads: one beside the keypoints, all cores (0) for a query without them
    expected = 1 if local else 0
    assert threads == {"CnnExtractor": expected, "OnnxModelExtractor": expected}


def test_bad_configs_are_reported(tmp_path, model_config):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "cnn", "path": "tiny.onnx"}))
    with pytest.raises(ConfigError, match="identifier not used"):
        load_config(bad)
    with pytest.raises(ConfigError, match="bad model config"):
        load_config(tmp_path / "missing.json")
