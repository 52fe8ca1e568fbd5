"""Paired bootstrap over dev examples: resampled index matrices, per-model score draws, percentile CIs.

Paired: every model of a task is scored on the same resampled indices, so a difference between two
models is taken resample by resample and the examples both find easy or hard cancel out. The index
matrix comes from a fixed seed and the task's name only, so regenerating a leaderboard gives the
same bytes and adding a task or a model leaves every other interval unchanged.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from suite.metrics.vectorized import resample_scorer

RESAMPLES = 1000
LEVEL = 0.95
BOOTSTRAP_SEED = 5_202_411  # any constant: it only has to stay the same between regenerations
# Resamples are drawn a block at a time so that QQP-sized dev sets (40k examples) stay small in memory.
BLOCK_ELEMENTS = 1 << 22

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self, digits: int = 1, sep: str = ", ") -> str:
        return f"{shown(self.low, digits):.{digits}f}{sep}{shown(self.high, digits):.{digits}f}"


def shown(value: float, digits: int) -> float:
    """`value` rounded as it will be printed, without a "-0.0" for what rounds to zero."""
    return round(value, digits) or 0.0


def task_indices(task: str, n: int, resamples: int = RESAMPLES) -> Iterator[np.ndarray]:
    """The task's resampled index matrix, (resamples, n) in all, in blocks of rows."""
    if n <= 0 or resamples <= 0:
        raise ValueError(f"need examples and resamples, got n={n}, resamples={resamples}")
    rng = np.random.default_rng([BOOTSTRAP_SEED, zlib.crc32(task.encode())])
    rows = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, resamples, rows):
        yield rng.integers(0, n, size=(min(rows, resamples - start), n))


def bootstrap_draws(
    metric: str, labels: np.ndarray, predictions: Mapping[K, np.ndarray], indices: Iterable[np.ndarray]
) -> dict[K, np.ndarray]:
    """Per model, its score on every resample of `indices` (blocks of index rows into the dev set)."""
    labels = np.asarray(labels)
    arrays = {key: np.asarray(values) for key, values in predictions.items()}
    for key, values in arrays.items():
        if values.shape != labels.shape:
            raise ValueError(f"{key}: {values.shape[0]} predictions for {labels.shape[0]} labels")
    blocks: dict[K, list[np.ndarray]] = {key: [] for key in arrays}
    for index in indices:
        score = resample_scorer(metric, labels, index)
        for key, values in arrays.items():
            blocks[key].append(score(values))
    return {key: np.concatenate(parts) for key, parts in blocks.items()}


def percentile_interval(draws: np.ndarray, level: float = LEVEL) -> Interval:
    """The central `level` percentile interval of the draws."""
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(np.asarray(draws, dtype=float), [tail, 100.0 - tail])
    return Interval(float(low), float(high))
