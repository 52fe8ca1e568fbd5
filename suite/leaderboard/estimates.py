"""A shown number with what backs it: its per-seed values and, where predictions exist, bootstrap draws."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from suite.leaderboard.bootstrap import Interval, percentile_interval, shown
from suite.leaderboard.seeds import SeedSpread, seed_spread


@dataclass(frozen=True)
class Estimate:
    """`value` is the mean over seeds; `draws` (one per resample, seeds averaged inside each) is
    None where any seed behind the value has no per-example predictions. `seeds` numbers the
    `seed_values` (empty where they are not known)."""

    value: float
    seed_values: tuple[float, ...] = ()
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)
    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.seeds and len(self.seeds) != len(self.seed_values):
            raise ValueError(f"{len(self.seeds)} seed numbers for {len(self.seed_values)} seed values")

    @property
    def n(self) -> int:
        return len(self.seed_values)

    @property
    def by_seed(self) -> dict[int, float]:
        """Seed number -> value; empty where the seed numbers are not known."""
        return dict(zip(self.seeds, self.seed_values, strict=True)) if self.seeds else {}

    @property
    def spread(self) -> SeedSpread | None:
        """The spread over seeds (the training randomness the dev-set CI does not include)."""
        return seed_spread(self.seed_values)

    @property
    def ci(self) -> Interval | None:
        return None if self.draws is None else percentile_interval(self.draws)

    def minus(self, other: Estimate) -> Estimate:
        """The paired difference: draws subtracted resample by resample (same index matrices)."""
        draws = None if self.draws is None or other.draws is None else self.draws - other.draws
        return Estimate(self.value - other.value, (), draws)


def seed_mean(values: Sequence[float], draws: Sequence[np.ndarray | None], seeds: Sequence[int] = ()) -> Estimate:
    """Mean over seeds; the draws are averaged inside each resample, only when every seed has them."""
    complete = bool(draws) and all(d is not None for d in draws)
    mean_draws = np.mean(np.stack(draws), axis=0) if complete else None  # type: ignore[arg-type]
    return Estimate(float(np.mean(values)), tuple(float(v) for v in values), mean_draws, tuple(int(s) for s in seeds))


def format_estimate(estimate: Estimate, digits: int = 1) -> str:
    """`82.3`, then the 95% CI in brackets where there is one, then the spread over seeds where n > 1:
    `82.3 [80.1, 84.0] (seeds 80.9..83.6, sd 1.2)`."""
    text = f"{shown(estimate.value, digits):.{digits}f}"
    ci = estimate.ci
    if ci is not None:
        text += f" [{ci.text(digits)}]"
    spread = estimate.spread
    return f"{text} ({spread.text(digits)})" if spread is not None else text


SIGNIFICANT = "†"


def format_difference(estimate: Estimate, digits: int = 1) -> str:
    """`+1.2 [0.3, 2.0]†`: † where the 95% CI excludes 0 (a difference the data can call)."""
    text = f"{shown(estimate.value, digits):+.{digits}f}"
    ci = estimate.ci
    if ci is None:
        return text
    return f"{text} [{ci.text(digits)}]" + (SIGNIFICANT if ci.excludes_zero else "")
