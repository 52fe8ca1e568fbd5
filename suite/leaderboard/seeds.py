"""Training randomness beside the bootstrap: a row's spread over seeds, and whether the seeds agree
on a difference.

The paired bootstrap resamples dev examples with the seeds averaged inside each resample, so its CI
says how far a score would move on another draw of dev examples, not on another training run.
Seeds are the board's only view of training randomness (initialization, data order, dropout, and
the kernels a machine picks): their spread is shown beside the CI, and a difference is called only
where, seed by seed, the two rows differ in the direction of the mean difference. One seed has no
spread and nothing to agree with, so there the bootstrap alone decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from suite.leaderboard.bootstrap import shown

MIN_SEEDS = 2  # fewer: no spread, and no seed check (the bootstrap alone decides)


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


@dataclass(frozen=True)
class SeedCheck:
    """Of the `shared` seeds two rows both have (paired by seed number), how many differ in the
    direction of the mean difference. It applies from MIN_SEEDS shared seeds on; below, it allows
    every call (the bootstrap alone decides)."""

    shared: int
    agreeing: int

    @property
    def applies(self) -> bool:
        return self.shared >= MIN_SEEDS

    @property
    def allows(self) -> bool:
        return not self.applies or self.agreeing == self.shared

    def text(self) -> str:
        """`3 of 3 seeds agree`."""
        return f"{self.agreeing} of {self.shared} seeds agree"


def paired_differences(mine: Mapping[int, float], theirs: Mapping[int, float]) -> dict[int, float]:
    """Per seed both rows have, in seed order: mine minus theirs."""
    return {seed: mine[seed] - theirs[seed] for seed in sorted(set(mine) & set(theirs))}


def seed_check(mean_difference: float, per_seed: Sequence[float]) -> SeedCheck:
    """How many per-seed differences share the sign of `mean_difference`; a zero on either side
    agrees with nothing (a tie between two seeds' runs is no evidence of a direction)."""
    sign = np.sign(mean_difference)
    agreeing = sum(1 for d in per_seed if sign != 0 and np.sign(d) == sign)
    return SeedCheck(len(per_seed), agreeing)
