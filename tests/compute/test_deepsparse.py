"""The `deepsparse` engine: its own environment found or refused in one line, and a tiny BERT timed
through its worker subprocess with PyTorch's logits."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from suite.compute.engine_latency import engine_inputs, time_on_engines
from suite.compute.engines import engines_for
from suite.compute.engines.deepsparse import PYTHON_VARIABLE, WORKER, DeepSparse, deepsparse_python
from suite.compute.onnx_export import export_onnx, torch_logits
from suite.errors import SuiteError
from tests.builders.models import tiny_bert

SHAPE = dict(vocab_size=1200, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)


def test_a_missing_environment_is_one_line_naming_the_path_and_the_fix(monkeypatch, tmp_path):
    python = tmp_path / "no-venv" / "bin" / "python"
    monkeypatch.setenv(PYTHON_VARIABLE, str(python))
    with pytest.raises(SuiteError) as refused:
        engines_for(["deepsparse"])
    message = str(refused.value)
    assert "\n" not in message
    assert str(python) in message and "make deepsparse" in message


def test_a_python_without_deepsparse_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv(PYTHON_VARIABLE, sys.executable)  # the suite's own python: no deepsparse there
    why = DeepSparse().missing()
    assert why is not None and "\n" not in why
    assert "deepsparse does not import" in why and "ModuleNotFoundError" in why


def test_the_worker_and_the_loop_it_loads_import_only_the_stdlib_numpy_and_deepsparse():
    # DeepSparse's environment has neither the suite nor torch nor transformers.
    allowed = set(sys.stdlib_module_names) | {"__future__", "numpy", "deepsparse"}
    for source in (WORKER, WORKER.with_name("interleave.py")):
        tree = ast.parse(source.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert imported, source
        assert {name.split(".")[0] for name in imported} <= allowed, source


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random BERT and its exported file. Skips where DeepSparse's environment is not installed;
    one that is there but cannot run (numpy 2 in it, say) fails instead."""
    python = deepsparse_python()
    if not python.is_file():
        pytest.skip(f"no DeepSparse environment at {python} (make deepsparse)")
    assert DeepSparse().missing() is None
    model = tiny_bert(seed=0, **SHAPE)
    return model, export_onnx(model, tmp_path_factory.mktemp("deepsparse") / "model.onnx")


def test_logits_match_pytorch_and_are_not_all_equal(tiny):
    model, path = tiny
    # Batch 2 first: its logits are the ones compared, four values that numpy 2's wrong run makes equal.
    inputs = engine_inputs(16, [2, 1], SHAPE["vocab_size"])
    run = DeepSparse().measure({"model": path}, "fp32", inputs, warmup=1, repeats=2, threads=1)
    logits = run.logits["model"]
    expected = torch_logits(model, inputs["batch_2"])
    assert logits.shape == expected.shape == (2, 2)
    assert np.ptp(logits) > 1e-6
    assert np.max(np.abs(logits - expected)) < 1e-4
    assert int(run.settings["numpy"].split(".")[0]) < 2
    assert set(run.timings["model"]) == {"batch_2", "batch_1"}
    assert run.timings["model"]["batch_1"]["n"] == 2


def test_time_on_engines_gives_figures_against_the_reference_file(tiny):
    _, reference_file = tiny
    model = tiny_bert(seed=1, **SHAPE)
    out = time_on_engines(model, reference_file, engines_for(["torch", "deepsparse"]), 16, [1, 2], 1, 2, 1)
    figures = out["deepsparse"]["fp32"]
    assert "error" not in figures, figures
    assert out["deepsparse"]["version"] == "1.8.0"
    assert set(figures["speedup"]) == {"batch_1", "batch_2"}
    assert all(figures[key] > 0 and figures["reference"][key] > 0 for key in ("batch_1", "batch_2"))
    assert figures["max_abs_diff"] < 1e-4
    assert figures["settings"]["fraction_of_supported_ops"]["model"]["batch_1"] > 0.5


def test_a_worker_failure_is_a_runtime_error_with_its_last_line(tiny):
    _, path = tiny
    ids = engine_inputs(16, [1], SHAPE["vocab_size"])["batch_1"]["input_ids"]
    with pytest.raises(RuntimeError, match=r"worker failed \(exit 1\): KeyError: 'attention_mask'"):
        DeepSparse().measure({"model": path}, "fp32", {"batch_1": {"input_ids": ids}}, 1, 1, 1)


def test_a_worker_past_its_timeout_is_stopped(tiny):
    _, path = tiny
    inputs = engine_inputs(16, [1], SHAPE["vocab_size"])
    with pytest.raises(RuntimeError, match=r"did not finish in 0\.2 s"):
        DeepSparse(timeout_s=0.2).measure({"model": path}, "fp32", inputs, 1, 1, 1)


def test_only_fp32_is_measured(tmp_path):
    with pytest.raises(ValueError, match="not int8"):
        DeepSparse().measure({"model": Path(tmp_path / "unused.onnx")}, "int8", {}, 1, 1, 1)
