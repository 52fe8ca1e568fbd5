"""What a Config's knob admits: Range and OneOf, the one-line refusal of check_ranges, bounded echoes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pytest

from suite.errors import clipped
from suite.spec.ranges import COUNT, FRACTION, POSITIVE, WEIGHT, OneOf, Range, check_ranges, knob


@pytest.mark.parametrize(
    ("allowed", "admitted", "refused"),
    [
        (COUNT, [1, 7, 1_000_000], [0, -5, 1_000_001, 10**900, 1.5e9, True]),
        (FRACTION, [0.0, 0.5, 0.999], [1.0, 1.5, -0.1, math.nan]),
        (POSITIVE, [1e-7, 2.0, 10**900], [0.0, -1.0, math.inf, math.nan]),
        (WEIGHT, [0.0, 0.9], [-1e-9, -math.inf, math.nan]),
        (Range(-2.0, 2.0), [-2.0, 0.0, 2.0], [-2.5, 2.5]),
        (Range(high=1.0, high_open=True), [-3.0], [1.0, -math.inf]),
        (OneOf("global", "matrix"), ["global", "matrix"], ["local", "", None]),
    ],
)
def test_what_a_range_admits(allowed, admitted, refused):
    assert all(allowed.admits(value) for value in admitted)
    assert not any(allowed.admits(value) for value in refused)


def test_ranges_read_as_written():
    assert [str(a) for a in (COUNT, FRACTION, POSITIVE, WEIGHT)] == [
        "in [1, 1000000]",
        "in [0, 1)",
        "finite and > 0",
        "finite and >= 0",
    ]
    assert str(Range(-4.605170185988092, 4.605170185988092)) == "in [-4.60517, 4.60517]"
    assert str(Range(high=1.0, high_open=True)) == "finite and < 1" and str(Range()) == "finite"
    assert str(OneOf("top", "alternate")) == "one of 'top', 'alternate'"


@dataclass(frozen=True)
class Probe:
    steps: int = knob(10, COUNT)
    rate: float = knob(0.5, FRACTION)
    mode: str = knob("fast", OneOf("fast", "slow"))
    free: float = -3.0  # declared without a range: anything goes

    def __post_init__(self) -> None:
        check_ranges(self)


def test_check_ranges_names_the_field_the_value_and_the_range():
    assert asdict(Probe()) == {"steps": 10, "rate": 0.5, "mode": "fast", "free": -3.0}  # metadata is not data
    for kwargs, message in [
        ({"steps": 0}, "steps must be in [1, 1000000], got 0"),
        ({"rate": 1.0}, "rate must be in [0, 1), got 1.0"),
        ({"rate": math.nan}, "rate must be in [0, 1), got nan"),
        ({"mode": "medium"}, "mode must be one of 'fast', 'slow', got 'medium'"),
        ({"steps": 10**900}, "steps must be in [1, 1000000], got 1" + "0" * 39 + "..."),
        ({"mode": "x" * 5000}, f"mode must be one of 'fast', 'slow', got '{'x' * 39}..."),
    ]:
        with pytest.raises(ValueError) as caught:
            Probe(**kwargs)
        assert str(caught.value) == message
    assert Probe(free=-1e9).free == -1e9


def test_clipped_keeps_short_text_and_cuts_long_text():
    assert clipped("ksp.mask_updates=5") == "ksp.mask_updates=5"
    assert clipped("9" * 5000) == "9" * 40 + "..." and clipped("abc", limit=2) == "ab..."
