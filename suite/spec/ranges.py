"""The values a Config's knob admits, declared with the field and checked in its __post_init__.

    @dataclass(frozen=True)
    class MyConfig:
        steps: int = knob(10, COUNT)
        rate: float = knob(0.5, Range(0.0, 1.0, high_open=True))
        scope: str = knob("global", OneOf("global", "matrix"))

        def __post_init__(self) -> None:
            check_ranges(self)

A value outside is a ValueError of one line naming the field, the value and what it admits, so a
knob set from the command line is refused before anything runs. The declaration is in the field's
metadata, which dataclasses.asdict (and so the config hash) never sees.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from suite.errors import clipped

METADATA_KEY = "allowed"
# The largest count a knob admits: far beyond any sensible number of steps, events or rounds, and
# small enough that a loop over it (pruning events, textpruner rounds) ends.
MAX_COUNT = 1_000_000


@dataclass(frozen=True)
class Range:
    """Finite numbers from `low` to `high` (None: no bound on that side); `*_open` leaves the bound out."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def admits(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and not math.isfinite(value):  # an int is finite (and may not fit a float)
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"finite and {'>' if self.low_open else '>='} {low}"
        if self.high is not None:
            return f"finite and {'<' if self.high_open else '<='} {high}"
        return "finite"


def _number(value: float | None) -> str:
    """A bound as a reader writes it: 1000000 (not 1e+06), 0.5, 4.60517."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


@dataclass(frozen=True)
class OneOf:
    """One of a few named values."""

    options: tuple[Any, ...]

    def __init__(self, *options: Any) -> None:
        object.__setattr__(self, "options", options)

    def admits(self, value: Any) -> bool:
        return value in self.options

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(option) for option in self.options)


Allowed = Range | OneOf

COUNT = Range(1, MAX_COUNT)  # a number of steps, events, rounds or layers
WEIGHT = Range(0.0)  # a loss weight or a penalty: zero turns the term off
POSITIVE = Range(0.0, low_open=True)  # a temperature, a learning rate, a damping term
FRACTION = Range(0.0, 1.0, high_open=True)  # a sparsity or a moving-average factor: 1 would be all


def knob(default: Any, allowed: Allowed) -> Any:
    """A dataclass field with `default` that admits only what `allowed` admits (see check_ranges)."""
    return dataclasses.field(default=default, metadata={METADATA_KEY: allowed})


def allowed_of(item: dataclasses.Field) -> Allowed | None:
    """What a field declared with `knob` admits; None for any other field."""
    return item.metadata.get(METADATA_KEY)


def check_ranges(config: Any) -> None:
    """ValueError (one line) for the first field of `config` outside what its `knob` declaration admits."""
    for item in dataclasses.fields(config):
        allowed = allowed_of(item)
        value = getattr(config, item.name)
        if allowed is not None and not allowed.admits(value):
            raise ValueError(f"{item.name} must be {allowed}, got {clipped(repr(value))}")
