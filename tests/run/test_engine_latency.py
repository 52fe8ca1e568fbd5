"""A smoke run with an exported-model engine: every model row's record carries the engine's figures
against that engine's unpruned model, beside PyTorch's; the trivial row times nothing."""

from __future__ import annotations

from suite.compute.engines.openvino import NO_BF16, computes_bf16
from suite.records.reader import read_records
from tests.conftest import run_smoke


def test_a_smoke_run_with_openvino_records_its_latency_per_precision(tmp_path):
    results = run_smoke(tmp_path, ("dense", "magnitude"), tasks=("sst2",), latency_engines=("openvino",))
    records = {r["method"]: r for r in read_records(results)}
    assert set(records) == {"dense", "magnitude", "trivial"}
    assert records["trivial"]["latency_ms"] == {}
    for method in ("dense", "magnitude"):
        latency = records[method]["latency_ms"]
        assert latency["batch_4"] > 0  # PyTorch's own figures are still there
        openvino = latency["engines"]["openvino"]
        assert openvino["version"]
        for precision in ("fp32", "bf16") if computes_bf16() else ("fp32",):
            figures = openvino[precision]
            assert set(figures["speedup"]) == {"batch_1", "batch_4"}, method
            assert figures["reference"]["batch_4"] > 0 and figures["settings"]["INFERENCE_NUM_THREADS"] >= 1
        assert openvino["fp32"]["max_abs_diff"] < 1e-4, method
        if not computes_bf16():  # an AVX2-only CPU: bf16 is an error entry that says why
            assert openvino["bf16"] == {"error": f"RuntimeError: {NO_BF16}"}, method
