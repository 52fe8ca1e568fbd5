"""OpenVINO on the CPU, in fp32 and bf16 (its inference-precision hint), latency mode, pinned threads.

Its sparse-weights decompression (CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE) applies to int8 weights only,
and int8 is not a FLOP budget, so it is not set: the settings record say so.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from suite.compat.openvino import compiling_keeps_signal_stack
from suite.compute.engines.base import Engine
from suite.compute.engines.interleave import Run

HINTS = {"fp32": "f32", "bf16": "bf16"}
NO_BF16 = "this CPU has no bf16 support in OpenVINO"


def computes_bf16() -> bool:
    """Whether OpenVINO runs bf16 on this CPU (AVX512-BF16 or AMX); elsewhere its bf16 figures are an
    error entry naming NO_BF16, and its fp32 ones are timed as usual."""
    import openvino

    with compiling_keeps_signal_stack():
        return _has_bf16(openvino.Core())


def _has_bf16(core: Any) -> bool:
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVino(Engine):
    name = "openvino"
    precisions = ("fp32", "bf16")
    install = "pip install -e '.[openvino]' (or make install)"

    def missing(self) -> str | None:
        return None if importlib.util.find_spec("openvino") else "the openvino package is not installed"

    def version(self) -> str:
        import openvino

        return openvino.__version__.split("-")[0]

    def load(self, path: Path, precision: str, threads: int) -> tuple[Run, dict[str, Any]]:
        import openvino

        config = {
            "INFERENCE_PRECISION_HINT": HINTS[precision],
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "ENABLE_CPU_PINNING": True,
        }
        # Loading the CPU plugin, compiling and creating the request each set a signal stack (see the shim).
        with compiling_keeps_signal_stack():
            core = openvino.Core()
            if precision == "bf16" and not _has_bf16(core):
                raise RuntimeError(NO_BF16)
            compiled = core.compile_model(str(path), "CPU", config)
            request = compiled.create_infer_request()

        def run(inputs: Any) -> Any:
            # Kernels are also compiled at inference (bf16, a new shape): two syscalls, a microsecond.
            with compiling_keeps_signal_stack():
                return request.infer(dict(inputs))[0]

        settings = {
            **{key: value for key, value in config.items()},
            "CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE": "not set (int8 weights only)",
        }
        return run, settings
