"""Lowering an exported file's opset for older readers: Gelu expanded into what it is defined by."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from suite.compute.engines.onnx_opset import lower_opset

onnxruntime = pytest.importorskip("onnxruntime")


def _gelu_model(path: Path) -> Path:
    """y = Gelu(x) + Gelu_tanh(x) at opset 20, where Gelu first appears, and IR version 10."""
    nodes = [
        helper.make_node("Gelu", ["x"], ["exact"], name="exact_gelu"),
        helper.make_node("Gelu", ["x"], ["approximate"], approximate="tanh"),
        helper.make_node("Concat", ["exact", "approximate"], ["y"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "gelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 5])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    onnx.save(model, str(path))
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_gelu_is_expanded_and_the_opset_and_ir_version_lowered(tmp_path):
    source = _gelu_model(tmp_path / "gelu.onnx")
    lowered = onnx.load(str(lower_opset(source, tmp_path / "lowered.onnx", 17)))
    assert [(opset.domain, opset.version) for opset in lowered.opset_import] == [("", 17)]
    assert lowered.ir_version == 8  # the IR version onnx released with opset 17
    assert "Gelu" not in {node.op_type for node in lowered.graph.node}
    assert {"Erf", "Tanh"} <= {node.op_type for node in lowered.graph.node}


def test_the_lowered_graph_computes_what_gelu_does(tmp_path):
    source = _gelu_model(tmp_path / "gelu.onnx")
    lowered = lower_opset(source, tmp_path / "lowered.onnx", 17)
    x = np.linspace(-6.0, 6.0, 20, dtype=np.float32).reshape(4, 5)
    expected, got = _run(source, x), _run(lowered, x)
    assert got.shape == (8, 5)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    # The two halves are the exact and the tanh curve, which differ by up to ~1e-3 near |x| = 2.
    assert np.max(np.abs(got[:4] - got[4:])) > 1e-4


def test_an_initializer_with_a_name_the_expansion_needs_is_refused(tmp_path):
    source = _gelu_model(tmp_path / "gelu.onnx")
    model = onnx.load(str(source))
    model.graph.initializer.append(numpy_helper.from_array(np.array(2.0, dtype=np.float32), "_gelu_one"))
    onnx.save(model, str(source))
    with pytest.raises(ValueError, match="_gelu_one"):
        lower_opset(source, tmp_path / "lowered.onnx", 17)
