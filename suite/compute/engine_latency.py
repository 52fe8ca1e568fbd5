"""Latency of a finalized model on exported-model engines (ONNX Runtime, OpenVINO, ...), each against
the same engine's unpruned model, timed interleaved on the same inputs.

Per engine the result holds its version and, per precision, the median milliseconds per batch, their
spread, the unpruned model's medians (`reference`), `speedup` = reference / model per batch (a ratio
within one engine and one precision), the settings the engine ran with, and `max_abs_diff`: the
largest difference of the engine's logits from PyTorch fp32's on the first batch. An engine that
fails on a model records its error in one line, and the others are still timed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from suite.compute.engines import Engine
from suite.compute.engines.interleave import Run
from suite.compute.onnx_export import export_onnx, torch_logits
from suite.errors import clipped

MODEL, REFERENCE = "model", "reference"


def engine_inputs(seq_len: int, batch_sizes: Sequence[int], vocab_size: int) -> dict[str, dict[str, np.ndarray]]:
    """The same full-length (unpadded) random token ids for every engine and model, per batch size."""
    rng = np.random.default_rng(0)
    out = {}
    for batch in batch_sizes:
        ids = rng.integers(min(1000, vocab_size - 1), vocab_size, size=(batch, seq_len), dtype=np.int64)
        out[f"batch_{batch}"] = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    return out


def time_on_engines(
    model: nn.Module,
    reference: nn.Module | Path,
    engines: Sequence[Engine],
    seq_len: int,
    batch_sizes: Sequence[int],
    warmup: int,
    repeats: int,
    threads: int,
    also: Mapping[str, Run] | None = None,
) -> dict[str, Any]:
    """Per engine name: {version, <precision>: figures | error}. `reference` may be its exported file
    (a caller timing many models against one reference exports it once). `also`: in-process callables
    (e.g. PyTorch's reference) timed inside each in-process engine's rounds, their medians reported
    per precision under `also`."""
    inputs = engine_inputs(seq_len, batch_sizes, model.config.vocab_size)
    first = next(iter(inputs.values()))
    expected = torch_logits(model, first)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="suite-onnx-") as folder:
        files = {MODEL: export_onnx(model, Path(folder) / "model.onnx")}
        if isinstance(reference, Path):
            files[REFERENCE] = reference
        else:
            files[REFERENCE] = export_onnx(reference, Path(folder) / "reference.onnx")
        for engine in engines:
            figures: dict[str, Any] = {"version": engine.version()}
            for precision in engine.precisions:
                try:
                    run = engine.measure(files, precision, inputs, warmup, repeats, threads, also)
                except Exception as exc:  # an engine that cannot take this model: say why, time the rest
                    figures[precision] = {"error": clipped(f"{type(exc).__name__}: {exc}".splitlines()[0], 300)}
                    continue
                figures[precision] = _figures(run.timings, run.logits[MODEL], expected, run.settings)
            out[engine.name] = figures
    return out


def _figures(
    timings: dict[str, dict[str, dict[str, float]]], logits: np.ndarray, expected: np.ndarray, settings: dict
) -> dict[str, Any]:
    model, reference = timings[MODEL], timings[REFERENCE]
    medians = {key: summary["median"] for key, summary in model.items()}
    figures: dict[str, Any] = {
        **medians,
        "spread": {key: {k: v for k, v in summary.items() if k != "median"} for key, summary in model.items()},
        "reference": {key: summary["median"] for key, summary in reference.items()},
        "speedup": {key: reference[key]["median"] / medians[key] for key in medians},
        "max_abs_diff": float(np.max(np.abs(np.asarray(logits, dtype=np.float64) - expected))),
        "settings": settings,
    }
    extra = {name: per_batch for name, per_batch in timings.items() if name not in (MODEL, REFERENCE)}
    if extra:
        figures["also"] = {name: {key: s["median"] for key, s in batches.items()} for name, batches in extra.items()}
    return figures
