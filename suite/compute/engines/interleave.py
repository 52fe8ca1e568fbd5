"""Interleaved timing of callables on the same inputs: warm-up, then rounds in which every model runs
once in turn, so each sees the same background load and the ratio of two medians is a side-by-side
measurement even when absolute figures drift on a shared machine.

Standard library and numpy only: the DeepSparse worker imports this file from its own environment,
where neither torch nor the suite is installed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

Run = Callable[[Mapping[str, Any]], Any]  # inputs by name -> logits


def summarize(samples: list[float]) -> dict[str, float]:
    """Median and spread (interquartile range, min, max) of one model's timings at one batch, in ms."""
    if len(samples) >= 2:
        low, _, high = statistics.quantiles(samples, n=4, method="inclusive")
    else:
        low = high = samples[0]
    return {
        "median": statistics.median(samples),
        "iqr": high - low,
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def time_interleaved(
    runs: Mapping[str, Run], inputs: Mapping[str, Mapping[str, Any]], warmup: int, repeats: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Per model, per batch key of `inputs` (e.g. `batch_32`): the summary of `repeats` timings in ms."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in runs}
    for key, batch in inputs.items():
        for run in runs.values():
            for _ in range(warmup):
                run(batch)
        for _ in range(repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run(batch)
                samples[name].setdefault(key, []).append((time.perf_counter() - start) * 1000.0)
    return {name: {key: summarize(values) for key, values in per_batch.items()} for name, per_batch in samples.items()}
