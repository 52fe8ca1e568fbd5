"""Tuning search spaces: what `tune` may vary for a method, declared where the method registers.

A method declares its one or two knobs that matter (`register_method(..., search=...)`), each a
`Uniform`, `LogUniform`, `IntRange` or `Choice` over a knob path of its Config. Every method is also
tuned on the learning rate, as a factor of the preset's (`LEARNING_RATE`), so that the same space
serves a preset at 3e-5 and one at 2e-4. The spaces are data: `tune --dry-run` prints them, the tuned
file records them, and a test checks that each declared range lies inside what the knob admits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The shared dimension every method is tuned on: the preset's learning rate times this factor.
LEARNING_RATE = "learning_rate_scale"
# A quarter to four times the preset's rate: the presets' rates were picked for a hundred or so
# steps at batch 32, so the best rate of any method lies well inside.
LEARNING_RATE_RANGE = (0.25, 4.0)


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"Uniform needs finite low < high, got {self.low}, {self.high}")

    def contains(self, value: Any) -> bool:
        return _is_number(value) and self.low <= value <= self.high

    def bounds(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class LogUniform(Uniform):
    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise ValueError(f"LogUniform needs low > 0, got {self.low}")

    def __str__(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high or (self.log and self.low < 1):
            raise ValueError(f"IntRange needs low < high (and low >= 1 on a log scale), got {self.low}, {self.high}")

    def contains(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high

    def bounds(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{'log-' if self.log else ''}integers [{self.low}, {self.high}]"


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise ValueError(f"Choice needs at least two options, got {self.options!r}")
        if not all(isinstance(o, str | int | float | bool) for o in self.options):
            raise ValueError("Choice options must be strings, numbers or booleans (they are stored as JSON)")

    def contains(self, value: Any) -> bool:
        return value in self.options

    def bounds(self) -> tuple[Any, ...]:
        return self.options

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)


Param = Uniform | LogUniform | IntRange | Choice


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class SearchSpace:
    """Knob path (of the method's Config) -> the values `tune` tries for it."""

    params: Mapping[str, Param]

    def __post_init__(self) -> None:
        if LEARNING_RATE in self.params:
            raise ValueError(f"'{LEARNING_RATE}' is tuned for every method; declare only the method's own knobs")

    def with_learning_rate(self) -> dict[str, Param]:
        """Every dimension `tune` samples: the shared learning-rate factor first, then the method's knobs."""
        return {LEARNING_RATE: LogUniform(*LEARNING_RATE_RANGE), **self.params}

    def describe(self) -> str:
        return "; ".join(f"{name} {param}" for name, param in self.with_learning_rate().items())


NO_KNOBS = SearchSpace({})  # a method tuned on the learning rate only


def split_trial(params: Mapping[str, Any]) -> tuple[float, dict[str, Any]]:
    """A trial's sampled values as (learning-rate factor, method knobs)."""
    knobs = {name: value for name, value in params.items() if name != LEARNING_RATE}
    return float(params.get(LEARNING_RATE, 1.0)), knobs
