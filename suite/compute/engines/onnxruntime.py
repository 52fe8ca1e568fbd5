"""ONNX Runtime on the CPU, fp32: it has no sparse kernels, so it is the dense-engine baseline."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from suite.compute.engines.base import Engine
from suite.compute.engines.interleave import Run


class OnnxRuntime(Engine):
    name = "onnxruntime"
    precisions = ("fp32",)
    install = "pip install -e '.[onnxruntime]' (or make install)"

    def missing(self) -> str | None:
        return None if importlib.util.find_spec("onnxruntime") else "the onnxruntime package is not installed"

    def version(self) -> str:
        import onnxruntime

        return onnxruntime.__version__

    def load(self, path: Path, precision: str, threads: int) -> tuple[Run, dict[str, Any]]:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # One operator at a time on `threads` threads: the harness's own thread count, as PyTorch runs.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        settings = {
            "provider": "CPUExecutionProvider",
            "intra_op_num_threads": threads,
            "inter_op_num_threads": 1,
            "graph_optimization_level": "ORT_ENABLE_ALL",
        }
        return (lambda inputs: session.run(None, dict(inputs))[0]), settings
