"""A shown number with what backs it: its per-seed values and, where predictions exist, bootstrap draws."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from suite.leaderboard.bootstrap import Interval, percentile_interval, shown
from suite.leaderboard.seeds import SeedCheck, SeedSpread, paired_differences, seed_check, seed_spread


@dataclass(frozen=True)
class Estimate:
    """`value` is the mean over seeds; `draws` (one per resample, seeds averaged inside each) is
    None where any seed behind the value has no per-example predictions. `seeds` numbers the
    `seed_values` (empty where they are not known), so that two rows can be paired seed by seed."""

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
        """The paired difference: draws subtracted resample by resample (same index matrices), and the
        per-seed values over the seeds both have, seed by seed. `value` stays the difference of the
        two means (each over all of its own seeds), the number the tables show."""
        draws = None if self.draws is None or other.draws is None else self.draws - other.draws
        per_seed = paired_differences(self.by_seed, other.by_seed)
        return Estimate(self.value - other.value, tuple(per_seed.values()), draws, tuple(per_seed))

    @property
    def seed_check(self) -> SeedCheck:
        """On a difference (from `minus`): whether its per-seed values share its sign."""
        return seed_check(self.value, self.seed_values)

    @property
    def called(self) -> bool:
        """On a difference: its 95% CI excludes 0 and the seed check allows it (section 5b, plus
        training randomness: with fewer than 2 paired seeds the CI alone decides)."""
        ci = self.ci
        return ci is not None and ci.excludes_zero and self.seed_check.allows


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
    """`+1.2 [0.3, 2.0]†`: † where the difference is called (`Estimate.called`); where the CI alone
    would call it but the seeds do not agree, they say so: `+1.2 [0.3, 2.0] (2 of 3 seeds agree)`."""
    text = f"{shown(estimate.value, digits):+.{digits}f}"
    ci = estimate.ci
    if ci is None:
        return text
    text += f" [{ci.text(digits)}]"
    if estimate.called:
        return text + SIGNIFICANT
    check = estimate.seed_check
    return f"{text} ({check.text()})" if ci.excludes_zero and not check.allows else text
