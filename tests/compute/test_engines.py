"""Engines as plugins of the latency measurement: one line for an unknown or missing engine, figures per
engine and precision against the same engine's unpruned model, and the memo's reuse across cells."""

from __future__ import annotations

import copy

import pytest

from suite.cli import main
from suite.compute import latency_memo
from suite.compute.engines import engines_for
from suite.compute.engines.interleave import summarize
from suite.compute.engines.onnxruntime import OnnxRuntime
from suite.compute.engines.openvino import NO_BF16, computes_bf16
from suite.compute.latency_memo import LatencyMemo
from suite.errors import SuiteError
from suite.structure import prune_heads
from tests.builders.models import tiny_bert

SHAPE = dict(vocab_size=1200)


def test_a_missing_engine_is_one_line_that_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(OnnxRuntime, "missing", lambda self: "the onnxruntime package is not installed")
    with pytest.raises(SuiteError) as error:
        engines_for(["torch", "onnxruntime"])
    message = str(error.value)
    assert message.startswith("engine onnxruntime cannot run here: the onnxruntime package is not installed")
    assert "make install" in message and "\n" not in message


def test_a_missing_engine_stops_a_run_before_anything_is_written(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(OnnxRuntime, "missing", lambda self: "the onnxruntime package is not installed")
    argv = ["run", "--preset", "smoke", "--results-dir", str(tmp_path / "r"), "--engines", "onnxruntime"]
    assert main(argv) == 2
    assert "error: engine onnxruntime cannot run here" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_torch_alone_needs_no_engine():
    assert engines_for(["torch"]) == []


def test_the_spread_of_timings():
    assert summarize([4.0, 1.0, 3.0, 2.0]) == {"median": 2.5, "iqr": 1.5, "min": 1.0, "max": 4.0, "n": 4}
    assert summarize([2.0])["iqr"] == 0.0


def test_the_memo_times_each_architecture_once_per_engine_and_exports_the_reference_once(monkeypatch):
    exported = []
    real_export = latency_memo.export_onnx
    monkeypatch.setattr(latency_memo, "export_onnx", lambda m, p: exported.append(p) or real_export(m, p))
    reference = tiny_bert(seed=0, **SHAPE)
    pruned = [copy.deepcopy(reference) for _ in range(2)]
    for model in pruned:  # two cells landing on the same shapes (other seeds would, too)
        prune_heads(model, {0: [0, 1]})
    memo = LatencyMemo(16, (1, 2), repeats=2, engines=engines_for(["onnxruntime", "openvino"]))
    first = memo.measure(pruned[0], "sst2/heads/0.5/0", reference=reference)
    second = memo.measure(pruned[1], "sst2/heads/0.5/1", reference=reference)
    assert (first["reused"], second["reused"]) == (False, True)
    assert second["engines"] == first["engines"] and second["timed_in"] == "sst2/heads/0.5/0"
    assert len(exported) == 1  # the reference, once; the model is exported by the engine timing itself
    engines = first["engines"]
    assert set(engines) == {"onnxruntime", "openvino"}
    assert set(engines["openvino"]) == {"version", "fp32", "bf16"}
    fp32 = engines["onnxruntime"]["fp32"]
    for key in ("batch_1", "batch_2"):
        assert fp32[key] > 0 and fp32["reference"][key] > 0
        assert fp32["speedup"][key] == pytest.approx(fp32["reference"][key] / fp32[key])
        assert fp32["spread"][key]["n"] == 2
    assert fp32["max_abs_diff"] < 1e-4 and fp32["settings"]["intra_op_num_threads"] >= 1
    if computes_bf16():
        assert engines["openvino"]["bf16"]["max_abs_diff"] < 0.05  # bf16 rounding, not a wrong graph
    else:  # an AVX2-only CPU: the engine says why instead of timing an emulation
        assert engines["openvino"]["bf16"] == {"error": f"RuntimeError: {NO_BF16}"}


def test_an_engine_that_fails_on_a_model_records_why_and_the_others_are_timed(monkeypatch):
    def refuse(self, path, precision, threads):
        raise RuntimeError("Model wasn't fully converted.\nFailed operations detailed log: ...")

    monkeypatch.setattr(OnnxRuntime, "load", refuse)
    reference = tiny_bert(seed=0, **SHAPE)
    memo = LatencyMemo(16, (1,), repeats=1, engines=engines_for(["onnxruntime", "openvino"]))
    engines = memo.measure(copy.deepcopy(reference), "cell", reference=reference)["engines"]
    assert engines["onnxruntime"]["fp32"] == {"error": "RuntimeError: Model wasn't fully converted."}
    assert engines["openvino"]["fp32"]["batch_1"] > 0
