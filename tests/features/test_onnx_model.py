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


def _tiny_model(path, batch="N", last="Relu"):
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
            helper.make_node(
                last, ["conv"], ["features"], **({"axes": [0]} if last == "ReduceMean" else {})
            ),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 32, 32])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, 8, 32, 32])],
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


@pytest.mark.parametrize("name", ["cnn", "phash", "colour", "labels", "keypoints", "thumbnail"])
def test_a_model_may_not_take_a_built_in_features_name(tmp_path, model_config, name):
    """Its vectors would replace that feature's values (keypoints: crops no longer found;
    thumbnail: searches failed), even one the index does not compute (keypoints here)."""
    bad = tmp_path / "bad.json"
    config = json.loads(model_config.read_text())
    bad.write_text(
        json.dumps({**config, "name": name, "path": str(model_config.parent / config["path"])})
    )
    with pytest.raises(ConfigError, match="no other feature has"):
        Index.open(tmp_path / "idx", extra_models=(bad,), local_features=False)
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps({**config, "path": str(model_config.parent / config["path"])}))
    with pytest.raises(ConfigError, match="no other feature has"):
        Index.open(tmp_path / "idx2", extra_models=(model_config, twice))


def test_bad_configs_are_reported(tmp_path, model_config):
    with pytest.raises(ConfigError, match="bad model config"):
        load_config(tmp_path / "missing.json")


def _configured(tmp_path, name="tiny", **changes):
    config = {"name": name, "path": "tiny.onnx", "size": [32, 32], "mean": [0.5] * 3}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**config, **changes}))
    return path


def test_a_model_exported_for_one_image_at_a_time_indexes_many(tmp_path, photos):
    _tiny_model(tmp_path / "tiny.onnx", batch=1)
    with Index.open(tmp_path / "idx", extra_models=(_configured(tmp_path),)) as index:
        report = index.add([photos / "coffee.jpg", photos / "rocket.jpg", photos / "flower.jpg"])
        assert len(report.added) == 3 and index.stats().extractors["tiny"] == 3


@pytest.mark.parametrize(
    ("changes", "last", "said"),
    [
        ({"size": [16, 16]}, "Relu", "model tiny failed"),  # the model takes 32 x 32
        ({"layout": "NHWC"}, "Relu", "model tiny failed"),
        ({}, "Log", "not finite"),  # log of a negative input
        ({}, "ReduceMean", "one row per picture"),  # one row for the whole batch
        ({"size": [32]}, "Relu", "two positive numbers"),
        ({"std": [1.0, 0.0, 1.0]}, "Relu", "must not be 0"),
        ({"scale": 0}, "Relu", "must not be 0"),
    ],
)
def test_a_model_its_config_does_not_fit_is_a_config_error_at_open(tmp_path, changes, last, said):
    _tiny_model(tmp_path / "tiny.onnx", last=last)
    with pytest.raises(ConfigError, match=said):
        Index.open(tmp_path / "idx", extra_models=(_configured(tmp_path, **changes),))
