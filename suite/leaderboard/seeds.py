"""Training randomness beside the bootstrap: a row's spread over seeds.

The paired bootstrap resamples dev examples with the seeds averaged inside each resample, so its CI
says how far a score would move on another draw of dev examples, not on another training run.
Seeds are the board's only view of training randomness (initialization, data order, dropout, and
the kernels a machine picks): their spread is shown beside the CI. One seed has no spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from suite.leaderboard.bootstrap import shown

MIN_SEEDS = 2  # fewer: no spread


@dataclass(frozen=True)
class SeedSpread:
    """The per-seed scores of one row: how many, lowest, highest and their sample std (ddof 1)."""

    n: int
    low: float
    high: float
    std: float

    def text(self, digits: int = 1) -> str:
        """`seeds 80.9..83.6, sd 1.2`."""
        low, high = shown(self.low, digits), shown(self.high, digits)
        return f"seeds {low:.{digits}f}..{high:.{digits}f}, sd {self.std:.{digits}f}"


def seed_spread(values: Sequence[float]) -> SeedSpread | None:
    """The spread of a row's per-seed scores; None below MIN_SEEDS."""
    if len(values) < MIN_SEEDS:
        return None
    array = np.asarray(values, dtype=float)
    return SeedSpread(len(array), float(array.min()), float(array.max()), float(np.std(array, ddof=1)))
